/* nm: an asynchronous NetworkManager client on the lws loop (issue 10, docs/wifi.md,
 * WIFI-AUTOMATION.md §1 and §7).
 *
 * One sd-bus connection (bus.c) to the system bus. Every call is asynchronous;
 * answers and NM's signals arrive as nm_event through one callback, on the lws
 * thread. One operation runs at a time (nm_scan, nm_join, nm_restore return
 * -EBUSY while another one runs); each ends with exactly one event.
 *
 *  nm_start  -> NM_EV_READY (nm_facts: version, WiFi device, restore target,
 *               SSH check, leftover sonota-* profiles deleted) or NM_EV_MANUAL
 *               (NM absent, too old, WiFi off, no or several WiFi devices: the
 *               message says why; use the manual hops).
 *  nm_scan   -> NM_EV_SCANNED (RequestScan, then LastScan grew; nm_aps) or NM_EV_ERROR.
 *  nm_join   -> NM_EV_ACTIVATED (address from the IP4Config) or NM_EV_FAILED
 *               (reason: nmcore_failure of the device and connection reasons).
 *               The profile is volatile and bound to this client's bus name
 *               (persist=volatile, bind-activation=dbus-client): if this process
 *               dies, NM deactivates it, deletes it and autoconnects home.
 *  nm_restore-> NM_EV_RESTORED: NM's own autoconnect brought the restore target
 *               back within grace_ms, or we activated it (or deactivated ours when
 *               there is nothing to restore); if the target profile was deleted
 *               meanwhile, NM picks the best connection (ActivateConnection "/")
 *               and facts.restore_id names what came back; then every sonota-*
 *               profile is deleted.
 * At any time: NM_EV_DROPPED (our activated connection went down while no join
 * or restore runs: the device closed its AP) and NM_EV_LOST (NM left the bus or the bus
 * died: every later call returns -ENOTCONN; fall back to manual hops).
 *
 * nm_scan, nm_join and nm_restore return 0 (the event follows) or -EINVAL, -EBUSY
 * (an operation runs), -ENODEV (before NM_EV_READY), -ENOTCONN (after NM_EV_LOST),
 * -ENOMEM; they never call nm_cb before returning.
 *
 * Never touches Device.Autoconnect, never calls Device.Disconnect, never restarts NM.
 */
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "nmcore.h"

#define NM_PATH_MAX 128          /* NM object paths are ~50 bytes */
#define NM_ID_MAX 128            /* connection.id kept for messages (cut beyond) */
#define NM_DEVICES_MAX 32        /* devices examined at discovery */
#define NM_PROFILES_MAX 128      /* saved profiles examined for restore and cleanup */
#define NM_APS_MAX 64            /* access points kept from one scan */
#define NM_SCAN_TIMEOUT_MS 20000 /* RequestScan to LastScan: a full scan of 2.4 and 5 GHz
				  * takes 3-10 s; NM may defer it while associating */
#define NM_JOIN_TIMEOUT_MS 45000 /* association + 4-way handshake + DHCP (dhcp-timeout
				  * is set to NM_DHCP_TIMEOUT_S) with margin */
#define NM_DHCP_TIMEOUT_S 20     /* ipv4.dhcp-timeout of our profiles; NM's default is 45 */
#define NM_RESTORE_TIMEOUT_MS 45000 /* ActivateConnection(home) to ACTIVATED */
#define NM_CALL_TIMEOUT_US (10 * 1000 * 1000) /* one D-Bus call; NM answers in ms, a
						* hung NM must not stall us 25 s */

struct nm;

struct nm_ap {
	char path[NM_PATH_MAX];       /* AccessPoint object */
	uint8_t ssid[NMCORE_SSID_MAX];
	size_t ssid_len;
	uint8_t bssid[6];             /* HwAddress; zero if NM did not give one */
	uint8_t strength;             /* percent */
	uint32_t flags, wpa_flags, rsn_flags;
	enum nmcore_ap_sec sec;
	enum nmcore_ap_role role;
	char deviceid[NMCORE_DEVICEID_LEN + 1]; /* for ITEAD-<id>, else "" */
};

struct nm_facts {
	char version[32];                 /* Manager.Version */
	bool wireless_enabled;            /* Manager.WirelessEnabled */
	char iface[IF_NAMESIZE];          /* the WiFi device hopped */
	char device[NM_PATH_MAX];         /* its object path */
	unsigned n_wifi;                  /* managed WiFi devices NM has */
	char active[NM_PATH_MAX];         /* settings path active before the first hop, or "/" */
	char active_id[NM_ID_MAX];        /* its connection.id, or "" */
	enum nmcore_restore_kind restore; /* what nm_restore brings back */
	char restore_path[NM_PATH_MAX];   /* for NMCORE_RESTORE_PROFILE */
	char restore_id[NM_ID_MAX];
	const char *restore_why;          /* static string (nmcore_restore.why) */
	enum nmcore_ssh ssh;              /* does the user's SSH session ride on iface */
	char ssh_ifname[IF_NAMESIZE];     /* the interface the SSH decision rests on */
	unsigned leftovers;               /* sonota-* profiles deleted at start */
	unsigned saved_device_profiles;   /* saved ITEAD-* / FinalStage profiles with
					   * autoconnect: an earlier manual run's; warn */
};

enum nm_ev_type {
	NM_EV_READY,     /* discovery done: nm_facts */
	NM_EV_MANUAL,    /* no automatic hops: message says why */
	NM_EV_SCANNED,   /* nm_scan done: nm_aps */
	NM_EV_ACTIVATED, /* nm_join done: addr/prefix */
	NM_EV_FAILED,    /* nm_join failed: reason, codes */
	NM_EV_RESTORED,  /* nm_restore done: deleted */
	NM_EV_DROPPED,   /* our activated connection went down (no join/restore running) */
	NM_EV_LOST,      /* NM left the bus, or the bus died */
	NM_EV_ERROR,     /* an operation failed otherwise (D-Bus error, timeout): message, err */
	NM_EV_BACK,      /* after LOST: NetworkManager owns its bus name again (restarted);
			  * this nm is still lost: nm_stop it, nm_start a new one */
	_NM_EV_MAX
};

struct nm_event {
	enum nm_ev_type type;
	int err;                     /* -errno for MANUAL, ERROR, LOST; -ETIMEDOUT on timeouts */
	const char *message;         /* one line for the user; valid during the callback */
	struct nmcore_reason reason; /* FAILED, DROPPED */
	uint32_t device_reason;      /* NMDeviceStateReason, FAILED/DROPPED */
	uint32_t ac_reason;          /* NMActiveConnectionStateReason, FAILED/DROPPED */
	struct in_addr addr;         /* ACTIVATED: first IPv4 address of the connection */
	uint8_t prefix;
	unsigned deleted;            /* RESTORED: sonota-* profiles deleted */
};

/* Called on the lws thread; ev is valid only during the call. nm_stop may be
 * called from here. */
typedef void (*nm_cb)(void *arg, const struct nm_event *ev);

struct nm_config {
	const char *iface; /* --wifi-iface, or NULL: NM must manage exactly one WiFi device */
	struct bus *bus;   /* a shared connection (borrowed; nm_stop leaves it open), or
			    * NULL: nm opens and owns its own on vh */
};

/* The lws protocol of the bus connection (bus_protocol): add it to vh's list. */
extern const struct lws_protocols nm_protocol;

/* Connect to the system bus (or use cfg->bus) and start the discovery; NM_EV_READY
 * or NM_EV_MANUAL follows. Returns 0 and *ret (free with nm_stop), or -errno when
 * there is no system bus at all, or -ENOTCONN when the shared one is lost already
 * (the caller goes manual itself). */
int nm_start(struct lws_vhost *vh, const struct nm_config *cfg, nm_cb cb, void *arg,
	     struct nm **ret);

/* Borrowed, valid until nm_stop; complete after NM_EV_READY. */
const struct nm_facts *nm_facts(const struct nm *nm);

/* The pre-flight lines (issue 10 §1): NM version and WiFi device, what will be
 * restored and why, the SSH verdict, leftovers deleted, and a warning about saved
 * ITEAD-<id> and FinalStage profiles; "\n"-terminated lines into out (cut to len, always
 * terminated). Returns what snprintf would (the untruncated length). */
int nm_facts_describe(const struct nm_facts *f, char *out, size_t len);

/* Ask NM for a scan (only ssid if not NULL, for a hidden or quiet AP) and wait for
 * it; NM_EV_SCANNED then lists every AP the device sees. */
int nm_scan(struct nm *nm, const char *ssid);

/* The APs of the last scan, strongest first. Borrowed until the next nm_scan. */
const struct nm_ap *nm_aps(const struct nm *nm, size_t *ret_n);

/* Join ap with a volatile, client-bound profile named id (must start with
 * "sonota-"), WPA-PSK psk or open when psk is NULL; never-default, ignore-auto-dns,
 * no IPv6, one auth try. -EINVAL for a bad id or a PSK outside 8..63 characters. */
int nm_join(struct nm *nm, const struct nm_ap *ap, const char *id, const char *psk);

/* Bring the user's connection back (see the file comment), waiting up to
 * grace_ms for NM's own autoconnect first. */
int nm_restore(struct nm *nm, unsigned grace_ms);

/* True while an operation runs. */
bool nm_busy(const struct nm *nm);

/* Drop the running operation without its event (the exit path: Ctrl-C, SIGTERM,
 * a time limit), so that nm_restore can run next. A join in flight is not undone
 * here: nm_restore replaces it (ActivateConnection preempts it, and the
 * sonota-* profile is deleted). Safe with NULL and when idle. */
void nm_abort(struct nm *nm);

/* Drop everything: pending calls, timers, the bus connection (which makes NM
 * drop a client-bound activation still up; a shared nm_config.bus stays open:
 * its opener closes it last). Safe with NULL and from nm_cb. Call
 * it before lws_context_destroy (its timers live in the context). */
void nm_stop(struct nm *nm);

const char *nm_ev_name(enum nm_ev_type t);

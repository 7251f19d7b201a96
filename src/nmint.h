/* nmint: what the NM client's files share: nm.c (plumbing, signals), nmdisc.c
 * (discovery), nmprop.c (a{sv} walkers, saved profiles), nmhop.c (scan), nmjoin.c
 * (join, restore). Not for other modules: use nm.h. */
#pragma once

#include <stdarg.h>

#include <systemd/sd-bus.h>

#include "bus.h"
#include "nm.h"

#define NM_BUS "org.freedesktop.NetworkManager"
#define NM_OBJ "/org/freedesktop/NetworkManager"
#define NM_SETTINGS_OBJ "/org/freedesktop/NetworkManager/Settings"
#define NM_IFACE NM_BUS
#define NM_DEVICE_IFACE NM_BUS ".Device"
#define NM_WIRELESS_IFACE NM_BUS ".Device.Wireless"
#define NM_AP_IFACE NM_BUS ".AccessPoint"
#define NM_ACTIVE_IFACE NM_BUS ".Connection.Active"
#define NM_IP4_IFACE NM_BUS ".IP4Config"
#define NM_SETTINGS_IFACE NM_BUS ".Settings"
#define NM_CONN_IFACE NM_BUS ".Settings.Connection"
#define PROPS_IFACE "org.freedesktop.DBus.Properties"

#define NM_DEVICE_TYPE_WIFI 2u
#define NM_AC_ACTIVATING 1u
#define NM_AC_ACTIVATED 2u
#define NM_AC_DEACTIVATED 4u
#define NM_EARLY_MAX 8 /* StateChanged signals kept for activations whose path the
			* AddAndActivateConnection2 reply has not told us yet */

enum nm_op {
	NM_OP_NONE,
	NM_OP_DISCOVER,
	NM_OP_SCAN,
	NM_OP_JOIN,
	NM_OP_RESTORE,
};

struct nm;
typedef void (*nm_step)(struct nm *nm, sd_bus_message *m);

/* A saved profile as read at discovery/cleanup. */
struct nm_profile {
	char path[NM_PATH_MAX];
	char id[NM_ID_MAX];
	char type[32];
	uint8_t ssid[NMCORE_SSID_MAX];
	size_t ssid_len;
	bool has_ssid;
	bool autoconnect;
	int32_t priority;
	uint64_t timestamp;
};

struct nm_early {
	char path[NM_PATH_MAX];
	uint32_t state, reason;
};

struct nm {
	struct bus *bus;              /* the connection, owned unless bus_shared */
	bool bus_shared;              /* nm_config.bus: borrowed, never closed here */
	struct lws_context *cx;       /* for the timers */
	nm_cb cb;                     /* user callback */
	void *arg;
	char iface_want[IF_NAMESIZE]; /* nm_config.iface, or "" */
	struct nm_facts facts;        /* see nm.h */

	enum nm_op op;                /* the operation running */
	sd_bus_slot *call;            /* its one call in flight (unref cancels) */
	nm_step next;                 /* what handles the reply */
	bool tolerant;                /* next also handles error replies */
	int call_err;                 /* a call that could not be sent (-errno) */
	lws_sorted_usec_list_t sul;   /* the operation's deadline */
	void (*on_timeout)(struct nm *nm);
	lws_sorted_usec_list_t sul_grace; /* nm_restore: when to stop waiting for NM */
	bool grace_over;              /* nm_restore: we activate the target ourselves */
	sd_bus_slot *matches[5];      /* NameOwnerChanged, Active.StateChanged,
				       * PropertiesChanged, Device.StateChanged,
				       * AccessPointAdded/Removed are not needed */

	/* discovery and cleanup */
	char devices[NM_DEVICES_MAX][NM_PATH_MAX];
	size_t n_devices, i_device;
	char cand_active[NM_PATH_MAX]; /* the chosen device's ActiveConnection */
	char acs[NM_DEVICES_MAX][NM_PATH_MAX]; /* Manager.ActiveConnections */
	size_t n_acs, i_acs;
	char elsewhere[NM_DEVICES_MAX][NM_PATH_MAX]; /* profiles active on other devices */
	size_t n_elsewhere;
	struct nm_profile *profiles;  /* NM_PROFILES_MAX, owned */
	size_t n_profiles, i_profile;
	unsigned deleted;
	nm_step profiles_done;        /* nm_profiles_read's continuation */
	nm_step deleted_done;         /* nm_profiles_delete_ours' continuation */

	/* scan */
	int64_t last_scan;            /* LastScan before RequestScan */
	bool scan_replied, scan_seen; /* RequestScan answered; LastScan grew */
	char scan_ssid[NMCORE_SSID_MAX + 1]; /* the SSID asked for, or "" */
	struct nm_ap aps[NM_APS_MAX];
	size_t n_aps, i_ap;
	char ap_paths[NM_APS_MAX][NM_PATH_MAX];
	size_t n_ap_paths;

	/* join and restore */
	char ours[NM_PATH_MAX];       /* our active connection, or "" */
	char ours_profile[NM_PATH_MAX]; /* its settings path */
	bool ours_up;                 /* ACTIVATED and reported */
	char pending_ac[NM_PATH_MAX]; /* ActivateConnection(target) result, or "" */
	struct nm_early early[NM_EARLY_MAX];
	size_t n_early;
	uint32_t ac_reason;           /* last reason of our connection */
	bool state_handled;           /* the current join saw its final state */
	bool cleaning;                /* nm_restore reached its target: deleting ours */
	bool recheck;                 /* nm_restore: a signal came during a look */
	bool restore_any;             /* nm_restore: the target is gone, NM picks */

	unsigned depth;               /* > 0 while a bus or timer callback runs */
	bool stopping;                /* nm_stop was called inside one */
	bool lost;                    /* NM_EV_LOST sent */
	bool back_said;               /* NM_EV_BACK sent (once per nm) */
};

/* nm.c plumbing used by nmhop.c */
/* every entry into nm (bus reply, signal, timer, public call) is wrapped in
 * these; nm_leave returns true when it freed nm (nm_stop was called inside) */
void nm_enter(struct nm *nm);
bool nm_leave(struct nm *nm);
int nm_call(struct nm *nm, nm_step next, const char *path, const char *iface,
	    const char *member, const char *types, ...);
int nm_call_tolerant(struct nm *nm, nm_step next, const char *path, const char *iface,
		     const char *member, const char *types, ...);
/* a prepared message; error replies end the operation */
int nm_call_msg(struct nm *nm, nm_step next, sd_bus_message *msg);
void nm_timer(struct nm *nm, unsigned ms, void (*fn)(struct nm *nm));
void nm_op_begin(struct nm *nm, enum nm_op op);
void nm_op_end(struct nm *nm, struct nm_event *ev);
void nm_op_error(struct nm *nm, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void nm_emit(struct nm *nm, struct nm_event *ev);

/* a{sv} walker: fn sees each key with m at the variant; returns 1 if it read
 * the variant, 0 to have it skipped, < 0 to stop. */
typedef int (*nm_prop_fn)(void *ud, const char *key, sd_bus_message *m);
int nm_props_each(sd_bus_message *m, nm_prop_fn fn, void *ud);
/* read a variant if its contents signature is sig (then 1), else skip it (0) */
int nm_var_read(sd_bus_message *m, const char *sig, void *p);
void nm_copy(char *dst, size_t n, const char *src);

/* the settings walk shared by discovery and cleanup: reads every saved profile
 * into nm->profiles, then calls done */
void nm_profiles_read(struct nm *nm, nm_step done);
/* delete the sonota-* profiles among nm->profiles (counted in nm->deleted), then done */
void nm_profiles_delete_ours(struct nm *nm, nm_step done);

/* nmhop.c and nmjoin.c: signal handlers nm.c routes to them */
/* nmdisc.c: the discovery. Its first step, the answer to NameHasOwner(NM_BUS). */
void nm_discover_has_owner(struct nm *nm, sd_bus_message *m);
/* nmdisc.c: the discovery ends in manual hops: NM_EV_MANUAL with err and msg. */
void nm_manual(struct nm *nm, int err, const char *msg);

void nmhop_active_state(struct nm *nm, const char *path, uint32_t state, uint32_t reason);
void nmhop_device_props(struct nm *nm, sd_bus_message *m);
void nmhop_device_state(struct nm *nm, uint32_t state, uint32_t reason);

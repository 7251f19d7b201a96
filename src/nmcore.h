/* nmcore: the pure decisions behind the NetworkManager hops (issue 10, docs/wifi.md).
 *
 * No I/O, no logging, no D-Bus: every function here works on values that the
 * adapters (nm.c for NetworkManager over sd-bus, nmssh.c for /proc) read, so the
 * unit tests (tests/unit/test-nmcore.c) can drive each decision with a table.
 *
 *  - AP classification from NM's three flag words (NM80211ApFlags,
 *    NM80211ApSecurityFlags in WpaFlags and RsnFlags);
 *  - SSID matching on bytes (an SSID is an array of up to 32 bytes, not a string);
 *  - NM failure reasons (NMDeviceStateReason, NMActiveConnectionStateReason) to
 *    one-line diagnoses;
 *  - the choice of the connection to restore;
 *  - the SSH check: does the user's SSH session ride on the radio to be hopped;
 *  - the FinalStage-to-device match by BSSID.
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NMCORE_SSID_MAX 32 /* IEEE 802.11: an SSID is 0..32 bytes */
#define NMCORE_DEVICEID_LEN 10 /* eWeLink device ids: "10000xxxxx", 10 hex digits */
#define NMCORE_ITEAD_PREFIX "ITEAD-"
#define NMCORE_ITEAD_PSK "12345678" /* every ITEAD-<id> pairing AP (PROTOCOL.md §1) */
#define NMCORE_FINALSTAGE_SSID "FinalStage" /* the open AP of the E2A image (PROTOCOL.md §5) */
#define NMCORE_PROFILE_PREFIX "sonota-" /* every profile we create; a later run deletes
					 * leftovers by this prefix */
#define NMCORE_NM_VERSION_MIN "1.16" /* AddAndActivateConnection2 with persist and
				      * bind-activation (WIFI-AUTOMATION.md §1.1) */

/* ---- access points ---------------------------------------------------------- */

/* NM80211ApFlags / NM80211ApSecurityFlags bits we read (nm-dbus-interface.h). */
#define NMCORE_AP_FLAGS_PRIVACY 0x1u
#define NMCORE_AP_SEC_PAIR_WEP40 0x1u
#define NMCORE_AP_SEC_PAIR_WEP104 0x2u
#define NMCORE_AP_SEC_GROUP_WEP40 0x10u
#define NMCORE_AP_SEC_GROUP_WEP104 0x20u
#define NMCORE_AP_SEC_KEY_MGMT_PSK 0x100u
#define NMCORE_AP_SEC_KEY_MGMT_802_1X 0x200u
#define NMCORE_AP_SEC_KEY_MGMT_SAE 0x400u
#define NMCORE_AP_SEC_KEY_MGMT_OWE 0x800u

enum nmcore_ap_sec {
	NMCORE_SEC_OPEN,       /* no privacy bit, no WPA/RSN key management */
	NMCORE_SEC_WPA2_PSK,   /* RSN with PSK (mixed WPA/WPA2 included) */
	NMCORE_SEC_WPA_PSK,    /* WPA1 PSK only */
	NMCORE_SEC_SAE,        /* WPA3 personal without PSK */
	NMCORE_SEC_OWE,        /* enhanced open */
	NMCORE_SEC_WEP,        /* privacy bit, no WPA/RSN */
	NMCORE_SEC_ENTERPRISE, /* 802.1X */
	NMCORE_SEC_UNKNOWN,    /* RSN/WPA words with no key management we know */
	_NMCORE_SEC_MAX
};

/* Classify an AP from its Flags, WpaFlags and RsnFlags properties. */
enum nmcore_ap_sec nmcore_ap_classify(uint32_t flags, uint32_t wpa_flags, uint32_t rsn_flags);

/* "open", "wpa2-psk", ...; never NULL. */
const char *nmcore_ap_sec_name(enum nmcore_ap_sec s);

enum nmcore_ap_role {
	NMCORE_AP_OTHER,            /* not ours */
	NMCORE_AP_ITEAD,            /* ITEAD-<id>, WPA2-PSK (or WPA-PSK): a device in pairing mode */
	NMCORE_AP_ITEAD_BADSEC,     /* ITEAD-<id> with any other security: not a Sonoff */
	NMCORE_AP_FINALSTAGE,       /* FinalStage, open */
	NMCORE_AP_FINALSTAGE_BADSEC, /* FinalStage, not open: not the E2A image */
	_NMCORE_AP_ROLE_MAX
};

/* What an AP is to us, from its SSID bytes and classification. If ret_id is not
 * NULL and the AP is ITEAD-<id> (either security), the id is copied there as a
 * NUL-terminated string of NMCORE_DEVICEID_LEN lower-case hex digits. */
enum nmcore_ap_role nmcore_ap_role(const uint8_t *ssid, size_t len, enum nmcore_ap_sec sec,
				   char ret_id[NMCORE_DEVICEID_LEN + 1]);

const char *nmcore_ap_role_name(enum nmcore_ap_role r);

/* ---- SSIDs -------------------------------------------------------------------- */

/* Exact byte comparison of an SSID with a C string (no NUL in an SSID is special:
 * "FinalStage\0" is not "FinalStage"). */
bool nmcore_ssid_eq(const uint8_t *ssid, size_t len, const char *want);

/* The SSID is "ITEAD-" followed by exactly NMCORE_DEVICEID_LEN hex digits (either
 * case). Writes the id, lower-cased and NUL-terminated, to ret_id if not NULL.
 * Returns true on a match. */
bool nmcore_ssid_itead_id(const uint8_t *ssid, size_t len, char ret_id[NMCORE_DEVICEID_LEN + 1]);

/* Printable form of an SSID for the log: bytes 0x20..0x7e except '\\' and '"'
 * as they are, the rest as \xNN, NUL-terminated in out (cut to outlen). Returns
 * out. */
char *nmcore_ssid_printable(const uint8_t *ssid, size_t len, char *out, size_t outlen);

/* ---- BSSIDs ------------------------------------------------------------------- */

/* Parse "aa:bb:cc:dd:ee:ff" (either case) into 6 bytes. 0 or -EINVAL. */
int nmcore_bssid_parse(const char *s, uint8_t ret[6]);

/* The device whose ITEAD-<id> AP had this BSSID: the FinalStage AP of the E2A
 * image is the same soft-AP, so it has the same MAC (issue 10 §4). seen[] holds
 * the BSSIDs of the ITEAD APs seen this run (the caller keeps the device ids in
 * the same order). Returns the index into seen[] of the first match, or -ENOENT
 * (a FinalStage of a device we never saw pairing: not ours to take). */
int nmcore_finalstage_match(const uint8_t bssid[6], const uint8_t (*seen)[6], size_t n);

/* ---- failure reasons ---------------------------------------------------------- */

/* What kind of failure a reason means; the hop driver decides on the kind. */
enum nmcore_fail {
	NMCORE_FAIL_NONE,        /* no failure (reason 0/1 "none/unknown" on a success) */
	NMCORE_FAIL_WRONG_PSK,   /* secrets refused or missing */
	NMCORE_FAIL_AP_GONE,     /* the AP is not there (any more) */
	NMCORE_FAIL_NO_LEASE,    /* associated, but no DHCP lease / IP config */
	NMCORE_FAIL_SUPPLICANT,  /* association trouble: weak signal, driver */
	NMCORE_FAIL_TAKEN,       /* someone (or our bind, or a new activation) took the device */
	NMCORE_FAIL_RADIO,       /* the radio is off, unavailable or unmanaged */
	NMCORE_FAIL_OTHER,       /* anything else: the code is in the message */
	_NMCORE_FAIL_MAX
};

struct nmcore_reason {
	enum nmcore_fail kind; /* see above */
	const char *name;      /* NM's name, "NO_SECRETS"; "UNKNOWN" for a code not in the table */
	const char *message;   /* one-line diagnosis for the user, no trailing dot */
	bool retry;            /* one more try may help (supplicant trouble) */
};

/* NMDeviceStateReason code -> diagnosis. Never fails: an unknown code gives kind
 * OTHER with a generic message. */
struct nmcore_reason nmcore_device_reason(uint32_t code);

/* NMActiveConnectionStateReason code -> diagnosis, as above. */
struct nmcore_reason nmcore_ac_reason(uint32_t code);

/* The most specific diagnosis of a failed activation from both reasons (the
 * device's StateReason is more precise than the active connection's; a device
 * reason of 0/1 defers to the connection's). */
struct nmcore_reason nmcore_failure(uint32_t device_reason, uint32_t ac_reason);

const char *nmcore_fail_name(enum nmcore_fail k);

/* ---- restore target ----------------------------------------------------------- */

/* A saved profile that can go on the radio (read from Settings.ListConnections +
 * GetSettings, filtered to this device's type). Borrowed strings. */
struct nmcore_profile {
	const char *path;          /* settings object path */
	const char *id;            /* connection.id */
	const uint8_t *ssid;       /* 802-11-wireless.ssid, NULL if none */
	size_t ssid_len;
	bool autoconnect;          /* connection.autoconnect (NM's default is true) */
	int32_t priority;          /* connection.autoconnect-priority */
	uint64_t timestamp;        /* connection.timestamp: last activation, seconds */
	bool volatile_;            /* Settings.Connection Flags has VOLATILE/UNSAVED */
	bool active_elsewhere;     /* active on another device now: activating it on the
				    * radio would take it from there (the home link of
				    * a second-adapter setup) */
};

enum nmcore_restore_kind {
	NMCORE_RESTORE_PROFILE, /* ActivateConnection(profile, device, "/") */
	NMCORE_RESTORE_NONE,    /* nothing to bring back: DeactivateConnection(ours) */
};

struct nmcore_restore {
	enum nmcore_restore_kind kind;
	size_t index;       /* into profiles[], for NMCORE_RESTORE_PROFILE */
	const char *why;    /* one line for the pre-flight: "was active", ... */
};

/* True for a profile sonota-c made (id starts with "sonota-"), or one of the
 * device's networks (SSID ITEAD-<id> or FinalStage) that an earlier manual run
 * may have saved: never a restore target. */
bool nmcore_profile_is_ours(const struct nmcore_profile *p);

/* Choose the connection to bring back after the hops. active_path is the
 * settings path of Device.ActiveConnection's Connection before the first hop
 * (NULL or "/" if the device was not connected). The rules, in order:
 *   1. nothing was active: none (the radio goes back to idle; on a second
 *      adapter, activating "the best profile" would steal the home link);
 *   2. the profile that was active, if it still exists and is not ours;
 *   3. else (it was ours, a crashed run's, or was deleted) the best autoconnect
 *      profile: not ours, not volatile, not active elsewhere, highest
 *      autoconnect-priority, then most recent timestamp, then list order;
 *   4. else none.
 * Never fails. */
struct nmcore_restore nmcore_restore_choose(const char *active_path,
					    const struct nmcore_profile *profiles, size_t n);

/* ---- SSH check ---------------------------------------------------------------- */

/* One address of the host: the interface it is on. */
struct nmcore_ifaddr {
	char ifname[IF_NAMESIZE];
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* network byte order; 4 bytes used for AF_INET */
};

/* A TCP socket from /proc/net/tcp{,6}. */
struct nmcore_tcp {
	int family;        /* AF_INET or AF_INET6 (an IPv4-mapped v6 address stays v6) */
	uint8_t local[16]; /* network byte order */
	uint16_t lport;
	uint8_t remote[16];
	uint16_t rport;
	unsigned state;    /* TCP_ESTABLISHED == 1 */
	unsigned long inode;
};

/* Parse the text of /proc/net/tcp (family AF_INET) or /proc/net/tcp6 (AF_INET6)
 * into out[] (at most max rows; the header line is skipped, malformed lines are
 * skipped). Sets *ret_n. Returns 0, 1 when rows were cut, or -EINVAL. */
int nmcore_parse_proc_tcp(const char *text, int family, struct nmcore_tcp *out, size_t max,
			  size_t *ret_n);

/* "client_ip client_port server_ip server_port" (SSH_CONNECTION): the server
 * side address, the one on this host. 0 or -EINVAL. */
int nmcore_parse_ssh_connection(const char *v, int *ret_family, uint8_t ret_addr[16]);

enum nmcore_ssh {
	NMCORE_SSH_NONE,     /* not inside an SSH session */
	NMCORE_SSH_OTHER,    /* the session's local address is on another interface */
	NMCORE_SSH_ON_RADIO, /* the session's local address is on the radio: a hop cuts it */
	NMCORE_SSH_UNKNOWN,  /* inside SSH, but its address was not found on any interface */
	_NMCORE_SSH_MAX
};

/* What the process tree and /proc told the reader (nmssh.c). */
struct nmcore_ssh_facts {
	bool sshd_ancestor;            /* an ancestor process is sshd */
	bool have_env;                 /* SSH_CONNECTION found in an ancestor's environment */
	int env_family;                /* its server address */
	uint8_t env_addr[16];
	const unsigned long *inodes;   /* socket inodes held open by the sshd ancestors */
	size_t n_inodes;
	const struct nmcore_tcp *tcp;  /* the host's TCP sockets */
	size_t n_tcp;
	const struct nmcore_ifaddr *ifaddrs; /* the host's addresses */
	size_t n_ifaddrs;
};

/* Does the SSH session ride on radio? Candidate local addresses are those of
 * the ESTABLISHED sockets whose inode the sshd ancestors hold, and the server
 * address of SSH_CONNECTION; a v4-mapped v6 address counts as v4. ON_RADIO if
 * any candidate is an address of radio, OTHER if candidates were found only on
 * other interfaces, UNKNOWN if inside SSH but no candidate was found on any
 * interface, NONE if not inside SSH. ret_ifname (IF_NAMESIZE, may be NULL) gets
 * the interface the decision rests on ("" for NONE/UNKNOWN). */
enum nmcore_ssh nmcore_ssh_check(const struct nmcore_ssh_facts *f, const char *radio,
				 char *ret_ifname);

const char *nmcore_ssh_name(enum nmcore_ssh s);

/* ---- versions ----------------------------------------------------------------- */

/* Compare dotted versions numerically ("1.42.4" vs "1.16"): <0, 0, >0. A
 * non-numeric part compares as 0. */
int nmcore_version_cmp(const char *a, const char *b);

/* nmcore: see nmcore.h. Pure functions only (no I/O, no logging). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nmcore.h"

/* ---- access points ---------------------------------------------------------- */

enum nmcore_ap_sec
nmcore_ap_classify(uint32_t flags, uint32_t wpa_flags, uint32_t rsn_flags)
{
	uint32_t both = wpa_flags | rsn_flags;

	if (!wpa_flags && !rsn_flags)
		return (flags & NMCORE_AP_FLAGS_PRIVACY) ? NMCORE_SEC_WEP : NMCORE_SEC_OPEN;
	if (both & NMCORE_AP_SEC_KEY_MGMT_802_1X)
		return NMCORE_SEC_ENTERPRISE;
	/* PSK first: a WPA2/WPA3 transition AP (PSK|SAE) takes our PSK */
	if (rsn_flags & NMCORE_AP_SEC_KEY_MGMT_PSK)
		return NMCORE_SEC_WPA2_PSK;
	if (wpa_flags & NMCORE_AP_SEC_KEY_MGMT_PSK)
		return NMCORE_SEC_WPA_PSK;
	if (both & NMCORE_AP_SEC_KEY_MGMT_SAE)
		return NMCORE_SEC_SAE;
	if (both & NMCORE_AP_SEC_KEY_MGMT_OWE)
		return NMCORE_SEC_OWE;
	return NMCORE_SEC_UNKNOWN;
}

const char *
nmcore_ap_sec_name(enum nmcore_ap_sec s)
{
	static const char *const names[_NMCORE_SEC_MAX] = {
		[NMCORE_SEC_OPEN] = "open",         [NMCORE_SEC_WPA2_PSK] = "wpa2-psk",
		[NMCORE_SEC_WPA_PSK] = "wpa-psk",   [NMCORE_SEC_SAE] = "sae",
		[NMCORE_SEC_OWE] = "owe",           [NMCORE_SEC_WEP] = "wep",
		[NMCORE_SEC_ENTERPRISE] = "802.1x", [NMCORE_SEC_UNKNOWN] = "unknown",
	};

	return (unsigned)s < _NMCORE_SEC_MAX ? names[s] : "?";
}

enum nmcore_ap_role
nmcore_ap_role(const uint8_t *ssid, size_t len, enum nmcore_ap_sec sec,
	       char ret_id[NMCORE_DEVICEID_LEN + 1])
{
	if (nmcore_ssid_itead_id(ssid, len, ret_id))
		return (sec == NMCORE_SEC_WPA2_PSK || sec == NMCORE_SEC_WPA_PSK)
			       ? NMCORE_AP_ITEAD
			       : NMCORE_AP_ITEAD_BADSEC;
	if (nmcore_ssid_eq(ssid, len, NMCORE_FINALSTAGE_SSID))
		return sec == NMCORE_SEC_OPEN ? NMCORE_AP_FINALSTAGE : NMCORE_AP_FINALSTAGE_BADSEC;
	return NMCORE_AP_OTHER;
}

const char *
nmcore_ap_role_name(enum nmcore_ap_role r)
{
	static const char *const names[_NMCORE_AP_ROLE_MAX] = {
		[NMCORE_AP_OTHER] = "other",
		[NMCORE_AP_ITEAD] = "itead",
		[NMCORE_AP_ITEAD_BADSEC] = "itead-bad-security",
		[NMCORE_AP_FINALSTAGE] = "finalstage",
		[NMCORE_AP_FINALSTAGE_BADSEC] = "finalstage-bad-security",
	};

	return (unsigned)r < _NMCORE_AP_ROLE_MAX ? names[r] : "?";
}

/* ---- SSIDs -------------------------------------------------------------------- */

bool
nmcore_ssid_eq(const uint8_t *ssid, size_t len, const char *want)
{
	size_t n = strlen(want);

	return ssid && len == n && memcmp(ssid, want, n) == 0;
}

bool
nmcore_ssid_itead_id(const uint8_t *ssid, size_t len, char ret_id[NMCORE_DEVICEID_LEN + 1])
{
	const size_t plen = sizeof(NMCORE_ITEAD_PREFIX) - 1;
	char id[NMCORE_DEVICEID_LEN + 1];

	if (!ssid || len != plen + NMCORE_DEVICEID_LEN || memcmp(ssid, NMCORE_ITEAD_PREFIX, plen))
		return false;
	for (size_t i = 0; i < NMCORE_DEVICEID_LEN; i++) {
		uint8_t c = ssid[plen + i];

		if (!isxdigit(c) || c > 0x7f) /* isxdigit is locale-free for ASCII only */
			return false;
		id[i] = (char)tolower(c);
	}
	id[NMCORE_DEVICEID_LEN] = '\0';
	if (ret_id)
		memcpy(ret_id, id, sizeof(id));
	return true;
}

char *
nmcore_ssid_printable(const uint8_t *ssid, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (!outlen)
		return out;
	for (size_t i = 0; ssid && i < len; i++) {
		char tmp[5];
		size_t tl;

		if (ssid[i] >= 0x20 && ssid[i] < 0x7f && ssid[i] != '\\' && ssid[i] != '"') {
			tmp[0] = (char)ssid[i];
			tl = 1;
		} else {
			snprintf(tmp, sizeof(tmp), "\\x%02x", ssid[i]);
			tl = 4;
		}
		if (o + tl >= outlen)
			break;
		memcpy(out + o, tmp, tl);
		o += tl;
	}
	out[o] = '\0';
	return out;
}

/* ---- BSSIDs ------------------------------------------------------------------- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
nmcore_bssid_parse(const char *s, uint8_t ret[6])
{
	uint8_t b[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, b, sizeof(b));
	return 0;
}

int
nmcore_finalstage_match(const uint8_t bssid[6], const uint8_t (*seen)[6], size_t n)
{
	static const uint8_t zero[6];

	if (!bssid || !memcmp(bssid, zero, 6))
		return -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(seen[i], bssid, 6))
			return (int)i;
	return -ENOENT;
}

/* ---- failure reasons ---------------------------------------------------------- */

struct reason_row {
	uint32_t code;
	struct nmcore_reason r;
};

#define ROW(c, k, n, m, rt) { c, { NMCORE_FAIL_##k, n, m, rt } }

/* NMDeviceStateReason (nm-dbus-interface.h); the codes a WiFi hop can meet. */
static const struct reason_row device_reasons[] = {
	ROW(0, NONE, "NONE", "no reason given", false),
	ROW(1, NONE, "UNKNOWN", "no reason given", false),
	ROW(4, OTHER, "CONFIG_FAILED", "NetworkManager could not configure the WiFi device", false),
	ROW(5, NO_LEASE, "IP_CONFIG_UNAVAILABLE",
	    "joined the network but got no IP address (no DHCP lease)", true),
	ROW(6, NO_LEASE, "IP_CONFIG_EXPIRED", "the DHCP lease expired", true),
	ROW(7, WRONG_PSK, "NO_SECRETS",
	    "the network refused the password (wrong PSK, or not a Sonoff in pairing mode)", false),
	ROW(8, SUPPLICANT, "SUPPLICANT_DISCONNECT",
	    "the WiFi association dropped: move closer to the device and try again", true),
	ROW(9, SUPPLICANT, "SUPPLICANT_CONFIG_FAILED",
	    "wpa_supplicant refused the network settings", false),
	ROW(10, SUPPLICANT, "SUPPLICANT_FAILED", "wpa_supplicant failed", true),
	ROW(11, SUPPLICANT, "SUPPLICANT_TIMEOUT",
	    "the WiFi association timed out (weak signal?): move closer to the device", true),
	ROW(15, NO_LEASE, "DHCP_START_FAILED", "the DHCP client did not start", false),
	ROW(16, NO_LEASE, "DHCP_ERROR", "DHCP failed: no address from the access point", true),
	ROW(17, NO_LEASE, "DHCP_FAILED",
	    "joined the network but got no DHCP lease from the access point", true),
	ROW(35, RADIO, "FIRMWARE_MISSING", "the WiFi adapter's firmware is missing", false),
	ROW(36, RADIO, "REMOVED", "the WiFi adapter was removed", false),
	ROW(37, RADIO, "SLEEPING", "the computer is going to sleep", false),
	ROW(38, TAKEN, "CONNECTION_REMOVED", "the connection profile was deleted", false),
	ROW(39, TAKEN, "USER_REQUESTED", "someone disconnected the WiFi", false),
	ROW(40, RADIO, "CARRIER", "the WiFi link went down", true),
	ROW(42, RADIO, "SUPPLICANT_AVAILABLE", "wpa_supplicant restarted", true),
	ROW(53, AP_GONE, "SSID_NOT_FOUND",
	    "the WiFi network is gone (the device left pairing mode or rebooted): "
	    "press its button again",
	    false),
	ROW(60, TAKEN, "NEW_ACTIVATION", "another connection took the WiFi device", false),
	ROW(64, NO_LEASE, "IP_ADDRESS_DUPLICATE", "another host on that network has our address",
	    false),
};

/* NMActiveConnectionStateReason (nm-dbus-interface.h). */
static const struct reason_row ac_reasons[] = {
	ROW(0, NONE, "UNKNOWN", "no reason given", false),
	ROW(1, NONE, "NONE", "no reason given", false),
	ROW(2, TAKEN, "USER_DISCONNECTED", "someone disconnected the WiFi", false),
	ROW(3, OTHER, "DEVICE_DISCONNECTED", "the WiFi device disconnected", true),
	ROW(4, OTHER, "SERVICE_STOPPED", "the service providing the connection stopped", false),
	ROW(5, NO_LEASE, "IP_CONFIG_INVALID",
	    "joined the network but got no usable IP address (no DHCP lease)", true),
	ROW(6, SUPPLICANT, "CONNECT_TIMEOUT", "connecting timed out: move closer to the device",
	    true),
	ROW(9, WRONG_PSK, "NO_SECRETS",
	    "the network refused the password (wrong PSK, or not a Sonoff in pairing mode)", false),
	ROW(10, WRONG_PSK, "LOGIN_FAILED", "login to the network failed", false),
	ROW(11, TAKEN, "CONNECTION_REMOVED", "the connection profile was deleted", false),
	ROW(14, RADIO, "DEVICE_REMOVED", "the WiFi adapter was removed", false),
};

#undef ROW

static struct nmcore_reason
lookup(const struct reason_row *rows, size_t n, uint32_t code)
{
	static const struct nmcore_reason unknown = {
		NMCORE_FAIL_OTHER, "UNKNOWN", "NetworkManager gave a reason sonota-c does not know",
		false
	};

	for (size_t i = 0; i < n; i++)
		if (rows[i].code == code)
			return rows[i].r;
	return unknown;
}

struct nmcore_reason
nmcore_device_reason(uint32_t code)
{
	return lookup(device_reasons, sizeof(device_reasons) / sizeof(device_reasons[0]), code);
}

struct nmcore_reason
nmcore_ac_reason(uint32_t code)
{
	return lookup(ac_reasons, sizeof(ac_reasons) / sizeof(ac_reasons[0]), code);
}

struct nmcore_reason
nmcore_failure(uint32_t device_reason, uint32_t ac_reason)
{
	struct nmcore_reason d = nmcore_device_reason(device_reason);
	struct nmcore_reason a = nmcore_ac_reason(ac_reason);

	if (d.kind == NMCORE_FAIL_NONE)
		return a;
	/* a device reason we do not know is less useful than a known AC one */
	if (!strcmp(d.name, "UNKNOWN") && a.kind != NMCORE_FAIL_NONE && strcmp(a.name, "UNKNOWN"))
		return a;
	return d;
}

const char *
nmcore_fail_name(enum nmcore_fail k)
{
	static const char *const names[_NMCORE_FAIL_MAX] = {
		[NMCORE_FAIL_NONE] = "none",         [NMCORE_FAIL_WRONG_PSK] = "wrong-psk",
		[NMCORE_FAIL_AP_GONE] = "ap-gone",   [NMCORE_FAIL_NO_LEASE] = "no-lease",
		[NMCORE_FAIL_SUPPLICANT] = "supplicant", [NMCORE_FAIL_TAKEN] = "taken",
		[NMCORE_FAIL_RADIO] = "radio",       [NMCORE_FAIL_OTHER] = "other",
	};

	return (unsigned)k < _NMCORE_FAIL_MAX ? names[k] : "?";
}

/* ---- restore target ----------------------------------------------------------- */

bool
nmcore_profile_is_ours(const struct nmcore_profile *p)
{
	if (p->id && !strncmp(p->id, NMCORE_PROFILE_PREFIX, sizeof(NMCORE_PROFILE_PREFIX) - 1))
		return true;
	if (p->ssid && (nmcore_ssid_itead_id(p->ssid, p->ssid_len, NULL) ||
			nmcore_ssid_eq(p->ssid, p->ssid_len, NMCORE_FINALSTAGE_SSID)))
		return true;
	return false;
}

/* Better autoconnect candidate: priority, then recency, then earlier in the list. */
static bool
better(const struct nmcore_profile *a, const struct nmcore_profile *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->timestamp > b->timestamp;
}

struct nmcore_restore
nmcore_restore_choose(const char *active_path, const struct nmcore_profile *profiles, size_t n)
{
	struct nmcore_restore r = { NMCORE_RESTORE_NONE, 0, "nothing to restore" };
	bool was_ours = false;
	size_t best = n;

	if (!active_path || !strcmp(active_path, "/")) {
		r.why = "nothing was active on the radio";
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (!profiles[i].path || strcmp(profiles[i].path, active_path))
			continue;
		if (nmcore_profile_is_ours(&profiles[i])) {
			was_ours = true;
			break;
		}
		r.kind = NMCORE_RESTORE_PROFILE;
		r.index = i;
		r.why = "was active before the first hop";
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		const struct nmcore_profile *p = &profiles[i];

		if (!p->autoconnect || p->volatile_ || p->active_elsewhere ||
		    nmcore_profile_is_ours(p))
			continue;
		if (best == n || better(p, &profiles[best]))
			best = i;
	}
	if (best < n) {
		r.kind = NMCORE_RESTORE_PROFILE;
		r.index = best;
		if (was_ours)
			r.why = "best autoconnect profile (the active one was sonota-c's own)";
		else
			r.why = "best autoconnect profile (the active one no longer exists)";
	}
	return r;
}

/* ---- SSH check ---------------------------------------------------------------- */

/* /proc/net/tcp prints each 32-bit word of an address as the host-order hex of
 * the in-memory word: on a little-endian host "0100007F" is 127.0.0.1. Reading
 * the word with strtoul and storing it back in host order gives the raw bytes. */
static int
parse_addr_port(const char *s, int family, uint8_t addr[16], uint16_t *port)
{
	size_t words = family == AF_INET ? 1 : 4;
	char buf[9];
	char *end;

	memset(addr, 0, 16);
	for (size_t w = 0; w < words; w++) {
		uint32_t v;

		memcpy(buf, s + 8 * w, 8);
		buf[8] = '\0';
		for (int i = 0; i < 8; i++)
			if (hexval(buf[i]) < 0)
				return -EINVAL;
		v = (uint32_t)strtoul(buf, &end, 16);
		memcpy(addr + 4 * w, &v, 4);
	}
	s += 8 * words;
	if (*s != ':')
		return -EINVAL;
	*port = (uint16_t)strtoul(s + 1, &end, 16);
	if (end != s + 5)
		return -EINVAL;
	return 0;
}

int
nmcore_parse_proc_tcp(const char *text, int family, struct nmcore_tcp *out, size_t max,
		      size_t *ret_n)
{
	size_t n = 0, alen = family == AF_INET ? 8 : 32;
	bool cut = false;
	const char *line;

	if (!text || !ret_n || (family != AF_INET && family != AF_INET6) || (!out && max))
		return -EINVAL;
	line = strchr(text, '\n'); /* skip the header */
	while (line && *++line) {
		const char *next = strchr(line, '\n');
		char local[40], remote[40];
		unsigned slot, st;
		unsigned long inode;
		struct nmcore_tcp t = { 0 };

		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %u: %39s %39s %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &slot, local,
			   remote, &st, &inode) == 5 &&
		    strlen(local) == alen + 5 && strlen(remote) == alen + 5 &&
		    parse_addr_port(local, family, t.local, &t.lport) == 0 &&
		    parse_addr_port(remote, family, t.remote, &t.rport) == 0) {
			t.family = family;
			t.state = st;
			t.inode = inode;
			if (n < max)
				out[n++] = t;
			else
				cut = true;
		}
		line = next;
	}
	*ret_n = n;
	return cut ? 1 : 0;
}

int
nmcore_parse_ssh_connection(const char *v, int *ret_family, uint8_t ret_addr[16])
{
	char cip[64], sip[64];
	unsigned cport, sport;
	uint8_t a[16] = { 0 };
	int fam;

	if (!v || sscanf(v, "%63s %u %63s %u", cip, &cport, sip, &sport) != 4)
		return -EINVAL;
	if (inet_pton(AF_INET, sip, a) == 1)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, sip, a) == 1)
		fam = AF_INET6;
	else
		return -EINVAL;
	*ret_family = fam;
	memcpy(ret_addr, a, 16);
	return 0;
}

/* Fold ::ffff:a.b.c.d into AF_INET a.b.c.d. */
static void
canon(int *family, uint8_t addr[16])
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (*family == AF_INET6 && !memcmp(addr, mapped, 12)) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		*family = AF_INET;
	}
}

/* The interface holding (family, addr), or NULL. */
static const char *
iface_of(const struct nmcore_ssh_facts *f, int family, const uint8_t addr[16])
{
	size_t alen = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < f->n_ifaddrs; i++) {
		const struct nmcore_ifaddr *ia = &f->ifaddrs[i];

		if (ia->family == family && !memcmp(ia->addr, addr, alen))
			return ia->ifname;
	}
	return NULL;
}

/* Record one candidate address; returns true when it is on the radio. */
static bool
consider(const struct nmcore_ssh_facts *f, int family, const uint8_t in[16], const char *radio,
	 const char **other)
{
	uint8_t addr[16];
	const char *ifn;

	memcpy(addr, in, 16);
	canon(&family, addr);
	ifn = iface_of(f, family, addr);
	if (!ifn)
		return false;
	if (radio && !strcmp(ifn, radio))
		return true;
	if (!*other)
		*other = ifn;
	return false;
}

static void
set_ifname(char *ret, const char *v)
{
	if (!ret)
		return;
	snprintf(ret, IF_NAMESIZE, "%s", v ? v : "");
}

enum nmcore_ssh
nmcore_ssh_check(const struct nmcore_ssh_facts *f, const char *radio, char *ret_ifname)
{
	const char *other = NULL;

	set_ifname(ret_ifname, NULL);
	if (!f || (!f->sshd_ancestor && !f->have_env))
		return NMCORE_SSH_NONE;
	if (f->have_env && consider(f, f->env_family, f->env_addr, radio, &other)) {
		set_ifname(ret_ifname, radio);
		return NMCORE_SSH_ON_RADIO;
	}
	for (size_t i = 0; i < f->n_tcp; i++) {
		const struct nmcore_tcp *t = &f->tcp[i];
		bool held = false;

		if (t->state != 1) /* TCP_ESTABLISHED */
			continue;
		for (size_t k = 0; k < f->n_inodes && !held; k++)
			held = t->inode && f->inodes[k] == t->inode;
		if (!held)
			continue;
		if (consider(f, t->family, t->local, radio, &other)) {
			set_ifname(ret_ifname, radio);
			return NMCORE_SSH_ON_RADIO;
		}
	}
	if (other) {
		set_ifname(ret_ifname, other);
		return NMCORE_SSH_OTHER;
	}
	return NMCORE_SSH_UNKNOWN;
}

const char *
nmcore_ssh_name(enum nmcore_ssh s)
{
	static const char *const names[_NMCORE_SSH_MAX] = {
		[NMCORE_SSH_NONE] = "no SSH session",
		[NMCORE_SSH_OTHER] = "SSH session on another interface",
		[NMCORE_SSH_ON_RADIO] = "SSH session rides on the radio",
		[NMCORE_SSH_UNKNOWN] = "SSH session on an unknown interface",
	};

	return (unsigned)s < _NMCORE_SSH_MAX ? names[s] : "?";
}

/* ---- versions ----------------------------------------------------------------- */

int
nmcore_version_cmp(const char *a, const char *b)
{
	while ((a && *a) || (b && *b)) {
		unsigned long x = 0, y = 0;
		char *end;

		if (a && *a) {
			x = isdigit((unsigned char)*a) ? strtoul(a, &end, 10) : 0;
			a = strchr(a, '.');
			a = a ? a + 1 : NULL;
		}
		if (b && *b) {
			y = isdigit((unsigned char)*b) ? strtoul(b, &end, 10) : 0;
			b = strchr(b, '.');
			b = b ? b + 1 : NULL;
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

/* Unit tests of nmcore (pure decisions of the NetworkManager hops) and of the
 * nmssh reader against a fake /proc tree. Issue 10, docs/wifi.md. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nmcore.h"
#include "nmssh.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void
test_classify(void)
{
	static const struct {
		uint32_t flags, wpa, rsn;
		enum nmcore_ap_sec want;
	} rows[] = {
		{ 0, 0, 0, NMCORE_SEC_OPEN },                       /* FinalStage */
		{ 1, 0, 0, NMCORE_SEC_WEP },                        /* privacy, no WPA */
		{ 1, 0, 0x188, NMCORE_SEC_WPA2_PSK },               /* ITEAD: CCMP + PSK */
		{ 1, 0x144, 0, NMCORE_SEC_WPA_PSK },                /* WPA1 TKIP PSK */
		{ 1, 0x144, 0x188, NMCORE_SEC_WPA2_PSK },           /* mixed */
		{ 1, 0, 0x588, NMCORE_SEC_WPA2_PSK },               /* WPA2/WPA3 transition */
		{ 1, 0, 0x408, NMCORE_SEC_SAE },                    /* WPA3 only */
		{ 0, 0, 0x808, NMCORE_SEC_OWE },                    /* enhanced open */
		{ 1, 0, 0x288, NMCORE_SEC_ENTERPRISE },             /* 802.1X */
		{ 1, 0, 0x8, NMCORE_SEC_UNKNOWN },                  /* cipher, no key mgmt */
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(nmcore_ap_classify(rows[i].flags, rows[i].wpa, rows[i].rsn) == rows[i].want,
			  "row %zu: got %s want %s", i,
			  nmcore_ap_sec_name(nmcore_ap_classify(rows[i].flags, rows[i].wpa, rows[i].rsn)),
			  nmcore_ap_sec_name(rows[i].want));
	CHECK_STR(nmcore_ap_sec_name(NMCORE_SEC_WPA2_PSK), "wpa2-psk");
	CHECK_STR(nmcore_ap_sec_name((enum nmcore_ap_sec)99), "?");
}

static void
test_ssid(void)
{
	static const struct {
		const char *ssid;
		size_t len;
		bool itead;
		const char *id;
	} rows[] = {
		{ "ITEAD-10000abcde", 16, true, "10000abcde" },
		{ "ITEAD-10000ABCDE", 16, true, "10000abcde" },  /* lower-cased */
		{ "ITEAD-10000abcd", 15, false, NULL },         /* 9 digits */
		{ "ITEAD-10000abcdef", 17, false, NULL },       /* 11 digits */
		{ "ITEAD-10000abcdg", 16, false, NULL },        /* not hex */
		{ "itead-10000abcde", 16, false, NULL },        /* prefix is case-exact */
		{ "ITEAD-10000abcd\0", 16, false, NULL },       /* NUL in the SSID */
		{ "ITEAD-10000abc\xe9" "e", 16, false, NULL },  /* non-ASCII byte */
		{ "XITEAD-10000abcde", 17, false, NULL },
		{ "", 0, false, NULL },
	};
	char id[NMCORE_DEVICEID_LEN + 1], buf[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(id, 'z', sizeof(id));
		bool got = nmcore_ssid_itead_id((const uint8_t *)rows[i].ssid, rows[i].len, id);

		CHECK_MSG(got == rows[i].itead, "row %zu (%s)", i, rows[i].ssid);
		if (got && rows[i].id)
			CHECK_STR(id, rows[i].id);
	}
	CHECK(nmcore_ssid_itead_id(S("ITEAD-10000abcde"), NULL));

	CHECK(nmcore_ssid_eq(S("FinalStage"), "FinalStage"));
	CHECK(!nmcore_ssid_eq(S("FinalStage\0"), "FinalStage"));
	CHECK(!nmcore_ssid_eq(S("FinalStag"), "FinalStage"));
	CHECK(!nmcore_ssid_eq(S("finalstage"), "FinalStage"));
	CHECK(!nmcore_ssid_eq(NULL, 0, "FinalStage"));
	CHECK(nmcore_ssid_eq(S(""), ""));

	CHECK_STR(nmcore_ssid_printable(S("Home \"net\"\x01\xff"), buf, sizeof(buf)),
		  "Home \\x22net\\x22\\x01\\xff");
	CHECK_STR(nmcore_ssid_printable(S("abcdef"), buf, 4), "abc"); /* cut, terminated */
	CHECK_STR(nmcore_ssid_printable(S("\x01\x02"), buf, 6), "\\x01"); /* no half escape */
}

static void
test_role(void)
{
	char id[NMCORE_DEVICEID_LEN + 1] = "";

	CHECK_INT(nmcore_ap_role(S("ITEAD-10000abcde"), NMCORE_SEC_WPA2_PSK, id), NMCORE_AP_ITEAD);
	CHECK_STR(id, "10000abcde");
	CHECK_INT(nmcore_ap_role(S("ITEAD-10000abcde"), NMCORE_SEC_WPA_PSK, NULL), NMCORE_AP_ITEAD);
	CHECK_INT(nmcore_ap_role(S("ITEAD-10000abcde"), NMCORE_SEC_OPEN, NULL),
		  NMCORE_AP_ITEAD_BADSEC);
	CHECK_INT(nmcore_ap_role(S("ITEAD-10000abcde"), NMCORE_SEC_SAE, NULL),
		  NMCORE_AP_ITEAD_BADSEC);
	CHECK_INT(nmcore_ap_role(S("FinalStage"), NMCORE_SEC_OPEN, NULL), NMCORE_AP_FINALSTAGE);
	CHECK_INT(nmcore_ap_role(S("FinalStage"), NMCORE_SEC_WPA2_PSK, NULL),
		  NMCORE_AP_FINALSTAGE_BADSEC);
	CHECK_INT(nmcore_ap_role(S("HomeNet"), NMCORE_SEC_WPA2_PSK, NULL), NMCORE_AP_OTHER);
	CHECK_INT(nmcore_ap_role(S("FinalStage\0"), NMCORE_SEC_OPEN, NULL), NMCORE_AP_OTHER);
	CHECK_STR(nmcore_ap_role_name(NMCORE_AP_FINALSTAGE), "finalstage");
}

static void
test_bssid(void)
{
	uint8_t b[6], seen[3][6] = { { 0 } };

	CHECK_INT(nmcore_bssid_parse("AA:bb:0C:dd:ee:0F", b), 0);
	CHECK(b[0] == 0xaa && b[2] == 0x0c && b[5] == 0x0f);
	CHECK_INT(nmcore_bssid_parse("AA:bb:0C:dd:ee:0", b), -EINVAL);
	CHECK_INT(nmcore_bssid_parse("AA-bb-0C-dd-ee-0F", b), -EINVAL);
	CHECK_INT(nmcore_bssid_parse("AA:bb:0C:dd:ee:0G", b), -EINVAL);
	CHECK_INT(nmcore_bssid_parse(NULL, b), -EINVAL);

	nmcore_bssid_parse("d8:f1:5b:00:00:01", seen[0]);
	nmcore_bssid_parse("d8:f1:5b:00:00:02", seen[1]);
	nmcore_bssid_parse("d8:f1:5b:00:00:03", seen[2]);
	nmcore_bssid_parse("d8:f1:5b:00:00:02", b);
	CHECK_INT(nmcore_finalstage_match(b, (const uint8_t(*)[6])seen, 3), 1);
	nmcore_bssid_parse("d8:f1:5b:00:00:04", b);
	CHECK_INT(nmcore_finalstage_match(b, (const uint8_t(*)[6])seen, 3), -ENOENT);
	CHECK_INT(nmcore_finalstage_match(b, (const uint8_t(*)[6])seen, 0), -ENOENT);
	memset(b, 0, 6); /* NM reports 00:00:... for an unknown BSSID: never a match */
	memset(seen[0], 0, 6);
	CHECK_INT(nmcore_finalstage_match(b, (const uint8_t(*)[6])seen, 3), -ENOENT);
}

static void
test_reasons(void)
{
	static const struct {
		uint32_t dev, ac;
		enum nmcore_fail kind;
		const char *name;
		bool retry;
	} rows[] = {
		{ 7, 9, NMCORE_FAIL_WRONG_PSK, "NO_SECRETS", false },    /* wrong PSK (mock, real) */
		{ 0, 9, NMCORE_FAIL_WRONG_PSK, "NO_SECRETS", false },    /* only the AC reason */
		{ 53, 3, NMCORE_FAIL_AP_GONE, "SSID_NOT_FOUND", false }, /* cloudcutter #514 */
		{ 11, 6, NMCORE_FAIL_SUPPLICANT, "SUPPLICANT_TIMEOUT", true }, /* #431, #661 */
		{ 8, 3, NMCORE_FAIL_SUPPLICANT, "SUPPLICANT_DISCONNECT", true },
		{ 17, 5, NMCORE_FAIL_NO_LEASE, "DHCP_FAILED", true },
		{ 5, 5, NMCORE_FAIL_NO_LEASE, "IP_CONFIG_UNAVAILABLE", true },
		{ 1, 5, NMCORE_FAIL_NO_LEASE, "IP_CONFIG_INVALID", true },
		{ 60, 3, NMCORE_FAIL_TAKEN, "NEW_ACTIVATION", false },
		{ 38, 11, NMCORE_FAIL_TAKEN, "CONNECTION_REMOVED", false },
		{ 39, 2, NMCORE_FAIL_TAKEN, "USER_REQUESTED", false },
		{ 36, 14, NMCORE_FAIL_RADIO, "REMOVED", false },
		{ 999, 9, NMCORE_FAIL_WRONG_PSK, "NO_SECRETS", false },  /* unknown dev: AC wins */
		{ 999, 999, NMCORE_FAIL_OTHER, "UNKNOWN", false },
		{ 0, 1, NMCORE_FAIL_NONE, "NONE", false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct nmcore_reason r = nmcore_failure(rows[i].dev, rows[i].ac);

		CHECK_MSG(r.kind == rows[i].kind && !strcmp(r.name, rows[i].name) &&
				  r.retry == rows[i].retry && r.message && *r.message,
			  "row %zu (%u,%u): got %s/%s retry=%d", i, rows[i].dev, rows[i].ac,
			  nmcore_fail_name(r.kind), r.name, r.retry);
	}
	/* every message is one line */
	for (uint32_t c = 0; c < 100; c++) {
		CHECK(!strchr(nmcore_device_reason(c).message, '\n'));
		CHECK(!strchr(nmcore_ac_reason(c).message, '\n'));
	}
	CHECK(strstr(nmcore_device_reason(53).message, "press its button"));
	CHECK(strstr(nmcore_device_reason(7).message, "password"));
	CHECK(strstr(nmcore_device_reason(17).message, "DHCP"));
	CHECK(strstr(nmcore_device_reason(11).message, "move closer"));
	CHECK_STR(nmcore_fail_name(NMCORE_FAIL_AP_GONE), "ap-gone");
}

static void
test_restore(void)
{
	static const uint8_t home_ssid[] = "HomeNet", itead[] = "ITEAD-10000abcde";
	struct nmcore_profile p[] = {
		/* 0 */ { "/S/0", "Home", home_ssid, 7, true, 0, 100, false, false },
		/* 1 */ { "/S/1", "Office", (const uint8_t *)"Office", 6, true, 0, 200, false, false },
		/* 2 */ { "/S/2", "sonota-itead", itead, 16, false, 0, 300, true, false },
		/* 3 */ { "/S/3", "ITEAD-10000abcde", itead, 16, true, 50, 400, false, false },
		/* 4 */ { "/S/4", "Phone", (const uint8_t *)"Phone", 5, false, 99, 500, false, false },
		/* 5 */ { "/S/5", "Cafe", (const uint8_t *)"Cafe", 4, true, 5, 10, false, false },
		/* 6 */ { "/S/6", "tmp", (const uint8_t *)"tmp", 3, true, 90, 10, true, false },
	};
	struct nmcore_restore r;

	r = nmcore_restore_choose("/S/0", p, 7); /* the active one */
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 0);
	r = nmcore_restore_choose("/S/4", p, 7); /* active, even without autoconnect */
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 4);
	/* nothing active on the radio: leave it idle, never "the best profile" (on a
	 * second adapter that would take the home link from the other one) */
	r = nmcore_restore_choose("/", p, 7);
	CHECK(r.kind == NMCORE_RESTORE_NONE);
	CHECK(strstr(r.why, "nothing was active"));
	r = nmcore_restore_choose(NULL, p, 7);
	CHECK(r.kind == NMCORE_RESTORE_NONE);
	/* the active one was ours (a leftover): the best autoconnect profile =
	 * highest priority, not ours, not volatile */
	r = nmcore_restore_choose("/S/2", p, 7);
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 5);
	CHECK(strstr(r.why, "sonota-c's own"));
	r = nmcore_restore_choose("/S/3", p, 7); /* saved ITEAD-* from a manual run */
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 5);
	/* the active profile was deleted meanwhile */
	r = nmcore_restore_choose("/S/9", p, 7);
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 5);
	CHECK(strstr(r.why, "no longer exists"));
	/* ... but not one that is active on another device */
	p[5].active_elsewhere = true;
	r = nmcore_restore_choose("/S/9", p, 7);
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 1); /* Office: newer than Home */
	p[5].active_elsewhere = false;
	/* equal priority: most recent wins (Office over Home) */
	r = nmcore_restore_choose("/S/9", p, 2);
	CHECK(r.kind == NMCORE_RESTORE_PROFILE && r.index == 1);
	/* nothing eligible */
	r = nmcore_restore_choose("/S/2", p + 2, 1);
	CHECK(r.kind == NMCORE_RESTORE_NONE);
	r = nmcore_restore_choose("/S/2", NULL, 0);
	CHECK(r.kind == NMCORE_RESTORE_NONE);

	CHECK(nmcore_profile_is_ours(&p[2]));
	CHECK(nmcore_profile_is_ours(&p[3]));
	CHECK(!nmcore_profile_is_ours(&p[0]));
}

/* One /proc/net/tcp{,6} line for the given addresses, as the kernel prints them
 * on this host (each 32-bit word in host order). */
static void
tcp_line(char *out, size_t len, int family, const uint8_t *l, uint16_t lp, const uint8_t *r,
	 uint16_t rp, unsigned st, unsigned long inode)
{
	char ls[40] = "", rs[40] = "";
	size_t words = family == AF_INET ? 1 : 4;

	for (size_t w = 0; w < words; w++) {
		uint32_t a, b;

		memcpy(&a, l + 4 * w, 4);
		memcpy(&b, r + 4 * w, 4);
		snprintf(ls + 8 * w, sizeof(ls) - 8 * w, "%08X", a);
		snprintf(rs + 8 * w, sizeof(rs) - 8 * w, "%08X", b);
	}
	snprintf(out, len,
		 "   0: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000     0        0 "
		 "%lu 1 0000000000000000 20 4 30 10 -1\n",
		 ls, lp, rs, rp, st, inode);
}

static void
addr4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	inet_pton(AF_INET, s, out);
}

static void
addr6(uint8_t out[16], const char *s)
{
	inet_pton(AF_INET6, s, out);
}

static void
test_proc_tcp(void)
{
	char text[2048] = "  sl  local_address rem_address   st tx_queue ...\n", line[256];
	uint8_t l[16], r[16], m[16];
	struct nmcore_tcp t[4];
	size_t n = 9;

	addr4(l, "192.168.1.10");
	addr4(r, "192.168.1.99");
	tcp_line(line, sizeof(line), AF_INET, l, 22, r, 51000, 1, 4242);
	strcat(text, line);
	tcp_line(line, sizeof(line), AF_INET, l, 22, l, 0, 0x0a, 17); /* listener */
	strcat(text, line);
	strcat(text, "garbage line\n");
	CHECK_INT(nmcore_parse_proc_tcp(text, AF_INET, t, 4, &n), 0);
	CHECK_INT(n, 2);
	CHECK(!memcmp(t[0].local, l, 4) && t[0].lport == 22 && t[0].rport == 51000);
	CHECK(!memcmp(t[0].remote, r, 4) && t[0].state == 1 && t[0].inode == 4242);
	CHECK(t[1].state == 0x0a && t[1].inode == 17);
	CHECK_INT(nmcore_parse_proc_tcp(text, AF_INET, t, 1, &n), 1); /* cut */
	CHECK_INT(n, 1);
	CHECK_INT(nmcore_parse_proc_tcp(text, 99, t, 4, &n), -EINVAL);

	strcpy(text, "header\n");
	addr6(m, "::ffff:192.168.1.10");
	addr6(r, "2001:db8::7");
	tcp_line(line, sizeof(line), AF_INET6, m, 22, r, 40000, 1, 99);
	strcat(text, line);
	CHECK_INT(nmcore_parse_proc_tcp(text, AF_INET6, t, 4, &n), 0);
	CHECK_INT(n, 1);
	CHECK(!memcmp(t[0].local, m, 16) && !memcmp(t[0].remote, r, 16) && t[0].inode == 99);
	CHECK_INT(nmcore_parse_proc_tcp("", AF_INET6, t, 4, &n), 0);
	CHECK_INT(n, 0);
}

static void
test_ssh_connection(void)
{
	uint8_t a[16], want[16];
	int fam = 0;

	CHECK_INT(nmcore_parse_ssh_connection("192.168.1.99 51000 192.168.1.10 22", &fam, a), 0);
	addr4(want, "192.168.1.10");
	CHECK(fam == AF_INET && !memcmp(a, want, 4));
	CHECK_INT(nmcore_parse_ssh_connection("2001:db8::7 40000 2001:db8::1 22", &fam, a), 0);
	addr6(want, "2001:db8::1");
	CHECK(fam == AF_INET6 && !memcmp(a, want, 16));
	CHECK_INT(nmcore_parse_ssh_connection("192.168.1.99 51000", &fam, a), -EINVAL);
	CHECK_INT(nmcore_parse_ssh_connection("a b c d", &fam, a), -EINVAL);
	CHECK_INT(nmcore_parse_ssh_connection(NULL, &fam, a), -EINVAL);
}

static void
test_ssh_check(void)
{
	struct nmcore_ifaddr ifs[3] = { { "wlan0", AF_INET, { 0 } },
					{ "eth0", AF_INET, { 0 } },
					{ "wlan0", AF_INET6, { 0 } } };
	struct nmcore_tcp tcp[3] = { { 0 } };
	unsigned long inodes[] = { 555 };
	struct nmcore_ssh_facts f = { 0 };
	char ifn[IF_NAMESIZE];

	addr4(ifs[0].addr, "192.168.1.10");
	addr4(ifs[1].addr, "10.0.0.5");
	addr6(ifs[2].addr, "2001:db8::1");
	f.ifaddrs = ifs;
	f.n_ifaddrs = 3;
	f.tcp = tcp;
	f.n_tcp = 3;
	f.inodes = inodes;
	f.n_inodes = 1;
	/* 0: an unrelated established socket on wlan0; 1: the sshd's, on eth0 */
	tcp[0] = (struct nmcore_tcp){ .family = AF_INET, .state = 1, .inode = 111 };
	addr4(tcp[0].local, "192.168.1.10");
	tcp[1] = (struct nmcore_tcp){ .family = AF_INET, .state = 1, .inode = 555 };
	addr4(tcp[1].local, "10.0.0.5");
	tcp[2] = (struct nmcore_tcp){ .family = AF_INET6, .state = 0x0a, .inode = 555 };

	/* not in SSH at all */
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_NONE);
	CHECK_STR(ifn, "");
	/* sudo without SSH_CONNECTION: the sshd ancestor's socket is on eth0 */
	f.sshd_ancestor = true;
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_OTHER);
	CHECK_STR(ifn, "eth0");
	/* same, the session on wlan0 (v4-mapped on a v6 socket) */
	tcp[1].family = AF_INET6;
	addr6(tcp[1].local, "::ffff:192.168.1.10");
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_ON_RADIO);
	CHECK_STR(ifn, "wlan0");
	/* hopping the other radio: the session is safe */
	CHECK_INT(nmcore_ssh_check(&f, "wlan1", ifn), NMCORE_SSH_OTHER);
	CHECK_STR(ifn, "wlan0");
	/* a plain v6 session */
	addr6(tcp[1].local, "2001:db8::1");
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_ON_RADIO);
	/* the socket is not established (closing): not a candidate */
	tcp[1].state = 8;
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_UNKNOWN);
	/* SSH_CONNECTION from an ancestor's environ, no socket found */
	f.have_env = true;
	f.env_family = AF_INET;
	addr4(f.env_addr, "192.168.1.10");
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_ON_RADIO);
	addr4(f.env_addr, "10.0.0.5");
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", ifn), NMCORE_SSH_OTHER);
	CHECK_STR(ifn, "eth0");
	/* env only, no sshd ancestor (su'd shell): still SSH */
	f.sshd_ancestor = false;
	addr4(f.env_addr, "172.16.0.1"); /* not on this host any more */
	CHECK_INT(nmcore_ssh_check(&f, "wlan0", NULL), NMCORE_SSH_UNKNOWN);
	CHECK_STR(nmcore_ssh_name(NMCORE_SSH_ON_RADIO), "SSH session rides on the radio");
}

/* ---- nmssh against a fake /proc --------------------------------------------- */

static int
put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	fwrite(text, 1, len, fp);
	return fclose(fp);
}

static void
mkproc(const char *root, int pid, int ppid, const char *comm, const char *environ, size_t elen)
{
	char dir[PATH_MAX], stat[256];

	snprintf(dir, sizeof(dir), "%s/%d", root, pid);
	mkdir(dir, 0755);
	snprintf(stat, sizeof(stat), "%d (%s) S %d 1 1 0 -1\n", pid, comm, ppid);
	put(dir, "stat", stat, strlen(stat));
	if (environ)
		put(dir, "environ", environ, elen);
	snprintf(dir, sizeof(dir), "%s/%d/fd", root, pid);
	mkdir(dir, 0755);
}

static void
test_nmssh_fake_proc(void)
{
	char root[] = "/tmp/sonota-nmssh-XXXXXX", path[PATH_MAX], text[1024], line[256];
	static const char env[] = "HOME=/root\0SSH_CONNECTION=192.168.1.99 5 192.168.1.10 22\0";
	uint8_t l[16], r[16];
	struct nmcore_ifaddr ifs[1] = { { "wlan0", AF_INET, { 0 } } };
	struct nmssh_facts fs;

	if (!mkdtemp(root)) {
		CHECK_MSG(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/net", root);
	mkdir(path, 0755);
	addr4(l, "192.168.1.10");
	addr4(r, "192.168.1.99");
	strcpy(text, "header\n");
	tcp_line(line, sizeof(line), AF_INET, l, 22, r, 5, 1, 777);
	strcat(text, line);
	put(path, "tcp", text, strlen(text));
	put(path, "tcp6", "header\n", 7);

	/* 300 (us, sonota-c) <- 200 (sudo, env stripped) <- 100 (sshd: root@pts/0 (spaces)) */
	mkproc(root, 100, 1, "sshd: root@pts/0", NULL, 0);
	mkproc(root, 200, 100, "sudo", "HOME=/root", 10);
	mkproc(root, 300, 200, "sonota-c", "PATH=/bin", 9);
	snprintf(path, sizeof(path), "%s/100/fd/3", root);
	CHECK_INT(symlink("socket:[777]", path), 0);
	snprintf(path, sizeof(path), "%s/100/fd/4", root);
	CHECK_INT(symlink("/dev/null", path), 0);

	CHECK_INT(nmssh_facts_read(root, 300, false, &fs), 0);
	CHECK(fs.f.sshd_ancestor);
	CHECK(!fs.f.have_env);
	CHECK_INT(fs.f.n_inodes, 1);
	CHECK_INT(fs.f.n_tcp, 1);
	addr4(ifs[0].addr, "192.168.1.10");
	fs.f.ifaddrs = ifs;
	fs.f.n_ifaddrs = 1;
	CHECK_INT(nmcore_ssh_check(&fs.f, "wlan0", NULL), NMCORE_SSH_ON_RADIO);
	nmssh_facts_free(&fs);

	/* not under sshd, but SSH_CONNECTION survives in an ancestor */
	mkproc(root, 400, 1, "bash", env, sizeof(env));
	mkproc(root, 500, 400, "sonota-c", NULL, 0);
	CHECK_INT(nmssh_facts_read(root, 500, false, &fs), 0);
	CHECK(!fs.f.sshd_ancestor);
	CHECK(fs.f.have_env && fs.f.env_family == AF_INET && !memcmp(fs.f.env_addr, l, 4));
	nmssh_facts_free(&fs);

	/* a plain local process */
	mkproc(root, 600, 1, "login", NULL, 0);
	mkproc(root, 700, 600, "sonota-c", NULL, 0);
	CHECK_INT(nmssh_facts_read(root, 700, false, &fs), 0);
	CHECK(!fs.f.sshd_ancestor && !fs.f.have_env);
	CHECK_INT(nmcore_ssh_check(&fs.f, "wlan0", NULL), NMCORE_SSH_NONE);
	nmssh_facts_free(&fs);

	/* the real thing runs and decides something */
	{
		enum nmcore_ssh s = _NMCORE_SSH_MAX;

		CHECK_INT(nmssh_check("wlan0", &s, NULL), 0);
		CHECK(s < _NMCORE_SSH_MAX);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", root);
	CHECK_INT(system(path), 0);
}

static void
test_version(void)
{
	CHECK(nmcore_version_cmp("1.42.4", NMCORE_NM_VERSION_MIN) > 0);
	CHECK(nmcore_version_cmp("1.16", "1.16.0") == 0);
	CHECK(nmcore_version_cmp("1.8.10", "1.16") < 0); /* numeric, not lexical */
	CHECK(nmcore_version_cmp("0.9.6.0", "1.16") < 0);
	CHECK(nmcore_version_cmp("1.46.0-dev", "1.46") == 0);
	CHECK(nmcore_version_cmp("2", "1.99") > 0);
}

int
main(void)
{
	test_classify();
	test_ssid();
	test_role();
	test_bssid();
	test_reasons();
	test_restore();
	test_proc_tcp();
	test_ssh_connection();
	test_ssh_check();
	test_nmssh_fake_proc();
	test_version();
	return check_done();
}

/* cfgcheck: the checks of single values behind the option table (the rows'
 * validators, cfgint.h) and the parts of cfg_check() that read a file or
 * compare listeners (cfg_read_password_file, cfg_check_ports). Pure core like
 * the rest of the module: nothing logs; errors are -errno plus one line in err
 * (or msg) that never shows a password.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "cfgint.h"
#include "diy.h"
#include "util.h"

/* A user-supplied string fit to quote in an error: at most 64 bytes, control
 * bytes as '?', "..." when cut. */
const char *
cfg_quote(const char *s, char *buf, size_t len)
{
	size_t i, max = len > 4 ? len - 4 : 0;

	for (i = 0; s[i] && i < max; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	if (s[i]) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static bool
is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* issue 11: a device address the DIY route can talk to (not loopback, multicast...) */
int
cfg_validate_device_ip(const char *arg, char *msg, size_t msglen)
{
	const char *why = diy_ipv4_unusable(arg);

	if (why) {
		snprintf(msg, msglen, "%s", why);
		return -EINVAL;
	}
	return 0;
}

/* --serving-host must be an address a device on the home WiFi can reach, and
 * none of the two networks the device itself creates (PROTOCOL.md §1.2: with
 * such a home LAN the stages cannot be told apart, SonOTA #28). */
int
cfg_validate_serving_host(const char *arg, char *msg, size_t msglen)
{
	static const struct {
		uint32_t net, mask;
		const char *why;
	} refused[] = {
		{ 0x00000000, 0xff000000, "is not a host address (0.0.0.0/8)" },
		{ 0x7f000000, 0xff000000, "is a loopback address the device cannot reach" },
		{ 0xe0000000, 0xf0000000, "is a multicast address" },
		{ 0xf0000000, 0xf0000000, "is a reserved or broadcast address" },
		{ 0x0a0a0700, 0xffffff00, "is in 10.10.7.0/24, the device's own network in "
					  "stage 1; give this host's address on the home WiFi" },
		{ 0xc0a80400, 0xffffff00, "is in 192.168.4.0/24, the FinalStage network of "
					  "stage 3; a home WiFi on that network is not supported" },
	};
	uint32_t a;

	if (util_parse_ipv4(arg, &a) < 0)
		return -EINVAL; /* cannot happen: parsed before */
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if ((a & refused[i].mask) == refused[i].net) {
			snprintf(msg, msglen, "%s", refused[i].why);
			return -EINVAL;
		}
	}
	return 0;
}

int
cfg_validate_ssid(const char *arg, char *msg, size_t msglen)
{
	for (const char *p = arg; *p; p++) {
		if (is_ctl((unsigned char)*p)) {
			snprintf(msg, msglen, "contains a control character");
			return -EINVAL;
		}
	}
	return 0;
}

/* WPA2-PSK (IEEE 802.11i): a passphrase of 8..63 printable ASCII characters,
 * or the 256-bit PSK itself as 64 hex digits. The message never shows the
 * password nor its length. */
int
cfg_validate_password(const char *arg, char *msg, size_t msglen)
{
	size_t n = strlen(arg);
	bool printable = true, hex = true;

	for (const char *p = arg; *p; p++) {
		if (*p < 0x20 || *p > 0x7e)
			printable = false;
		if (!strchr("0123456789abcdefABCDEF", *p))
			hex = false;
	}
	if ((n >= CFG_PASSWORD_MIN && n <= CFG_PASSWORD_MAX && printable) ||
	    (n == CFG_PSK_HEX_LEN && hex))
		return 0;
	if (n == 0)
		snprintf(msg, msglen, "the password is empty");
	else
		snprintf(msg, msglen, "a WPA2 password is 8 to 63 printable ASCII characters, "
				      "or 64 hex digits");
	return -EINVAL;
}

/* Take the password from --wifi-password-file: the first line of a regular
 * file that neither group nor others can access, or of a pipe. */
int
cfg_read_password_file(struct cfg *c, char *err, size_t errlen)
{
	const char *name = cfg_opt_def(CFG_OPT_WIFI_PASSWORD_FILE)->name;
	char q[QUOTE_MAX], msg[160], *line = NULL;
	struct stat st;
	int r;

	cfg_quote(c->wifi_password_file, q, sizeof(q));
	/* One byte over the longest valid password, so that an over-long line
	 * is told apart from a valid one (-EFBIG otherwise names the limit). */
	r = util_read_first_line(c->wifi_password_file, CFG_PSK_HEX_LEN + 1, &line, &st);
	if (r == -EFBIG) {
		util_seterr(err, errlen,
		            "--%s: \"%s\": the first line is longer than any WPA2 "
		            "password",
		            name, q);
		return -EINVAL;
	}
	if (r == -EILSEQ) {
		util_seterr(err, errlen, "--%s: \"%s\": the first line contains a NUL byte", name,
		            q);
		return -EINVAL;
	}
	if (r == -EINVAL) {
		util_seterr(err, errlen, "--%s: \"%s\" is neither a regular file nor a pipe", name,
		            q);
		return r;
	}
	if (r < 0) {
		util_seterr(err, errlen, "--%s: \"%s\": %s", name, q, strerror(-r));
		return r;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & 0077)) {
		util_seterr(err, errlen,
		            "--%s: \"%s\" can be accessed by group or others (mode %04o); "
		            "run chmod 600 on it",
		            name, q, (unsigned)(st.st_mode & 07777));
		r = -EPERM;
		goto fail;
	}
	if (cfg_validate_password(line, msg, sizeof(msg)) < 0) {
		util_seterr(err, errlen, "--%s: \"%s\": %s", name, q, msg);
		r = -EINVAL;
		goto fail;
	}
	c->wifi_password = line;
	c->wifi_password_source = CFG_PASSWORD_FILE;
	return 0;
fail:
	util_free_secret(line);
	return r;
}

int
cfg_check_ports(struct cfg *c, char *err, size_t errlen)
{
	const struct {
		unsigned id;
		uint16_t port;
		bool used;
	} p[] = {
		{ CFG_OPT_HTTPS_PORT, c->https_port, true },
		{ CFG_OPT_HTTP_PORT, c->http_port, true },
		{ CFG_OPT_LEGACY_PORT, c->legacy_port, c->legacy },
	};

	/* Port 0 means "any free port": several may be 0. Name the option that
	 * was given explicitly, the later one in the table when both were. */
	for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		for (size_t j = i + 1; j < sizeof(p) / sizeof(p[0]); j++) {
			unsigned id;

			if (!p[i].used || !p[j].used || p[i].port == 0 || p[i].port != p[j].port)
				continue;
			id = cfg_given(c, p[j].id) || !cfg_given(c, p[i].id) ? p[j].id : p[i].id;
			util_seterr(err, errlen, "--%s: port %u is taken by --%s",
			            cfg_opt_def(id)->name, p[i].port,
			            cfg_opt_def(id == p[j].id ? p[i].id : p[j].id)->name);
			return -EINVAL;
		}
	}
	return 0;
}

/* diymore: a deviceid as the devices announce it (TXT id, eWeLink_<id>): letters and digits
 * only, so that it can never be taken for another field in a line or a JSON body */
int
cfg_validate_device_id(const char *arg, char *msg, size_t msglen)
{
	for (const char *p = arg; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z'))) {
			snprintf(msg, msglen, "must be letters and digits only (a deviceid such as "
				 "1000abcdef, as --scan lists it)");
			return -EINVAL;
		}
	}
	return 0;
}

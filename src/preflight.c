/* preflight: see preflight.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "netwatch.h"
#include "preflight.h"

#define PREFLIGHT_LINE_MAX 256 /* one answer typed at a prompt */
#define PREFLIGHT_TRIES 5      /* invalid answers before giving up */

static int
read_line(FILE *in, FILE *out, const char *prompt, bool echo, char *buf, size_t len)
{
	struct termios old, quiet;
	bool restore = false;
	int fd = fileno(in);

	fputs(prompt, out);
	fflush(out);
	if (!echo && tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	char *r = fgets(buf, (int)len, in);
	if (restore) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', out);
	}
	if (!r)
		return -EIO;
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static bool
valid_password(const char *p)
{
	size_t n = strlen(p);
	if (n == CFG_PSK_HEX_LEN)
		return strspn(p, "0123456789abcdefABCDEF") == n;
	if (n < CFG_PASSWORD_MIN || n > CFG_PASSWORD_MAX)
		return false;
	for (const char *c = p; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			return false;
	return true;
}

static void
list_addrs(const struct netwatch_addr *a, size_t n, char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && off + 1 < len; i++) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &a[i].addr, ip, sizeof(ip));
		int w = snprintf(out + off, len - off, "%s%s (%s)", i ? ", " : "", ip, a[i].ifname);
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
	if (!n)
		snprintf(out, len, "none");
}

int
preflight_run(struct preflight *p, const struct cfg *cfg, struct log *log, FILE *in, FILE *out,
	      char *err, size_t errlen)
{
	struct netwatch_addr addrs[PREFLIGHT_ADDRS_MAX];
	size_t n = 0;
	char list[512], line[PREFLIGHT_LINE_MAX];
	int r;

	memset(p, 0, sizeof(*p));
	r = netwatch_snapshot(addrs, PREFLIGHT_ADDRS_MAX, &n);
	if (r < 0) {
		snprintf(err, errlen, "cannot list this computer's addresses: %s", strerror(-r));
		return r;
	}
	list_addrs(addrs, n, list, sizeof(list));

	if (!cfg->no_prov) {
		for (size_t i = 0; i < n; i++) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &addrs[i].addr, ip, sizeof(ip));
			if (netwatch_is_device_ap(addrs[i].addr)) {
				snprintf(err, errlen,
					 "this computer is on a device's WiFi already (%s on %s): "
					 "start sonota-c on your home network; it tells you when "
					 "to join ITEAD-<id> (or resume with --no-prov)",
					 ip, addrs[i].ifname);
				return -EHOSTUNREACH;
			}
			if (netwatch_is_finalstage(addrs[i].addr)) {
				snprintf(err, errlen,
					 "this computer is on FinalStage already (%s on %s): to "
					 "resume a takeover there, use --no-prov",
					 ip, addrs[i].ifname);
				return -EHOSTUNREACH;
			}
		}
	}

	/* The serving host. */
	if (cfg->serving_host) {
		snprintf(p->serving_host, sizeof(p->serving_host), "%s", cfg->serving_host);
		if (!cfg->no_check_ip) {
			bool found = false;
			for (size_t i = 0; i < n && !found; i++)
				found = addrs[i].addr.s_addr == htonl(cfg->serving_addr);
			if (!found) {
				snprintf(err, errlen,
					 "--serving-host %s is not an address of this computer "
					 "(it has: %s); pick one of those, or add --no-check-ip",
					 cfg->serving_host, list);
				return -EADDRNOTAVAIL;
			}
		}
	} else if (in && out) {
		if (!n) {
			snprintf(err, errlen, "this computer has no IPv4 address besides loopback: "
					      "connect it to your home WiFi first");
			return -EADDRNOTAVAIL;
		}
		fprintf(out, "Which address of this computer should the device call back?\n");
		for (size_t i = 0; i < n; i++) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &addrs[i].addr, ip, sizeof(ip));
			fprintf(out, "  [%zu] %s (%s)%s\n", i, ip, addrs[i].ifname,
				i == 0 ? "  <- default route" : "");
		}
		for (int tries = 0;; tries++) {
			if (tries == PREFLIGHT_TRIES) {
				snprintf(err, errlen, "no valid choice, giving up");
				return -EINVAL;
			}
			if (read_line(in, out, "Select IP address [0]: ", true, line, sizeof(line)) < 0) {
				snprintf(err, errlen, "no answer on the terminal");
				return -EIO;
			}
			char *end;
			unsigned long k = line[0] ? strtoul(line, &end, 10) : 0;
			if (line[0] && (*end || end == line))
				continue;
			if (k < n) {
				inet_ntop(AF_INET, &addrs[k].addr, p->serving_host,
					  sizeof(p->serving_host));
				break;
			}
		}
	} else {
		snprintf(err, errlen, "--serving-host is required when there is no terminal to ask "
				      "on (this computer's addresses: %s)", list);
		return -EINVAL;
	}

	if (cfg->no_prov)
		return 0;

	/* The home WiFi. */
	if (cfg->wifi_ssid) {
		p->ssid = strdup(cfg->wifi_ssid);
	} else if (in && out) {
		for (int tries = 0; !p->ssid; tries++) {
			if (tries == PREFLIGHT_TRIES ||
			    read_line(in, out, "WiFi SSID: ", true, line, sizeof(line)) < 0) {
				snprintf(err, errlen, "no WiFi SSID given");
				return -EINVAL;
			}
			if (line[0] && strlen(line) <= CFG_SSID_MAX)
				p->ssid = strdup(line);
		}
	} else {
		snprintf(err, errlen, "--wifi-ssid is required when there is no terminal to ask on");
		return -EINVAL;
	}
	if (!p->ssid)
		return -ENOMEM;

	if (cfg->wifi_password) {
		p->password = strdup(cfg->wifi_password);
	} else if (in && out) {
		for (int tries = 0; !p->password; tries++) {
			if (tries == PREFLIGHT_TRIES ||
			    read_line(in, out, "WiFi password (not shown): ", false, line,
				      sizeof(line)) < 0) {
				explicit_bzero(line, sizeof(line));
				snprintf(err, errlen, "no WiFi password given");
				return -EINVAL;
			}
			if (valid_password(line))
				p->password = strdup(line);
			else
				fprintf(out, "A WPA2 password has 8 to 63 characters (or 64 hex digits).\n");
			explicit_bzero(line, sizeof(line));
		}
	} else {
		snprintf(err, errlen, "--wifi-password (or --wifi-password-file, or $%s) is required "
				      "when there is no terminal to ask on",
			 CFG_ENV_WIFI_PASSWORD);
		return -EINVAL;
	}
	if (!p->password)
		return -ENOMEM;
	log_add_secret(log, p->password);
	return 0;
}

void
preflight_free(struct preflight *p)
{
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
	}
	free(p->ssid);
	memset(p, 0, sizeof(*p));
}

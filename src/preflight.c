/* preflight: see preflight.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "netwatch.h"
#include "preflight.h"

#define PREFLIGHT_LINE_MAX 256 /* one answer typed at a prompt */
#define PREFLIGHT_TRIES 5      /* invalid answers before giving up */

/* Read one answer from the terminal. The loop has not started yet, so SIGINT and
 * SIGTERM (blocked by the caller, for the loop's signalfd) would otherwise go
 * unnoticed here: sigfd, a signalfd for them, ends the wait. Returns 0 with the
 * line (no EOL) in buf, -EINTR on a signal, -EIO at end of input, -EMSGSIZE for a
 * line longer than len - 1 (read to its end and dropped), or -errno. */
static int
read_line(FILE *in, FILE *out, int sigfd, const char *prompt, bool echo, char *buf, size_t len)
{
	struct termios old, quiet;
	bool restore = false, toolong = false;
	int fd = fileno(in), r = 0;
	size_t n = 0;

	/* Echo goes off before the prompt appears: whatever is typed once the prompt
	 * shows is never echoed, and typed-ahead input is discarded (TCSAFLUSH, as
	 * getpass() does) before the prompt, not after it. */
	if (!echo && tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(fd, TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, out);
	fflush(out);

	/* A terminal in canonical mode hands over at most one line per read(). */
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		if (poll(pfd, sigfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (sigfd >= 0 && (pfd[1].revents & POLLIN)) {
			r = -EINTR;
			break;
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		char chunk[PREFLIGHT_LINE_MAX];
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0) {
			r = -errno;
			break;
		}
		if (k == 0) {
			r = -EIO;
			break;
		}
		char *eol = memchr(chunk, '\n', (size_t)k);
		size_t take = eol ? (size_t)(eol - chunk) : (size_t)k;
		if (!toolong && n + take < len) {
			memcpy(buf + n, chunk, take);
			n += take;
		} else {
			toolong = true;
		}
		explicit_bzero(chunk, sizeof(chunk));
		if (eol)
			break;
	}
	if (r == 0 && toolong)
		r = -EMSGSIZE;
	buf[r < 0 ? 0 : n] = '\0';
	buf[strcspn(buf, "\r")] = '\0'; /* a terminal in raw-ish mode may send CR LF */
	if (restore) {
		tcsetattr(fd, TCSAFLUSH, &old);
		fputc('\n', out);
	} else if (r == -EINTR) {
		fputc('\n', out);
	}
	return r;
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

/* One prompt: 0 with the answer in line, 1 to ask again (the answer was too long),
 * or -errno with err set: -EINTR for Ctrl-C/SIGTERM, -EINVAL at the end of input
 * (the value is missing, as without a terminal). */
static int
ask(FILE *in, FILE *out, int sigfd, const char *prompt, bool echo, char *line, size_t len,
    const char *what, char *err, size_t errlen)
{
	int r = read_line(in, out, sigfd, prompt, echo, line, len);
	if (r == -EMSGSIZE) {
		fprintf(out, "That answer is too long.\n");
		return 1;
	}
	if (r == -EINTR) {
		snprintf(err, errlen, "interrupted at the %s prompt", what);
		return r;
	}
	if (r == -EIO) {
		snprintf(err, errlen, "no %s given (end of input)", what);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read the %s from the terminal: %s", what, strerror(-r));
		return r;
	}
	return 0;
}

static int
run(struct preflight *p, const struct cfg *cfg, struct log *log, FILE *in, FILE *out, int sigfd,
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
			r = ask(in, out, sigfd, "Select IP address [0]: ", true, line, sizeof(line),
				"address choice", err, errlen);
			if (r < 0)
				return r;
			if (r > 0)
				continue;
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
			if (tries == PREFLIGHT_TRIES) {
				snprintf(err, errlen, "no valid WiFi SSID given, giving up");
				return -EINVAL;
			}
			r = ask(in, out, sigfd, "WiFi SSID: ", true, line, sizeof(line), "WiFi SSID",
				err, errlen);
			if (r < 0)
				return r;
			if (r == 0 && line[0] && strlen(line) <= CFG_SSID_MAX) {
				p->ssid = strdup(line);
				if (!p->ssid)
					return -ENOMEM;
			} else if (r == 0) {
				fprintf(out, "An SSID has 1 to %d bytes.\n", CFG_SSID_MAX);
			}
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
			if (tries == PREFLIGHT_TRIES) {
				snprintf(err, errlen, "no valid WiFi password given, giving up");
				return -EINVAL;
			}
			r = ask(in, out, sigfd, "WiFi password (not shown): ", false, line,
				sizeof(line), "WiFi password", err, errlen);
			if (r < 0) {
				explicit_bzero(line, sizeof(line));
				return r;
			}
			if (r == 0 && valid_password(line)) {
				p->password = strdup(line);
				explicit_bzero(line, sizeof(line));
				if (!p->password)
					return -ENOMEM;
			} else {
				explicit_bzero(line, sizeof(line));
				fprintf(out, "A WPA2 password has 8 to 63 characters (or 64 hex digits).\n");
			}
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

int
preflight_run(struct preflight *p, const struct cfg *cfg, struct log *log, FILE *in, FILE *out,
	      char *err, size_t errlen)
{
	int sigfd = -1;

	if (in && out) {
		/* The caller blocks SIGINT/SIGTERM for the loop's signalfd; while a prompt
		 * waits, this one ends the wait (a signal that is not blocked keeps its
		 * default action instead). */
		sigset_t mask;
		sigemptyset(&mask);
		sigaddset(&mask, SIGINT);
		sigaddset(&mask, SIGTERM);
		sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	}
	int r = run(p, cfg, log, in, out, sigfd, err, errlen);
	if (sigfd >= 0)
		close(sigfd);
	return r;
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

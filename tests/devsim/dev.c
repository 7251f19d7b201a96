/* dev: the device context's shared services - logging, the first-failure-wins result,
 * the WiFi-event hook and randomness. Used by every module; main() lives in devsim.c. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "devsim.h"

#define DEV_HOOK_POLL_MS 10		/* waitpid() poll period while a hook runs */
/* A hook always gets at least this long, even past the overall deadline: the cleanup
 * events (ap-down, sta-down, finalstage-down) run after failures, timeouts included. */
#define DEV_HOOK_GRACE_MS 10000

void
dev_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();	/* no randomness at all: nothing sensible is left */
		}
		p += n;
		len -= (size_t)n;
	}
}

void
dev_uuid4(char out[DEV_UUID_LEN + 1])
{
	uint8_t b[16];

	dev_random(b, sizeof(b));
	b[6] = (b[6] & 0x0F) | 0x40;	/* version 4 */
	b[8] = (b[8] & 0x3F) | 0x80;	/* RFC 4122 variant */
	snprintf(out, DEV_UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

long
dev_uptime_s(struct devsim *d)
{
	return (long)((conn_now_ms() - d->start_ms) / 1000) + 1;
}

static void
dev_vlog(struct devsim *d, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "devsim[%s]: %s\n", d->deviceid, line);
}

void
dev_log(struct devsim *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dev_vlog(d, fmt, ap);
	va_end(ap);
}

void
dev_dbg(struct devsim *d, const char *fmt, ...)
{
	va_list ap;

	if (!d->verbose)
		return;
	va_start(ap, fmt);
	dev_vlog(d, fmt, ap);
	va_end(ap);
}

const char *
dev_exit_name(enum dev_exit code)
{
	switch (code) {
	case DEV_EXIT_OK: return "ok";
	case DEV_EXIT_USAGE: return "usage";
	case DEV_EXIT_AP_TIMEOUT: return "ap-timeout";
	case DEV_EXIT_TLS: return "tls";
	case DEV_EXIT_UPGRADE: return "upgrade-refused";
	case DEV_EXIT_DOWNLOAD: return "download";
	case DEV_EXIT_E2A: return "e2a";
	case DEV_EXIT_FLASH: return "flash";
	case DEV_EXIT_TIMEOUT: return "timeout";
	case DEV_EXIT_PROTOCOL: return "protocol";
	case DEV_EXIT_HOOK: return "hook";
	}
	return "?";
}

int
dev_fail(struct devsim *d, enum dev_exit code, const char *fmt, ...)
{
	char reason[DEV_REASON_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (d->failed) {
		dev_dbg(d, "(after the first failure) %s", reason);
		return -EPROTO;
	}
	d->failed = true;
	d->exit_code = code;
	snprintf(d->reason, sizeof(d->reason), "%s", reason);
	dev_log(d, "FAIL %s: %s", dev_exit_name(code), reason);
	return -EPROTO;
}

/* Run `CMD <event> <deviceid>` and wait for it (bounded): its exit status in *status.
 * 0, or -errno after dev_fail. */
static int
hook_run(struct devsim *d, const char *event, int *status)
{
	char cmd[4096];
	int64_t end;
	pid_t pid;

	/* `CMD <event> <deviceid>`: CMD may itself carry arguments */
	snprintf(cmd, sizeof(cmd), "%s \"$@\"", d->hook);
	pid = fork();
	if (pid < 0)
		return dev_fail(d, DEV_EXIT_HOOK, "fork for the hook: %s", strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, "sh", event, d->deviceid, (char *)NULL);
		_exit(127);
	}
	end = conn_now_ms() + DEV_HOOK_GRACE_MS;
	if (end < d->deadline_ms)
		end = d->deadline_ms;
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return dev_fail(d, DEV_EXIT_HOOK, "waitpid: %s", strerror(errno));
		if (conn_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return dev_fail(d, DEV_EXIT_TIMEOUT, "the hook for %s did not finish (overall "
					"timeout %d s)", event, d->timeout_s);
		}
		usleep(DEV_HOOK_POLL_MS * 1000);
	}
	return 0;
}

int
dev_hook(struct devsim *d, const char *event)
{
	int status, r;

	dev_log(d, "wifi event %s", event);
	if (!strcmp(event, "sta-up"))
		d->sta_up = true;
	else if (!strcmp(event, "sta-down"))
		d->sta_up = false;
	if (!d->hook)
		return 0;
	r = hook_run(d, event, &status);
	if (r < 0)
		return r;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return dev_fail(d, DEV_EXIT_HOOK, "hook \"%s %s %s\" failed (%s %d)", d->hook, event,
				d->deviceid, WIFEXITED(status) ? "exit" : "signal",
				WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 0;
}

int
dev_hook_ask(struct devsim *d, const char *question)
{
	int status, r;

	if (!d->hook)
		return 1;
	r = hook_run(d, question, &status);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1)
		return WEXITSTATUS(status) == 0;
	return dev_fail(d, DEV_EXIT_HOOK, "hook \"%s %s %s\" failed (%s %d)", d->hook, question,
			d->deviceid, WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

void
dev_mask_apikeys(char *s)
{
	static const char key[] = "\"apikey\":\"";
	char *p;

	for (p = strstr(s, key); p; p = strstr(p, key)) {
		p += sizeof(key) - 1;
		while (*p && *p != '"')
			*p++ = '*';
	}
}

void
dev_dbg_json(struct devsim *d, const char *dir, const char *json)
{
	char *copy;

	if (!d->verbose)
		return;
	copy = strdup(json);
	if (!copy)
		return;
	dev_mask_apikeys(copy);		/* apikeys are secrets (PREAMBLE) */
	dev_log(d, "%s %s", dir, copy);
	free(copy);
}

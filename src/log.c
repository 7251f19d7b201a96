/* log: see log.h.
 *
 * Every message takes the same path: format into a buffer with LOG_SECRET_MAX
 * bytes of slack beyond LOG_LINE_MAX; under the mutex, mark every byte covered
 * by a registered secret or an apikey value (redact.c), render at most
 * LOG_LINE_MAX bytes of the result with each marked run replaced and every
 * control byte or invalid UTF-8 escaped, and write that one line to the console
 * (between the console hook's BEFORE and AFTER) and to the debug file (within its
 * cap). Redacting before cutting matters: a secret that straddles the cut would
 * otherwise leave its first bytes in the log.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "util.h"

/* A formatted message before redaction: the line plus slack for a secret that
 * starts before LOG_LINE_MAX, plus the NUL. */
#define LOG_RAW_MAX (LOG_LINE_MAX + LOG_SECRET_MAX + 1)
/* A line after redaction and cutting: LOG_LINE_MAX bytes, "..." and the NUL. */
#define LOG_OUT_MAX (LOG_LINE_MAX + 4)
/* Room kept below the file cap for the line that says the cap was reached. */
#define LOG_CAP_NOTE_MAX 160

static const char *const level_names[_LOG_LEVEL_MAX] = {
	[LOG_ERR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_NOTICE] = "NOTICE",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

/* What the console shows before a message; NOTICE and INFO are for users and
 * read best bare. */
static const char *const console_tags[_LOG_LEVEL_MAX] = {
	[LOG_ERR] = "error: ",
	[LOG_WARN] = "warning: ",
	[LOG_NOTICE] = "",
	[LOG_INFO] = "",
	[LOG_DEBUG] = "debug: ",
};

/* lws' emit callback has no user pointer, so the logger it feeds must be kept
 * here: the one file-static pointer of the program. Set by log_route_lws(),
 * cleared by log_close(); only the lws loop thread uses it. */
static struct log *lws_log_target;

static int
clamp_level(int level)
{
	if (level < LOG_ERR)
		return LOG_ERR;
	if (level >= _LOG_LEVEL_MAX)
		return LOG_DEBUG;
	return level;
}

int
log_open(struct log *l, const char *path, int console_level)
{
	struct stat st;
	int fd = -1, r;

	memset(l, 0, sizeof(*l));
	l->console = stderr;
	l->console_level = console_level;
	l->file_max = LOG_FILE_MAX_DEFAULT;
	ratelimit_peers_init(&l->peers, l->peer_slots, LOG_PEERS_MAX, LOG_PEER_BURST,
			     LOG_PEER_RATE);
	r = pthread_mutex_init(&l->lock, NULL);
	if (r)
		return -r;
	l->lock_ready = true;
	if (!path)
		return 0;

	/* O_NONBLOCK only so that opening a FIFO without reader fails instead
	 * of hanging; it is refused below as non-regular anyway. */
	fd = open(path, O_CREAT | O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		  0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		r = -EPERM;
		goto fail;
	}
	/* An existing file (or a umask that removed bits we never asked for)
	 * keeps its mode: tighten it, the file holds protocol dumps. */
	if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) < 0) {
		r = -errno;
		goto fail;
	}
	if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) < 0) {
		r = -errno;
		goto fail;
	}
	l->file = fdopen(fd, "a");
	if (!l->file) {
		r = -errno;
		goto fail;
	}
	l->file_size = (uint64_t)st.st_size;
	l->file_on = true;
	return 0;
fail:
	close(fd);
	return r;
}

void
log_default_path(char *buf, size_t len)
{
	snprintf(buf, len, "sonota-%lld.log", (long long)time(NULL));
}

int
log_add_secret(struct log *l, const char *secret)
{
	char once[LOG_SECRET_MAX + 1], twice[LOG_SECRET_MAX + 1];
	size_t elen, e2len;
	int r;

	if (!secret || !*secret)
		return 0;
	elen = util_json_escape(secret, once, sizeof(once));
	if (elen > LOG_SECRET_MAX || strlen(secret) > LOG_SECRET_MAX) {
		explicit_bzero(once, sizeof(once));
		return -E2BIG;
	}
	/* A frame logged inside another JSON string (an escaped dump) shows the
	 * value escaped twice; kept when it fits, the structural apikey mask
	 * covers that case for keys anyway. */
	e2len = util_json_escape(once, twice, sizeof(twice));

	pthread_mutex_lock(&l->lock);
	r = redact_set_add(&l->secrets, secret, strlen(secret));
	if (r == 0)
		r = redact_set_add(&l->secrets, once, elen);
	if (r == 0 && e2len <= LOG_SECRET_MAX)
		r = redact_set_add(&l->secrets, twice, e2len);
	if (r < 0)
		l->secrets_lost = true; /* fail safe: from now on no line is written */
	pthread_mutex_unlock(&l->lock);
	explicit_bzero(once, sizeof(once));
	explicit_bzero(twice, sizeof(twice));
	return r;
}

bool
log_enabled(const struct log *l, int level)
{
	return level <= l->console_level ||
	       (l->file && __atomic_load_n(&l->file_on, __ATOMIC_RELAXED));
}

/* Produce the redacted, cut and escaped form of raw[0..n) in out (LOG_OUT_MAX
 * bytes). Call with the lock held (reads the secrets). */
static void
redact(const struct log *l, const char *raw, size_t n, unsigned flags, size_t out_max, char *out)
{
	unsigned char mask[LOG_RAW_MAX];

	if (l->secrets_lost) {
		util_strlcpy(out, "(line withheld: a secret could not be registered, so any line "
				  "might show it)", LOG_OUT_MAX);
		return;
	}
	/* Trailing newlines (lws and MHD end their lines so) would show as "\n". */
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	memset(mask, 0, n);
	redact_mark_secrets(&l->secrets, raw, n, mask);
	/* Structure last: an apikey value shows as "<redacted>" even when it was
	 * also registered. */
	redact_mark_apikeys(raw, n, mask);
	/* Never render past raw[LOG_LINE_MAX]: only secrets that start before it
	 * are guaranteed to lie whole inside raw. */
	redact_render(raw, n, mask, LOG_LINE_MAX, out_max, flags, out);
	explicit_bzero(mask, n);
}

/* Write one file line, within the cap. Call with the lock held. */
static void
write_file(struct log *l, const char *ts, int level, const char *text)
{
	int len;

	if (!l->file || !l->file_on)
		return;
	/* "ts LEVEL: " is at most 40 bytes. */
	len = (int)strlen(ts) + (int)strlen(level_names[level]) + 3 + (int)strlen(text) + 1;
	if (l->file_max && l->file_size + (uint64_t)len + LOG_CAP_NOTE_MAX > l->file_max) {
		char note[LOG_CAP_NOTE_MAX];

		snprintf(note, sizeof(note),
			 "%s WARN: this debug log reached its cap of %llu bytes; "
			 "further lines go to the console only\n",
			 ts, (unsigned long long)l->file_max);
		fputs(note, l->file);
		fflush(l->file);
		__atomic_store_n(&l->file_on, false, __ATOMIC_RELAXED);
		if (l->console && LOG_WARN <= l->console_level) {
			if (l->hook)
				l->hook(l->hook_arg, l->console, LOG_CONSOLE_BEFORE);
			fprintf(l->console, "%sthe debug log reached its cap of %llu bytes; "
				"further lines go to the console only\n", console_tags[LOG_WARN],
				(unsigned long long)l->file_max);
			if (l->hook)
				l->hook(l->hook_arg, l->console, LOG_CONSOLE_AFTER);
			fflush(l->console);
		}
		return;
	}
	fprintf(l->file, "%s %s: %s\n", ts, level_names[level], text);
	fflush(l->file);
	l->file_size += (uint64_t)len;
}

/* Write text (redacted and escaped already: one line). Call with the lock held. */
static void
write_line(struct log *l, int level, const char *text)
{
	char ts[UTIL_TIMESTAMP_LEN];

	if (level <= l->console_level && l->console) {
		if (l->hook)
			l->hook(l->hook_arg, l->console, LOG_CONSOLE_BEFORE);
		fprintf(l->console, "%s%s\n", console_tags[level], text);
		if (l->hook)
			l->hook(l->hook_arg, l->console, LOG_CONSOLE_AFTER);
		fflush(l->console);
	}
	if (l->file && l->file_on) {
		util_format_timestamp(util_now_ms(), ts, sizeof(ts));
		write_file(l, ts, level, text);
	}
}

/* The common tail: raw[0..n) is a formatted message (n < LOG_RAW_MAX). */
static void
emit(struct log *l, int level, const char *raw, size_t n)
{
	char out[LOG_OUT_MAX];

	pthread_mutex_lock(&l->lock);
	redact(l, raw, n, REDACT_ESCAPE_CONTROL, LOG_LINE_MAX, out);
	write_line(l, level, out);
	pthread_mutex_unlock(&l->lock);
	explicit_bzero(out, sizeof(out));
}

size_t
log_redact(struct log *l, const char *text, bool json, char *out, size_t outlen)
{
	char buf[LOG_OUT_MAX];
	size_t n = strnlen(text, LOG_RAW_MAX - 1), max, r;

	if (!outlen)
		return 0;
	/* Room for "..." and the NUL, so that a cut never splits an escape. */
	max = outlen > 4 ? outlen - 4 : 0;
	if (max > LOG_LINE_MAX)
		max = LOG_LINE_MAX;
	pthread_mutex_lock(&l->lock);
	if (l->secrets_lost)
		util_strlcpy(buf, "(withheld)", sizeof(buf));
	else
		redact(l, text, n, json ? 0 : REDACT_ESCAPE_CONTROL, max, buf);
	pthread_mutex_unlock(&l->lock);
	r = util_strlcpy(out, buf, outlen);
	explicit_bzero(buf, sizeof(buf));
	return r < outlen ? r : outlen - 1;
}

/* Format fmt after a fixed prefix into raw (LOG_RAW_MAX bytes); returns the
 * length kept. */
static size_t __attribute__((format(printf, 3, 0)))
format_raw(char *raw, const char *prefix, const char *fmt, va_list ap)
{
	size_t plen = strlen(prefix);
	int r;

	memcpy(raw, prefix, plen);
	r = vsnprintf(raw + plen, LOG_RAW_MAX - plen, fmt, ap);
	if (r < 0) {
		/* Only an invalid format can fail; say so rather than drop the line. */
		return plen + util_strlcpy(raw + plen, "(unformattable log message)",
					   LOG_RAW_MAX - plen);
	}
	return plen + ((size_t)r < LOG_RAW_MAX - plen ? (size_t)r : LOG_RAW_MAX - plen - 1);
}

void
log_vprintf(struct log *l, int level, const char *fmt, va_list ap)
{
	char raw[LOG_RAW_MAX];
	size_t n;

	level = clamp_level(level);
	if (!log_enabled(l, level))
		return;
	n = format_raw(raw, "", fmt, ap);
	emit(l, level, raw, n);
	explicit_bzero(raw, sizeof(raw));
}

void
log_printf(struct log *l, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vprintf(l, level, fmt, ap);
	va_end(ap);
}

/* lws 4.1 passes bare lines to a custom emit function, but its own stderr
 * emitter (and later lws versions) put "[2024/01/31 12:34:56:1234] E: " first.
 * Skip such a prefix if present; it duplicates our timestamp. */
static const char *
skip_lws_timestamp(const char *line)
{
	const char *p = line;

	if (*p != '[')
		return line;
	for (p++; *p && *p != ']'; p++)
		if (!strchr("0123456789/: .", *p))
			return line;
	if (p[0] != ']' || p[1] != ' ')
		return line;
	p += 2;
	if (p[0] >= 'A' && p[0] <= 'Z' && p[1] == ':' && p[2] == ' ')
		p += 3;
	return p;
}

static void
lws_emit(int lws_level, const char *line)
{
	char raw[LOG_RAW_MAX];
	int level;

	if (!lws_log_target)
		return;
	if (lws_level & LLL_ERR)
		level = LOG_ERR;
	else if (lws_level & LLL_WARN)
		level = LOG_WARN;
	else if (lws_level & LLL_USER)
		level = LOG_INFO;
	else
		level = LOG_DEBUG;
	if (!log_enabled(lws_log_target, level))
		return;
	snprintf(raw, sizeof(raw), "lws: %s", skip_lws_timestamp(line));
	emit(lws_log_target, level, raw, strlen(raw));
}

void
log_route_lws(struct log *l)
{
	int levels = LLL_ERR | LLL_WARN | LLL_USER;

	/* NOTICE and INFO are noisy under mbedTLS (a NOTICE per EAGAIN, see
	 * STACK-NOTES.md): only with -vv. */
	if (l->console_level >= LOG_DEBUG)
		levels |= LLL_NOTICE | LLL_INFO;
	lws_log_target = l;
	lws_set_log_level(levels, lws_emit);
}

void
log_mhd(void *cls, const char *fmt, va_list ap)
{
	struct log *l = cls;
	char raw[LOG_RAW_MAX];
	size_t n;
	int level;

	n = format_raw(raw, "mhd: ", fmt, ap);
	/* A peer that hangs up mid-request is the device's business (and shows
	 * in the download progress), not a server problem. */
	level = strstr(raw, "by remote") ? LOG_INFO : LOG_WARN;
	if (!log_enabled(l, level)) {
		explicit_bzero(raw, sizeof(raw));
		return;
	}
	emit(l, level, raw, n);
	explicit_bzero(raw, sizeof(raw));
}

void
log_set_file_max(struct log *l, uint64_t bytes)
{
	pthread_mutex_lock(&l->lock);
	l->file_max = bytes;
	pthread_mutex_unlock(&l->lock);
}

bool
log_peer_allow_at(struct log *l, const char *peer, uint64_t mono_ms)
{
	unsigned long suppressed = 0;
	bool allow;

	pthread_mutex_lock(&l->lock);
	allow = ratelimit_peer_take(&l->peers, peer, mono_ms, &suppressed);
	pthread_mutex_unlock(&l->lock);
	if (allow && suppressed)
		log_warn(l, "\u2026 %lu lines from %s suppressed", suppressed, peer ? peer : "?");
	return allow;
}

bool
log_peer_allow(struct log *l, const char *peer)
{
	return log_peer_allow_at(l, peer, util_mono_ms());
}

void
log_set_console_hook(struct log *l, log_console_hook_fn fn, void *arg)
{
	pthread_mutex_lock(&l->lock);
	l->hook = fn;
	l->hook_arg = arg;
	pthread_mutex_unlock(&l->lock);
}

void
log_console_write(struct log *l, log_console_fn fn, void *arg)
{
	pthread_mutex_lock(&l->lock);
	if (l->console)
		fn(arg, l->console);
	pthread_mutex_unlock(&l->lock);
}

/* Say what the rate limit hid and was not reported yet: the log must not end
 * pretending nothing was suppressed. */
static void
report_suppressed(struct log *l)
{
	for (size_t i = 0; i < LOG_PEERS_MAX; i++) {
		const struct ratelimit_peer *p = &l->peer_slots[i];

		if (p->key[0] && p->suppressed)
			log_warn(l, "\u2026 %lu lines from %s suppressed", p->suppressed, p->key);
	}
	if (l->peers.evicted_suppressed)
		log_warn(l, "\u2026 %lu lines from peers no longer tracked suppressed",
			 l->peers.evicted_suppressed);
}

void
log_close(struct log *l)
{
	if (lws_log_target == l)
		lws_log_target = NULL;
	if (l->lock_ready)
		report_suppressed(l);
	if (l->file) {
		fclose(l->file);
		l->file = NULL;
	}
	l->file_on = false;
	redact_set_free(&l->secrets);
	l->secrets_lost = false;
	l->hook = NULL;
	if (l->lock_ready) {
		pthread_mutex_destroy(&l->lock);
		l->lock_ready = false;
	}
}

/* log: see log.h.
 *
 * Every message takes the same path: format into a buffer with LOG_SECRET_MAX
 * bytes of slack beyond LOG_LINE_MAX, mark every byte covered by an occurrence
 * of any registered secret (so overlapping or adjacent secrets collapse into one
 * "***" and no fragment of either survives), then copy at most LOG_LINE_MAX
 * bytes of the result, replacing each marked run by "***" and control bytes by
 * "?". Only then is anything written, under the mutex, to the console and the
 * debug file. Redacting before cutting matters: a secret that straddles the cut
 * would otherwise leave its first bytes in the log.
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem() */
#endif
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

static bool
have_secret(const struct log *l, const char *s)
{
	for (unsigned i = 0; i < l->nsecrets; i++)
		if (strcmp(l->secrets[i], s) == 0)
			return true;
	return false;
}

int
log_add_secret(struct log *l, const char *secret)
{
	char escaped[LOG_SECRET_MAX + 1];
	char *forms[2] = { NULL, NULL };
	unsigned nforms = 0;
	size_t elen;
	int r = 0;

	if (!secret || !*secret)
		return 0;
	elen = util_json_escape(secret, escaped, sizeof(escaped));
	if (elen > LOG_SECRET_MAX) {
		explicit_bzero(escaped, sizeof(escaped));
		return -E2BIG;
	}

	pthread_mutex_lock(&l->lock);
	if (!have_secret(l, secret)) {
		forms[nforms] = strdup(secret);
		if (!forms[nforms++])
			r = -ENOMEM;
	}
	if (r == 0 && strcmp(escaped, secret) != 0 && !have_secret(l, escaped)) {
		forms[nforms] = strdup(escaped);
		if (!forms[nforms++])
			r = -ENOMEM;
	}
	if (r == 0 && l->nsecrets + nforms > LOG_MAX_SECRETS)
		r = -ENOSPC;
	if (r == 0) {
		for (unsigned i = 0; i < nforms; i++)
			l->secrets[l->nsecrets++] = forms[i];
	} else {
		for (unsigned i = 0; i < nforms; i++)
			util_free_secret(forms[i]);
	}
	pthread_mutex_unlock(&l->lock);
	explicit_bzero(escaped, sizeof(escaped));
	return r;
}

bool
log_enabled(const struct log *l, int level)
{
	return level <= l->console_level || l->file != NULL;
}

/* Produce the redacted, cut and sanitised form of raw[0..n) in out
 * (LOG_OUT_MAX bytes). Call with the lock held (reads the secrets). */
static void
redact(const struct log *l, const char *raw, size_t n, char *out)
{
	unsigned char mask[LOG_RAW_MAX];
	size_t i = 0, o = 0;
	bool cut = false;

	memset(mask, 0, n);
	for (unsigned s = 0; s < l->nsecrets; s++) {
		size_t slen = strlen(l->secrets[s]);
		const char *p = raw;

		/* Step by one byte, not by slen: occurrences may overlap. */
		while ((p = memmem(p, n - (size_t)(p - raw), l->secrets[s], slen))) {
			memset(mask + (p - raw), 1, slen);
			p++;
		}
	}

	while (i < n) {
		if (o >= LOG_LINE_MAX || i >= LOG_LINE_MAX) {
			/* Never look past raw[LOG_LINE_MAX]: only secrets that start
			 * before it are guaranteed to lie whole inside raw. */
			cut = true;
			break;
		}
		if (mask[i]) {
			if (o + 3 > LOG_LINE_MAX) {
				cut = true;
				break;
			}
			memcpy(out + o, "***", 3);
			o += 3;
			while (i < n && mask[i])
				i++;
			continue;
		}
		unsigned char c = (unsigned char)raw[i++];
		out[o++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	/* Trailing newlines would make empty lines. */
	while (o > 0 && out[o - 1] == '\n')
		o--;
	out[o] = '\0';
}

/* Write text (redacted already) line by line. Call with the lock held. */
static void
write_lines(struct log *l, int level, const char *text)
{
	char ts[UTIL_TIMESTAMP_LEN];
	bool to_console = level <= l->console_level && l->console;
	const char *p = text;

	if (l->file)
		util_format_timestamp(util_now_ms(), ts, sizeof(ts));
	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (to_console)
			fprintf(l->console, "%s%.*s\n", console_tags[level], len, p);
		if (l->file)
			fprintf(l->file, "%s %s: %.*s\n", ts, level_names[level], len, p);
		p = nl ? nl + 1 : NULL;
	} while (p);
	if (to_console)
		fflush(l->console);
	if (l->file)
		fflush(l->file);
}

/* The common tail: raw[0..n) is a formatted message (n < LOG_RAW_MAX). */
static void
emit(struct log *l, int level, const char *raw, size_t n)
{
	char out[LOG_OUT_MAX];

	pthread_mutex_lock(&l->lock);
	redact(l, raw, n, out);
	write_lines(l, level, out);
	pthread_mutex_unlock(&l->lock);
	explicit_bzero(out, sizeof(out));
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
log_close(struct log *l)
{
	if (lws_log_target == l)
		lws_log_target = NULL;
	if (l->file) {
		fclose(l->file);
		l->file = NULL;
	}
	for (unsigned i = 0; i < l->nsecrets && i < LOG_MAX_SECRETS; i++) {
		util_free_secret(l->secrets[i]);
		l->secrets[i] = NULL;
	}
	l->nsecrets = 0;
	if (l->lock_ready) {
		pthread_mutex_destroy(&l->lock);
		l->lock_ready = false;
	}
}

/* log: the one logger. Levels, console + debug-file targets, secret redaction,
 * and the routes by which libwebsockets' and libmicrohttpd's logs enter it.
 *
 * Console lines go to stderr, filtered by level; the debug file (mode 0600,
 * default "sonota-<unix time>.log" like SonOTA's debug_<time>.log) gets every
 * level with a timestamp. Every registered secret (the WiFi password, apikeys)
 * is replaced by "***" in every line before it is written anywhere, in its raw
 * and in its JSON-escaped form.
 */
#pragma once

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

enum log_level {
	LOG_ERR = 0,
	LOG_WARN,
	LOG_NOTICE, /* default console level: what a user must see */
	LOG_INFO,   /* -v */
	LOG_DEBUG,  /* -vv; the debug file always gets this level */
	_LOG_LEVEL_MAX,
};

#define LOG_MAX_SECRETS 16  /* WiFi password + a few device/server apikeys */
#define LOG_LINE_MAX 4096   /* longer lines are cut and marked with "..." */
#define LOG_SECRET_MAX 512  /* longest secret form kept (a 64-byte password escaped for
			     * JSON is at most 128): a line is formatted with this much
			     * slack beyond LOG_LINE_MAX, so a secret that straddles the
			     * cut is still seen whole and redacted */

struct log {
	int console_level;               /* lines above this level skip the console */
	FILE *console;                   /* stderr unless a test redirects it */
	FILE *file;                      /* debug file, NULL when disabled */
	char *secrets[LOG_MAX_SECRETS];  /* owned copies, raw and JSON-escaped forms */
	unsigned nsecrets;               /* used entries of secrets[] */
	pthread_mutex_t lock;            /* one line at a time: MHD logs from its own thread */
	bool lock_ready;                 /* lock initialised by log_open() */
};

/* Open the logger. path == NULL: no debug file. The file is created with mode
 * 0600 (O_CREAT|O_EXCL|O_NOFOLLOW would refuse an existing one: it is appended
 * to instead, after checking it is a regular file owned by us, and its mode is
 * tightened to 0600). A symlink gives -ELOOP, a non-regular file -EINVAL, a file
 * of another owner -EPERM. Returns 0 or -errno; on failure the console target
 * works all the same (so the error can be logged) and log_close() is still due. */
int log_open(struct log *l, const char *path, int console_level);

/* Fill buf with the default debug file name "sonota-<unix time>.log". */
void log_default_path(char *buf, size_t len);

/* Register a secret to redact from now on; empty strings and repeats are
 * ignored. Takes one slot, two when the JSON-escaped form differs. Returns 0,
 * -ENOSPC when the table is full or -E2BIG when the escaped form is longer than
 * LOG_SECRET_MAX (the caller must then not log that value). */
int log_add_secret(struct log *l, const char *secret);

/* Write one message. Console: "error: ", "warning: " and "debug: " tags, NOTICE
 * and INFO bare. File: "YYYY-MM-DD HH:MM:SS.mmm LEVEL: msg" (local time). Secrets
 * are replaced by "***", control bytes other than tab by "?", trailing newlines
 * dropped; a message with inner newlines becomes several lines with the same
 * prefix. Needs log_open() first. */
void log_printf(struct log *l, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vprintf(struct log *l, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Is a message at this level written anywhere? Check before costly formatting. */
bool log_enabled(const struct log *l, int level);

/* Route lws' log into l (ERR|WARN|USER, more with -vv). lws' emit callback has
 * no user pointer, so this keeps the one file-static pointer of the program.
 * Levels: lws ERR -> LOG_ERR, WARN -> LOG_WARN, USER -> LOG_INFO, the rest
 * LOG_DEBUG; lines are prefixed "lws: ". After log_close(l) lws lines are dropped,
 * so close the log after lws_context_destroy(). */
void log_route_lws(struct log *l);

/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER callback; cls is a struct log *.
 * Lines are prefixed "mhd: "; those about the remote peer ("closed by remote
 * peer/side") are LOG_INFO, everything else LOG_WARN. */
void log_mhd(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Flush and close the file, free the secrets. Safe on a zeroed struct. */
void log_close(struct log *l);

#define log_err(l, ...) log_printf((l), LOG_ERR, __VA_ARGS__)
#define log_warn(l, ...) log_printf((l), LOG_WARN, __VA_ARGS__)
#define log_notice(l, ...) log_printf((l), LOG_NOTICE, __VA_ARGS__)
#define log_info(l, ...) log_printf((l), LOG_INFO, __VA_ARGS__)
#define log_debug(l, ...) log_printf((l), LOG_DEBUG, __VA_ARGS__)

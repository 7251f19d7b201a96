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

struct log {
	int console_level;               /* lines above this level skip the console */
	FILE *console;                   /* stderr unless a test redirects it */
	FILE *file;                      /* debug file, NULL when disabled */
	char *secrets[LOG_MAX_SECRETS];  /* owned copies, raw and JSON-escaped forms */
	unsigned nsecrets;               /* used entries of secrets[] */
};

/* Open the logger. path == NULL: no debug file. The file is created with mode
 * 0600 (O_CREAT|O_EXCL|O_NOFOLLOW would refuse an existing one: it is appended
 * to instead, after checking it is a regular file owned by us). Returns 0 or
 * -errno. */
int log_open(struct log *l, const char *path, int console_level);

/* Fill buf with the default debug file name "sonota-<unix time>.log". */
void log_default_path(char *buf, size_t len);

/* Register a secret to redact from now on; empty strings are ignored. Returns 0,
 * or -ENOSPC when the table is full (the caller must then not log that value). */
int log_add_secret(struct log *l, const char *secret);

void log_printf(struct log *l, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vprintf(struct log *l, int level, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Is a message at this level written anywhere? Check before costly formatting. */
bool log_enabled(const struct log *l, int level);

/* Route lws' log into l (ERR|WARN|USER, more with -vv). lws' emit callback has
 * no user pointer, so this keeps the one file-static pointer of the program. */
void log_route_lws(struct log *l);

/* libmicrohttpd's MHD_OPTION_EXTERNAL_LOGGER callback; cls is a struct log *. */
void log_mhd(void *cls, const char *fmt, va_list ap);

/* Flush and close the file, free the secrets. Safe on a zeroed struct. */
void log_close(struct log *l);

#define log_err(l, ...) log_printf((l), LOG_ERR, __VA_ARGS__)
#define log_warn(l, ...) log_printf((l), LOG_WARN, __VA_ARGS__)
#define log_notice(l, ...) log_printf((l), LOG_NOTICE, __VA_ARGS__)
#define log_info(l, ...) log_printf((l), LOG_INFO, __VA_ARGS__)
#define log_debug(l, ...) log_printf((l), LOG_DEBUG, __VA_ARGS__)

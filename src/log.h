/* log: the one logger. Levels, console + debug-file targets, secret redaction,
 * per-peer rate limits, and the routes by which libwebsockets' and
 * libmicrohttpd's logs enter it.
 *
 * Console lines go to stderr, filtered by level; the debug file (mode 0600,
 * default "sonota-<unix time>.log" like SonOTA's debug_<time>.log) gets every
 * level with a timestamp, up to its size cap (LOG_FILE_MAX_DEFAULT).
 *
 * What no line ever shows, whatever its route (console, file, ui's progress bar
 * and --json through log_redact()):
 *  - the value of any "apikey" JSON member, found by structure (raw or escaped
 *    for JSON at any depth, any number of devices): "apikey":"<redacted>";
 *  - a registered secret (the WiFi password; anything log_add_secret() took),
 *    raw or JSON-escaped: "***". If a secret could not be registered, every
 *    later line is withheld rather than risk showing it;
 *  - a raw control byte: every byte < 0x20 or 0x7f is escaped as \n \r \t or
 *    \xNN, invalid UTF-8 as \xNN, C1 controls and U+2028/9 as their \xNN
 *    bytes. One call writes exactly one line, so no client byte can start a
 *    line of its own. (Nothing of ours logs multi-line text: a message that
 *    needs several lines is several calls.)
 */
#pragma once

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ratelimit.h"
#include "redact.h"

enum log_level {
	LOG_ERR = 0,
	LOG_WARN,
	LOG_NOTICE, /* default console level: what a user must see */
	LOG_INFO,   /* -v */
	LOG_DEBUG,  /* -vv; the debug file always gets this level */
	_LOG_LEVEL_MAX,
};

#define LOG_LINE_MAX 4096   /* longer lines are cut and marked with "..." */
#define LOG_SECRET_MAX REDACT_SECRET_LEN_MAX /* longest secret form kept: a line is
			     * formatted with this much slack beyond LOG_LINE_MAX, so a
			     * secret that straddles the cut is still seen whole */
#define LOG_FILE_MAX_DEFAULT (64ull << 20) /* debug file cap: 64 MiB holds hours of -vv
			     * at 200 devices, and stops a client that floods it */

/* Per-peer budget of client-driven lines (log_peer_allow). A device logs a few
 * lines per connection and download; a burst of 100 covers a whole stage 2 of
 * several devices behind one NAT address, 10 per second after that bounds a
 * flood to about 2 KB/s per peer. */
#define LOG_PEER_BURST 100  /* lines a peer may log at once */
#define LOG_PEER_RATE 10    /* lines per second refilled */
#define LOG_PEERS_MAX 256   /* peers tracked; a new one reuses the slot seen longest ago */

/* When the console gets a line: ui.c erases its progress bar before it and
 * draws it again after (see log_set_console_hook). */
enum log_console_phase {
	LOG_CONSOLE_BEFORE, /* a line is about to be written */
	LOG_CONSOLE_AFTER,  /* it was written, with its newline */
};
typedef void (*log_console_hook_fn)(void *arg, FILE *console, enum log_console_phase phase);
typedef void (*log_console_fn)(void *arg, FILE *console);

struct log {
	int console_level;               /* lines above this level skip the console */
	FILE *console;                   /* stderr unless a test redirects it */
	FILE *file;                      /* debug file, NULL when disabled */
	bool file_on;                    /* file takes lines (false once it reached file_max) */
	uint64_t file_size;              /* bytes in the file (from its size at open) */
	uint64_t file_max;               /* cap on file_size, 0 = none */
	struct redact_set secrets;       /* registered secrets, raw and JSON-escaped forms */
	bool secrets_lost;               /* a secret could not be registered: withhold lines */
	log_console_hook_fn hook;        /* ui's console hook, or NULL */
	void *hook_arg;
	struct ratelimit_peers peers;    /* per-peer budgets over peer_slots */
	struct ratelimit_peer peer_slots[LOG_PEERS_MAX];
	pthread_mutex_t lock;            /* one line at a time: MHD logs from its own thread;
					  * also guards secrets, peers, hook and file state */
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

/* Register a secret to redact from now on, in its raw, JSON-escaped and
 * twice-JSON-escaped forms (the last only when it fits LOG_SECRET_MAX); empty
 * strings and repeats are ignored. There is no small table to overflow: up to
 * REDACT_SECRETS_MAX forms. Returns 0; -E2BIG when the escaped form is longer
 * than LOG_SECRET_MAX (the caller must then not log that value); -ENOSPC or
 * -ENOMEM when it cannot be kept, and then every later line is withheld
 * ("(line withheld ...)") rather than risk showing the secret. Thread-safe. */
int log_add_secret(struct log *l, const char *secret);

/* Write one message as one line. Console: "error: ", "warning: " and "debug: "
 * tags, NOTICE and INFO bare. File: "YYYY-MM-DD HH:MM:SS.mmm LEVEL: msg" (local
 * time). Redacted and escaped as the header says; trailing newlines dropped.
 * Needs log_open() first. Thread-safe. */
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

/* Cap the debug file at bytes (0: no cap; default LOG_FILE_MAX_DEFAULT,
 * counting what the file held when opened). The line that would pass the cap is
 * replaced by one saying the file reached it (also a console warning); the file
 * takes no further line (log_enabled() stops counting it) and lines go to the
 * console only. The file never passes the cap when it is at least 160 bytes. */
void log_set_file_max(struct log *l, uint64_t bytes);

/* Rate-limit client-driven lines (one per frame, per TLS abort, access lines):
 *	if (log_peer_allow(log, peer)) log_info(log, ...);
 * True while peer (an address, without port: a client must not get a fresh
 * budget per connection) is within LOG_PEER_BURST lines refilled at
 * LOG_PEER_RATE per second, in a table of LOG_PEERS_MAX peers (a new peer
 * reuses the slot seen longest ago). When lines of that peer were refused, the
 * allowed call first logs the warning "\u2026 N lines from <peer> suppressed";
 * counts still unreported are logged by log_close(). Thread-safe (the MHD
 * thread may call it). log_peer_allow_at() takes the monotonic time in ms. */
bool log_peer_allow(struct log *l, const char *peer);
bool log_peer_allow_at(struct log *l, const char *peer, uint64_t mono_ms);

/* Register the console hook (NULL: none), called under the logger's lock with
 * BEFORE and AFTER around every console line, from whichever thread logs. It
 * must only write to console, never log. ui.c keeps its progress bar with it. */
void log_set_console_hook(struct log *l, log_console_hook_fn fn, void *arg);

/* Run fn(arg, console) under the logger's lock, so that what it writes (a
 * progress bar) never lands inside a line of another thread. Not with a NULL
 * console. fn must not log. */
void log_console_write(struct log *l, log_console_fn fn, void *arg);

/* Redact text for an output that is not a log line: ui's progress bar (json =
 * false: escaped as log lines are) or a --json string value (json = true: only
 * invalid UTF-8 is escaped, as "\xNN" text; cJSON escapes the rest). Masks as
 * log lines do; withheld text becomes "(withheld)". Cut like a log line, to at
 * most outlen - 1 bytes. Returns strlen(out). Thread-safe; not from a hook. */
size_t log_redact(struct log *l, const char *text, bool json, char *out, size_t outlen);

/* Report unreported suppressed counts, flush and close the file, free the
 * secrets. Safe on a zeroed struct. */
void log_close(struct log *l);

#define log_err(l, ...) log_printf((l), LOG_ERR, __VA_ARGS__)
#define log_warn(l, ...) log_printf((l), LOG_WARN, __VA_ARGS__)
#define log_notice(l, ...) log_printf((l), LOG_NOTICE, __VA_ARGS__)
#define log_info(l, ...) log_printf((l), LOG_INFO, __VA_ARGS__)
#define log_debug(l, ...) log_printf((l), LOG_DEBUG, __VA_ARGS__)

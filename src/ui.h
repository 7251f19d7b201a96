/* ui: what the user sees. Instructions for each waiting stage, the transition
 * narration, per-transfer progress (a bar on a terminal, plain lines otherwise)
 * and, with --json, one JSON event per line on stdout for scripts.
 *
 * Everything also goes through the logger, so the debug file has the full story,
 * and through its redaction: the progress bar and every --json string value are
 * masked (apikey values, registered secrets) as log lines are; the bar is
 * escaped as log lines are, JSON values are escaped by cJSON (invalid UTF-8
 * first becomes "\xNN" text, so every line is valid JSON in UTF-8).
 *
 * The bar and the logger share the console through the logger's console hook:
 * every console line, from any thread, first erases an active bar and the bar
 * is drawn again after it, all under the logger's lock, so a bar and a line
 * never share a terminal line.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define UI_BAR_WIDTH 30      /* characters of a progress bar */
#define UI_PROGRESS_STEP 25  /* percent between plain progress lines (no terminal) */
#define UI_TRANSFERS_MAX 8   /* transfers shown at once */
#define UI_KEY_MAX 96        /* "who file" identity of a transfer */
#define UI_BAR_LINE_MAX 512  /* a drawn bar: "\r\033[K  <key> [<bar>] pct% sent/total bytes",
			      * its key escaped (4 bytes a byte at most) */
#define UI_KEY_COLS_MIN 8    /* columns the key keeps on a narrow terminal */
#define UI_BAR_STALE_MS 10000 /* a bar not updated for this long (a download that
			       * stopped without ending) is not redrawn after a line */

struct ui_transfer {
	char key[UI_KEY_MAX];   /* "<who> <file>", "" = free slot */
	uint64_t sent, total;
	unsigned last_step;     /* last UI_PROGRESS_STEP printed */
};

struct ui {
	struct log *log;        /* borrowed */
	FILE *json;             /* stdout with --json, else NULL */
	bool tty;               /* stderr is a terminal: draw progress bars in place */
	bool bar_drawn;         /* the last console line is a bar (under the log's lock) */
	char bar[UI_BAR_LINE_MAX]; /* the bar as drawn, to redraw after a line (same lock) */
	uint64_t bar_ms;        /* monotonic time the bar was last drawn (same lock) */
	struct ui_transfer transfers[UI_TRANSFERS_MAX];
};

/* Set up u and register its console hook with log (u must stay put until
 * ui_fini). */
void ui_init(struct ui *u, struct log *log, bool json);

/* Erase an active bar and unregister the console hook; call before u goes away
 * or before the log is closed. Safe on a zeroed struct and twice. */
void ui_fini(struct ui *u);

/* A user instruction or status line (NOTICE). With --json also
 * {"event":"say","text":...}. */
void ui_say(struct ui *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "stage: old → event → new" (NOTICE), and {"event":"transition",...}. */
void ui_transition(struct ui *u, const char *old, const char *ev, const char *now);

/* Progress of one transfer; who is a device id or a peer address. A bar on a
 * terminal; otherwise a line every UI_PROGRESS_STEP percent; JSON on every call
 * that changes the percentage. sent == total ends the transfer. */
void ui_progress(struct ui *u, const char *who, const char *file, uint64_t sent, uint64_t total);

/* A JSON event with string fields: ui_json(u, "device", "deviceid", id, "model", m, NULL).
 * Keys and values alternate, NULL-terminated. Nothing without --json. */
void ui_json(struct ui *u, const char *event, ...) __attribute__((sentinel));

/* A JSON event with one integer field besides strings (e.g. "exit", "code", 0). */
void ui_json_int(struct ui *u, const char *event, const char *key, long long value);

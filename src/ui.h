/* ui: what the user sees. Instructions for each waiting stage, the transition
 * narration, per-transfer progress (a bar on a terminal, plain lines otherwise)
 * and, with --json, one JSON event per line on stdout for scripts.
 *
 * Everything also goes through the logger, so the debug file has the full story.
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

struct ui_transfer {
	char key[UI_KEY_MAX];   /* "<who> <file>", "" = free slot */
	uint64_t sent, total;
	unsigned last_step;     /* last UI_PROGRESS_STEP printed */
};

struct ui {
	struct log *log;        /* borrowed */
	FILE *json;             /* stdout with --json, else NULL */
	bool tty;               /* stderr is a terminal: draw progress bars in place */
	bool bar_drawn;         /* the last console line is a bar (to be overwritten) */
	struct ui_transfer transfers[UI_TRANSFERS_MAX];
};

void ui_init(struct ui *u, struct log *log, bool json);

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

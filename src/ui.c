/* ui: see ui.h. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ui.h"
#include "util.h"

#define UI_ERASE "\r\033[K" /* back to column 0, erase to the end of the line */

/* The logger's console hook: runs under its lock around every console line. */
static void
console_hook(void *arg, FILE *console, enum log_console_phase phase)
{
	struct ui *u = arg;

	if (!u->bar_drawn)
		return;
	if (phase == LOG_CONSOLE_BEFORE) {
		fputs(UI_ERASE, console);
		return;
	}
	/* A stalled transfer's bar would otherwise sit under every line. */
	if (util_mono_ms() - u->bar_ms > UI_BAR_STALE_MS) {
		u->bar_drawn = false;
		return;
	}
	fputs(u->bar, console);
}

void
ui_init(struct ui *u, struct log *log, bool json)
{
	memset(u, 0, sizeof(*u));
	u->log = log;
	u->json = json ? stdout : NULL;
	u->tty = log && log->console && isatty(fileno(log->console));
	if (log)
		log_set_console_hook(log, console_hook, u);
}

/* Under the log's lock: erase the bar for good (a transfer ended). */
static void
bar_erase(void *arg, FILE *console)
{
	struct ui *u = arg;

	if (u->bar_drawn) {
		fputs(UI_ERASE, console);
		fflush(console);
		u->bar_drawn = false;
	}
}

void
ui_fini(struct ui *u)
{
	if (!u->log)
		return;
	if (u->log->console)
		log_console_write(u->log, bar_erase, u);
	log_set_console_hook(u->log, NULL, NULL);
	u->log = NULL;
}

struct bar_draw {
	struct ui *u;
	const char *text; /* the new bar, UI_ERASE first */
};

/* Under the log's lock: draw a new bar (and keep it for redraws). */
static void
bar_draw(void *arg, FILE *console)
{
	const struct bar_draw *d = arg;

	util_strlcpy(d->u->bar, d->text, sizeof(d->u->bar));
	fputs(d->u->bar, console);
	fflush(console);
	d->u->bar_drawn = true;
	d->u->bar_ms = util_mono_ms();
}

/* Add a string member whose value went through the log's redaction (apikey
 * values, secrets, invalid UTF-8); cJSON escapes quotes and controls. */
static void
add_str(struct ui *u, cJSON *o, const char *key, const char *value)
{
	char safe[LOG_LINE_MAX + 4];

	if (!value)
		value = "";
	if (u->log)
		log_redact(u->log, value, true, safe, sizeof(safe));
	else
		util_strlcpy(safe, "(withheld: no log)", sizeof(safe));
	cJSON_AddStringToObject(o, key, safe);
}

static void
json_emit(struct ui *u, cJSON *o)
{
	if (!u->json || !o)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	cJSON_AddNumberToObject(o, "time", (double)ts.tv_sec + ts.tv_nsec / 1e9);
	char *s = cJSON_PrintUnformatted(o);
	if (s) {
		fprintf(u->json, "%s\n", s);
		fflush(u->json);
		free(s);
	}
}

void
ui_say(struct ui *u, const char *fmt, ...)
{
	/* The log's slack too: a secret that straddles LOG_LINE_MAX is seen whole. */
	char line[LOG_LINE_MAX + LOG_SECRET_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_notice(u->log, "%s", line);
	if (u->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "say");
		add_str(u, o, "text", line);
		json_emit(u, o);
		cJSON_Delete(o);
	}
}

void
ui_transition(struct ui *u, const char *old, const char *ev, const char *now)
{
	/* One that stays in its stage changes nothing the user must see (-v shows it). */
	log_printf(u->log, strcmp(old, now) ? LOG_NOTICE : LOG_INFO,
		   "stage: %s \u2192 %s \u2192 %s", old, ev, now);
	if (u->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "transition");
		add_str(u, o, "from", old);
		add_str(u, o, "on", ev);
		add_str(u, o, "to", now);
		json_emit(u, o);
		cJSON_Delete(o);
	}
}

static struct ui_transfer *
transfer_slot(struct ui *u, const char *key)
{
	struct ui_transfer *free_slot = NULL, *oldest = &u->transfers[0];
	for (unsigned i = 0; i < UI_TRANSFERS_MAX; i++) {
		struct ui_transfer *t = &u->transfers[i];
		if (t->key[0] && strcmp(t->key, key) == 0)
			return t;
		if (!t->key[0] && !free_slot)
			free_slot = t;
	}
	struct ui_transfer *t = free_slot ? free_slot : oldest;
	memset(t, 0, sizeof(*t));
	snprintf(t->key, sizeof(t->key), "%s", key);
	return t;
}

/* Columns of the terminal behind f; 80 when unknown. */
static size_t
term_cols(FILE *f)
{
	struct winsize ws;
	int fd = fileno(f);

	if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* Cut UTF-8 text s to at most cols characters (one column each: the text is
 * escaped, so it holds no controls). */
static void
cut_cols(char *s, size_t cols)
{
	size_t chars = 0;

	for (char *p = s; *p; p++) {
		if (((unsigned char)*p & 0xc0) == 0x80)
			continue;
		if (chars++ == cols) {
			*p = '\0';
			return;
		}
	}
}

void
ui_progress(struct ui *u, const char *who, const char *file, uint64_t sent, uint64_t total)
{
	char key[UI_KEY_MAX];
	snprintf(key, sizeof(key), "%s %s", who, file);
	struct ui_transfer *t = transfer_slot(u, key);
	unsigned pct = total ? (unsigned)(sent * 100 / total) : 100;
	unsigned old_pct = t->total ? (unsigned)(t->sent * 100 / t->total) : 0;
	bool changed = pct != old_pct || t->sent == 0;
	t->sent = sent;
	t->total = total;

	if (u->tty && u->log && u->log->console && u->log->console_level >= LOG_NOTICE) {
		char bar[UI_BAR_WIDTH + 1], safe[UI_KEY_MAX * 4], tail[UI_BAR_WIDTH + 64];
		char text[UI_BAR_LINE_MAX];
		unsigned fill = pct * UI_BAR_WIDTH / 100;
		for (unsigned i = 0; i < UI_BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[UI_BAR_WIDTH] = '\0';
		snprintf(tail, sizeof(tail), " [%s] %3u%% %llu/%llu bytes", bar, pct,
			 (unsigned long long)sent, (unsigned long long)total);
		/* who and file come from clients: escaped and masked like a log line,
		 * then cut so that the bar never wraps (erasing it erases one row). */
		log_redact(u->log, key, false, safe, sizeof(safe));
		size_t cols = term_cols(u->log->console), fixed = 2 + strlen(tail) + 1;
		cut_cols(safe, cols > fixed + UI_KEY_COLS_MIN ? cols - fixed : UI_KEY_COLS_MIN);
		snprintf(text, sizeof(text), UI_ERASE "  %s%s", safe, tail);
		struct bar_draw d = { .u = u, .text = text };
		log_console_write(u->log, bar_draw, &d);
		/* The debug file still gets the milestones. */
		if (pct / UI_PROGRESS_STEP != t->last_step) {
			t->last_step = pct / UI_PROGRESS_STEP;
			log_printf(u->log, LOG_DEBUG, "progress: %s %u%%", key, pct);
		}
	} else if (pct / UI_PROGRESS_STEP != t->last_step || (sent == total && changed)) {
		t->last_step = pct / UI_PROGRESS_STEP;
		log_notice(u->log, "progress: %s %u%% (%llu/%llu bytes)", key, pct,
			   (unsigned long long)sent, (unsigned long long)total);
	}
	if (u->json && changed) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "progress");
		add_str(u, o, "who", who);
		add_str(u, o, "file", file);
		cJSON_AddNumberToObject(o, "sent", (double)sent);
		cJSON_AddNumberToObject(o, "total", (double)total);
		json_emit(u, o);
		cJSON_Delete(o);
	}
	if (sent >= total) {
		if (u->log && u->log->console)
			log_console_write(u->log, bar_erase, u);
		t->key[0] = '\0';
	}
}

void
ui_json(struct ui *u, const char *event, ...)
{
	if (!u->json)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	va_list ap;
	va_start(ap, event);
	const char *k;
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);
		add_str(u, o, k, v);
	}
	va_end(ap);
	json_emit(u, o);
	cJSON_Delete(o);
}

void
ui_json_int(struct ui *u, const char *event, const char *key, long long value)
{
	if (!u->json)
		return;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "event", event);
	cJSON_AddNumberToObject(o, key, (double)value);
	json_emit(u, o);
	cJSON_Delete(o);
}

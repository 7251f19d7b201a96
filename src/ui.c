/* ui: see ui.h. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ui.h"

void
ui_init(struct ui *u, struct log *log, bool json)
{
	memset(u, 0, sizeof(*u));
	u->log = log;
	u->json = json ? stdout : NULL;
	u->tty = log && log->console && isatty(fileno(log->console));
}

static void
bar_clear(struct ui *u)
{
	if (u->tty && u->bar_drawn && u->log && u->log->console) {
		fputs("\r\033[K", u->log->console);
		u->bar_drawn = false;
	}
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
	char line[LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	bar_clear(u);
	log_notice(u->log, "%s", line);
	if (u->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "say");
		cJSON_AddStringToObject(o, "text", line);
		json_emit(u, o);
		cJSON_Delete(o);
	}
}

void
ui_transition(struct ui *u, const char *old, const char *ev, const char *now)
{
	bar_clear(u);
	/* One that stays in its stage changes nothing the user must see (-v shows it). */
	log_printf(u->log, strcmp(old, now) ? LOG_NOTICE : LOG_INFO,
		   "stage: %s \u2192 %s \u2192 %s", old, ev, now);
	if (u->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "event", "transition");
		cJSON_AddStringToObject(o, "from", old);
		cJSON_AddStringToObject(o, "on", ev);
		cJSON_AddStringToObject(o, "to", now);
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
		char bar[UI_BAR_WIDTH + 1];
		unsigned fill = pct * UI_BAR_WIDTH / 100;
		for (unsigned i = 0; i < UI_BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[UI_BAR_WIDTH] = '\0';
		fprintf(u->log->console, "\r\033[K  %s [%s] %3u%% %llu/%llu bytes", key, bar, pct,
			(unsigned long long)sent, (unsigned long long)total);
		fflush(u->log->console);
		u->bar_drawn = true;
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
		cJSON_AddStringToObject(o, "who", who);
		cJSON_AddStringToObject(o, "file", file);
		cJSON_AddNumberToObject(o, "sent", (double)sent);
		cJSON_AddNumberToObject(o, "total", (double)total);
		json_emit(u, o);
		cJSON_Delete(o);
	}
	if (sent >= total) {
		bar_clear(u);
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
		cJSON_AddStringToObject(o, k, v ? v : "");
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

/* diypick: see diypick.h. Pure. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diypick.h"
#include "util.h"

void
diypick_init(struct diypick *p, const char *want_id)
{
	memset(p, 0, sizeof(*p));
	util_strlcpy(p->want_id, want_id ? want_id : "", sizeof(p->want_id));
}

bool
diypick_same_id(const char *a, const char *b)
{
	return a && b && a[0] && strcasecmp(a, b) == 0;
}

static int
find(const struct diypick *p, const char *id)
{
	for (unsigned i = 0; i < p->n; i++)
		if (diypick_same_id(p->dev[i].id, id))
			return (int)i;
	return -1;
}

bool
diypick_found(struct diypick *p, const struct dnssd_device *d, const char *addr,
	      uint64_t now_ms)
{
	int i;

	if (d->mode != DNSSD_MODE_DIY || !d->id[0] || !addr || !addr[0])
		return false;
	if (p->want_id[0] && !diypick_same_id(d->id, p->want_id))
		return false;
	i = find(p, d->id);
	if (i < 0) {
		if (p->n == DIYPICK_MAX) {
			p->full = true;
			return true;
		}
		if (p->n == 0)
			p->first_ms = now_ms;
		i = (int)p->n++;
	}
	util_strlcpy(p->dev[i].id, d->id, sizeof(p->dev[i].id));
	util_strlcpy(p->dev[i].addr, addr, sizeof(p->dev[i].addr));
	util_strlcpy(p->dev[i].type, d->type, sizeof(p->dev[i].type));
	p->dev[i].multi_channel = d->multi_channel;
	return true;
}

void
diypick_removed(struct diypick *p, const char *id)
{
	int i = find(p, id);

	if (i < 0)
		return;
	memmove(&p->dev[i], &p->dev[i + 1], (p->n - (unsigned)i - 1) * sizeof(p->dev[0]));
	p->n--;
}

void
diypick_all_for_now(struct diypick *p, uint64_t now_ms)
{
	if (p->all_for_now)
		return;
	p->all_for_now = true;
	p->afn_ms = now_ms;
}

enum diypick_verdict
diypick_decide(const struct diypick *p, uint64_t now_ms, unsigned *which, uint64_t *wake_ms)
{
	uint64_t at;

	*wake_ms = 0;
	if (p->n == 0 && !p->full)
		return DIYPICK_WAIT;
	if (p->want_id[0]) { /* the device named: no need to wait for others */
		*which = 0;
		return p->n ? DIYPICK_TAKE : DIYPICK_WAIT;
	}
	at = p->first_ms + DIYPICK_WAIT_MAX_MS;
	if (p->all_for_now) {
		uint64_t settled = (p->afn_ms > p->first_ms ? p->afn_ms : p->first_ms) +
				   DIYPICK_SETTLE_MS;

		at = settled < at ? settled : at;
	}
	if (now_ms < at) {
		*wake_ms = at;
		return DIYPICK_WAIT;
	}
	if (p->n == 1 && !p->full) {
		*which = 0;
		return DIYPICK_TAKE;
	}
	return p->n ? DIYPICK_SEVERAL : DIYPICK_WAIT;
}

static int
by_id(const void *a, const void *b)
{
	return strcasecmp(((const struct diypick_dev *)a)->id, ((const struct diypick_dev *)b)->id);
}

size_t
diypick_format(const struct diypick *p, char *buf, size_t len)
{
	struct diypick_dev s[DIYPICK_MAX];
	size_t at = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	memcpy(s, p->dev, p->n * sizeof(s[0]));
	qsort(s, p->n, sizeof(s[0]), by_id);
	for (unsigned i = 0; i < p->n && at + 1 < len; i++) {
		int w = snprintf(buf + at, len - at, "  %s  %s  %s\n", s[i].id, s[i].addr,
				 s[i].type[0] ? s[i].type : "?");

		if (w < 0)
			break;
		at += (size_t)w < len - at ? (size_t)w : len - at - 1;
	}
	if (p->full && at + 1 < len) {
		int w = snprintf(buf + at, len - at, "  (more than %d: the rest not listed)\n",
				 DIYPICK_MAX);

		if (w > 0)
			at += (size_t)w < len - at ? (size_t)w : len - at - 1;
	}
	return at;
}

size_t
diypick_scan_filter(struct diyscan *s, const char *id)
{
	size_t kept = 0, dropped = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (diypick_same_id(s->e[i].id, id)) {
			if (kept != i)
				s->e[kept] = s->e[i];
			kept++;
		} else {
			dropped++;
		}
	}
	s->n = kept;
	return dropped;
}

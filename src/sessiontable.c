/* session, the table: names, the device table and its eviction, sequences, the
 * output lists and each connection's pending acks (the helpers the dialogue in
 * session.c uses, declared in sessionint.h). See session.h for the contract. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sessionint.h"

static const char *const event_names[_SESSION_EV_MAX] = {
	[SESSION_EV_REGISTERED] = "registered",
	[SESSION_EV_UNREGISTERED] = "unregistered",
	[SESSION_EV_RELAY_TEST] = "relay-test",
	[SESSION_EV_RELAY_TEST_SKIPPED] = "relay-test-skipped",
	[SESSION_EV_RELAY_ACK] = "relay-ack",
	[SESSION_EV_UPGRADE_SENT] = "upgrade-sent",
	[SESSION_EV_UPGRADE_DONE] = "upgrade-done",
	[SESSION_EV_UPGRADE_FAILED_404] = "upgrade-failed-404",
	[SESSION_EV_UPGRADE_FAILED] = "upgrade-failed",
	[SESSION_EV_UNKNOWN_ACTION] = "unknown-action",
	[SESSION_EV_MALFORMED] = "malformed",
	[SESSION_EV_UNKNOWN_ACK] = "unknown-ack",
	[SESSION_EV_LIMIT] = "limit",
	[SESSION_EV_DEVICEID_CHANGED] = "deviceid-changed",
	[SESSION_EV_CLOSED_BEFORE_ACK] = "closed-before-ack",
	[SESSION_EV_GAVE_UP] = "gave-up",
	[SESSION_EV_EVICTED] = "evicted",
	[SESSION_EV_UPGRADE_HELD] = "upgrade-held",
};

static const char *const state_names[_SESSION_DEV_STATE_MAX] = {
	[SESSION_DEV_NEW] = "new",
	[SESSION_DEV_REGISTERED] = "registered",
	[SESSION_DEV_UPGRADE_SENT] = "upgrade-sent",
	[SESSION_DEV_INTERRUPTED] = "interrupted",
	[SESSION_DEV_UPGRADED] = "upgraded",
	[SESSION_DEV_FAILED] = "failed",
	[SESSION_DEV_GAVE_UP] = "gave-up",
};

const char *
session_event_name(enum session_event_type type)
{
	if ((unsigned)type >= _SESSION_EV_MAX)
		return "?";
	return event_names[type];
}

const char *
session_dev_state_name(enum session_dev_state state)
{
	if ((unsigned)state >= _SESSION_DEV_STATE_MAX)
		return "?";
	return state_names[state];
}

void
session_table_init(struct session_table *t)
{
	memset(t, 0, sizeof(*t));
	t->next_id = 1;
}

void
session_conn_init(struct session_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->dev = -1;
}

void
session_out_free(struct session_out *out)
{
	if (!out)
		return;
	for (unsigned i = 0; i < out->ntexts; i++)
		free(out->texts[i]);
	memset(out, 0, sizeof(*out));
}

/* Copy s into dst of size n, always terminated; s longer than n-1 is cut (only
 * used for values already bounded by proto, and for event detail text). */
void
session_copy_text(char *dst, size_t n, const char *s)
{
	size_t l = 0;

	/* A loop, not strnlen: the bound is dst's size, which gcc would compare with
	 * the (smaller, terminated) source arrays. */
	while (l < n - 1 && s[l])
		l++;
	memcpy(dst, s, l);
	dst[l] = '\0';
}

const struct session_dev *
session_find(const struct session_table *t, const char *deviceid)
{
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++)
		if (t->devs[i].used && strcmp(t->devs[i].deviceid, deviceid) == 0)
			return &t->devs[i];
	return NULL;
}

struct session_dev *
session_conn_dev(struct session_table *t, const struct session_conn *c)
{
	struct session_dev *d;

	if (c->dev < 0 || c->dev >= SESSION_MAX_DEVICES)
		return NULL;
	d = &t->devs[c->dev];
	return d->used && d->id == c->dev_id ? d : NULL;
}

const struct session_dev *
session_conn_device(const struct session_table *t, const struct session_conn *c)
{
	return session_conn_dev((struct session_table *)t, c);
}

/* The device to forget when the table is full: the least recently active one
 * without an open connection, whatever its state (session.h), the oldest on a tie;
 * NULL when every device is connected. */
static struct session_dev *
eviction_victim(struct session_table *t)
{
	struct session_dev *victim = NULL;

	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++) {
		struct session_dev *d = &t->devs[i];

		if (!d->used || d->nconns > 0)
			continue;
		if (!victim || d->last_active_ms < victim->last_active_ms ||
		    (d->last_active_ms == victim->last_active_ms && d->id < victim->id))
			victim = d;
	}
	return victim;
}

/* Find the device, or make room for it: a free slot, else the eviction victim
 * (reported as SESSION_EV_EVICTED). NULL when every slot is a connected device. */
struct session_dev *
session_dev_get(struct session_table *t, const char *deviceid, struct session_out *out)
{
	struct session_dev *d = (struct session_dev *)session_find(t, deviceid), *victim = NULL;
	struct session_event *e;

	if (d)
		return d;
	for (unsigned i = 0; i < SESSION_MAX_DEVICES && !victim; i++)
		if (!t->devs[i].used)
			victim = &t->devs[i];
	if (!victim) {
		victim = eviction_victim(t);
		if (!victim)
			return NULL;
		if ((e = session_ev_add(out, SESSION_EV_EVICTED, victim)))
			e->attempt = victim->failures;
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->id = t->next_id++;
	session_copy_text(victim->deviceid, sizeof(victim->deviceid), deviceid);
	victim->state = SESSION_DEV_NEW;
	return victim;
}

/* max(last + 1, now): unique and strictly increasing over the table, and close to
 * SonOTA's ms timestamps while the clock moves forward. */
uint64_t
session_next_seq(struct session_table *t, int64_t now_ms)
{
	uint64_t s = t->last_seq + 1;

	if (now_ms > 0 && (uint64_t)now_ms > s)
		s = (uint64_t)now_ms;
	t->last_seq = s;
	return s;
}

struct session_event *
session_ev_add(struct session_out *out, enum session_event_type type, const struct session_dev *d)
{
	struct session_event *e;

	if (out->nevents >= SESSION_OUT_EVENTS_MAX)
		return NULL;
	e = &out->events[out->nevents++];
	memset(e, 0, sizeof(*e));
	e->type = type;
	if (d) {
		session_copy_text(e->deviceid, sizeof(e->deviceid), d->deviceid);
		session_copy_text(e->model, sizeof(e->model), d->model);
		session_copy_text(e->rom_version, sizeof(e->rom_version), d->rom_version);
		e->slow = d->slow;
		e->prev_state = e->state = d->state;
	}
	return e;
}

/* Take ownership of text (NULL = OOM). */
int
session_text_add(struct session_out *out, char *text)
{
	if (!text)
		return -ENOMEM;
	if (out->ntexts >= SESSION_OUT_TEXTS_MAX) {
		free(text);
		return -ENOBUFS;
	}
	out->texts[out->ntexts++] = text;
	return 0;
}

int
session_pending_add(struct session_conn *c, uint64_t seq, enum session_ack_kind kind, bool on)
{
	if (c->npending >= SESSION_PENDING_MAX)
		return -ENOBUFS; /* cannot happen: a connection sends at most 5 commands */
	c->pending[c->npending++] = (struct session_pending){ .seq = seq, .kind = kind, .on = on };
	return 0;
}

bool
session_pending_take(struct session_conn *c, uint64_t seq, struct session_pending *ret)
{
	for (unsigned i = 0; i < c->npending; i++) {
		if (c->pending[i].seq != seq)
			continue;
		*ret = c->pending[i];
		memmove(&c->pending[i], &c->pending[i + 1],
			(c->npending - i - 1) * sizeof(c->pending[0]));
		c->npending--;
		return true;
	}
	return false;
}

int
session_set_slow(struct session_table *t, const char *deviceid)
{
	struct session_dev *d = (struct session_dev *)session_find(t, deviceid);

	if (!d)
		return -ENOENT;
	d->slow = true;
	return 0;
}

void
session_conn_close(struct session_table *t, struct session_conn *c, struct session_out *out)
{
	struct session_dev *d = session_conn_dev(t, c);

	if (d) {
		if (d->nconns)
			d->nconns--;
		for (unsigned i = 0; i < c->npending; i++) {
			const struct session_pending *p = &c->pending[i];
			struct session_event *e;

			if (p->kind != SESSION_ACK_UPGRADE ||
			    d->state != SESSION_DEV_UPGRADE_SENT || d->await_seq != p->seq)
				continue;
			d->state = SESSION_DEV_INTERRUPTED;
			if (out && (e = session_ev_add(out, SESSION_EV_CLOSED_BEFORE_ACK, d))) {
				e->prev_state = SESSION_DEV_UPGRADE_SENT;
				e->sequence = p->seq;
				e->attempt = d->upgrades_sent;
			}
		}
	}
	session_conn_init(c);
}

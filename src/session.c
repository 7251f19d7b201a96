/* session: see session.h. The dialogue mirrors PROTOCOL.md §3.3-3.6; where SonOTA
 * was wrong (§9.1) this file does it differently, and docs/protocol.md says why:
 *  - per-device state and slow flag instead of one global (9.1-1, 9.1-7);
 *  - sequences unique and increasing over the whole table, acks matched (9.1-5);
 *  - the relay test ends in the state the device reported, and runs once per
 *    device instead of on every reconnect (9.1-6, #53).
 * This file is the dialogue; the table, eviction, sequences and output lists are in
 * sessiontable.c.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sessionint.h"

/* Strict decimal uint64 ("0" .. "18446744073709551615"), no sign or space. */
static bool
parse_seq(const char *s, uint64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned dgt;
		if (*s < '0' || *s > '9')
			return false;
		dgt = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return false;
		v = v * 10 + dgt;
	}
	*ret = v;
	return true;
}

static bool
digest_ok(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < PROTO_DIGEST_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

/* The server key of this connection, issued from env->fresh_uuid on first use.
 * It must never be the key the device presents as its own (SonOTA comment,
 * PROTOCOL.md §3.3): a UUID equal to it is a caller bug (-EINVAL). */
static int
conn_apikey(struct session_conn *c, const struct session_env *env, const struct proto_msg *m)
{
	size_t n;

	/* Once issued, the key stays for the connection (a device that registers again
	 * with the key we gave it is only echoing it). */
	if (c->apikey[0])
		return 0;
	if (!env->fresh_uuid)
		return -EINVAL;
	n = strnlen(env->fresh_uuid, PROTO_APIKEY_MAX + 1);
	if (n == 0 || n > PROTO_APIKEY_MAX)
		return -EINVAL;
	if (m->type == PROTO_MSG_REGISTER && strcmp(env->fresh_uuid, m->apikey) == 0)
		return -EINVAL;
	memcpy(c->apikey, env->fresh_uuid, n + 1);
	return 0;
}

/* ---- the dialogue ------------------------------------------------------------ */

/* SonOTA toggled the relay 5 times ending OFF on every connection (§3.5, #53). Here:
 * !s, s, !s, s for the reported state s, so the relay ends where the device said
 * it was, and only once per device. */
static int
relay_test(struct session_table *t, struct session_conn *c, const struct session_env *env,
	   struct session_dev *d, const struct proto_msg *m, struct session_out *out)
{
	const char *skip = NULL;
	struct session_event *e;
	bool s;
	int r;

	if (!env->relay_test)
		skip = "disabled (--no-relay-test)";
	else if (d->relay_tested)
		skip = "already done on an earlier connection";
	else if (!m->has_params)
		skip = "first update has no params";
	else if (m->sw == PROTO_SWITCH_NONE && m->has_switches)
		skip = "multi-channel device (params.switches)";
	else if (m->sw == PROTO_SWITCH_NONE)
		skip = "no params.switch in the first update";
	else if (m->sw == PROTO_SWITCH_INVALID)
		skip = "params.switch is neither \"on\" nor \"off\"";
	if (skip) {
		e = session_ev_add(out, SESSION_EV_RELAY_TEST_SKIPPED, d);
		if (e)
			session_copy_text(e->text, sizeof(e->text), skip);
		return 0;
	}

	s = m->sw == PROTO_SWITCH_ON;
	for (int i = 0; i < 4; i++) {
		bool on = (i % 2) ? s : !s;
		uint64_t seq = session_next_seq(t, env->now_ms);

		r = session_text_add(out, proto_build_relay(d->deviceid, c->apikey, seq, on));
		if (r < 0)
			return r;
		r = session_pending_add(c, seq, SESSION_ACK_RELAY, on);
		if (r < 0)
			return r;
	}
	d->relay_tested = true;
	e = session_ev_add(out, SESSION_EV_RELAY_TEST, d);
	if (e)
		e->sw = m->sw;
	return 0;
}

/* "http://host:port/ota/name" (IPv6 literals in brackets). */
static int
build_url(char *buf, const struct session_env *env, bool slow, const char *name)
{
	bool v6 = strchr(env->serving_host, ':') != NULL;
	int n = snprintf(buf, PROTO_URL_MAX + 1, "http://%s%s%s:%u/%s/%s", v6 ? "[" : "",
			 env->serving_host, v6 ? "]" : "", (unsigned)env->http_port,
			 slow ? "slowota" : "ota", name);

	return n > 0 && n <= PROTO_URL_MAX ? 0 : -EINVAL;
}

/* url1/url2 were built by on_update() with slow = env->slowstream || d->slow. */
static int
send_upgrade(struct session_table *t, struct session_conn *c, const struct session_env *env,
	     struct session_dev *d, const char *url1, const char *url2, struct session_out *out)
{
	bool slow = env->slowstream || d->slow;
	struct proto_upgrade u;
	struct session_event *e;
	enum session_dev_state prev = d->state;
	int r;

	u = (struct proto_upgrade){
		.deviceid = d->deviceid,
		.server_apikey = c->apikey,
		.sequence = session_next_seq(t, env->now_ms),
		.url_user1 = url1,
		.digest_user1 = env->digest_user1,
		.url_user2 = url2,
		.digest_user2 = env->digest_user2,
		.model = d->model, /* "" -> PROTO_DEFAULT_MODEL */
	};
	r = session_text_add(out, proto_build_upgrade(&u));
	if (r < 0)
		return r;
	r = session_pending_add(c, u.sequence, SESSION_ACK_UPGRADE, false);
	if (r < 0)
		return r;
	c->upgrade_sent = true;
	d->state = SESSION_DEV_UPGRADE_SENT;
	d->upgrade_seq = d->await_seq = u.sequence;
	d->upgrades_sent++;

	e = session_ev_add(out, SESSION_EV_UPGRADE_SENT, d);
	if (e) {
		e->prev_state = prev;
		session_copy_text(e->url_user1, sizeof(e->url_user1), url1);
		session_copy_text(e->url_user2, sizeof(e->url_user2), url2);
		session_copy_text(e->model, sizeof(e->model), d->model[0] ? d->model : PROTO_DEFAULT_MODEL);
		e->slow = slow;
		e->attempt = d->upgrades_sent;
		e->sequence = u.sequence;
	}
	return 0;
}

static int
on_update(struct session_table *t, struct session_conn *c, const struct session_env *env,
	  struct session_dev *d, const struct proto_msg *m, struct session_out *out)
{
	char url1[PROTO_URL_MAX + 1], url2[PROTO_URL_MAX + 1];
	bool first = !c->got_update && !c->done;
	bool slow = env->slowstream || d->slow;
	int r;

	/* Check the caller's inputs before anything is sent or changed. */
	if (first) {
		if (!env->serving_host || !env->serving_host[0] || !digest_ok(env->digest_user1) ||
		    !digest_ok(env->digest_user2))
			return -EINVAL;
		if ((r = build_url(url1, env, slow, "image_user1-0x01000.bin")) < 0 ||
		    (r = build_url(url2, env, slow, "image_user2-0x81000.bin")) < 0)
			return r;
	}

	if (m->sw == PROTO_SWITCH_ON || m->sw == PROTO_SWITCH_OFF)
		d->relay = m->sw;
	r = session_text_add(out, proto_build_update_reply(d->deviceid, c->apikey));
	if (r < 0 || !first)
		return r;
	c->got_update = true;
	if (env->hold_upgrade && d->state != SESSION_DEV_GAVE_UP &&
	    d->state != SESSION_DEV_UPGRADED) {
		/* Not now: the device reconnects and gets it then (no relay test either:
		 * it comes with the upgrade). */
		session_ev_add(out, SESSION_EV_UPGRADE_HELD, d);
		out->close = true;
		c->done = true;
		return 0;
	}

	/* SonOTA order (§3.5): reply, relay test, upgrade, all in one batch. */
	r = relay_test(t, c, env, d, m, out);
	if (r < 0)
		return r;
	if (d->state == SESSION_DEV_GAVE_UP) {
		/* Never offered again in this run (SESSION_UPGRADE_FAILURES_MAX). */
		c->done = true;
		return 0;
	}
	return send_upgrade(t, c, env, d, url1, url2, out);
}

static void
upgrade_acked(struct session_conn *c, struct session_dev *d, const struct proto_msg *m,
	      uint64_t seq, struct session_out *out)
{
	enum session_dev_state prev = d->state;
	enum session_event_type type;
	struct session_event *e;

	d->await_seq = 0;
	d->last_error = m->error;
	c->done = true; /* nothing more is initiated on this connection */
	if (m->error == 0) {
		d->state = SESSION_DEV_UPGRADED;
		type = SESSION_EV_UPGRADE_DONE;
	} else {
		/* A 404 says only that the download failed (§3.6): a refused
		 * connection, a lost network or old firmware alike. Slow is decided by
		 * the caller on evidence (session_set_slow()), not here. */
		d->failures++;
		d->state = d->failures >= SESSION_UPGRADE_FAILURES_MAX ? SESSION_DEV_GAVE_UP
								      : SESSION_DEV_FAILED;
		type = m->error == 404 ? SESSION_EV_UPGRADE_FAILED_404 : SESSION_EV_UPGRADE_FAILED;
	}
	e = session_ev_add(out, type, d);
	if (e) {
		e->prev_state = prev;
		e->error = m->error;
		e->sequence = seq;
		e->attempt = d->upgrades_sent;
	}
	if (d->state == SESSION_DEV_GAVE_UP && (e = session_ev_add(out, SESSION_EV_GAVE_UP, d))) {
		e->prev_state = prev;
		e->error = m->error;
		e->sequence = seq;
		e->attempt = d->failures;
	}
}

static void
on_ack(struct session_conn *c, struct session_dev *d, const struct proto_msg *m,
       struct session_out *out)
{
	struct session_pending p;
	struct session_event *e;
	uint64_t seq;

	if (parse_seq(m->sequence, &seq)) {
		if (session_pending_take(c, seq, &p)) {
			if (p.kind == SESSION_ACK_UPGRADE) {
				upgrade_acked(c, d, m, seq, out);
			} else {
				e = session_ev_add(out, SESSION_EV_RELAY_ACK, d);
				if (e) {
					e->sw = p.on ? PROTO_SWITCH_ON : PROTO_SWITCH_OFF;
					e->error = m->error;
					e->sequence = seq;
				}
			}
			return;
		}
		/* An upgrade sent on an earlier connection of this device and acked on
		 * this one. */
		if (seq != 0 && seq == d->await_seq) {
			upgrade_acked(c, d, m, seq, out);
			return;
		}
	}
	e = session_ev_add(out, SESSION_EV_UNKNOWN_ACK, d);
	if (e) {
		session_copy_text(e->text, sizeof(e->text), m->sequence);
		e->error = m->error;
	}
}

/* Bind an unbound connection to the device of its first frame. */
static int
bind_conn(struct session_table *t, struct session_conn *c, const struct proto_msg *m,
	  struct session_out *out, struct session_dev **ret)
{
	struct session_dev *d = session_dev_get(t, m->deviceid, out);
	struct session_event *e;

	if (!d) {
		e = session_ev_add(out, SESSION_EV_LIMIT, NULL);
		if (e) {
			session_copy_text(e->deviceid, sizeof(e->deviceid), m->deviceid);
			snprintf(e->text, sizeof(e->text), "%d devices known already",
				 SESSION_MAX_DEVICES);
		}
		out->close = true;
		return -ENOSPC;
	}
	c->dev = (int)(d - t->devs);
	c->dev_id = d->id;
	d->nconns++;
	d->connections++;
	*ret = d;
	return 0;
}

int
session_on_text(struct session_table *t, struct session_conn *c, const struct session_env *env,
		const char *buf, size_t len, struct session_out *out)
{
	struct session_dev *d;
	struct session_event *e;
	struct proto_msg m;
	bool fresh = false;
	int r;

	r = proto_parse_device(buf, len, &m);
	if (r < 0) {
		e = session_ev_add(out, SESSION_EV_MALFORMED, session_conn_dev(t, c));
		if (e)
			e->error = r;
		return 0;
	}

	d = session_conn_dev(t, c);
	if (d && strcmp(d->deviceid, m.deviceid) != 0) {
		/* One connection is one device. A frame for another id is either a bug
		 * or someone else's: refuse it, and the connection. */
		e = session_ev_add(out, SESSION_EV_DEVICEID_CHANGED, d);
		if (e)
			session_copy_text(e->text, sizeof(e->text), m.deviceid);
		out->close = true;
		return 0;
	}
	if (!d) {
		if (bind_conn(t, c, &m, out, &d) < 0)
			return 0;
		fresh = true;
	}
	d->last_active_ms = env->mono_ms;

	switch (m.type) {
	case PROTO_MSG_REGISTER: {
		enum session_dev_state prev = d->state;

		r = conn_apikey(c, env, &m);
		if (r < 0)
			return r;
		r = session_text_add(out, proto_build_register_reply(d->deviceid, c->apikey));
		if (r < 0)
			return r;
		if (m.model[0])
			session_copy_text(d->model, sizeof(d->model), m.model);
		if (m.rom_version[0])
			session_copy_text(d->rom_version, sizeof(d->rom_version), m.rom_version);
		if (!c->registered && !c->upgrade_sent && d->state != SESSION_DEV_GAVE_UP)
			d->state = SESSION_DEV_REGISTERED;
		c->registered = true;
		e = session_ev_add(out, SESSION_EV_REGISTERED, d);
		if (e) {
			e->prev_state = prev;
			e->attempt = d->connections;
			if (d->nconns > 1)
				session_copy_text(e->text, sizeof(e->text),
					  "earlier connection still open");
		}
		return 0;
	}
	case PROTO_MSG_DATE:
	case PROTO_MSG_UPDATE:
	case PROTO_MSG_QUERY:
		if (fresh) {
			e = session_ev_add(out, SESSION_EV_UNREGISTERED, d);
			if (e)
				session_copy_text(e->text, sizeof(e->text), m.action);
		}
		r = conn_apikey(c, env, &m);
		if (r < 0)
			return r;
		if (m.type == PROTO_MSG_DATE) {
			char date[PROTO_DATE_LEN];

			if (proto_format_utc(env->now_ms, date) < 0)
				return -EINVAL;
			return session_text_add(out, proto_build_date_reply(d->deviceid, c->apikey,
								    env->now_ms));
		}
		if (m.type == PROTO_MSG_QUERY)
			return session_text_add(out, proto_build_query_reply(d->deviceid, c->apikey));
		return on_update(t, c, env, d, &m, out);
	case PROTO_MSG_ACK:
		on_ack(c, d, &m, out);
		return 0;
	case PROTO_MSG_UNKNOWN:
		e = session_ev_add(out, SESSION_EV_UNKNOWN_ACTION, d);
		if (e)
			session_copy_text(e->text, sizeof(e->text), m.action);
		return 0;
	}
	return 0;
}

/* cloud: dispatch, WSS session and upgrade of the stock firmware.
 *
 * Session (PROTOCOL §3.5 seen from the device): POST /dispatch/device over TLS -> WSS to
 * the returned IP:port -> register -> date -> update -> query (each waits for its reply)
 * -> wait for `upgrade` -> download (WebSocket kept serviced) -> ack 0 -> write the
 * inactive slot -> switch the boot slot -> reboot.
 *
 * Server messages carry an `action`; replies do not. Every server command must carry
 * userAgent "app", our deviceid, the apikey of the register reply and a decimal sequence
 * greater than every sequence seen before on this device (uniqueness, §9.1-5). Each
 * `update` is acked with its sequence echoed (§3.3 D5).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cloud.h"
#include "conn.h"
#include "devsim.h"
#include "dispatch.h"
#include "download.h"
#include "msg.h"
#include "ws.h"

#define CLOUD_IO_TIMEOUT_MS 10000	/* TCP+TLS connect, dispatch response, WS upgrade */
#define CLOUD_REPLY_TIMEOUT_MS 10000	/* the device waits this long for each reply */
#define CLOUD_RECONNECT_MS 1000		/* pause before a new dispatch */
#define CLOUD_DEFAULT_HB_S 145		/* hbInterval of SonOTA / the cloud (§3.3) */
#define CLOUD_SLOW_TRIES 3		/* norange "too fast" acks 404 before giving up */
#define CLOUD_DROP_PAUSE_MS 1000	/* drop_at: WiFi gone for this long */

/* cloud_session results besides -errno */
#define SESS_DONE 1			/* stock OTA complete */
#define SESS_RECONNECT 2		/* connection lost or closed by the server: start over */
#define SESS_TLS 3			/* TLS handshake failed (counts toward pin_retries) */
#define SESS_AGAIN 4			/* the device itself closed and will reconnect */

enum sess_state {
	SESS_REGISTER,			/* register sent, waiting for its reply */
	SESS_DATE,
	SESS_UPDATE,
	SESS_QUERY,
	SESS_READY,			/* no request outstanding */
};

static const char *const sess_state_name[] = {
	[SESS_REGISTER] = "register",
	[SESS_DATE] = "date",
	[SESS_UPDATE] = "update",
	[SESS_QUERY] = "query",
	[SESS_READY] = "ready",
};

struct sess {
	struct devsim *d;
	struct ws ws;
	char key[DEV_UUID_LEN + 1];	/* server apikey from the register reply */
	enum sess_state st;
	int64_t reply_end;		/* deadline of the outstanding reply */
	int hb_ms;			/* ping period */
	int64_t next_ping;
	bool ping_out;			/* a ping is waiting for its pong */
	uint8_t ping[4];		/* its payload */
	bool have_upgrade;		/* an upgrade is waiting for SESS_READY */
	bool downloading;
	struct msg_upgrade up;
	struct conn c;			/* the WSS connection; last: not reset per session */
};

static int
sess_send(struct sess *s, char *json, const char *what)
{
	struct devsim *d = s->d;
	int r;

	if (!json)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "out of memory building %s", what);
	dev_dbg_json(d, ">>", json);
	r = ws_send(&s->ws, 1, json, strlen(json));
	free(json);
	if (r < 0 && !d->failed)
		dev_log(d, "sending %s failed: %s", what, strerror(-r));
	return r < 0 ? -EPIPE : 0;
}

static void
sess_expect(struct sess *s, enum sess_state st)
{
	static const char *const phase[] = {
		[SESS_REGISTER] = "waiting for the register reply",
		[SESS_DATE] = "waiting for the date reply",
		[SESS_UPDATE] = "waiting for the update reply",
		[SESS_QUERY] = "waiting for the query reply",
		[SESS_READY] = "connected, waiting for the upgrade command",
	};

	s->st = st;
	s->d->phase = phase[st];
	s->reply_end = conn_now_ms() + CLOUD_REPLY_TIMEOUT_MS;
}

static int
sess_reply(struct sess *s, const cJSON *o, const char *raw)
{
	struct devsim *d = s->d;
	char err[256];
	const cJSON *it;
	struct timespec now;

	if (s->st == SESS_READY)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "reply without a request outstanding: %.120s",
				raw);
	if (msg_check_reply(o, d->deviceid, s->st == SESS_REGISTER ? NULL : s->key, err,
			    sizeof(err)) < 0)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "bad reply to %s: %s: %.120s",
				sess_state_name[s->st], err, raw);
	switch (s->st) {
	case SESS_REGISTER:
		it = cJSON_GetObjectItemCaseSensitive(o, "apikey");
		if (!cJSON_IsString(it) || !msg_is_uuid(it->valuestring))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "register reply: apikey missing or "
					"not a UUID");
		if (!strcasecmp(it->valuestring, d->apikey))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "register reply: the server apikey "
					"equals the device's own apikey (must differ, §3.3)");
		snprintf(s->key, sizeof(s->key), "%s", it->valuestring);
		it = cJSON_GetObjectItemCaseSensitive(o, "config");
		if (it) {
			const cJSON *hb = cJSON_GetObjectItemCaseSensitive(it, "hbInterval");

			if (!cJSON_IsObject(it))
				return dev_fail(d, DEV_EXIT_PROTOCOL, "register reply: config is "
						"not an object");
			if (hb && (!cJSON_IsNumber(hb) || hb->valuedouble < 1 ||
				   hb->valuedouble > 86400 ||
				   hb->valuedouble != (double)(int)hb->valuedouble))
				return dev_fail(d, DEV_EXIT_PROTOCOL, "register reply: "
						"config.hbInterval is not a positive integer");
			if (hb && !d->model.hb_interval) {
				s->hb_ms = (int)hb->valuedouble * 1000;
				s->next_ping = conn_now_ms() + s->hb_ms;
			}
		}
		dev_log(d, "registered (server apikey received, ping every %d s)", s->hb_ms / 1000);
		sess_expect(s, SESS_DATE);
		return sess_send(s, msg_date(d->deviceid, s->key), "date");
	case SESS_DATE:
		it = cJSON_GetObjectItemCaseSensitive(o, "date");
		if (!cJSON_IsString(it))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "date reply without a date string");
		clock_gettime(CLOCK_REALTIME, &now);
		if (msg_check_date(it->valuestring, now, err, sizeof(err)) < 0)
			return dev_fail(d, DEV_EXIT_PROTOCOL, "bad date reply: %s", err);
		dev_log(d, "date ok: %s", it->valuestring);
		sess_expect(s, SESS_UPDATE);
		return sess_send(s, msg_update(&d->model, d->deviceid, s->key, d->relay),
				 "update");
	case SESS_UPDATE:
		sess_expect(s, SESS_QUERY);
		return sess_send(s, msg_query(&d->model, d->deviceid, s->key), "query");
	case SESS_QUERY:
		it = cJSON_GetObjectItemCaseSensitive(o, "params");
		if (!((cJSON_IsNumber(it) && it->valuedouble == 0) ||
		      (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 0)))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "query reply: params must be 0 or [] "
					"(no timers), got: %.120s", raw);
		dev_log(d, "dialogue complete (register, date, update, query)");
		sess_expect(s, SESS_READY);
		return 0;
	case SESS_READY:
		break;
	}
	return 0;
}

static int
sess_relay(struct sess *s, const cJSON *params, const char *seq)
{
	struct devsim *d = s->d;
	const cJSON *sw = cJSON_GetObjectItemCaseSensitive(params, "switch");
	const cJSON *sws = cJSON_GetObjectItemCaseSensitive(params, "switches");
	const cJSON *it;

	if (!cJSON_IsObject(params) || (!sw && !sws))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "update (sequence %s) without "
				"params.switch or params.switches", seq);
	if (sw) {
		if (!cJSON_IsString(sw) || (strcmp(sw->valuestring, "on") &&
					    strcmp(sw->valuestring, "off")))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "update: switch is not \"on\"/\"off\"");
		snprintf(d->relay[0], sizeof(d->relay[0]), "%s", sw->valuestring);
	}
	if (sws) {
		if (!cJSON_IsArray(sws))
			return dev_fail(d, DEV_EXIT_PROTOCOL, "update: switches is not an array");
		cJSON_ArrayForEach(it, sws) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(it, "switch");
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(it, "outlet");

			if (!cJSON_IsString(v) || (strcmp(v->valuestring, "on") &&
						   strcmp(v->valuestring, "off")) ||
			    !cJSON_IsNumber(o) || o->valuedouble < 0 || o->valuedouble > 3 ||
			    o->valuedouble != (double)(int)o->valuedouble)
				return dev_fail(d, DEV_EXIT_PROTOCOL, "update: bad switches entry");
			snprintf(d->relay[(int)o->valuedouble], sizeof(d->relay[0]), "%s",
				 v->valuestring);
		}
	}
	d->relay_updates++;
	if (d->model.sw == MODEL_SWITCH_MULTI)
		dev_log(d, "relay update %d (sequence %s): %s/%s/%s/%s", d->relay_updates, seq,
			d->relay[0], d->relay[1], d->relay[2], d->relay[3]);
	else
		dev_log(d, "relay update %d (sequence %s): %s", d->relay_updates, seq, d->relay[0]);
	return sess_send(s, msg_ack(d->deviceid, s->key, seq, 0), "ack");
}

static int
sess_command(struct sess *s, const cJSON *o, const char *action, const char *raw)
{
	struct devsim *d = s->d;
	const cJSON *ua = cJSON_GetObjectItemCaseSensitive(o, "userAgent");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceid");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "apikey");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
	unsigned long long sv;
	char err[256];
	int r;

	if (!cJSON_IsString(ua) || strcmp(ua->valuestring, "app"))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s without userAgent \"app\": %.120s",
				action, raw);
	if (!cJSON_IsString(id) || strcmp(id->valuestring, d->deviceid))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s for another deviceid: %.120s",
				action, raw);
	if (!s->key[0])
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s before the register reply", action);
	if (!cJSON_IsString(key) || strcmp(key->valuestring, s->key))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s with an apikey that is not the "
				"one from the register reply", action);
	if (!cJSON_IsString(seq) || msg_parse_seq(seq->valuestring, &sv) < 0)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s without a decimal sequence string: "
				"%.120s", action, raw);
	if (d->have_seq && sv <= d->last_seq)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server %s has sequence %llu, not greater "
				"than the previous %llu (sequences must be unique and increasing)",
				action, sv, d->last_seq);
	d->have_seq = true;
	d->last_seq = sv;

	if (!strcmp(action, "update"))
		return sess_relay(s, params, seq->valuestring);
	if (strcmp(action, "upgrade"))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "unknown server action \"%s\"", action);

	if (s->downloading || s->have_upgrade) {
		dev_log(d, "another upgrade (sequence %s) while one is in progress: ignored",
			seq->valuestring);
		return 0;
	}
	r = msg_parse_upgrade(params, d->model.name, d->boot_slot, &s->up, err, sizeof(err));
	if (r < 0) {
		/* the device closes the socket in the middle of the message (§3.4) */
		conn_close(&s->c, false);
		return dev_fail(d, DEV_EXIT_UPGRADE, "%s%s; the device closed the connection",
				r == -EPERM ? "upgrade refused: " : "malformed upgrade: ", err);
	}
	snprintf(s->up.seq, sizeof(s->up.seq), "%s", seq->valuestring);
	s->have_upgrade = true;
	dev_log(d, "upgrade (sequence %s): running slot %d, fetching %s from %s",
		s->up.seq, d->boot_slot, s->up.name, s->up.url);
	return 0;
}

static int
sess_message(struct sess *s)
{
	struct devsim *d = s->d;
	char raw[160];			/* the message as shown in failure reasons */
	const cJSON *action;
	cJSON *o;
	size_t n;
	int r;

	dev_dbg_json(d, "<<", s->ws.msg);
	n = strnlen(s->ws.msg, sizeof(raw) - 1);	/* truncated on purpose */
	memcpy(raw, s->ws.msg, n);
	raw[n] = '\0';
	dev_mask_apikeys(raw);
	o = cJSON_Parse(s->ws.msg);
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return dev_fail(d, DEV_EXIT_PROTOCOL, "server sent a text frame that is not a JSON "
				"object: %.120s", raw);
	}
	action = cJSON_GetObjectItemCaseSensitive(o, "action");
	if (action && !cJSON_IsString(action))
		r = dev_fail(d, DEV_EXIT_PROTOCOL, "action is not a string: %.120s", raw);
	else if (action)
		r = sess_command(s, o, action->valuestring, raw);
	else
		r = sess_reply(s, o, raw);
	cJSON_Delete(o);
	return r;
}

static int
sess_timers(struct sess *s)
{
	struct devsim *d = s->d;
	int64_t now = conn_now_ms();
	int r;

	if (s->st != SESS_READY && now > s->reply_end)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "no reply to %s within %d s",
				sess_state_name[s->st], CLOUD_REPLY_TIMEOUT_MS / 1000);
	if (now < s->next_ping)
		return 0;
	if (s->ping_out)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "no pong to the ping sent %d s ago",
				s->hb_ms / 1000);
	dev_random(s->ping, sizeof(s->ping));
	r = ws_send(&s->ws, 9, s->ping, sizeof(s->ping));
	if (r < 0)
		return -EPIPE;
	dev_dbg(d, "ping");
	s->ping_out = true;
	s->next_ping = now + s->hb_ms;
	return 0;
}

static int
sess_pong(struct sess *s)
{
	if (!s->ping_out)
		return 0;		/* unsolicited pong: allowed (RFC 6455 §5.5.3) */
	if (s->ws.pong_len != sizeof(s->ping) || memcmp(s->ws.pong, s->ping, sizeof(s->ping)))
		return dev_fail(s->d, DEV_EXIT_PROTOCOL, "pong payload differs from the ping's");
	dev_dbg(s->d, "pong");
	s->ping_out = false;
	return 0;
}

/* Handle one ws_recv() event. 0, SESS_RECONNECT on close, or -errno. */
static int
sess_event(struct sess *s, enum ws_event ev)
{
	switch (ev) {
	case WS_EV_TEXT:
		return sess_message(s);
	case WS_EV_PONG:
		return sess_pong(s);
	case WS_EV_CLOSED:
		return SESS_RECONNECT;
	case WS_EV_NONE:
		break;
	}
	return 0;
}

/* dl_side callback: keep the WebSocket alive during the download, never blocking. */
static int
sess_service(void *arg)
{
	struct sess *s = arg;
	struct devsim *d = s->d;
	int r;

	for (;;) {
		struct pollfd pfd = { .fd = s->c.fd, .events = POLLIN };
		enum ws_event ev;

		if (!conn_pending(&s->c)) {
			r = conn_wait_fds(d, &pfd, 1, 0);
			if (r < 0)
				return r;
			if (r == 0)
				break;
		}
		r = ws_recv(&s->ws, 0, &ev);
		if (r < 0)
			return d->failed ? r : dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket lost during "
							"the download: %s", strerror(-r));
		r = sess_event(s, ev);
		if (r == SESS_RECONNECT)
			return dev_fail(d, DEV_EXIT_PROTOCOL, "the server closed the WebSocket "
					"during the download");
		if (r < 0)
			return r;
		if (ev == WS_EV_NONE && !conn_pending(&s->c))
			break;
	}
	r = sess_timers(s);
	if (r == -EPIPE)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket lost during the download");
	return r;
}

static int
flash_stock_ota(struct devsim *d, const uint8_t *img, size_t len)
{
	uint32_t addr = d->boot_slot == 1 ? FLASH_USER2 : FLASH_USER1;
	int r;

	r = flash_erase_range(&d->flash, addr, len);
	if (r == 0)
		r = flash_write(&d->flash, addr, img, len);
	if (r < 0)
		return dev_fail(d, DEV_EXIT_FLASH, "writing the OTA image to 0x%x failed: %s "
				"(simulator bug)", addr, strerror(-r));
	d->boot_slot = d->boot_slot == 1 ? 2 : 1;
	dev_log(d, "image written to 0x%05x, boot slot switched to %d", addr, d->boot_slot);
	return 0;
}

static int
sess_upgrade(struct sess *s)
{
	struct devsim *d = s->d;
	struct dl_side side = { .conn = &s->c, .service = sess_service, .arg = s };
	uint8_t *img = NULL;
	size_t len = 0;
	int r;

	if (d->slow_expected && !strstr(s->up.path, "/slowota/"))
		dev_log(d, "note: after the ack 404 the server still offers %s, not a /slowota/ URL",
			s->up.path);
	s->downloading = true;
	r = dl_stock(d, &s->up, &side, &img, &len);
	s->downloading = false;
	if (r == 0) {
		d->phase = "acking the upgrade";
		r = sess_send(s, msg_ack(d->deviceid, s->key, s->up.seq, 0), "ack 0");
		if (r < 0) {
			free(img);
			return d->failed ? r : dev_fail(d, DEV_EXIT_PROTOCOL, "could not send the "
							 "upgrade ack: the WebSocket is gone");
		}
		dev_log(d, "ack 0 sent for sequence %s", s->up.seq);
		r = flash_stock_ota(d, img, len);
		free(img);
		if (r < 0)
			return r;
		dev_log(d, "rebooting into slot %d", d->boot_slot);
		conn_close(&s->c, false);
		r = dev_hook(d, "sta-down");
		return r < 0 ? r : SESS_DONE;
	}
	if (r == DL_TOO_FAST) {
		d->slow_fails++;
		d->slow_expected = true;
		r = sess_send(s, msg_ack(d->deviceid, s->key, s->up.seq, 404), "ack 404");
		if (r == 0)
			dev_log(d, "ack 404 sent for sequence %s (download too fast, %d of %d)",
				s->up.seq, d->slow_fails, CLOUD_SLOW_TRIES);
		if (d->slow_fails >= CLOUD_SLOW_TRIES)
			return dev_fail(d, DEV_EXIT_DOWNLOAD, "the server streamed too fast %d times "
					"(no slow /slowota/ delivery after the acks 404)",
					d->slow_fails);
		/* stays on stock; the connection is re-established later (§3.6) */
		conn_close(&s->c, true);
		return SESS_AGAIN;
	}
	if (r == DL_DROPPED) {
		conn_close(&s->c, false);
		r = dev_hook(d, "sta-down");
		if (r == 0)
			r = conn_sleep(d, CLOUD_DROP_PAUSE_MS);
		if (r == 0)
			r = dev_hook(d, "sta-up");
		return r < 0 ? r : SESS_AGAIN;
	}
	if (d->exit_code == DEV_EXIT_DOWNLOAD) {
		if (sess_send(s, msg_ack(d->deviceid, s->key, s->up.seq, 404), "ack 404") == 0)
			dev_log(d, "ack 404 sent for sequence %s", s->up.seq);
		conn_close(&s->c, true);
	}
	return r;
}

static int
cloud_session(struct devsim *d, struct sess *s)
{
	char ip[64];
	uint16_t port = 0;
	int r;

	memset(s, 0, offsetof(struct sess, c));
	s->d = d;
	r = dispatch_post(d, &s->c, ip, sizeof(ip), &port);
	if (r == DISPATCH_TLS)
		return SESS_TLS;
	if (r == DISPATCH_RETRY)
		return SESS_RECONNECT;
	if (r < 0)
		return r;
	d->phase = "connecting the WebSocket";
	conn_init(&s->c, d);
	r = conn_tls_connect(&s->c, ip, port, d->bind_addr, CLOUD_IO_TIMEOUT_MS);
	if (r == -EACCES || r == -EPROTO)
		return SESS_TLS;
	if (r < 0) {
		if (d->failed)
			return r;
		dev_log(d, "cannot reach the WebSocket server %s:%u: %s", ip, port, strerror(-r));
		return SESS_RECONNECT;
	}
	r = ws_handshake(&s->ws, &s->c, d, CLOUD_IO_TIMEOUT_MS);
	if (r < 0) {
		if (d->failed)
			goto out;
		dev_log(d, "WebSocket upgrade failed: %s", strerror(-r));
		r = SESS_RECONNECT;
		goto out;
	}
	s->hb_ms = (d->model.hb_interval ? d->model.hb_interval : CLOUD_DEFAULT_HB_S) * 1000;
	s->next_ping = conn_now_ms() + s->hb_ms;
	sess_expect(s, SESS_REGISTER);
	r = sess_send(s, msg_register(&d->model, d->deviceid, d->apikey, dev_uptime_s(d)),
		      "register");
	while (r == 0) {
		enum ws_event ev;
		int64_t wait;

		if (s->st == SESS_READY && s->have_upgrade) {
			r = sess_upgrade(s);
			break;
		}
		wait = s->next_ping - conn_now_ms();
		if (s->st != SESS_READY && s->reply_end - conn_now_ms() < wait)
			wait = s->reply_end - conn_now_ms();
		wait = wait < 0 ? 0 : wait > 1000 ? 1000 : wait;
		r = ws_recv(&s->ws, (int)wait, &ev);
		if (r == 0)
			r = sess_event(s, ev);
		if (r == 0)
			r = sess_timers(s);
	}
	if (r == SESS_RECONNECT)
		dev_log(d, "the server closed the WebSocket (state %s)", sess_state_name[s->st]);
	else if (r < 0 && !d->failed) {
		dev_log(d, "WebSocket connection lost: %s", strerror(-r));
		r = SESS_RECONNECT;
	}
out:
	conn_close(&s->c, false);
	return r;
}

int
cloud_run(struct devsim *d)
{
	struct sess *s;
	int tls_fails = 0, sessions = 0, r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "out of memory");
	conn_init(&s->c, d);
	for (;;) {
		sessions++;
		r = cloud_session(d, s);
		if (r == SESS_DONE) {
			r = 0;
			break;
		}
		if (r < 0)
			break;
		if (r == SESS_TLS && ++tls_fails >= d->model.pin_retries) {
			r = dev_fail(d, DEV_EXIT_TLS, d->model.pin_cert ?
				     "pinned certificate rejected %d times (firmware %s): the "
				     "upgrade can never be received" :
				     "TLS handshake failed %d times (firmware %s)", tls_fails,
				     d->model.rom_version);
			break;
		}
		r = conn_sleep(d, CLOUD_RECONNECT_MS);
		if (r < 0)
			break;
		dev_log(d, "reconnecting (connection %d)", sessions + 1);
	}
	free(s);
	return r;
}

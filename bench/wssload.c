/* wssload: N concurrent stock-Sonoff cloud sessions against an emulated eWeLink cloud,
 * for the memory benchmark (bench/run, case (c)).
 *
 *   wssload HOST PORT N [--hold S] [--deviceid-prefix P] [--parallel K] [--timeout S]
 *                       [--ping S] [--download [--attempts N] [--ack-error E]]
 *                       [--keys-file FILE] [-v]
 *
 * Each session does what a stock Sonoff (ITA-GZ1-GL, firmware 1.5.5) does with the cloud
 * (/work/shared/docs/PROTOCOL.md §3, §7): a TLS connection capped at TLS 1.1, offering only
 * TLS_RSA_WITH_AES_{128,256}_CBC_SHA, no SNI, no certificate verification, carrying
 * `POST /dispatch/device`; then a second TLS connection upgraded to a websocket on
 * /api/ws, with register, date, update (switch "off") and query, each answered before the
 * next. Server relay `update` commands are applied and acked; server pings are answered.
 * When the server has sent `upgrade` (checked: params.model is ours, binList holds
 * user1.bin and user2.bin, each with a plain http:// URL and a lower-case hex SHA-256) and
 * the dialogue is complete, the session is "up". The upgrade is never acked: the session
 * stays open as a device does while it downloads, pinging every hbInterval seconds.
 *
 * When all N are up, stdout gets exactly one line "wssload: N sessions up"; the sessions
 * are then held until SIGTERM/SIGINT or --hold seconds. Exit 0 if all N came up and none
 * was lost before the end; 1 otherwise (counts on stderr), 2 for usage errors. Failures
 * go to stderr as "wssload: session I (DEVICEID) PHASE: reason". A session that fails is
 * not retried (a real device would retry; a load client that hid failures would hide
 * server bugs), and once every session has either come up or failed with at least one
 * failure, wssload exits 1 at once instead of holding a partial set.
 *
 * --download (the stage-2 benchmark, bench/run CASE=stage2): a session does not stop at
 * the upgrade. It downloads the binList entry for the inactive slot (user2.bin: the
 * device runs slot 1) like the stock firmware (PROTOCOL.md §4): sequential keep-alive
 * GETs with ?deviceid=&ts=&sign=, each with a 4 KB `Range`, every answer checked (206,
 * exact Content-Range and Content-Length, one total), to HOST and the URL's port (the
 * URL's host may be an address the benchmark cannot reach, as with the dispatch). The
 * SHA-256 of the whole body must equal the upgrade's digest and byte 0 be 0xEA; then the
 * upgrade is acked with error 0 and the websocket dropped (the device reboots): the
 * session is "done". Any download failure is acked with 404, as the device does, and the
 * device reconnects 1 s later (dispatch, websocket, dialogue) for the upgrade it is then
 * offered, at most WL_ATTEMPTS_MAX downloads in all. An upgrade naming /slowota/ URLs
 * counts the device as "moved to the slow stream"; a Range download from there fails
 * (200 instead of 206), as for the real device. When every session is done or failed,
 * stdout gets "wssload: D of N devices completed with verified digests after T s; S moved
 * to the slow stream; F failed downloads (ack 404)" and wssload exits 0 only if D == N.
 * --attempts N changes WL_ATTEMPTS_MAX; --ack-error E (tests/e2e/hostile.tsv) skips the
 * download and acks every upgrade with E: a device that fails forever.
 *
 * --keys-file FILE: every apikey seen is appended to FILE as it is seen, one per line:
 * "device DEVICEID KEY" (the device's own, sent in dispatch and register) and "server
 * DEVICEID KEY" (each register reply's); tests check that none of them is in a log.
 *
 * One thread, one poll() loop, non-blocking sockets and mbedTLS directly. The device's
 * JSON, the HTTP head parser and the checks of the server's replies are the device
 * simulator's (tests/devsim: msg.c, http.c, ws.c), an implementation independent of the
 * server; nothing here links libsonota.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>

#include "conn.h"
#include "devsim.h"
#include "http.h"
#include "model.h"
#include "msg.h"
#include "ws.h"
#include "wssload.h"

static const int wl_suites[] = {
	MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA,
	MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA,
	0,
};

static const char *const wl_phase_name[] = {
	[WL_IDLE] = "not started",
	[WL_D_CONNECT] = "dispatch connect",
	[WL_D_TLS] = "dispatch TLS handshake",
	[WL_D_HTTP] = "dispatch",
	[WL_W_CONNECT] = "websocket connect",
	[WL_W_TLS] = "websocket TLS handshake",
	[WL_W_UPGRADE] = "websocket upgrade",
	[WL_WS] = "dialogue",
	[WL_UP] = "held",
	[WL_RETRY] = "reconnecting after ack 404",
	[WL_DONE] = "done",
	[WL_FAILED] = "failed",
	[WL_LOST] = "lost",
};

static const char *const wl_step_name[] = {
	[WL_STEP_REGISTER] = "register",
	[WL_STEP_DATE] = "date",
	[WL_STEP_UPDATE] = "update",
	[WL_STEP_QUERY] = "query",
	[WL_STEP_DONE] = "waiting for the upgrade",
};

static volatile sig_atomic_t wl_stop;

static void
wl_on_signal(int sig)
{
	wl_stop = sig;
}

int64_t
wl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
wl_log(struct wl_sess *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "wssload: session %u (%s) %s: %s\n", s->idx, s->deviceid,
		s->phase == WL_WS ? wl_step_name[s->step] : wl_phase_name[s->phase], line);
}

/* Drop the connection: TLS close_notify when graceful (best effort, non-blocking). */
void
wl_disconnect(struct wl_sess *s, bool graceful)
{
	if (s->ssl_ready) {
		if (graceful && s->fd >= 0)
			mbedtls_ssl_close_notify(&s->ssl);
		mbedtls_ssl_free(&s->ssl);
		s->ssl_ready = false;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->inlen = 0;
	s->outlen = s->outoff = 0;
	s->wpending = 0;
	s->want = 0;
	s->deadline = 0;
}

/* Record the first failure of a session and end it. Returns -1 for chaining. */
int
wl_fail(struct wl_sess *s, const char *fmt, ...)
{
	struct wl *wl = s->wl;
	char line[512];
	va_list ap;

	if (s->phase == WL_FAILED || s->phase == WL_LOST || s->phase == WL_DONE)
		return -1;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	wl_log(s, "%s%s", s->phase == WL_UP ? "LOST after coming up: " : "FAILED: ", line);
	if (s->phase == WL_UP) {
		wl->up--;
		wl->lost++;
		s->phase = WL_LOST;
	} else {
		wl->setting_up--;
		wl->failed++;
		s->phase = WL_FAILED;
	}
	wl_disconnect(s, false);
	wl_dl_close(s);
	free(s->out);
	s->out = NULL;
	s->outcap = 0;
	return -1;
}

/* ---- transport --------------------------------------------------------------- */

static int
wl_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct wl_sess *s = ctx;

	return conn_bio_result(send(s->fd, buf, len, MSG_NOSIGNAL), true);
}

static int
wl_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct wl_sess *s = ctx;

	return conn_bio_result(recv(s->fd, buf, len, 0), false);
}

static const char *
wl_tls_err(int r, char *buf, size_t len)
{
	char e[100];

	mbedtls_strerror(r, e, sizeof(e));
	snprintf(buf, len, "-0x%04x %s", (unsigned)-r, e);
	return buf;
}

/* Start a non-blocking TCP connect to HOST:PORT; the phase moves on when writable. */
static int
wl_connect(struct wl_sess *s, enum wl_phase phase)
{
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return wl_fail(s, "socket: %s", strerror(errno));
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->phase = phase;
	s->deadline = wl_now_ms() + WL_CONNECT_TIMEOUT_MS;
	if (connect(s->fd, (struct sockaddr *)&s->wl->addr, sizeof(s->wl->addr)) < 0 &&
	    errno != EINPROGRESS)
		return wl_fail(s, "connect to %s:%u: %s", s->wl->host, s->wl->port,
			       strerror(errno));
	s->want = POLLOUT;
	return 0;
}

/* Queue plaintext (copied) for sending. */
static int
wl_queue(struct wl_sess *s, const void *buf, size_t len)
{
	if (s->outoff == s->outlen)
		s->outoff = s->outlen = 0;
	if (s->outlen + len > s->outcap) {
		size_t cap = s->outcap ? s->outcap : 1024;
		uint8_t *p;

		while (cap < s->outlen + len)
			cap *= 2;
		p = realloc(s->out, cap);
		if (!p)
			return wl_fail(s, "out of memory");
		s->out = p;
		s->outcap = cap;
	}
	memcpy(s->out + s->outlen, buf, len);
	s->outlen += len;
	return 0;
}

/* Write what is queued, as far as the socket takes it. */
static int
wl_flush(struct wl_sess *s)
{
	char e[160];

	while (s->outoff < s->outlen) {
		/* After WANT_WRITE mbedTLS must be called again with the same length: it
		 * then only flushes the record it already made and returns that length. */
		size_t len = s->wpending ? s->wpending : s->outlen - s->outoff;
		int r = mbedtls_ssl_write(&s->ssl, s->out + s->outoff, len);

		if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
			s->wpending = len;
			s->want = r == MBEDTLS_ERR_SSL_WANT_WRITE ? POLLOUT : POLLIN;
			return 0;
		}
		s->wpending = 0;
		if (r < 0)
			return wl_fail(s, "TLS write: %s", wl_tls_err(r, e, sizeof(e)));
		s->outoff += (size_t)r;
	}
	s->outoff = s->outlen = 0;
	s->want = 0;
	return 0;
}

/* ---- websocket ----------------------------------------------------------------- */

/* Queue one masked client frame (PROTOCOL §3.2: the device is the client). */
static int
wl_ws_send(struct wl_sess *s, int opcode, const void *data, size_t len)
{
	uint8_t frame[14 + WS_MSG_MAX];
	size_t n = ws_frame_client(frame, sizeof(frame), opcode, data, len);

	if (!n)
		return wl_fail(s, "our own message is over %d bytes", WS_MSG_MAX);
	if (wl_queue(s, frame, n) < 0)
		return -1;
	return wl_flush(s);
}

/* Send a device JSON message (heap string from msg_*, freed here). */
int
wl_send_json(struct wl_sess *s, char *json)
{
	int r;

	if (!json)
		return wl_fail(s, "out of memory");
	r = wl_ws_send(s, 1, json, strlen(json));
	free(json);
	return r;
}

/* Await the reply to the current step. */
static void
wl_expect(struct wl_sess *s, enum wl_step step)
{
	s->step = step;
	s->deadline = wl_now_ms() + WL_REPLY_TIMEOUT_MS;
}

static void
wl_check_up(struct wl_sess *s)
{
	struct wl *wl = s->wl;

	if (s->phase != WL_WS || s->step != WL_STEP_DONE || !s->have_upgrade)
		return;
	s->phase = WL_UP;
	s->deadline = 0;
	s->t_up = wl_now_ms();
	wl->setting_up--;
	wl->up++;
	if (wl->verbose)
		wl_log(s, "up after %lld ms (%u relay updates acked, upgrade not acked)",
		       (long long)(s->t_up - s->t_start), s->relay_acks);
	if (wl->download)
		wl_dl_start(s);
}

/* A reply (no "action") to the message of the current step. */
static int
wl_reply(struct wl_sess *s, const cJSON *o, const char *raw)
{
	struct wl *wl = s->wl;
	const cJSON *it;
	struct timespec now;
	char err[256];

	if (s->step == WL_STEP_DONE)
		return wl_fail(s, "reply without a request outstanding: %.120s", raw);
	if (msg_check_reply(o, s->deviceid, s->step == WL_STEP_REGISTER ? NULL : s->srvkey, err,
			    sizeof(err)) < 0)
		return wl_fail(s, "bad reply: %s: %.120s", err, raw);
	switch (s->step) {
	case WL_STEP_REGISTER:
		it = cJSON_GetObjectItemCaseSensitive(o, "apikey");
		if (!cJSON_IsString(it) || !msg_is_uuid(it->valuestring))
			return wl_fail(s, "register reply: apikey missing or not a UUID");
		if (!strcasecmp(it->valuestring, s->apikey))
			return wl_fail(s, "register reply: the server apikey equals the device's "
				       "own (must differ, PROTOCOL §3.3)");
		snprintf(s->srvkey, sizeof(s->srvkey), "%s", it->valuestring);
		if (wl->keys)
			fprintf(wl->keys, "server %s %s\n", s->deviceid, s->srvkey);
		s->hb_ms = 145 * 1000;
		it = cJSON_GetObjectItemCaseSensitive(o, "config");
		if (it) {
			const cJSON *hb = cJSON_GetObjectItemCaseSensitive(it, "hbInterval");

			if (!cJSON_IsObject(it))
				return wl_fail(s, "register reply: config is not an object");
			if (hb && (!cJSON_IsNumber(hb) || hb->valuedouble < 1 ||
				   hb->valuedouble > 86400 ||
				   hb->valuedouble != (double)(int)hb->valuedouble))
				return wl_fail(s, "register reply: config.hbInterval is not a "
					       "positive integer");
			if (hb)
				s->hb_ms = (int)hb->valuedouble * 1000;
		}
		if (wl->ping_s > 0)
			s->hb_ms = wl->ping_s * 1000;
		s->next_ping = wl_now_ms() + s->hb_ms;
		wl_expect(s, WL_STEP_DATE);
		return wl_send_json(s, msg_date(s->deviceid, s->srvkey));
	case WL_STEP_DATE:
		it = cJSON_GetObjectItemCaseSensitive(o, "date");
		if (!cJSON_IsString(it))
			return wl_fail(s, "date reply without a date string");
		clock_gettime(CLOCK_REALTIME, &now);
		if (msg_check_date(it->valuestring, now, err, sizeof(err)) < 0)
			return wl_fail(s, "bad date reply: %s", err);
		wl_expect(s, WL_STEP_UPDATE);
		return wl_send_json(s, msg_update(&wl->model, s->deviceid, s->srvkey, s->relay));
	case WL_STEP_UPDATE:
		wl_expect(s, WL_STEP_QUERY);
		return wl_send_json(s, msg_query(&wl->model, s->deviceid, s->srvkey));
	case WL_STEP_QUERY:
		it = cJSON_GetObjectItemCaseSensitive(o, "params");
		if (!((cJSON_IsNumber(it) && it->valuedouble == 0) ||
		      (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 0)))
			return wl_fail(s, "query reply: params must be 0 or [] (no timers): %.120s",
				       raw);
		/* the upgrade follows the first update at once (PROTOCOL §3.5); it has as
		 * long again as a reply */
		wl_expect(s, WL_STEP_DONE);
		if (s->have_upgrade)
			s->deadline = 0;
		wl_check_up(s);
		return 0;
	case WL_STEP_DONE:
		break;
	}
	return 0;
}

/* The upgrade command: both binList entries must be usable, whatever the running slot. */
static int
wl_upgrade(struct wl_sess *s, const cJSON *params, const char *seq)
{
	const cJSON *list = cJSON_IsObject(params)
				    ? cJSON_GetObjectItemCaseSensitive(params, "binList")
				    : NULL;
	struct msg_upgrade u1, u2;
	char err[256];

	if (s->have_upgrade) {
		wl_log(s, "another upgrade (sequence %s) while one is pending: ignored", seq);
		return 0;
	}
	if (msg_parse_upgrade(params, s->wl->model.name, 2, &u1, err, sizeof(err)) < 0 ||
	    msg_parse_upgrade(params, s->wl->model.name, 1, &u2, err, sizeof(err)) < 0)
		return wl_fail(s, "bad upgrade: %s", err);
	if (cJSON_GetArraySize(list) != 2)
		return wl_fail(s, "bad upgrade: binList has %d entries, not 2",
			       cJSON_GetArraySize(list));
	s->have_upgrade = true;
	s->upg = s->wl->model.slot == 1 ? u2 : u1;
	snprintf(s->upg.seq, sizeof(s->upg.seq), "%s", seq); /* the ack echoes it */
	if (s->wl->verbose)
		wl_log(s, "upgrade (sequence %s): %s, %s", seq, u1.url, u2.url);
	if (s->step == WL_STEP_DONE)
		s->deadline = 0;
	wl_check_up(s);
	return 0;
}

/* A server command (has "action"): PROTOCOL §3.3, server-initiated messages. */
static int
wl_command(struct wl_sess *s, const cJSON *o, const char *action, const char *raw)
{
	const cJSON *ua = cJSON_GetObjectItemCaseSensitive(o, "userAgent");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceid");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(o, "apikey");
	const cJSON *seq = cJSON_GetObjectItemCaseSensitive(o, "sequence");
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(o, "params");
	const cJSON *sw;
	unsigned long long sv;

	if (!cJSON_IsString(ua) || strcmp(ua->valuestring, "app"))
		return wl_fail(s, "server %s without userAgent \"app\": %.120s", action, raw);
	if (!cJSON_IsString(id) || strcmp(id->valuestring, s->deviceid))
		return wl_fail(s, "server %s for another deviceid: %.120s", action, raw);
	if (!s->srvkey[0])
		return wl_fail(s, "server %s before the register reply", action);
	if (!cJSON_IsString(key) || strcmp(key->valuestring, s->srvkey))
		return wl_fail(s, "server %s with an apikey that is not the register reply's",
			       action);
	if (!cJSON_IsString(seq) || msg_parse_seq(seq->valuestring, &sv) < 0)
		return wl_fail(s, "server %s without a decimal sequence string: %.120s", action,
			       raw);
	if (s->have_seq && sv <= s->last_seq)
		return wl_fail(s, "server %s has sequence %llu, not greater than the previous %llu",
			       action, sv, s->last_seq);
	s->have_seq = true;
	s->last_seq = sv;

	if (!strcmp(action, "upgrade"))
		return wl_upgrade(s, params, seq->valuestring);
	if (strcmp(action, "update"))
		return wl_fail(s, "unknown server action \"%s\"", action);
	sw = cJSON_IsObject(params) ? cJSON_GetObjectItemCaseSensitive(params, "switch") : NULL;
	if (!cJSON_IsString(sw) || (strcmp(sw->valuestring, "on") && strcmp(sw->valuestring, "off")))
		return wl_fail(s, "relay update without params.switch \"on\"/\"off\": %.120s", raw);
	snprintf(s->relay[0], sizeof(s->relay[0]), "%s", sw->valuestring);
	s->relay_acks++;
	return wl_send_json(s, msg_ack(s->deviceid, s->srvkey, seq->valuestring, 0));
}

/* One complete text message in s->msg. */
static int
wl_message(struct wl_sess *s)
{
	char raw[160]; /* the message as shown in failure reasons, truncated */
	size_t n = strnlen(s->msg, sizeof(raw) - 1);
	const cJSON *action;
	cJSON *o;
	int r;

	memcpy(raw, s->msg, n);
	raw[n] = '\0';
	o = cJSON_Parse(s->msg);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return wl_fail(s, "server message is not a JSON object: %.120s", raw);
	}
	action = cJSON_GetObjectItemCaseSensitive(o, "action");
	if (action && !cJSON_IsString(action))
		r = wl_fail(s, "\"action\" is not a string: %.120s", raw);
	else if (action)
		r = wl_command(s, o, action->valuestring, raw);
	else
		r = wl_reply(s, o, raw);
	cJSON_Delete(o);
	return r;
}

/* Parse the frames in s->in (server frames: unmasked, RFC 6455). */
static int
wl_ws_frames(struct wl_sess *s)
{
	while (s->inlen >= 2 && s->fd >= 0) {
		const uint8_t *p = s->in;
		bool fin = p[0] & 0x80;
		int op = p[0] & 0x0f;
		size_t h = 2, plen = p[1] & 0x7f;

		if (p[0] & 0x70)
			return wl_fail(s, "websocket: RSV bits set");
		if (p[1] & 0x80)
			return wl_fail(s, "websocket: masked frame from the server");
		if (plen == 126) {
			if (s->inlen < 4)
				return 0;
			plen = (size_t)p[2] << 8 | p[3];
			h = 4;
			if (plen < 126)
				return wl_fail(s, "websocket: non-minimal 16-bit length");
		} else if (plen == 127) {
			return wl_fail(s, "websocket: 64-bit length (messages are <= %d bytes)",
				       WS_MSG_MAX);
		}
		if (op >= 8 && (!fin || plen > 125))
			return wl_fail(s, "websocket: fragmented or long control frame");
		if (op < 8 && s->msglen * (op == 0) + plen > WS_MSG_MAX)
			return wl_fail(s, "websocket: message over %d bytes", WS_MSG_MAX);
		if (s->inlen < h + plen)
			return 0;
		p += h;
		switch (op) {
		case 0:
		case 1:
			if (op == 0 && !s->in_frag)
				return wl_fail(s, "websocket: continuation without a message");
			if (op == 1 && s->in_frag)
				return wl_fail(s, "websocket: text frame inside a fragmented message");
			if (op == 1)
				s->msglen = 0;
			memcpy(s->msg + s->msglen, p, plen);
			s->msglen += plen;
			s->in_frag = !fin;
			if (fin) {
				s->msg[s->msglen] = '\0';
				if (!ws_utf8_valid((const uint8_t *)s->msg, s->msglen) ||
				    memchr(s->msg, '\0', s->msglen))
					return wl_fail(s, "websocket: text is not valid UTF-8");
				if (wl_message(s) < 0)
					return -1;
			}
			break;
		case 2:
			return wl_fail(s, "websocket: binary frame");
		case 8:
			return wl_fail(s, "the server closed the websocket (code %d)",
				       plen >= 2 ? p[0] << 8 | p[1] : 1005);
		case 9: {
			uint8_t copy[125];

			memcpy(copy, p, plen);
			memmove(s->in, s->in + h + plen, s->inlen - h - plen);
			s->inlen -= h + plen;
			if (wl_ws_send(s, 10, copy, plen) < 0)
				return -1;
			continue;
		}
		case 10:
			if (s->ping_out && plen == sizeof(s->ping_payload) &&
			    !memcmp(p, s->ping_payload, plen))
				s->ping_out = false;
			break;
		default:
			return wl_fail(s, "websocket: reserved opcode %d", op);
		}
		memmove(s->in, s->in + h + plen, s->inlen - h - plen);
		s->inlen -= h + plen;
	}
	return 0;
}

/* ---- HTTP ------------------------------------------------------------------------- */

/* Length of a complete response head in s->in, 0 if incomplete, -1 failed. */
static int
wl_head(struct wl_sess *s, struct http_resp *resp)
{
	char err[160];
	size_t i;

	for (i = 0; i + 3 < s->inlen; i++)
		if (!memcmp(s->in + i, "\r\n\r\n", 4))
			break;
	if (i + 3 >= s->inlen) {
		if (s->inlen >= HTTP_HEAD_MAX)
			return wl_fail(s, "response head longer than %d bytes", HTTP_HEAD_MAX);
		return 0;
	}
	if (http_parse_response((const char *)s->in, i + 4, resp, err, sizeof(err)) < 0)
		return wl_fail(s, "malformed response head: %s", err);
	return (int)(i + 4);
}

static int
wl_send_dispatch(struct wl_sess *s)
{
	struct wl *wl = s->wl;
	char *body = msg_dispatch(&wl->model, s->deviceid, s->apikey,
				  (long)(wl_now_ms() - wl->t0) / 1000 + 5);
	char head[256];
	int n, r;

	if (!body)
		return wl_fail(s, "out of memory");
	/* Host: what the device was provisioned with; sonota-c tells it its own IP */
	n = snprintf(head, sizeof(head),
		     "POST /dispatch/device HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n", wl->host, strlen(body));
	r = wl_queue(s, head, (size_t)n);
	if (r == 0)
		r = wl_queue(s, body, strlen(body));
	free(body);
	if (r < 0)
		return r;
	s->phase = WL_D_HTTP;
	s->deadline = wl_now_ms() + WL_REPLY_TIMEOUT_MS;
	return wl_flush(s);
}

/* The dispatch reply (PROTOCOL §3.1): 200, {"error":0,"reason":"ok","IP":..,"port":..}. */
static int
wl_dispatch_reply(struct wl_sess *s)
{
	struct wl *wl = s->wl;
	struct http_resp resp;
	const cJSON *e, *reason, *ip, *port;
	struct in_addr ia;
	cJSON *o;
	int hl = wl_head(s, &resp);

	if (hl <= 0)
		return hl;
	if (resp.status != 200)
		return wl_fail(s, "POST /dispatch/device answered %d", resp.status);
	if (resp.te_chunked || resp.content_length < 0 ||
	    resp.content_length > WL_DISPATCH_BODY_MAX)
		return wl_fail(s, "dispatch reply without a Content-Length of at most %d bytes",
			       WL_DISPATCH_BODY_MAX);
	if (s->inlen < (size_t)hl + (size_t)resp.content_length)
		return 0;
	o = cJSON_ParseWithLength((const char *)s->in + hl, (size_t)resp.content_length);
	e = cJSON_GetObjectItemCaseSensitive(o, "error");
	reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
	ip = cJSON_GetObjectItemCaseSensitive(o, "IP");
	port = cJSON_GetObjectItemCaseSensitive(o, "port");
	if (!cJSON_IsObject(o) || !cJSON_IsNumber(e) || e->valuedouble != 0 ||
	    !cJSON_IsString(reason) || strcmp(reason->valuestring, "ok") || !cJSON_IsString(ip) ||
	    inet_pton(AF_INET, ip->valuestring, &ia) != 1 || !cJSON_IsNumber(port) ||
	    port->valuedouble < 1 || port->valuedouble > 65535 ||
	    port->valuedouble != (double)(int)port->valuedouble) {
		cJSON_Delete(o);
		return wl_fail(s, "dispatch reply is not {\"error\":0,\"reason\":\"ok\",\"IP\":<IPv4>,"
			       "\"port\":<port>}: %.*s", (int)resp.content_length, s->in + hl);
	}
	/* The device would go to IP:port; the benchmark's server advertises an address
	 * that is not reachable here, so the websocket goes to HOST:PORT instead. */
	if ((int)port->valuedouble != wl->port && !wl->dispatch_port_noted) {
		wl->dispatch_port_noted = true;
		wl_log(s, "note: dispatch names port %d, the websocket goes to %u anyway",
		       (int)port->valuedouble, wl->port);
	}
	cJSON_Delete(o);
	if (s->inlen > (size_t)hl + (size_t)resp.content_length)
		return wl_fail(s, "bytes after the dispatch reply");
	wl_disconnect(s, true);
	return wl_connect(s, WL_W_CONNECT);
}

static int
wl_send_upgrade(struct wl_sess *s)
{
	static const char req[] = "GET /api/ws HTTP/1.1\r\n"
				  "Host: " WS_DEVICE_HOST "\r\n"
				  "Connection: upgrade\r\n"
				  "Upgrade: websocket\r\n"
				  "Sec-WebSocket-Key: " WS_DEVICE_KEY "\r\n"
				  "Sec-WebSocket-Version: 13\r\n"
				  "\r\n";

	if (wl_queue(s, req, sizeof(req) - 1) < 0)
		return -1;
	s->phase = WL_W_UPGRADE;
	s->deadline = wl_now_ms() + WL_REPLY_TIMEOUT_MS;
	return wl_flush(s);
}

static int
wl_upgrade_reply(struct wl_sess *s)
{
	struct wl *wl = s->wl;
	struct http_resp resp;
	char want[64];
	int hl = wl_head(s, &resp);

	if (hl <= 0)
		return hl;
	if (resp.status != 101)
		return wl_fail(s, "GET /api/ws answered %d, not 101", resp.status);
	if (resp.minor != 1 || strcasecmp(resp.upgrade, "websocket") ||
	    !http_has_token(resp.connection, "upgrade"))
		return wl_fail(s, "101 without HTTP/1.1, Upgrade: websocket and Connection: upgrade");
	ws_accept_for(WS_DEVICE_KEY, want, sizeof(want));
	if (strcmp(resp.ws_accept, want))
		return wl_fail(s, "Sec-WebSocket-Accept \"%s\", expected \"%s\"", resp.ws_accept,
			       want);
	if (resp.ws_protocol || resp.ws_extensions)
		return wl_fail(s, "101 selects a subprotocol or extension never offered");
	memmove(s->in, s->in + hl, s->inlen - (size_t)hl);
	s->inlen -= (size_t)hl;
	s->phase = WL_WS;
	wl_expect(s, WL_STEP_REGISTER);
	if (wl_send_json(s, msg_register(&wl->model, s->deviceid, s->apikey,
					 (long)(wl_now_ms() - wl->t0) / 1000 + 6)) < 0)
		return -1;
	return wl_ws_frames(s);
}

/* ---- per-session I/O ------------------------------------------------------------ */

static int
wl_tls_start(struct wl_sess *s)
{
	char e[160];
	int r;

	mbedtls_ssl_init(&s->ssl);
	s->ssl_ready = true;
	r = mbedtls_ssl_setup(&s->ssl, &s->wl->conf);
	if (r)
		return wl_fail(s, "TLS setup: %s", wl_tls_err(r, e, sizeof(e)));
	/* no mbedtls_ssl_set_hostname(): the device sends no SNI (PROTOCOL §7) */
	mbedtls_ssl_set_bio(&s->ssl, s, wl_bio_send, wl_bio_recv, NULL);
	s->phase = s->phase == WL_D_CONNECT ? WL_D_TLS : WL_W_TLS;
	return 0;
}

static int
wl_handshake(struct wl_sess *s)
{
	char e[160];
	int r = mbedtls_ssl_handshake(&s->ssl);

	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		s->want = POLLIN;
		return 0;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		s->want = POLLOUT;
		return 0;
	}
	if (r)
		return wl_fail(s, "TLS handshake: %s", wl_tls_err(r, e, sizeof(e)));
	if (s->ssl.minor_ver > MBEDTLS_SSL_MINOR_VERSION_2)
		return wl_fail(s, "TLS version above 1.1 negotiated");
	s->want = 0;
	if (s->wl->verbose && s->phase == WL_D_TLS)
		wl_log(s, "%s, %s (no SNI)", mbedtls_ssl_get_version(&s->ssl),
		       mbedtls_ssl_get_ciphersuite(&s->ssl));
	return s->phase == WL_D_TLS ? wl_send_dispatch(s) : wl_send_upgrade(s);
}

/* Read every decrypted byte available; then hand them to the phase's parser. */
static int
wl_read(struct wl_sess *s)
{
	char e[160];

	for (;;) {
		int r;

		if (s->inlen == sizeof(s->in))
			return wl_fail(s, "%zu bytes received and nothing complete in them",
				       s->inlen);
		r = mbedtls_ssl_read(&s->ssl, s->in + s->inlen, sizeof(s->in) - s->inlen);
		if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
			return 0;
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    r == MBEDTLS_ERR_SSL_CONN_EOF || r == MBEDTLS_ERR_NET_CONN_RESET)
			return wl_fail(s, "the server closed the connection");
		if (r < 0)
			return wl_fail(s, "TLS read: %s", wl_tls_err(r, e, sizeof(e)));
		s->inlen += (size_t)r;
		switch (s->phase) {
		case WL_D_HTTP:
			r = wl_dispatch_reply(s);
			break;
		case WL_W_UPGRADE:
			r = wl_upgrade_reply(s);
			break;
		case WL_WS:
		case WL_UP:
			r = wl_ws_frames(s);
			break;
		default:
			r = wl_fail(s, "unexpected data");
			break;
		}
		/* stop when the connection went or was replaced (dispatch done) */
		if (r < 0 || s->fd < 0 || s->phase == WL_W_CONNECT)
			return r;
	}
}

static void
wl_io(struct wl_sess *s, short revents)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	switch (s->phase) {
	case WL_D_CONNECT:
	case WL_W_CONNECT:
		if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			wl_fail(s, "connect to %s:%u: %s", s->wl->host, s->wl->port,
				strerror(soerr));
			return;
		}
		if (wl_tls_start(s) < 0)
			return;
		wl_handshake(s);
		return;
	case WL_D_TLS:
	case WL_W_TLS:
		wl_handshake(s);
		return;
	default:
		break;
	}
	if ((revents & POLLOUT) && s->outoff < s->outlen && wl_flush(s) < 0)
		return;
	if (revents & (POLLIN | POLLERR | POLLHUP))
		wl_read(s);
}

/* Deadlines and pings of one session. */
static void
wl_timers(struct wl_sess *s, int64_t now)
{
	if (s->phase == WL_RETRY) {
		if (now >= s->retry_at)
			wl_connect(s, WL_D_CONNECT);
		return;
	}
	if (s->hfd >= 0 && (s->dl == WL_DL_CONNECT || s->dl == WL_DL_WAIT) && now >= s->hdeadline) {
		wl_dl_end(s, 404, "no progress for %d s at %lld of %lld bytes (%s; request %zu of "
			  "%zu bytes sent, %zu answer bytes unparsed)", WL_DL_IO_TIMEOUT_MS / 1000,
			  s->got, s->total, s->dl == WL_DL_CONNECT ? "connecting" : "waiting",
			  s->hreqoff, s->hreqlen, s->hinlen);
		return;
	}
	if (s->fd < 0)
		return;
	if (s->deadline && now >= s->deadline) {
		wl_fail(s, "timed out (%d s)", (s->phase == WL_D_CONNECT || s->phase == WL_D_TLS ||
						 s->phase == WL_W_CONNECT || s->phase == WL_W_TLS)
						    ? WL_CONNECT_TIMEOUT_MS / 1000
						    : WL_REPLY_TIMEOUT_MS / 1000);
		return;
	}
	if (s->ping_out && now >= s->pong_deadline) {
		wl_fail(s, "no pong to our ping within %d s", WL_PONG_TIMEOUT_MS / 1000);
		return;
	}
	if ((s->phase == WL_WS || s->phase == WL_UP) && s->next_ping && now >= s->next_ping) {
		if (s->ping_out) /* PROTOCOL §3.2: the server must pong before the next ping */
			return;
		dev_random(s->ping_payload, sizeof(s->ping_payload));
		s->ping_out = true;
		s->pong_deadline = now + WL_PONG_TIMEOUT_MS;
		s->next_ping = now + s->hb_ms;
		wl_ws_send(s, 9, s->ping_payload, sizeof(s->ping_payload));
	}
}

static int64_t
wl_min_deadline(const struct wl_sess *s, int64_t t)
{
	if (s->phase == WL_RETRY && s->retry_at < t)
		t = s->retry_at;
	if (s->hfd >= 0 && s->hdeadline < t)
		t = s->hdeadline;
	if (s->close_at && s->close_at < t)
		t = s->close_at;
	if (s->fd < 0)
		return t;
	if (s->deadline && s->deadline < t)
		t = s->deadline;
	if (s->ping_out && s->pong_deadline < t)
		t = s->pong_deadline;
	if (s->next_ping && s->next_ping < t)
		t = s->next_ping;
	return t;
}

static void
wl_start(struct wl *wl, struct wl_sess *s)
{
	s->t_start = wl_now_ms();
	wl->started++;
	wl->setting_up++;
	wl_connect(s, WL_D_CONNECT);
}

/* ---- main ------------------------------------------------------------------------ */

static void
wl_usage(FILE *f)
{
	fprintf(f,
		"usage: wssload HOST PORT N [--hold S] [--deviceid-prefix P] [--parallel K]\n"
		"               [--timeout S] [--ping S] [--download] [--keys-file FILE] [-v]\n"
		"Open N concurrent stock-Sonoff sessions (dispatch + websocket dialogue up to\n"
		"the upgrade command, which is not acked) to the TLS port HOST:PORT, print\n"
		"\"wssload: N sessions up\" when all are up and hold them.\n"
		"  --hold S             hold S seconds, then exit (default: until SIGTERM/SIGINT)\n"
		"  --deviceid-prefix P  6 lower-case hex digits; session i is P + i in 4 hex\n"
		"                       digits (default 1000f0)\n"
		"  --parallel K         sessions being set up at once (default 32)\n"
		"  --timeout S          all N must be up within S seconds (default 60)\n"
		"  --ping S             ping period of the held sessions (default: the\n"
		"                       server's hbInterval, 145 s without one)\n"
		"  --download           also download the image with 4 KB Ranges, check its\n"
		"                       SHA-256 and ack the upgrade (0, or 404 and retry);\n"
		"                       exit when every device is done or failed\n"
		"  --attempts N         downloads per device before it gives up (default 3)\n"
		"  --ack-error E        do not download: ack every upgrade with error E\n"
		"  --keys-file FILE     append every apikey seen (device and server) to FILE\n"
		"  -v                   log every session's progress\n"
		"Exit: 0 all N came up (--download: completed) and none was lost; 1 otherwise;\n"
		"2 usage.\n");
}

static int
wl_uint(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
wl_args(struct wl *wl, int argc, char **argv, const char **ret_keys)
{
	const char *pos[3];
	unsigned npos = 0;
	long v;

	wl->hold_s = -1;
	wl->parallel = 32;
	wl->timeout_s = 60;
	snprintf(wl->prefix, sizeof(wl->prefix), "1000f0");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' || !a[1]) {
			if (npos == 3)
				goto bad;
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			wl_usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "-v")) {
			wl->verbose = true;
			continue;
		}
		if (!strcmp(a, "--download")) {
			wl->download = true;
			continue;
		}
		if (!val)
			goto bad;
		i++;
		if (!strcmp(a, "--hold") && !wl_uint(val, 0, 86400 * 365, &v))
			wl->hold_s = (int)v;
		else if (!strcmp(a, "--parallel") && !wl_uint(val, 1, WL_N_MAX, &v))
			wl->parallel = (unsigned)v;
		else if (!strcmp(a, "--timeout") && !wl_uint(val, 1, 86400, &v))
			wl->timeout_s = (int)v;
		else if (!strcmp(a, "--ping") && !wl_uint(val, 1, 86400, &v))
			wl->ping_s = (int)v;
		else if (!strcmp(a, "--attempts") && !wl_uint(val, 1, 1000, &v))
			wl->attempts_max = (unsigned)v;
		else if (!strcmp(a, "--ack-error") && !wl_uint(val, 1, 100000, &v))
			wl->ack_error = (int)v;
		else if (!strcmp(a, "--keys-file"))
			*ret_keys = val;
		else if (!strcmp(a, "--deviceid-prefix") && strlen(val) == WL_PREFIX_LEN &&
			 strspn(val, "0123456789abcdef") == WL_PREFIX_LEN)
			snprintf(wl->prefix, sizeof(wl->prefix), "%s", val);
		else
			goto bad;
	}
	if (npos != 3 || (!wl->download && (wl->attempts_max || wl->ack_error)))
		goto bad;
	if (!wl->attempts_max)
		wl->attempts_max = WL_ATTEMPTS_MAX;
	wl->host = pos[0];
	if (inet_pton(AF_INET, wl->host, &wl->addr.sin_addr) != 1) {
		fprintf(stderr, "wssload: HOST must be an IPv4 address, not \"%s\"\n", wl->host);
		return -EINVAL;
	}
	wl->addr.sin_family = AF_INET;
	if (wl_uint(pos[1], 1, 65535, &v))
		goto bad;
	wl->port = (uint16_t)v;
	wl->addr.sin_port = htons(wl->port);
	if (wl_uint(pos[2], 1, WL_N_MAX, &v))
		goto bad;
	wl->n = (unsigned)v;
	return 0;
bad:
	wl_usage(stderr);
	return -EINVAL;
}

/* Enough descriptors: one socket per session at a time, plus a few. */
static int
wl_fd_limit(unsigned n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur < (rlim_t)n + 16) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (rlim_t)n + 16
				      ? (rlim_t)n + 16
				      : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)n + 16)
			return -EMFILE;
	}
	return 0;
}

static int
wl_tls_init(struct wl *wl)
{
	static const char pers[] = "wssload";
	int r;

	mbedtls_entropy_init(&wl->entropy);
	mbedtls_ctr_drbg_init(&wl->drbg);
	mbedtls_ssl_config_init(&wl->conf);
	r = mbedtls_ctr_drbg_seed(&wl->drbg, mbedtls_entropy_func, &wl->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1);
	if (r == 0)
		r = mbedtls_ssl_config_defaults(&wl->conf, MBEDTLS_SSL_IS_CLIENT,
						MBEDTLS_SSL_TRANSPORT_STREAM,
						MBEDTLS_SSL_PRESET_DEFAULT);
	if (r)
		return -EIO;
	/* The stock firmware (PROTOCOL §7): TLS 1.0..1.1, RSA AES-CBC-SHA, no SNI, no
	 * certificate check, none of the newer extensions. */
	mbedtls_ssl_conf_min_version(&wl->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_1);
	mbedtls_ssl_conf_max_version(&wl->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_2);
	mbedtls_ssl_conf_ciphersuites(&wl->conf, wl_suites);
	mbedtls_ssl_conf_authmode(&wl->conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&wl->conf, mbedtls_ctr_drbg_random, &wl->drbg);
	mbedtls_ssl_conf_session_tickets(&wl->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
	mbedtls_ssl_conf_encrypt_then_mac(&wl->conf, MBEDTLS_SSL_ETM_DISABLED);
	mbedtls_ssl_conf_extended_master_secret(&wl->conf, MBEDTLS_SSL_EXTENDED_MS_DISABLED);
	return 0;
}

/* Where the sessions that are not up stand, for the final report. */
static void
wl_summary(struct wl *wl, const char *why)
{
	unsigned count[WL_LOST + 1] = { 0 };
	char detail[512] = "";
	size_t off = 0;

	for (unsigned i = 0; i < wl->n; i++)
		count[wl->sess[i].phase]++;
	for (int p = WL_IDLE; p <= (wl->download ? WL_RETRY : WL_WS); p++)
		if (count[p] && off < sizeof(detail))
			off += (size_t)snprintf(detail + off, sizeof(detail) - off, ", %u in %s",
						count[p], wl_phase_name[p]);
	fprintf(stderr, "wssload: %s: %u sessions: %u up, %u failed, %u lost after coming up%s\n",
		why, wl->n, wl->up, wl->failed, wl->lost, detail);
}

int
main(int argc, char **argv)
{
	struct wl wl = { 0 };
	struct pollfd *pfd;
	unsigned *who, next = 0;
	const char *keys = NULL;
	struct sigaction sa = { .sa_handler = wl_on_signal };
	sigset_t block, waitmask;
	int rc = 1;

	if (wl_args(&wl, argc, argv, &keys) < 0)
		return 2;
	/* --download: a websocket and an image server connection per session */
	if (wl_fd_limit(wl.n * (wl.download ? 2 : 1)) < 0) {
		fprintf(stderr, "wssload: cannot raise the descriptor limit to %u\n",
			wl.n * (wl.download ? 2 : 1) + 16);
		return 1;
	}
	if (keys) {
		wl.keys = fopen(keys, "a");
		if (!wl.keys) {
			fprintf(stderr, "wssload: %s: %s\n", keys, strerror(errno));
			return 1;
		}
		setvbuf(wl.keys, NULL, _IOLBF, 0);
	}
	model_defaults(&wl.model); /* ITA-GZ1-GL, 1.5.5, slot 1, switch off */
	if (wl_tls_init(&wl) < 0) {
		fprintf(stderr, "wssload: cannot set up mbedTLS\n");
		return 1;
	}
	wl.sess = calloc(wl.n, sizeof(*wl.sess));
	pfd = calloc(2 * (size_t)wl.n, sizeof(*pfd));
	who = calloc(2 * (size_t)wl.n, sizeof(*who));
	if (!wl.sess || !pfd || !who) {
		fprintf(stderr, "wssload: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < wl.n; i++) {
		struct wl_sess *s = &wl.sess[i];

		s->wl = &wl;
		s->idx = i;
		s->fd = -1;
		s->hfd = -1;
		snprintf(s->deviceid, sizeof(s->deviceid), "%s%04x", wl.prefix, i & 0xffffu);
		dev_uuid4(s->apikey);
		if (wl.keys)
			fprintf(wl.keys, "device %s %s\n", s->deviceid, s->apikey);
		snprintf(s->relay[0], sizeof(s->relay[0]), "off");
	}

	/* SIGTERM/SIGINT are only delivered inside ppoll(), so none is missed between
	 * checking wl_stop and going to sleep. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	wl.t0 = wl_now_ms();
	for (;;) {
		int64_t now = wl_now_ms(), until;
		struct timespec ts;
		unsigned np = 0;
		int r;

		if (wl_stop) {
			if (wl.announced && !wl.failed && !wl.lost) {
				fprintf(stderr, "wssload: %s: %u sessions held until now, closing\n",
					strsignal(wl_stop), wl.n);
				rc = 0;
			} else {
				wl_summary(&wl, strsignal(wl_stop));
			}
			break;
		}
		if (wl.announced && wl.hold_end && now >= wl.hold_end) {
			if (!wl.lost)
				fprintf(stderr, "wssload: %u sessions held for %d s, closing\n", wl.n,
					wl.hold_s);
			else
				wl_summary(&wl, "end of --hold");
			rc = wl.lost ? 1 : 0;
			break;
		}
		if (wl.download && wl.done + wl.failed + wl.lost == wl.n) {
			printf("wssload: %u of %u devices completed with verified digests after "
			       "%.1f s; %u moved to the slow stream; %u failed downloads (ack 404)\n",
			       wl.done, wl.n, (double)(now - wl.t0) / 1000, wl.slow, wl.acks404);
			fflush(stdout);
			if (wl.done != wl.n)
				wl_summary(&wl, "not every device completed");
			rc = wl.done == wl.n ? 0 : 1;
			break;
		}
		if (!wl.download && !wl.announced && (wl.failed || wl.lost) &&
		    wl.up + wl.failed + wl.lost == wl.n) {
			wl_summary(&wl, "not every session came up");
			break;
		}
		if (!wl.announced && now - wl.t0 >= (int64_t)wl.timeout_s * 1000) {
			if (wl.download)
				printf("wssload: %u of %u devices completed with verified digests "
				       "before --timeout %d s; %u moved to the slow stream; %u failed "
				       "downloads (ack 404)\n", wl.done, wl.n, wl.timeout_s, wl.slow,
				       wl.acks404);
			wl_summary(&wl, wl.download ? "--timeout reached before every device was done"
						    : "--timeout reached before all sessions were up");
			break;
		}
		if (wl.announced && wl.up == 0) {
			wl_summary(&wl, "every session was lost");
			break;
		}

		while (next < wl.n && wl.setting_up < wl.parallel && !wl.announced)
			wl_start(&wl, &wl.sess[next++]);

		until = now + WL_TICK_MS;
		if (wl.hold_end && wl.hold_end < until)
			until = wl.hold_end;
		for (unsigned i = 0; i < next; i++) {
			struct wl_sess *s = &wl.sess[i];

			until = wl_min_deadline(s, until);
			if (s->hfd >= 0) {
				pfd[np].fd = s->hfd;
				pfd[np].events = (short)(POLLIN |
							 (s->dl == WL_DL_CONNECT ||
							  s->hreqoff < s->hreqlen ? POLLOUT : 0));
				pfd[np].revents = 0;
				who[np++] = 2 * i + 1;
			}
			if (s->fd < 0)
				continue;
			pfd[np].fd = s->fd;
			pfd[np].events = (short)(POLLIN | s->want |
						 (s->outoff < s->outlen ? POLLOUT : 0));
			pfd[np].revents = 0;
			who[np++] = 2 * i;
		}
		until = until > now ? until - now : 0;
		ts.tv_sec = (time_t)(until / 1000);
		ts.tv_nsec = (long)(until % 1000) * 1000000;
		r = ppoll(pfd, np, &ts, &waitmask);
		if (r < 0 && errno != EINTR) {
			perror("wssload: ppoll");
			break;
		}
		for (unsigned k = 0; r > 0 && k < np; k++) {
			struct wl_sess *s = &wl.sess[who[k] / 2];

			/* the fd may have been closed (and reused) by an earlier session's I/O
			 * in this round: only act on the session's own current socket */
			if (!pfd[k].revents)
				continue;
			if (who[k] % 2 && s->hfd == pfd[k].fd)
				wl_dl_io(s, pfd[k].revents);
			else if (!(who[k] % 2) && s->fd == pfd[k].fd)
				wl_io(s, pfd[k].revents);
		}
		now = wl_now_ms();
		for (unsigned i = 0; i < next; i++) {
			wl_timers(&wl.sess[i], now);
			wl_after_io(&wl.sess[i], now);
		}

		if (!wl.download && !wl.announced && wl.up == wl.n) {
			wl.announced = true;
			fprintf(stderr, "wssload: all %u sessions up after %.1f s\n", wl.n,
				(double)(now - wl.t0) / 1000);
			printf("wssload: %u sessions up\n", wl.n);
			fflush(stdout);
			if (wl.hold_s >= 0)
				wl.hold_end = now + (int64_t)wl.hold_s * 1000;
		}
	}

	for (unsigned i = 0; i < wl.n; i++) {
		wl_disconnect(&wl.sess[i], true);
		wl_dl_close(&wl.sess[i]);
		free(wl.sess[i].out);
		free(wl.sess[i].img);
	}
	if (wl.keys)
		fclose(wl.keys);
	free(who);
	free(pfd);
	free(wl.sess);
	mbedtls_ssl_config_free(&wl.conf);
	mbedtls_ctr_drbg_free(&wl.drbg);
	mbedtls_entropy_free(&wl.entropy);
	return rc;
}

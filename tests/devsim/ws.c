/* ws: WebSocket client framing (RFC 6455), strict.
 *
 * Violations that make the device drop the connection and count as a server bug
 * (DEV_EXIT_PROTOCOL): masked server frames, RSV bits, unknown or binary opcodes,
 * fragmented or oversized control frames, continuation without a start, messages larger
 * than WS_MSG_MAX, invalid UTF-8 in text, a wrong Sec-WebSocket-Accept.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "conn.h"
#include "devsim.h"
#include "http.h"
#include "ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void
ws_accept_for(const char *key, char *out, size_t cap)
{
	unsigned char sha[20];
	char cat[128];
	size_t olen = 0;

	snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);
	mbedtls_sha1_ret((const unsigned char *)cat, strlen(cat), sha);
	if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, sha, sizeof(sha)))
		olen = 0;
	out[olen < cap ? olen : cap - 1] = '\0';
}

bool
ws_utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			k = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			k = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k + 1;
	}
	return true;
}

int
ws_handshake(struct ws *w, struct conn *c, struct devsim *d, int timeout_ms)
{
	static const char req[] =
		"GET /api/ws HTTP/1.1\r\n"
		"Host: " WS_DEVICE_HOST "\r\n"
		"Connection: upgrade\r\n"
		"Upgrade: websocket\r\n"
		"Sec-WebSocket-Key: " WS_DEVICE_KEY "\r\n"
		"Sec-WebSocket-Version: 13\r\n"
		"\r\n";
	struct http_resp resp;
	char want[64], err[160];
	int hl, r;

	memset(w, 0, sizeof(*w));
	w->c = c;
	w->d = d;
	r = conn_write_all(c, req, sizeof(req) - 1, timeout_ms);
	if (r < 0)
		return r;
	hl = conn_read_head(c, HTTP_HEAD_MAX, timeout_ms);
	if (hl == 0)
		return -ECONNRESET;
	if (hl == -EBADMSG)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: response head "
				"malformed or longer than %d bytes", HTTP_HEAD_MAX);
	if (hl < 0)
		return hl;
	if (http_parse_response((const char *)conn_data(c), (size_t)hl, &resp, err,
				sizeof(err)) < 0)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: %s", err);
	conn_consume(c, (size_t)hl);
	if (resp.status != 101)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade answered %d, not 101",
				resp.status);
	if (resp.minor != 1)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade answered in HTTP/1.0");
	if (strcasecmp(resp.upgrade, "websocket"))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: Upgrade is \"%s\", "
				"not \"websocket\"", resp.upgrade);
	if (!http_has_token(resp.connection, "upgrade"))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: Connection is \"%s\", "
				"without \"upgrade\"", resp.connection);
	ws_accept_for(WS_DEVICE_KEY, want, sizeof(want));
	if (strcmp(resp.ws_accept, want))
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: Sec-WebSocket-Accept "
				"\"%s\", expected \"%s\"", resp.ws_accept, want);
	if (resp.ws_protocol || resp.ws_extensions)
		return dev_fail(d, DEV_EXIT_PROTOCOL, "WebSocket upgrade: server selected a "
				"subprotocol or extension the device never offered");
	dev_dbg(d, "WebSocket upgrade ok");
	return 0;
}

size_t
ws_frame_client(uint8_t *frame, size_t cap, int opcode, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint8_t mask[4];
	size_t h = 0;

	if (len > WS_MSG_MAX || cap < 8 + len)
		return 0;
	frame[h++] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		frame[h++] = (uint8_t)(0x80 | len);
	} else {
		frame[h++] = 0x80 | 126;
		frame[h++] = (uint8_t)(len >> 8);
		frame[h++] = (uint8_t)len;
	}
	dev_random(mask, sizeof(mask));
	memcpy(frame + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		frame[h + i] = p[i] ^ mask[i & 3];
	return h + len;
}

int
ws_send(struct ws *w, int opcode, const void *data, size_t len)
{
	uint8_t frame[14 + WS_MSG_MAX];
	size_t n = ws_frame_client(frame, sizeof(frame), opcode, data, len);

	if (!n)
		return -EMSGSIZE;
	if (opcode == 8)
		w->close_sent = true;
	return conn_write_all(w->c, frame, n, WS_FRAME_TIMEOUT_MS);
}

/* Make sure n bytes are buffered, waiting until end. 0, -ECONNRESET on EOF, -errno. */
static int
need(struct ws *w, size_t n, int64_t end)
{
	while (conn_avail(w->c) < n) {
		int64_t left = end - conn_now_ms();
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = conn_fill(w->c, (int)left);
		if (r == 0)
			return -ECONNRESET;
		if (r < 0)
			return r;
	}
	return 0;
}

static int
violation(struct ws *w, const char *what)
{
	return dev_fail(w->d, DEV_EXIT_PROTOCOL, "WebSocket violation by the server: %s", what);
}

int
ws_recv(struct ws *w, int timeout_ms, enum ws_event *ret_ev)
{
	struct devsim *d = w->d;
	const uint8_t *p;
	uint64_t plen;
	size_t h = 2;
	int64_t end;
	int op, r;
	bool fin;

	if (!conn_avail(w->c)) {
		r = conn_fill(w->c, timeout_ms);
		if (r == -ETIMEDOUT && !d->failed) {
			*ret_ev = WS_EV_NONE;
			return 0;
		}
		if (r == 0) {
			*ret_ev = WS_EV_CLOSED;
			return 0;
		}
		if (r < 0)
			return r;
	}
	end = conn_now_ms() + WS_FRAME_TIMEOUT_MS;
	r = need(w, 2, end);
	if (r < 0)
		goto trunc;
	p = conn_data(w->c);
	fin = p[0] & 0x80;
	op = p[0] & 0x0F;
	if (p[0] & 0x70)
		return violation(w, "RSV bits set (no extension was negotiated)");
	if (p[1] & 0x80)
		return violation(w, "masked frame from the server");
	plen = p[1] & 0x7F;
	if (plen == 126) {
		h = 4;
		r = need(w, h, end);
		if (r < 0)
			goto trunc;
		p = conn_data(w->c);
		plen = (uint64_t)p[2] << 8 | p[3];
		if (plen < 126)
			return violation(w, "non-minimal 16-bit length");
	} else if (plen == 127) {
		h = 10;
		r = need(w, h, end);
		if (r < 0)
			goto trunc;
		p = conn_data(w->c);
		plen = 0;
		for (int i = 2; i < 10; i++)
			plen = plen << 8 | p[i];
		if (plen >> 63)
			return violation(w, "64-bit length with the top bit set");
		if (plen < 65536)
			return violation(w, "non-minimal 64-bit length");
	}
	if (op >= 8) {
		if (!fin)
			return violation(w, "fragmented control frame");
		if (plen > 125)
			return violation(w, "control frame longer than 125 bytes");
	}
	switch (op) {
	case 0:
		if (!w->in_frag)
			return violation(w, "continuation frame without a started message");
		break;
	case 1:
		if (w->in_frag)
			return violation(w, "new text frame inside a fragmented message");
		w->msg_len = 0;
		break;
	case 2:
		return violation(w, "binary frame (the device only speaks JSON text)");
	case 8: case 9: case 10:
		break;
	default:
		return violation(w, "reserved opcode");
	}
	if (op < 8 && w->msg_len + plen > WS_MSG_MAX) {
		char what[96];

		snprintf(what, sizeof(what), "message larger than %d bytes (%llu)", WS_MSG_MAX,
			 (unsigned long long)(w->msg_len + plen));
		return violation(w, what);
	}
	r = need(w, h + (size_t)plen, end);
	if (r < 0)
		goto trunc;
	p = conn_data(w->c) + h;

	*ret_ev = WS_EV_NONE;
	switch (op) {
	case 0: case 1:
		memcpy(w->msg + w->msg_len, p, (size_t)plen);
		w->msg_len += (size_t)plen;
		w->in_frag = !fin;
		if (fin) {
			w->msg[w->msg_len] = '\0';
			if (!ws_utf8_valid((const uint8_t *)w->msg, w->msg_len)) {
				conn_consume(w->c, h + (size_t)plen);
				return violation(w, "text message is not valid UTF-8");
			}
			if (memchr(w->msg, '\0', w->msg_len)) {
				conn_consume(w->c, h + (size_t)plen);
				return violation(w, "text message contains NUL");
			}
			*ret_ev = WS_EV_TEXT;
		}
		break;
	case 8:
		w->close_code = plen >= 2 ? (p[0] << 8 | p[1]) : 1005;
		if (plen == 1) {
			conn_consume(w->c, h + (size_t)plen);
			return violation(w, "close frame with a 1-byte payload");
		}
		dev_log(d, "WebSocket close frame from the server (code %d)", w->close_code);
		if (!w->close_sent) {
			uint8_t code[2] = { (uint8_t)(w->close_code >> 8), (uint8_t)w->close_code };

			if (w->close_code == 1005)
				ws_send(w, 8, NULL, 0);
			else
				ws_send(w, 8, code, 2);
		}
		*ret_ev = WS_EV_CLOSED;
		break;
	case 9: {
		uint8_t copy[125];

		memcpy(copy, p, (size_t)plen);
		conn_consume(w->c, h + (size_t)plen);
		dev_dbg(d, "ping from the server (%llu bytes), pong", (unsigned long long)plen);
		return ws_send(w, 10, copy, (size_t)plen);
	}
	case 10:
		memcpy(w->pong, p, (size_t)plen);
		w->pong_len = (size_t)plen;
		*ret_ev = WS_EV_PONG;
		break;
	}
	conn_consume(w->c, h + (size_t)plen);
	return 0;
trunc:
	if (r == -ECONNRESET) {
		dev_log(d, "WebSocket: connection closed in the middle of a frame");
		*ret_ev = WS_EV_CLOSED;
		return 0;
	}
	if (r == -ETIMEDOUT && !d->failed)
		return violation(w, "frame not completed within 10 s");
	return r;
}

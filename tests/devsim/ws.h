/* ws: RFC 6455 client side as the stock firmware does it (PROTOCOL §3.2). */
#ifndef DEVSIM_WS_H
#define DEVSIM_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;
struct devsim;

/* Largest reassembled message the device accepts. The NONOS TLS buffer is 2 KB by default
 * and the server's biggest frame (upgrade) is about 600 bytes (PROTOCOL §3.4, §7); 4 KB
 * leaves room for a verbose server and still catches runaway frames. */
#define WS_MSG_MAX 4096
/* Once the first byte of a frame arrived, the rest must follow within this time. */
#define WS_FRAME_TIMEOUT_MS 10000
/* The constant key of the captured device handshake (PROTOCOL §3.2). */
#define WS_DEVICE_KEY "ITEADTmobiM0x1DabcEsnw=="
/* Host header of the device's upgrade request, whatever the server (PROTOCOL §3.2). */
#define WS_DEVICE_HOST "iotgo.iteadstudio.com"

enum ws_event {
	WS_EV_NONE,			/* timeout or a control frame handled internally */
	WS_EV_TEXT,			/* a complete text message in ws->msg */
	WS_EV_PONG,			/* a pong, payload in ws->pong */
	WS_EV_CLOSED,			/* close frame received (answered) or TCP closed */
};

struct ws {
	struct conn *c;
	struct devsim *d;
	char msg[WS_MSG_MAX + 1];	/* reassembled text message, NUL-terminated */
	size_t msg_len;
	bool in_frag;			/* inside a fragmented text message */
	bool close_sent;
	uint8_t pong[125];		/* payload of the last pong */
	size_t pong_len;
	int close_code;			/* code of a received close frame, 0 if none */
};

/* Upgrade conn to a WebSocket (request of §3.2; requires a correct 101). 0; -EPROTO after
 * recording DEV_EXIT_PROTOCOL; other -errno for connection problems. */
int ws_handshake(struct ws *w, struct conn *c, struct devsim *d, int timeout_ms);
/* Send one masked frame (opcode 1 text, 8 close, 9 ping, 10 pong). 0 or -errno. */
int ws_send(struct ws *w, int opcode, const void *data, size_t len);
/* One final, masked client frame (PROTOCOL §3.2: the device is the client) of at
 * most WS_MSG_MAX payload bytes into frame[cap]; its length, 0 when it does not fit. */
size_t ws_frame_client(uint8_t *frame, size_t cap, int opcode, const void *data, size_t len);
/* Process at most one incoming frame, waiting up to timeout_ms for its first byte. Pings
 * are answered here. 0 with *ret_ev set; -EPROTO after recording DEV_EXIT_PROTOCOL for an
 * RFC 6455 violation; other -errno. */
int ws_recv(struct ws *w, int timeout_ms, enum ws_event *ret_ev);
/* Pure: RFC 6455 Sec-WebSocket-Accept for key into out (>= 29 bytes). */
void ws_accept_for(const char *key, char *out, size_t cap);
/* Pure: true if s[0..n) is valid UTF-8. */
bool ws_utf8_valid(const uint8_t *s, size_t n);

#endif

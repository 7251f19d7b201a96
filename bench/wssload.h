/* wssload.h: the load client's shared state (bench/wssload.c, bench/wldl.c): limits, one
 * session, the whole client, and the functions the two files call across. Not an API:
 * bench/wssload.c's header comment describes the program. */
#ifndef WSSLOAD_H
#define WSSLOAD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>

#include "devsim.h"
#include "model.h"
#include "msg.h"
#include "ws.h"

#define WL_CONNECT_TIMEOUT_MS 10000 /* TCP connect + TLS handshake */
#define WL_REPLY_TIMEOUT_MS 10000   /* dispatch reply, 101, each dialogue reply, upgrade */
#define WL_PONG_TIMEOUT_MS 10000    /* our ping's pong */
#define WL_DISPATCH_BODY_MAX 1024   /* dispatch reply body (four short fields) */
#define WL_IN_MAX 16384             /* received plaintext not yet parsed */
#define WL_PREFIX_LEN 6             /* deviceid = prefix (6 hex) + session number (4 hex) */
#define WL_N_MAX 65536              /* 4 hex digits of session number */
#define WL_TICK_MS 1000             /* longest poll() sleep */
/* --download (PROTOCOL.md §4) */
#define WL_RANGE_CHUNK 4096         /* bytes per Range request: the stock firmware's ~4 KB */
#define WL_DL_IO_TIMEOUT_MS 10000   /* no byte of the download for this long: failed (devsim's) */
#define WL_IMAGE_MAX 0x7B000        /* largest user image a slot holds */
#define WL_ATTEMPTS_MAX 3           /* downloads per device before it gives up (devsim's 3) */
#define WL_RETRY_MS 1000            /* reconnect delay after an ack 404 (devsim's 1 s) */
#define WL_HIN_MAX 16384            /* HTTP answer bytes received, not yet consumed */
/* After the ack is written the websocket stays (serviced) this long before it is dropped:
 * the device writes its flash before it reboots, and closing a socket with unread bytes
 * sends a RST that makes the server's kernel drop the ack it has not read yet. */
#define WL_ACK_LINGER_MS 500

enum wl_phase {
	WL_IDLE,        /* not started yet */
	WL_D_CONNECT,   /* TCP connect for the dispatch */
	WL_D_TLS,       /* its TLS handshake */
	WL_D_HTTP,      /* POST /dispatch/device sent, reading the reply */
	WL_W_CONNECT,   /* TCP connect for the websocket */
	WL_W_TLS,       /* its TLS handshake */
	WL_W_UPGRADE,   /* GET /api/ws sent, reading the 101 */
	WL_WS,          /* websocket dialogue, not up yet */
	WL_UP,          /* upgrade received, dialogue done: held (--download: downloading) */
	WL_RETRY,       /* --download: acked 404, reconnecting after WL_RETRY_MS */
	WL_DONE,        /* --download: image verified, acked 0, websocket dropped */
	WL_FAILED,      /* failed before coming up */
	WL_LOST,        /* failed after coming up */
};

/* --download: the image download's state (its own plain TCP connection). */
enum wl_dl {
	WL_DL_NONE,     /* no download */
	WL_DL_CONNECT,  /* TCP connect to the image server */
	WL_DL_WAIT,     /* a Range request sent (maybe partly), reading its answer */
	WL_DL_END,      /* finished (the ack is being sent) */
};

/* Dialogue step: the device message whose reply is awaited. */
enum wl_step {
	WL_STEP_REGISTER,
	WL_STEP_DATE,
	WL_STEP_UPDATE,
	WL_STEP_QUERY,
	WL_STEP_DONE, /* every reply received */
};

struct wl;

/* One simulated device. */
struct wl_sess {
	struct wl *wl;
	unsigned idx;                  /* session number, 0..N-1 */
	enum wl_phase phase;
	char deviceid[WL_PREFIX_LEN + 5];
	char apikey[DEV_UUID_LEN + 1]; /* the device's own key (UUID v4) */
	char srvkey[DEV_UUID_LEN + 1]; /* the key from the register reply, "" before */
	int fd;                        /* -1 when no connection */
	bool ssl_ready;                /* ssl set up (to be freed) */
	mbedtls_ssl_context ssl;
	int64_t deadline;              /* end of the current wait, 0 none */
	int64_t t_start, t_up;         /* monotonic ms */
	/* received plaintext: in[0..inlen) */
	uint8_t in[WL_IN_MAX];
	size_t inlen;
	/* plaintext to send: out[outoff..outlen) */
	uint8_t *out;
	size_t outlen, outoff, outcap;
	size_t wpending;               /* length of an mbedtls_ssl_write() to repeat, 0 none */
	short want;                    /* extra poll events mbedTLS asked for */
	/* websocket */
	enum wl_step step;
	char msg[WS_MSG_MAX + 1];      /* text message being reassembled */
	size_t msglen;
	bool in_frag;
	bool have_upgrade;
	bool have_seq;
	unsigned long long last_seq;   /* highest server sequence seen */
	unsigned relay_acks;           /* server relay updates acked */
	char relay[4][4];              /* "on"/"off" */
	int hb_ms;                     /* our ping period */
	int64_t next_ping;             /* when to ping, 0 before the register reply */
	bool ping_out;                 /* a ping awaits its pong */
	uint8_t ping_payload[4];
	int64_t pong_deadline;
	/* --download */
	struct msg_upgrade upg;        /* the upgrade being executed */
	enum wl_dl dl;
	int hfd;                       /* image server connection, -1 none */
	bool hreused;                  /* it answered a request before (one resend allowed) */
	bool hhead;                    /* the head of the current answer is parsed */
	bool hclose;                   /* ... and said Connection: close */
	long long hbody_left;          /* body bytes of the current answer still to come */
	long long req_first, req_last; /* the current Range */
	uint8_t *img;                  /* the image, total bytes (malloc'd, freed at the end) */
	long long total, got;
	int64_t hdeadline;             /* no progress until then: failed */
	char hreq[MSG_URL_MAX + 384];  /* request being sent: hreq[hreqoff..hreqlen) */
	size_t hreqlen, hreqoff;
	uint8_t hin[WL_HIN_MAX];
	size_t hinlen;
	char sign[65];                 /* the request's sign= (random, fixed per device) */
	unsigned attempts;             /* downloads started */
	bool got_slow;                 /* an upgrade named /slowota/ URLs */
	int ack_error;                 /* the ack queued when closing */
	bool closing;                  /* ack queued: drop the websocket once it is sent */
	int64_t close_at;              /* ... at this time (WL_ACK_LINGER_MS after), 0 not yet */
	int64_t retry_at;              /* WL_RETRY: when to reconnect */
	char dlerr[200];               /* last download failure */
};

/* The whole load client. */
struct wl {
	const char *host;
	uint16_t port;
	struct sockaddr_in addr;
	unsigned n;
	int hold_s;                  /* --hold, -1 = until a signal */
	unsigned parallel;           /* sessions in setup at once */
	int timeout_s;               /* all N up within this, from the start */
	int ping_s;                  /* --ping, 0 = the server's hbInterval */
	bool verbose;
	char prefix[WL_PREFIX_LEN + 1];
	struct model model;          /* ITA-GZ1-GL 1.5.5, switch off */
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config conf;     /* shared by every connection, read-only once set up */
	struct wl_sess *sess;
	unsigned started, up, failed, lost;
	unsigned setting_up;         /* started, neither up nor failed */
	int64_t t0;
	bool announced;
	int64_t hold_end;            /* 0 = until a signal */
	bool dispatch_port_noted;
	bool download;               /* --download */
	unsigned attempts_max;       /* --attempts, WL_ATTEMPTS_MAX by default */
	int ack_error;               /* --ack-error: ack every upgrade with it, 0 = download */
	unsigned done, slow, acks404; /* --download: verified, moved to /slowota/, acks 404 */
	FILE *keys;                  /* --keys-file, line-buffered, NULL none */
};

/* ---- wssload.c --------------------------------------------------------------------- */
/* Monotonic milliseconds. */
int64_t wl_now_ms(void);
/* One stderr line "wssload: session I (DEVICEID) PHASE: ...". */
void wl_log(struct wl_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Record the first failure of a session and end it; returns -1 for chaining. */
int wl_fail(struct wl_sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the websocket/dispatch connection (close_notify first when graceful). */
void wl_disconnect(struct wl_sess *s, bool graceful);
/* Send a device JSON message on the websocket (heap string from msg_*, freed here). */
int wl_send_json(struct wl_sess *s, char *json);

/* ---- wldl.c (--download) ----------------------------------------------------------- */
/* Close the image server connection. */
void wl_dl_close(struct wl_sess *s);
/* The upgrade is in and the dialogue done: start downloading s->upg (or ack --ack-error). */
int wl_dl_start(struct wl_sess *s);
/* End the download: ack error (0 verified, else as the device), drop the websocket later. */
int wl_dl_end(struct wl_sess *s, int error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* I/O on the image server connection. */
void wl_dl_io(struct wl_sess *s, short revents);
/* After I/O: once the ack is out (and WL_ACK_LINGER_MS later), done or reconnect. */
void wl_after_io(struct wl_sess *s, int64_t now);

#endif

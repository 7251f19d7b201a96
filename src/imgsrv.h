/* imgsrv: the plain-HTTP image server (libmicrohttpd on its own polling threads).
 *
 * Serves a fixed set of in-memory files, never the filesystem:
 *   GET|HEAD /ota/<name>      Range per range.h: 206 / 416 / 200 (PROTOCOL.md §4, §5.3)
 *   GET|HEAD /slowota/<name>  whole file, 200, paced like SonOTA (PROTOCOL.md §3.6)
 *   POST /dispatch/device     only with legacy_dispatch: the plain-HTTP dispatch reply (§1.3, §3.1)
 *   POST /api/device/otaFlash only with diy_completion: a DIY device's flash result (docs/diy.md)
 * <name> must be byte-for-byte one of the configured names. The path is matched as it
 * arrived, without percent-decoding (so "%2e%2e", "image%5fuser1..." never match), and
 * the query string (the device's ?deviceid=&ts=&sign=) is cut off by MHD and ignored.
 * Everything else is 404, including trailing slashes, "//", "/OTA/" and "/api/ws"
 * (the legacy plain WebSocket is not served by MHD: the session state lives on the lws
 * loop, see docs/PERFORMANCE.md "Design notes"). Another method on a file path is 405 with
 * "Allow: GET, HEAD"; another method on /dispatch/device is 405 with "Allow: POST".
 * Responses always carry Content-Length, never chunked encoding. HTTP/1.0 clients
 * (E2A: "Connection: close") get MHD's "HTTP/1.1" status line, which
 * ESP8266HTTPClient accepts, and the connection is closed after the response.
 *
 * Threads: every MHD callback runs on MHD's threads; a small pacer thread resumes
 * paced /slowota/ transfers when their next chunk is due (no sleeping, no busy loop).
 * Nothing here logs per request. Each request that reaches the access handler pushes
 * exactly one opening event (EVQ_HTTP_REQUEST, or EVQ_HTTP_DISPATCH for the legacy
 * POST), throttled EVQ_HTTP_PROGRESS events for bodies produced by the content
 * reader (every /slowota/ body, every answer to an HTTP/1.0 request, i.e. E2A's
 * downloads on FinalStage, and /ota/ bodies larger than limits.buffer_max, by
 * default none), and exactly one EVQ_HTTP_DONE from MHD's completion callback (or,
 * for whole-file 200 answers with an ackwatch, from ackwatch once the peer's TCP
 * acknowledged every byte). DONE's complete is true only for a GET answered 200/206
 * whose every body byte was produced and which MHD reports as
 * MHD_REQUEST_TERMINATED_COMPLETED_OK (and, with an ackwatch, acknowledged): a file
 * counts as delivered only then. HEAD, 404, 405, 413 and 416 answers are never
 * complete; both events of a HEAD on a served file carry head = true. Requests over
 * a request limit below (414, 431) get their answer and both events like a 404, and
 * then the connection closes; requests MHD refuses itself (malformed, header bytes
 * beyond its pool: 400, 431) produce no event.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evq.h"
#include "log.h"

/* Connections. Below max_clients devices (--max-devices) the server never refuses a
 * connection itself (issue 9: a refused download made the device ack 404). There is
 * no per-address limit: devices behind NAT, and a test rig, share one address. At the
 * limit MHD stops accepting: further connections wait in the listen backlog (as deep
 * as the limit) until one closes, or until the client gives up. */
#define IMGSRV_CLIENTS_DEFAULT 256 /* max_clients when 0 (harnesses, tests): the most
				    * --max-devices allows, so an unset value refuses
				    * no device (nor wrk's 64 connections) */
#define IMGSRV_CLIENTS_MAX 4096   /* max_clients accepted: far above --max-devices' 256 */
#define IMGSRV_CONNS_PER_CLIENT 2 /* a device downloads over 1 keep-alive connection
				   * at a time (sequential Range requests, §4), E2A
				   * over 1 (§5.3); the second covers a reconnect
				   * while the old connection is not yet seen closed */
#define IMGSRV_CONN_HEADROOM 16   /* on top of that: the user's curl or browser, port
				   * probes, a burst of reconnects; a flood is still
				   * bounded (file descriptors, 16 KB pools) */
#define IMGSRV_TIMEOUT_S 30      /* idle connection timeout, also between the bytes of a
				  * request; devices ask every ~0.1 s (§4) and E2A gives
				  * up after 5 s (§5.3) */
#define IMGSRV_THREADS 2         /* MHD polling threads: on 2 cores, 2 served a median 37%
				  * more 4 KB ranges than 1, for 16 KB more RSS
				  * (docs/PERFORMANCE.md) */
#define IMGSRV_BLOCK_SIZE 65536  /* bytes produced per content-reader call */
#define IMGSRV_BUFFER_MAX SIZE_MAX /* /ota/ bodies up to this size go out straight from the
				    * in-memory file, without a content reader and so without
				    * progress events; bigger ones (and HTTP/1.0 answers)
				    * through the reader. Default: all of them, as the reader
				    * cost 41-48% of the whole-image throughput on loopback
				    * (docs/PERFORMANCE.md) */
#define IMGSRV_CONN_MEMORY 16384 /* MHD's per-connection pool (its default: 32 KB): request
				  * line and headers (a device sends ~300 bytes; 431 beyond
				  * about half of this) and the response headers. MHD clears
				  * it per request, so it is touched memory per connection;
				  * 8 KB measured no faster than 32 KB */
/* Request limits. MHD answers 431 by itself for header bytes beyond its pool
 * (IMGSRV_CONN_MEMORY); these cap what would otherwise only be bounded by that pool,
 * and MHD 0.9.75 does not answer at all when query arguments fill the pool. Beyond
 * one: an answer (414 or 431, "Connection: close"), then the connection closes. */
#define IMGSRV_URI_MAX 1024      /* request target (path and query) bytes, else 414: a
				  * device's is ~130 ("/ota/<name>?deviceid=&ts=&sign=",
				  * §4) */
#define IMGSRV_QUERY_ARGS_MAX 16 /* query arguments, else 414: a device sends 3 (§4);
				  * each costs MHD ~56 pool bytes */
#define IMGSRV_HEADERS_MAX 32    /* header fields, else 431: a device sends ~5, curl 3,
				  * a browser ~10 */
#define IMGSRV_FILES_MAX 8       /* configured files; sonota-c serves three */
#define IMGSRV_DISPATCH_BODY_MAX 4096 /* legacy dispatch POST body (ignored, §3.1 shows
				       * 177 bytes) */
#define IMGSRV_DIY_BODY_MAX 512  /* the DIY completion POST's body: {"error":N} and perhaps
				  * a few more keys; beyond it 413 (Content-Length) or the
				  * connection is closed */
#define IMGSRV_LOG_BURST 10      /* MHD messages per window, then suppressed: some are */
#define IMGSRV_LOG_WINDOW_MS 10000 /* per connection (431, connection limits), and a
				    * flood must not flood the log */

/* SonOTA's /slowota/ pacing (PROTOCOL.md §3.6). */
#define IMGSRV_SLOW_FIRST 10          /* bytes of the first write */
#define IMGSRV_SLOW_FIRST_PAUSE_MS 900 /* pause after it */
#define IMGSRV_SLOW_CHUNK 1400        /* bytes per later write, below one 1460-byte MSS */
#define IMGSRV_SLOW_PAUSE_MS 300      /* pause after each later write */

struct imgsrv;
struct ackwatch;

/* One served file. name, data: borrowed, immutable while the server runs; data is
 * exactly the bytes that were hashed for the `upgrade` digest. */
struct imgsrv_file {
	const char *name; /* e.g. "image_user1-0x01000.bin": [A-Za-z0-9._-], < EVQ_NAME_MAX */
	const uint8_t *data;
	size_t size;
};

/* Tuning; 0 in any field means the IMGSRV_* default. */
struct imgsrv_limits {
	unsigned conn_max;   /* max_clients * IMGSRV_CONNS_PER_CLIENT + IMGSRV_CONN_HEADROOM */
	unsigned timeout_s;  /* IMGSRV_TIMEOUT_S */
	unsigned threads;    /* IMGSRV_THREADS; > 1 uses MHD's thread pool */
	size_t block_size;   /* IMGSRV_BLOCK_SIZE */
	size_t buffer_max;   /* IMGSRV_BUFFER_MAX; 1: every /ota/ body through the reader,
			      * with progress events */
	size_t conn_memory;  /* IMGSRV_CONN_MEMORY */
};

struct imgsrv_opts {
	uint16_t port;                   /* 0: any free port, see imgsrv_bound_port() */
	const char *bind_addr;           /* IPv4 or IPv6 literal; NULL: every IPv4 address */
	const struct imgsrv_file *files; /* borrowed, see struct imgsrv_file */
	size_t nfiles;                   /* 1..IMGSRV_FILES_MAX */
	bool legacy_dispatch;            /* answer POST /dispatch/device (--legacy, port 8081) */
	bool diy_completion;             /* answer POST /api/device/otaFlash (the DIY route's
					  * completion, docs/diy.md): a body that
					  * diy_parse_completion() decodes gets 200
					  * {"error":0}, another 400; each pushes one
					  * EVQ_HTTP_DIY_COMPLETION (and its EVQ_HTTP_DONE) */
	const char *dispatch_ip;         /* "IP" of that reply: an IPv4 literal (copied) */
	uint16_t dispatch_port;          /* "port" of that reply: the WSS port */
	struct evq *evq;                 /* where events go; borrowed, must outlive the server */
	struct ackwatch *ackwatch;       /* NULL, or whole-file 200 responses complete only once
					  * the peer acknowledged every byte (ackwatch.h);
					  * borrowed, stopped after the server */
	struct log *log;                 /* MHD's own messages only, rate-limited; may be NULL */
	unsigned max_clients;            /* devices served at once (--max-devices); 0:
					  * IMGSRV_CLIENTS_DEFAULT. Sizes the connection limit */
	struct imgsrv_limits limits;
};

/* Bind, listen and start serving. The listening socket is created here so that
 * a busy port gives -EADDRINUSE ("port N is busy ...") and a privileged port
 * without the right gives -EACCES ("port N is privileged: run as root, or grant
 * CAP_NET_BIND_SERVICE");
 * -EINVAL for bad options, -ENOMEM, or another -errno; err always names the port
 * or the bad option. On success *ret owns the server (free with imgsrv_stop()). */
int imgsrv_start(const struct imgsrv_opts *opts, struct imgsrv **ret, char *err, size_t errlen);

/* The port actually listened on (useful after port 0). */
uint16_t imgsrv_bound_port(const struct imgsrv *srv);

/* Stop serving: resume and abort paced transfers, stop MHD (every open request
 * gets its EVQ_HTTP_DONE with complete=false), join the threads, free. NULL-safe. */
void imgsrv_stop(struct imgsrv *srv);

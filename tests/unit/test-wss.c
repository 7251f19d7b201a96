/* Integration test of src/wss.c on 127.0.0.1: the HTTPS/WSS listener on lws with
 * mbedTLS must let device-like clients in. Clients pinned to TLS 1.0, 1.1 and 1.2,
 * each offering only AES128-SHA or only AES256-SHA and no SNI, complete the
 * dispatch POST and a websocket exchange. A client that drops the handshake after
 * the server's certificate is reported once, with its address. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "check.h"
#include "log.h"
#include "tls.h"
#include "tlsclient.h"
#include "wss.h"

struct fixture {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct log log;
	atomic_bool stop;
	atomic_int dispatches, opens, texts, closes, aborts;
	char abort_peer[64];
	pthread_t thread;
	uint16_t port;
};

static char *
on_dispatch(void *arg, const char *peer, const char *body, size_t len)
{
	struct fixture *f = arg;
	f->dispatches++;
	char *r = malloc(128);
	if (r)
		snprintf(r, 128, "{\"error\":0,\"reason\":\"ok\",\"IP\":\"127.0.0.1\",\"port\":%u,\"n\":%zu}",
			 f->port, len);
	(void)peer;
	(void)body;
	return r;
}

static void *
on_open(void *arg, struct wss_conn *c, const char *peer)
{
	struct fixture *f = arg;
	f->opens++;
	(void)c;
	(void)peer;
	return f;
}

static void
on_text(void *arg, void *user, struct wss_conn *c, const char *buf, size_t len)
{
	struct fixture *f = arg;
	f->texts++;
	char reply[WSS_MSG_MAX + 16];
	int n = snprintf(reply, sizeof(reply), "echo:%.*s", (int)len, buf);
	wss_send(c, reply, (size_t)n);
	(void)user;
}

static void
on_close(void *arg, void *user)
{
	struct fixture *f = arg;
	f->closes++;
	(void)user;
}

static void
on_tls_abort(void *arg, const char *peer)
{
	struct fixture *f = arg;
	f->aborts++;
	snprintf(f->abort_peer, sizeof(f->abort_peer), "%s", peer);
}

static const struct wss_ops ops = {
	.on_dispatch = on_dispatch,
	.on_open = on_open,
	.on_text = on_text,
	.on_close = on_close,
	.on_tls_abort = on_tls_abort,
};

static void *
service(void *arg)
{
	struct fixture *f = arg;
	while (!f->stop)
		lws_service(f->ctx, 0);
	return NULL;
}

static int
fixture_start(struct fixture *f, const char *cert, const char *key)
{
	char err[256];
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	lws_set_log_level(LLL_ERR, NULL);
	f->ctx = lws_create_context(&info);
	if (!f->ctx)
		return -1;
	/* A free port: bind 0 and let the kernel pick, then hand it to lws. */
	for (int tries = 0; tries < 20; tries++) {
		f->port = (uint16_t)(20000 + (getpid() * 7 + tries * 131) % 30000);
		struct wss_opts o = { .name = "https", .port = f->port, .bind = "127.0.0.1",
				      .cert = cert, .key = key, .ops = &ops, .arg = f,
				      .log = &f->log };
		int r = wss_vhost_create(f->ctx, &o, &f->vh, err, sizeof(err));
		if (r == 0)
			break;
		if (r != -EADDRINUSE) {
			fprintf(stderr, "wss_vhost_create: %s\n", err);
			return -1;
		}
	}
	return pthread_create(&f->thread, NULL, service, f) ? -1 : 0;
}

static void
fixture_stop(struct fixture *f)
{
	f->stop = true;
	lws_cancel_service(f->ctx);
	pthread_join(f->thread, NULL);
	lws_context_destroy(f->ctx);
}

static const char ws_req[] = "GET /api/ws HTTP/1.1\r\n"
			     "Host: iotgo.iteadstudio.com\r\n"
			     "Connection: upgrade\r\n"
			     "Upgrade: websocket\r\n"
			     "Sec-WebSocket-Key: ITEADTmobiM0x1DabcEsnw==\r\n"
			     "Sec-WebSocket-Version: 13\r\n\r\n";

/* Read one HTTP response head (and its Content-Length body) into buf. TLS 1.0
 * clients see 1/n-1 record splitting, so a response arrives in several reads. */
static int
read_http(struct tlsclient *t, char *buf, size_t len)
{
	size_t got = 0;
	memset(buf, 0, len);
	for (;;) {
		char *end = strstr(buf, "\r\n\r\n");
		if (end) {
			const char *cl = strstr(buf, "content-length:");
			if (!cl)
				cl = strstr(buf, "Content-Length:");
			size_t body = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if (got >= (size_t)(end + 4 - buf) + body)
				return (int)got;
		}
		if (got + 1 >= len)
			return (int)got;
		int r = tlsclient_read(t, buf + got, len - 1 - got, 1);
		if (r <= 0)
			return got ? (int)got : r;
		got += (size_t)r;
	}
}

static void
exchange(struct fixture *f, int minor, int suite, const char *want_version,
	 const char *want_suite)
{
	struct tlsclient t;
	char buf[2048];
	int d0 = f->dispatches, t0 = f->texts;

	/* Dispatch POST, on its own connection like the device. */
	int r = tlsclient_connect(&t, f->port, minor, suite, false);
	CHECK_MSG(r == 0, "TLS 1.%d %s: handshake failed (-0x%04x)", minor - 1, want_suite, -r);
	if (r) {
		tlsclient_close(&t);
		return;
	}
	CHECK_STR(mbedtls_ssl_get_version(&t.ssl), want_version);
	CHECK_STR(mbedtls_ssl_get_ciphersuite(&t.ssl), want_suite);
	const char body[] = "{\"accept\":\"ws;2\",\"version\":2,\"ts\":933,\"deviceid\":\"100008db11\","
			    "\"apikey\":\"x\",\"model\":\"ITA-GZ1-GL\",\"romVersion\":\"1.5.5\"}";
	int n = snprintf(buf, sizeof(buf),
			 "POST /dispatch/device HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 strlen(body), body);
	CHECK_INT(tlsclient_write_all(&t, buf, (size_t)n), 0);
	n = read_http(&t, buf, sizeof(buf));
	CHECK_MSG(n > 0 && strncmp(buf, "HTTP/1.1 200", 12) == 0, "dispatch reply: %.40s", buf);
	CHECK_MSG(strstr(buf, "\"reason\":\"ok\"") != NULL, "dispatch body: %s", buf);
	CHECK(strstr(buf, "application/json") != NULL);
	CHECK_INT(f->dispatches, d0 + 1);
	tlsclient_close(&t);

	/* Websocket with the device's constant key; a masked text frame each way. */
	r = tlsclient_connect(&t, f->port, minor, suite, false);
	CHECK_INT(r, 0);
	if (r) {
		tlsclient_close(&t);
		return;
	}
	CHECK_INT(tlsclient_write_all(&t, ws_req, strlen(ws_req)), 0);
	n = read_http(&t, buf, sizeof(buf));
	CHECK_MSG(n > 0 && strncmp(buf, "HTTP/1.1 101", 12) == 0, "upgrade reply: %.60s", buf);
	/* RFC 6455 accept value for that key. */
	CHECK(strstr(buf, "Sec-WebSocket-Accept:") || strstr(buf, "sec-websocket-accept:"));
	const char msg[] = "{\"action\":\"date\"}";
	unsigned char frame[64], mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t ml = strlen(msg);
	frame[0] = 0x81;
	frame[1] = (unsigned char)(0x80 | ml);
	memcpy(frame + 2, mask, 4);
	for (size_t i = 0; i < ml; i++)
		frame[6 + i] = (unsigned char)msg[i] ^ mask[i % 4];
	CHECK_INT(tlsclient_write_all(&t, frame, 6 + ml), 0);
	unsigned char in[128];
	size_t want = 2 + 5 + ml;
	n = tlsclient_read(&t, in, sizeof(in), want);
	CHECK_MSG(n == (int)want, "echo frame: %d bytes, want %zu", n, want);
	if (n == (int)want) {
		CHECK_INT(in[0], 0x81);
		CHECK_INT(in[1], 5 + ml); /* server frames are not masked */
		CHECK(memcmp(in + 2, "echo:", 5) == 0 && memcmp(in + 7, msg, ml) == 0);
	}
	CHECK_INT(f->texts, t0 + 1);
	tlsclient_close(&t);
}

static void
test_versions_and_suites(struct fixture *f)
{
	static const struct {
		int minor;
		const char *version;
	} versions[] = { { 1, "TLSv1.0" }, { 2, "TLSv1.1" }, { 3, "TLSv1.2" } };
	static const struct {
		int id;
		const char *name;
	} suites[] = {
		{ MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA, "TLS-RSA-WITH-AES-128-CBC-SHA" },
		{ MBEDTLS_TLS_RSA_WITH_AES_256_CBC_SHA, "TLS-RSA-WITH-AES-256-CBC-SHA" },
	};
	for (size_t v = 0; v < 3; v++)
		for (size_t s = 0; s < 2; s++)
			exchange(f, versions[v].minor, suites[s].id, versions[v].version,
				 suites[s].name);
}

static void
wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 200 && *v < want; i++)
		usleep(10000);
}

static void
test_pinned_abort(struct fixture *f)
{
	struct tlsclient t;
	int a0 = f->aborts;
	int r = tlsclient_connect(&t, f->port, 2, MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA, true);
	CHECK_MSG(r != 0, "a pinning client must fail its handshake");
	tlsclient_close(&t);
	wait_for(&f->aborts, a0 + 1);
	CHECK_INT(f->aborts, a0 + 1);
	CHECK_STR(f->abort_peer, "127.0.0.1");
	/* Reported once, not once per callback path. */
	usleep(200000);
	CHECK_INT(f->aborts, a0 + 1);
}

static void
test_not_found_and_limits(struct fixture *f)
{
	struct tlsclient t;
	char buf[1024];
	int r = tlsclient_connect(&t, f->port, 2, MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA, false);
	CHECK_INT(r, 0);
	if (!r) {
		const char req[] = "GET /ota/image_arduino.bin HTTP/1.1\r\nHost: x\r\n\r\n";
		tlsclient_write_all(&t, req, strlen(req));
		int n = read_http(&t, buf, sizeof(buf));
		CHECK_MSG(n > 0 && strncmp(buf, "HTTP/1.1 404", 12) == 0, "got %.40s", buf);
	}
	tlsclient_close(&t);

	/* A message over WSS_MSG_MAX closes the websocket. */
	int c0 = f->closes;
	r = tlsclient_connect(&t, f->port, 2, MBEDTLS_TLS_RSA_WITH_AES_128_CBC_SHA, false);
	CHECK_INT(r, 0);
	if (!r) {
		tlsclient_write_all(&t, ws_req, strlen(ws_req));
		read_http(&t, buf, sizeof(buf));
		size_t big = WSS_MSG_MAX + 100;
		unsigned char *frame = calloc(1, big + 8);
		frame[0] = 0x81;
		frame[1] = 0x80 | 126;
		frame[2] = (unsigned char)(big >> 8);
		frame[3] = (unsigned char)big;
		memset(frame + 4, 0, 4); /* zero mask: payload as is */
		memset(frame + 8, 'a', big);
		tlsclient_write_all(&t, frame, big + 8);
		free(frame);
		/* The server answers with a close frame, status 1009 (message too big). */
		unsigned char in[8];
		int n = tlsclient_read(&t, in, sizeof(in), 4);
		CHECK_MSG(n >= 4 && in[0] == 0x88 && ((in[2] << 8) | in[3]) == 1009,
			  "close frame: n=%d %02x %02x%02x", n, n > 0 ? in[0] : 0, n > 3 ? in[2] : 0,
			  n > 3 ? in[3] : 0);
		tlsclient_close(&t);
		wait_for(&f->closes, c0 + 1);
		CHECK_INT(f->closes, c0 + 1);
		return;
	}
	tlsclient_close(&t);
}

int
main(void)
{
	char dir[] = "/tmp/sonota-test-wss-XXXXXX", cert[128], key[128], err[256];
	struct fixture f;
	memset(&f, 0, sizeof(f));
	if (!mkdtemp(dir))
		return 1;
	snprintf(cert, sizeof(cert), "%s/c.crt", dir);
	snprintf(key, sizeof(key), "%s/c.key", dir);
	if (tls_generate(cert, key, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (log_open(&f.log, NULL, LOG_WARN) < 0 || fixture_start(&f, cert, key) < 0) {
		fprintf(stderr, "cannot start the listener\n");
		return 1;
	}
	test_versions_and_suites(&f);
	/* Working connections that sent requests are never reported as aborts. */
	CHECK_INT(f.aborts, 0);
	test_pinned_abort(&f);
	test_not_found_and_limits(&f);
	/* A second listener on the same port is refused with a clear reason. */
	struct lws_vhost *vh2;
	struct wss_opts o = { .name = "dup", .port = f.port, .bind = "127.0.0.1", .cert = cert,
			      .key = key, .ops = &ops, .arg = &f, .log = &f.log };
	char e2[256] = "";
	CHECK_INT(wss_vhost_create(f.ctx, &o, &vh2, e2, sizeof(e2)), -EADDRINUSE);
	CHECK(strstr(e2, "busy") != NULL);
	fixture_stop(&f);
	log_close(&f.log);
	unlink(cert);
	unlink(key);
	rmdir(dir);
	return check_done();
}

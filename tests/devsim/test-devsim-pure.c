/* Unit tests of devsim's pure parts: the strict HTTP parser, the message checks, the
 * WebSocket helpers, E2A's boot decision, the model loader and the flash model.
 * Table-driven; every table has rows that must be rejected and rows that must pass. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "e2a.h"
#include "flash.h"
#include "http.h"
#include "model.h"
#include "msg.h"
#include "ws.h"

#define BAD_RESP(h) { h, -EBADMSG, 0, 0, false, false, false, 0, 0, 0 }

static void
test_http_response(void)
{
	static const struct {
		const char *head;
		int rc;			/* 0 or -EBADMSG */
		int status;
		long long cl;
		bool chunked, te, range;
		long long first, last, total;
	} rows[] = {
		{ "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4095/20480\r\n"
		  "Content-Length: 4096\r\n\r\n", 0, 206, 4096, false, false, true, 0, 4095, 20480 },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: \r\n\r\n",
		  0, 200, 5, false, true, false, 0, 0, 0 },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		  0, 200, -1, true, true, false, 0, 0, 0 },
		{ "HTTP/1.0 200\r\n\r\n", 0, 200, -1, false, false, false, 0, 0, 0 },
		/* rejected */
		BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: 5a\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"),
		BAD_RESP("HTTP/1.1 206 X\r\nContent-Range: bytes 5-3/10\r\n\r\n"),
		BAD_RESP("HTTP/1.1 206 X\r\nContent-Range: bytes 0-10/10\r\n\r\n"),
		BAD_RESP("HTTP/1.1 206 X\r\nContent-Range: bytes */10\r\n\r\n"),
		BAD_RESP("HTTP/1.1 206 X\r\nContent-Range: 0-1/10\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n"),
		BAD_RESP("HTTP/2 200 OK\r\n\r\n"),
		BAD_RESP("HTTP/1.1 20 OK\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200OK\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
		BAD_RESP("HTTP/1.1 200 OK\r\n"),
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct http_resp r;
		char err[128];
		int rc = http_parse_response(rows[i].head, strlen(rows[i].head), &r, err,
					     sizeof(err));

		CHECK_MSG(rc == rows[i].rc, "response row %zu: rc %d, want %d", i, rc, rows[i].rc);
		if (rc || rows[i].rc)
			continue;
		CHECK_INT(r.status, rows[i].status);
		CHECK_INT(r.content_length, rows[i].cl);
		CHECK_INT(r.te_chunked, rows[i].chunked);
		CHECK_INT(r.te_present, rows[i].te);
		CHECK_INT(r.has_range, rows[i].range);
		if (rows[i].range) {
			CHECK_INT(r.range_first, rows[i].first);
			CHECK_INT(r.range_last, rows[i].last);
			CHECK_INT(r.range_total, rows[i].total);
		}
	}
}

static void
test_http_request(void)
{
	static const struct {
		const char *head;
		int rc, minor;
		const char *method, *path;
		long long cl;
	} rows[] = {
		{ "POST /ap HTTP/1.1\r\nContent-Length: 12\r\n\r\n", 0, 1, "POST", "/ap", 12 },
		{ "POST /ap HTTP/1.0\r\nContent-Length: 12\r\n\r\n", 0, 0, "POST", "/ap", 12 },
		{ "GET /device HTTP/1.1\r\nHost: 10.10.7.1\r\n\r\n", 0, 1, "GET", "/device", -1 },
		{ "GET /device HTTP/2.0\r\n\r\n", 0, -1, "GET", "/device", -1 },
		{ "GET /device\r\n\r\n", -EBADMSG, 0, NULL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct http_req r;
		char err[128];
		int rc = http_parse_request(rows[i].head, strlen(rows[i].head), &r, err,
					    sizeof(err));

		CHECK_MSG(rc == rows[i].rc, "request row %zu: rc %d, want %d", i, rc, rows[i].rc);
		if (rc || rows[i].rc)
			continue;
		CHECK_INT(r.minor, rows[i].minor);
		CHECK_STR(r.method, rows[i].method);
		CHECK_STR(r.path, rows[i].path);
		CHECK_INT(r.content_length, rows[i].cl);
	}
	CHECK(http_has_token("keep-alive, Upgrade", "upgrade"));
	CHECK(!http_has_token("upgraded", "upgrade"));
}

static void
test_date(void)
{
	struct timespec now = { .tv_sec = 1700000000, .tv_nsec = 250000000 };
	/* 1700000000 = 2023-11-14T22:13:20Z */
	static const struct {
		const char *s;
		int rc;
	} rows[] = {
		{ "2023-11-14T22:13:20.250Z", 0 },
		{ "2023-11-14T22:13:24.000Z", 0 },
		{ "2023-11-14T22:13:16.500Z", 0 },
		{ "2023-11-14T23:13:20.250Z", -EINVAL },	/* local time labelled Z */
		{ "2023-11-14T22:13:30.250Z", -EINVAL },	/* 10 s off */
		{ "2023-11-14T22:13.250Z", -EINVAL },		/* SonOTA: seconds dropped */
		{ "2023-11-14T22:13:20Z", -EINVAL },		/* no milliseconds */
		{ "2023-11-14T22:13:20.250", -EINVAL },		/* no Z */
		{ "2023-11-14 22:13:20.250Z", -EINVAL },
		{ "2023-13-14T22:13:20.250Z", -EINVAL },
		{ "2023-02-30T22:13:20.250Z", -EINVAL },
		{ "2023-11-14T22:13:2x.250Z", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[200];
		int rc = msg_check_date(rows[i].s, now, err, sizeof(err));

		CHECK_MSG(rc == rows[i].rc, "date \"%s\": rc %d, want %d", rows[i].s, rc,
			  rows[i].rc);
	}
}

static void
test_small_parsers(void)
{
	unsigned long long v = 0;
	char host[64], path[128], err[160];
	uint16_t port = 0;

	CHECK(msg_is_uuid("706d11c6-c003-4de3-a46c-6e2cb404ec23"));
	CHECK(!msg_is_uuid("706d11c6c0034de3a46c6e2cb404ec23"));
	CHECK(!msg_is_uuid("706d11c6-c003-4de3-a46c-6e2cb404ec2g"));
	CHECK(!msg_is_uuid(""));

	CHECK_INT(msg_parse_seq("1795246177088", &v), 0);
	CHECK_INT(v, 1795246177088ULL);
	CHECK_INT(msg_parse_seq("", &v), -EINVAL);
	CHECK_INT(msg_parse_seq("12a", &v), -EINVAL);
	CHECK_INT(msg_parse_seq("-1", &v), -EINVAL);
	CHECK_INT(msg_parse_seq("123456789012345678901", &v), -EINVAL);

	CHECK_INT(msg_parse_url("http://10.0.0.2:8080/ota/image_user2-0x81000.bin", host,
				sizeof(host), &port, path, sizeof(path), err, sizeof(err)), 0);
	CHECK_STR(host, "10.0.0.2");
	CHECK_INT(port, 8080);
	CHECK_STR(path, "/ota/image_user2-0x81000.bin");
	CHECK_INT(msg_parse_url("http://h/x", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), 0);
	CHECK_INT(port, 80);
	CHECK_INT(msg_parse_url("https://h/x", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), -EINVAL);
	CHECK_INT(msg_parse_url("http://h", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), -EINVAL);
	CHECK_INT(msg_parse_url("http://h:0/x", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), -EINVAL);
	CHECK_INT(msg_parse_url("http://h:80x/x", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), -EINVAL);
	CHECK_INT(msg_parse_url("http://h/a b", host, sizeof(host), &port, path, sizeof(path),
				err, sizeof(err)), -EINVAL);
}

/* Copy tmpl to out with every "%s" replaced by dg. */
static void
subst_digest(char *out, size_t cap, const char *tmpl, const char *dg)
{
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 1 < cap; p++) {
		if (p[0] == '%' && p[1] == 's') {
			for (const char *q = dg; *q && o + 1 < cap; q++)
				out[o++] = *q;
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void
test_upgrade(void)
{
	static const char *const dg =
		"0bb8c95c00000000000000000000000000000000000000000000000000f03583";
	static const struct {
		const char *json;
		int slot, rc;
		const char *name;
	} rows[] = {
		{ "{\"model\":\"ITA-GZ1-GL\",\"binList\":["
		  "{\"name\":\"user1.bin\",\"downloadUrl\":\"http://h:8080/ota/u1\",\"digest\":\"%s\"},"
		  "{\"name\":\"user2.bin\",\"downloadUrl\":\"http://h:8080/ota/u2\",\"digest\":\"%s\"}]}",
		  1, 0, "user2.bin" },
		{ "{\"model\":\"ITA-GZ1-GL\",\"binList\":["
		  "{\"name\":\"user1.bin\",\"downloadUrl\":\"http://h:8080/ota/u1\",\"digest\":\"%s\"},"
		  "{\"name\":\"user2.bin\",\"downloadUrl\":\"http://h:8080/ota/u2\",\"digest\":\"%s\"}]}",
		  2, 0, "user1.bin" },
		{ "{\"model\":\"PSB-B04-GL\",\"binList\":["
		  "{\"name\":\"user2.bin\",\"downloadUrl\":\"http://h/u2\",\"digest\":\"%s\"}]}",
		  1, -EPERM, NULL },
		{ "{\"binList\":[{\"name\":\"user2.bin\",\"downloadUrl\":\"http://h/u2\","
		  "\"digest\":\"%s\"}]}", 1, -EINVAL, NULL },
		{ "{\"model\":\"ITA-GZ1-GL\",\"binList\":["
		  "{\"name\":\"user1.bin\",\"downloadUrl\":\"http://h/u1\",\"digest\":\"%s\"}]}",
		  1, -EINVAL, NULL },			/* no entry for the inactive slot */
		{ "{\"model\":\"ITA-GZ1-GL\",\"binList\":["
		  "{\"name\":\"user2.bin\",\"downloadUrl\":\"http://h/u2\",\"digest\":\"%sAB\"}]}",
		  1, -EINVAL, NULL },			/* digest too long */
		{ "{\"model\":\"ITA-GZ1-GL\",\"binList\":["
		  "{\"name\":\"user2.bin\",\"downloadUrl\":\"ftp://h/u2\",\"digest\":\"%s\"}]}",
		  1, -EINVAL, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct msg_upgrade u;
		char json[1024], err[200];
		cJSON *o;
		int rc;

		subst_digest(json, sizeof(json), rows[i].json, dg);
		o = cJSON_Parse(json);
		CHECK_MSG(o != NULL, "upgrade row %zu: test JSON invalid", i);
		rc = msg_parse_upgrade(o, "ITA-GZ1-GL", rows[i].slot, &u, err, sizeof(err));
		CHECK_MSG(rc == rows[i].rc, "upgrade row %zu: rc %d (%s), want %d", i, rc,
			  rc ? err : "", rows[i].rc);
		if (rc == 0 && rows[i].rc == 0) {
			CHECK_STR(u.name, rows[i].name);
			CHECK_INT(u.digest[0], 0x0b);
			CHECK_INT(u.digest[31], 0x83);
		}
		cJSON_Delete(o);
	}
	{
		/* upper-case digest is not what SonOTA's hexdigest() sends */
		struct msg_upgrade u;
		char err[200];
		cJSON *o = cJSON_Parse("{\"model\":\"M\",\"binList\":[{\"name\":\"user2.bin\","
				       "\"downloadUrl\":\"http://h/u\",\"digest\":\"0BB8C95C00000000"
				       "000000000000000000000000000000000000000000F03583\"}]}");

		CHECK_INT(msg_parse_upgrade(o, "M", 1, &u, err, sizeof(err)), -EINVAL);
		cJSON_Delete(o);
	}
}

static void
test_reply(void)
{
	static const struct {
		const char *json;
		const char *key;
		int rc;
	} rows[] = {
		{ "{\"error\":0,\"deviceid\":\"1000abcd01\",\"apikey\":\"k\"}", "k", 0 },
		{ "{\"error\":0,\"deviceid\":\"1000abcd01\"}", NULL, 0 },
		{ "{\"error\":0,\"deviceid\":\"1000abcd01\"}", "k", -EINVAL },
		{ "{\"error\":0,\"deviceid\":\"1000abcd02\",\"apikey\":\"k\"}", "k", -EINVAL },
		{ "{\"error\":\"0\",\"deviceid\":\"1000abcd01\",\"apikey\":\"k\"}", "k", -EINVAL },
		{ "{\"error\":403,\"deviceid\":\"1000abcd01\",\"apikey\":\"k\"}", "k", -EINVAL },
		{ "{\"error\":0,\"deviceid\":\"1000abcd01\",\"apikey\":\"x\"}", "k", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cJSON *o = cJSON_Parse(rows[i].json);
		char err[160];
		int rc = msg_check_reply(o, "1000abcd01", rows[i].key, err, sizeof(err));

		CHECK_MSG(rc == rows[i].rc, "reply row %zu: rc %d, want %d", i, rc, rows[i].rc);
		cJSON_Delete(o);
	}
}

static void
test_ws_helpers(void)
{
	static const struct {
		const char *s;
		size_t n;
		bool ok;
	} rows[] = {
		{ "{\"a\":1}", 7, true },
		{ "\xc3\xa4", 2, true },
		{ "\xe2\x82\xac", 3, true },
		{ "\xf0\x9f\x98\x80", 4, true },
		{ "\xc3", 1, false },		/* truncated */
		{ "\xc0\xaf", 2, false },	/* overlong */
		{ "\xed\xa0\x80", 3, false },	/* surrogate */
		{ "\xff", 1, false },
		{ "\xe2\x82", 2, false },
	};
	char acc[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(ws_utf8_valid((const uint8_t *)rows[i].s, rows[i].n) == rows[i].ok,
			  "utf8 row %zu", i);
	ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", acc, sizeof(acc));	/* RFC 6455 §1.3 */
	CHECK_STR(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void
test_e2a_decide(void)
{
	static const struct {
		int rom;
		uint8_t magic;
		enum e2a_mode mode;
	} rows[] = {
		{ 1, 0xEA, E2A_MODE_FLASH_ROM2 },
		{ 2, 0xEA, E2A_MODE_FLASH_ROM1 },
		{ 2, 0xE9, E2A_MODE_FLASH_ROM1 },
		{ 1, 0xE9, E2A_MODE_UNKNOWN },
		{ 2, 0xFF, E2A_MODE_UNKNOWN },
		{ 1, 0xFF, E2A_MODE_UNKNOWN },
		{ 2, 0x00, E2A_MODE_UNKNOWN },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_MSG(e2a_decide(rows[i].rom, rows[i].magic) == rows[i].mode,
			  "e2a_decide(%d, 0x%02x)", rows[i].rom, rows[i].magic);
}

static void
test_model(void)
{
	static const struct {
		const char *text;
		int rc;
	} rows[] = {
		{ "", 0 },
		{ "# comment\nmodel=PSA-BHA-GL\nromVersion=2.0.2\ndownload=norange\n", 0 },
		{ "slot=3\n", -EINVAL },
		{ "tls_max=1.3\n", -EINVAL },
		{ "pin_cert=maybe\n", -EINVAL },
		{ "colour=red\n", -EINVAL },
		{ "model\n", -EINVAL },
		{ "drop_at=100\n", -EINVAL },
		{ "flash_modes=dout,qio\n", 0 },
		{ "flash_modes=fast\n", -EINVAL },
		{ "range_chunk=4096x\n", -EINVAL },
		{ "tcp_window=0\n", 0 },
		{ "tcp_window=100\n", -EINVAL },
	};
	struct model m;
	char err[160];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = model_parse(&m, rows[i].text, err, sizeof(err));

		CHECK_MSG(rc == rows[i].rc, "model row %zu: rc %d, want %d", i, rc, rows[i].rc);
	}
	CHECK_INT(model_parse(&m, "", err, sizeof(err)), 0);
	CHECK_STR(m.name, "ITA-GZ1-GL");
	CHECK_INT(m.tls_max_minor, 2);
	CHECK_INT(m.range_chunk, 4096);
	CHECK_INT(model_parse(&m, "tls_max=1.2\nswitch=multi\nflash_modes=dout\n", err,
			      sizeof(err)), 0);
	CHECK_INT(m.tls_max_minor, 3);
	CHECK_INT(m.sw, MODEL_SWITCH_MULTI);
	CHECK_INT(m.flash_modes, MODEL_FM_DOUT);
}

/* Every shipped model must load (DEVSIM_MODELS = tests/devsim/models). */
static void
test_shipped_models(void)
{
	static const char *const names[] = {
		"basic-user1", "basic-user2", "pow-old-norange", "pinned-1.6", "tls12", "drop50",
		"final-drop50", "dout-4ch", "fastping",
	};
	const char *dir = getenv("DEVSIM_MODELS");

	CHECK_MSG(dir != NULL, "DEVSIM_MODELS not set");
	if (!dir)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[1024], err[200];
		struct model m;
		int rc;

		snprintf(path, sizeof(path), "%s/%s.model", dir, names[i]);
		rc = model_load(&m, path, err, sizeof(err));
		CHECK_MSG(rc == 0, "model %s: %s", names[i], rc ? err : "");
	}
}

static void
test_flash(void)
{
	struct flash *f = malloc(sizeof(*f));
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	CHECK(f != NULL);
	if (!f)
		return;
	flash_init_stock(f, 1);
	CHECK(flash_has_espboot(f));
	CHECK_INT(f->mem[0], 0xE9);
	CHECK_INT(f->mem[FLASH_USER1], 0xEA);
	CHECK_INT(f->mem[FLASH_USER2], 0xFF);
	/* writing into unerased bytes is flagged and ANDs */
	CHECK_INT(flash_write(f, FLASH_USER1, data, sizeof(data)), -EIO);
	CHECK_INT(f->bad_writes, 1);
	CHECK_INT(f->mem[FLASH_USER1], 0xEA & 1);
	CHECK_INT(flash_erase_range(f, FLASH_USER1, 1), 0);
	CHECK_INT(f->mem[FLASH_USER1 + FLASH_SECTOR - 1], 0xFF);
	CHECK_INT(flash_write(f, FLASH_USER1, data, sizeof(data)), 0);
	CHECK_INT(f->mem[FLASH_USER1 + 7], 8);
	CHECK_INT(flash_write(f, FLASH_SIZE - 4, data, sizeof(data)), -EINVAL);
	CHECK_INT(flash_erase_sectors(f, 0, 256), -EINVAL);
	CHECK_INT(flash_erase_sectors(f, 0, 0), 0);
	CHECK(!flash_has_espboot(f));
	free(f);
}

int
main(void)
{
	test_http_response();
	test_http_request();
	test_date();
	test_small_parsers();
	test_upgrade();
	test_reply();
	test_ws_helpers();
	test_e2a_decide();
	test_model();
	test_shipped_models();
	test_flash();
	return check_done();
}

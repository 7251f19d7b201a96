/* Unit tests of src/diyhttp.c: the request bytes and the classification of what a device
 * sends back (or does not) into diyflow outcomes (DIY-PROTOCOL.md §3.1, §3.3, §6).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check.h"
#include "diyhttp.h"

static void
test_request(void)
{
	char out[DIYHTTP_REQ_MAX];
	int n;

	n = diyhttp_request(DIYFLOW_STEP_INFO, "192.168.1.23", 8081, "{\"data\":{}}", out,
			    sizeof(out));
	CHECK_INT(n, (int)strlen(out));
	CHECK_STR(out, "POST /zeroconf/info HTTP/1.1\r\nHost: 192.168.1.23:8081\r\nContent-Type: "
		       "application/json\r\nContent-Length: 11\r\n\r\n{\"data\":{}}");
	n = diyhttp_request(DIYFLOW_STEP_UNLOCK, "10.0.0.2", 8081, "{}", out, sizeof(out));
	CHECK(n > 0 && strstr(out, "POST /zeroconf/ota_unlock HTTP/1.1\r\n") == out);
	n = diyhttp_request(DIYFLOW_STEP_FLASH, "10.0.0.2", 8081, "{}", out, sizeof(out));
	CHECK(n > 0 && strstr(out, "POST /zeroconf/ota_flash HTTP/1.1\r\n") == out);
	CHECK_INT(diyhttp_request(DIYFLOW_STEP_NONE, "10.0.0.2", 8081, "{}", out, sizeof(out)),
		  -EINVAL);
	CHECK_INT(diyhttp_request(DIYFLOW_STEP_INFO, "dev.local", 8081, "{}", out, sizeof(out)),
		  -EINVAL);
	CHECK_INT(diyhttp_request(DIYFLOW_STEP_INFO, "10.0.0.2", 0, "{}", out, sizeof(out)),
		  -EINVAL);
	CHECK_INT(diyhttp_request(DIYFLOW_STEP_INFO, "10.0.0.2", 8081, "{}", out, 20), -E2BIG);
}

#define OK_HEAD(n)                                                                                 \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " #n "\r\n\r\n"

struct ccase {
	const char *name;
	enum diyflow_step step;
	const char *bytes;
	bool eof, reset, timed_out;
	int ret;
	enum diyflow_outcome outcome;
	int error;
	bool unlock;
};

static const struct ccase ccases[] = {
	{ "info 3.6", DIYFLOW_STEP_INFO,
	  OK_HEAD(48) "{\"seq\":1,\"error\":0,\"data\":{\"otaUnlock\":true}}   ", false, false,
	  false, 0, DIYFLOW_OUT_REPLY, 0, true },
	{ "info 3.3 string data", DIYFLOW_STEP_INFO,
	  OK_HEAD(50) "{\"seq\":1,\"error\":0,\"data\":\"{\\\"otaUnlock\\\":false}\"}", true, false,
	  false, 0, DIYFLOW_OUT_REPLY, 0, false },
	{ "unlock 503", DIYFLOW_STEP_UNLOCK, OK_HEAD(23) "{\"seq\":2,\"error\":503}\r\n", true,
	  false, false, 0, DIYFLOW_OUT_REPLY, 503, false },
	{ "flash 0", DIYFLOW_STEP_FLASH, OK_HEAD(19) "{\"seq\":3,\"error\":0}", false, false,
	  false, 0, DIYFLOW_OUT_REPLY, 0, false },
	{ "MINIR3 422", DIYFLOW_STEP_INFO, OK_HEAD(21) "{\"seq\":1,\"error\":422}", true, false,
	  false, 0, DIYFLOW_OUT_REPLY, 422, false },
	{ "empty reply", DIYFLOW_STEP_INFO, "", true, false, false, 0, DIYFLOW_OUT_RESET, 0,
	  false },
	{ "reset", DIYFLOW_STEP_UNLOCK, "", false, true, false, 0, DIYFLOW_OUT_RESET, 0, false },
	{ "reset mid-reply", DIYFLOW_STEP_INFO, "HTTP/1.1 200 OK\r\nContent-Le", false, true,
	  false, 0, DIYFLOW_OUT_RESET, 0, false },
	{ "hang", DIYFLOW_STEP_UNLOCK, "", false, false, true, 0, DIYFLOW_OUT_TIMEOUT, 0, false },
	{ "incomplete, still open", DIYFLOW_STEP_INFO, OK_HEAD(40) "{\"seq\"", false, false,
	  false, -EAGAIN, DIYFLOW_OUT_NONE, 0, false },
	{ "nothing yet", DIYFLOW_STEP_INFO, "", false, false, false, -EAGAIN,
	  DIYFLOW_OUT_NONE, 0, false },
	{ "head cut at eof (found by fuzz-diyhttp)", DIYFLOW_STEP_UNLOCK,
	  "HTTP/1.1 404 Not Found\r\nCon", true, false, false, 0, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "incomplete at eof", DIYFLOW_STEP_INFO, OK_HEAD(40) "{\"seq\"", true, false, false, 0,
	  DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "html 404", DIYFLOW_STEP_FLASH,
	  "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 9\r\n\r\nnot found",
	  true, false, false, 0, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "200 html", DIYFLOW_STEP_INFO,
	  "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>", true,
	  false, false, 0, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "garbage", DIYFLOW_STEP_INFO, "\x16\x03\x01garbage\r\n\r\n", true, false, false, 0,
	  DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "info without data", DIYFLOW_STEP_INFO, OK_HEAD(19) "{\"seq\":1,\"error\":0}", true,
	  false, false, 0, DIYFLOW_OUT_BAD_REPLY, 0, false },
	{ "body until close", DIYFLOW_STEP_FLASH, "HTTP/1.1 200 OK\r\n\r\n{\"error\":0}", true,
	  false, false, 0, DIYFLOW_OUT_REPLY, 0, false },
};

static void
test_classify(void)
{
	for (size_t i = 0; i < sizeof(ccases) / sizeof(ccases[0]); i++) {
		const struct ccase *c = &ccases[i];
		struct diyhttp_seen seen = { c->bytes, strlen(c->bytes), c->eof, c->reset,
					     c->timed_out };
		struct diyflow_result r;
		struct diy_info info;
		int e;

		memset(&r, 0x5a, sizeof(r));
		e = diyhttp_classify(c->step, true, &seen, &r, &info);
		CHECK_MSG(e == c->ret, "%s: ret %d", c->name, e);
		if (e || c->ret)
			continue;
		CHECK_MSG(r.step == c->step && r.sent_deviceid && r.outcome == c->outcome &&
				  r.error == c->error && r.ota_unlock == c->unlock,
			  "%s: outcome %d error %d unlock %d", c->name, r.outcome, r.error,
			  r.ota_unlock);
	}
}

int
main(void)
{
	test_request();
	test_classify();
	return check_done();
}

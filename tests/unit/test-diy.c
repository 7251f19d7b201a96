/* Unit tests of src/diy.c: reply and info decoding (both `data` forms), the error tables,
 * firmware lines and routes, the URL and the request bodies (DIY-PROTOCOL.md §3-§5).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diy.h"

struct info_case {
	const char *name;
	const char *json;
	int ret;
	/* expectations when ret == 0 */
	bool is_string;
	const char *fw_version;
	const char *deviceid;
	bool has_unlock, unlock;
	const char *ssid;
	enum diy_fw fw;
	int error;
};

static const struct info_case info_cases[] = {
    {"3.3 data as a string",
     "{\"seq\":2,\"error\":0,\"data\":\"{\\\"switch\\\":\\\"off\\\",\\\"startup\\\":\\\"off\\\","
     "\\\"pulse\\\":\\\"off\\\",\\\"pulseWidth\\\":500,\\\"ssid\\\":\\\"eWeLink\\\","
     "\\\"otaUnlock\\\":false}\"}",
     0, true, "", "", true, false, "eWeLink", DIY_FW_33, 0},
    {"3.6 data as an object",
     "{\"seq\":3,\"error\":0,\"data\":{\"switch\":\"off\",\"startup\":\"off\",\"pulse\":\"off\","
     "\"pulseWidth\":500,\"ssid\":\"home net\",\"otaUnlock\":true,\"fwVersion\":\"3.6.0\","
     "\"deviceid\":\"1000806ace\",\"bssid\":\"fc:ec:da:81:c:98\",\"signalStrength\":-47}}",
     0, false, "3.6.0", "1000806ace", true, true, "home net", DIY_FW_35, 0},
    {"3.7.6", "{\"seq\":1,\"error\":0,\"data\":{\"fwVersion\":\"3.7.6\",\"otaUnlock\":false}}", 0,
     false, "3.7.6", "", true, false, "", DIY_FW_37, 0},
    {"MINIR3 switches[]",
     "{\"seq\":1,\"error\":0,\"data\":{\"switches\":[{\"switch\":\"off\",\"outlet\":0}],"
     "\"fwVersion\":\"1.4.0\"}}",
     0, false, "1.4.0", "", false, false, "", DIY_FW_MINIR3, 0},
    {"error reply has no data", "{\"seq\":1,\"error\":401}", 0, false, "", "", false, false, "",
     DIY_FW_UNKNOWN, 401},
    {"whitespace after", "{\"error\":0,\"data\":{}}\r\n", 0, false, "", "", false, false, "",
     DIY_FW_UNKNOWN, 0},
    {.name = "no error", .json = "{\"seq\":1,\"data\":{}}", .ret = -EINVAL},
    {.name = "error not integral", .json = "{\"error\":0.5,\"data\":{}}", .ret = -EINVAL},
    {.name = "seq negative", .json = "{\"seq\":-1,\"error\":0,\"data\":{}}", .ret = -EINVAL},
    {.name = "data missing", .json = "{\"error\":0}", .ret = -EINVAL},
    {.name = "data a number", .json = "{\"error\":0,\"data\":7}", .ret = -EINVAL},
    {.name = "data string not JSON", .json = "{\"error\":0,\"data\":\"{switch\"}", .ret = -EINVAL},
    {.name = "data string an array", .json = "{\"error\":0,\"data\":\"[1]\"}", .ret = -EINVAL},
    {.name = "otaUnlock a string",
     .json = "{\"error\":0,\"data\":{\"otaUnlock\":\"true\"}}",
     .ret = -EINVAL},
    {.name = "ssid too long",
     .json = "{\"error\":0,\"data\":{\"ssid\":\"123456789012345678901234567890123\"}}",
     .ret = -E2BIG},
    {.name = "ssid control byte",
     .json = "{\"error\":0,\"data\":{\"ssid\":\"a\\nb\"}}",
     .ret = -EINVAL},
    {.name = "trailing garbage", .json = "{\"error\":0,\"data\":{}}x", .ret = -EINVAL},
    {.name = "html", .json = "<html>404</html>", .ret = -EINVAL},
    {.name = "array", .json = "[]", .ret = -EINVAL},
    {.name = "empty", .json = "", .ret = -EINVAL},
};

static void
test_info(void)
{
	for (size_t i = 0; i < sizeof(info_cases) / sizeof(info_cases[0]); i++) {
		const struct info_case *c = &info_cases[i];
		struct diy_info in;
		int r;

		memset(&in, 0x55, sizeof(in));
		r = diy_parse_info(c->json, strlen(c->json), &in);
		CHECK_MSG(r == c->ret, "%s: ret %d, want %d", c->name, r, c->ret);
		if (r != 0 || c->ret != 0)
			continue;
		CHECK_MSG(in.reply.error == c->error, "%s: error %d", c->name, in.reply.error);
		if (c->error)
			continue;
		CHECK_MSG(in.data_is_string == c->is_string, "%s: data_is_string", c->name);
		CHECK_MSG(strcmp(in.fw_version, c->fw_version) == 0, "%s: fw_version '%s'", c->name,
			  in.fw_version);
		CHECK_MSG(strcmp(in.deviceid, c->deviceid) == 0, "%s: deviceid '%s'", c->name,
			  in.deviceid);
		CHECK_MSG(in.has_ota_unlock == c->has_unlock && in.ota_unlock == c->unlock,
			  "%s: otaUnlock", c->name);
		CHECK_MSG(strcmp(in.ssid, c->ssid) == 0, "%s: ssid '%s'", c->name, in.ssid);
		CHECK_MSG(in.fw == c->fw, "%s: fw %s", c->name, diy_fw_name(in.fw));
	}
	/* 3.6's bssid and signal */
	{
		const char *j = info_cases[1].json;
		struct diy_info in;

		CHECK_INT(diy_parse_info(j, strlen(j), &in), 0);
		CHECK_STR(in.bssid, "fc:ec:da:81:c:98");
		CHECK(in.has_signal && in.signal_dbm == -47);
		CHECK(in.reply.has_seq && in.reply.seq == 3);
	}
	/* too long, and an embedded NUL */
	{
		char big[DIY_REPLY_MAX + 2];
		struct diy_info in;

		memset(big, ' ', sizeof(big));
		CHECK_INT(diy_parse_info(big, sizeof(big), &in), -EMSGSIZE);
		CHECK_INT(diy_parse_info("{\"error\":0,\"data\":{}}\0", 22, &in), -EINVAL);
	}
}

static void
test_reply_and_completion(void)
{
	static const char ok7[] = "{\"seq\":7,\"error\":0}";
	struct diy_reply r;
	int e = -1;

	CHECK_INT(diy_parse_reply(ok7, strlen(ok7), &r), 0);
	CHECK(r.has_seq && r.seq == 7 && r.error == 0);
	CHECK_INT(diy_parse_reply("{\"error\":503}", 13, &r), 0);
	CHECK(!r.has_seq && r.error == 503);
	CHECK_INT(diy_parse_reply("{\"seq\":\"7\",\"error\":0}", 22, &r), -EINVAL);
	CHECK_INT(diy_parse_reply("{\"error\":\"0\"}", 13, &r), -EINVAL);

	CHECK_INT(diy_parse_completion("{\"error\":0}", 11, &e), 0);
	CHECK_INT(e, 0);
	CHECK_INT(diy_parse_completion("{\"error\":409}", 13, &e), 0);
	CHECK_INT(e, 409);
	CHECK_INT(diy_parse_completion("{\"err\":0}", 9, &e), -EINVAL);
	CHECK_INT(diy_parse_completion("error=0", 7, &e), -EINVAL);
}

static void
test_codes(void)
{
	/* every code of DIY-PROTOCOL.md §3.4 and §5.5 has a diagnosis */
	static const int api[] = { 0, 400, 401, 403, 404, 408, 413, 422, 424, 471, 500, 503 };
	static const int completion[] = { 0, 404, 406, 409, 410 };
	size_t n;
	const int *codes;

	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		const char *t = diy_error_text(DIY_ERR_API, api[i]);
		CHECK_MSG(t && strlen(t) > 5 && !strchr(t, '\n'), "api code %d", api[i]);
	}
	for (size_t i = 0; i < sizeof(completion) / sizeof(completion[0]); i++)
		CHECK_MSG(diy_error_text(DIY_ERR_COMPLETION, completion[i]) != NULL,
			  "completion code %d", completion[i]);
	codes = diy_error_codes(DIY_ERR_API, &n);
	CHECK_INT(n, sizeof(api) / sizeof(api[0]));
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(diy_error_text(DIY_ERR_API, codes[i]), "listed api code %d", codes[i]);
	codes = diy_error_codes(DIY_ERR_COMPLETION, &n);
	CHECK_INT(n, sizeof(completion) / sizeof(completion[0]));
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(diy_error_text(DIY_ERR_COMPLETION, codes[i]), "listed code %d", codes[i]);
	CHECK(diy_error_text(DIY_ERR_API, 406) == NULL);
	CHECK(diy_error_text(DIY_ERR_COMPLETION, 503) == NULL);
	CHECK(strstr(diy_error_text(DIY_ERR_API, 503), "Internet") != NULL);
	CHECK(strstr(diy_error_text(DIY_ERR_COMPLETION, 409), "check") != NULL);
}

static void
test_versions(void)
{
	static const struct {
		const char *v;
		enum diy_fw fw;
		enum diy_route route;
	} t[] = {
		{ "1.5.5", DIY_FW_UNKNOWN, DIY_ROUTE_CLOUD },
		{ "1.6.0", DIY_FW_UNKNOWN, DIY_ROUTE_NONE },
		{ "2.0.2", DIY_FW_UNKNOWN, DIY_ROUTE_CLOUD },
		{ "2.6.1", DIY_FW_UNKNOWN, DIY_ROUTE_NONE },
		{ "3.1.0", DIY_FW_PRE33, DIY_ROUTE_DIY },
		{ "3.3.0", DIY_FW_33, DIY_ROUTE_DIY },
		{ "3.4.1", DIY_FW_33, DIY_ROUTE_DIY },
		{ "3.5.0", DIY_FW_35, DIY_ROUTE_DIY },
		{ "3.6.0", DIY_FW_35, DIY_ROUTE_DIY },
		{ "3.7.3", DIY_FW_37, DIY_ROUTE_DIY },
		{ "3.10", DIY_FW_37, DIY_ROUTE_DIY },
		{ "4.0.0", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "3", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "3.x", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "v3.6.0", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "3.6.0-beta", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
		{ "33333.1", DIY_FW_UNKNOWN, DIY_ROUTE_UNKNOWN },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		CHECK_MSG(diy_fw_from_version(t[i].v) == t[i].fw, "fw of '%s': %s", t[i].v,
			  diy_fw_name(diy_fw_from_version(t[i].v)));
		CHECK_MSG(diy_route_for_version(t[i].v) == t[i].route, "route of '%s': %s", t[i].v,
			  diy_route_name(diy_route_for_version(t[i].v)));
	}
	CHECK(diy_fw_from_version(NULL) == DIY_FW_UNKNOWN);
	CHECK_STR(diy_route_name(DIY_ROUTE_DIY), "diy");
	CHECK_STR(diy_fw_name(DIY_FW_MINIR3), "minir3");
}

static void
test_url(void)
{
	static const struct {
		const char *ip;
		unsigned port;
		const char *path;
		const char *want; /* NULL: -EINVAL */
	} t[] = {
		{ "192.168.1.5", 8000, "/diy/tasmota-lite.bin",
		  "http://192.168.1.5:8000/diy/tasmota-lite.bin" },
		{ "10.0.0.1", 65535, "/a", "http://10.0.0.1:65535/a" },
		{ "0.0.0.0", 80, "/", "http://0.0.0.0:80/" },
		{ "host.local", 80, "/a", NULL },
		{ "192.168.1", 80, "/a", NULL },
		{ "192.168.1.5.6", 80, "/a", NULL },
		{ "192.168.1.256", 80, "/a", NULL },
		{ "192.168.01.5", 80, "/a", NULL },
		{ "::1", 80, "/a", NULL },
		{ "192.168.1.5", 0, "/a", NULL },
		{ "192.168.1.5", 80, "a", NULL },
		{ "192.168.1.5", 80, "/a b", NULL },
		{ "192.168.1.5", 80, "/a?x=1", NULL },
		{ "192.168.1.5", 80, "/a%20", NULL },
		{ "192.168.1.5", 80, "/a\x7f", NULL },
		{ NULL, 80, "/a", NULL },
	};
	char url[DIY_URL_MAX + 1], longpath[DIY_PATH_MAX + 2];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = diy_format_url(t[i].ip, (uint16_t)t[i].port, t[i].path, url);

		if (t[i].want) {
			CHECK_MSG(r == 0, "url %zu: %d", i, r);
			if (r == 0)
				CHECK_STR(url, t[i].want);
		} else {
			CHECK_MSG(r == -EINVAL, "url %zu should be refused: %d", i, r);
		}
	}
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[DIY_PATH_MAX + 1] = '\0';
	CHECK_INT(diy_format_url("1.2.3.4", 80, longpath, url), -EINVAL);
	longpath[DIY_PATH_MAX] = '\0';
	CHECK_INT(diy_format_url("255.255.255.255", 65535, longpath, url), 0);
}

static void
test_usable(void)
{
	static const struct {
		const char *ip;
		const char *why; /* substring, NULL = usable */
	} t[] = {
		{ "192.168.1.5", NULL },  { "10.0.0.1", NULL },      { "172.16.0.1", NULL },
		{ "100.64.0.1", NULL },   { "223.255.255.254", NULL }, { "127.0.0.1", "loopback" },
		{ "127.1.2.3", "loopback" }, { "0.0.0.0", "0.0.0.0" }, { "169.254.3.4", "link-local" },
		{ "224.0.0.251", "multicast" }, { "239.1.1.1", "multicast" },
		{ "255.255.255.255", "broadcast" }, { "240.0.0.1", "reserved" },
		{ "host.local", "dotted-quad" }, { "192.168.1", "dotted-quad" }, { NULL, "dotted" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *why = diy_ipv4_unusable(t[i].ip);

		if (!t[i].why)
			CHECK_MSG(why == NULL, "%s should be usable: %s", t[i].ip, why);
		else
			CHECK_MSG(why && strstr(why, t[i].why), "%s: '%s'", t[i].ip ? t[i].ip : "NULL",
				  why ? why : "(usable)");
	}
}

static void
test_builders(void)
{
	static const char sha[] =
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	static const char sha_upper[] =
		"9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
	char *s;

	s = diy_build_info("1000806ace");
	CHECK_STR(s, "{\"deviceid\":\"1000806ace\",\"data\":{}}");
	free(s);
	s = diy_build_info(NULL);
	CHECK_STR(s, "{\"data\":{}}");
	free(s);
	CHECK(diy_build_info("") == NULL); /* never "" (3.7.x drops it) */
	CHECK(diy_build_info("a b") == NULL);
	CHECK(diy_build_info("123456789012345678901234567890123") == NULL);
	s = diy_build_ota_unlock("1000806ace");
	CHECK_STR(s, "{\"deviceid\":\"1000806ace\",\"data\":{}}");
	free(s);
	CHECK(diy_build_ota_unlock("") == NULL);

	s = diy_build_ota_flash("1000806ace", "192.168.1.5", 8000, "/diy/image.bin", sha);
	CHECK_STR(s,
	          "{\"deviceid\":\"1000806ace\",\"data\":{\"downloadUrl\":"
	          "\"http://192.168.1.5:8000/diy/image.bin\",\"sha256sum\":\"9f86d081884c7d659a2fea"
	          "a0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"}}");
	free(s);
	/* upper case is lowered: 3.6 refuses an upper-case digest (IT#102) */
	s = diy_build_ota_flash(NULL, "192.168.1.5", 8000, "/i.bin", sha_upper);
	CHECK(s && strstr(s, sha) && !strstr(s, "deviceid"));
	free(s);
	CHECK(diy_build_ota_flash("", "192.168.1.5", 8000, "/i.bin", sha) == NULL);
	CHECK(diy_build_ota_flash("1", "pc.local", 8000, "/i.bin", sha) == NULL);
	CHECK(diy_build_ota_flash("1", "192.168.1.5", 8000, "/i.bin", "abc") == NULL);
	{
		char bad[65];

		memcpy(bad, sha, sizeof(bad));
		bad[10] = 'g';
		CHECK(diy_build_ota_flash("1", "192.168.1.5", 8000, "/i.bin", bad) == NULL);
	}
	{
		char longer[66];

		memcpy(longer, sha, 64);
		longer[64] = 'a';
		longer[65] = '\0';
		CHECK(diy_build_ota_flash("1", "192.168.1.5", 8000, "/i.bin", longer) == NULL);
	}
}

int
main(void)
{
	test_info();
	test_reply_and_completion();
	test_codes();
	test_versions();
	test_url();
	test_usable();
	test_builders();
	return check_done();
}

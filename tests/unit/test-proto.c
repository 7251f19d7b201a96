/* Unit tests for proto.c: exact JSON of every builder, parsing of device frames
 * shaped like the captures in PROTOCOL.md §3, field limits, and UTC dates. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "proto.h"

#define DEV "10000b80c9"
#define DEVKEY "6b2d4b2c-1f2e-4a4b-9a9f-0123456789ab"  /* the device's own key */
#define SRVKEY "0f9d8c7b-6a59-4837-a625-1403f2e1d0c9"  /* a server-issued key */
#define H1 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2 "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

/* ---- dates ---------------------------------------------------------------- */

static void
test_format_utc(void)
{
	static const struct {
		int64_t ms;
		const char *want; /* NULL: -ERANGE */
	} rows[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },             /* epoch */
		{ 1, "1970-01-01T00:00:00.001Z" },
		{ 999, "1970-01-01T00:00:00.999Z" },
		{ 1000, "1970-01-01T00:00:01.000Z" },          /* ms = 0 keeps seconds (SonOTA bug) */
		{ 59999, "1970-01-01T00:00:59.999Z" },
		{ 31536000000, "1971-01-01T00:00:00.000Z" },
		{ 951782400000, "2000-02-29T00:00:00.000Z" },  /* leap year divisible by 400 */
		{ 951868799999, "2000-02-29T23:59:59.999Z" },
		{ 1709164800123, "2024-02-29T00:00:00.123Z" }, /* ordinary leap year */
		{ 4107542399999, "2100-02-28T23:59:59.999Z" }, /* 2100 is not a leap year */
		{ 4107542400000, "2100-03-01T00:00:00.000Z" },
		{ 1495370245123, "2017-05-21T12:37:25.123Z" },
		{ 1577836799999, "2019-12-31T23:59:59.999Z" },
		{ 253402300799999, "9999-12-31T23:59:59.999Z" }, /* last representable */
		{ 253402300800000, NULL },
		{ -1, NULL },
		{ INT64_MIN, NULL },
		{ INT64_MAX, NULL },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[PROTO_DATE_LEN];
		int r;

		memset(out, 'x', sizeof(out));
		r = proto_format_utc(rows[i].ms, out);
		if (rows[i].want) {
			CHECK_INT(r, 0);
			CHECK_MSG(memcmp(out, rows[i].want, PROTO_DATE_LEN) == 0,
				  "row %zu: got \"%.*s\", want \"%s\"", i, PROTO_DATE_LEN, out,
				  rows[i].want);
		} else {
			CHECK_INT(r, -ERANGE);
			CHECK_MSG(out[0] == 'x', "row %zu: out written on error", i);
		}
	}
}

/* The date must be true UTC whatever the local time zone is (SonOTA sent local
 * time labelled "Z", PROTOCOL.md §9.1-4). */
static void
test_date_ignores_tz(void)
{
	const char *zones[] = { "UTC0", "IST-5:30", "PST8PDT", "NZST-12NZDT" };

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		char *s;

		setenv("TZ", zones[i], 1);
		tzset();
		s = proto_build_date_reply(DEV, SRVKEY, 1495370245123);
		CHECK_STR(s, "{\"error\":0,\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
			     "\",\"date\":\"2017-05-21T12:37:25.123Z\"}");
		free(s);
	}
	unsetenv("TZ");
	tzset();
}

/* ---- builders -------------------------------------------------------------- */

static void
test_builders(void)
{
	struct proto_upgrade up = {
		.deviceid = DEV,
		.server_apikey = SRVKEY,
		.sequence = 1495370245123,
		.url_user1 = "http://192.168.1.10:8080/ota/image_user1-0x01000.bin",
		.digest_user1 = H1,
		.url_user2 = "http://192.168.1.10:8080/ota/image_user2-0x81000.bin",
		.digest_user2 = H2,
		.model = "PSF-B04-GL",
	};
	struct {
		const char *name;
		char *got;
		const char *want;
	} rows[] = {
		{ "register", proto_build_register_reply(DEV, SRVKEY),
		  "{\"error\":0,\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
		  "\",\"config\":{\"hb\":1,\"hbInterval\":145}}" },
		{ "date", proto_build_date_reply(DEV, SRVKEY, 0),
		  "{\"error\":0,\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
		  "\",\"date\":\"1970-01-01T00:00:00.000Z\"}" },
		{ "update", proto_build_update_reply(DEV, SRVKEY),
		  "{\"error\":0,\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY "\"}" },
		{ "query", proto_build_query_reply(DEV, SRVKEY),
		  "{\"error\":0,\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY "\",\"params\":0}" },
		{ "relay on", proto_build_relay(DEV, SRVKEY, 1495370245123, true),
		  "{\"action\":\"update\",\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
		  "\",\"userAgent\":\"app\",\"sequence\":\"1495370245123\",\"ts\":0,"
		  "\"params\":{\"switch\":\"on\"},\"from\":\"app\"}" },
		{ "relay off", proto_build_relay(DEV, SRVKEY, 18446744073709551615u, false),
		  "{\"action\":\"update\",\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
		  "\",\"userAgent\":\"app\",\"sequence\":\"18446744073709551615\",\"ts\":0,"
		  "\"params\":{\"switch\":\"off\"},\"from\":\"app\"}" },
		{ "upgrade", proto_build_upgrade(&up),
		  "{\"action\":\"upgrade\",\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
		  "\",\"userAgent\":\"app\",\"sequence\":\"1495370245123\",\"ts\":0,"
		  "\"params\":{\"binList\":["
		  "{\"downloadUrl\":\"http://192.168.1.10:8080/ota/image_user1-0x01000.bin\","
		  "\"digest\":\"" H1 "\",\"name\":\"user1.bin\"},"
		  "{\"downloadUrl\":\"http://192.168.1.10:8080/ota/image_user2-0x81000.bin\","
		  "\"digest\":\"" H2 "\",\"name\":\"user2.bin\"}],"
		  "\"model\":\"PSF-B04-GL\",\"version\":\"23.42.5\"}}" },
		{ "dispatch", proto_build_dispatch_reply("192.168.1.10", 8443),
		  "{\"error\":0,\"reason\":\"ok\",\"IP\":\"192.168.1.10\",\"port\":8443}" },
		{ "dispatch legacy", proto_build_dispatch_reply("10.0.0.2", 443),
		  "{\"error\":0,\"reason\":\"ok\",\"IP\":\"10.0.0.2\",\"port\":443}" },
		{ "ap", proto_build_ap("HomeNet", "s3cret pass", "192.168.1.10", 8443),
		  "{\"version\":4,\"ssid\":\"HomeNet\",\"password\":\"s3cret pass\","
		  "\"serverName\":\"192.168.1.10\",\"port\":8443}" },
		/* JSON escaping of user text: quote, backslash, control char; UTF-8 as is */
		{ "ap escaped", proto_build_ap("My \"Wi\\Fi\"", "p\tw\xc3\xa4", "host.lan", 1),
		  "{\"version\":4,\"ssid\":\"My \\\"Wi\\\\Fi\\\"\",\"password\":\"p\\tw\xc3\xa4\","
		  "\"serverName\":\"host.lan\",\"port\":1}" },
		{ "ap empty password", proto_build_ap("open", "", "h", 65535),
		  "{\"version\":4,\"ssid\":\"open\",\"password\":\"\",\"serverName\":\"h\","
		  "\"port\":65535}" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK_MSG(rows[i].got && strcmp(rows[i].got, rows[i].want) == 0,
			  "%s:\n got  %s\n want %s", rows[i].name,
			  rows[i].got ? rows[i].got : "(null)", rows[i].want);
		free(rows[i].got);
	}

	/* Default model when the device never said its own. */
	up.model = NULL;
	char *s = proto_build_upgrade(&up);
	CHECK(s && strstr(s, "\"model\":\"ITA-GZ1-GL\",\"version\":\"23.42.5\"}}"));
	free(s);
	up.model = "";
	s = proto_build_upgrade(&up);
	CHECK(s && strstr(s, "\"model\":\"ITA-GZ1-GL\""));
	/* SonOTA's measured upgrade frame was 569 bytes (PROTOCOL.md §12-3): same order. */
	CHECK_MSG(s && strlen(s) > 450 && strlen(s) < 700, "upgrade length %zu", s ? strlen(s) : 0);
	free(s);
}

/* Builders refuse arguments outside their limits (NULL), never emit them. */
static void
test_builder_limits(void)
{
	char big[PROTO_HOST_MAX + 2];
	char url[PROTO_URL_MAX + 2];
	struct proto_upgrade up = {
		.deviceid = DEV, .server_apikey = SRVKEY, .sequence = 1,
		.url_user1 = "http://h/ota/1", .digest_user1 = H1,
		.url_user2 = "http://h/ota/2", .digest_user2 = H2,
	};
	struct proto_upgrade bad;
	char *s;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(url, 'u', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';

	CHECK(!proto_build_register_reply(NULL, SRVKEY));
	CHECK(!proto_build_register_reply(DEV, NULL));
	CHECK(!proto_build_register_reply("", SRVKEY));
	CHECK(!proto_build_update_reply(big, SRVKEY));   /* deviceid > PROTO_DEVICEID_MAX */
	CHECK(!proto_build_query_reply(DEV, big));       /* apikey > PROTO_APIKEY_MAX */
	CHECK(!proto_build_date_reply(DEV, SRVKEY, -1)); /* date out of range */
	CHECK(!proto_build_relay(DEV, "", 1, true));
	CHECK(!proto_build_dispatch_reply(big, 8443));
	CHECK(!proto_build_dispatch_reply("", 8443));
	CHECK(!proto_build_ap("", "pw", "h", 1));
	CHECK(!proto_build_ap("123456789012345678901234567890123", "pw", "h", 1)); /* 33 */
	CHECK(!proto_build_ap("s", big, "h", 1));
	CHECK(!proto_build_ap("s", "pw", big, 1));
	CHECK(!proto_build_ap("s", NULL, "h", 1));
	CHECK(!proto_build_upgrade(NULL));

	s = proto_build_ap("12345678901234567890123456789012", "pw", "h", 1); /* 32: ok */
	CHECK(s != NULL);
	free(s);
	s = proto_build_upgrade(&up);
	CHECK(s != NULL);
	free(s);

	bad = up;
	bad.digest_user1 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
	CHECK(!proto_build_upgrade(&bad)); /* upper-case hex */
	bad = up;
	bad.digest_user2 = "9f86d081";
	CHECK(!proto_build_upgrade(&bad)); /* short */
	bad = up;
	bad.digest_user2 = H2 "0";
	CHECK(!proto_build_upgrade(&bad)); /* long */
	bad = up;
	bad.url_user1 = url;
	CHECK(!proto_build_upgrade(&bad));
	bad = up;
	bad.url_user2 = NULL;
	CHECK(!proto_build_upgrade(&bad));
	bad = up;
	bad.model = "a-model-name-that-is-far-too-long-to-be-real";
	CHECK(!proto_build_upgrade(&bad));
	bad = up;
	bad.deviceid = NULL;
	CHECK(!proto_build_upgrade(&bad));
}

/* ---- device frames --------------------------------------------------------- */

struct frame_row {
	const char *name;
	const char *json;
	int ret;
	enum proto_type type;
	const char *deviceid, *apikey, *model, *rom, *sequence, *action;
	int has_ts;
	int64_t ts;
	int has_error, error;
	enum proto_switch sw;
	int has_switches, has_params;
};

/* A row for a frame that must be refused with err. */
#define BAD(name_, json_, err_) { .name = (name_), .json = (json_), .ret = (err_) }

static const struct frame_row frames[] = {
	/* D1, as in the [vpon] capture and SonOTA logs */
	{ "register", "{\"userAgent\":\"device\",\"apikey\":\"" DEVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"register\",\"version\":2,\"romVersion\":\"1.5.5\","
	  "\"model\":\"ITA-GZ1-GL\",\"ts\":933}",
	  0, PROTO_MSG_REGISTER, DEV, DEVKEY, "ITA-GZ1-GL", "1.5.5", "", "register",
	  1, 933, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	/* D1 pretty-printed with CRLF and surrounding whitespace */
	{ "register spaced", " {\r\n \"action\" : \"register\",\r\n \"deviceid\": \"100008db11\","
	  "\r\n \"apikey\": \"" DEVKEY "\", \"model\": \"PSF-B04-GL\", \"romVersion\": \"1.6.0\","
	  " \"ts\": 12 }\r\n ",
	  0, PROTO_MSG_REGISTER, "100008db11", DEVKEY, "PSF-B04-GL", "1.6.0", "", "register",
	  1, 12, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	/* D2 */
	{ "date", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"date\"}",
	  0, PROTO_MSG_DATE, DEV, SRVKEY, "", "", "", "date", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	/* D3 Basic */
	{ "update basic", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"update\",\"params\":{\"switch\":\"off\",\"fwVersion\":\"1.5.5\","
	  "\"rssi\":-41,\"staMac\":\"5C:CF:7F:12:34:56\",\"startup\":\"off\"}}",
	  0, PROTO_MSG_UPDATE, DEV, SRVKEY, "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_OFF, 0,
	  1 },
	/* D3 POW: power is a string */
	{ "update pow", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"update\",\"params\":{\"switch\":\"on\",\"power\":\"12.50\","
	  "\"fwVersion\":\"2.0.4\",\"rssi\":-70,\"staMac\":\"5C:CF:7F:12:34:56\","
	  "\"startup\":\"stay\"}}",
	  0, PROTO_MSG_UPDATE, DEV, SRVKEY, "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_ON, 0,
	  1 },
	/* D3 firmware 1.2.0: only switch and fwVersion */
	{ "update 1.2.0", "{\"action\":\"update\",\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY
	  "\",\"userAgent\":\"device\",\"params\":{\"switch\":\"on\",\"fwVersion\":\"1.2.0\"}}",
	  0, PROTO_MSG_UPDATE, DEV, SRVKEY, "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_ON, 0,
	  1 },
	/* D3 4CH: switches array, no switch */
	{ "update 4ch", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"update\",\"params\":{\"switches\":[{\"switch\":\"off\",\"outlet\":0},"
	  "{\"switch\":\"on\",\"outlet\":1},{\"switch\":\"off\",\"outlet\":2},"
	  "{\"switch\":\"off\",\"outlet\":3}],\"fwVersion\":\"1.5.5\"}}",
	  0, PROTO_MSG_UPDATE, DEV, SRVKEY, "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_NONE, 1,
	  1 },
	/* D3 first update without params (freelansim copy of the capture) */
	{ "update no params", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\""
	  DEV "\",\"action\":\"update\"}",
	  0, PROTO_MSG_UPDATE, DEV, SRVKEY, "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0,
	  0 },
	{ "update odd switch", "{\"action\":\"update\",\"deviceid\":\"" DEV "\","
	  "\"params\":{\"switch\":\"toggle\"}}",
	  0, PROTO_MSG_UPDATE, DEV, "", "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_INVALID, 0,
	  1 },
	{ "update switch number", "{\"action\":\"update\",\"deviceid\":\"" DEV "\","
	  "\"params\":{\"switch\":1}}",
	  0, PROTO_MSG_UPDATE, DEV, "", "", "", "", "update", 0, 0, 0, 0, PROTO_SWITCH_INVALID, 0,
	  1 },
	/* D4 */
	{ "query", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"query\",\"params\":[\"timers\"]}",
	  0, PROTO_MSG_QUERY, DEV, SRVKEY, "", "", "", "query", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 1 },
	{ "query pow", "{\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\"" DEV
	  "\",\"action\":\"query\",\"params\":[\"timers\",\"timeZone\"]}",
	  0, PROTO_MSG_QUERY, DEV, SRVKEY, "", "", "", "query", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 1 },
	/* D5 acks */
	{ "ack 0", "{\"error\":0,\"userAgent\":\"device\",\"apikey\":\"" SRVKEY "\",\"deviceid\":\""
	  DEV "\",\"sequence\":\"1495370245123\"}",
	  0, PROTO_MSG_ACK, DEV, SRVKEY, "", "", "1495370245123", "", 0, 0, 1, 0,
	  PROTO_SWITCH_NONE, 0, 0 },
	{ "ack 404", "{\"error\":404,\"userAgent\":\"device\",\"apikey\":\"" SRVKEY
	  "\",\"deviceid\":\"" DEV "\",\"sequence\":\"1495370245124\"}",
	  0, PROTO_MSG_ACK, DEV, SRVKEY, "", "", "1495370245124", "", 0, 0, 1, 404,
	  PROTO_SWITCH_NONE, 0, 0 },
	{ "ack numeric sequence", "{\"error\":0,\"deviceid\":\"" DEV "\",\"sequence\":1495370245125}",
	  0, PROTO_MSG_ACK, DEV, "", "", "", "1495370245125", "", 0, 0, 1, 0, PROTO_SWITCH_NONE, 0,
	  0 },
	/* [klep] saw this literal from devices: an ack we cannot match, not garbage */
	{ "ack invalid sequence", "{\"error\":0,\"deviceid\":\"" DEV "\","
	  "\"sequence\":\"Invalid sequence\"}",
	  0, PROTO_MSG_ACK, DEV, "", "", "", "Invalid sequence", "", 0, 0, 1, 0, PROTO_SWITCH_NONE,
	  0, 0 },
	{ "ack negative error", "{\"error\":-1,\"deviceid\":\"" DEV "\",\"sequence\":\"7\"}",
	  0, PROTO_MSG_ACK, DEV, "", "", "", "7", "", 0, 0, 1, -1, PROTO_SWITCH_NONE, 0, 0 },
	/* unknown action: kept by name */
	{ "unknown action", "{\"action\":\"reportSubDevice\",\"deviceid\":\"" DEV "\","
	  "\"apikey\":\"" SRVKEY "\"}",
	  0, PROTO_MSG_UNKNOWN, DEV, SRVKEY, "", "", "", "reportSubDevice", 0, 0, 0, 0,
	  PROTO_SWITCH_NONE, 0, 0 },
	{ "action case matters", "{\"action\":\"Register\",\"deviceid\":\"" DEV "\"}",
	  0, PROTO_MSG_UNKNOWN, DEV, "", "", "", "", "Register", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0,
	  0 },
	/* ts is informational: odd values are ignored, not fatal */
	{ "ts string", "{\"action\":\"date\",\"deviceid\":\"" DEV "\",\"ts\":\"933\"}",
	  0, PROTO_MSG_DATE, DEV, "", "", "", "", "date", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	{ "ts fraction", "{\"action\":\"date\",\"deviceid\":\"" DEV "\",\"ts\":1.5}",
	  0, PROTO_MSG_DATE, DEV, "", "", "", "", "date", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	{ "ts negative", "{\"action\":\"date\",\"deviceid\":\"" DEV "\",\"ts\":-5}",
	  0, PROTO_MSG_DATE, DEV, "", "", "", "", "date", 1, -5, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	/* duplicate keys: the first one wins (cJSON) */
	{ "duplicate deviceid", "{\"action\":\"date\",\"deviceid\":\"aaaa\",\"deviceid\":\"bbbb\"}",
	  0, PROTO_MSG_DATE, "aaaa", "", "", "", "", "date", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	/* a deviceid of exactly PROTO_DEVICEID_MAX characters */
	{ "deviceid at limit", "{\"action\":\"date\",\"deviceid\":\"0123456789abcdef0123456789abcdef\"}",
	  0, PROTO_MSG_DATE, "0123456789abcdef0123456789abcdef", "", "", "", "", "date", 0, 0, 0, 0,
	  PROTO_SWITCH_NONE, 0, 0 },

	/* -EINVAL */
	BAD("empty", "", -EINVAL),
	BAD("not json", "hello", -EINVAL),
	BAD("truncated", "{\"action\":\"date\",\"deviceid\":\"" DEV "\"", -EINVAL),
	BAD("array", "[{\"action\":\"date\",\"deviceid\":\"" DEV "\"}]", -EINVAL),
	BAD("string", "\"register\"", -EINVAL),
	BAD("null", "null", -EINVAL),
	BAD("trailing garbage", "{\"action\":\"date\",\"deviceid\":\"" DEV "\"}x", -EINVAL),
	BAD("two objects", "{\"action\":\"date\",\"deviceid\":\"" DEV "\"}{}", -EINVAL),
	BAD("no deviceid", "{\"action\":\"date\",\"apikey\":\"" SRVKEY "\"}", -EINVAL),
	BAD("empty deviceid", "{\"action\":\"date\",\"deviceid\":\"\"}", -EINVAL),
	BAD("deviceid number", "{\"action\":\"date\",\"deviceid\":1000000001}", -EINVAL),
	BAD("deviceid with space", "{\"action\":\"date\",\"deviceid\":\"1000 0001\"}", -EINVAL),
	BAD("deviceid control char", "{\"action\":\"date\",\"deviceid\":\"10000\\n0001\"}", -EINVAL),
	BAD("deviceid non-ascii", "{\"action\":\"date\",\"deviceid\":\"10000\xc3\xa4" "0001\"}", -EINVAL),
	BAD("apikey number", "{\"action\":\"date\",\"deviceid\":\"" DEV "\",\"apikey\":5}", -EINVAL),
	BAD("model object", "{\"action\":\"register\",\"deviceid\":\"" DEV "\",\"model\":{}}", -EINVAL),
	BAD("action number", "{\"action\":1,\"deviceid\":\"" DEV "\"}", -EINVAL),
	{ "action empty", "{\"action\":\"\",\"deviceid\":\"" DEV "\"}", 0, PROTO_MSG_UNKNOWN, DEV,
	  "", "", "", "", "", 0, 0, 0, 0, PROTO_SWITCH_NONE, 0, 0 },
	BAD("no action no ack", "{\"deviceid\":\"" DEV "\",\"apikey\":\"" SRVKEY "\"}", -EINVAL),
	BAD("ack without sequence", "{\"error\":0,\"deviceid\":\"" DEV "\"}", -EINVAL),
	BAD("ack without error", "{\"sequence\":\"5\",\"deviceid\":\"" DEV "\"}", -EINVAL),
	BAD("error string", "{\"error\":\"0\",\"deviceid\":\"" DEV "\",\"sequence\":\"5\"}", -EINVAL),
	BAD("error fraction", "{\"error\":0.5,\"deviceid\":\"" DEV "\",\"sequence\":\"5\"}", -EINVAL),
	BAD("error huge", "{\"error\":4294967296,\"deviceid\":\"" DEV "\",\"sequence\":\"5\"}",
	    -EINVAL),
	BAD("sequence negative", "{\"error\":0,\"deviceid\":\"" DEV "\",\"sequence\":-5}", -EINVAL),
	BAD("sequence fraction", "{\"error\":0,\"deviceid\":\"" DEV "\",\"sequence\":5.5}", -EINVAL),
	BAD("sequence huge number", "{\"error\":0,\"deviceid\":\"" DEV "\",\"sequence\":1e300}",
	    -EINVAL),
	BAD("sequence bool", "{\"error\":0,\"deviceid\":\"" DEV "\",\"sequence\":true}", -EINVAL),

	/* -E2BIG */
	BAD("deviceid too long",
	    "{\"action\":\"date\",\"deviceid\":\"0123456789abcdef0123456789abcdef0\"}", -E2BIG),
	BAD("apikey too long", "{\"action\":\"date\",\"deviceid\":\"" DEV "\",\"apikey\":\""
	  DEVKEY DEVKEY "\"}", -E2BIG),
	BAD("model too long", "{\"action\":\"register\",\"deviceid\":\"" DEV "\",\"model\":\""
	  "ITA-GZ1-GL-ITA-GZ1-GL-ITA-GZ1-GL-\"}", -E2BIG),
	BAD("romVersion too long", "{\"action\":\"register\",\"deviceid\":\"" DEV "\","
	  "\"romVersion\":\"1.5.5.1.5.5.1.5.5.1.5.5.1.5.5.1.5.5\"}", -E2BIG),
	BAD("sequence too long", "{\"error\":0,\"deviceid\":\"" DEV "\","
	  "\"sequence\":\"1234567890123456789012345\"}", -E2BIG),
	BAD("action too long", "{\"action\":\"aVeryLongActionNameThatNoDeviceSends\","
	  "\"deviceid\":\"" DEV "\"}", -E2BIG),
};

static void
test_parse_frames(void)
{
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		const struct frame_row *f = &frames[i];
		struct proto_msg m;
		int r;

		memset(&m, 0x5a, sizeof(m));
		r = proto_parse_device(f->json, strlen(f->json), &m);
		CHECK_MSG(r == f->ret, "%s: returned %d, want %d", f->name, r, f->ret);
		if (r != 0 || f->ret != 0) {
			CHECK_MSG(m.deviceid[0] == 0x5a, "%s: ret written on error", f->name);
			continue;
		}
		CHECK_MSG(m.type == f->type, "%s: type %d, want %d", f->name, m.type, f->type);
		CHECK_STR(m.deviceid, f->deviceid);
		CHECK_STR(m.apikey, f->apikey);
		CHECK_STR(m.model, f->model);
		CHECK_STR(m.rom_version, f->rom);
		CHECK_STR(m.sequence, f->sequence);
		CHECK_STR(m.action, f->action);
		CHECK_MSG(m.has_sequence == (f->sequence[0] != '\0'), "%s: has_sequence", f->name);
		CHECK_MSG(m.has_ts == !!f->has_ts, "%s: has_ts %d", f->name, m.has_ts);
		if (f->has_ts)
			CHECK_INT(m.ts, f->ts);
		CHECK_MSG(m.has_error == !!f->has_error, "%s: has_error %d", f->name, m.has_error);
		if (f->has_error)
			CHECK_INT(m.error, f->error);
		CHECK_MSG(m.sw == f->sw, "%s: switch %d, want %d", f->name, m.sw, f->sw);
		CHECK_MSG(m.has_switches == !!f->has_switches, "%s: has_switches", f->name);
		CHECK_MSG(m.has_params == !!f->has_params, "%s: has_params", f->name);
	}
}

/* Frames are taken by length: no NUL needed, bytes past len never read, an
 * embedded NUL is garbage, and PROTO_MSG_MAX is the size limit. */
static void
test_parse_lengths(void)
{
	const char *json = "{\"action\":\"date\",\"deviceid\":\"" DEV "\"}";
	size_t n = strlen(json);
	struct proto_msg m;
	char *buf;

	/* Exactly n bytes, no terminator. */
	buf = malloc(n);
	memcpy(buf, json, n);
	CHECK_INT(proto_parse_device(buf, n, &m), 0);
	CHECK_INT(proto_parse_device(buf, n - 1, &m), -EINVAL);
	free(buf);

	/* Embedded NUL followed by more bytes. */
	buf = malloc(n + 3);
	memcpy(buf, json, n);
	memcpy(buf + n, "\0xx", 3);
	CHECK_INT(proto_parse_device(buf, n + 3, &m), -EINVAL);
	CHECK_INT(proto_parse_device(buf, n, &m), 0);
	free(buf);

	CHECK_INT(proto_parse_device(NULL, 0, &m), -EINVAL);

	/* Size limit: a valid frame padded with whitespace to PROTO_MSG_MAX is parsed,
	 * one byte more is refused before parsing. */
	buf = malloc(PROTO_MSG_MAX + 1);
	memcpy(buf, json, n);
	memset(buf + n, ' ', PROTO_MSG_MAX + 1 - n);
	CHECK_INT(proto_parse_device(buf, PROTO_MSG_MAX, &m), 0);
	CHECK_INT(proto_parse_device(buf, PROTO_MSG_MAX + 1, &m), -EMSGSIZE);
	free(buf);

	/* Deep nesting within the size limit does not crash. */
	buf = malloc(PROTO_MSG_MAX);
	size_t k = 0;
	k += (size_t)sprintf(buf, "{\"deviceid\":\"" DEV "\",\"action\":\"update\",\"params\":");
	while (k < PROTO_MSG_MAX / 2)
		buf[k++] = '[';
	size_t open = k - strlen("{\"deviceid\":\"" DEV "\",\"action\":\"update\",\"params\":");
	for (size_t j = 0; j < open && k < PROTO_MSG_MAX - 1; j++)
		buf[k++] = ']';
	buf[k++] = '}';
	int r = proto_parse_device(buf, k, &m);
	CHECK_MSG(r == 0 || r == -EINVAL, "deep nesting: %d", r);
	free(buf);
}

/* ---- GET /device and dispatch ------------------------------------------------ */

static void
test_device_info(void)
{
	struct proto_device_info d;
	const char *ok = "{\"deviceid\":\"10000b80c9\",\"apikey\":\"" DEVKEY "\",\"accept\":\"post\"}";

	memset(&d, 0, sizeof(d));
	CHECK_INT(proto_parse_device_info(ok, strlen(ok), &d), 0);
	CHECK_STR(d.deviceid, "10000b80c9");
	CHECK_STR(d.apikey, DEVKEY);
	CHECK_STR(d.accept, "post");

	const char *minimal = "{\"deviceid\":\"10000b80c9\"}";
	CHECK_INT(proto_parse_device_info(minimal, strlen(minimal), &d), 0);
	CHECK_STR(d.apikey, "");
	CHECK_STR(d.accept, "");

	static const struct {
		const char *json;
		int ret;
	} bad[] = {
		{ "", -EINVAL },
		{ "<html>", -EINVAL },
		{ "{\"apikey\":\"k\",\"accept\":\"post\"}", -EINVAL },
		{ "{\"deviceid\":10000,\"accept\":\"post\"}", -EINVAL },
		{ "{\"deviceid\":\"d\",\"accept\":\"post-post-post-post\"}", -E2BIG },
		{ "{\"deviceid\":\"0123456789abcdef0123456789abcdef0\"}", -E2BIG },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(d.deviceid, "untouched");
		CHECK_INT(proto_parse_device_info(bad[i].json, strlen(bad[i].json), &d), bad[i].ret);
		CHECK_STR(d.deviceid, "untouched");
	}
}

static void
test_dispatch(void)
{
	static const struct {
		const char *name, *json;
		int ret;
		const char *deviceid, *apikey, *model, *rom;
	} rows[] = {
		/* the [vpon] capture */
		{ "capture", "{\"accept\":\"ws;2\",\"version\":2,\"ts\":933,\"deviceid\":\"100008db11\","
		  "\"apikey\":\"" DEVKEY "\",\"model\":\"ITA-GZ1-GL\",\"romVersion\":\"1.5.5\"}",
		  0, "100008db11", DEVKEY, "ITA-GZ1-GL", "1.5.5" },
		{ "empty object", "{}", 0, "", "", "", "" },
		/* one bad field does not hide the others */
		{ "odd fields", "{\"deviceid\":12345,\"apikey\":\"" DEVKEY "\",\"model\":\"ITA-GZ1-GL"
		  "-ITA-GZ1-GL-ITA-GZ1-GL-X\",\"romVersion\":\"2.0.4\"}",
		  0, "", DEVKEY, "", "2.0.4" },
		{ "control char", "{\"deviceid\":\"a\\u0001b\",\"model\":\"PSC-B01-GL\"}",
		  0, "", "", "PSC-B01-GL", "" },
		{ "not json", "deviceid=1000", -EINVAL, "", "", "", "" },
		{ "empty body", "", -EINVAL, "", "", "", "" },
		{ "array", "[1,2]", -EINVAL, "", "", "", "" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct proto_dispatch d;

		memset(&d, 0x5a, sizeof(d));
		CHECK_MSG(proto_parse_dispatch(rows[i].json, strlen(rows[i].json), &d) == rows[i].ret,
			  "%s", rows[i].name);
		/* always written, even on error */
		CHECK_STR(d.deviceid, rows[i].deviceid);
		CHECK_STR(d.apikey, rows[i].apikey);
		CHECK_STR(d.model, rows[i].model);
		CHECK_STR(d.rom_version, rows[i].rom);
	}

	char big[PROTO_MSG_MAX + 1];
	struct proto_dispatch d;
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[PROTO_MSG_MAX] = '}';
	CHECK_INT(proto_parse_dispatch(big, sizeof(big), &d), -EMSGSIZE);
	CHECK_STR(d.deviceid, "");
}

/* A built message parses back with the device parser (round trip of the fields a
 * device reads from it). */
static void
test_round_trip(void)
{
	struct proto_msg m;
	char *s = proto_build_relay(DEV, SRVKEY, 42, true);

	CHECK(s != NULL);
	CHECK_INT(proto_parse_device(s, strlen(s), &m), 0);
	CHECK_INT(m.type, PROTO_MSG_UPDATE);
	CHECK_STR(m.deviceid, DEV);
	CHECK_STR(m.apikey, SRVKEY);
	CHECK_STR(m.sequence, "42");
	CHECK_INT(m.sw, PROTO_SWITCH_ON);
	free(s);
}

int
main(void)
{
	test_format_utc();
	test_date_ignores_tz();
	test_builders();
	test_builder_limits();
	test_parse_frames();
	test_parse_lengths();
	test_device_info();
	test_dispatch();
	test_round_trip();
	return check_done();
}

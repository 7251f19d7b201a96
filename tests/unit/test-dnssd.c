/* Unit tests of src/dnssd.c: TXT records as seen on the wire and from Avahi, the dataN
 * concatenation, DIY vs LAN mode, instance names, hidden-device diagnoses (DIY-PROTOCOL.md
 * §2, §8).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check.h"
#include "dnssd.h"

/* Build a TXT RDATA from NUL-separated strings ("a=1\0b=2\0"). */
static size_t
rdata(uint8_t *out, const char *const *strs, size_t n)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(strs[i]);

		out[off++] = (uint8_t)l;
		memcpy(out + off, strs[i], l);
		off += l;
	}
	return off;
}

#define RD(buf, ...)                                                                               \
	rdata(buf, (const char *const[]){ __VA_ARGS__ },                                           \
	      sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))

static void
test_diy_record(void)
{
	uint8_t b[2048];
	struct dnssd_txt t;
	struct dnssd_device d;
	char data[DNSSD_DATA_MAX + 1];
	/* 3.3.0 as avahi shows it ([TD]) */
	size_t n =
	    RD(b, "txtvers=1", "id=1000806ace", "type=diy_plug", "apivers=1", "seq=3",
	       "data1={\"switch\":\"off\",\"startup\":\"off\",\"pulse\":\"off\",\"pulseWidth\":500,"
	       "\"rssi\":-47}");

	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_STR(t.id, "1000806ace");
	CHECK_STR(t.type, "diy_plug");
	CHECK(t.has_txtvers && t.txtvers == 1 && t.has_apivers && t.apivers == 1);
	CHECK(t.has_seq && t.seq == 3);
	CHECK(!t.encrypt && !t.has_iv);
	CHECK(dnssd_txt_data(&t, data, sizeof(data)) > 0 && strstr(data, "\"rssi\":-47"));
	dnssd_classify(&t, "eWeLink_1000806ace._ewelink._tcp.local", &d);
	CHECK_INT(d.mode, DNSSD_MODE_DIY);
	CHECK_INT(d.route, DIY_ROUTE_DIY);
	CHECK(d.state_ok && !d.has_ota_unlock);
	CHECK_STR(d.id, "1000806ace");

	/* state split in 249-byte pieces, out of order on the wire; keys in other case */
	n = RD(b, "ID=10000000d0", "Type=diy_plug", "data2=\"ssid\":\"home\",\"otaUnlock\":true}",
	       "data1={\"switch\":\"on\",");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_INT(dnssd_txt_data(&t, data, sizeof(data)),
		  (int)strlen("{\"switch\":\"on\",\"ssid\":\"home\",\"otaUnlock\":true}"));
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_DIY);
	CHECK(d.state_ok && d.has_ota_unlock && d.ota_unlock);
	CHECK_STR(d.ssid, "home");

	/* MINIR3 as SonoffLAN sees it: diy_plug with switches[] */
	n = RD(b, "id=1000aaaaaa", "type=diy_plug", "data1={\"switches\":[{\"switch\":\"off\","
						    "\"outlet\":0}]}");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK(d.mode == DNSSD_MODE_DIY && d.multi_channel);
}

static void
test_other_modes(void)
{
	uint8_t b[2048];
	struct dnssd_txt t;
	struct dnssd_device d;
	size_t n;

	/* LAN mode: encrypt + iv + base64 data (PSL#30) */
	n = RD(b, "txtvers=1", "id=1000806ace", "type=plug", "apivers=1", "seq=1",
	       "encrypt=true", "iv=MTIzNDU2Nzg5MDEyMzQ1Ng==", "data1=q83vEjRWeJA=");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_LAN);
	CHECK_INT(d.route, DIY_ROUTE_NONE);
	CHECK(strstr(d.why, "DIY mode") != NULL);
	/* what to do (issue 11 item 2): the exact button sequence, the AP, the browser form,
	 * and the 3.3/3.4 way */
	CHECK(strstr(d.why, "5 s until the LED blinks, then 5 s more") != NULL);
	CHECK(strstr(d.why, "ITEAD-<id> (password 12345678)") != NULL);
	CHECK(strstr(d.why, "in a browser at http://10.10.7.1/") != NULL);
	CHECK(strstr(d.why, "sonoffDiy") != NULL);

	n = RD(b, "id=1000806ace", "type=diy_plug", "iv=abc");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_LAN);

	n = RD(b, "id=1000806ace", "type=diy_plug", "apivers=2");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_UNSUPPORTED);

	n = RD(b, "id=1000806ace", "type=zigbee_bridge");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_UNSUPPORTED);

	/* no id in TXT: taken from the instance name */
	n = RD(b, "type=diy_plug");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, "eWelink_10000000d0", &d);
	CHECK(d.mode == DNSSD_MODE_DIY && strcmp(d.id, "10000000d0") == 0);
	dnssd_classify(&t, "ihost-1234", &d);
	CHECK_INT(d.mode, DNSSD_MODE_UNSUPPORTED);
	dnssd_classify(&t, NULL, &d);
	CHECK_INT(d.mode, DNSSD_MODE_UNSUPPORTED);

	/* DIY but the state is not JSON */
	n = RD(b, "id=1", "type=diy_plug", "data1={broken");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	dnssd_classify(&t, NULL, &d);
	CHECK(d.mode == DNSSD_MODE_DIY && !d.state_ok);
}

static void
test_malformed(void)
{
	uint8_t b[2048];
	struct dnssd_txt t;
	char data[DNSSD_DATA_MAX + 1];
	size_t n;

	/* a length running past the end */
	b[0] = 5;
	memcpy(b + 1, "id=1", 4);
	CHECK_INT(dnssd_txt_parse(b, 5, &t), -EINVAL);
	/* empty key */
	n = RD(b, "=x");
	CHECK_INT(dnssd_txt_parse(b, n, &t), -EINVAL);
	/* numbers */
	n = RD(b, "seq=abc");
	CHECK_INT(dnssd_txt_parse(b, n, &t), -EINVAL);
	n = RD(b, "seq=4294967296");
	CHECK_INT(dnssd_txt_parse(b, n, &t), -EINVAL);
	n = RD(b, "seq=4294967295");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	/* id with a space or a control byte */
	n = RD(b, "id=10 00");
	CHECK_INT(dnssd_txt_parse(b, n, &t), -EINVAL);
	n = RD(b, "id=123456789012345678901234567890123");
	CHECK_INT(dnssd_txt_parse(b, n, &t), -E2BIG);
	/* first occurrence wins (RFC 6763 §6.4) */
	n = RD(b, "id=first", "id=second", "seq=1", "seq=x");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_STR(t.id, "first");
	/* a gap in dataN, no data1 */
	n = RD(b, "data1=a", "data3=c");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_INT(dnssd_txt_data(&t, data, sizeof(data)), -EINVAL);
	n = RD(b, "data2=b");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_INT(dnssd_txt_data(&t, data, sizeof(data)), -ENOENT);
	/* data0 and data9 are not pieces; ignored */
	n = RD(b, "data0=x", "data9=y", "data1=z");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_INT(dnssd_txt_data(&t, data, sizeof(data)), 1);
	/* a NUL inside a piece */
	{
		static const uint8_t nul[] = { 7, 'd', 'a', 't', 'a', '1', '=', 0 };

		CHECK_INT(dnssd_txt_parse(nul, sizeof(nul), &t), 0);
		CHECK_INT(dnssd_txt_data(&t, data, sizeof(data)), -EINVAL);
	}
	/* out buffer too small */
	n = RD(b, "data1=abcdef");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK_INT(dnssd_txt_data(&t, data, 4), -E2BIG);
	/* a whole record above 1300 bytes */
	{
		char big[256];
		const char *s[6];

		memset(big, 'x', 255);
		big[255] = '\0';
		memcpy(big, "k=", 2);
		for (int i = 0; i < 6; i++)
			s[i] = big;
		n = rdata(b, s, 6);
		CHECK_INT(dnssd_txt_parse(b, n, &t), -E2BIG);
	}
	/* bare "encrypt" attribute, empty strings */
	n = RD(b, "", "encrypt", "id=1", "type=diy_plug");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK(t.encrypt);
	n = RD(b, "encrypt=false");
	CHECK_INT(dnssd_txt_parse(b, n, &t), 0);
	CHECK(!t.encrypt);
}

static void
test_instance(void)
{
	char id[DNSSD_ID_MAX + 1];

	CHECK_INT(dnssd_id_from_instance("eWeLink_1000988699", id), 0);
	CHECK_STR(id, "1000988699");
	CHECK_INT(dnssd_id_from_instance("eWeLink_1000988699.local", id), 0);
	CHECK_STR(id, "1000988699");
	CHECK_INT(dnssd_id_from_instance("eWelink_10000000d0._ewelink._tcp.local", id), 0);
	CHECK_STR(id, "10000000d0");
	CHECK_INT(dnssd_id_from_instance("eWeLink_", id), -EINVAL);
	CHECK_INT(dnssd_id_from_instance("ihost-12", id), -EINVAL);
	CHECK_INT(dnssd_id_from_instance("ESP_A1B2C3", id), -EINVAL);
	CHECK_INT(dnssd_id_from_instance(NULL, id), -EINVAL);
}

static void
test_hidden(void)
{
	static const struct {
		struct dnssd_hidden h;
		const char *want;
	} t[] = {
		{ { .avahi_running = true, .seen_lan_mode = true }, "LAN mode" },
		{ { .avahi_running = true, .seen_lan_mode = true },
		  "LAN mode, not DIY mode: no OTA there; enter DIY mode: hold the button 5 s" },
		{ { .avahi_running = true, .ip_given = true, .ip_answers_8081 = true,
		    .ip_same_subnet = true }, "multicast is blocked" },
		{ { .avahi_running = true, .ip_given = true }, "another subnet" },
		{ { .avahi_running = true, .ip_given = true, .ip_same_subnet = true },
		  "not in DIY mode" },
		{ { .avahi_running = false }, "Avahi" },
		{ { .avahi_running = true, .others_seen = true }, "other eWeLink devices" },
		{ { .avahi_running = true }, "blocked" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *d = dnssd_hidden_diagnosis(&t[i].h);

		CHECK_MSG(strstr(d, t[i].want) != NULL, "hidden %zu: '%s'", i, d);
	}
	CHECK_STR(dnssd_mode_name(DNSSD_MODE_LAN), "lan");
}

int
main(void)
{
	test_diy_record();
	test_other_modes();
	test_malformed();
	test_instance();
	test_hidden();
	return check_done();
}

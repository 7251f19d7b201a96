/* Unit tests of src/diyscan.c: merging announcements and info replies into `--scan` lines. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diyscan.h"

static void
classify(const char *const *strs, size_t n, struct dnssd_device *d)
{
	struct dnssd_txt t;

	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < n; i++)
		CHECK_INT(dnssd_txt_add(&t, (const uint8_t *)strs[i], strlen(strs[i])), 0);
	dnssd_classify(&t, NULL, d);
}

static void
test_lines(void)
{
	static const char *const diy36[] = { "id=1000806ace", "type=diy_plug",
					     "data1={\"switch\":\"off\"}" };
	static const char *const lan[] = { "id=10000b0001", "type=plug", "encrypt=true", "iv=x" };
	static const char *const diy33[] = { "id=1000000001", "type=diy_plug",
					     "data1={\"switch\":\"on\",\"otaUnlock\":true}" };
	static const char info36[] = "{\"seq\":1,\"error\":0,\"data\":{\"fwVersion\":\"3.6.0\","
				     "\"otaUnlock\":false}}";
	static const char info33[] =
	    "{\"seq\":1,\"error\":0,\"data\":\"{\\\"otaUnlock\\\":false}\"}";
	struct diyscan *s = calloc(1, sizeof(*s));
	struct dnssd_device d;
	struct diy_info in;
	char line[DIYSCAN_LINE_MAX];
	char *j;

	classify(diy36, 3, &d);
	CHECK_INT(diyscan_add(s, &d, "192.168.1.23"), 0);
	classify(lan, 4, &d);
	CHECK_INT(diyscan_add(s, &d, "192.168.1.30"), 0);
	classify(diy33, 3, &d);
	CHECK_INT(diyscan_add(s, &d, NULL), 0);
	/* the same device again, from another interface: one entry, address kept */
	classify(diy36, 3, &d);
	CHECK_INT(diyscan_add(s, &d, NULL), 0);
	CHECK_INT(s->n, 3);

	CHECK_INT(diy_parse_info(info36, strlen(info36), &in), 0);
	CHECK_INT(diyscan_add_info(s, "1000806ace", &in), 0);
	CHECK_INT(diy_parse_info(info33, strlen(info33), &in), 0);
	CHECK_INT(diyscan_add_info(s, "1000000001", &in), 0); /* info beats TXT's otaUnlock */
	CHECK_INT(diyscan_add_info(s, "1000ffffff", &in), -ENOENT);
	diyscan_sort(s); /* "10000b0001" < "1000806ace": byte order */

	CHECK(diyscan_format(&s->e[0], line, sizeof(line)) > 0);
	CHECK_STR(line, "1000000001  -  diy_plug  fw 3.3-3.4  otaUnlock false  diy  route diy");
	CHECK(diyscan_format(&s->e[2], line, sizeof(line)) > 0);
	CHECK_STR(line, "1000806ace  192.168.1.23  diy_plug  fw 3.6.0  otaUnlock false  diy  "
			"route diy");
	CHECK(diyscan_format(&s->e[1], line, sizeof(line)) > 0);
	CHECK_STR(line, "10000b0001  192.168.1.30  plug  fw ?  otaUnlock ?  lan  needs DIY mode "
			"first: hold the button 5 s, then 5 s more (docs/diy.md)");
	CHECK(strlen(line) < DIYSCAN_LINE_MAX);
	CHECK_INT(diyscan_format(&s->e[1], line, 10), -E2BIG);
	CHECK_STR(line, "");

	j = diyscan_json(&s->e[2]);
	CHECK_STR(
	    j, "{\"id\":\"1000806ace\",\"address\":\"192.168.1.23\",\"type\":\"diy_plug\","
	       "\"fwVersion\":\"3.6.0\",\"otaUnlock\":false,\"mode\":\"diy\",\"route\":\"diy\"}");
	free(j);
	j = diyscan_json(&s->e[1]);
	CHECK_STR(j, "{\"id\":\"10000b0001\",\"address\":\"192.168.1.30\",\"type\":\"plug\","
		     "\"fwVersion\":null,\"otaUnlock\":null,\"mode\":\"lan\",\"route\":\"none\","
		     "\"next\":\"needs DIY mode first: hold the button 5 s, then 5 s more "
		     "(docs/diy.md)\"}");
	free(j);
	free(s);
}

static void
test_limits(void)
{
	struct diyscan *s = calloc(1, sizeof(*s));
	struct dnssd_device d;

	memset(&d, 0, sizeof(d));
	CHECK_INT(diyscan_add(s, &d, NULL), -EINVAL);
	for (int i = 0; i < DIYSCAN_MAX; i++) {
		snprintf(d.id, sizeof(d.id), "10000%05d", i);
		CHECK_INT(diyscan_add(s, &d, NULL), 0);
	}
	snprintf(d.id, sizeof(d.id), "1000099999");
	CHECK_INT(diyscan_add(s, &d, NULL), -ENOSPC);
	snprintf(d.id, sizeof(d.id), "1000000003");
	CHECK_INT(diyscan_add(s, &d, "10.0.0.3"), 0); /* an update still fits */
	CHECK_INT(s->n, DIYSCAN_MAX);
	/* multi-channel (MINIR3: requests without the deviceid key) from TXT or from info,
	 * and a later announcement without it does not forget it */
	CHECK(!s->e[3].multi_channel);
	d.multi_channel = true;
	CHECK_INT(diyscan_add(s, &d, NULL), 0);
	CHECK(s->e[3].multi_channel);
	d.multi_channel = false;
	CHECK_INT(diyscan_add(s, &d, NULL), 0);
	CHECK(s->e[3].multi_channel);
	{
		struct diy_info in = { .multi_channel = true };

		CHECK(!s->e[4].multi_channel);
		CHECK_INT(diyscan_add_info(s, "1000000004", &in), 0);
		CHECK(s->e[4].multi_channel);
	}
	free(s);
}

/* --scan's bound: AllForNow + DIYSCAN_SETTLE_MS, never past DIYSCAN_BROWSE_MAX_MS */
static void
test_wait(void)
{
	CHECK_INT(diyscan_wait_ms(0, false, 0), DIYSCAN_BROWSE_MAX_MS);
	CHECK_INT(diyscan_wait_ms(4000, false, 0), DIYSCAN_BROWSE_MAX_MS - 4000);
	CHECK_INT(diyscan_wait_ms(DIYSCAN_BROWSE_MAX_MS, false, 0), 0);
	CHECK_INT(diyscan_wait_ms(DIYSCAN_BROWSE_MAX_MS + 5, true, 0), 0);
	CHECK_INT(diyscan_wait_ms(500, true, 0), DIYSCAN_SETTLE_MS);
	CHECK_INT(diyscan_wait_ms(1500, true, 1000), DIYSCAN_SETTLE_MS - 1000);
	CHECK_INT(diyscan_wait_ms(3500, true, DIYSCAN_SETTLE_MS), 0);
	/* AllForNow late: the overall bound wins */
	CHECK_INT(diyscan_wait_ms(DIYSCAN_BROWSE_MAX_MS - 100, true, 0), 100);
}

int
main(void)
{
	test_wait();
	test_lines();
	test_limits();
	return check_done();
}

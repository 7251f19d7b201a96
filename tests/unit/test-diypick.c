/* Unit tests of src/diypick.c: which DIY-mode device a --diy run takes. Never an arbitrary
 * one of several: without --device-id a second device within the settle stops the run
 * (SEVERAL, listed sorted by id); with it only that id is taken, at once, whatever else
 * announces; one device alone is taken after the settle; a goodbye removes a candidate;
 * LAN-mode devices are never candidates. --scan --device-id keeps one entry. */
#include "config.h"

#include <string.h>

#include "check.h"
#include "diypick.h"

static struct dnssd_device
dev(const char *id, enum dnssd_mode mode)
{
	struct dnssd_device d = { .mode = mode, .route = DIY_ROUTE_DIY };

	snprintf(d.id, sizeof(d.id), "%s", id);
	snprintf(d.type, sizeof(d.type), "diy_plug");
	return d;
}

static void
test_decide(void)
{
	struct diypick p;
	struct dnssd_device a = dev("1000abcd52", DNSSD_MODE_DIY);
	struct dnssd_device b = dev("1000abcd51", DNSSD_MODE_DIY);
	struct dnssd_device lan = dev("1000aaaa1a", DNSSD_MODE_LAN);
	unsigned which = 99;
	uint64_t wake = 1;
	char buf[512];

	/* nothing yet: wait for an announcement, no timer */
	diypick_init(&p, NULL);
	CHECK_INT(diypick_decide(&p, 1000, &which, &wake), DIYPICK_WAIT);
	CHECK_INT(wake, 0);
	/* a LAN-mode device is no candidate */
	CHECK(!diypick_found(&p, &lan, "192.0.2.9", 1000));
	CHECK_INT(p.n, 0);

	/* one device: not taken at once (a second may be announcing), but after the settle */
	CHECK(diypick_found(&p, &a, "192.0.2.52", 1000));
	CHECK_INT(diypick_decide(&p, 1000, &which, &wake), DIYPICK_WAIT);
	CHECK_INT(wake, 1000 + DIYPICK_WAIT_MAX_MS); /* no AllForNow yet */
	diypick_all_for_now(&p, 1500);
	CHECK_INT(diypick_decide(&p, 1500, &which, &wake), DIYPICK_WAIT);
	CHECK_INT(wake, 1500 + DIYPICK_SETTLE_MS);
	CHECK_INT(diypick_decide(&p, 1500 + DIYPICK_SETTLE_MS, &which, &wake), DIYPICK_TAKE);
	CHECK_INT(which, 0);
	CHECK_STR(p.dev[0].addr, "192.0.2.52");

	/* two within the settle: SEVERAL, never one of them */
	CHECK(diypick_found(&p, &b, "192.0.2.51", 2000));
	CHECK_INT(diypick_decide(&p, 1500 + DIYPICK_SETTLE_MS, &which, &wake), DIYPICK_SEVERAL);
	CHECK_INT(diypick_decide(&p, 999999, &which, &wake), DIYPICK_SEVERAL);
	diypick_format(&p, buf, sizeof(buf));
	CHECK_STR(buf, "  1000abcd51  192.0.2.51  diy_plug\n  1000abcd52  192.0.2.52  diy_plug\n");
	/* the same device again (TXT change, a second interface): still two */
	CHECK(diypick_found(&p, &a, "192.0.2.53", 2100));
	CHECK_INT(p.n, 2);
	CHECK_STR(p.dev[0].addr, "192.0.2.53");
	/* one says goodbye: the other alone is taken */
	diypick_removed(&p, "1000ABCD52");
	CHECK_INT(p.n, 1);
	CHECK_INT(diypick_decide(&p, 999999, &which, &wake), DIYPICK_TAKE);
	CHECK_STR(p.dev[which].id, "1000abcd51");

	/* AllForNow before the first device: the settle runs from the device */
	diypick_init(&p, NULL);
	diypick_all_for_now(&p, 100);
	CHECK(diypick_found(&p, &a, "192.0.2.52", 5000));
	CHECK_INT(diypick_decide(&p, 5000, &which, &wake), DIYPICK_WAIT);
	CHECK_INT(wake, 5000 + DIYPICK_SETTLE_MS);
	/* no AllForNow at all: the bound */
	diypick_init(&p, NULL);
	CHECK(diypick_found(&p, &a, "192.0.2.52", 5000));
	CHECK(diypick_found(&p, &b, "192.0.2.51", 5000 + DIYPICK_WAIT_MAX_MS - 1));
	CHECK_INT(diypick_decide(&p, 5000 + DIYPICK_WAIT_MAX_MS, &which, &wake), DIYPICK_SEVERAL);

	/* --device-id: that one at once (any case), the others ignored */
	diypick_init(&p, "1000ABCD51");
	CHECK(!diypick_found(&p, &a, "192.0.2.52", 1000));
	CHECK_INT(diypick_decide(&p, 99999, &which, &wake), DIYPICK_WAIT);
	CHECK_INT(wake, 0); /* the discover limit decides */
	CHECK(diypick_found(&p, &b, "192.0.2.51", 1200));
	CHECK_INT(diypick_decide(&p, 1200, &which, &wake), DIYPICK_TAKE);
	CHECK_STR(p.dev[which].id, "1000abcd51");
	CHECK_INT(p.n, 1);

	/* a device without an address or id is no candidate */
	diypick_init(&p, NULL);
	CHECK(!diypick_found(&p, &a, "", 1));
	CHECK(!diypick_found(&p, &(struct dnssd_device){ .mode = DNSSD_MODE_DIY }, "192.0.2.1", 1));
	CHECK_INT(p.n, 0);

	/* more than DIYPICK_MAX: several, with a line saying so, never a pick */
	diypick_init(&p, NULL);
	for (int i = 0; i < DIYPICK_MAX + 2; i++) {
		struct dnssd_device d = dev("", DNSSD_MODE_DIY);

		snprintf(d.id, sizeof(d.id), "1000abcd%02d", i);
		CHECK(diypick_found(&p, &d, "192.0.2.1", 10));
	}
	CHECK(p.full && p.n == DIYPICK_MAX);
	CHECK_INT(diypick_decide(&p, 999999, &which, &wake), DIYPICK_SEVERAL);
	diypick_format(&p, buf, sizeof(buf));
	CHECK(strstr(buf, "more than 16") != NULL || strlen(buf) == sizeof(buf) - 1);
	/* cut, never overrun */
	CHECK_INT(diypick_format(&p, buf, 10), 9);
	CHECK_INT(strlen(buf), 9);
}

static void
test_scan_filter(void)
{
	struct diyscan s = { 0 };
	struct dnssd_device a = dev("1000abcd52", DNSSD_MODE_DIY);
	struct dnssd_device b = dev("1000abcd51", DNSSD_MODE_DIY);

	CHECK_INT(diyscan_add(&s, &a, "192.0.2.52"), 0);
	CHECK_INT(diyscan_add(&s, &b, "192.0.2.51"), 0);
	CHECK_INT(diypick_scan_filter(&s, "1000ABCD51"), 1);
	CHECK_INT(s.n, 1);
	CHECK_STR(s.e[0].id, "1000abcd51");
	CHECK_INT(diypick_scan_filter(&s, "nothere"), 1);
	CHECK_INT(s.n, 0);
	CHECK(diypick_same_id("abc", "ABC") && !diypick_same_id("", "") && !diypick_same_id("a", NULL));
}

int
main(void)
{
	test_decide();
	test_scan_filter();
	return check_done();
}

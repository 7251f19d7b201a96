/* Unit tests of drawer: the devices of one --all run and their summary lines
 * (src/drawer.h, docs/wifi.md "Drawer mode"). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "check.h"
#include "drawer.h"

static const uint8_t mac1[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 1 };
static const uint8_t mac2[6] = { 0xd8, 0xf1, 0x5b, 0, 0, 2 };

/* all_done over lists of outcomes */
static void
test_all_done(void)
{
	static const struct {
		unsigned n;
		enum drawer_outcome o[3];
		bool want;
	} rows[] = {
		{ 0, { 0 }, false }, /* nothing taken over: not a success */
		{ 1, { DRAWER_DONE }, true },
		{ 2, { DRAWER_DONE, DRAWER_DONE }, true },
		{ 2, { DRAWER_DONE, DRAWER_FAILED }, false },
		{ 2, { DRAWER_FAILED, DRAWER_DONE }, false },
		{ 3, { DRAWER_DONE, DRAWER_DONE, DRAWER_INTERRUPTED }, false },
		{ 1, { DRAWER_INTERRUPTED }, false },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct drawer d;
		drawer_init(&d);
		for (unsigned k = 0; k < rows[i].n; k++)
			CHECK_INT(drawer_record(&d, "1000abcdef", NULL, rows[i].o[k], "why"), 0);
		CHECK_MSG(drawer_all_done(&d) == rows[i].want, "row %zu", i);
	}
}

static void
test_lines(void)
{
	struct drawer d;
	char buf[512];
	drawer_init(&d);
	CHECK(!drawer_summary_line(&d, 0, buf, sizeof(buf)));
	drawer_record(&d, "1000000001", mac1, DRAWER_DONE, "ignored for done");
	drawer_record(&d, "1000000002", mac2, DRAWER_FAILED,
		      "FinalStage did not come\nwithin 60 s");
	drawer_record(&d, NULL, NULL, DRAWER_INTERRUPTED, NULL);
	CHECK(drawer_summary_line(&d, 0, buf, sizeof(buf)));
	CHECK_STR(buf, "device 1 of 3: 1000000001 (BSSID D8:F1:5B:00:00:01): DONE: final "
		       "firmware delivered");
	CHECK(drawer_summary_line(&d, 1, buf, sizeof(buf)));
	CHECK_STR(buf, "device 2 of 3: 1000000002 (BSSID D8:F1:5B:00:00:02): NOT done: "
		       "FinalStage did not come within 60 s");
	CHECK(drawer_summary_line(&d, 2, buf, sizeof(buf)));
	CHECK_STR(buf, "device 3 of 3: (id unknown): NOT done: interrupted");
	CHECK(!drawer_summary_line(&d, 3, buf, sizeof(buf)));
	/* a short buffer is cut, not overrun */
	char small[12];
	memset(small, 'x', sizeof(small));
	CHECK(drawer_summary_line(&d, 0, small, 8));
	CHECK_INT(strlen(small), 7);
	CHECK(small[8] == 'x');
	CHECK_STR(drawer_outcome_name(DRAWER_FAILED), "failed");
	CHECK_STR(drawer_outcome_name(_DRAWER_OUTCOME_MAX), "invalid");
}

/* A full list counts the rest; one not done among them spoils all_done. */
static void
test_full(void)
{
	struct drawer d;
	drawer_init(&d);
	for (unsigned i = 0; i < DRAWER_DEVICES_MAX; i++)
		CHECK_INT(drawer_record(&d, "x", NULL, DRAWER_DONE, NULL), 0);
	CHECK(drawer_all_done(&d));
	CHECK_INT(drawer_record(&d, "y", NULL, DRAWER_DONE, NULL), -ENOSPC);
	CHECK_INT(d.n, DRAWER_DEVICES_MAX);
	CHECK(drawer_all_done(&d));
	CHECK_INT(drawer_record(&d, "z", NULL, DRAWER_FAILED, "x"), -ENOSPC);
	CHECK_INT(d.dropped, 2);
	CHECK(!drawer_all_done(&d));
	/* a long why is cut to DRAWER_WHY_MAX - 1 */
	drawer_init(&d);
	char why[DRAWER_WHY_MAX * 2];
	memset(why, 'w', sizeof(why) - 1);
	why[sizeof(why) - 1] = 0;
	drawer_record(&d, "a", NULL, DRAWER_FAILED, why);
	CHECK_INT(strlen(d.devs[0].why), DRAWER_WHY_MAX - 1);
}

int
main(void)
{
	test_all_done();
	test_lines();
	test_full();
	return check_done();
}

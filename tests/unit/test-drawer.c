/* Unit tests of drawer: the devices of one --all run and their summary lines
 * (src/drawer.h, docs/wifi.md "Drawer mode"). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
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

/* The states of several devices at once: provisioned, calling, stock-done, FinalStage
 * one at a time in provisioning order, matched by BSSID or deviceid. */
static void
test_states(void)
{
	struct drawer d;
	char buf[512];
	drawer_init(&d);
	CHECK_INT(drawer_add(&d, "1000000001", mac1), 0);
	CHECK_INT(drawer_add(&d, "1000000002", mac2), 1);
	/* the same device again (by BSSID, or by id with no BSSID): the same entry */
	CHECK_INT(drawer_add(&d, "other", mac1), 0);
	CHECK_INT(drawer_add(&d, "1000000002", NULL), 1);
	CHECK_INT(drawer_count(&d, DRAWER_ST_PROVISIONED), 2);
	CHECK_INT(drawer_final_next(&d), -1);
	/* the cloud: forward only; an unknown device is added */
	CHECK_INT(drawer_cloud(&d, "1000000002", true), 1);
	CHECK_INT(drawer_cloud(&d, "1000000002", false), 1);
	CHECK_INT(d.devs[1].state, DRAWER_ST_STOCK_DONE);
	CHECK_INT(drawer_cloud(&d, "1000000003", false), 2);
	CHECK_INT(d.devs[2].state, DRAWER_ST_CALLED);
	CHECK_INT(drawer_cloud(&d, "", false), -EINVAL);
	CHECK_INT(drawer_open(&d), 3);
	/* FinalStage: the stock-done one; asked again, the same until it ends */
	CHECK_INT(drawer_final_cur(&d), -1);
	CHECK_INT(drawer_final_next(&d), 1);
	CHECK_INT(drawer_final_next(&d), 1);
	CHECK_INT(drawer_final_cur(&d), 1);
	CHECK_INT(drawer_cloud(&d, "1000000002", false), 1);
	CHECK_INT(d.devs[1].state, DRAWER_ST_FINAL);
	CHECK(drawer_summary_line(&d, 0, buf, sizeof(buf)));
	CHECK_STR(buf, "device 1 of 3: 1000000001 (BSSID D8:F1:5B:00:00:01): NOT done: "
		       "provisioned, never called the emulated cloud");
	CHECK(!drawer_all_done(&d));
	CHECK_INT(drawer_end(&d, 1, DRAWER_DONE, "ignored"), 0);
	CHECK_INT(drawer_end(&d, 1, DRAWER_FAILED, "twice"), -EINVAL);
	CHECK_INT(drawer_end(&d, 9, DRAWER_FAILED, "range"), -EINVAL);
	CHECK_INT(drawer_final_cur(&d), -1);
	CHECK_INT(drawer_count_done(&d), 1);
	/* an ended device calling again is not taken up again */
	CHECK_INT(drawer_cloud(&d, "1000000002", false), 1);
	CHECK_INT(d.devs[1].state, DRAWER_ST_ENDED);
	CHECK_INT(drawer_end(&d, 0, DRAWER_DONE, NULL), 0);
	CHECK_INT(drawer_end(&d, 2, DRAWER_DONE, NULL), 0);
	CHECK(drawer_all_done(&d));
	CHECK_INT(drawer_open(&d), 0);
	/* a full list: drawer_add counts the device as dropped, not done; the cloud's
	 * unknown device is not followed and not counted */
	drawer_init(&d);
	for (unsigned i = 0; i < DRAWER_DEVICES_MAX; i++) {
		char id[16];
		snprintf(id, sizeof(id), "10000000%02u", i);
		CHECK_INT(drawer_add(&d, id, NULL), (int)i);
	}
	CHECK_INT(drawer_cloud(&d, "10000000zz", false), -ENOSPC);
	CHECK_INT(d.dropped, 0);
	CHECK_INT(drawer_add(&d, "10000000zz", NULL), -ENOSPC);
	CHECK_INT(d.dropped_not_done, 1);
	CHECK_STR(drawer_state_name(DRAWER_ST_STOCK_DONE), "stage 2 done, its FinalStage not served");
	CHECK_STR(drawer_state_name(_DRAWER_ST_MAX), "invalid");
}

int
main(void)
{
	test_states();
	test_all_done();
	test_lines();
	test_full();
	return check_done();
}

/* Unit tests of diyacct (pure): what the image server's events prove about a DIY download.
 * A range request at X proves [0, X); only ackwatch's complete DONE of the last range
 * proves the rest; an incomplete one does not (dropped); other files and other addresses
 * do not count; the completion POST waits for the last range's verdict (or the hold time),
 * so a race never reads as "success with bytes missing"; the progress handed to
 * diyflow_verdict() gives done only with all three proofs. */
#include "config.h"

#include <string.h>

#include "check.h"
#include "diyacct.h"

#define SIZE 10000u
#define DEV "192.0.2.51"

static struct evq_event
ev(enum evq_type t, const char *file, const char *peer, uint64_t off, uint64_t len)
{
	struct evq_event e;

	memset(&e, 0, sizeof(e));
	e.type = t;
	snprintf(e.file, sizeof(e.file), "%s", file);
	snprintf(e.peer, sizeof(e.peer), "%s", peer);
	e.off = off;
	e.len = len;
	e.total = SIZE;
	e.status = 206;
	return e;
}

static void
serve_all_but_last(struct diyacct *a, uint64_t *now)
{
	for (uint64_t off = 0; off + 4096 < SIZE; off += 4096) {
		struct evq_event e = ev(EVQ_HTTP_REQUEST, "diy.bin", DEV, off, 4096);

		diyacct_event(a, &e, (*now)++);
		e.type = EVQ_HTTP_DONE;
		e.complete = true;
		e.sent = 4096;
		diyacct_event(a, &e, (*now)++);
	}
}

static void
test_ranges(void)
{
	struct diyacct a;
	struct evq_event e;
	struct diyflow_progress p;
	uint64_t now = 1000;
	char diag[256];

	diyacct_init(&a, "diy.bin", SIZE, DEV);
	/* another file, another peer, a HEAD: nothing */
	e = ev(EVQ_HTTP_REQUEST, "other.bin", DEV, 4096, 4096);
	CHECK(!diyacct_event(&a, &e, now));
	e = ev(EVQ_HTTP_REQUEST, "diy.bin", "192.0.2.99", 4096, 4096);
	CHECK(!diyacct_event(&a, &e, now));
	e = ev(EVQ_HTTP_REQUEST, "diy.bin", DEV, 4096, 4096);
	e.head = true;
	CHECK(!diyacct_event(&a, &e, now));
	CHECK_INT(a.acked, 0);

	serve_all_but_last(&a, &now);
	CHECK_INT(a.acked, 4096); /* the request at 4096 proved [0, 4096) */
	e = ev(EVQ_HTTP_REQUEST, "diy.bin", DEV, 8192, SIZE - 8192);
	CHECK(diyacct_event(&a, &e, now++));
	CHECK_INT(a.acked, 8192);
	/* the last range handed to the kernel is not "acknowledged" until ackwatch says so */
	e.type = EVQ_HTTP_PROGRESS;
	e.sent = SIZE - 8192;
	diyacct_event(&a, &e, now++);
	CHECK_INT(a.acked, 8192);
	CHECK_INT(a.sent, SIZE);

	/* the completion arrives first: held until the last range's verdict */
	e = ev(EVQ_HTTP_DIY_COMPLETION, "", DEV, 0, 0);
	e.diy_valid = true;
	CHECK(diyacct_event(&a, &e, now));
	CHECK(!diyacct_completion_ready(&a, now + 100));
	diyacct_progress(&a, now + 100, 1000, true, &p);
	CHECK(!p.completion_seen);
	CHECK_INT(diyflow_verdict(&p, diag, sizeof(diag)), DIYFLOW_PENDING);

	e = ev(EVQ_HTTP_DONE, "diy.bin", DEV, 8192, SIZE - 8192);
	e.complete = true;
	e.sent = SIZE - 8192;
	CHECK(diyacct_event(&a, &e, now + 200));
	CHECK_INT(a.acked, SIZE);
	CHECK(diyacct_completion_ready(&a, now + 200));
	diyacct_progress(&a, now + 300, 1000, false, &p);
	CHECK_INT(diyflow_verdict(&p, diag, sizeof(diag)), DIYFLOW_PENDING); /* mDNS still */
	diyacct_progress(&a, now + 300, 1000, true, &p);
	CHECK_INT(diyflow_verdict(&p, diag, sizeof(diag)), DIYFLOW_DONE);
}

/* ackwatch says the last range was not acknowledged: never all bytes; the completion is
 * judged then and fails as "only N of M bytes" */
static void
test_last_not_acked(void)
{
	struct diyacct a;
	struct evq_event e;
	struct diyflow_progress p;
	uint64_t now = 1000;
	char diag[256];

	diyacct_init(&a, "diy.bin", SIZE, NULL);
	serve_all_but_last(&a, &now);
	e = ev(EVQ_HTTP_REQUEST, "diy.bin", DEV, 8192, SIZE - 8192);
	diyacct_event(&a, &e, now++);
	e.type = EVQ_HTTP_DONE;
	e.complete = false;
	CHECK(diyacct_event(&a, &e, now++));
	CHECK(a.dropped);
	CHECK_INT(a.acked, 8192);
	e = ev(EVQ_HTTP_DIY_COMPLETION, "", DEV, 0, 0);
	e.diy_valid = true;
	diyacct_event(&a, &e, now);
	CHECK(diyacct_completion_ready(&a, now));
	diyacct_progress(&a, now, 1000, true, &p);
	CHECK_INT(diyflow_verdict(&p, diag, sizeof(diag)), DIYFLOW_FAILED);
	CHECK(strstr(diag, "8192 of 10000") != NULL);
}

/* the hold ends after DIYACCT_HOLD_MS; a failure code is never held; an invalid body and a
 * second POST change nothing */
static void
test_completion_hold(void)
{
	struct diyacct a;
	struct evq_event e;

	diyacct_init(&a, "diy.bin", SIZE, DEV);
	e = ev(EVQ_HTTP_DIY_COMPLETION, "", DEV, 0, 0);
	CHECK(!diyacct_event(&a, &e, 10)); /* not diy_valid */
	e.diy_valid = true;
	CHECK(diyacct_event(&a, &e, 10));
	CHECK(!diyacct_completion_ready(&a, 10 + DIYACCT_HOLD_MS - 1));
	CHECK(diyacct_completion_ready(&a, 10 + DIYACCT_HOLD_MS));
	e.diy_error = 409;
	CHECK(!diyacct_event(&a, &e, 20)); /* the first one counts */
	CHECK_INT(a.completion_error, 0);

	diyacct_init(&a, "diy.bin", SIZE, DEV);
	e.diy_error = 409;
	diyacct_event(&a, &e, 10);
	CHECK(diyacct_completion_ready(&a, 10));
}

int
main(void)
{
	test_ranges();
	test_last_not_acked();
	test_completion_hold();
	return check_done();
}

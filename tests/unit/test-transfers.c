/* Unit tests of transfers.c fed with image-server events: what it tells the route
 * (through its post function), the FinalStage facts, and the per-address facts it
 * leaves in the peer registry (old firmware's plain GET of a user image). */
#include "config.h"

#include <string.h>

#include "check.h"
#include "transfers.h"

#define SZ 480000ull

static enum transfers_event posted[16];
static bool user2_at_post[16]; /* what the route copies at each post (takeover.c) */
static unsigned nposted;

static void
post(void *arg, enum transfers_event ev)
{
	const struct transfers *t = arg;
	if (nposted < 16) {
		user2_at_post[nposted] = t ? t->user2_delivered : false;
		posted[nposted++] = ev;
	}
}

static bool
was_posted(enum transfers_event ev)
{
	for (unsigned i = 0; i < nposted; i++)
		if (posted[i] == ev)
			return true;
	return false;
}

static struct evq_event
ev(enum evq_type type, const char *peer, const char *file, int status, bool complete,
   uint64_t off, uint64_t len)
{
	struct evq_event e;
	memset(&e, 0, sizeof(e));
	e.type = type;
	snprintf(e.peer, sizeof(e.peer), "%s", peer);
	snprintf(e.file, sizeof(e.file), "%s", file);
	e.status = status;
	e.complete = complete;
	e.off = off;
	e.len = len;
	e.sent = complete ? len : len / 2;
	e.total = SZ;
	return e;
}

static struct peers peers;

int
main(void)
{
	struct log log = { 0 };
	struct ui ui;
	struct imageset images;
	memset(&images, 0, sizeof(images));
	CHECK_INT(log_open(&log, NULL, LOG_ERR), 0);
	ui_init(&ui, &log, false);
	peers_init(&peers);
	struct transfers t = { .log = &log, .ui = &ui, .peers = &peers, .images = &images,
			       .post = post, .final_deviceid = "" };
	struct evq_event e;

	/* A stock device with Range: progress only, no plain-GET evidence. */
	peers_bind(&peers, "192.168.1.50", "10000abcde");
	e = ev(EVQ_HTTP_DONE, "192.168.1.50", "image_user2-0x81000.bin", 206, true, 0, 4096);
	transfers_handle(&t, &e);
	CHECK(!peers_find(&peers, "192.168.1.50")->plain_fetch);
	CHECK_INT(nposted, 0);
	/* Old firmware: a plain GET of a user image, status 200. */
	e = ev(EVQ_HTTP_DONE, "192.168.1.51", "image_user1-0x01000.bin", 200, true, 0, SZ);
	transfers_handle(&t, &e);
	CHECK(peers_find(&peers, "192.168.1.51") && peers_find(&peers, "192.168.1.51")->plain_fetch);
	/* A stray whole image_arduino.bin: never a delivery. */
	e = ev(EVQ_HTTP_DONE, "127.0.0.1", "image_arduino.bin", 200, true, 0, SZ);
	transfers_handle(&t, &e);
	CHECK(!t.delivered);
	CHECK(!was_posted(TRANSFERS_FINAL_DELIVERED));
	/* E2A: a request, an aborted download, then the whole image. */
	e = ev(EVQ_HTTP_REQUEST, "192.168.4.1", "image_arduino.bin", 200, false, 0, SZ);
	transfers_handle(&t, &e);
	CHECK(was_posted(TRANSFERS_E2A_REQUEST));
	CHECK_INT(t.inflight, 1);
	e = ev(EVQ_HTTP_DONE, "192.168.4.1", "image_arduino.bin", 200, false, 0, SZ);
	transfers_handle(&t, &e);
	CHECK_INT(t.aborted, 1);
	CHECK_INT(t.inflight, 0);
	CHECK(!was_posted(TRANSFERS_FINAL_DELIVERED));
	e = ev(EVQ_HTTP_REQUEST, "192.168.4.1", "image_arduino.bin", 200, false, 0, SZ);
	transfers_handle(&t, &e);
	e = ev(EVQ_HTTP_DONE, "192.168.4.1", "image_arduino.bin", 200, true, 0, SZ);
	transfers_handle(&t, &e);
	CHECK(t.delivered);
	CHECK(was_posted(TRANSFERS_FINAL_DELIVERED));
	/* The facts event comes before the delivery, so guards see them. */
	CHECK_INT(posted[nposted - 2], TRANSFERS_E2A_ENDED);
	CHECK_INT(posted[nposted - 1], TRANSFERS_FINAL_DELIVERED);
	/* A HEAD is neither a download nor an abort. */
	unsigned before = nposted;
	e = ev(EVQ_HTTP_DONE, "192.168.4.1", "image_arduino.bin", 200, true, 0, SZ);
	e.head = true;
	transfers_handle(&t, &e);
	CHECK_INT(nposted, before);

	/* --all: device 1's E2A fetched image_user2 in full; device 1 ends (next-device).
	 * Device 2's first E2A event must not carry device 1's user2_delivered into the
	 * route (it did: the route reset its copy, the next post copied `true` back). */
	t.post_arg = &t;
	e = ev(EVQ_HTTP_REQUEST, "192.168.4.1", "image_user2-0x81000.bin", 200, false, 0, SZ);
	transfers_handle(&t, &e);
	e = ev(EVQ_HTTP_DONE, "192.168.4.1", "image_user2-0x81000.bin", 200, true, 0, SZ);
	transfers_handle(&t, &e);
	CHECK(t.user2_delivered);
	CHECK(was_posted(TRANSFERS_USER2_DELIVERED) && user2_at_post[nposted - 1]);
	transfers_next_device(&t);
	before = nposted;
	e = ev(EVQ_HTTP_REQUEST, "192.168.4.1", "image_user2-0x81000.bin", 200, false, 0, SZ);
	transfers_handle(&t, &e);
	CHECK_INT(nposted, before + 1);
	CHECK_INT(posted[before], TRANSFERS_E2A_REQUEST);
	CHECK_MSG(!user2_at_post[before], "device 2's first E2A event carried device 1's "
					  "user2_delivered");
	CHECK(t.delivered); /* the run's totals are kept */
	log_close(&log);
	return check_done();
}

/* bus: see bus.h.
 *
 * Re-entrancy: user callbacks run inside sd_bus_process, inside the lws
 * RAW_*_FILE callback or the timer. bus_close called from there only sets a
 * flag; run() frees everything once sd-bus has returned.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"

#define BUS_PROTOCOL_NAME "sonota-bus"
#define BUS_PROCESS_MAX 256 /* sd_bus_process rounds per wakeup; the timer (armed
			     * at once) continues if more is queued, so a chatty
			     * bus cannot starve the rest of the loop */

struct bus {
	sd_bus *sd;               /* the connection, owned */
	struct lws_context *cx;   /* for the timer */
	struct lws *wsi;          /* the adopted dup() of its fd; NULL once lws closed it */
	lws_sorted_usec_list_t sul; /* sd_bus_get_timeout, or "more to process" */
	bus_lost_cb lost;         /* user callback */
	void *arg;                /* its argument */
	unsigned busy;            /* > 0 while sd-bus runs our callbacks */
	bool closing;             /* bus_close was called while busy */
	bool dead;                /* the connection is gone; lost was called */
	struct {
		bus_lost_cb cb;
		void *arg;
	} listeners[BUS_LISTENERS_MAX]; /* more users of a shared bus; cb NULL = free */
};

static bool run(struct bus *b);
static void free_bus(struct bus *b, bool kill_wsi);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
on_sul(lws_sorted_usec_list_t *sul)
{
	struct bus *b = lws_container_of(sul, struct bus, sul);

	if (run(b))
		free_bus(b, true);
}

/* Free b; kill_wsi: close the adopted wsi too (never from inside its own
 * callback: there the caller detaches it and returns -1 to lws). */
static void
free_bus(struct bus *b, bool kill_wsi)
{
	lws_sul_cancel(&b->sul);
	if (b->wsi) {
		struct lws *wsi = b->wsi;

		/* detach first: its close callback must not touch b */
		lws_set_opaque_user_data(wsi, NULL);
		b->wsi = NULL;
		if (kill_wsi)
			lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	sd_bus_close_unref(b->sd);
	free(b);
}

/* Follow sd-bus' wishes: POLLOUT and the next deadline. */
static void
rearm(struct bus *b, bool more)
{
	uint64_t until = UINT64_MAX, now;
	int ev;

	lws_sul_cancel(&b->sul);
	if (b->dead)
		return;
	ev = sd_bus_get_events(b->sd);
	if (ev > 0 && (ev & POLLOUT) && b->wsi)
		lws_callback_on_writable(b->wsi);
	if (more) {
		lws_sul_schedule(b->cx, 0, &b->sul, on_sul, 1);
		return;
	}
	if (sd_bus_get_timeout(b->sd, &until) < 0 || until == UINT64_MAX)
		return;
	now = now_us();
	lws_sul_schedule(b->cx, 0, &b->sul, on_sul,
			 until > now ? (lws_usec_t)(until - now) : (lws_usec_t)1);
}

static void
die(struct bus *b, int err)
{
	if (b->dead)
		return;
	b->dead = true;
	lws_sul_cancel(&b->sul);
	if (b->lost)
		b->lost(b->arg, err);
	/* a listener may unlisten itself or another one: walk a copy, and skip one
	 * that was removed meanwhile */
	for (size_t i = 0; i < BUS_LISTENERS_MAX && !b->closing; i++) {
		bus_lost_cb cb = b->listeners[i].cb;
		void *arg = b->listeners[i].arg;

		if (cb) {
			b->listeners[i].cb = NULL;
			cb(arg, err);
		}
	}
}

/* Process until sd-bus has nothing to do (or BUS_PROCESS_MAX rounds), then
 * re-arm. Returns true when bus_close was called meanwhile: the caller frees b. */
static bool
run(struct bus *b)
{
	bool more = false;
	int r = 0;

	if (b->closing)
		return true;
	if (b->dead)
		return false;
	b->busy++;
	for (int i = 0; i < BUS_PROCESS_MAX && !b->closing; i++) {
		r = sd_bus_process(b->sd, NULL);
		if (r <= 0)
			break;
		more = i == BUS_PROCESS_MAX - 1;
	}
	/* a closed connection: sd-bus delivered the error replies of pending
	 * calls above (sd_bus_process returns > 0 while it does) */
	if (!b->closing && (r < 0 || !sd_bus_is_open(b->sd) || !b->wsi))
		die(b, r < 0 ? r : -ECONNRESET);
	b->busy--;
	if (b->closing)
		return true;
	rearm(b, more);
	return false;
}

int
bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		 size_t len)
{
	struct bus *b;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT_FILE:
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		b = lws_get_opaque_user_data(wsi);
		if (!b)
			return -1; /* closed: let lws close it */
		if (run(b)) {
			free_bus(b, false); /* detaches wsi; lws closes it on -1 */
			return -1;
		}
		/* the daemon hung up: nothing more will come on this fd */
		return b->dead ? -1 : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		b = lws_get_opaque_user_data(wsi);
		if (b) {
			b->wsi = NULL; /* lws closed it (hangup, or context teardown) */
			lws_set_opaque_user_data(wsi, NULL);
			/* deliver the error replies and report the loss */
			if (!b->busy && run(b))
				free_bus(b, false);
		}
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols bus_protocol = {
	.name = BUS_PROTOCOL_NAME,
	.callback = bus_lws_callback,
};

int
bus_open(struct lws_vhost *vh, bus_lost_cb lost, void *arg, struct bus **ret)
{
	lws_adopt_desc_t ad = { 0 };
	struct bus *b;
	int r, fd;

	if (!vh || !ret)
		return -EINVAL;
	if (!lws_vhost_name_to_protocol(vh, BUS_PROTOCOL_NAME))
		return -ENOPROTOOPT;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->lost = lost;
	b->arg = arg;
	/* connects the socket (a local unix socket: immediate) and starts the
	 * authentication, which completes asynchronously in sd_bus_process */
	r = sd_bus_open_system(&b->sd);
	if (r < 0)
		goto fail;
	r = sd_bus_get_fd(b->sd);
	if (r < 0)
		goto fail;
	fd = fcntl(r, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	ad.vh = vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = BUS_PROTOCOL_NAME;
	ad.opaque = b;
	b->wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	if (!b->wsi) {
		/* as in netwatch: a failed file adoption leaves the fd ours */
		close(fd);
		r = -ENOMEM;
		goto fail;
	}
	b->cx = lws_get_context(b->wsi); /* lws 4.1 has no vhost -> context getter */
	*ret = b;
	rearm(b, true); /* the first sd_bus_process runs from the loop */
	return 0;
fail:
	sd_bus_close_unref(b->sd);
	free(b);
	return r;
}

struct lws_context *
bus_context(struct bus *b)
{
	return b ? b->cx : NULL;
}

sd_bus *
bus_sd(struct bus *b)
{
	return b ? b->sd : NULL;
}

void
bus_kick(struct bus *b)
{
	if (!b || b->busy) /* inside run(): it re-arms when the callbacks return */
		return;
	if (run(b))
		free_bus(b, true);
}

int
bus_listen_lost(struct bus *b, bus_lost_cb cb, void *arg)
{
	if (!b || !cb)
		return -EINVAL;
	if (b->dead)
		return -ENOTCONN;
	for (size_t i = 0; i < BUS_LISTENERS_MAX; i++)
		if (!b->listeners[i].cb) {
			b->listeners[i].cb = cb;
			b->listeners[i].arg = arg;
			return 0;
		}
	return -ENOSPC;
}

void
bus_unlisten_lost(struct bus *b, bus_lost_cb cb, void *arg)
{
	if (!b)
		return;
	for (size_t i = 0; i < BUS_LISTENERS_MAX; i++)
		if (b->listeners[i].cb == cb && b->listeners[i].arg == arg) {
			b->listeners[i].cb = NULL;
			b->listeners[i].arg = NULL;
		}
}

bool
bus_alive(const struct bus *b)
{
	return b && !b->dead;
}

void
bus_close(struct bus *b)
{
	if (!b)
		return;
	if (b->busy) {
		b->closing = true;
		return;
	}
	free_bus(b, true);
}

/* scan: see scan.h. The loop, the bus and the browser are this file's; what to print
 * and how long to wait are diyscan's (pure). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diyscan.h"
#include "dnssd.h"
#include "scan.h"

#define SCAN_HINT "name the device with --device-ip IP"

/* Print what was found, or why nothing was; the exit status. */
static int
report(struct diyscan *list, bool json, bool avahi_ran, FILE *out, FILE *err)
{
	char line[DIYSCAN_LINE_MAX];
	struct dnssd_hidden h = { .avahi_running = avahi_ran };

	if (!list->n) {
		fprintf(err, "sonota-c: no Sonoff found on this LAN: %s\n",
			dnssd_hidden_diagnosis(&h));
		return SONOTA_EXIT_FAILURE;
	}
	diyscan_sort(list);
	for (size_t i = 0; i < list->n; i++) {
		if (json) {
			char *j = diyscan_json(&list->e[i]);

			if (!j)
				return SONOTA_EXIT_FAILURE;
			fprintf(out, "%s\n", j);
			free(j);
		} else if (diyscan_format(&list->e[i], line, sizeof(line)) >= 0) {
			fprintf(out, "%s\n", line);
		}
	}
	fflush(out);
	return SONOTA_EXIT_OK;
}

#ifdef SONOTA_WITH_NM

#include <libwebsockets.h>

#include "avahi.h"
#include "bus.h"

struct scan {
	struct lws_context *cx;
	struct bus *bus;
	struct avahi *av;
	struct diyscan list;
	bool all_for_now, gone, done, full_said;
	uint64_t start_ms, afn_ms;
	char why[256];        /* GONE */
	FILE *err;
	lws_sorted_usec_list_t tick;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* End the loop: lws runs timers before it polls, so wake the poll too. */
static void
stop(struct scan *s)
{
	s->done = true;
	lws_cancel_service(s->cx);
}

static void
on_tick(lws_sorted_usec_list_t *sul)
{
	struct scan *s = lws_container_of(sul, struct scan, tick);
	uint64_t now = now_ms();
	unsigned left = diyscan_wait_ms(now - s->start_ms, s->all_for_now, now - s->afn_ms);

	lws_sul_cancel(&s->tick);
	if (!left)
		stop(s);
	else
		lws_sul_schedule(s->cx, 0, &s->tick, on_tick, (lws_usec_t)left * LWS_US_PER_MS);
}

static void
on_avahi(void *arg, const struct avahi_ev *ev)
{
	struct scan *s = arg;
	int r;

	switch (ev->type) {
	case AVAHI_EV_FOUND:
		r = diyscan_add(&s->list, &ev->dev->dev, ev->dev->addr);
		if (r == -ENOSPC && !s->full_said) {
			fprintf(s->err, "sonota-c: more than %d devices: the rest are not listed\n",
				DIYSCAN_MAX);
			s->full_said = true;
		}
		break;
	case AVAHI_EV_REMOVED:
		break; /* a device that says goodbye during the scan is still listed */
	case AVAHI_EV_ALL_FOR_NOW:
		if (!s->all_for_now) {
			s->all_for_now = true;
			s->afn_ms = now_ms();
			on_tick(&s->tick); /* the settle time starts now */
		}
		break;
	case AVAHI_EV_GONE:
		snprintf(s->why, sizeof(s->why), "%s", ev->why);
		s->gone = true;
		stop(s);
		break;
	}
}

int
scan_run(const struct cfg *cfg, FILE *out, FILE *err)
{
	struct lws_context_creation_info info = { 0 };
	struct lws_protocols prot[2] = { bus_protocol, { NULL, NULL, 0, 0, 0, NULL, 0 } };
	struct lws_vhost *vh;
	struct scan *s = calloc(1, sizeof(*s));
	int r, code;

	if (!s)
		return SONOTA_EXIT_FAILURE;
	s->err = err;
	lws_set_log_level(LLL_ERR, NULL);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = prot;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	s->cx = lws_create_context(&info);
	vh = s->cx ? lws_create_vhost(s->cx, &info) : NULL;
	if (!vh) {
		fprintf(err, "sonota-c: --scan: cannot create the event loop\n");
		code = SONOTA_EXIT_FAILURE;
		goto out;
	}
	r = bus_open(vh, NULL, NULL, &s->bus);
	if (r < 0) {
		fprintf(err, "sonota-c: no system D-Bus (%s): cannot ask Avahi for the devices "
			"on this LAN; " SCAN_HINT "\n", strerror(-r));
		code = SONOTA_EXIT_FAILURE;
		goto out;
	}
	r = avahi_start(s->bus, NULL, on_avahi, s, &s->av);
	if (r < 0) {
		fprintf(err, "sonota-c: cannot browse through Avahi: %s; " SCAN_HINT "\n",
			strerror(-r));
		code = SONOTA_EXIT_FAILURE;
		goto out;
	}
	s->start_ms = now_ms();
	on_tick(&s->tick);
	while (!s->done)
		if (lws_service(s->cx, 0) < 0)
			break;
	lws_sul_cancel(&s->tick);
	if (s->gone && !s->list.n) {
		fprintf(err, "sonota-c: cannot list the devices on this LAN: %s; " SCAN_HINT "\n",
			s->why);
		code = SONOTA_EXIT_FAILURE;
		goto out;
	}
	if (s->gone)
		fprintf(err, "sonota-c: the scan ended early: %s\n", s->why);
	code = report(&s->list, cfg->json, true, out, err);
out:
	avahi_stop(s->av);
	bus_close(s->bus);
	if (s->cx)
		lws_context_destroy(s->cx);
	free(s);
	return code;
}

#else /* no libsystemd */

int
scan_run(const struct cfg *cfg, FILE *out, FILE *err)
{
	(void)cfg;
	(void)out;
	(void)report;
	fprintf(err, "sonota-c: this build has no D-Bus support (built without libsystemd): "
		     "--scan cannot ask Avahi for the devices on this LAN; " SCAN_HINT "\n");
	return SONOTA_EXIT_FAILURE;
}

#endif

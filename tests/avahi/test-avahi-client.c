/* The Avahi browser (src/avahi.h) against a real avahi-daemon in a network namespace
 * on a private bus (tests/avahi/lib.sh, run by tests/avahi/run.sh).
 *
 *   test-avahi-client UNTIL [SECONDS]
 *
 * Drives avahi_* from an lws loop on a bus opened as sonota-c's composition opens it
 * (bus_open on a vhost carrying bus_protocol) and prints every event, one line each:
 *   EV found <instance> id=<id> type=<type> addr=<ip>:<port> mode=<mode> route=<route>
 *   EV removed <instance> id=<id>
 *   EV all-for-now
 *   EV gone <why>
 * run.sh checks the lines. It exits 0 once UNTIL is met, 1 after SECONDS (default 20):
 *   found:ID[,ID...]  each ID was FOUND
 *   changed:ID        ID was FOUND twice (its TXT changed)
 *   removed:ID        ID was REMOVED (after being FOUND)
 *   gone              a GONE event
 *   shared:ID         NetworkManager's client (nm_start with nm_config.bus) and the
 *                     browser on ONE connection: NM_EV_MANUAL (no NM on this bus) and
 *                     FOUND ID; nm_stop leaves the connection up (a second browser on it
 *                     finds ID again); this process holds exactly one connection to the
 *                     bus besides the probe that counts them.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <systemd/sd-bus.h>

#include "avahi.h"
#include "bus.h"
#include "check.h"
#include "nm.h"

#define DEFAULT_DEADLINE_S 20 /* avahi answers from its cache in ms; announcements take 1 s */
#define IDS_MAX 8

struct t {
	const char *mode;               /* found, removed, gone, shared */
	const char *ids[IDS_MAX];
	bool seen[IDS_MAX];
	unsigned found[IDS_MAX];        /* FOUND events per id */
	size_t n_ids;
	struct lws_context *cx;
	struct bus *bus;
	struct avahi *av;
	struct nm *nm;
	int shared_step;                /* shared: 0 first browse, 1 second browse */
	bool nm_manual;
	bool done, timed_out;
	lws_sorted_usec_list_t deadline;
};

static int
want_index(struct t *t, const char *id)
{
	for (size_t i = 0; i < t->n_ids; i++)
		if (!strcmp(t->ids[i], id))
			return (int)i;
	return -1;
}

static bool
all_seen(const struct t *t)
{
	for (size_t i = 0; i < t->n_ids; i++)
		if (!t->seen[i])
			return false;
	return true;
}

/* Connections this process holds on the bus, counted through a separate blocking
 * probe connection (itself included). */
static int
count_own_connections(void)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	sd_bus *b = NULL;
	char **names = NULL;
	int n = 0, r;

	if (sd_bus_open_system(&b) < 0)
		return -EIO;
	r = sd_bus_list_names(b, &names, NULL);
	for (size_t i = 0; r >= 0 && names && names[i]; i++) {
		uint32_t pid = 0;

		if (names[i][0] == ':' &&
		    sd_bus_call_method(b, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "GetConnectionUnixProcessID", &e,
				       &reply, "s", names[i]) >= 0 &&
		    sd_bus_message_read(reply, "u", &pid) >= 0 && pid == (uint32_t)getpid())
			n++;
		sd_bus_error_free(&e);
		reply = sd_bus_message_unref(reply);
	}
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
	sd_bus_flush_close_unref(b);
	return r < 0 ? r : n;
}

static void on_event(void *arg, const struct avahi_ev *ev);

static void
shared_found(struct t *t)
{
	int r;

	if (t->shared_step == 0) {
		if (!t->nm_manual)
			return; /* wait for NM's answer too */
		CHECK_INT(count_own_connections(), 2); /* the shared one + the probe */
		nm_stop(t->nm);
		t->nm = NULL;
		CHECK_MSG(bus_alive(t->bus), "nm_stop closed the shared bus");
		avahi_stop(t->av); /* from inside its callback: deferred */
		t->av = NULL;
		t->shared_step = 1;
		t->seen[0] = false;
		r = avahi_start(t->bus, NULL, on_event, t, &t->av);
		CHECK_MSG(r == 0, "second avahi_start: %s", strerror(-r));
		if (r < 0)
			t->done = true;
		printf("MARK second browse\n");
		fflush(stdout);
		return;
	}
	t->done = true;
}

static void
on_event(void *arg, const struct avahi_ev *ev)
{
	struct t *t = arg;
	const struct avahi_dev *d = ev->dev;
	int i;

	switch (ev->type) {
	case AVAHI_EV_FOUND:
		printf("EV found %s id=%s type=%s addr=%s:%u mode=%s route=%s\n", d->instance,
		       d->dev.id, d->dev.type, d->addr, d->port, dnssd_mode_name(d->dev.mode),
		       diy_route_name(d->dev.route));
		i = want_index(t, d->dev.id);
		if (i >= 0) {
			t->seen[i] = true;
			t->found[i]++;
		}
		if (!strcmp(t->mode, "changed") && i >= 0 && t->found[i] >= 2)
			t->done = true;
		if (!strcmp(t->mode, "found") && all_seen(t))
			t->done = true;
		if (!strcmp(t->mode, "shared") && all_seen(t))
			shared_found(t);
		break;
	case AVAHI_EV_REMOVED:
		printf("EV removed %s id=%s\n", d->instance, d->dev.id);
		i = want_index(t, d->dev.id);
		if (!strcmp(t->mode, "removed") && i >= 0) {
			CHECK_MSG(t->seen[i], "REMOVED %s before FOUND", d->dev.id);
			t->done = true;
		}
		break;
	case AVAHI_EV_ALL_FOR_NOW:
		printf("EV all-for-now\n");
		break;
	case AVAHI_EV_GONE:
		printf("EV gone %s\n", ev->why);
		CHECK(ev->why && ev->why[0]);
		if (!strcmp(t->mode, "gone"))
			t->done = true;
		else
			CHECK_MSG(false, "unexpected GONE: %s", ev->why);
		avahi_stop(t->av); /* from inside the callback, as callers do */
		t->av = NULL;
		t->done = true;
		break;
	}
	fflush(stdout);
}

static void
on_nm(void *arg, const struct nm_event *ev)
{
	struct t *t = arg;

	printf("NM %s %s\n", nm_ev_name(ev->type), ev->message ? ev->message : "");
	fflush(stdout);
	if (ev->type == NM_EV_MANUAL) {
		t->nm_manual = true;
		if (all_seen(t))
			shared_found(t);
	}
}

static void
on_deadline(lws_sorted_usec_list_t *sul)
{
	struct t *t = lws_container_of(sul, struct t, deadline);

	t->timed_out = true;
}

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info = { 0 };
	struct lws_protocols prot[2] = { bus_protocol, { NULL, NULL, 0, 0, 0, NULL, 0 } };
	struct lws_vhost *vh;
	struct t t = { 0 };
	char *spec, *colon, *tok, *save = NULL;
	int r, secs = argc > 2 ? atoi(argv[2]) : DEFAULT_DEADLINE_S;

	if (argc < 2 || secs <= 0) {
		fprintf(stderr, "usage: %s found:ID,...|changed:ID|removed:ID|gone|shared:ID [SECONDS]\n",
			argv[0]);
		return 2;
	}
	spec = strdup(argv[1]);
	colon = spec ? strchr(spec, ':') : NULL;
	if (colon)
		*colon = '\0';
	t.mode = spec;
	for (tok = colon ? strtok_r(colon + 1, ",", &save) : NULL; tok && t.n_ids < IDS_MAX;
	     tok = strtok_r(NULL, ",", &save))
		t.ids[t.n_ids++] = tok;
	if (!spec || (strcmp(t.mode, "gone") && !t.n_ids)) {
		fprintf(stderr, "bad UNTIL %s\n", argv[1]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR, NULL);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = prot;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	t.cx = lws_create_context(&info);
	if (!t.cx)
		return 1;
	vh = lws_create_vhost(t.cx, &info);
	CHECK(vh != NULL);
	r = vh ? bus_open(vh, NULL, NULL, &t.bus) : -EINVAL;
	CHECK_MSG(r == 0, "bus_open: %s", strerror(-r));
	if (r == 0) {
		r = avahi_start(t.bus, NULL, on_event, &t, &t.av);
		CHECK_MSG(r == 0, "avahi_start: %s", strerror(-r));
	}
	if (r == 0 && !strcmp(t.mode, "shared")) {
		struct nm_config nc = { .bus = t.bus };

		r = nm_start(vh, &nc, on_nm, &t, &t.nm);
		CHECK_MSG(r == 0, "nm_start on the shared bus: %s", strerror(-r));
	}
	if (r == 0) {
		lws_sul_schedule(t.cx, 0, &t.deadline, on_deadline,
				 (lws_usec_t)secs * LWS_US_PER_SEC);
		while (!t.done && !t.timed_out)
			if (lws_service(t.cx, 0) < 0)
				break;
		lws_sul_cancel(&t.deadline);
		CHECK_MSG(t.done, "%s not met within %d s", argv[1], secs);
	}
	avahi_stop(t.av);
	nm_stop(t.nm);
	bus_close(t.bus); /* the opener closes it, last */
	lws_context_destroy(t.cx);
	free(spec);
	return check_done();
}

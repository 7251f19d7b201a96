/* scan: see scan.h. The loop, the bus, the browser and the port-8081 clients are this
 * file's; what to print, how long to browse (diyscan) and which info request to send
 * (diyflow_next: the deviceid rules) are the pure cores'.
 *
 * Phases: browse (Avahi, only with libsystemd) until diyscan_wait_ms() says stop, then
 * one /zeroconf/info exchange per DIY-mode device with an address, all devices in
 * parallel (one diyclient each: one connection per device at a time), each bounded by
 * DIYFLOW_INFO_MS and retried once without the deviceid when diyflow_next() says so.
 * With a device address given (ip), the browse is skipped and that address is asked.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

#include "diyclient.h"
#include "diyflow.h"
#include "diypick.h"
#include "diyscan.h"
#include "dnssd.h"
#include "log.h"
#include "scan.h"
#ifdef SONOTA_WITH_NM
#include "avahi.h"
#include "bus.h"
#endif

#define SCAN_HINT "name the device with --device-ip IP"
#define SCAN_DIY_PORT 8081 /* the DIY API's port (§2; SRV says it too) */

struct scan;

struct scan_probe {            /* the info exchange with one device */
	struct scan *s;
	struct diyclient *c;
	char id[DNSSD_ID_MAX + 1]; /* "" with --device-ip: not known before the reply */
	char addr[DIYSCAN_ADDR_MAX + 1];
	struct diyflow_facts facts;
	bool answered;             /* an info reply arrived */
	bool done;
};

struct scan {
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct log *log;
	FILE *err;
	struct diyscan list;
	struct scan_probe probes[DIYSCAN_MAX];
	size_t n_probes, probes_left;
	bool browsing, all_for_now, gone, full_said;
	uint64_t start_ms, afn_ms;
	char why[256];                 /* GONE */
	bool done;                     /* the current phase ended */
	lws_sorted_usec_list_t tick;
#ifdef SONOTA_WITH_NM
	struct bus *bus;
	struct avahi *av;
#endif
};

/* End the phase: lws runs timers before it polls, so wake the poll too. */
static void
stop(struct scan *s)
{
	s->done = true;
	lws_cancel_service(s->cx);
}

static void
run_phase(struct scan *s)
{
	while (!s->done)
		if (lws_service(s->cx, 0) < 0)
			break;
	s->done = false;
}

/* ---- info: one exchange per device ---------------------------------------------- */

static void probe_send(struct scan_probe *p, const struct diyflow_result *last);

static void
probe_end(struct scan_probe *p)
{
	p->done = true;
	if (--p->s->probes_left == 0)
		stop(p->s);
}

static void
on_info(void *arg, const struct diyclient_done *d)
{
	struct scan_probe *p = arg;
	struct scan *s = p->s;

	if (d->has_info) {
		p->answered = true;
		if (!p->id[0]) { /* --device-ip: the id comes from the reply (3.5+), or "?" */
			struct dnssd_device dev = { .mode = DNSSD_MODE_DIY, .route = DIY_ROUTE_DIY };

			snprintf(dev.id, sizeof(dev.id), "%s",
				 d->info.deviceid[0] ? d->info.deviceid : "?");
			snprintf(p->id, sizeof(p->id), "%s", dev.id);
			(void)diyscan_add(&s->list, &dev, p->addr);
		}
		(void)diyscan_add_info(&s->list, p->id, &d->info);
		probe_end(p);
		return;
	}
	probe_send(p, &d->res);
}

/* The next info request by diyflow_next() (the first one when last is NONE), or the end. */
static void
probe_send(struct scan_probe *p, const struct diyflow_result *last)
{
	struct diyflow_next n = diyflow_next(&p->facts, last);
	int r;

	if (n.act != DIYFLOW_ACT_INFO) {
		/* --device-ip: the hidden-device diagnosis says it (report) */
		if (p->id[0])
			fprintf(p->s->err, "sonota-c: %s at %s: no /zeroconf/info: %s\n", p->id,
				p->addr, n.diagnosis ? n.diagnosis : "no valid reply");
		probe_end(p);
		return;
	}
	r = diyclient_send(p->c, p->addr, SCAN_DIY_PORT, DIYFLOW_STEP_INFO,
			   n.send_deviceid && p->id[0] ? p->id : NULL, NULL, DIYFLOW_INFO_MS,
			   on_info, p);
	if (r < 0) {
		fprintf(p->s->err, "sonota-c: %s at %s: cannot ask: %s\n",
			p->id[0] ? p->id : "the device", p->addr, strerror(-r));
		probe_end(p);
	}
}

static void
probe_add(struct scan *s, const char *id, const char *addr, bool omit_deviceid)
{
	struct scan_probe *p;

	if (s->n_probes == DIYSCAN_MAX)
		return;
	p = &s->probes[s->n_probes];
	memset(p, 0, sizeof(*p));
	p->s = s;
	snprintf(p->id, sizeof(p->id), "%s", id ? id : "");
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	/* MINIR3 (multi-channel state in TXT) refuses the key (§3.2); without an id, omit it */
	p->facts.omit_deviceid = omit_deviceid || !p->id[0];
	if (diyclient_new(s->cx, s->vh, s->log, &p->c) < 0)
		return;
	s->n_probes++;
	s->probes_left++;
	probe_send(p, &(struct diyflow_result){ .step = DIYFLOW_STEP_NONE });
}

/* ---- browse: the devices from Avahi -------------------------------------------- */

#ifdef SONOTA_WITH_NM
static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

	switch (ev->type) {
	case AVAHI_EV_FOUND:
		if (diyscan_add(&s->list, &ev->dev->dev, ev->dev->addr) == -ENOSPC &&
		    !s->full_said) {
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

/* Browse; 0, or an exit status (nothing can be listed). */
static int
browse(struct scan *s)
{
	int r = bus_open(s->vh, NULL, NULL, &s->bus);

	if (r < 0) {
		fprintf(s->err, "sonota-c: no system D-Bus (%s): cannot ask Avahi for the devices "
				"on this LAN; " SCAN_HINT "\n", strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	r = avahi_start(s->bus, s->log, on_avahi, s, &s->av);
	if (r < 0) {
		fprintf(s->err, "sonota-c: cannot browse through Avahi: %s; " SCAN_HINT "\n",
			strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	s->start_ms = now_ms();
	on_tick(&s->tick);
	run_phase(s);
	lws_sul_cancel(&s->tick);
	avahi_stop(s->av);
	s->av = NULL;
	if (s->gone && !s->list.n) {
		fprintf(s->err, "sonota-c: cannot list the devices on this LAN: %s; " SCAN_HINT "\n",
			s->why);
		return SONOTA_EXIT_FAILURE;
	}
	if (s->gone)
		fprintf(s->err, "sonota-c: the scan ended early: %s\n", s->why);
	return 0;
}
#else
static int
browse(struct scan *s)
{
	fprintf(s->err, "sonota-c: this build has no D-Bus support (built without libsystemd): "
			"--scan cannot ask Avahi for the devices on this LAN; " SCAN_HINT "\n");
	return SONOTA_EXIT_FAILURE;
}
#endif

/* ---- the listing ------------------------------------------------------------------ */

/* Is ip on one of this host's IPv4 subnets? (For the diagnosis of a silent address.) */
static bool
same_subnet(const char *ip)
{
	struct ifaddrs *ifa, *i;
	struct in_addr a;
	bool same = false;

	if (inet_pton(AF_INET, ip, &a) != 1 || getifaddrs(&ifa) < 0)
		return true; /* unknown: do not claim "another subnet" */
	for (i = ifa; i && !same; i = i->ifa_next) {
		const struct sockaddr_in *addr = (const void *)i->ifa_addr;
		const struct sockaddr_in *mask = (const void *)i->ifa_netmask;

		if (addr && mask && addr->sin_family == AF_INET)
			same = ((addr->sin_addr.s_addr ^ a.s_addr) & mask->sin_addr.s_addr) == 0;
	}
	freeifaddrs(ifa);
	return same;
}

/* Print what was found, or why nothing was; the exit status. */
static int
report(struct scan *s, const struct cfg *cfg, const char *ip, FILE *out)
{
	char line[DIYSCAN_LINE_MAX];
	struct dnssd_hidden h = { .avahi_running = !ip, .ip_given = ip != NULL };

	if (!s->list.n) {
		if (ip) {
			h.ip_answers_8081 = false;
			h.ip_same_subnet = same_subnet(ip);
		}
		fprintf(s->err, "sonota-c: no Sonoff found %s: %s\n",
			ip ? "at that address" : "on this LAN", dnssd_hidden_diagnosis(&h));
		return SONOTA_EXIT_FAILURE;
	}
	diyscan_sort(&s->list);
	for (size_t i = 0; i < s->list.n; i++) {
		if (cfg->json) {
			char *j = diyscan_json(&s->list.e[i]);

			if (!j)
				return SONOTA_EXIT_FAILURE;
			fprintf(out, "%s\n", j);
			free(j);
		} else if (diyscan_format(&s->list.e[i], line, sizeof(line)) >= 0) {
			fprintf(out, "%s\n", line);
		}
	}
	fflush(out);
	return SONOTA_EXIT_OK;
}

static int
scan_with(struct scan *s, const struct cfg *cfg, const char *ip, FILE *out)
{
	struct lws_context_creation_info info = { 0 };
	struct lws_protocols prot[3] = { diyclient_protocol };
	int code = 0;
	struct in_addr a;

	if (ip && inet_pton(AF_INET, ip, &a) != 1) {
		fprintf(s->err, "sonota-c: --device-ip: not an IPv4 address\n");
		return SONOTA_EXIT_USAGE;
	}

#ifdef SONOTA_WITH_NM
	prot[1] = bus_protocol;
#endif
	lws_set_log_level(LLL_ERR, NULL);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = prot;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	s->cx = lws_create_context(&info);
	s->vh = s->cx ? lws_create_vhost(s->cx, &info) : NULL;
	if (!s->vh) {
		fprintf(s->err, "sonota-c: --scan: cannot create the event loop\n");
		return SONOTA_EXIT_FAILURE;
	}
	if (ip)
		probe_add(s, NULL, ip, true);
	else if ((code = browse(s)) != 0)
		return code;
	/* diymore: --scan --device-id ID lists that device only (nobody else is asked) */
	if (!ip && cfg->device_id && diypick_scan_filter(&s->list, cfg->device_id) &&
	    !s->list.n) {
		fprintf(s->err, "sonota-c: no Sonoff with deviceid %s on this LAN, but others "
			"announce themselves: sonota-c --scan lists them\n", cfg->device_id);
		return SONOTA_EXIT_FAILURE;
	}
	for (size_t i = 0; !ip && i < s->list.n; i++) {
		const struct diyscan_entry *e = &s->list.e[i];

		/* LAN mode answers no DIY request; an entry without address cannot be asked */
		if (e->mode == DNSSD_MODE_DIY && e->addr[0])
			probe_add(s, e->id, e->addr, e->multi_channel);
	}
	if (s->probes_left)
		run_phase(s);
	return report(s, cfg, ip, out);
}

int
scan_run(const struct cfg *cfg, FILE *out, FILE *err)
{
	return scan_run_at(cfg, NULL, out, err);
}

int
scan_run_at(const struct cfg *cfg, const char *device_ip, FILE *out, FILE *err)
{
	struct scan *s = calloc(1, sizeof(*s));
	struct log log = { 0 };
	int code;

	if (!s)
		return SONOTA_EXIT_FAILURE;
	s->err = err;
	(void)log_open(&log, NULL, cfg->console_level); /* console only, no debug file */
	s->log = &log;
	code = scan_with(s, cfg, device_ip, out);
	for (size_t i = 0; i < s->n_probes; i++)
		diyclient_free(s->probes[i].c);
#ifdef SONOTA_WITH_NM
	avahi_stop(s->av);
	bus_close(s->bus);
#endif
	if (s->cx)
		lws_context_destroy(s->cx);
	log_close(&log);
	free(s);
	return code;
}

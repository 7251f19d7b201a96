/* diyrun: the adapter that runs the DIY route (route-diy.h, issue 11) on the lws loop, as
 * takeover.c does for the cloud route, and the composition of a --diy run (diymain.c).
 *
 * The adapter owns the engine and the route's facts and turns the world into events:
 *  - Avahi (avahi.h) FOUND of a DIY-mode device -> the device (address, deviceid from TXT
 *    id / the instance, omit_deviceid for multi-channel MINIR3-style devices) and
 *    RDIY_EV_FOUND; a LAN-mode device -> its one-line diagnosis; REMOVED of our device after
 *    ota_flash -> facts.left_mdns; GONE -> no mDNS proof possible (facts.mdns_watch false).
 *    With --device-ip the device is known at start (FOUND at once). Which announcement
 *    is the device: diypick.h (--device-id; several without it: stop, list, exit 5).
 *  - the route's sends -> diyclient requests (bodies from diy_build_*()); their ends ->
 *    diyflow_next() -> RDIY_EV_NEXT;
 *  - the image server's evq events (range requests, ackwatch's verdict on the last range,
 *    progress, the completion POST) -> diyacct -> diyflow_verdict() -> RDIY_EV_PROGRESS,
 *    and a 1 s lws_sul tick while serving (time limits; the device is never polled).
 * Terminal stages: done (exit 0), unproven (exit SONOTA_EXIT_UNPROVEN = 6: success reported
 * but leaving mDNS not observable), failed (exit 1, or 130 when interrupted).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "diyacct.h"
#include "diyclient.h"
#include "diyfile.h"
#include "diyhidden.h"
#include "diypick.h"
#include "engine.h"
#include "enginelws.h"
#include "evq.h"
#include "log.h"
#include "route-diy.h"
#include "ui.h"

#define DIYRUN_PATH "/ota/diy.bin" /* where the image is served (imgsrv's /ota/<name>) */
#define DIYRUN_FILE "diy.bin"
#define DIYRUN_TICK_MS 1000        /* the verdict's clock while serving */

struct avahi;
struct avahi_ev;
struct avahi_dev;
struct netwatch;
struct netwatch_addr;
struct prov;

/* issue 11 item 2 (diyap): --pair's adapter state (src/diypair.c) */
struct diyrun_pair {
	struct prov *prov;                 /* the running provisioning run, or NULL */
	unsigned home_addrs;               /* this computer's addresses off 10.10.7.0/24,
					    * loopback and link-local */
	char home_ip[16];                  /* the first of them seen: POST /ap's serverName */
	bool pend;                         /* an announcement of the paired device came
					    * before discover: replayed on entering it */
	bool pend_lan;                     /* ... in LAN mode */
	bool pend_multi;
	char pend_addr[16];
};

struct diyrun {
	struct engine eng;
	struct route_diy rd;               /* the route's facts and effects */
	struct diyflow_facts ff;           /* diyflow_next()'s memory */
	const struct cfg *cfg;             /* borrowed */
	struct log *log;                   /* borrowed */
	struct ui *ui;                     /* borrowed */
	struct lws_context *lws;           /* borrowed: timers */
	struct diyclient *client;          /* owned */
	const struct diyfile *img;         /* borrowed: the checked image */
	char serving_ip[16];               /* our IPv4 as the device reaches it */
	uint16_t http_port;                /* the image server's port */
	char device_ip[16];                /* the device's IPv4 */
	char deviceid[DIY_DEVICEID_MAX + 1]; /* "" until known */
	char fw[DIY_VERSION_MAX + 1];      /* from info, "" until known */
	char type[24];                     /* TXT type, "" until known */
	bool found;                        /* RDIY_EV_FOUND was posted */
	bool avahi_alive;                  /* the browser runs (no GONE yet) */
	bool seen_in_mdns;                 /* our device was FOUND by Avahi */
	bool mdns_settled;                 /* Avahi said ALL_FOR_NOW */
	bool lan_mode_seen;                /* a LAN-mode announcement was seen */
	struct diyacct acct;               /* the download's proofs */
	uint64_t flash_ms;                 /* ota_flash answered (0: not yet) */
	bool serving;                      /* in serving-image or later */
	struct engine_lws el;              /* the engine's timers and texts on the loop */
	struct lws_vhost *vh;              /* borrowed: provisioning's connections (--pair) */
	struct diyrun_pair pr;             /* --pair (issue 11 item 2, src/diypair.c) */
	lws_sorted_usec_list_t tick;       /* the 1 s verdict tick */
	int exit_code;                     /* set when the route ends */
	/* diymore: which DIY-mode device to take (diypick.h; --device-id) */
	struct diypick pick;
	lws_sorted_usec_list_t pick_timer; /* the settle after the first announcement */
	char pick_hidden[RDIY_DIAG_MAX];   /* discover's line when --device-id never showed */
	/* diymore: --device-ip answering but not announced while Avahi runs (diyhidden.h) */
	lws_sorted_usec_list_t hidden_timer; /* DIYHIDDEN_SETTLE_MS after AllForNow */
	bool hidden_due;                   /* that settle passed without its announcement */
	bool answered;                     /* the device answered a /zeroconf request */
	bool hidden_said;                  /* the line was said */
};

/* Prepare (no event yet). Set cfg, log, ui, lws, img, serving_ip, http_port first. */
int diyrun_init(struct diyrun *d, struct lws_context *cx, struct lws_vhost *vh);

/* Start: with --device-ip the device is known now; else wait for Avahi (mdns: the browser
 * runs). */
void diyrun_start(struct diyrun *d, bool mdns);

bool diyrun_ended(const struct diyrun *d);

void diyrun_evq(struct diyrun *d, const struct evq_event *ev); /* an image-server event */
void diyrun_avahi(void *arg, const struct avahi_ev *ev);       /* avahi_cb */
void diyrun_interrupt(struct diyrun *d);                       /* SIGINT/SIGTERM/SIGHUP */

/* Stop timers and the client. Before lws_context_destroy. */
void diyrun_fini(struct diyrun *d);

/* The whole --diy run (diymain.c): image, server, discovery, route, summary. The exit code. */
int diyrun_main(const struct cfg *cfg, struct log *log);

/* issue 11 item 2 (diyap): --pair (src/diypair.c). The route's prov_start/prov_stop (GET
 * /device + POST /ap to 10.10.7.1 through provision.h, unchanged; serverName is this
 * computer's home address and --https-port, as route 1's), this computer's addresses from
 * netwatch (netwatch_cb: 10.10.7.x -> have_ap, any other but link-local -> have_home; the
 * events are posted only while pairing or discovering), and the announcements seen while
 * pairing: the paired device's (id from GET /device) only; its LAN mode ->
 * RDIY_EV_LAN_MODE; another device's are ignored. */
void diyrun_pair_prov_start(void *arg);
void diyrun_pair_prov_stop(void *arg);
void diyrun_pair_addr(void *arg, bool added, const struct netwatch_addr *a);
/* Called first on every Avahi FOUND with --pair: true when it was handled here (the caller
 * returns), false to go on as without --pair (the paired device in DIY mode, found in
 * discover). */
bool diyrun_pair_found(struct diyrun *d, const struct avahi_dev *a);
/* The observer's part: on entering discover, say so and replay a pending announcement. */
void diyrun_pair_entered(struct diyrun *d, int to);
/* diyrun.c: the device found at ip (id, multi-channel) from an announcement */
void diyrun_found_at(struct diyrun *d, const char *ip, const char *id, bool multi);
void diyrun_pair_fini(struct diyrun *d);

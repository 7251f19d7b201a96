/* takeover: the adapter that runs the cloud route (route-cloud.h) on the lws loop.
 *
 * It owns the engine and the route's facts, and turns the world into events:
 * address changes (netwatch) into facts + ap/home/final events, the provisioning
 * client's result into prov-* events, cloud.c's and transfers.c's reports into
 * device-seen / stock-done / e2a-request / final-delivered. It gives the engine its
 * timers (lws_sul) and its output (ui), starts and stops provisioning for the
 * route's entry actions, keeps the time spent per stage, and prints the summary
 * when the run ends: per device what happened, and why the run ended.
 *
 * Plug-ins: takeover_engine() gives the engine, to which a WiFi hop driver (issue
 * 10) adds itself as a transition observer with engine_observe().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "cloud.h"
#include "drawer.h"
#include "engine.h"
#include "enginelws.h"
#include "imageset.h"
#include "log.h"
#include "netwatch.h"
#include "route-cloud.h"
#include "transfers.h"
#include "ui.h"

struct prov;

struct takeover {
	struct engine eng;                 /* runs route_cloud */
	struct route_cloud rc;             /* the route's facts and effects */
	const struct cfg *cfg;             /* borrowed */
	struct log *log;                   /* borrowed */
	struct ui *ui;                     /* borrowed */
	struct lws_context *lws;           /* the loop: timers, provisioning */
	struct lws_vhost *vh_loop;         /* has prov_protocol */
	const char *ssid, *password, *serving_host; /* borrowed (pre-flight's) */
	struct cloud *cloud;               /* borrowed: sessions for the summary and
					    * --all's drawer; --all holds its upgrades
					    * while this computer may leave home */
	struct transfers *tr;              /* borrowed: FinalStage facts for the summary;
					    * --all resets its per-device facts */
	const struct imageset *images;     /* borrowed: for the summary */
	struct prov *prov;                 /* provisioning run, NULL when none */
	char prov_deviceid[PROTO_DEVICEID_MAX + 1]; /* from GET /device */
	struct engine_lws el;              /* the engine's timers and texts on the loop
					    * (filled once lws, ui and log are set) */
	int64_t start_ms;                  /* monotonic start */
	int64_t stage_since_ms;            /* when the current stage began */
	int acct_stage;                    /* the stage whose time runs since then */
	int64_t stage_ms[_ROUTE_STAGE_MAX]; /* time spent per stage */
	int exit_code;                     /* set when the route ends */
	struct drawer drawer;              /* --all: where each device is, its outcome */
};

/* Prepare (no event yet). All borrowed pointers must be set by the caller before
 * takeover_start: cfg, log, ui, lws, vh_loop, ssid/password/serving_host, cloud,
 * tr, images; https_port/http_port go to rc.f. */
void takeover_init(struct takeover *t);

/* Post start (or start-no-prov): the route begins. */
void takeover_start(struct takeover *t);

/* The engine, for observers (hop driver, other glue). */
struct engine *takeover_engine(struct takeover *t);

/* Has the route ended (done or failed)? */
bool takeover_ended(const struct takeover *t);

/* Events from the other modules, mapped onto the route. */
void takeover_post(struct takeover *t, enum route_ev ev);
void takeover_cloud_event(void *arg, enum cloud_event ev);         /* cloud_post_fn */
void takeover_transfers_event(void *arg, enum transfers_event ev); /* transfers_post_fn */
void takeover_addr(void *arg, bool added, const struct netwatch_addr *a); /* netwatch_cb */

/* Stop the timers and provisioning. Before lws_context_destroy. */
void takeover_fini(struct takeover *t);

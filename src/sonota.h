/* sonota: the composition. The one context of the program, its life cycle, the
 * loop, signals and the wiring between modules; nothing else.
 *
 * main.c reads as the table of contents: cfg -> log -> sonota_init (images,
 * pre-flight, certificate, listeners, netwatch, signals) -> sonota_run (the lws
 * loop until the route ends) -> sonota_fini (everything in reverse).
 * Threads: the lws loop on the main thread owns everything here; libmicrohttpd
 * and ackwatch run threads of their own and talk back only through evq
 * (docs/architecture.md).
 *
 * Wiring: cloud.c and transfers.c report through their post functions to
 * takeover.c, which runs the route (route-cloud.c) on the engine (engine.c);
 * netwatch reports addresses to takeover.c. No module includes this header.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "cloud.h"
#include "evq.h"
#include "imageset.h"
#include "log.h"
#include "peers.h"
#include "plugins.h"
#include "preflight.h"
#include "takeover.h"
#include "transfers.h"
#include "ui.h"

struct ackwatch;
struct imgsrv;
struct netwatch;

struct sonota {
	const struct cfg *cfg;             /* options, immutable (owned by main) */
	struct log *log;                   /* the logger (owned by main) */
	struct ui ui;                      /* console/JSON output */
	struct preflight pre;              /* serving host, SSID, password (owned) */
	struct imageset images;            /* the validated bytes served (owned) */
	char cert[PATH_MAX];               /* certificate in use */
	char key[PATH_MAX];                /* its key */
	struct evq evq;                    /* MHD/ackwatch threads -> loop */
	bool evq_ready;                    /* evq initialised */
	struct lws_context *lws;           /* the loop */
	struct lws_vhost *vh_loop;         /* internal: signals, netwatch, provisioning client */
	struct lws_vhost *vh_https;        /* HTTPS + WSS (8443, or 443 with --legacy) */
	struct lws_protocols loop_protocols[5]; /* protocol list of vh_loop, lives with it */
	struct ackwatch *ackwatch;         /* confirms whole-image deliveries (ackwatch.h) */
	struct imgsrv *http;               /* images on 8080 */
	struct imgsrv *http_legacy;        /* --legacy: 8081 */
	struct netwatch *nw;               /* address events */
	int sigfd;                         /* signalfd for SIGINT/SIGTERM/SIGHUP, -1 none */
	struct peers peers;                /* address -> deviceid, fetch facts */
	struct cloud cloud;                /* the emulated cloud and its sessions */
	struct transfers tr;               /* the image server's reports */
	struct bus *bus;                   /* the shared system-bus connection (NM, Avahi), or
					    * NULL; opened when needed, closed last (issue 11) */
	struct takeover to;                /* the route, its engine and its adapter */
	struct plugins plugins;            /* observers of the route (plugins.c) */
};

/* Set up everything, in order; on failure returns a SONOTA_EXIT_* code (> 0)
 * after logging why, with what was set up still to be released by sonota_fini. */
int sonota_init(struct sonota *s, const struct cfg *cfg, struct log *log);

/* Run the loop until the route ends; returns the exit code. */
int sonota_run(struct sonota *s);

/* Tear down in the reverse order of sonota_init. Safe after a failed init. */
void sonota_fini(struct sonota *s);

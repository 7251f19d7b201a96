/* sonota: the one context of the program and its life cycle.
 *
 * main.c reads as the table of contents: cfg -> log -> sonota_init (images,
 * pre-flight, certificate, listeners, netwatch, signals) -> sonota_run (the lws
 * loop until the stage machine ends) -> sonota_fini (everything in reverse).
 * Threads: the lws loop on the main thread owns everything here; libmicrohttpd
 * runs on its own thread and talks back only through evq (docs/architecture.md).
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "cfg.h"
#include "evq.h"
#include "imageset.h"
#include "log.h"
#include "preflight.h"
#include "session.h"
#include "stage.h"
#include "ui.h"

struct ackwatch;
struct imgsrv;
struct netwatch;
struct prov;
struct wss_conn;

#define SONOTA_REMIND_S 60        /* a waiting stage repeats its instruction this often */
#define SONOTA_SETTLE_MS 50       /* a stage is explained once it lasted this long */
#define SONOTA_PROV_RETRY_S 5     /* pause before provisioning again while the AP stays */
#define SONOTA_PEERS_MAX 64       /* peer address -> deviceid, for download progress */
#define SONOTA_ABORT_PEERS_MAX 16 /* peers whose handshake aborts were explained */
#define SONOTA_FINAL_PEER "192.168.4.1" /* E2A's address on FinalStage (softAP default) */

/* Where a device's stock download stands, for progress and the summary. */
struct sonota_peer {
	char peer[EVQ_PEER_MAX];                 /* "" = free */
	char deviceid[PROTO_DEVICEID_MAX + 1];   /* the device at that address */
	uint64_t got;                            /* bytes of completed ranges so far */
	char file[EVQ_NAME_MAX];                 /* the image it downloads */
};

/* FinalStage (stage 3) as seen from the image server. */
struct sonota_final {
	bool user2_delivered;    /* E2A ROM1 job fetched image_user2 in full */
	bool delivered;          /* image_arduino.bin went out in full: the device is done */
	unsigned requests;       /* E2A downloads started */
	unsigned aborted;        /* E2A downloads that ended short */
	unsigned inflight;       /* E2A downloads started and not yet decided */
	char deviceid[PROTO_DEVICEID_MAX + 1]; /* the device last done with stock, if known */
};

struct sonota {
	const struct cfg *cfg;             /* options, immutable (owned by main) */
	struct log *log;                   /* the logger (owned by main) */
	struct ui ui;                      /* console/JSON output */
	struct preflight pre;              /* serving host, SSID, password (owned) */
	struct imageset images;            /* the validated bytes served (owned) */
	char digest_user1[65];             /* sha256 hex of the served user1 (as sent) */
	char digest_user2[65];             /* sha256 hex of the served user2 (as sent) */
	char cert[PATH_MAX];               /* certificate in use */
	char key[PATH_MAX];                /* its key */
	struct evq evq;                    /* MHD thread -> loop */
	bool evq_ready;                    /* evq initialised */
	struct lws_context *lws;           /* the loop */
	struct lws_vhost *vh_loop;         /* internal: signals, netwatch, provisioning client */
	struct lws_vhost *vh_https;        /* HTTPS + WSS (8443, or 443 with --legacy) */
	uint16_t https_port;               /* HTTPS/WSS port bound (cfg's, or the kernel's for 0) */
	uint16_t http_port;                /* image port bound */
	struct lws_protocols loop_protocols[4]; /* protocol list of vh_loop, lives with it */
	struct ackwatch *ackwatch;         /* confirms whole-image deliveries (ackwatch.h) */
	struct imgsrv *http;               /* images on 8080 */
	struct imgsrv *http_legacy;        /* --legacy: 8081 */
	struct netwatch *nw;               /* address events */
	struct prov *prov;                 /* provisioning run, NULL when none */
	int sigfd;                         /* signalfd for SIGINT/SIGTERM, -1 none */
	struct session_table sessions;     /* every device's dialogue state */
	struct stage_machine sm;           /* the stages */
	lws_sorted_usec_list_t sul_remind; /* reminder of the current instruction */
	lws_sorted_usec_list_t sul_timeout;/* the current stage's timeout */
	lws_sorted_usec_list_t sul_retry;  /* provisioning retry while the AP stays */
	bool have_ap;                      /* host has a 10.10.7.x address */
	bool have_home;                    /* host has the serving host's address */
	bool have_final;                   /* host has 192.168.4.2 */
	bool prov_posted;                  /* POST /ap went out (reply or not) */
	char prov_deviceid[PROTO_DEVICEID_MAX + 1]; /* from GET /device */
	struct sonota_peer peers[SONOTA_PEERS_MAX];
	struct sonota_final final;
	char aborted[SONOTA_ABORT_PEERS_MAX][EVQ_PEER_MAX]; /* peers told about pinning */
	unsigned naborted;
	unsigned devices_seen;             /* device-seen events (dispatch, register) */
	int64_t stage_since_ms;            /* monotonic time the current stage began */
	int64_t stage_ms[_STAGE_MAX];      /* time spent per stage */
	int64_t start_ms;                  /* monotonic start */
	char fault[16];                    /* SONOTA_TEST_FAULT (tests only), "" none */
	int exit_code;                     /* set when the stage machine ends */
};

/* Set up everything, in order; on failure returns a SONOTA_EXIT_* code (> 0)
 * after logging why, with what was set up still to be released by sonota_fini. */
int sonota_init(struct sonota *s, const struct cfg *cfg, struct log *log);

/* Run the loop until the stage machine ends; returns the exit code. */
int sonota_run(struct sonota *s);

/* Tear down in the reverse order of sonota_init. Safe after a failed init. */
void sonota_fini(struct sonota *s);

/* Feed one event to the stage machine (sonota.c). An event the table does not
 * allow in the current stage is logged as a bug of ours and ignored. */
void sonota_event(struct sonota *s, enum stage_ev ev);

/* Remember which device talks from which address (cloud.c -> transfers.c). */
void sonota_peer_bind(struct sonota *s, const char *peer, const char *deviceid);

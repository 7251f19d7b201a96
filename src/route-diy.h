/* route-diy: the second route (issue 11), a DIY-mode device named by address ->
 * /zeroconf/info -> (ota_unlock) -> ota_flash -> serving the image -> the device's
 * completion POST, as tables for the engine (engine.h). docs/diy.md describes it.
 *
 * Pure, like route-cloud: the tables, the guards over struct route_diy_facts, the time
 * limits and the texts. Every decision is the cores': the adapter runs diyflow_next()
 * after each request and diyflow_verdict() on each image-server event or tick, stores
 * the answer in the facts, and posts RDIY_EV_NEXT or RDIY_EV_PROGRESS. Requests go out
 * through route_diy_observer() (an engine observer): on every row into info, unlock or
 * flash taken on START or NEXT, including a row to the same stage (the deviceid retry),
 * it calls ops->send once; the first request goes out on RDIY_EV_FOUND (discovered, or
 * --device-ip). The adapter is src/diyrun.c.
 *
 * What "done" proves: every byte of the image acknowledged, the completion POST with
 * error 0, and the device gone from mDNS (facts.left_mdns, from the Avahi browser). When
 * no mDNS watcher runs (facts.mdns_watch false), a device that proved the first two ends
 * in the terminal stage "unproven" (not success: the adapter exits 6), never in done.
 * When the watcher runs but no goodbye comes within the left-mdns limit (a device that
 * reboots silently stays in Avahi's cache), stage "probe-8081" asks ops->probe for one
 * /zeroconf/info: no answer (refused, reset, silent) ends "unproven", an answer "failed"
 * (diyleave.h decides and words it); a goodbye arriving meanwhile is still done.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "diyflow.h"
#include "diyleave.h"
#include "engine.h"

#define RDIY_REQ_MARGIN_S 1 /* on top of two requests' limits (the deviceid retry) */
#define RDIY_DIAG_MAX 256

enum route_diy_stage {
	RDIY_PREFLIGHT = 0, /* image checked, server listening: not yet asked */
	RDIY_DISCOVER,      /* "discover": waiting for a DIY-mode announcement (or --device-ip) */
	RDIY_INFO,          /* "info": POST /zeroconf/info */
	RDIY_UNLOCK,        /* "unlock": POST /zeroconf/ota_unlock */
	RDIY_FLASH,         /* "flash": POST /zeroconf/ota_flash */
	RDIY_SERVING,       /* "serving-image": ota_flash accepted, bytes going out */
	RDIY_COMPLETION,    /* "completion-post": every byte acked, waiting for the POST */
	RDIY_LEFT_MDNS,     /* "left-mdns": completion 0, waiting for the mDNS goodbye */
	RDIY_DONE,          /* "done": bytes acked + completion error 0 + left mDNS */
	RDIY_FAILED,        /* "failed" */
	RDIY_UNPROVEN,      /* "unproven": success reported, leaving mDNS not observable */
	/* diymore: no goodbye within the left-mdns limit: one /zeroconf/info (diyleave.h) */
	RDIY_LEAVE_PROBE,   /* "probe-8081": does the DIY firmware still answer? */
	/* issue 11 item 2 (diyap): --pair, into DIY mode before discover (route-diy-pair.c) */
	RDIY_WAIT_AP,       /* "wait-ap": the user presses the button, joins ITEAD-<id> */
	RDIY_PROVISIONING,  /* "provisioning": GET /device + POST /ap to 10.10.7.1 */
	RDIY_POSTED,        /* "posted": POST /ap unanswered, the AP still up: does it go? */
	RDIY_PROV_PAUSE,    /* "prov-pause": a run failed while the AP stays: pause, again */
	RDIY_WAIT_HOME,     /* "wait-home": the user rejoins the home WiFi */
	_RDIY_STAGE_MAX,
};

enum route_diy_ev {
	RDIY_EV_START = 0, /* pre-flight passed */
	RDIY_EV_NEXT,      /* a request ended; facts.next holds diyflow_next()'s answer */
	RDIY_EV_PROGRESS,  /* an image-server event or tick; facts.verdict etc. updated */
	RDIY_EV_TIMEOUT,   /* the stage's time limit expired */
	RDIY_EV_FATAL,     /* unrecoverable error, logged by whoever raised it */
	RDIY_EV_INTERRUPT, /* SIGINT, SIGTERM or SIGHUP */
	RDIY_EV_ENTERED,   /* pseudo-event queued on entry */
	RDIY_EV_FOUND,     /* the device is known: facts.device_ip (and deviceid) set */
	RDIY_EV_PROBED,    /* diymore: the probe ended; facts.probe and probe_diag set */
	/* issue 11 item 2 (diyap): --pair */
	RDIY_EV_AP_UP,         /* this computer got a 10.10.7.x address (pair.have_ap) */
	RDIY_EV_AP_DOWN,       /* it lost it */
	RDIY_EV_PROV_OK,       /* POST /ap answered {"error":0} (pair.deviceid set) */
	RDIY_EV_PROV_NO_REPLY, /* POST /ap went out, no usable reply */
	RDIY_EV_PROV_FAILED,   /* a provisioning run gave up (nothing posted, or refused) */
	RDIY_EV_HOME_UP,       /* this computer has an address on another network (have_home) */
	RDIY_EV_HOME_DOWN,     /* it has none any more */
	RDIY_EV_LAN_MODE,      /* the paired device announced eWeLink LAN mode, not DIY mode */
	_RDIY_EV_MAX,
};

/* issue 11 item 2 (diyap): --pair, the compatible-pairing AP of firmware 3.5+ (ITEAD-<id>,
 * 12345678, the device at 10.10.7.1) gets the home WiFi through provision.h as in route 1
 * (its limits and diagnoses), then the user rejoins the home WiFi and discover begins (its
 * 60 s limit starts then). The hops are the user's, or the NM hop driver's (src/hop.c:
 * wait-ap joins ITEAD-<id>, wait-home goes home); the adapter reports this computer's
 * addresses (netwatch) either way. POST /ap may leave the device in DIY mode or in eWeLink LAN mode
 * (DIY-PROTOCOL.md §1.3): the paired device's LAN-mode announcement (RDIY_EV_LAN_MODE)
 * fails the run at once with one line saying what to do. */
#define RDIY_PROV_RUNS_MAX 3   /* provisioning runs per AP session (route 1's 3) */
#define RDIY_NO_REPLY_WAIT_S 5 /* after an unanswered POST /ap, how long the AP may stay
				* before the POST counts as not taken (as route 1) */
#define RDIY_PROV_RETRY_S 5    /* pause before provisioning again while the AP stays */
#define RDIY_PAIR_ID_MAX 31    /* the deviceid GET /device answered */

struct route_diy_pair {
	bool on;                   /* --pair: start at wait-ap, not discover */
	const char *ssid;          /* the home WiFi (borrowed) */
	unsigned wait_timeout_s;   /* --wait-timeout: wait-ap, provisioning, wait-home */
	bool have_ap;              /* this computer has a 10.10.7.x address */
	bool have_home;            /* ... and an address on another network (not 10.10.7.x,
				    * loopback, link-local) */
	unsigned runs;             /* provisioning runs in this AP session */
	bool post_sent;            /* the running POST /ap was written (reply or not) */
	bool posted_unanswered;    /* an earlier run of this AP session posted, no reply */
	bool provisioned;          /* the device took the settings */
	char deviceid[RDIY_PAIR_ID_MAX + 1]; /* from GET /device; "" unknown */
	bool hops_auto;            /* the hop driver (src/hop.c) joins ITEAD-<id> and goes
				    * home itself through NetworkManager: the texts say so;
				    * set by it once NM is ready, cleared if lost */
};

/* What the route knows. Written by the adapter before the event that explains it. */
struct route_diy_facts {
	const char *device_ip;          /* --device-ip (borrowed) */
	struct diyflow_next next;       /* diyflow_next()'s last answer (before RDIY_EV_NEXT) */
	enum diyflow_verdict verdict;   /* diyflow_verdict()'s last answer (before PROGRESS) */
	char diag[RDIY_DIAG_MAX];       /* its line */
	bool all_acked;                 /* every byte of the image acknowledged */
	bool completion_seen;           /* POST /api/device/otaFlash decoded */
	int completion_error;           /* its "error" */
	bool omit_deviceid;             /* send the first request without "deviceid" (MINIR3) */
	bool mdns_watch;                /* an mDNS watcher runs and will report the goodbye */
	bool left_mdns;                 /* the device's _ewelink._tcp instance was withdrawn */
	const char *hidden;             /* discover: dnssd_hidden_diagnosis() of what was seen
					 * (static), or the adapter's --device-id line (it
					 * outlives the run), NULL: the generic line */
	/* diymore: the left-mdns probe (diyleave_judge()'s verdict and line) */
	enum diyleave probe;
	char probe_diag[DIYLEAVE_TEXT_MAX];
	/* diymore: why leaving mDNS cannot be observed (diyhidden.h; static), NULL: no Avahi */
	const char *unobservable;
	struct route_diy_pair pair;     /* --pair (issue 11 item 2) */
};

/* The effects, supplied by the adapter. */
struct route_diy_ops {
	/* send one /zeroconf request: step, with or without "deviceid" */
	void (*send)(void *arg, enum diyflow_step step, bool with_deviceid);
	void (*finish)(void *arg, bool success, bool interrupted); /* the run ended */
	/* diymore: send the one /zeroconf/info probe of stage probe-8081 (without deviceid),
	 * then set facts.probe/probe_diag and post RDIY_EV_PROBED; NULL: never probed (the
	 * stage's backstop fails it) */
	void (*probe)(void *arg);
	/* --pair (issue 11 item 2): start a provisioning run (GET /device + POST /ap), stop
	 * the running one; NULL without --pair */
	void (*prov_start)(void *arg);
	void (*prov_stop)(void *arg);
};

/* The context the engine gets (engine_init's ctx), also route_diy_observer()'s arg. */
struct route_diy {
	struct route_diy_facts f;
	const struct route_diy_ops *ops;
	void *arg;
};

extern const struct engine_route route_diy;

/* The observer that sends the requests; register it with engine_observe(e, ..., rd). */
void route_diy_observer(void *arg, const struct engine *e, int from, int ev, int to);

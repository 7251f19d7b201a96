/* route-cloud: the first route, stock firmware -> provisioning -> emulated cloud ->
 * FinalStage, as tables for the engine (engine.h). docs/stage-machine.md is its
 * authoritative description; keep them in step.
 *
 * Pure: the tables, the guards (predicates over struct route_cloud_facts), the time
 * limits (functions of the options) and the texts. The effects of entering a stage
 * (start or stop provisioning, end the run) go through struct route_cloud_ops, which
 * the adapter (src/takeover.c) supplies; tests supply fakes.
 *
 * The adapter writes the facts BEFORE it posts the event they explain (for
 * example have_ap = false, then ROUTE_EV_AP_DOWN); guards read them when the event
 * is dispatched.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define ROUTE_PROV_RUNS_MAX 3     /* provisioning runs (GET /device + POST /ap) per pairing
				   * AP session: a POST without a reply while the AP stays,
				   * or a failed run, is retried up to this many runs in all */
#define ROUTE_NO_REPLY_WAIT_S 5   /* after an unanswered POST /ap, how long the AP may stay
				   * before the POST counts as not taken (a device that
				   * took the settings leaves its AP within a second or two,
				   * PROTOCOL.md §2.4) */
#define ROUTE_PROV_RETRY_S 5      /* pause before provisioning again while the AP stays */
#define ROUTE_NOTICE_MAX_S 120    /* the "device has not called" notice comes at most this
				   * long after the wait began (half the limit if shorter) */
#define ROUTE_DEVICEID_MAX 31     /* the <id> of ITEAD-<id> kept in the facts (SSIDs are at
				   * most 32 bytes, "ITEAD-" included) */
#define ROUTE_DRAWER_LOOK_S 8     /* --all: after a device took the settings, how long
				   * look-next looks for another ITEAD-<id> before going
				   * home (the hop driver scans at once and every 3 s), so
				   * that devices whose buttons were pressed together go
				   * through stage 2 together */
#define ROUTE_JOIN_FAILURE_MAX 192 /* the hop driver's one-line reason of a failed join */
#define ROUTE_DRAWER_NEXT_S 120   /* --all: how long next-device looks for another ITEAD-*
				   * AP (the user presses the next device's button; the AP
				   * stays ~3 min); --wait-timeout if shorter */

enum route_stage {
	ROUTE_PREFLIGHT = 0,   /* checking images, addresses, ports */
	ROUTE_WAIT_AP,         /* waiting for the host to join ITEAD-<id> (10.10.7.x) */
	ROUTE_PROVISIONING,    /* GET /device + POST /ap to 10.10.7.1 */
	ROUTE_POSTED,          /* POST /ap unanswered, the AP still up: does it go away? */
	ROUTE_PROV_PAUSE,      /* a run failed while the AP stays: pause, then again */
	ROUTE_LOOK_NEXT,       /* --all: a device provisioned; another ITEAD-<id> first? */
	ROUTE_WAIT_HOME,       /* waiting for the host to be back on the home WiFi */
	ROUTE_WAIT_CALL,       /* back home: waiting for a device to call the cloud */
	ROUTE_SERVING,         /* stage 2: devices talk to the emulated cloud */
	ROUTE_FINALSTAGE,      /* stage 3: waiting for / serving E2A on FinalStage */
	ROUTE_FINAL_DELIVERED, /* image_arduino.bin delivered in full; FinalStage to go */
	ROUTE_NEXT_DEVICE,     /* --all: a device ended (recorded): the next FinalStage,
				* back home, or the next ITEAD-<id>? */
	ROUTE_DONE,            /* success */
	ROUTE_FAILED,          /* failure, a limit expired, or interrupted */
	_ROUTE_STAGE_MAX,
};

enum route_ev {
	ROUTE_EV_START = 0,       /* pre-flight passed, provisioning wanted */
	ROUTE_EV_START_NO_PROV,   /* pre-flight passed, --no-prov */
	ROUTE_EV_AP_UP,           /* host got a 10.10.7.x address */
	ROUTE_EV_AP_DOWN,         /* host lost it */
	ROUTE_EV_PROV_OK,         /* POST /ap answered {"error":0} */
	ROUTE_EV_PROV_NO_REPLY,   /* POST /ap went out, no usable reply */
	ROUTE_EV_PROV_FAILED,     /* a provisioning run gave up (nothing posted, or refused) */
	ROUTE_EV_HOME_UP,         /* the serving address is present */
	ROUTE_EV_HOME_DOWN,       /* it went away */
	ROUTE_EV_DEVICE_SEEN,     /* a device called dispatch or registered */
	ROUTE_EV_STOCK_DONE,      /* a device acked its upgrade with 0 */
	ROUTE_EV_FINAL_UP,        /* host got 192.168.4.2 */
	ROUTE_EV_FINAL_DOWN,      /* host lost 192.168.4.2 */
	ROUTE_EV_E2A_REQUEST,     /* FinalStage's device (192.168.4.1) started a download */
	ROUTE_EV_FINAL_DELIVERED, /* image_arduino.bin delivered in full to it */
	ROUTE_EV_TIMEOUT,         /* the stage's time limit expired */
	ROUTE_EV_FATAL,           /* unrecoverable error, logged by whoever raised it */
	ROUTE_EV_INTERRUPT,       /* SIGINT, SIGTERM or SIGHUP */
	ROUTE_EV_JOIN_FAILED,     /* the hop driver cannot join an ITEAD-<id>: it refused the
				   * pairing password (f.join_failure says so) */
	ROUTE_EV_ENTERED,         /* pseudo-event queued on entry: the follow-up rows */
	_ROUTE_EV_MAX,
};

/* What the route knows. Written by the adapter; read by guards, limits and texts. */
struct route_cloud_facts {
	/* options (set once) */
	bool no_prov;              /* --no-prov */
	bool no_check_ip;          /* --no-check-ip (or implied): addresses are not awaited */
	unsigned call_timeout_s;   /* --call-timeout */
	unsigned wait_timeout_s;   /* --wait-timeout */
	unsigned done_timeout_s;   /* --done-timeout */
	const char *ssid;          /* home WiFi, NULL if unknown (borrowed) */
	const char *serving_host;  /* our address in stage 2 (borrowed) */
	uint16_t https_port;       /* the port the device calls */
	uint16_t http_port;        /* the image port */
	bool hops_auto;            /* the hop driver (src/hop.c) joins and leaves the
				    * device's networks itself: the texts say so; set
				    * by it once NetworkManager is ready, cleared if lost */
	/* the host's addresses */
	bool have_ap;              /* 10.10.7.x */
	bool have_home;            /* the serving address */
	int home_ifindex;          /* the interface that has it (0: none); the hop driver
				    * skips the way home when it is not the radio hopped
				    * (two interfaces, --wifi-iface: docs/wifi.md) */
	bool have_final;           /* 192.168.4.2 */
	/* progress */
	unsigned prov_runs;        /* provisioning runs started in this AP session */
	bool post_sent;            /* the running POST /ap was written (reply or not) */
	bool posted_unanswered;    /* an earlier run of this AP session posted, no reply */
	bool provisioned;          /* a device took the WiFi settings in this run */
	unsigned devices;          /* distinct devices that called the cloud */
	bool user2_delivered;      /* E2A fetched image_user2 in full (ROM1 job) */
	unsigned final_inflight;   /* E2A downloads started and not decided */
	/* --all (drawer mode, docs/stage-machine.md "next-device") */
	bool drawer;               /* --all: a device's end leads to next-device */
	bool drawer_all_done;      /* every device recorded so far is done (adapter) */
	bool dev_started;          /* a device is being provisioned (not yet in the drawer) */
	unsigned devices_before;   /* .devices when the current device began */
	/* the drawer's counts (src/drawer.h), kept by the adapter */
	unsigned drawer_open;      /* devices provisioned or heard of, not ended */
	unsigned drawer_stage2;    /* of them, provisioned or calling: not stock-done yet */
	unsigned drawer_final_waiting; /* stock-done, their FinalStage not served yet */
	uint8_t final_bssid[6];    /* the FinalStage to join: the soft-AP MAC of the
				    * device picked by final_begin (all zero: any) */
	uint8_t itead_bssid[6];    /* the ITEAD-<id> the hop driver joined for the current
				    * device (all zero: unknown); written by src/hop.c */
	char itead_deviceid[ROUTE_DEVICEID_MAX + 1]; /* the <id> of that ITEAD-<id> ("":
				    * unknown); written by src/hop.c */
	char join_failure[ROUTE_JOIN_FAILURE_MAX]; /* why the last ITEAD-<id> join failed
				    * (NetworkManager's reason, one line); src/hop.c */
};

/* The effects, supplied by the adapter. */
struct route_cloud_ops {
	void (*prov_start)(void *arg);            /* start a provisioning run */
	void (*prov_stop)(void *arg);             /* stop the run if one is running */
	void (*finish)(void *arg, bool success, bool interrupted); /* the run ended */
	/* --all (NULL: never in drawer mode). Devices end: which (enum route_dev_end),
	 * outcome (drawer.h enum drawer_outcome: 0 done, 1 failed, 2 interrupted) and
	 * the one-line why (NULL for done). Called before finish when the run ends
	 * with devices in progress; the adapter updates f.drawer_all_done and the
	 * drawer counts. */
	void (*device_end)(void *arg, int which, int outcome, const char *why);
	/* --all: the device being provisioned took the settings: into the drawer */
	void (*device_provisioned)(void *arg);
	/* --all: finalstage entered: pick the device whose FinalStage is served next
	 * (the one there already, else the first stock-done), write f.final_bssid */
	void (*final_begin)(void *arg);
};

/* Which devices route_cloud_ops.device_end ends. */
enum route_dev_end {
	ROUTE_END_CURRENT = 0, /* the device being provisioned (not in the drawer yet) */
	ROUTE_END_FINAL,       /* the device on FinalStage */
	ROUTE_END_STAGE2,      /* every device provisioned or calling, not stock-done */
	ROUTE_END_ALL,         /* every device not ended (the run ends) */
};

/* The context the engine gets (engine_init's ctx). */
struct route_cloud {
	struct route_cloud_facts f;
	const struct route_cloud_ops *ops;
	void *arg;
};

extern const struct engine_route route_cloud;

/* The "device has not called" text (notice, and the diagnosis at the limit), for
 * the tests and the docs: the causes, most likely first, and what to do. */
bool route_cloud_no_call_text(const struct route_cloud_facts *f, bool expired, char *buf,
			      size_t len);

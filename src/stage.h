/* stage: the takeover stage machine. docs/stage-machine.md is its authoritative
 * description; keep the two in step.
 *
 * A table, stage x event -> next stage, plus one entry point, stage_event(),
 * which narrates every transition as "old -> event -> new" through a callback.
 * An event that the table does not allow in the current stage is reported as a
 * bug of ours (the event source should not have produced it) and ignored.
 * The table is pure; the effects of entering a stage (starting provisioning,
 * telling the user what to do) are the owner's, through on_enter.
 */
#pragma once

#include <stdbool.h>

enum stage {
	STAGE_PREFLIGHT = 0,  /* checking images, addresses, ports */
	STAGE_WAIT_AP,        /* waiting for the host to join ITEAD-<id> (a 10.10.7.x address) */
	STAGE_PROVISIONING,   /* GET /device + POST /ap to 10.10.7.1 */
	STAGE_WAIT_HOME,      /* waiting for the host to be back on the home network */
	STAGE_SERVING,        /* stage 2: devices talk to the emulated cloud */
	STAGE_FINALSTAGE,     /* stage 3: waiting for / serving E2A on FinalStage */
	STAGE_FINAL_DELIVERED,/* image_arduino.bin delivered in full; waiting for FinalStage to go */
	STAGE_DONE,           /* success: exit 0 */
	STAGE_FAILED,         /* failure: exit non-zero */
	_STAGE_MAX,
};

enum stage_ev {
	STAGE_EV_START = 0,       /* pre-flight passed, provisioning wanted */
	STAGE_EV_START_NO_PROV,   /* pre-flight passed, --no-prov */
	STAGE_EV_AP_UP,           /* host got a 10.10.7.x address */
	STAGE_EV_AP_DOWN,         /* host lost its 10.10.7.x address */
	STAGE_EV_PROV_OK,         /* POST /ap answered {"error":0} */
	STAGE_EV_PROV_NO_REPLY,   /* POST /ap sent, the device dropped without a reply */
	STAGE_EV_PROV_FAILED,     /* provisioning gave up */
	STAGE_EV_HOME_UP,         /* the serving host's address is present */
	STAGE_EV_HOME_DOWN,       /* the serving host's address went away */
	STAGE_EV_DEVICE_SEEN,     /* a device reached the emulated cloud (dispatch or websocket) */
	STAGE_EV_STOCK_DONE,      /* a device acked its upgrade with 0: E2A will start */
	STAGE_EV_FINAL_UP,        /* host got 192.168.4.2 */
	STAGE_EV_FINAL_DOWN,      /* host lost 192.168.4.2 */
	STAGE_EV_E2A_REQUEST,     /* a FinalStage download started */
	STAGE_EV_FINAL_DELIVERED, /* image_arduino.bin went out in full */
	STAGE_EV_TIMEOUT,         /* the current stage's timer expired */
	STAGE_EV_FATAL,           /* an unrecoverable error (logged by whoever raised it) */
	STAGE_EV_INTERRUPT,       /* SIGINT/SIGTERM */
	_STAGE_EV_MAX,
};

struct stage_machine;

/* Called after every transition, also for a transition to the same stage
 * (reminders and progress are the owner's business). */
typedef void (*stage_enter_fn)(void *arg, enum stage old, enum stage_ev ev, enum stage now);

struct stage_machine {
	enum stage cur;          /* current stage */
	stage_enter_fn on_enter; /* effects of a transition, may be NULL */
	void *arg;               /* passed to on_enter */
	unsigned transitions;    /* count of transitions taken, for tests and the summary */
	unsigned rejected;       /* events the table did not allow */
};

/* Start in STAGE_PREFLIGHT. */
void stage_init(struct stage_machine *sm, stage_enter_fn on_enter, void *arg);

/* The table: the stage ev leads to from cur, or -1 when ev is not allowed there. */
int stage_next(enum stage cur, enum stage_ev ev);

/* Feed one event. Returns the new stage, or -EINVAL when the table does not allow
 * ev in the current stage (the stage is unchanged). */
int stage_event(struct stage_machine *sm, enum stage_ev ev);

/* Is this a terminal stage (DONE, FAILED)? */
bool stage_is_final(enum stage s);

const char *stage_name(enum stage s);    /* "wait-ap", ... */
const char *stage_ev_name(enum stage_ev ev); /* "ap-up", ... */

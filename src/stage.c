/* stage: the takeover stage machine; see stage.h and docs/stage-machine.md, which
 * is the authoritative description of this table. */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "stage.h"

static const char *const stage_names[_STAGE_MAX] = {
	[STAGE_PREFLIGHT] = "preflight",
	[STAGE_WAIT_AP] = "wait-ap",
	[STAGE_PROVISIONING] = "provisioning",
	[STAGE_WAIT_HOME] = "wait-home",
	[STAGE_SERVING] = "serving",
	[STAGE_FINALSTAGE] = "finalstage",
	[STAGE_FINAL_DELIVERED] = "final-delivered",
	[STAGE_DONE] = "done",
	[STAGE_FAILED] = "failed",
};

static const char *const ev_names[_STAGE_EV_MAX] = {
	[STAGE_EV_START] = "start",
	[STAGE_EV_START_NO_PROV] = "start-no-prov",
	[STAGE_EV_AP_UP] = "ap-up",
	[STAGE_EV_AP_DOWN] = "ap-down",
	[STAGE_EV_PROV_OK] = "prov-ok",
	[STAGE_EV_PROV_NO_REPLY] = "prov-no-reply",
	[STAGE_EV_PROV_FAILED] = "prov-failed",
	[STAGE_EV_HOME_UP] = "home-up",
	[STAGE_EV_HOME_DOWN] = "home-down",
	[STAGE_EV_DEVICE_SEEN] = "device-seen",
	[STAGE_EV_STOCK_DONE] = "stock-done",
	[STAGE_EV_FINAL_UP] = "final-up",
	[STAGE_EV_FINAL_DOWN] = "final-down",
	[STAGE_EV_E2A_REQUEST] = "e2a-request",
	[STAGE_EV_FINAL_DELIVERED] = "final-delivered",
	[STAGE_EV_TIMEOUT] = "timeout",
	[STAGE_EV_FATAL] = "fatal",
	[STAGE_EV_INTERRUPT] = "interrupt",
};

/* The transition table. 0 means "not allowed"; entries store next + 1 so that the
 * zero-initialised remainder of the array reads as "not allowed". Rows follow
 * docs/stage-machine.md, section "Transitions". */
#define T(next) ((next) + 1)
static const unsigned char table[_STAGE_MAX][_STAGE_EV_MAX] = {
	[STAGE_PREFLIGHT] = {
		[STAGE_EV_START] = T(STAGE_WAIT_AP),
		[STAGE_EV_START_NO_PROV] = T(STAGE_WAIT_HOME),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_WAIT_AP] = {
		[STAGE_EV_AP_UP] = T(STAGE_PROVISIONING),
		[STAGE_EV_AP_DOWN] = T(STAGE_WAIT_AP),
		/* A device provisioned earlier (or by the app) may call in directly. */
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_SERVING),
		[STAGE_EV_FINAL_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_E2A_REQUEST] = T(STAGE_FINALSTAGE),
		[STAGE_EV_HOME_UP] = T(STAGE_WAIT_AP),
		[STAGE_EV_HOME_DOWN] = T(STAGE_WAIT_AP),
		[STAGE_EV_TIMEOUT] = T(STAGE_WAIT_AP),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_PROVISIONING] = {
		[STAGE_EV_PROV_OK] = T(STAGE_WAIT_HOME),
		/* Sent, no reply: success only if the AP then goes away (ap-down). */
		[STAGE_EV_PROV_NO_REPLY] = T(STAGE_PROVISIONING),
		/* The AP closed: after a POST that is the device leaving to join the home
		 * WiFi; before one, the AP timed out. The owner tells which. */
		[STAGE_EV_AP_DOWN] = T(STAGE_WAIT_AP),
		[STAGE_EV_PROV_FAILED] = T(STAGE_WAIT_AP),
		[STAGE_EV_AP_UP] = T(STAGE_PROVISIONING),
		[STAGE_EV_HOME_UP] = T(STAGE_PROVISIONING),
		[STAGE_EV_HOME_DOWN] = T(STAGE_PROVISIONING),
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_SERVING),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_WAIT_HOME] = {
		[STAGE_EV_HOME_UP] = T(STAGE_SERVING),
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_SERVING),
		/* --no-prov resumes at FinalStage when 192.168.4.2 is already there. */
		[STAGE_EV_FINAL_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_E2A_REQUEST] = T(STAGE_FINALSTAGE),
		[STAGE_EV_AP_UP] = T(STAGE_WAIT_HOME),
		[STAGE_EV_AP_DOWN] = T(STAGE_WAIT_HOME),
		[STAGE_EV_HOME_DOWN] = T(STAGE_WAIT_HOME),
		[STAGE_EV_PROV_OK] = T(STAGE_WAIT_HOME),
		[STAGE_EV_PROV_NO_REPLY] = T(STAGE_WAIT_HOME),
		[STAGE_EV_TIMEOUT] = T(STAGE_WAIT_HOME),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_SERVING] = {
		[STAGE_EV_STOCK_DONE] = T(STAGE_FINALSTAGE),
		[STAGE_EV_FINAL_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_E2A_REQUEST] = T(STAGE_FINALSTAGE),
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_SERVING),
		[STAGE_EV_HOME_UP] = T(STAGE_SERVING),
		[STAGE_EV_HOME_DOWN] = T(STAGE_WAIT_HOME),
		[STAGE_EV_AP_UP] = T(STAGE_SERVING),
		[STAGE_EV_AP_DOWN] = T(STAGE_SERVING),
		[STAGE_EV_TIMEOUT] = T(STAGE_SERVING),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_FINALSTAGE] = {
		[STAGE_EV_FINAL_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_FINAL_DOWN] = T(STAGE_FINALSTAGE),
		[STAGE_EV_E2A_REQUEST] = T(STAGE_FINALSTAGE),
		[STAGE_EV_FINAL_DELIVERED] = T(STAGE_FINAL_DELIVERED),
		/* Other devices may still be in stage 2 while this one is in FinalStage. */
		[STAGE_EV_STOCK_DONE] = T(STAGE_FINALSTAGE),
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_FINALSTAGE),
		[STAGE_EV_HOME_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_HOME_DOWN] = T(STAGE_FINALSTAGE),
		[STAGE_EV_AP_UP] = T(STAGE_FINALSTAGE),
		[STAGE_EV_AP_DOWN] = T(STAGE_FINALSTAGE),
		[STAGE_EV_TIMEOUT] = T(STAGE_FINALSTAGE),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		[STAGE_EV_INTERRUPT] = T(STAGE_FAILED),
	},
	[STAGE_FINAL_DELIVERED] = {
		[STAGE_EV_FINAL_DOWN] = T(STAGE_DONE),
		[STAGE_EV_TIMEOUT] = T(STAGE_DONE),
		/* E2A restarting or fetching again: still delivered, still waiting. */
		[STAGE_EV_FINAL_UP] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_E2A_REQUEST] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_FINAL_DELIVERED] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_HOME_UP] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_HOME_DOWN] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_DEVICE_SEEN] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_STOCK_DONE] = T(STAGE_FINAL_DELIVERED),
		[STAGE_EV_FATAL] = T(STAGE_FAILED),
		/* The image is on the device: an interrupt now is still a success. */
		[STAGE_EV_INTERRUPT] = T(STAGE_DONE),
	},
	/* DONE and FAILED accept nothing: the loop ends. */
};
#undef T

int
stage_next(enum stage cur, enum stage_ev ev)
{
	if ((unsigned)cur >= _STAGE_MAX || (unsigned)ev >= _STAGE_EV_MAX)
		return -1;
	unsigned char t = table[cur][ev];
	return t ? (int)t - 1 : -1;
}

void
stage_init(struct stage_machine *sm, stage_enter_fn on_enter, void *arg)
{
	sm->cur = STAGE_PREFLIGHT;
	sm->on_enter = on_enter;
	sm->arg = arg;
	sm->transitions = 0;
	sm->rejected = 0;
}

int
stage_event(struct stage_machine *sm, enum stage_ev ev)
{
	int next = stage_next(sm->cur, ev);
	if (next < 0) {
		sm->rejected++;
		return -EINVAL;
	}
	enum stage old = sm->cur;
	sm->cur = (enum stage)next;
	sm->transitions++;
	if (sm->on_enter)
		sm->on_enter(sm->arg, old, ev, sm->cur);
	return next;
}

bool
stage_is_final(enum stage s)
{
	return s == STAGE_DONE || s == STAGE_FAILED;
}

const char *
stage_name(enum stage s)
{
	return (unsigned)s < _STAGE_MAX ? stage_names[s] : "invalid";
}

const char *
stage_ev_name(enum stage_ev ev)
{
	return (unsigned)ev < _STAGE_EV_MAX ? ev_names[ev] : "invalid";
}

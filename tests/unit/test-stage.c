/* Unit tests of the stage table (src/stage.c): the paths of docs/stage-machine.md
 * driven by injected events, the invariants every row must keep, and that every
 * transition is narrated. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "check.h"
#include "stage.h"

#define PATH_MAX_EVENTS 16

struct path_case {
	const char *name;
	enum stage_ev evs[PATH_MAX_EVENTS];
	unsigned n;
	enum stage want[PATH_MAX_EVENTS]; /* stage after each event, or -1 = rejected */
};

#define R (-1)
static const struct path_case paths[] = {
	{ "full takeover, device on user1",
	  { STAGE_EV_START, STAGE_EV_AP_UP, STAGE_EV_PROV_OK, STAGE_EV_AP_DOWN, STAGE_EV_HOME_UP,
	    STAGE_EV_DEVICE_SEEN, STAGE_EV_STOCK_DONE, STAGE_EV_FINAL_UP, STAGE_EV_E2A_REQUEST,
	    STAGE_EV_FINAL_DELIVERED, STAGE_EV_FINAL_DOWN },
	  11,
	  { STAGE_WAIT_AP, STAGE_PROVISIONING, STAGE_WAIT_HOME, STAGE_WAIT_HOME, STAGE_SERVING,
	    STAGE_SERVING, STAGE_FINALSTAGE, STAGE_FINALSTAGE, STAGE_FINALSTAGE,
	    STAGE_FINAL_DELIVERED, STAGE_DONE } },
	{ "user2: FinalStage drops between the two downloads",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_HOME_UP, STAGE_EV_STOCK_DONE, STAGE_EV_FINAL_UP,
	    STAGE_EV_E2A_REQUEST, STAGE_EV_FINAL_DOWN, STAGE_EV_FINAL_UP, STAGE_EV_E2A_REQUEST,
	    STAGE_EV_FINAL_DELIVERED, STAGE_EV_TIMEOUT },
	  10,
	  { STAGE_WAIT_HOME, STAGE_SERVING, STAGE_FINALSTAGE, STAGE_FINALSTAGE, STAGE_FINALSTAGE,
	    STAGE_FINALSTAGE, STAGE_FINALSTAGE, STAGE_FINALSTAGE, STAGE_FINAL_DELIVERED,
	    STAGE_DONE } },
	{ "--no-prov resumed at FinalStage",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_FINAL_UP, STAGE_EV_FINAL_DELIVERED,
	    STAGE_EV_FINAL_DOWN },
	  4, { STAGE_WAIT_HOME, STAGE_FINALSTAGE, STAGE_FINAL_DELIVERED, STAGE_DONE } },
	{ "AP times out before provisioning, then comes back",
	  { STAGE_EV_START, STAGE_EV_AP_UP, STAGE_EV_AP_DOWN, STAGE_EV_AP_UP, STAGE_EV_PROV_OK },
	  5, { STAGE_WAIT_AP, STAGE_PROVISIONING, STAGE_WAIT_AP, STAGE_PROVISIONING,
	       STAGE_WAIT_HOME } },
	{ "POST without reply counts only once the AP goes",
	  { STAGE_EV_START, STAGE_EV_AP_UP, STAGE_EV_PROV_NO_REPLY, STAGE_EV_AP_DOWN },
	  4, { STAGE_WAIT_AP, STAGE_PROVISIONING, STAGE_PROVISIONING, STAGE_WAIT_AP } },
	{ "delivery is not possible before FinalStage",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_HOME_UP, STAGE_EV_FINAL_DELIVERED, STAGE_EV_PROV_OK },
	  4, { STAGE_WAIT_HOME, STAGE_SERVING, R, R } },
	{ "an interrupt after delivery is a success",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_FINAL_UP, STAGE_EV_FINAL_DELIVERED,
	    STAGE_EV_INTERRUPT },
	  4, { STAGE_WAIT_HOME, STAGE_FINALSTAGE, STAGE_FINAL_DELIVERED, STAGE_DONE } },
	{ "an interrupt before delivery is a failure",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_FINAL_UP, STAGE_EV_E2A_REQUEST, STAGE_EV_INTERRUPT },
	  4, { STAGE_WAIT_HOME, STAGE_FINALSTAGE, STAGE_FINALSTAGE, STAGE_FAILED } },
	{ "nothing leaves DONE",
	  { STAGE_EV_START_NO_PROV, STAGE_EV_FINAL_UP, STAGE_EV_FINAL_DELIVERED,
	    STAGE_EV_FINAL_DOWN, STAGE_EV_FINAL_UP, STAGE_EV_FATAL },
	  6, { STAGE_WAIT_HOME, STAGE_FINALSTAGE, STAGE_FINAL_DELIVERED, STAGE_DONE, R, R } },
	{ "events before start are rejected",
	  { STAGE_EV_AP_UP, STAGE_EV_HOME_UP, STAGE_EV_START },
	  3, { R, R, STAGE_WAIT_AP } },
};
#undef R

struct narration {
	unsigned calls;
	enum stage old, now;
	enum stage_ev ev;
};

static void
on_enter(void *arg, enum stage old, enum stage_ev ev, enum stage now)
{
	struct narration *n = arg;
	n->calls++;
	n->old = old;
	n->ev = ev;
	n->now = now;
}

static void
test_paths(void)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		const struct path_case *c = &paths[i];
		struct narration n = { 0 };
		struct stage_machine sm;
		stage_init(&sm, on_enter, &n);
		CHECK_INT(sm.cur, STAGE_PREFLIGHT);
		for (unsigned k = 0; k < c->n; k++) {
			enum stage before = sm.cur;
			unsigned calls = n.calls;
			int r = stage_event(&sm, c->evs[k]);
			if ((int)c->want[k] < 0) {
				CHECK_MSG(r == -EINVAL, "%s: event %u (%s) should be rejected in %s",
					  c->name, k, stage_ev_name(c->evs[k]), stage_name(before));
				CHECK_INT(sm.cur, before);
				CHECK_INT(n.calls, calls);
			} else {
				CHECK_MSG(r == (int)c->want[k], "%s: event %u (%s): got %s, want %s",
					  c->name, k, stage_ev_name(c->evs[k]),
					  r < 0 ? "rejected" : stage_name((enum stage)r),
					  stage_name(c->want[k]));
				/* Every accepted event is narrated as old -> event -> new. */
				CHECK_INT(n.calls, calls + 1);
				CHECK_INT(n.old, before);
				CHECK_INT(n.ev, c->evs[k]);
				CHECK_INT(n.now, sm.cur);
			}
		}
	}
}

static void
test_invariants(void)
{
	for (int s = 0; s < _STAGE_MAX; s++) {
		CHECK_MSG(stage_name((enum stage)s)[0] && strcmp(stage_name((enum stage)s), "invalid"),
			  "stage %d has no name", s);
		bool final = stage_is_final((enum stage)s);
		for (int e = 0; e < _STAGE_EV_MAX; e++) {
			int next = stage_next((enum stage)s, (enum stage_ev)e);
			if (final)
				CHECK_MSG(next < 0, "final stage %s accepts %s", stage_name(s),
					  stage_ev_name(e));
			else
				CHECK_MSG(next < _STAGE_MAX, "bad target from %s", stage_name(s));
		}
		if (!final) {
			/* Every waiting stage can be interrupted and can fail. */
			CHECK_MSG(stage_next(s, STAGE_EV_INTERRUPT) >= 0, "%s ignores interrupt",
				  stage_name(s));
			CHECK_MSG(stage_next(s, STAGE_EV_FATAL) == STAGE_FAILED,
				  "%s: fatal must fail", stage_name(s));
		}
	}
	for (int e = 0; e < _STAGE_EV_MAX; e++)
		CHECK_MSG(strcmp(stage_ev_name((enum stage_ev)e), "invalid") != 0,
			  "event %d has no name", e);
	CHECK_STR(stage_name(_STAGE_MAX), "invalid");
	CHECK_INT(stage_next(_STAGE_MAX, STAGE_EV_START), -1);
	CHECK_INT(stage_next(STAGE_PREFLIGHT, _STAGE_EV_MAX), -1);
	/* Only FINAL_DELIVERED reaches DONE: success needs the final image delivered. */
	for (int s = 0; s < _STAGE_MAX; s++)
		for (int e = 0; e < _STAGE_EV_MAX; e++)
			if (stage_next(s, e) == STAGE_DONE)
				CHECK_MSG(s == STAGE_FINAL_DELIVERED, "%s -> %s -> done", stage_name(s),
					  stage_ev_name(e));
}

static void
test_reachable(void)
{
	bool seen[_STAGE_MAX] = { [STAGE_PREFLIGHT] = true };
	for (int round = 0; round < _STAGE_MAX; round++)
		for (int s = 0; s < _STAGE_MAX; s++)
			for (int e = 0; seen[s] && e < _STAGE_EV_MAX; e++) {
				int n = stage_next(s, e);
				if (n >= 0)
					seen[n] = true;
			}
	for (int s = 0; s < _STAGE_MAX; s++)
		CHECK_MSG(seen[s], "stage %s is unreachable", stage_name(s));
}

int
main(void)
{
	test_paths();
	test_invariants();
	test_reachable();
	return check_done();
}

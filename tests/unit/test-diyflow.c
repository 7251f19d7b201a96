/* Unit tests of src/diyflow.c: the flash sequence, played as scripts (what the device answers
 * -> what we must do next), and the completion verdict (DIY-PROTOCOL.md §3.2, §4.1, §5).
 */
#include "config.h"

#include <string.h>

#include "check.h"
#include "diyflow.h"

#define R(o, e) DIYFLOW_OUT_##o, e, false
#define U(e) DIYFLOW_OUT_REPLY, e, true /* info reply with otaUnlock true */

/* One exchange: the action we expect, whether it carries the deviceid, and the answer. */
struct turn {
	enum diyflow_action want;
	bool with_id;
	enum diyflow_outcome outcome;
	int error;
	bool ota_unlock;
};

struct script {
	const char *name;
	struct diyflow_facts start;
	struct turn turns[10];
	size_t n;
	enum diyflow_action end; /* the action after the last answer */
	const char *diag;        /* substring of the final diagnosis, or NULL */
};

#define A(x) DIYFLOW_ACT_##x

static const struct script scripts[] = {
	{ "unlocked: info -> flash -> serve", { 0 },
	  { { A(INFO), true, U(0) }, { A(FLASH), true, R(REPLY, 0) } }, 2, A(SERVE), NULL },
	{ "locked: info -> unlock -> info -> flash", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(REPLY, 0) },
	    { A(INFO), true, U(0) }, { A(FLASH), true, R(REPLY, 0) } }, 4, A(SERVE), NULL },
	{ "unlock offline: hang", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(TIMEOUT, 0) } }, 2, A(GIVE_UP),
	  "Internet" },
	{ "unlock offline: empty reply", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(RESET, 0) } }, 2, A(GIVE_UP),
	  "Internet" },
	{ "unlock 503", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(REPLY, 503) } }, 2, A(GIVE_UP),
	  "unreachable" },
	{ "unlock does not take", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(REPLY, 0) },
	    { A(INFO), true, R(REPLY, 0) } }, 3, A(GIVE_UP), "stays false" },
	{ "3.7.x drops deviceid on info: retry without", { 0 },
	  { { A(INFO), true, R(RESET, 0) }, { A(INFO), false, U(0) },
	    { A(FLASH), false, R(REPLY, 0) } }, 3, A(SERVE), NULL },
	{ "3.7.x hangs on deviceid", { 0 },
	  { { A(INFO), true, R(TIMEOUT, 0) }, { A(INFO), false, U(0) },
	    { A(FLASH), false, R(REPLY, 0) } }, 3, A(SERVE), NULL },
	{ "MINIR3 422 on deviceid", { 0 },
	  { { A(INFO), true, R(REPLY, 422) }, { A(INFO), false, U(0) } }, 2, A(FLASH), NULL },
	{ "known MINIR3: no key from the start", { .fw = DIY_FW_MINIR3, .omit_deviceid = true },
	  { { A(INFO), false, U(0) } }, 1, A(FLASH), NULL },
	{ "reset without the key too: give up", { 0 },
	  { { A(INFO), true, R(RESET, 0) }, { A(INFO), false, R(RESET, 0) } }, 2, A(GIVE_UP),
	  "with and without" },
	{ "only one retry without the key", { 0 },
	  { { A(INFO), true, R(RESET, 0) }, { A(INFO), false, R(TIMEOUT, 0) } }, 2, A(GIVE_UP),
	  "stopped answering" },
	{ "proven deviceid: a later reset is not the quirk", { 0 },
	  { { A(INFO), true, R(REPLY, 0) }, { A(UNLOCK), true, R(RESET, 0) } }, 2, A(GIVE_UP),
	  "Internet" },
	{ "flash empty reply after proven id: serve (IT#95)", { 0 },
	  { { A(INFO), true, U(0) }, { A(FLASH), true, R(RESET, 0) } }, 2, A(SERVE), "IT#95" },
	{ "flash 403 -> unlock once -> flash", { 0 },
	  { { A(INFO), true, U(0) }, { A(FLASH), true, R(REPLY, 403) },
	    { A(UNLOCK), true, R(REPLY, 0) }, { A(INFO), true, U(0) },
	    { A(FLASH), true, R(REPLY, 0) } }, 5, A(SERVE), NULL },
	{ "flash 403 twice", { 0 },
	  { { A(INFO), true, U(0) }, { A(FLASH), true, R(REPLY, 403) },
	    { A(UNLOCK), true, R(REPLY, 0) }, { A(INFO), true, U(0) },
	    { A(FLASH), true, R(REPLY, 403) } }, 5, A(GIVE_UP), "403" },
	{ "flash 413", { 0 },
	  { { A(INFO), true, U(0) }, { A(FLASH), true, R(REPLY, 413) } }, 2, A(GIVE_UP),
	  "larger" },
	{ "info 401: LAN mode", { 0 }, { { A(INFO), true, R(REPLY, 401) } }, 1, A(GIVE_UP),
	  "LAN mode" },
	{ "info undocumented code", { 0 }, { { A(INFO), true, R(REPLY, 999) } }, 1, A(GIVE_UP),
	  "undocumented" },
	{ "info html", { 0 }, { { A(INFO), true, R(BAD_REPLY, 0) } }, 1, A(GIVE_UP),
	  "not a DIY-mode reply" },
};

static enum diyflow_step
step_of(enum diyflow_action a)
{
	switch (a) {
	case DIYFLOW_ACT_UNLOCK: return DIYFLOW_STEP_UNLOCK;
	case DIYFLOW_ACT_FLASH: return DIYFLOW_STEP_FLASH;
	default: return DIYFLOW_STEP_INFO;
	}
}

static void
test_sequence(void)
{
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		const struct script *s = &scripts[i];
		struct diyflow_facts f = s->start;
		struct diyflow_result last = { .step = DIYFLOW_STEP_NONE };
		struct diyflow_next n = diyflow_next(&f, &last);

		for (size_t t = 0; t < s->n; t++) {
			const struct turn *tu = &s->turns[t];

			CHECK_MSG(n.act == tu->want && n.send_deviceid == tu->with_id,
				  "%s: turn %zu: %s%s, want %s%s", s->name, t,
				  diyflow_action_name(n.act), n.send_deviceid ? "+id" : "",
				  diyflow_action_name(tu->want), tu->with_id ? "+id" : "");
			if (n.act != tu->want)
				break;
			last = (struct diyflow_result){ .step = step_of(n.act),
							.outcome = tu->outcome,
							.error = tu->error,
							.sent_deviceid = n.send_deviceid,
							.ota_unlock = tu->ota_unlock };
			n = diyflow_next(&f, &last);
		}
		CHECK_MSG(n.act == s->end, "%s: ends with %s, want %s", s->name,
			  diyflow_action_name(n.act), diyflow_action_name(s->end));
		if (s->diag)
			CHECK_MSG(n.diagnosis && strstr(n.diagnosis, s->diag), "%s: diagnosis '%s'",
				  s->name, n.diagnosis ? n.diagnosis : "(null)");
		if (n.act == DIYFLOW_ACT_GIVE_UP)
			CHECK_MSG(n.diagnosis != NULL, "%s: give-up without diagnosis", s->name);
	}
}

struct vcase {
	const char *name;
	struct diyflow_progress p;
	enum diyflow_verdict want;
	const char *diag;
};

#define SZ 480000
static const struct vcase vcases[] = {
	{ "all three proofs", { SZ, SZ, true, 0, true, false, 9000, 100, 100 }, DIYFLOW_DONE,
	  "done" },
	{ "no mDNS leave yet", { SZ, SZ, true, 0, false, false, 9000, 100, 100 },
	  DIYFLOW_PENDING, "leave mDNS" },
	{ "never leaves mDNS", { SZ, SZ, true, 0, false, false, 300000, 200000, 130000 },
	  DIYFLOW_FAILED, "still announces" },
	{ "completion error 409", { SZ, SZ, true, 409, true, false, 9000, 100, 100 },
	  DIYFLOW_FAILED, "error 409" },
	{ "completion undocumented error", { SZ, SZ, true, 1, false, false, 9000, 100, 100 },
	  DIYFLOW_FAILED, "undocumented" },
	{ "success but bytes missing", { SZ, SZ - 4096, true, 0, true, false, 9000, 100, 100 },
	  DIYFLOW_FAILED, "only" },
	{ "left mDNS without completion: not done yet",
	  { SZ, SZ, false, 0, true, false, 9000, 100, 0 }, DIYFLOW_PENDING, "completion POST" },
	{ "no completion POST", { SZ, SZ, false, 0, true, false, 300000, 121000, 0 },
	  DIYFLOW_FAILED, "no completion POST" },
	{ "no download", { SZ, 0, false, 0, false, false, 61000, 61000, 0 }, DIYFLOW_FAILED,
	  "no download" },
	{ "download not started yet", { SZ, 0, false, 0, false, false, 1000, 1000, 0 },
	  DIYFLOW_PENDING, "start" },
	{ "stall", { SZ, 40960, false, 0, false, false, 61000, 31000, 0 }, DIYFLOW_FAILED,
	  "stalled" },
	{ "drop", { SZ, 40960, false, 0, false, true, 61000, 31000, 0 }, DIYFLOW_FAILED,
	  "dropped" },
	{ "drop then resumed", { SZ, 81920, false, 0, false, true, 61000, 100, 0 },
	  DIYFLOW_PENDING, "downloading" },
};

static void
test_verdict(void)
{
	for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
		const struct vcase *c = &vcases[i];
		char diag[256] = "";
		enum diyflow_verdict v = diyflow_verdict(&c->p, diag, sizeof(diag));

		CHECK_MSG(v == c->want, "%s: verdict %d, want %d (%s)", c->name, v, c->want, diag);
		CHECK_MSG(strstr(diag, c->diag) && !strchr(diag, '\n'), "%s: diag '%s'", c->name,
			  diag);
	}
}

static void
test_stages(void)
{
	static const struct {
		enum diyflow_action next;
		struct diyflow_progress p;
		bool with_p;
		enum diyflow_stage want;
	} t[] = {
		{ DIYFLOW_ACT_INFO, { 0 }, false, DIYFLOW_STAGE_INFO },
		{ DIYFLOW_ACT_UNLOCK, { 0 }, false, DIYFLOW_STAGE_UNLOCK },
		{ DIYFLOW_ACT_FLASH, { 0 }, false, DIYFLOW_STAGE_FLASH },
		{ DIYFLOW_ACT_GIVE_UP, { 0 }, false, DIYFLOW_STAGE_FAILED },
		{ DIYFLOW_ACT_SERVE, { 0 }, false, DIYFLOW_STAGE_SERVING },
		{ DIYFLOW_ACT_SERVE, { SZ, 4096, false, 0, false, false, 1000, 10, 0 }, true,
		  DIYFLOW_STAGE_SERVING },
		{ DIYFLOW_ACT_SERVE, { SZ, SZ, false, 0, false, false, 1000, 10, 0 }, true,
		  DIYFLOW_STAGE_COMPLETION },
		{ DIYFLOW_ACT_SERVE, { SZ, SZ, true, 0, false, false, 1000, 10, 5 }, true,
		  DIYFLOW_STAGE_LEFT_MDNS },
		{ DIYFLOW_ACT_SERVE, { SZ, SZ, true, 0, true, false, 1000, 10, 5 }, true,
		  DIYFLOW_STAGE_DONE },
		{ DIYFLOW_ACT_SERVE, { SZ, SZ, true, 409, false, false, 1000, 10, 5 }, true,
		  DIYFLOW_STAGE_FAILED },
		{ DIYFLOW_ACT_SERVE, { SZ, 0, false, 0, false, false, 61000, 61000, 0 }, true,
		  DIYFLOW_STAGE_FAILED },
	};
	static const char *const names[] = { "discover", "info", "unlock", "flash",
					     "serving-image", "completion-post", "left-mdns",
					     "done", "failed" };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum diyflow_stage st = diyflow_stage_of(t[i].next, t[i].with_p ? &t[i].p : NULL);

		CHECK_MSG(st == t[i].want, "stage row %zu: %s, want %s", i, diyflow_stage_name(st),
			  diyflow_stage_name(t[i].want));
	}
	for (int st = 0; st < _DIYFLOW_STAGE_MAX; st++) {
		CHECK_STR(diyflow_stage_name((enum diyflow_stage)st), names[st]);
		CHECK_MSG((diyflow_stage_limit_ms((enum diyflow_stage)st) > 0) ==
				  (st != DIYFLOW_STAGE_DONE && st != DIYFLOW_STAGE_FAILED),
			  "limit of %s", names[st]);
	}
	CHECK_INT(diyflow_stage_limit_ms(DIYFLOW_STAGE_UNLOCK), DIYFLOW_UNLOCK_MS);
	CHECK_STR(diyflow_stage_name(_DIYFLOW_STAGE_MAX), "unknown");
}

int
main(void)
{
	test_sequence();
	test_verdict();
	test_stages();
	return check_done();
}

/* diyflow: see diyflow.h. The sequence follows DIY-PROTOCOL.md §10 (info -> unlock only when
 * needed -> flash -> wait for the download and the completion POST); the deviceid retry is
 * §3.2's "safe rule"; the proofs of completion are §5.5 and §5.7.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "diyflow.h"
#include "util.h"

const char *
diyflow_action_name(enum diyflow_action a)
{
	switch (a) {
	case DIYFLOW_ACT_INFO: return "info";
	case DIYFLOW_ACT_UNLOCK: return "unlock";
	case DIYFLOW_ACT_FLASH: return "flash";
	case DIYFLOW_ACT_SERVE: return "serve";
	case DIYFLOW_ACT_GIVE_UP: return "give-up";
	}
	return "unknown";
}

static struct diyflow_next
act(const struct diyflow_facts *f, enum diyflow_action a, const char *diagnosis)
{
	struct diyflow_next n = { .act = a, .send_deviceid = !f->omit_deviceid,
				  .diagnosis = diagnosis };
	return n;
}

static enum diyflow_action
repeat(enum diyflow_step s)
{
	switch (s) {
	case DIYFLOW_STEP_UNLOCK: return DIYFLOW_ACT_UNLOCK;
	case DIYFLOW_STEP_FLASH: return DIYFLOW_ACT_FLASH;
	default: return DIYFLOW_ACT_INFO;
	}
}

/* A non-zero API code: its table text, or a generic line for a code nobody documented. */
static const char *
api_text(int code)
{
	const char *t = diy_error_text(DIY_ERR_API, code);

	return t ? t : "the device answered an undocumented error code";
}

/* Contract: see diyflow.h. Order: first the deviceid quirk (it can disguise itself as any
 * failure of any step), then the step's own outcome. */
struct diyflow_next
diyflow_next(struct diyflow_facts *f, const struct diyflow_result *last)
{
	bool ok = last->outcome == DIYFLOW_OUT_REPLY && last->error == 0;

	if (last->step == DIYFLOW_STEP_NONE || last->step >= _DIYFLOW_STEP_MAX)
		return act(f, DIYFLOW_ACT_INFO, NULL);

	if (last->outcome == DIYFLOW_OUT_REPLY)
		f->deviceid_proven =
		    f->deviceid_proven || last->error != 422 || !last->sent_deviceid;

	/* §3.2: 3.7.x drops requests whose deviceid it dislikes (reset, empty reply, hang);
	 * MINIR3 answers 422 or hangs. Before any reply proved the key harmless, retry once
	 * without it. */
	if (last->sent_deviceid && !f->deviceid_proven && !f->omit_deviceid &&
	    (last->outcome == DIYFLOW_OUT_RESET || last->outcome == DIYFLOW_OUT_TIMEOUT ||
	     (last->outcome == DIYFLOW_OUT_REPLY && last->error == 422))) {
		f->omit_deviceid = true;
		return act(f, repeat(last->step),
			   "the device dropped a request carrying its deviceid (3.7.x / MINIR3 "
			   "behaviour): retrying without the key");
	}

	switch (last->step) {
	case DIYFLOW_STEP_INFO:
		if (ok) {
			f->infos++;
			if (last->ota_unlock)
				return act(f, DIYFLOW_ACT_FLASH, NULL);
			if (f->unlocks > 0)
				return act(
				    f, DIYFLOW_ACT_GIVE_UP,
				    "ota_unlock answered 0 but otaUnlock stays false: the "
				    "unlock server did not confirm; check the device's Internet "
				    "access and retry later");
			return act(f, DIYFLOW_ACT_UNLOCK, NULL);
		}
		break;
	case DIYFLOW_STEP_UNLOCK:
		if (ok) {
			f->unlocks++;
			return act(f, DIYFLOW_ACT_INFO, NULL);
		}
		if (last->outcome == DIYFLOW_OUT_RESET || last->outcome == DIYFLOW_OUT_TIMEOUT)
			return act(
			    f, DIYFLOW_ACT_GIVE_UP,
			    "ota_unlock got no answer: the device needs Internet access to "
			    "reach ITEAD's unlock server (apid.coolkit.cn, plain HTTP); give "
			    "its WiFi Internet access and run again");
		break;
	case DIYFLOW_STEP_FLASH:
		if (ok)
			return act(f, DIYFLOW_ACT_SERVE, NULL);
		if (last->outcome == DIYFLOW_OUT_REPLY && last->error == 403) {
			f->flash_403++;
			if (f->flash_403 == 1 && f->unlocks < DIYFLOW_UNLOCKS_MAX)
				return act(f, DIYFLOW_ACT_UNLOCK, NULL);
			return act(f, DIYFLOW_ACT_GIVE_UP,
				   "ota_flash still answers 403 (OTA locked) after ota_unlock: the "
				   "device's unlock does not take");
		}
		if (last->outcome == DIYFLOW_OUT_RESET || last->outcome == DIYFLOW_OUT_TIMEOUT)
			return act(f, DIYFLOW_ACT_SERVE,
				   "ota_flash got no answer; some devices flash anyway (IT#95): "
				   "waiting to see whether it downloads");
		break;
	default:
		break;
	}

	switch (last->outcome) {
	case DIYFLOW_OUT_REPLY:
		return act(f, DIYFLOW_ACT_GIVE_UP, api_text(last->error));
	case DIYFLOW_OUT_BAD_REPLY:
		return act(f, DIYFLOW_ACT_GIVE_UP,
			   "the device's answer is not a DIY-mode reply: it runs another firmware "
			   "or is in eWeLink LAN mode");
	case DIYFLOW_OUT_RESET:
		return act(f, DIYFLOW_ACT_GIVE_UP,
			   f->omit_deviceid ? "the device drops our requests with and without "
					      "deviceid: is another client talking to it?"
					    : "the device closed the connection without answering: "
					      "is another client talking to it (one at a time)?");
	case DIYFLOW_OUT_TIMEOUT:
	default:
		return act(f, DIYFLOW_ACT_GIVE_UP,
			   "the device stopped answering on port 8081: it left the network or "
			   "DIY mode");
	}
}

enum diyflow_verdict
diyflow_verdict(const struct diyflow_progress *p, char *diag, size_t diaglen)
{
	uint64_t pct = p->image_size ? p->acked * 100 / p->image_size : 0;

	if (p->completion_seen) {
		const char *t;

		if (p->completion_error != 0) {
			t = diy_error_text(DIY_ERR_COMPLETION, p->completion_error);
			util_seterr(diag, diaglen, "the device reported error %d after the "
				    "download: %s", p->completion_error,
				    t ? t : "undocumented code; it stays on its firmware");
			return DIYFLOW_FAILED;
		}
		if (p->acked < p->image_size) {
			util_seterr(diag, diaglen,
			            "the device reported success but only %" PRIu64 " of %" PRIu64
			            " bytes reached it from us: it flashed something "
			            "else, not called done",
			            p->acked, p->image_size);
			return DIYFLOW_FAILED;
		}
		if (p->left_mdns) {
			util_seterr(diag, diaglen,
			            "done: %" PRIu64 " bytes acknowledged, completion "
			            "error 0, the device left DIY mode",
			            p->image_size);
			return DIYFLOW_DONE;
		}
		if (p->ms_since_complete > DIYFLOW_LEAVE_MDNS_MS) {
			util_seterr(diag, diaglen,
			            "the device reported success but still announces "
			            "DIY mode after %" PRId64 " s: it did not reboot into the new "
			            "firmware; leave it powered and check it",
			            p->ms_since_complete / 1000);
			return DIYFLOW_FAILED;
		}
		util_seterr(diag, diaglen, "completion error 0 received, waiting for the device to "
			    "leave mDNS");
		return DIYFLOW_PENDING;
	}

	if (p->acked == 0) {
		if (p->ms_since_flash > DIYFLOW_DOWNLOAD_START_MS) {
			util_seterr(
			    diag, diaglen,
			    "no download within %d s of ota_flash: the device "
			    "cannot reach our image server (firewall, other subnet) or ignored "
			    "the URL",
			    DIYFLOW_DOWNLOAD_START_MS / 1000);
			return DIYFLOW_FAILED;
		}
		util_seterr(diag, diaglen, "waiting for the device to start downloading");
		return DIYFLOW_PENDING;
	}
	if (p->acked < p->image_size) {
		if (p->ms_since_progress > DIYFLOW_STALL_MS) {
			util_seterr(diag, diaglen,
			            "download %s at %" PRIu64 " of %" PRIu64 " bytes "
			            "(%" PRIu64 "%%) for %d s: %s",
			            p->dropped ? "dropped" : "stalled", p->acked, p->image_size,
			            pct, DIYFLOW_STALL_MS / 1000,
			            p->dropped
			                ? "the device lost its connection; it stays on its "
			                  "firmware, run again"
			                : "WiFi trouble; leave the device powered and run again");
			return DIYFLOW_FAILED;
		}
		util_seterr(diag, diaglen, "downloading: %" PRIu64 " of %" PRIu64 " bytes",
		            p->acked, p->image_size);
		return DIYFLOW_PENDING;
	}
	if (p->ms_since_progress > DIYFLOW_COMPLETION_MS) {
		util_seterr(diag, diaglen,
		            "every byte delivered but no completion POST within %d s%s: "
		            "the result is unknown, not called done",
		            DIYFLOW_COMPLETION_MS / 1000,
		            p->left_mdns ? " (the device left mDNS)" : "");
		return DIYFLOW_FAILED;
	}
	util_seterr(diag, diaglen,
	            "every byte delivered, waiting for the device's completion POST");
	return DIYFLOW_PENDING;
}

const char *
diyflow_stage_name(enum diyflow_stage st)
{
	static const char *const names[_DIYFLOW_STAGE_MAX] = {
		[DIYFLOW_STAGE_DISCOVER] = "discover",
		[DIYFLOW_STAGE_INFO] = "info",
		[DIYFLOW_STAGE_UNLOCK] = "unlock",
		[DIYFLOW_STAGE_FLASH] = "flash",
		[DIYFLOW_STAGE_SERVING] = "serving-image",
		[DIYFLOW_STAGE_COMPLETION] = "completion-post",
		[DIYFLOW_STAGE_LEFT_MDNS] = "left-mdns",
		[DIYFLOW_STAGE_DONE] = "done",
		[DIYFLOW_STAGE_FAILED] = "failed",
	};

	return (unsigned)st < _DIYFLOW_STAGE_MAX ? names[st] : "unknown";
}

int64_t
diyflow_stage_limit_ms(enum diyflow_stage st)
{
	switch (st) {
	case DIYFLOW_STAGE_DISCOVER: return DIYFLOW_DISCOVER_MS;
	case DIYFLOW_STAGE_INFO: return DIYFLOW_INFO_MS;
	case DIYFLOW_STAGE_UNLOCK: return DIYFLOW_UNLOCK_MS;
	case DIYFLOW_STAGE_FLASH: return DIYFLOW_FLASH_MS;
	case DIYFLOW_STAGE_SERVING: return DIYFLOW_STALL_MS;
	case DIYFLOW_STAGE_COMPLETION: return DIYFLOW_COMPLETION_MS;
	case DIYFLOW_STAGE_LEFT_MDNS: return DIYFLOW_LEAVE_MDNS_MS;
	default: return 0;
	}
}

enum diyflow_stage
diyflow_stage_of(enum diyflow_action next, const struct diyflow_progress *p)
{
	char diag[8];

	switch (next) {
	case DIYFLOW_ACT_INFO: return DIYFLOW_STAGE_INFO;
	case DIYFLOW_ACT_UNLOCK: return DIYFLOW_STAGE_UNLOCK;
	case DIYFLOW_ACT_FLASH: return DIYFLOW_STAGE_FLASH;
	case DIYFLOW_ACT_GIVE_UP: return DIYFLOW_STAGE_FAILED;
	case DIYFLOW_ACT_SERVE: break;
	}
	if (!p)
		return DIYFLOW_STAGE_SERVING;
	switch (diyflow_verdict(p, diag, sizeof(diag))) {
	case DIYFLOW_DONE: return DIYFLOW_STAGE_DONE;
	case DIYFLOW_FAILED: return DIYFLOW_STAGE_FAILED;
	case DIYFLOW_PENDING: break;
	}
	if (p->completion_seen)
		return DIYFLOW_STAGE_LEFT_MDNS; /* error 0: a non-zero code is FAILED above */
	if (p->image_size && p->acked >= p->image_size)
		return DIYFLOW_STAGE_COMPLETION;
	return DIYFLOW_STAGE_SERVING;
}

/* route-cloud-text: the texts of the cloud route (route-cloud.h): instructions,
 * diagnoses at the limits and notes of rows, apart from the tables to keep
 * route-cloud.c short (route-cloud-int.h declares them). Pure. */
#include "config.h"

#include <stdio.h>

#include "route-cloud-int.h"

#define F(ctx) RC_F(ctx)

static const char *
ssid(const struct route_cloud_facts *f)
{
	return f->ssid ? f->ssid : "your home WiFi";
}

bool
route_cloud_no_call_text(const struct route_cloud_facts *f, bool expired, char *buf, size_t len)
{
	char when[64];
	if (expired)
		snprintf(when, sizeof(when), "within %u s (--call-timeout)", f->call_timeout_s);
	else
		snprintf(when, sizeof(when), "yet");
	snprintf(buf, len,
		 "The device took the WiFi settings and left its WiFi, but has not called %s:%u %s. "
		 "Likely causes, most likely first: 1) a wrong WiFi password; 2) a wrong SSID "
		 "(\"%s\", case matters); 3) a 5 GHz-only network (the device needs 2.4 GHz); "
		 "4) client isolation on the router (WiFi clients cannot reach each other); "
		 "5) a firewall on this computer blocking TCP port %u (HTTPS). What to do: fix "
		 "the cause, put the device in pairing mode again (hold its button ~7 s), then "
		 "rerun sonota-c.",
		 f->serving_host ? f->serving_host : "this computer", f->https_port, when, ssid(f),
		 f->https_port);
	return true;
}

bool
rc_t_wait_ap(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "NOW: hold the device's button for about 7 seconds until its LED "
			   "blinks fast (some firmware needs a second long press)%s",
		 F(c)->hops_auto ? "; sonota-c joins its WiFi \"ITEAD-<id>\" itself."
				 : ", then join this computer to the WiFi \"ITEAD-<id>\", "
				   "password 12345678.");
	return true;
}

bool
rc_x_wait_ap(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "This computer did not join the device's WiFi \"ITEAD-<id>\" within "
			   "%u s (--wait-timeout). Put the device in pairing mode (hold its button "
			   "~7 s), then rerun sonota-c%s.",
		 F(c)->wait_timeout_s, F(c)->hops_auto ? " (no ITEAD-<id> WiFi was in range, or "
			   "NetworkManager could not join it: the lines above say which)"
			   : " and join ITEAD-<id> when told");
	return true;
}

bool
rc_t_prov(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Talking to the device at 10.10.7.1%s",
		 F(c)->hops_auto ? " over its ITEAD-<id> WiFi." : ": keep this computer on its "
								  "ITEAD-<id> WiFi.");
	return true;
}

bool
rc_x_prov(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Provisioning did not finish within %u s (--wait-timeout). Put the "
			   "device in pairing mode again, then rerun sonota-c.",
		 F(c)->wait_timeout_s);
	return true;
}

bool
rc_t_posted(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device did not answer POST /ap; waiting up to %d s for its WiFi "
			   "to go away (then it took the settings).", ROUTE_NO_REPLY_WAIT_S);
	return true;
}

bool
rc_x_posted_retry(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "No reply to POST /ap and the device's WiFi is still up after %d s: "
			   "it did not take the settings. Provisioning again (run %u of %d).",
		 ROUTE_NO_REPLY_WAIT_S, F(c)->prov_runs + 1, ROUTE_PROV_RUNS_MAX);
	return true;
}

bool
rc_x_posted_fail(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device never answered POST /ap and kept its WiFi up after %d "
			   "runs: it does not take the settings. Check that it is a Sonoff in "
			   "pairing mode (stock firmware 1.x-2.x), put it in pairing mode again, then "
			   "rerun sonota-c; see the debug log for each attempt.",
		 ROUTE_PROV_RUNS_MAX);
	return true;
}

bool
rc_x_prov_fail(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "Provisioning failed %d times while the device's WiFi stayed up (see "
			   "the lines above for why). Put the device in pairing mode again, then "
			   "rerun sonota-c.", ROUTE_PROV_RUNS_MAX);
	return true;
}

bool
rc_t_pause(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Provisioning again in %d s%s.", ROUTE_PROV_RETRY_S,
		 F(c)->hops_auto ? "" : "; keep this computer on ITEAD-<id>");
	return true;
}

bool
rc_n_ap_early(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device's WiFi went away before it was provisioned (its AP closes "
			   "after a few minutes). Long-press the button again.");
	return true;
}

bool
rc_n_posted_gone(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device's WiFi went away after the unanswered POST /ap: it took "
			   "the settings.");
	return true;
}

bool
rc_t_wait_home(const void *c, char *buf, size_t len)
{
	if (F(c)->hops_auto)
		snprintf(buf, len, "sonota-c takes this computer back to \"%s\" itself (to get %s "
				   "again); the device joins it by itself too.", ssid(F(c)),
			 F(c)->serving_host ? F(c)->serving_host : "its address");
	else
		snprintf(buf, len, "NOW: reconnect this computer to \"%s\" so that it has %s "
				   "again. The device joins it by itself.", ssid(F(c)),
			 F(c)->serving_host ? F(c)->serving_host : "its address");
	return true;
}

bool
rc_x_wait_home(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "This computer did not get %s back within %u s (--wait-timeout): it "
			   "must rejoin \"%s\" for the device to reach it. Rerun sonota-c once it "
			   "has (with --no-prov if the device already left its pairing WiFi).",
		 F(c)->serving_host ? F(c)->serving_host : "its home address",
		 F(c)->wait_timeout_s, ssid(F(c)));
	return true;
}

bool
rc_t_wait_call(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Waiting for the device to call %s:%u (it does within a minute of "
			   "joining \"%s\"). Keep this computer on that network.",
		 F(c)->serving_host ? F(c)->serving_host : "this computer", F(c)->https_port,
		 ssid(F(c)));
	return true;
}

bool
rc_no_call_notice(const void *c, char *buf, size_t len)
{
	return route_cloud_no_call_text(F(c), false, buf, len);
}

bool
rc_x_wait_call(const void *c, char *buf, size_t len)
{
	if (F(c)->provisioned)
		return route_cloud_no_call_text(F(c), true, buf, len);
	snprintf(buf, len, "No device called %s:%u within %u s (--wait-timeout). Check that the "
			   "device is on \"%s\" (power-cycle it), that no firewall blocks TCP port "
			   "%u, then rerun sonota-c.",
		 F(c)->serving_host ? F(c)->serving_host : "this computer", F(c)->https_port,
		 F(c)->wait_timeout_s, ssid(F(c)), F(c)->https_port);
	return true;
}

bool
rc_t_serving(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Serving the emulated cloud (%u device%s seen). Keep this computer on "
			   "\"%s\".", F(c)->devices, F(c)->devices == 1 ? "" : "s", ssid(F(c)));
	return true;
}

bool
rc_x_serving(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "No device finished its stock upgrade within %u s (--wait-timeout); "
			   "the summary below says where each device stopped.",
		 F(c)->wait_timeout_s);
	return true;
}

bool
rc_t_final(const void *c, char *buf, size_t len)
{
	if (F(c)->have_final)
		snprintf(buf, len, "On FinalStage as 192.168.4.2: waiting for the device to "
				   "download %s.",
			 F(c)->user2_delivered ? "image_arduino.bin" : "its images (1 or 2 files)");
	else if (F(c)->hops_auto)
		snprintf(buf, len, "Waiting for the device's open WiFi \"FinalStage\" (10-20 s "
				   "after it reboots): sonota-c joins it itself. Make sure nothing "
				   "else (a phone...) joins it first: this computer must get "
				   "192.168.4.2.");
	else
		snprintf(buf, len, "NOW: join this computer to the open WiFi \"FinalStage\" once it "
				   "appears (10-20 s after the device reboots). Make sure nothing else "
				   "(a phone...) joins it first: this computer must get 192.168.4.2, "
				   "and no firewall may block port %u.", F(c)->http_port);
	return true;
}

bool
rc_x_final(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "image_arduino.bin was not delivered on FinalStage within %u s "
			   "(--wait-timeout). If FinalStage is still up, rerun sonota-c with "
			   "--no-prov and join it; if it stays up for minutes without a download, "
			   "only serial flashing helps (README, Troubleshooting).",
		 F(c)->wait_timeout_s);
	return true;
}

bool
rc_t_delivered(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "The device writes the final firmware and restarts; waiting up to %u s "
			   "for FinalStage to go away.", F(c)->done_timeout_s);
	return true;
}

bool
rc_n_join_failed(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "NetworkManager could not join the device's WiFi ITEAD-%s: %s. "
			   "Check that it is a Sonoff in pairing mode (hold its button ~7 s); if "
			   "its pairing WiFi has another password, rerun with --wifi manual and "
			   "join it by hand.",
		 F(c)->itead_deviceid[0] ? F(c)->itead_deviceid : "<id>",
		 F(c)->join_failure[0] ? F(c)->join_failure : "it refused the password");
	return true;
}

bool
rc_n_interrupt(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "Interrupted before the final image was delivered: the device is NOT "
			   "done.");
	return true;
}

/* route-diy-pair: --pair, the stages before discover (issue 11 item 2); see
 * route-diy-int.h and route-diy.h. The rules and texts follow route 1's stage 1
 * (route-cloud.c), with the button sequence of the 3.5+ compatible-pairing AP
 * (DIY-PROTOCOL.md §1.2). Pure. */
#include "config.h"

#include <stdio.h>

#include "dnssd.h"
#include "route-diy-int.h"

#define P(ctx) (&RDIY_F(ctx)->pair)

/* ---- guards ------------------------------------------------------------------------ */

bool
rdp_g_pair(const void *c)
{
	return P(c)->on;
}

bool
rdp_g_ap_here(const void *c)
{
	return P(c)->have_ap;
}

bool
rdp_g_ap_gone(const void *c)
{
	return !P(c)->have_ap;
}

bool
rdp_g_runs_left(const void *c)
{
	return P(c)->runs < RDIY_PROV_RUNS_MAX;
}

bool
rdp_g_ap_here_runs_left(const void *c)
{
	return rdp_g_ap_here(c) && rdp_g_runs_left(c);
}

bool
rdp_g_post_sent(const void *c)
{
	return P(c)->post_sent || P(c)->posted_unanswered;
}

bool
rdp_g_home_back(const void *c)
{
	return P(c)->have_home && !P(c)->have_ap;
}

/* ---- limits -------------------------------------------------------------------------- */

unsigned
rdp_l_wait(const void *c)
{
	return P(c)->wait_timeout_s;
}

unsigned
rdp_l_no_reply(const void *c)
{
	(void)c;
	return RDIY_NO_REPLY_WAIT_S;
}

unsigned
rdp_l_retry(const void *c)
{
	(void)c;
	return RDIY_PROV_RETRY_S;
}

/* ---- texts --------------------------------------------------------------------------- */

static const char *
ssid(const void *c)
{
	return P(c)->ssid ? P(c)->ssid : "your home WiFi";
}

static const char *
pid(const void *c)
{
	return P(c)->deviceid[0] ? P(c)->deviceid : "the device";
}

bool
rdp_t_wait_ap(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "NOW: hold the device's button 5 s until its LED blinks, then 5 s more "
			   "until it blinks fast (compatible pairing, firmware 3.5+)%s",
		 P(c)->hops_auto ? "; sonota-c joins its WiFi \"ITEAD-<id>\" itself."
				 : "; then join this computer to the WiFi \"ITEAD-<id>\", "
				   "password 12345678.");
	return true;
}

bool
rdp_x_wait_ap(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "This computer did not join the device's WiFi \"ITEAD-<id>\" within "
			   "%u s (--wait-timeout). Hold the button 5 s until the LED blinks, then 5 s "
			   "more until it blinks fast, then rerun sonota-c and join ITEAD-<id> "
			   "(password 12345678) when told.", P(c)->wait_timeout_s);
	return true;
}

bool
rdp_t_prov(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Giving the device at 10.10.7.1 your WiFi%s",
		 P(c)->hops_auto ? " over its ITEAD-<id> WiFi."
				 : ": keep this computer on its ITEAD-<id> WiFi.");
	return true;
}

bool
rdp_x_prov(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Provisioning did not finish within %u s (--wait-timeout). Put the "
			   "device in compatible pairing mode again (button 5 s, then 5 s more), "
			   "then rerun sonota-c.", P(c)->wait_timeout_s);
	return true;
}

bool
rdp_t_posted(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device did not answer POST /ap; waiting up to %d s for its WiFi "
			   "to go away (then it took the settings).", RDIY_NO_REPLY_WAIT_S);
	return true;
}

bool
rdp_x_posted_retry(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "No reply to POST /ap and the device's WiFi is still up after %d s: "
			   "it did not take the settings. Provisioning again (run %u of %d).",
		 RDIY_NO_REPLY_WAIT_S, P(c)->runs + 1, RDIY_PROV_RUNS_MAX);
	return true;
}

bool
rdp_x_posted_fail(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device never answered POST /ap and kept its WiFi up after %d "
			   "runs: it does not take the settings this way. Give it your WiFi in a "
			   "browser at http://10.10.7.1/ instead, then rerun sonota-c --diy without "
			   "--pair.", RDIY_PROV_RUNS_MAX);
	return true;
}

bool
rdp_x_prov_fail(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "Provisioning failed %d times while the device's WiFi stayed up (see "
			   "the lines above for why). Put the device in compatible pairing mode "
			   "again (button 5 s, then 5 s more), then rerun sonota-c.",
		 RDIY_PROV_RUNS_MAX);
	return true;
}

bool
rdp_t_pause(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "Provisioning again in %d s%s.", RDIY_PROV_RETRY_S,
		 P(c)->hops_auto ? "" : "; keep this computer on ITEAD-<id>");
	return true;
}

bool
rdp_n_ap_early(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device's WiFi went away before it was provisioned (its AP closes "
			   "after a few minutes). Hold the button 5 s, then 5 s more, again.");
	return true;
}

bool
rdp_n_posted_gone(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "The device's WiFi went away after the unanswered POST /ap: it took "
			   "the settings.");
	return true;
}

bool
rdp_t_wait_home(const void *c, char *buf, size_t len)
{
	if (P(c)->hops_auto)
		snprintf(buf, len, "sonota-c takes this computer back to \"%s\" itself; %s joins "
				   "it by itself, and sonota-c then looks for it over mDNS.", ssid(c),
			 pid(c));
	else
		snprintf(buf, len, "NOW: reconnect this computer to \"%s\". %s joins it by "
				   "itself; sonota-c then looks for it over mDNS.", ssid(c), pid(c));
	return true;
}

bool
rdp_x_wait_home(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "This computer did not get back to \"%s\" (an address off the "
			   "device's 10.10.7.x) within %u s (--wait-timeout). %s has your WiFi: "
			   "rerun sonota-c --diy (without --pair) once this computer is home.",
		 ssid(c), P(c)->wait_timeout_s, pid(c));
	return true;
}

bool
rdp_x_discover(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s did not announce itself on \"%s\" within %d s of this computer's "
			   "return: a wrong WiFi password (it gives up after 20 s: hold the button "
			   "5 s, then 5 s more, and rerun), this computer on another network than "
			   "\"%s\", or mDNS (UDP 5353) blocked; if it is on the WiFi, rerun with "
			   "--diy --device-ip IP (its address in your router's list)",
		 pid(c), ssid(c), DIYFLOW_DISCOVER_MS / 1000, ssid(c));
	return true;
}

bool
rdp_n_lan_mode(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s joined \"%s\" in eWeLink LAN mode, not DIY mode (POST /ap on "
			   "this firmware does not give DIY mode); nothing was flashed: "
			   DNSSD_LAN_MODE_TODO "; then rerun sonota-c --diy without --pair",
		 pid(c), ssid(c));
	return true;
}

/* ---- actions ------------------------------------------------------------------------- */

void
rdp_a_prov_enter(void *c, int from, int ev, int to)
{
	struct route_diy *r = RDIY_R(c);

	(void)from, (void)ev, (void)to;
	r->f.pair.runs++;
	r->f.pair.post_sent = false;
	if (r->ops->prov_start)
		r->ops->prov_start(r->arg);
}

void
rdp_a_prov_exit(void *c, int from, int ev, int to)
{
	struct route_diy *r = RDIY_R(c);

	(void)from, (void)ev, (void)to;
	if (r->ops->prov_stop)
		r->ops->prov_stop(r->arg);
}

void
rdp_a_posted(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	RDIY_R(c)->f.pair.posted_unanswered = true;
}

void
rdp_a_provisioned(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	RDIY_R(c)->f.pair.provisioned = true;
}

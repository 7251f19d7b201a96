/* route-cloud-drawer: the --all part of the cloud route (route-cloud-int.h);
 * docs/stage-machine.md "next-device". Pure. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "route-cloud-int.h"

/* drawer.h's outcomes, as route_cloud_ops.device_end takes them */
enum { RC_DEV_DONE = 0, RC_DEV_FAILED = 1, RC_DEV_INTERRUPTED = 2 };

static bool
in_progress(const struct route_cloud_facts *f)
{
	return f->dev_started || f->drawer_open > 0;
}

bool
rc_g_stage2_busy(const void *c)
{
	return RC_F(c)->drawer && RC_F(c)->drawer_stage2 > 0;
}

bool
rc_g_final_ready(const void *c)
{
	return RC_F(c)->drawer && !RC_F(c)->drawer_stage2 && RC_F(c)->drawer_final_waiting;
}

bool
rc_g_final_waiting(const void *c)
{
	return RC_F(c)->drawer && RC_F(c)->drawer_final_waiting > 0;
}

bool
rc_g_ap_gone_drawer(const void *c)
{
	return RC_F(c)->drawer && !RC_F(c)->have_ap && !RC_F(c)->no_check_ip;
}

bool
rc_g_post_sent_drawer(const void *c)
{
	return RC_F(c)->drawer && (RC_F(c)->post_sent || RC_F(c)->posted_unanswered);
}

unsigned
rc_l_look(const void *c)
{
	(void)c;
	return ROUTE_DRAWER_LOOK_S;
}

bool
rc_t_look(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "The device took the WiFi settings. Another device in pairing mode? "
			   "sonota-c looks for another ITEAD-<id> WiFi for %u s, so that the "
			   "devices go through the emulated cloud together; then it goes back "
			   "to \"%s\".", rc_l_look(c),
		 RC_F(c)->ssid ? RC_F(c)->ssid : "your home WiFi");
	return true;
}

bool
rc_n_wait_others(const void *c, char *buf, size_t len)
{
	unsigned n = RC_F(c)->drawer_stage2;
	snprintf(buf, len, "A device finished stage 2; its FinalStage waits until the other %u "
			   "device%s in stage 2 finish%s too (this computer stays on the home "
			   "WiFi meanwhile).", n, n == 1 ? "" : "s", n == 1 ? "es" : "");
	return true;
}

void
rc_a_look(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	struct route_cloud *r = RC_R(c);
	r->f.provisioned = true;
	if (r->ops->device_provisioned)
		r->ops->device_provisioned(r->arg);
	r->f.dev_started = false;
	r->f.prov_runs = 0;
	r->f.post_sent = false;
	r->f.posted_unanswered = false;
}

void
rc_a_final(void *c, int from, int ev, int to)
{
	(void)from, (void)ev, (void)to;
	struct route_cloud *r = RC_R(c);
	if (r->f.drawer && r->ops->final_begin)
		r->ops->final_begin(r->arg);
}

bool
rc_g_drawer(const void *c)
{
	return RC_F(c)->drawer;
}

bool
rc_g_drawer_dev(const void *c)
{
	return RC_F(c)->drawer && in_progress(RC_F(c));
}

bool
rc_g_drawer_all_done(const void *c)
{
	return RC_F(c)->drawer && RC_F(c)->drawer_all_done;
}

unsigned
rc_l_next(const void *c)
{
	unsigned w = RC_F(c)->wait_timeout_s;
	return w && w < ROUTE_DRAWER_NEXT_S ? w : ROUTE_DRAWER_NEXT_S;
}

bool
rc_t_next(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "NOW: the next device: hold its button for about 7 seconds until its "
			   "LED blinks fast; sonota-c looks for another ITEAD-<id> WiFi for up to "
			   "%u s (devices taken over in this run are skipped). Ctrl-C ends the run.",
		 rc_l_next(c));
	return true;
}

bool
rc_n_next_done(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "No other ITEAD-<id> WiFi within %u s: every device taken over in "
			   "this run is done.", rc_l_next(c));
	return true;
}

bool
rc_n_next_failed(const void *c, char *buf, size_t len)
{
	snprintf(buf, len, "No other ITEAD-<id> WiFi within %u s; not every device taken over "
			   "in this run is done (the summary says which, and why).",
		 rc_l_next(c));
	return true;
}

bool
rc_n_stopped_done(const void *c, char *buf, size_t len)
{
	(void)c;
	snprintf(buf, len, "Stopped while looking for the next device: every device taken over "
			   "in this run is done.");
	return true;
}

/* The text that explains why the device ended on (from, ev): the note of the row
 * taken, else the expiry of the stage left on its limit. */
static void
why_text(void *c, int from, int ev, char *buf, size_t len)
{
	const struct engine_row *row = engine_match(&route_cloud, from, ev, c);
	buf[0] = 0;
	if (row && row->note)
		row->note(c, buf, len);
	else if (ev == ROUTE_EV_TIMEOUT && route_cloud.stages[from].expiry)
		route_cloud.stages[from].expiry(c, buf, len);
	if (!buf[0])
		snprintf(buf, len, "ended in %s on %s", engine_stage_name(&route_cloud, from),
			 engine_event_name(&route_cloud, ev));
}

static void
reset_device(struct route_cloud_facts *f)
{
	f->prov_runs = 0;
	f->post_sent = false;
	f->posted_unanswered = false;
	f->provisioned = false;
	f->user2_delivered = false;
	f->final_inflight = 0;
	f->dev_started = false;
	f->devices_before = f->devices;
	memset(f->itead_bssid, 0, sizeof(f->itead_bssid));
	f->itead_deviceid[0] = '\0';
}

void
rc_a_next(void *c, int from, int ev, int to)
{
	(void)to;
	struct route_cloud *r = RC_R(c);
	char why[ENGINE_TEXT_MAX];
	bool done = from == ROUTE_FINAL_DELIVERED;
	if (!done)
		why_text(c, from, ev, why, sizeof(why));
	int which = from == ROUTE_FINAL_DELIVERED || from == ROUTE_FINALSTAGE ? ROUTE_END_FINAL
		    : from == ROUTE_WAIT_CALL || from == ROUTE_SERVING   ? ROUTE_END_STAGE2
									   : ROUTE_END_CURRENT;
	if (r->ops->device_end && (which != ROUTE_END_CURRENT || r->f.dev_started))
		r->ops->device_end(r->arg, which, done ? RC_DEV_DONE : RC_DEV_FAILED,
				   done ? NULL : why);
	reset_device(&r->f);
}

void
rc_drawer_terminal(void *c, int from, int ev, bool success)
{
	struct route_cloud *r = RC_R(c);
	if (!r->f.drawer || !in_progress(&r->f) ||
	    !r->ops->device_end)
		return;
	char why[ENGINE_TEXT_MAX] = "";
	if (success && from == ROUTE_FINAL_DELIVERED)
		r->ops->device_end(r->arg, ROUTE_END_FINAL, RC_DEV_DONE, NULL);
	if (ev == ROUTE_EV_INTERRUPT) {
		r->ops->device_end(r->arg, ROUTE_END_ALL, RC_DEV_INTERRUPTED, NULL);
	} else {
		why_text(c, from, ev, why, sizeof(why));
		r->ops->device_end(r->arg, ROUTE_END_ALL, RC_DEV_FAILED, why);
	}
	reset_device(&r->f);
}

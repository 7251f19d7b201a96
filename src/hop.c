/* hop: see hop.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drawer.h"
#include "hop.h"
#include "hopcore.h"
#include "nm.h"
#include "route-cloud.h"
#include "route-diy.h"

struct hop {
	struct plugin_env env;
	struct nm *nm;
	struct lws_vhost *vh;
	struct lws_protocols protocols[2];
	bool discovered;      /* READY or MANUAL came */
	bool ready;           /* NM hops are on */
	enum hop_action want; /* the hop the route asks for now */
	enum hop_action doing; /* the operation running for it */
	bool exit_pending;    /* the exit waits for the restore */
	bool rescan_said;     /* "not in range yet" said for this want */
	bool other_said;      /* "a FinalStage of another device" said for this want */
	unsigned fails;       /* failed joins for this want */
	int stage;            /* the route's stage after the last transition seen */
	uint8_t itead_bssid[6]; /* the ITEAD-<id> joined: FinalStage has the same MAC */
	/* --all: the ITEAD-<id> of every device taken over in this run, done or not */
	uint8_t taken[DRAWER_DEVICES_MAX][6];
	unsigned ntaken;
	bool skip_said;       /* "skipping N taken over already" said for this want */
	bool resuming;        /* a new NM after a restart: its discovery runs */
	lws_sorted_usec_list_t sul_rescan;
	lws_sorted_usec_list_t sul_exit;
};

static int start_want(struct hop *h);
static void nm_event(void *arg, const struct nm_event *ev);
static void resume(struct hop *h);
static void resumed(struct hop *h);

/* The cloud route's facts, for the BSSID of the device joined (the drawer summary
 * and FinalStage matching), or NULL when the engine runs another route. */
static struct route_cloud_facts *
route_facts(struct hop *h)
{
	struct engine *e = h->env.eng;
	return e && e->route == &route_cloud ? &((struct route_cloud *)e->ctx)->f : NULL;
}

/* The DIY route's --pair facts (its hops), or NULL when the engine runs another. */
static struct route_diy_pair *
diy_pair(struct hop *h)
{
	struct engine *e = h->env.eng;
	return e && e->route == &route_diy ? &((struct route_diy *)e->ctx)->f.pair : NULL;
}

/* Tell the route whether we hop, so that its texts say who joins what
 * (route_cloud_facts.hops_auto, route_diy_pair.hops_auto). */
static void
say_hops(struct hop *h, bool on)
{
	struct route_cloud_facts *rf = route_facts(h);
	struct route_diy_pair *dp = diy_pair(h);
	if (rf)
		rf->hops_auto = on;
	if (dp)
		dp->hops_auto = on;
}

/* The hop a transition of the running route calls for. */
static enum hop_action
hop_for(struct hop *h, int from, int to, bool terminal)
{
	if (route_facts(h))
		return hop_on_transition(from, to, terminal);
	if (diy_pair(h))
		return hop_on_diy_transition(from, to, terminal);
	return terminal ? HOP_RESTORE_EXIT : HOP_NONE;
}

static void
manual(struct hop *h, const char *why)
{
	log_notice(h->env.log, "WiFi hops: manual: %s", why);
}

static void
rescan_cb(lws_sorted_usec_list_t *sul)
{
	struct hop *h = lws_container_of(sul, struct hop, sul_rescan);
	if (h->ready && !nm_busy(h->nm) &&
	    (h->want == HOP_JOIN_ITEAD || h->want == HOP_JOIN_FINAL))
		start_want(h);
}

static void
exit_cb(lws_sorted_usec_list_t *sul)
{
	struct hop *h = lws_container_of(sul, struct hop, sul_exit);
	if (!h->exit_pending)
		return;
	h->exit_pending = false;
	log_warn(h->env.log, "WiFi: the restore did not finish within %u s; NetworkManager "
			     "brings your network back by itself once sonota-c exits",
		 HOP_EXIT_WAIT_MS / 1000);
}

static void
rescan_later(struct hop *h)
{
	lws_sul_schedule(h->env.lws, 0, &h->sul_rescan, rescan_cb,
			 (lws_usec_t)HOP_RESCAN_MS * LWS_US_PER_MS);
}

static void
exit_done(struct hop *h)
{
	h->exit_pending = false;
	lws_sul_cancel(&h->sul_exit);
}

/* Ask NM for what h->want calls for (any running operation dropped first).
 * Returns the nm_* call's result (0: requested). */
static int
start_want(struct hop *h)
{
	const struct nm_facts *f = nm_facts(h->nm);
	int r = 0;

	lws_sul_cancel(&h->sul_rescan);
	if (nm_busy(h->nm))
		nm_abort(h->nm);
	h->doing = h->want;
	switch (h->want) {
	case HOP_JOIN_ITEAD:
	case HOP_JOIN_FINAL:
		r = nm_scan(h->nm, h->want == HOP_JOIN_FINAL ? "FinalStage" : NULL);
		break;
	case HOP_HOME:
		log_notice(h->env.log, "WiFi: going home to %s (NetworkManager's autoconnect; "
				       "activated by us after %u s)",
			   f->restore_id[0] ? f->restore_id : "the best known network",
			   HOP_HOME_GRACE_MS / 1000);
		r = nm_restore(h->nm, HOP_HOME_GRACE_MS);
		break;
	case HOP_RESTORE_EXIT:
		log_notice(h->env.log, "WiFi: restoring %s",
			   f->restore_id[0] ? f->restore_id : "the network NetworkManager picks");
		r = nm_restore(h->nm, HOP_EXIT_GRACE_MS);
		break;
	default:
		h->doing = HOP_NONE;
		return -EINVAL;
	}
	if (r < 0) {
		h->doing = HOP_NONE;
		log_warn(h->env.log, "WiFi: NetworkManager: cannot %s: %s; hop by hand",
			 hop_action_name(h->want), strerror(-r));
		if (h->want == HOP_RESTORE_EXIT)
			exit_done(h);
	}
	return r;
}

static void
on_scanned(struct hop *h)
{
	size_t n = 0;
	const struct nm_ap *aps = nm_aps(h->nm, &n);
	enum nmcore_ap_role want = h->doing == HOP_JOIN_FINAL ? NMCORE_AP_FINALSTAGE
							     : NMCORE_AP_ITEAD;
	enum nmcore_ap_role roles[NM_APS_MAX];
	uint8_t bssids[NM_APS_MAX][6];

	if (n > NM_APS_MAX)
		n = NM_APS_MAX;
	for (size_t i = 0; i < n; i++) {
		roles[i] = aps[i].role;
		memcpy(bssids[i], aps[i].bssid, 6);
	}
	unsigned skipped = 0;
	int i = hop_pick_skip(roles, (const uint8_t(*)[6])bssids, n, want,
			      want == NMCORE_AP_FINALSTAGE ? h->itead_bssid : NULL,
			      want == NMCORE_AP_ITEAD ? (const uint8_t(*)[6])h->taken : NULL,
			      h->ntaken, &skipped);
	if (skipped && !h->skip_said) {
		log_notice(h->env.log, "WiFi: %u ITEAD-<id> network%s in range belong%s to devices "
				       "taken over in this run already (done or not): skipped",
			   skipped, skipped == 1 ? "" : "s", skipped == 1 ? "s" : "");
		h->skip_said = true;
	}
	const char *what = want == NMCORE_AP_ITEAD ? "ITEAD-<id>" : "FinalStage";
	static const uint8_t zero[6];
	if (i >= 0 && want == NMCORE_AP_FINALSTAGE && memcmp(h->itead_bssid, zero, 6) &&
	    memcmp(aps[i].bssid, h->itead_bssid, 6)) {
		/* The FinalStage of the device we provisioned has the soft-AP MAC of its
		 * ITEAD-<id>; any other is another device's (or a neighbour's): joining it
		 * would serve the wrong device, or none. Wait for ours. */
		if (!h->other_said) {
			const uint8_t *o = aps[i].bssid, *m = h->itead_bssid;
			log_notice(h->env.log, "WiFi: a FinalStage of another device is in range "
					       "(BSSID %02X:%02X:%02X:%02X:%02X:%02X); waiting for "
					       "this device's (%02X:%02X:%02X:%02X:%02X:%02X)",
				   o[0], o[1], o[2], o[3], o[4], o[5], m[0], m[1], m[2], m[3], m[4],
				   m[5]);
			h->other_said = true;
		}
		i = -1;
	}
	if (i < 0) {
		if (!h->rescan_said)
			log_notice(h->env.log, "WiFi: no %s network in range yet; scanning again "
					       "every %u s", what, HOP_RESCAN_MS / 1000);
		h->rescan_said = true;
		h->doing = HOP_NONE;
		rescan_later(h);
		return;
	}
	const struct nm_ap *ap = &aps[i];
	char id[64];
	if (want == NMCORE_AP_ITEAD) {
		snprintf(id, sizeof(id), "sonota-ITEAD-%s", ap->deviceid);
		memcpy(h->itead_bssid, ap->bssid, 6);
		struct route_cloud_facts *rf = route_facts(h);
		if (rf) {
			memcpy(rf->itead_bssid, ap->bssid, 6);
			snprintf(rf->itead_deviceid, sizeof(rf->itead_deviceid), "%s",
				 ap->deviceid);
		}
		log_notice(h->env.log, "WiFi: joining ITEAD-%s (signal %u%%) through NetworkManager",
			   ap->deviceid, ap->strength);
	} else {
		snprintf(id, sizeof(id), "sonota-FinalStage");
		log_notice(h->env.log, "WiFi: joining FinalStage (signal %u%%) through "
				       "NetworkManager", ap->strength);
	}
	int r = nm_join(h->nm, ap, id, want == NMCORE_AP_ITEAD ? HOP_ITEAD_PSK : NULL);
	if (r < 0) {
		h->doing = HOP_NONE;
		log_warn(h->env.log, "WiFi: cannot join %s: %s; join it by hand", what,
			 strerror(-r));
	}
}

/* Add the ITEAD-<id> joined last to the run's taken list (--all: not joined again). */
static void
take(struct hop *h)
{
	static const uint8_t zero[6];
	bool known = false;
	if (!memcmp(h->itead_bssid, zero, 6))
		return;
	for (unsigned i = 0; i < h->ntaken; i++)
		known |= memcmp(h->taken[i], h->itead_bssid, 6) == 0;
	if (!known && h->ntaken < DRAWER_DEVICES_MAX)
		memcpy(h->taken[h->ntaken++], h->itead_bssid, 6);
	memset(h->itead_bssid, 0, 6);
}

/* The ITEAD-<id> refused the pairing password: the route's event join-failed, with
 * the reason in its facts; in drawer mode that AP is skipped from now on and the
 * scans go on for the others. */
static void
join_refused(struct hop *h, const char *why)
{
	struct route_cloud_facts *rf = route_facts(h);
	if (!rf)
		return;
	snprintf(rf->join_failure, sizeof(rf->join_failure), "%s", why ? why : "");
	if (rf->drawer) {
		log_notice(h->env.log, "WiFi: --all: ITEAD-%s is skipped from now on",
			   rf->itead_deviceid[0] ? rf->itead_deviceid : "<id>");
		take(h);
		rescan_later(h);
	}
	engine_post(h->env.eng, ROUTE_EV_JOIN_FAILED);
}

/* NetworkManager restarted (NM_EV_BACK): a new client and its discovery, unless the
 * run is ending (the exit's restore is NM's own autoconnect then). */
static void
resume(struct hop *h)
{
	if (h->exit_pending || engine_is_terminal(h->env.eng) || h->resuming)
		return;
	struct nm_config nc = { .iface = h->env.cfg->wifi_iface, .bus = h->env.bus };
	nm_stop(h->nm);
	h->nm = NULL;
	h->ready = false;
	h->resuming = true;
	log_notice(h->env.log, "WiFi: NetworkManager is back: looking at it again");
	int r = nm_start(h->vh, &nc, nm_event, h, &h->nm);
	if (r < 0) {
		h->resuming = false;
		h->nm = NULL;
		log_warn(h->env.log, "WiFi: cannot talk to the new NetworkManager (%s); hop by "
				     "hand until the end", strerror(-r));
	}
}

/* The new NetworkManager's discovery is done: hops are automatic again, starting
 * with the one the route's current stage calls for. */
static void
resumed(struct hop *h)
{
	h->resuming = false;
	if (hop_ssh_refuses(nm_facts(h->nm)->ssh, h->env.cfg->allow_ssh_drop)) {
		log_warn(h->env.log, "WiFi: your SSH session rides on %s now: hop by hand until "
				     "the end (--allow-ssh-drop hops anyway)",
			 nm_facts(h->nm)->iface);
		h->ready = false;
		nm_stop(h->nm);
		h->nm = NULL;
		return;
	}
	say_hops(h, true);
	log_notice(h->env.log, "WiFi hops: auto again, through NetworkManager on %s",
		   nm_facts(h->nm)->iface);
	struct route_cloud_facts *rf = route_facts(h);
	struct route_diy_pair *dp = diy_pair(h);
	enum hop_action a = rf ? hop_for_stage(h->stage) : dp ? hop_for_diy_stage(h->stage)
							     : HOP_NONE;
	if (dp)
		a = (a == HOP_HOME && dp->have_home) || (a == HOP_JOIN_ITEAD && dp->have_ap)
			    ? HOP_NONE : a;
	else if (!rf)
		a = HOP_NONE;
	/* already where the stage wants this computer (joined by hand meanwhile): a new
	 * activation would only cut what runs there */
	else if ((a == HOP_HOME && (rf->have_home || hop_home_elsewhere(rf->home_ifindex,
			(int)if_nametoindex(nm_facts(h->nm)->iface)))) ||
		 (a == HOP_JOIN_ITEAD && rf->have_ap) || (a == HOP_JOIN_FINAL && rf->have_final))
		a = HOP_NONE;
	h->want = a;
	h->fails = 0;
	h->rescan_said = h->other_said = h->skip_said = false;
	if (a != HOP_NONE && start_want(h) == 0)
		log_debug(h->env.log, "WiFi: hop %s requested for stage %s (NetworkManager back)",
			  hop_action_name(a), engine_stage_name(h->env.eng->route, h->stage));
}

static void
nm_event(void *arg, const struct nm_event *ev)
{
	struct hop *h = arg;
	char ip[INET_ADDRSTRLEN];

	log_debug(h->env.log, "WiFi: NM event %s (%s)", nm_ev_name(ev->type),
		  ev->message ? ev->message : "");
	switch (ev->type) {
	case NM_EV_READY:
		h->discovered = h->ready = true;
		if (h->resuming)
			resumed(h);
		return;
	case NM_EV_MANUAL:
		h->discovered = true;
		manual(h, ev->message ? ev->message : "NetworkManager cannot be used");
		if (h->resuming) {
			/* the new NM cannot be used either: by hand until the end */
			h->resuming = false;
			nm_stop(h->nm);
			h->nm = NULL;
		}
		return;
	case NM_EV_BACK:
		resume(h);
		return;
	case NM_EV_SCANNED:
		if (h->doing == HOP_JOIN_ITEAD || h->doing == HOP_JOIN_FINAL)
			on_scanned(h);
		return;
	case NM_EV_ACTIVATED:
		inet_ntop(AF_INET, &ev->addr, ip, sizeof(ip));
		log_notice(h->env.log, "WiFi: joined (address %s/%u)", ip, ev->prefix);
		if (h->doing == HOP_JOIN_FINAL && strcmp(ip, "192.168.4.2") != 0)
			log_warn(h->env.log, "WiFi: FinalStage gave %s, not 192.168.4.2: the "
					     "E2A image only talks to 192.168.4.2", ip);
		h->doing = HOP_NONE;
		h->fails = 0;
		return;
	case NM_EV_FAILED:
		log_warn(h->env.log, "WiFi: NetworkManager could not join: %s",
			 ev->reason.message ? ev->reason.message : ev->message);
		h->doing = HOP_NONE;
		if (h->want == HOP_JOIN_ITEAD && ev->reason.kind == NMCORE_FAIL_WRONG_PSK &&
		    route_facts(h)) {
			/* No retry helps: the route decides (one device: the run ends with
			 * this reason; --all: that AP is skipped, the others go on). */
			join_refused(h, ev->reason.message ? ev->reason.message : ev->message);
			return;
		}
		if (++h->fails <= 2 && (h->want == HOP_JOIN_ITEAD || h->want == HOP_JOIN_FINAL) &&
		    ev->reason.kind != NMCORE_FAIL_WRONG_PSK)
			rescan_later(h);
		else if (h->want == HOP_JOIN_ITEAD || h->want == HOP_JOIN_FINAL)
			log_warn(h->env.log, "WiFi: join the device's network by hand");
		return;
	case NM_EV_RESTORED:
		log_notice(h->env.log, "WiFi: %s is back%s",
			   nm_facts(h->nm)->restore_id[0] ? nm_facts(h->nm)->restore_id
							  : "the user's network",
			   ev->deleted ? ", our profiles deleted" : "");
		h->doing = HOP_NONE;
		if (h->exit_pending)
			exit_done(h);
		return;
	case NM_EV_DROPPED:
		log_info(h->env.log, "WiFi: the device closed its network");
		/* Still waiting for the final image: E2A reboots between two images
		 * (user2, the 4CH) or its WiFi dropped; FinalStage comes back, and no
		 * transition calls for the join again (finalstage stays finalstage). */
		if (h->ready && h->want == HOP_JOIN_FINAL && h->stage == ROUTE_FINALSTAGE &&
		    h->doing == HOP_NONE) {
			log_notice(h->env.log, "WiFi: FinalStage went away; joining it again "
					       "when it comes back");
			h->fails = 0;
			h->rescan_said = false;
			start_want(h);
		}
		return;
	case NM_EV_LOST:
		log_warn(h->env.log, "WiFi: %s",
			 ev->message ? ev->message : "NetworkManager left: hop by hand from now on");
		h->ready = false;
		say_hops(h, false);
		h->doing = HOP_NONE;
		if (!h->discovered)
			h->discovered = true;
		if (h->exit_pending)
			exit_done(h);
		return;
	case NM_EV_ERROR:
	default:
		log_warn(h->env.log, "WiFi: NetworkManager: %s",
			 ev->message ? ev->message : strerror(-ev->err));
		h->doing = HOP_NONE;
		if (h->exit_pending)
			exit_done(h);
		else if (h->want == HOP_JOIN_ITEAD || h->want == HOP_JOIN_FINAL)
			rescan_later(h);
		return;
	}
}

static void
observe(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct hop *h = arg;
	struct route_cloud_facts *rf = route_facts(h);
	h->stage = to;
	/* --all: a device provisioned (look-next) or ended (next-device) is not joined
	 * again in this run */
	if ((to == ROUTE_NEXT_DEVICE || to == ROUTE_LOOK_NEXT) && from != to && rf)
		take(h);
	/* --all: the FinalStage to join is that of the device the route picked (its
	 * ITEAD-<id> BSSID), not of the device provisioned last */
	if (to == ROUTE_FINALSTAGE && from != to && rf && rf->drawer)
		memcpy(h->itead_bssid, rf->final_bssid, 6);
	if (!h->ready)
		return;
	enum hop_action a = hop_for(h, from, to, engine_is_terminal(e));
	if (a == HOP_HOME && rf &&
	    hop_home_elsewhere(rf->home_ifindex, (int)if_nametoindex(nm_facts(h->nm)->iface))) {
		/* Two interfaces: the serving address never left; the radio stays where
		 * it is (the device closes its ITEAD-<id> by itself) until FinalStage. */
		char ifname[IF_NAMESIZE] = "";
		const char *on = if_indextoname((unsigned)rf->home_ifindex, ifname)
					 ? ifname : "another interface";
		log_notice(h->env.log, "WiFi: no hop home: the serving address is on %s, not "
				       "on %s", on, nm_facts(h->nm)->iface);
		h->want = HOP_NONE;
		return;
	}
	if (a == HOP_NONE || (a == HOP_RESTORE_EXIT && h->want == HOP_RESTORE_EXIT))
		return;
	h->want = a;
	h->fails = 0;
	h->rescan_said = false;
	h->other_said = false;
	h->skip_said = false;
	if (a == HOP_RESTORE_EXIT) {
		h->exit_pending = true;
		lws_sul_schedule(h->env.lws, 0, &h->sul_exit, exit_cb,
				 (lws_usec_t)HOP_EXIT_WAIT_MS * LWS_US_PER_MS);
	}
	/* The request time, for the "within 50 ms of the event" check (tests/e2e/hands.sh
	 * compares it with the transition line in the debug log). */
	if (start_want(h) == 0)
		log_debug(h->env.log, "WiFi: hop %s requested for stage: %s → %s → %s",
			  hop_action_name(a), engine_stage_name(e->route, from),
			  engine_event_name(e->route, ev), engine_stage_name(e->route, to));
}

static void hop_stop(void *state);

static int
hop_start(const struct plugin_env *env, void **ret_state)
{
	const struct cfg *cfg = env->cfg;

	if (cfg->wifi == CFG_WIFI_MANUAL) {
		log_notice(env->log, "WiFi hops: manual (--wifi manual)");
		return 0;
	}
	struct hop *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->env = *env;
	*ret_state = h;

	h->protocols[0] = nm_protocol;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "nm";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = h->protocols;
	h->vh = lws_create_vhost(env->lws, &info);
	if (!h->vh) {
		manual(h, "cannot create the loop's D-Bus vhost");
		return 0;
	}
	struct nm_config nc = { .iface = cfg->wifi_iface, .bus = env->bus };
	int r = nm_start(h->vh, &nc, nm_event, h, &h->nm);
	if (r < 0) {
		char why[128];
		snprintf(why, sizeof(why), "no system D-Bus (%s)", strerror(-r));
		manual(h, why);
		return 0;
	}
	/* Pre-flight: the discovery, bounded; the route has not started yet. */
	lws_usec_t deadline = lws_now_usecs() + (lws_usec_t)HOP_DISCOVERY_MS * LWS_US_PER_MS;
	while (!h->discovered && !engine_is_terminal(env->eng) && lws_now_usecs() < deadline)
		if (lws_service(env->lws, 0) < 0)
			break;
	if (!h->discovered) {
		manual(h, "NetworkManager did not answer in time");
		nm_stop(h->nm);
		h->nm = NULL;
		return 0;
	}
	if (!h->ready) {
		nm_stop(h->nm);
		h->nm = NULL;
		return 0;
	}
	const struct nm_facts *f = nm_facts(h->nm);
	char text[2048];
	nm_facts_describe(f, text, sizeof(text));
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
		log_notice(env->log, "WiFi: %s", line);
	if (hop_ssh_refuses(f->ssh, cfg->allow_ssh_drop)) {
		log_err(env->log, "WiFi: your SSH session rides on %s, the WiFi device sonota-c "
				  "would hop: it would drop until home. Use --wifi-iface with "
				  "another adapter, --wifi manual, or --allow-ssh-drop",
			f->iface);
		/* plugins_start keeps no state of a plug-in that failed: clean up here */
		*ret_state = NULL;
		hop_stop(h);
		return -EPERM;
	}
	if (engine_observe(env->eng, observe, h) < 0) {
		manual(h, "no room for another route observer (our bug)");
		h->ready = false;
		return 0;
	}
	say_hops(h, true);
	log_notice(env->log, "WiFi hops: auto, through NetworkManager on %s", f->iface);
	return 0;
}

static bool
hop_busy(void *state)
{
	struct hop *h = state;
	return h && h->exit_pending;
}

static void
hop_stop(void *state)
{
	struct hop *h = state;
	if (!h)
		return;
	lws_sul_cancel(&h->sul_rescan);
	lws_sul_cancel(&h->sul_exit);
	nm_stop(h->nm);
	free(h);
}

const struct plugin hop_plugin = {
	.name = "wifi-hop",
	.start = hop_start,
	.stop = hop_stop,
	.busy = hop_busy,
};

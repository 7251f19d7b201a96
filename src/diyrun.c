/* diyrun: see diyrun.h; the route's rules are in route-diy.c (docs/diy.md). Runs on the lws
 * loop thread only. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef SONOTA_WITH_NM
#include "avahi.h"
#endif
#include "diyrun.h"
#include "util.h"

/* ---- the engine's timers and output ------------------------------------------------ */

/* ---- the verdict: progress facts and the 1 s tick ----------------------------------- */

static void
judge(struct diyrun *d)
{
	struct diyflow_progress p;
	uint64_t now = util_mono_ms();

	if (!d->serving || engine_is_terminal(&d->eng))
		return;
	diyacct_progress(&d->acct, now, d->flash_ms, d->rd.f.left_mdns, &p);
	d->rd.f.verdict = diyflow_verdict(&p, d->rd.f.diag, sizeof(d->rd.f.diag));
	d->rd.f.all_acked = d->acct.acked >= d->acct.size;
	d->rd.f.completion_seen = p.completion_seen;
	d->rd.f.completion_error = p.completion_error;
	engine_post(&d->eng, RDIY_EV_PROGRESS);
}

static void
on_tick(lws_sorted_usec_list_t *sul)
{
	struct diyrun *d = lws_container_of(sul, struct diyrun, tick);

	if (engine_is_terminal(&d->eng))
		return;
	judge(d);
	if (!engine_is_terminal(&d->eng))
		lws_sul_schedule(d->lws, 0, &d->tick, on_tick, DIYRUN_TICK_MS * LWS_US_PER_MS);
}

void
diyrun_evq(struct diyrun *d, const struct evq_event *ev)
{
	if (!d->serving || !diyacct_event(&d->acct, ev, util_mono_ms()))
		return;
	if (ev->type == EVQ_HTTP_PROGRESS || ev->type == EVQ_HTTP_DONE ||
	    ev->type == EVQ_HTTP_REQUEST)
		ui_progress(d->ui, d->deviceid[0] ? d->deviceid : d->device_ip, DIYRUN_FILE,
			    d->acct.sent < d->acct.size ? d->acct.sent : d->acct.acked,
			    d->acct.size);
	if (ev->type == EVQ_HTTP_DIY_COMPLETION)
		log_notice(d->log, "%s: completion POST {\"error\":%d}", d->device_ip,
			   ev->diy_error);
	judge(d);
}

/* ---- diymore: a --device-ip device that Avahi does not list (diyhidden.h) ----------- */

/* This host's IPv4 subnets (the I/O of diyhidden_on_link()); 0 when unknown. */
static size_t
local_nets(struct diyhidden_net *nets, size_t max)
{
	struct ifaddrs *ifa;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (struct ifaddrs *i = ifa; i && n < max; i = i->ifa_next) {
		const struct sockaddr_in *a = (const void *)i->ifa_addr;
		const struct sockaddr_in *m = (const void *)i->ifa_netmask;

		if (a && m && a->sin_family == AF_INET)
			nets[n++] = (struct diyhidden_net){ a->sin_addr.s_addr, m->sin_addr.s_addr };
	}
	freeifaddrs(ifa);
	return n;
}

/* Say it once, when the device answered AND the settle after AllForNow passed without its
 * announcement (Avahi running). */
static void
hidden_check(struct diyrun *d)
{
	struct diyhidden_net nets[DIYHIDDEN_NETS_MAX];
	struct in_addr a;
	char line[RDIY_DIAG_MAX * 2];
	const char *why = NULL;
	bool on_link;

	if (d->hidden_said || !d->cfg->device_ip || !d->avahi_alive || !d->hidden_due ||
	    !d->answered || d->seen_in_mdns || engine_is_terminal(&d->eng))
		return;
	d->hidden_said = true;
	on_link = inet_pton(AF_INET, d->device_ip, &a) != 1 ||
		  diyhidden_on_link(a.s_addr, nets, local_nets(nets, DIYHIDDEN_NETS_MAX));
	diyhidden_unannounced(d->device_ip, on_link, line, sizeof(line), &why);
	ui_say(d->ui, "%s", line);
	d->rd.f.unobservable = why;
}

#ifdef SONOTA_WITH_NM
static void
on_hidden_timer(lws_sorted_usec_list_t *sul)
{
	struct diyrun *d = lws_container_of(sul, struct diyrun, hidden_timer);

	if (engine_is_terminal(&d->eng))
		return;
	d->hidden_due = true;
	if (!d->seen_in_mdns) {
		d->rd.f.mdns_watch = false;
		log_notice(d->log, "mDNS: %s is not announced: its leaving mDNS cannot be observed",
			   d->device_ip);
		hidden_check(d);
	}
	judge(d);
}
#endif

/* ---- requests: the route's sends through diyclient ---------------------------------- */

static void
request_done(void *arg, const struct diyclient_done *dn)
{
	struct diyrun *d = arg;

	if (engine_is_terminal(&d->eng))
		return;
	if (dn->res.outcome == DIYFLOW_OUT_REPLY && !d->answered) {
		d->answered = true;
		hidden_check(d);
	}
	if (dn->has_info) {
		d->ff.fw = dn->info.fw;
		if (dn->info.fw_version[0])
			util_strlcpy(d->fw, dn->info.fw_version, sizeof(d->fw));
		else if (!d->fw[0])
			util_strlcpy(d->fw, dn->info.data_is_string ? "3.3-3.4" : "?",
				     sizeof(d->fw));
		if (!d->deviceid[0] && dn->info.deviceid[0])
			util_strlcpy(d->deviceid, dn->info.deviceid, sizeof(d->deviceid));
		ui_json(d->ui, "device", "deviceid", d->deviceid, "address", d->device_ip,
			"firmware", d->fw, "otaUnlock", dn->info.ota_unlock ? "true" : "false",
			"route", "diy", NULL);
	}
	d->rd.f.next = diyflow_next(&d->ff, &dn->res);
	if (d->rd.f.next.act == DIYFLOW_ACT_SERVE) {
		if (d->rd.f.next.diagnosis)
			ui_say(d->ui, "%s", d->rd.f.next.diagnosis);
		d->flash_ms = util_mono_ms();
		d->serving = true;
		lws_sul_schedule(d->lws, 0, &d->tick, on_tick, DIYRUN_TICK_MS * LWS_US_PER_MS);
	}
	engine_post(&d->eng, RDIY_EV_NEXT);
}

static void
rop_send(void *arg, enum diyflow_step step, bool with_id)
{
	struct diyrun *d = arg;
	const char *id = with_id && d->deviceid[0] ? d->deviceid : NULL;
	unsigned ms = step == DIYFLOW_STEP_UNLOCK  ? DIYFLOW_UNLOCK_MS
		      : step == DIYFLOW_STEP_FLASH ? DIYFLOW_FLASH_MS
						   : DIYFLOW_INFO_MS;
	char *body = NULL;
	int r;

	if (step == DIYFLOW_STEP_FLASH) {
		body = diy_build_ota_flash(id, d->serving_ip, d->http_port, DIYRUN_PATH,
					   d->img->info.sha256_hex);
		if (!body) {
			log_err(d->log, "cannot build ota_flash for %s:%u (our bug)", d->serving_ip,
				d->http_port);
			d->exit_code = SONOTA_EXIT_FAILURE;
			engine_post(&d->eng, RDIY_EV_FATAL);
			return;
		}
		ui_say(d->ui, "Asking %s to download http://%s:%u%s (sha256 %.16s...)",
		       d->device_ip, d->serving_ip, d->http_port, DIYRUN_PATH,
		       d->img->info.sha256_hex);
	}
	r = diyclient_send(d->client, d->device_ip, DIY_PORT, step, id, body, ms, request_done, d);
	free(body);
	if (r < 0) {
		log_err(d->log, "cannot send to %s: %s (our bug)", d->device_ip, strerror(-r));
		d->exit_code = SONOTA_EXIT_FAILURE;
		engine_post(&d->eng, RDIY_EV_FATAL);
	}
}

/* ---- the left-mdns probe (diyleave.h): no goodbye within the limit ------------------- */

static void
probe_done(void *arg, const struct diyclient_done *dn)
{
	struct diyrun *d = arg;
	struct diyleave_in in = {
		.ip = d->device_ip, .res = &dn->res,
		.fw_version = dn->has_info ? dn->info.fw_version : NULL, .fw_before = d->fw,
	};

	if (engine_is_terminal(&d->eng))
		return;
	d->rd.f.probe = diyleave_judge(&in, d->rd.f.probe_diag, sizeof(d->rd.f.probe_diag));
	log_notice(d->log, "%s:%u /zeroconf/info after the left-mdns limit: %s", d->device_ip,
		   DIY_PORT, diyleave_name(d->rd.f.probe));
	engine_post(&d->eng, RDIY_EV_PROBED);
}

static void
rop_probe(void *arg)
{
	struct diyrun *d = arg;
	int r;

	ui_say(d->ui, "No mDNS goodbye from %s within %d s: asking its port %u whether the DIY "
		      "firmware still runs", d->device_ip, DIYFLOW_LEAVE_MDNS_MS / 1000, DIY_PORT);
	r = diyclient_send(d->client, d->device_ip, DIY_PORT, DIYFLOW_STEP_INFO, NULL, NULL,
			   DIYFLOW_INFO_MS, probe_done, d);
	if (r < 0) {
		log_err(d->log, "cannot probe %s: %s (our bug)", d->device_ip, strerror(-r));
		d->exit_code = SONOTA_EXIT_FAILURE;
		engine_post(&d->eng, RDIY_EV_FATAL);
	}
}

/* ---- the end ------------------------------------------------------------------------ */

static void
rop_finish(void *arg, bool success, bool interrupted)
{
	struct diyrun *d = arg;
	const char *st = engine_stage_name(&route_diy, d->eng.cur);

	lws_cancel_service(d->lws);
	lws_sul_cancel(&d->tick);
	lws_sul_cancel(&d->pick_timer);
	lws_sul_cancel(&d->hidden_timer);
	if (success)
		d->exit_code = SONOTA_EXIT_OK;
	else if (interrupted)
		d->exit_code = SONOTA_EXIT_INTERRUPTED;
	else if (d->eng.cur == RDIY_UNPROVEN)
		d->exit_code = SONOTA_EXIT_UNPROVEN;
	else if (!d->exit_code)
		d->exit_code = SONOTA_EXIT_FAILURE;
	ui_say(d->ui, "Summary:");
	ui_say(d->ui, "  device %s at %s: type %s, firmware %s: %s",
	       d->deviceid[0] ? d->deviceid : "?", d->device_ip[0] ? d->device_ip : "?",
	       d->type[0] ? d->type : "?", d->fw[0] ? d->fw : "?",
	       success ? "DONE" : d->eng.cur == RDIY_UNPROVEN ? "success reported, NOT proven"
							      : "NOT done");
	ui_say(d->ui, "  image %s: %zu bytes, sha256 %s; %llu bytes acknowledged%s",
	       d->img->path, d->img->size, d->img->info.sha256_hex,
	       (unsigned long long)d->acct.acked,
	       d->acct.completion ? "" : ", no completion POST");
	if (d->eng.diagnosis[0])
		ui_say(d->ui, "  why the run ended: %s", d->eng.diagnosis);
	ui_json(d->ui, "summary-device", "deviceid", d->deviceid, "address", d->device_ip,
		"romVersion", d->fw, "state", st, "done", success ? "yes" : "no", NULL);
	ui_json(d->ui, "result", "stage", st, "done", success ? "yes" : "no", "diagnosis",
		d->eng.diagnosis, NULL);
	if (success)
		ui_say(d->ui, "Done: the device rebooted into the new firmware. (Tasmota opens a "
			      "WiFi \"tasmota-XXXXXX\" for its own set-up.)");
}

static const struct route_diy_ops route_ops = {
	.send = rop_send, .finish = rop_finish,
	.probe = rop_probe, /* diymore */
	/* issue 11 item 2 (diyap): --pair (diypair.c) */
	.prov_start = diyrun_pair_prov_start, .prov_stop = diyrun_pair_prov_stop,
};

static void
observe(void *arg, const struct engine *e, int from, int ev, int to)
{
	struct diyrun *d = arg;

	(void)e, (void)ev;
	if (from != to) {
		ui_json(d->ui, "stage", "stage", engine_stage_name(&route_diy, to), NULL);
		diyrun_pair_entered(d, to); /* issue 11 item 2 (diyap): --pair */
	}
}

/* ---- discovery --------------------------------------------------------------------- */

/* Our IPv4 address on the route to ip (a UDP connect sends nothing), for downloadUrl. */
static int
local_addr_for(const char *ip, char out[16])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(DIY_PORT) };
	socklen_t alen = sizeof(a);
	int fd, r = 0;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && !inet_ntop(AF_INET, &a.sin_addr, out, 16))
		r = -EINVAL;
	return r;
}

static void
found(struct diyrun *d, const char *ip, const char *id, bool multi)
{
	const char *why;

	if (d->found)
		return;
	d->found = true;
	util_strlcpy(d->device_ip, ip, sizeof(d->device_ip));
	util_strlcpy(d->acct.peer, d->device_ip, sizeof(d->acct.peer)); /* its requests only */
	if (id && id[0])
		util_strlcpy(d->deviceid, id, sizeof(d->deviceid));
	/* MINIR3 and other multi-channel devices refuse the key (§3.2, IT#123); an unknown id is
	 * never guessed: the key is left out ("" is never sent) */
	d->rd.f.omit_deviceid = d->ff.omit_deviceid = multi || !d->deviceid[0];
	d->rd.f.device_ip = d->device_ip;
	/* the address the device downloads from: --serving-host, else our side of the route */
	if (d->cfg->serving_host)
		util_strlcpy(d->serving_ip, d->cfg->serving_host, sizeof(d->serving_ip));
	else if (local_addr_for(d->device_ip, d->serving_ip) < 0)
		d->serving_ip[0] = '\0';
	why = d->serving_ip[0] ? diy_ipv4_unusable(d->serving_ip) : "no route to the device";
	if (why) {
		ui_say(d->ui, "The device at %s cannot download from this computer (%s %s); give "
			      "--serving-host with this computer's address on the device's network.",
		       d->device_ip, d->serving_ip, why);
		d->exit_code = SONOTA_EXIT_PREFLIGHT;
		engine_post(&d->eng, RDIY_EV_FATAL);
		return;
	}
	log_notice(d->log, "serving the image at http://%s:%u%s", d->serving_ip, d->http_port,
		   DIYRUN_PATH);
	ui_say(d->ui, "DIY-mode device %s at %s%s", d->deviceid[0] ? d->deviceid : "(id unknown)",
	       d->device_ip, multi ? " (multi-channel: requests without deviceid)" : "");
	engine_post(&d->eng, RDIY_EV_FOUND);
}

/* issue 11 item 2 (diyap): a DIY-mode announcement of the paired device seen before
 * discover, replayed on entering it (diypair.c) */
void
diyrun_found_at(struct diyrun *d, const char *ip, const char *id, bool multi)
{
	d->seen_in_mdns = true;
	d->rd.f.mdns_watch = d->avahi_alive;
	found(d, ip, id, multi);
}

#ifdef SONOTA_WITH_NM
/* ---- diymore: which announcement is the device (diypick.h) ------------------------- */

static void pick_decide(struct diyrun *d);

static void
on_pick_timer(lws_sorted_usec_list_t *sul)
{
	struct diyrun *d = lws_container_of(sul, struct diyrun, pick_timer);

	if (!d->found && !engine_is_terminal(&d->eng))
		pick_decide(d);
}

static void
pick_several(struct diyrun *d)
{
	char list[DIYPICK_MAX * 80];

	diypick_format(&d->pick, list, sizeof(list));
	ui_say(d->ui, "%u Sonoffs in DIY mode announce themselves on this network; nothing was "
		      "sent to any of them. Choose one: rerun with --device-id ID (sonota-c --scan "
		      "also shows each one's firmware):", d->pick.n);
	for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n"))
		ui_say(d->ui, "%s", line);
	for (unsigned i = 0; i < d->pick.n; i++)
		ui_json(d->ui, "candidate", "deviceid", d->pick.dev[i].id, "address",
			d->pick.dev[i].addr, "type", d->pick.dev[i].type, NULL);
	d->exit_code = SONOTA_EXIT_PREFLIGHT;
	engine_post(&d->eng, RDIY_EV_FATAL);
}

static void
pick_decide(struct diyrun *d)
{
	uint64_t now = util_mono_ms(), wake = 0;
	unsigned i = 0;
	const struct diypick_dev *p;

	switch (diypick_decide(&d->pick, now, &i, &wake)) {
	case DIYPICK_WAIT:
		if (wake)
			lws_sul_schedule(d->lws, 0, &d->pick_timer, on_pick_timer,
					 (lws_usec_t)(wake - now) * LWS_US_PER_MS);
		return;
	case DIYPICK_SEVERAL:
		pick_several(d);
		return;
	case DIYPICK_TAKE:
		break;
	}
	lws_sul_cancel(&d->pick_timer);
	p = &d->pick.dev[i];
	util_strlcpy(d->type, p->type, sizeof(d->type));
	d->seen_in_mdns = true;
	d->rd.f.mdns_watch = d->avahi_alive;
	found(d, p->addr, p->id, p->multi_channel);
}

void
diyrun_avahi(void *arg, const struct avahi_ev *ev)
{
	struct diyrun *d = arg;
	const struct avahi_dev *a = ev->dev;

	if (engine_is_terminal(&d->eng))
		return;
	switch (ev->type) {
	case AVAHI_EV_FOUND:
		log_info(d->log, "mDNS: %s at %s: %s", a->instance, a->addr,
			 dnssd_mode_name(a->dev.mode));
		if (!d->found) { /* what the discover limit will say if ours never shows */
			struct dnssd_hidden h = {
				.avahi_running = true, .others_seen = true,
				.seen_lan_mode = d->lan_mode_seen || a->dev.mode == DNSSD_MODE_LAN,
			};
			d->rd.f.hidden = dnssd_hidden_diagnosis(&h);
		}
		if (d->rd.f.pair.on && diyrun_pair_found(d, a)) /* diyap: --pair */
			return;
		if (d->found && strcmp(a->addr, d->device_ip) != 0 &&
		    !(d->deviceid[0] && strcmp(a->dev.id, d->deviceid) == 0))
			return; /* another device */
		if (a->dev.mode == DNSSD_MODE_LAN) {
			if (!d->lan_mode_seen)
				ui_say(d->ui, "%s at %s is in eWeLink LAN mode, not DIY mode: %s",
				       a->dev.id, a->addr, a->dev.why ? a->dev.why : "");
			d->lan_mode_seen = true;
			return;
		}
		if (a->dev.mode != DNSSD_MODE_DIY) {
			log_notice(d->log, "mDNS: %s: %s", a->instance, a->dev.why ? a->dev.why : "");
			return;
		}
		if (!d->found) { /* which device: diypick (--device-id, or only one) */
			if (diypick_found(&d->pick, &a->dev, a->addr, util_mono_ms())) {
				pick_decide(d);
				return;
			}
			log_info(d->log, "mDNS: %s is not --device-id %s: ignored", a->dev.id,
				 d->pick.want_id);
			snprintf(d->pick_hidden, sizeof(d->pick_hidden), "no announcement with "
				 "deviceid %s, but other DIY-mode devices (e.g. %s at %s) announce "
				 "themselves: check the id with sonota-c --scan", d->pick.want_id,
				 a->dev.id, a->addr);
			d->rd.f.hidden = d->pick_hidden;
			return;
		}
		if (!d->type[0])
			util_strlcpy(d->type, a->dev.type, sizeof(d->type));
		if (d->found && !d->deviceid[0]) /* --device-ip: the id from its announcement */
			util_strlcpy(d->deviceid, a->dev.id, sizeof(d->deviceid));
		d->seen_in_mdns = true;
		d->rd.f.mdns_watch = d->avahi_alive;
		d->rd.f.unobservable = NULL;
		if (d->hidden_said) /* it did show up after all */
			log_notice(d->log, "mDNS: %s is announced after all: its leaving mDNS "
					   "will be observed", a->instance);
		if (d->rd.f.left_mdns) {
			log_notice(d->log, "mDNS: %s announces itself again", a->instance);
			d->rd.f.left_mdns = false;
		}
		found(d, a->addr, a->dev.id, a->dev.multi_channel);
		return;
	case AVAHI_EV_REMOVED:
		if (!d->found) {
			diypick_removed(&d->pick, a->dev.id);
			return;
		}
		if (!d->deviceid[0] || strcmp(a->dev.id, d->deviceid) != 0)
			return;
		log_notice(d->log, "mDNS: %s withdrawn", a->instance);
		if (d->serving) {
			d->rd.f.left_mdns = true;
			judge(d);
		}
		return;
	case AVAHI_EV_ALL_FOR_NOW:
		/* Avahi has read its cache and asked the LAN: a device it has not seen by now
		 * (--device-ip, mDNS blocked) cannot be watched leaving */
		d->mdns_settled = true;
		if (!d->found) {
			diypick_all_for_now(&d->pick, util_mono_ms());
			pick_decide(d);
		}
		if (!d->seen_in_mdns && d->found && !d->hidden_due) {
			/* diymore: an announcement still being resolved gets DIYHIDDEN_SETTLE_MS
			 * before the device is called unannounced (and why: diyhidden) */
			lws_sul_schedule(d->lws, 0, &d->hidden_timer, on_hidden_timer,
					 DIYHIDDEN_SETTLE_MS * LWS_US_PER_MS);
			return;
		}
		d->rd.f.mdns_watch = d->avahi_alive && d->seen_in_mdns;
		judge(d);
		return;
	case AVAHI_EV_GONE:
		d->avahi_alive = false;
		d->rd.f.mdns_watch = false;
		d->rd.f.unobservable = NULL; /* the reason is now: no Avahi */
		log_warn(d->log, "mDNS: %s", ev->why ? ev->why : "Avahi went away");
		if (!d->found) {
			ui_say(d->ui, d->rd.f.pair.on ? "No Avahi (%s): --pair finds the device "
				      "over mDNS; start avahi-daemon, or pair and rerun --diy "
				      "--device-ip IP." : "No Avahi (%s): name the device with "
				      "--device-ip IP.", ev->why ? ev->why : "gone");
			d->exit_code = SONOTA_EXIT_PREFLIGHT;
			engine_post(&d->eng, RDIY_EV_FATAL);
			return;
		}
		judge(d);
		return;
	}
}
#endif

/* ---- life cycle ---------------------------------------------------------------------- */

int
diyrun_init(struct diyrun *d, struct lws_context *cx, struct lws_vhost *vh)
{
	d->lws = cx;
	d->vh = vh;
	engine_lws_init(&d->el, &d->eng, cx, d->ui, d->log);
	d->rd.ops = &route_ops;
	d->rd.arg = d;
	engine_init(&d->eng, &route_diy, &d->rd, &engine_lws_ops, &d->el);
	engine_observe(&d->eng, route_diy_observer, &d->rd);
	engine_observe(&d->eng, observe, d);
	diyacct_init(&d->acct, DIYRUN_FILE, d->img->size, NULL);
	diypick_init(&d->pick, d->cfg->device_id);
	return diyclient_new(cx, vh, d->log, &d->client);
}

void
diyrun_start(struct diyrun *d, bool mdns)
{
	d->avahi_alive = mdns;
	d->rd.f.mdns_watch = mdns; /* until Avahi says the device cannot be watched */
	/* issue 11 item 2 (diyap): --pair starts at wait-ap (diypair.c has the addresses) */
	d->rd.f.pair.on = d->cfg->pair;
	d->rd.f.pair.ssid = d->cfg->wifi_ssid;
	d->rd.f.pair.wait_timeout_s = d->cfg->wait_timeout;
	engine_post(&d->eng, RDIY_EV_START);
	if (d->cfg->pair) {
		return;
	} else if (d->cfg->device_ip) {
		found(d, d->cfg->device_ip, NULL, false);
	} else {
		ui_say(d->ui, "Looking for a Sonoff in DIY mode on this network (mDNS "
			      "_ewelink._tcp)...");
	}
}

bool
diyrun_ended(const struct diyrun *d)
{
	return engine_is_terminal(&d->eng);
}

void
diyrun_interrupt(struct diyrun *d)
{
	engine_post(&d->eng, RDIY_EV_INTERRUPT);
}

void
diyrun_fini(struct diyrun *d)
{
	engine_lws_fini(&d->el);
	diyrun_pair_fini(d); /* diyap */
	if (d->lws) {
		lws_sul_cancel(&d->tick);
		lws_sul_cancel(&d->pick_timer);
		lws_sul_cancel(&d->hidden_timer);
	}
	diyclient_free(d->client);
	d->client = NULL;
}

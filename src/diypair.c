/* diypair: --pair's adapter (issue 11 item 2): provisioning through provision.h, this
 * computer's addresses from netwatch, the paired device's announcements. See diyrun.h;
 * the rules are route-diy-pair.c's (docs/diy.md). Runs on the lws loop thread only. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#ifdef SONOTA_WITH_NM
#include "avahi.h"
#endif
#include "diyrun.h"
#include "netwatch.h"
#include "provision.h"
#include "util.h"

/* The stages in which the addresses matter: pairing and discover. */
static bool
pairing(const struct diyrun *d)
{
	int s = d->eng.cur;

	return d->rd.f.pair.on && (s == RDIY_WAIT_AP || s == RDIY_PROVISIONING ||
				   s == RDIY_POSTED || s == RDIY_PROV_PAUSE ||
				   s == RDIY_WAIT_HOME || s == RDIY_DISCOVER);
}

static void
prov_done(void *arg, enum prov_result r, const char *deviceid)
{
	struct diyrun *d = arg;
	struct prov *p = d->pr.prov;
	struct route_diy_pair *f = &d->rd.f.pair;

	d->pr.prov = NULL; /* the run is over: released (allowed from inside its callback) */
	if (deviceid)
		util_strlcpy(f->deviceid, deviceid, sizeof(f->deviceid));
	f->post_sent = prov_post_sent(p);
	prov_cancel(p);
	switch (r) {
	case PROV_OK:
		ui_say(d->ui, "Device %s accepted the WiFi settings for \"%s\" and leaves its AP "
			      "now.", f->deviceid[0] ? f->deviceid : "?", f->ssid);
		engine_post(&d->eng, RDIY_EV_PROV_OK);
		break;
	case PROV_POSTED_NO_REPLY:
		log_notice(d->log, "device %s took the WiFi settings without replying; "
				   "provisioned if its AP now goes away",
			   f->deviceid[0] ? f->deviceid : "?");
		engine_post(&d->eng, RDIY_EV_PROV_NO_REPLY);
		break;
	case PROV_CANCELLED:
		break;
	default:
		log_warn(d->log, "provisioning failed (%s): %s", prov_result_name(r),
			 r == PROV_DEVICE_UNREACHABLE ? "no answer from 10.10.7.1"
			 : r == PROV_REJECTED	      ? "the device refused the settings"
						      : "the answer was not a Sonoff's");
		engine_post(&d->eng, RDIY_EV_PROV_FAILED);
		break;
	}
}

void
diyrun_pair_prov_start(void *arg)
{
	struct diyrun *d = arg;
	const char *server = d->cfg->serving_host ? d->cfg->serving_host
			     : d->pr.home_ip[0]   ? d->pr.home_ip
						  : "10.10.7.2"; /* no home address known */
	struct prov_opts o = {
		.ssid = d->cfg->wifi_ssid,
		.password = d->cfg->wifi_password,
		.server_name = server,
		.server_port = d->cfg->https_port,
	};
	int r;

	diyrun_pair_prov_stop(d);
	r = prov_start(d->lws, d->vh, &o, d->log, prov_done, d, &d->pr.prov);
	if (r < 0) {
		log_err(d->log, "cannot start provisioning: %s (our bug)", strerror(-r));
		d->exit_code = SONOTA_EXIT_FAILURE;
		engine_post(&d->eng, RDIY_EV_FATAL);
	}
}

void
diyrun_pair_prov_stop(void *arg)
{
	struct diyrun *d = arg;

	prov_cancel(d->pr.prov);
	d->pr.prov = NULL;
}

/* 169.254.0.0/16: no home network gives it */
static bool
link_local(struct in_addr a)
{
	return (ntohl(a.s_addr) & 0xffff0000u) == 0xa9fe0000u;
}

/* 10.10.7.0/24, the device's AP subnet (netwatch_is_device_ap() leaves out .0, .1, .255) */
static bool
ap_subnet(struct in_addr a)
{
	return (ntohl(a.s_addr) & 0xffffff00u) == 0x0a0a0700u;
}

void
diyrun_pair_addr(void *arg, bool added, const struct netwatch_addr *a)
{
	struct diyrun *d = arg;
	struct route_diy_pair *f = &d->rd.f.pair;
	char ip[INET_ADDRSTRLEN];
	bool post = pairing(d);

	inet_ntop(AF_INET, &a->addr, ip, sizeof(ip));
	log_debug(d->log, "address %s %s/%u on %s", added ? "added" : "removed", ip,
		  a->prefixlen, a->ifname);
	if (netwatch_is_device_ap(a->addr)) {
		if (f->have_ap == added)
			return;
		f->have_ap = added;
		if (added) {
			f->runs = 0; /* a new pairing AP session */
			f->posted_unanswered = false;
		} else {
			f->post_sent = f->post_sent || prov_post_sent(d->pr.prov);
		}
		log_notice(d->log, "this computer %s the device's WiFi (%s)",
			   added ? "joined" : "left", ip);
		if (post)
			engine_post(&d->eng, added ? RDIY_EV_AP_UP : RDIY_EV_AP_DOWN);
		return;
	}
	if (ap_subnet(a->addr) || link_local(a->addr))
		return;
	if (added) {
		d->pr.home_addrs++;
		if (!d->pr.home_ip[0])
			util_strlcpy(d->pr.home_ip, ip, sizeof(d->pr.home_ip));
	} else if (d->pr.home_addrs) {
		d->pr.home_addrs--;
	}
	if (f->have_home == (d->pr.home_addrs > 0))
		return;
	f->have_home = d->pr.home_addrs > 0;
	log_notice(d->log, f->have_home ? "this computer has an address off the device's WiFi "
					  "(%s)" : "this computer has no address off the device's "
					  "WiFi any more (%s went)", ip);
	if (post)
		engine_post(&d->eng, f->have_home ? RDIY_EV_HOME_UP : RDIY_EV_HOME_DOWN);
}

#ifdef SONOTA_WITH_NM
bool
diyrun_pair_found(struct diyrun *d, const struct avahi_dev *a)
{
	const struct route_diy_pair *f = &d->rd.f.pair;
	bool lan = a->dev.mode == DNSSD_MODE_LAN;

	if (!f->deviceid[0]) { /* before pairing (or GET /device never answered) */
		if (d->eng.cur != RDIY_DISCOVER) {
			log_info(d->log, "mDNS: %s seen before pairing: not the device to pair",
				 a->instance);
			return true;
		}
		return false; /* the id is unknown: as without --pair */
	}
	if (strcasecmp(a->dev.id, f->deviceid) != 0) {
		log_info(d->log, "mDNS: %s is not the paired device %s: ignored", a->instance,
			 f->deviceid);
		return true;
	}
	if (d->eng.cur != RDIY_DISCOVER) { /* not home yet as the route sees it: later */
		d->pr.pend = true;
		d->pr.pend_lan = lan;
		d->pr.pend_multi = a->dev.multi_channel;
		util_strlcpy(d->pr.pend_addr, a->addr, sizeof(d->pr.pend_addr));
		return true;
	}
	if (lan) {
		log_notice(d->log, "mDNS: %s at %s: eWeLink LAN mode after pairing", a->instance,
			   a->addr);
		util_strlcpy(d->deviceid, a->dev.id, sizeof(d->deviceid)); /* for the summary */
		util_strlcpy(d->device_ip, a->addr, sizeof(d->device_ip));
		engine_post(&d->eng, RDIY_EV_LAN_MODE);
		return true;
	}
	return false;
}
#endif

void
diyrun_pair_entered(struct diyrun *d, int to)
{
	if (!d->rd.f.pair.on || to != RDIY_DISCOVER)
		return;
	ui_say(d->ui, "Looking for %s on this network in DIY mode (mDNS _ewelink._tcp)...",
	       d->rd.f.pair.deviceid[0] ? d->rd.f.pair.deviceid : "the device");
	if (!d->pr.pend)
		return;
	d->pr.pend = false;
	log_notice(d->log, "mDNS: the paired device was announced at %s before discover",
		   d->pr.pend_addr);
	if (d->pr.pend_lan)
		engine_post(&d->eng, RDIY_EV_LAN_MODE);
	/* a DIY-mode announcement is replayed by Avahi's resolver (FOUND again on any TXT
	 * change) or found here: */
	else
		diyrun_found_at(d, d->pr.pend_addr, d->rd.f.pair.deviceid, d->pr.pend_multi);
}

void
diyrun_pair_fini(struct diyrun *d)
{
	prov_cancel(d->pr.prov);
	d->pr.prov = NULL;
}

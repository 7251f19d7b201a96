/* avahi: browse _ewelink._tcp (IPv4) through the host's avahi-daemon over sd-bus,
 * asynchronously, on a shared struct bus (bus.h). Issue 11 §1, docs/diy.md "Discovery".
 *
 * No libavahi-client, no subprocess, no polling: avahi_start asks the bus who owns
 * org.freedesktop.Avahi (GetNameOwner), then Server2.ServiceBrowserPrepare +
 * ServiceBrowser.Start (the signal matches are in place before Start, so the first
 * ItemNew cannot be lost; an Avahi older than 0.8, without Server2, is GONE), and for each
 * item a ServiceResolver (ServiceResolverPrepare + Start, IPv4 addresses) whose Found
 * signals carry the TXT record (aay) into dnssd_txt_add()/dnssd_classify(). Every
 * call is sd_bus_call_method_async; the pure decisions are in avahicore.h.
 *
 * Events, on the lws thread, through cb (never from inside avahi_start):
 *  - AVAHI_EV_FOUND: an item resolved; again when its TXT changes (the resolver stays).
 *    A device seen on two interfaces is reported once per interface.
 *  - AVAHI_EV_REMOVED: Avahi's ItemRemove (a goodbye, or the record's TTL expired):
 *    dev->instance and dev->dev.id are set, the rest only if it was resolved before.
 *  - AVAHI_EV_ALL_FOR_NOW: Avahi's AllForNow (the cache was read and the first
 *    queries had their time; more devices may still come).
 *  - AVAHI_EV_GONE (last event, once): no owner of org.freedesktop.Avahi, the daemon
 *    left the bus, the bus was lost, or the browse failed; why is one line.
 * At most AVAHI_DEV_MAX items are tracked (more are logged once and ignored).
 */
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include "dnssd.h"

struct bus;
struct log;
struct avahi;

struct avahi_dev {
	const char *instance;        /* "eWeLink_1000abcdef" */
	struct dnssd_device dev;     /* dnssd_classify() of its TXT */
	char addr[INET_ADDRSTRLEN];  /* IPv4 literal from the resolver */
	uint16_t port;
};

enum avahi_ev_type {
	AVAHI_EV_FOUND,     /* resolved (again, with new TXT: FOUND again) */
	AVAHI_EV_REMOVED,   /* ItemRemove: goodbye or expiry; dev->instance set, dev->dev.id set */
	AVAHI_EV_ALL_FOR_NOW,
	AVAHI_EV_GONE,      /* no avahi-daemon, or it left the bus: why says so */
};

struct avahi_ev {
	enum avahi_ev_type type;
	const struct avahi_dev *dev; /* FOUND, REMOVED; valid during the call only */
	const char *why;             /* GONE */
};

/* Called on the lws thread; avahi_stop may be called from here. */
typedef void (*avahi_cb)(void *arg, const struct avahi_ev *ev);

/* Start browsing on bus (borrowed: it must outlive the browser; avahi_stop before
 * bus_close). log may be NULL. Returns 0 and *ret, or -EINVAL, -ENOMEM, -ENOTCONN
 * (the bus is lost already). "No avahi-daemon" is not an error here: it is the
 * first event (GONE). */
int avahi_start(struct bus *bus, struct log *log, avahi_cb cb, void *arg, struct avahi **ret);

/* Stop: the browser and resolvers are freed on the daemon's side, matches and
 * pending calls dropped; no event after. NULL-safe, also from inside cb. */
void avahi_stop(struct avahi *a);

const char *avahi_ev_name(enum avahi_ev_type t); /* "found", "removed", "all-for-now", "gone" */

/* avahi: see avahi.h. This file is the sd-bus adapter; avahicore.c decides.
 *
 * Re-entrancy: replies, signals, the bus-lost listener and the start timer enter
 * through enter()/leave(); avahi_stop called from the user callback inside them
 * only sets a flag, and leave() frees once the outermost entry returns. After
 * AVAHI_EV_GONE every slot is dropped: nothing more can arrive.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <systemd/sd-bus.h>

#include "avahi.h"
#include "avahicore.h"
#include "bus.h"
#include "log.h"

#define AV_BUS "org.freedesktop.Avahi"
#define AV_SERVER2 "org.freedesktop.Avahi.Server2" /* Avahi 0.8: the *Prepare calls */
#define AV_BROWSER "org.freedesktop.Avahi.ServiceBrowser"
#define AV_RESOLVER "org.freedesktop.Avahi.ServiceResolver"
#define AV_IF_UNSPEC (-1)  /* AVAHI_IF_UNSPEC: every interface */
#define AV_PROTO_INET 0    /* AVAHI_PROTO_INET: mDNS over IPv4, and IPv4 addresses */
#define AV_OWNER_MAX 64    /* a unique bus name, ":1.1234" */
#define AV_WHY_MAX 256     /* one GONE line */

struct avahi;

struct avahi_slot {            /* one item's call in flight (its resolver) */
	struct avahi *a;
	int i;                 /* index in a->t */
	sd_bus_slot *call;
};

struct avahi {
	struct bus *bus;                 /* borrowed */
	struct log *log;                 /* borrowed, may be NULL */
	avahi_cb cb;
	void *arg;
	lws_sorted_usec_list_t start;    /* the first call runs from the loop */
	sd_bus_slot *m_owner, *m_browser, *m_resolver; /* signal matches */
	sd_bus_slot *call;               /* the browser's call in flight */
	struct avahi_slot slots[AVAHI_DEV_MAX];
	char owner[AV_OWNER_MAX];        /* avahi-daemon's unique name */
	char browser[AVAHI_PATH_MAX];    /* our ServiceBrowser object */
	bool full_logged;                /* "more than AVAHI_DEV_MAX" said once */
	bool gone;                       /* GONE emitted */
	bool listening;                  /* bus_listen_lost registered */
	unsigned depth;                  /* > 0 inside a callback */
	bool stopping;                   /* avahi_stop called inside one */
	struct avahicore_table t;
};

static void av_free(struct avahi *a);

const char *
avahi_ev_name(enum avahi_ev_type t)
{
	switch (t) {
	case AVAHI_EV_FOUND:
		return "found";
	case AVAHI_EV_REMOVED:
		return "removed";
	case AVAHI_EV_ALL_FOR_NOW:
		return "all-for-now";
	case AVAHI_EV_GONE:
		return "gone";
	}
	return "?";
}

static void
enter(struct avahi *a)
{
	a->depth++;
}

/* true when a was freed */
static bool
leave(struct avahi *a)
{
	if (--a->depth == 0 && a->stopping) {
		av_free(a);
		return true;
	}
	return false;
}

static void
emit(struct avahi *a, enum avahi_ev_type type, const struct avahi_dev *dev, const char *why)
{
	struct avahi_ev ev = { .type = type, .dev = dev, .why = why };

	if (!a->stopping && !a->gone)
		a->cb(a->arg, &ev);
}

static void
drop_slots(struct avahi *a)
{
	a->m_owner = sd_bus_slot_unref(a->m_owner);
	a->m_browser = sd_bus_slot_unref(a->m_browser);
	a->m_resolver = sd_bus_slot_unref(a->m_resolver);
	a->call = sd_bus_slot_unref(a->call);
	for (int i = 0; i < AVAHI_DEV_MAX; i++)
		a->slots[i].call = sd_bus_slot_unref(a->slots[i].call);
}

static void
gone(struct avahi *a, enum avahicore_gone g, const char *detail)
{
	char why[AV_WHY_MAX];

	if (a->gone)
		return;
	avahicore_gone_why(g, detail, why, sizeof(why));
	drop_slots(a);
	if (a->log)
		log_debug(a->log, "mDNS: %s", why);
	emit(a, AVAHI_EV_GONE, NULL, why);
	a->gone = true;
}

static bool
from_avahi(struct avahi *a, sd_bus_message *m)
{
	const char *s = sd_bus_message_get_sender(m);

	return a->owner[0] && s && !strcmp(s, a->owner);
}

/* ---- resolving ------------------------------------------------------------------ */

/* The body of ServiceResolver.Found and of the ResolveService reply:
 * iissssisqaayu (interface, protocol, name, type, domain, host, aprotocol, address,
 * port, txt, flags). */
static void
resolved(struct avahi *a, int i, sd_bus_message *m)
{
	struct avahicore_item *it = &a->t.it[i];
	struct avahicore_bytes txt[AVAHI_TXT_STRINGS_MAX];
	const char *name, *type, *domain, *host, *addr;
	int32_t ifindex, proto, aproto;
	uint16_t port;
	size_t n = 0;
	int r;

	r = sd_bus_message_read(m, "iissssisq", &ifindex, &proto, &name, &type, &domain, &host,
				&aproto, &addr, &port);
	if (r >= 0)
		r = sd_bus_message_enter_container(m, 'a', "ay");
	while (r >= 0) {
		const void *p;
		size_t len;

		r = sd_bus_message_read_array(m, 'y', &p, &len);
		if (r <= 0)
			break;
		if (n < AVAHI_TXT_STRINGS_MAX)
			txt[n] = (struct avahicore_bytes){ p, len };
		n++; /* counted past the limit: avahicore_found refuses the record */
	}
	if (r < 0) {
		if (a->log)
			log_info(a->log, "mDNS: unreadable answer for %s: %s", it->name,
				 strerror(-r));
		return;
	}
	if (avahicore_found(it, addr, port, txt, n) < 0) {
		if (a->log)
			log_info(a->log, "mDNS: %s resolved to %s, not an IPv4 address", it->name,
				 addr);
		return;
	}
	if (a->log)
		log_debug(a->log, "mDNS: %s at %s:%u (%s, %s)", it->name, it->dev.addr,
			  it->dev.port, dnssd_mode_name(it->dev.dev.mode),
			  it->dev.dev.why ? it->dev.dev.why : "ok");
	emit(a, AVAHI_EV_FOUND, &it->dev, NULL);
}

static int
on_resolve_reply(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi_slot *s = ud;
	struct avahi *a = s->a;
	struct avahicore_item *it = &a->t.it[s->i];
	const sd_bus_error *e = sd_bus_message_get_error(m);

	s->call = sd_bus_slot_unref(s->call);
	enter(a);
	if (e) {
		if (a->log)
			log_info(a->log, "mDNS: cannot resolve %s: %s", it->name,
				 e->message ? e->message : e->name);
	} else if (!it->resolver[0]) {
		const char *path;

		/* ServiceResolverPrepare: the object exists, its match is in place */
		if (sd_bus_message_read(m, "o", &path) >= 0 &&
		    strlen(path) < sizeof(it->resolver)) {
			snprintf(it->resolver, sizeof(it->resolver), "%s", path);
			if (sd_bus_call_method_async(bus_sd(a->bus), &s->call, AV_BUS, path,
						     AV_RESOLVER, "Start", on_resolve_reply, s,
						     "") < 0 &&
			    a->log)
				log_info(a->log, "mDNS: cannot start resolving %s", it->name);
		}
	}
	leave(a);
	return 0;
}

static void
item_new(struct avahi *a, int32_t ifindex, int32_t proto, const char *name, const char *type,
	 const char *domain)
{
	struct avahi_slot *s;
	int i, r;

	if (avahicore_find(&a->t, ifindex, proto, name, domain) >= 0)
		return; /* already resolving: its resolver reports changes */
	i = avahicore_add(&a->t, ifindex, proto, name, domain);
	if (i < 0) {
		if (a->log && (i != -ENOSPC || !a->full_logged))
			log_warn(a->log, "mDNS: ignoring %s: %s%d%s", name,
				 i == -ENOSPC ? "more than " : "name longer than ",
				 i == -ENOSPC ? AVAHI_DEV_MAX : AVAHI_NAME_MAX,
				 i == -ENOSPC ? " devices announced" : " bytes");
		a->full_logged |= i == -ENOSPC;
		return;
	}
	s = &a->slots[i];
	s->a = a;
	s->i = i;
	r = sd_bus_call_method_async(bus_sd(a->bus), &s->call, AV_BUS, "/", AV_SERVER2,
				     "ServiceResolverPrepare", on_resolve_reply, s, "iisssiu",
				     ifindex, proto, name, type, domain, AV_PROTO_INET, 0u);
	if (r < 0 && a->log)
		log_info(a->log, "mDNS: cannot resolve %s: %s", name, strerror(-r));
}

static void
item_remove(struct avahi *a, int32_t ifindex, int32_t proto, const char *name,
	    const char *domain)
{
	int i = avahicore_find(&a->t, ifindex, proto, name, domain);
	struct avahicore_item *it;

	if (i < 0)
		return;
	it = &a->t.it[i];
	a->slots[i].call = sd_bus_slot_unref(a->slots[i].call);
	if (it->resolver[0]) /* no reply wanted: the object goes either way */
		(void)sd_bus_call_method_async(bus_sd(a->bus), NULL, AV_BUS, it->resolver,
					       AV_RESOLVER, "Free", NULL, NULL, "");
	if (a->log)
		log_debug(a->log, "mDNS: %s withdrawn", it->name);
	emit(a, AVAHI_EV_REMOVED, avahicore_removed(it), NULL);
	if (!a->stopping && !a->gone)
		avahicore_del(&a->t, i);
}

static int
on_resolver_signal(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi *a = ud;
	int i;

	if (a->gone || !from_avahi(a, m))
		return 0;
	i = avahicore_by_resolver(&a->t, sd_bus_message_get_path(m));
	if (i < 0)
		return 0;
	enter(a);
	if (sd_bus_message_is_signal(m, AV_RESOLVER, "Found")) {
		resolved(a, i, m);
	} else if (sd_bus_message_is_signal(m, AV_RESOLVER, "Failure")) {
		const char *err = NULL;

		(void)sd_bus_message_read(m, "s", &err);
		if (a->log)
			log_info(a->log, "mDNS: cannot resolve %s: %s", a->t.it[i].name,
				 err ? err : "?");
	}
	leave(a);
	return 0;
}

/* ---- browsing ------------------------------------------------------------------- */

static int
on_browser_signal(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi *a = ud;
	const char *path = sd_bus_message_get_path(m);
	const char *name, *type, *domain;
	int32_t ifindex, proto;
	uint32_t flags;

	/* our browser only (its path is known before Start: no signal comes earlier) */
	if (a->gone || !from_avahi(a, m) || !path || strcmp(path, a->browser))
		return 0;
	enter(a);
	if (sd_bus_message_is_signal(m, AV_BROWSER, "ItemNew")) {
		if (sd_bus_message_read(m, "iisssu", &ifindex, &proto, &name, &type, &domain,
					&flags) >= 0)
			item_new(a, ifindex, proto, name, type, domain);
	} else if (sd_bus_message_is_signal(m, AV_BROWSER, "ItemRemove")) {
		if (sd_bus_message_read(m, "iisssu", &ifindex, &proto, &name, &type, &domain,
					&flags) >= 0)
			item_remove(a, ifindex, proto, name, domain);
	} else if (sd_bus_message_is_signal(m, AV_BROWSER, "AllForNow")) {
		emit(a, AVAHI_EV_ALL_FOR_NOW, NULL, NULL);
	} else if (sd_bus_message_is_signal(m, AV_BROWSER, "Failure")) {
		const char *err = NULL;

		(void)sd_bus_message_read(m, "s", &err);
		gone(a, AVAHICORE_GONE_FAILURE, err);
	}
	leave(a);
	return 0;
}

static int on_browser_reply(sd_bus_message *m, void *ud, sd_bus_error *unused);

static int
call_browser(struct avahi *a)
{
	return sd_bus_call_method_async(bus_sd(a->bus), &a->call, AV_BUS, "/", AV_SERVER2,
					"ServiceBrowserPrepare", on_browser_reply, a, "iissu",
					AV_IF_UNSPEC, AV_PROTO_INET, DNSSD_SERVICE, "", 0u);
}

/* The reply to ServiceBrowserPrepare (then Start), or to Start. */
static int
on_browser_reply(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi *a = ud;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *path;
	int r = 0;

	a->call = sd_bus_slot_unref(a->call);
	enter(a);
	if (e && !a->browser[0] && sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD)) {
		/* Avahi < 0.8 has no Server2 (and its ServiceBrowserNew may lose the
		 * first ItemNew): not supported */
		gone(a, AVAHICORE_GONE_REFUSED, "avahi-daemon older than 0.8 (no Server2 "
						"interface)");
	} else if (e) {
		gone(a, AVAHICORE_GONE_REFUSED, e->message ? e->message : e->name);
	} else if (!a->browser[0]) {
		if (sd_bus_message_read(m, "o", &path) < 0 ||
		    strlen(path) >= sizeof(a->browser)) {
			gone(a, AVAHICORE_GONE_REFUSED, "unreadable browser object path");
		} else {
			snprintf(a->browser, sizeof(a->browser), "%s", path);
			r = sd_bus_call_method_async(bus_sd(a->bus), &a->call, AV_BUS, a->browser,
						     AV_BROWSER, "Start", on_browser_reply, a, "");
		}
	}
	if (r < 0)
		gone(a, AVAHICORE_GONE_REFUSED, strerror(-r));
	leave(a);
	return 0;
}

static int
on_owner_reply(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi *a = ud;
	const char *owner = NULL;
	int r;

	a->call = sd_bus_slot_unref(a->call);
	enter(a);
	if (sd_bus_message_is_method_error(m, NULL) ||
	    sd_bus_message_read(m, "s", &owner) < 0 || !owner || !owner[0] ||
	    strlen(owner) >= sizeof(a->owner)) {
		gone(a, AVAHICORE_GONE_NO_OWNER, NULL);
	} else {
		snprintf(a->owner, sizeof(a->owner), "%s", owner);
		r = call_browser(a);
		if (r < 0)
			gone(a, AVAHICORE_GONE_REFUSED, strerror(-r));
	}
	leave(a);
	return 0;
}

static int
on_name_owner(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct avahi *a = ud;
	const char *name, *old, *new;

	if (a->gone || sd_bus_message_read(m, "sss", &name, &old, &new) < 0 ||
	    strcmp(name, AV_BUS) || !a->owner[0] || strcmp(old, a->owner))
		return 0;
	enter(a);
	gone(a, AVAHICORE_GONE_LEFT, NULL);
	leave(a);
	return 0;
}

static void
on_bus_lost(void *arg, int err)
{
	struct avahi *a = arg;

	a->listening = false; /* bus.c removed us before calling */
	enter(a);
	gone(a, AVAHICORE_GONE_BUS_LOST, NULL);
	leave(a);
}

static void
on_start(lws_sorted_usec_list_t *sul)
{
	struct avahi *a = lws_container_of(sul, struct avahi, start);
	int r;

	enter(a);
	r = sd_bus_call_method_async(bus_sd(a->bus), &a->call, "org.freedesktop.DBus",
				     "/org/freedesktop/DBus", "org.freedesktop.DBus",
				     "GetNameOwner", on_owner_reply, a, "s", AV_BUS);
	if (r < 0)
		gone(a, AVAHICORE_GONE_BUS_LOST, NULL);
	if (!leave(a))
		bus_kick(a->bus);
}

int
avahi_start(struct bus *bus, struct log *log, avahi_cb cb, void *arg, struct avahi **ret)
{
	struct avahi *a;
	sd_bus *sd;
	int r;

	if (!bus || !cb || !ret)
		return -EINVAL;
	if (!bus_alive(bus))
		return -ENOTCONN;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->bus = bus;
	a->log = log;
	a->cb = cb;
	a->arg = arg;
	sd = bus_sd(bus);
	/* installed locally at once, AddMatch sent ahead of every later call */
	r = sd_bus_add_match_async(sd, &a->m_owner,
				   "type='signal',sender='org.freedesktop.DBus',"
				   "path='/org/freedesktop/DBus',interface='org.freedesktop.DBus',"
				   "member='NameOwnerChanged',arg0='" AV_BUS "'",
				   on_name_owner, NULL, a);
	if (r >= 0)
		r = sd_bus_add_match_async(sd, &a->m_browser,
					   "type='signal',interface='" AV_BROWSER "'",
					   on_browser_signal, NULL, a);
	if (r >= 0)
		r = sd_bus_add_match_async(sd, &a->m_resolver,
					   "type='signal',interface='" AV_RESOLVER "'",
					   on_resolver_signal, NULL, a);
	if (r >= 0) {
		r = bus_listen_lost(bus, on_bus_lost, a);
		a->listening = r >= 0;
	}
	if (r < 0) {
		av_free(a);
		return r;
	}
	/* the first call from the loop: no event before the caller has *ret */
	lws_sul_schedule(bus_context(bus), 0, &a->start, on_start, 1);
	*ret = a;
	return 0;
}

static void
av_free(struct avahi *a)
{
	lws_sul_cancel(&a->start);
	if (a->listening)
		bus_unlisten_lost(a->bus, on_bus_lost, a);
	if (!a->gone && a->browser[0] && bus_alive(a->bus)) {
		/* our objects go with our connection anyway; free them now for a shared one */
		for (int i = 0; i < AVAHI_DEV_MAX; i++)
			if (a->t.it[i].used && a->t.it[i].resolver[0])
				(void)sd_bus_call_method_async(bus_sd(a->bus), NULL, AV_BUS,
							       a->t.it[i].resolver, AV_RESOLVER,
							       "Free", NULL, NULL, "");
		(void)sd_bus_call_method_async(bus_sd(a->bus), NULL, AV_BUS, a->browser, AV_BROWSER,
					       "Free", NULL, NULL, "");
		bus_kick(a->bus);
	}
	drop_slots(a);
	free(a);
}

void
avahi_stop(struct avahi *a)
{
	if (!a)
		return;
	if (a->depth) {
		a->stopping = true;
		return;
	}
	av_free(a);
}

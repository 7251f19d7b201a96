/* avahicore: see avahicore.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "avahicore.h"

static bool
same_key(const struct avahicore_item *it, int32_t ifindex, int32_t proto, const char *name,
	 const char *domain)
{
	return it->used && it->ifindex == ifindex && it->proto == proto &&
	       !strcmp(it->name, name) && !strcmp(it->domain, domain ? domain : "");
}

int
avahicore_find(const struct avahicore_table *t, int32_t ifindex, int32_t proto,
	       const char *name, const char *domain)
{
	if (!t || !name)
		return -ENOENT;
	for (int i = 0; i < AVAHI_DEV_MAX; i++)
		if (same_key(&t->it[i], ifindex, proto, name, domain))
			return i;
	return -ENOENT;
}

int
avahicore_by_resolver(const struct avahicore_table *t, const char *path)
{
	if (!t || !path || !path[0])
		return -ENOENT;
	for (int i = 0; i < AVAHI_DEV_MAX; i++)
		if (t->it[i].used && !strcmp(t->it[i].resolver, path))
			return i;
	return -ENOENT;
}

int
avahicore_add(struct avahicore_table *t, int32_t ifindex, int32_t proto, const char *name,
	      const char *domain)
{
	int i;

	if (!t || !name || !name[0])
		return -EINVAL;
	if (!domain)
		domain = "";
	if (strlen(name) > AVAHI_NAME_MAX || strlen(domain) > AVAHI_DOMAIN_MAX)
		return -E2BIG;
	i = avahicore_find(t, ifindex, proto, name, domain);
	if (i >= 0)
		return i;
	for (i = 0; i < AVAHI_DEV_MAX; i++) {
		struct avahicore_item *it = &t->it[i];

		if (it->used)
			continue;
		memset(it, 0, sizeof(*it));
		it->used = true;
		it->ifindex = ifindex;
		it->proto = proto;
		snprintf(it->name, sizeof(it->name), "%s", name);
		snprintf(it->domain, sizeof(it->domain), "%s", domain);
		it->dev.instance = it->name;
		return i;
	}
	return -ENOSPC;
}

void
avahicore_del(struct avahicore_table *t, int i)
{
	if (t && i >= 0 && i < AVAHI_DEV_MAX)
		memset(&t->it[i], 0, sizeof(t->it[i]));
}

/* A record we cannot read: listed as unsupported, with the id of its name. */
static void
unreadable(struct avahicore_item *it, const char *why)
{
	struct dnssd_device *d = &it->dev.dev;

	memset(d, 0, sizeof(*d));
	d->mode = DNSSD_MODE_UNSUPPORTED;
	d->route = DIY_ROUTE_UNKNOWN;
	if (dnssd_id_from_instance(it->name, d->id) < 0)
		d->id[0] = '\0';
	d->why = why;
}

int
avahicore_found(struct avahicore_item *it, const char *addr, uint16_t port,
		const struct avahicore_bytes *txt, size_t n)
{
	struct in_addr a;
	struct dnssd_txt t;
	int r = 0;

	if (!it || !it->used || !addr || inet_pton(AF_INET, addr, &a) != 1)
		return -EINVAL;
	if (n && !txt)
		return -EINVAL;
	snprintf(it->dev.addr, sizeof(it->dev.addr), "%s", addr);
	it->dev.port = port;
	it->dev.instance = it->name;
	it->resolved = true;
	if (n > AVAHI_TXT_STRINGS_MAX) {
		unreadable(it, "its TXT record has too many strings to be an eWeLink announcement");
		return 0;
	}
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < n && r == 0; i++)
		r = dnssd_txt_add(&t, txt[i].p, txt[i].len);
	if (r == -E2BIG)
		unreadable(it, "its TXT record is larger than an eWeLink announcement "
			       "(1300 bytes) or a value overflows its field");
	else if (r < 0)
		unreadable(it, "its TXT record is malformed");
	else
		dnssd_classify(&t, it->name, &it->dev.dev);
	return 0;
}

const struct avahi_dev *
avahicore_removed(struct avahicore_item *it)
{
	if (!it || !it->used)
		return NULL;
	it->dev.instance = it->name;
	if (!it->resolved)
		unreadable(it, "withdrawn before it was resolved");
	return &it->dev;
}

const char *
avahicore_gone_why(enum avahicore_gone g, const char *detail, char *out, size_t len)
{
	const char *d = detail && detail[0] ? detail : "no reason given";

	if (!out || !len)
		return out;
	switch (g) {
	case AVAHICORE_GONE_NO_OWNER:
		snprintf(out, len, "avahi-daemon is not running (nobody owns org.freedesktop.Avahi "
				   "on the system D-Bus)");
		break;
	case AVAHICORE_GONE_LEFT:
		snprintf(out, len, "avahi-daemon left the system D-Bus (stopped or restarted)");
		break;
	case AVAHICORE_GONE_BUS_LOST:
		snprintf(out, len, "the system D-Bus connection was lost");
		break;
	case AVAHICORE_GONE_REFUSED:
		snprintf(out, len, "avahi-daemon refused to browse %s: %s", DNSSD_SERVICE, d);
		break;
	case AVAHICORE_GONE_FAILURE:
	default:
		snprintf(out, len, "avahi-daemon's browse of %s failed: %s", DNSSD_SERVICE, d);
		break;
	}
	return out;
}

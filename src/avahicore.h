/* avahicore: the pure part of the Avahi browser (avahi.h): the table of browse items
 * (one per interface, protocol, instance name and domain, as Avahi reports them),
 * what a resolver's answer makes of an item (its address checked, its TXT strings
 * decoded and classified by dnssd.h), and the one-line reasons of AVAHI_EV_GONE.
 * No I/O, no D-Bus, no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avahi.h"

#define AVAHI_DEV_MAX 64          /* items tracked; the same bound as --scan's listing
				   * (DIYSCAN_MAX): more is not a home LAN */
#define AVAHI_NAME_MAX 63         /* an instance name is one DNS label (RFC 6763 §4.1.1) */
#define AVAHI_DOMAIN_MAX 253      /* a DNS name */
#define AVAHI_PATH_MAX 96         /* Avahi's object paths: "/Client12/ServiceResolver345" */
#define AVAHI_TXT_STRINGS_MAX 64  /* TXT strings read from one record: a 1300-byte record
				   * (DNSSD_TXT_MAX) of eWeLink keys holds about 10 */

struct avahicore_item {
	bool used;
	bool resolved;                         /* dev holds a resolver's answer */
	int32_t ifindex, proto;                /* Avahi's interface index and protocol */
	char name[AVAHI_NAME_MAX + 1];         /* instance name */
	char domain[AVAHI_DOMAIN_MAX + 1];
	char resolver[AVAHI_PATH_MAX];         /* its ServiceResolver object, "" until known */
	struct avahi_dev dev;                  /* dev.instance points at name */
};

struct avahicore_table {
	struct avahicore_item it[AVAHI_DEV_MAX];
};

/* The index of an item, or -ENOENT. */
int avahicore_find(const struct avahicore_table *t, int32_t ifindex, int32_t proto,
		   const char *name, const char *domain);

/* The item of a resolver object path, or -ENOENT ("" never matches). */
int avahicore_by_resolver(const struct avahicore_table *t, const char *path);

/* Add an item (or find it again): its index, or -ENOSPC (table full), -E2BIG (a name or
 * domain longer than its limit), -EINVAL (NULL or empty name). */
int avahicore_add(struct avahicore_table *t, int32_t ifindex, int32_t proto, const char *name,
		  const char *domain);

void avahicore_del(struct avahicore_table *t, int i);

/* One TXT string as the resolver hands it over (one element of the aay). */
struct avahicore_bytes {
	const uint8_t *p;
	size_t len;
};

/* A resolver's answer for item it: addr must be an IPv4 literal (-EINVAL otherwise, it
 * unchanged). The TXT strings go through dnssd_txt_add and dnssd_classify with the
 * instance name; a record that breaks a limit (more than AVAHI_TXT_STRINGS_MAX strings,
 * more than DNSSD_TXT_MAX bytes) or a malformed string makes the device
 * DNSSD_MODE_UNSUPPORTED with why saying so and the id taken from the instance name.
 * Returns 0 with it->dev filled and it->resolved set. */
int avahicore_found(struct avahicore_item *it, const char *addr, uint16_t port,
		    const struct avahicore_bytes *txt, size_t n);

/* The device of an ItemRemove: it->dev with instance set and dev.id set (from the
 * instance name when it was never resolved). */
const struct avahi_dev *avahicore_removed(struct avahicore_item *it);

enum avahicore_gone {
	AVAHICORE_GONE_NO_OWNER,    /* no owner of org.freedesktop.Avahi */
	AVAHICORE_GONE_LEFT,        /* the owner left the bus */
	AVAHICORE_GONE_BUS_LOST,    /* the system bus connection is gone */
	AVAHICORE_GONE_REFUSED,     /* a browse call failed; detail: the D-Bus error */
	AVAHICORE_GONE_FAILURE,     /* the browser's Failure signal; detail: its text */
};

/* The one-line why of AVAHI_EV_GONE into out (cut to len, always terminated); detail
 * may be NULL. Returns out. */
const char *avahicore_gone_why(enum avahicore_gone g, const char *detail, char *out, size_t len);

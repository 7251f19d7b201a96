/* Unit tests of src/avahicore.c: the browse-item table and its limits, a resolver's
 * answer (address, TXT strings as Avahi hands them over) made into an avahi_dev, the
 * device of an ItemRemove, and the GONE lines (issue 11 §1, docs/diy.md "Discovery").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "avahicore.h"
#include "check.h"

#define S(str) { (const uint8_t *)(str), sizeof(str) - 1 }

static void
test_table(void)
{
	static struct avahicore_table t;
	char name[AVAHI_NAME_MAX + 2];
	int i, j;

	memset(&t, 0, sizeof(t));
	i = avahicore_add(&t, 2, 0, "eWeLink_1000aaaa01", "local");
	CHECK(i >= 0);
	CHECK_INT(avahicore_add(&t, 2, 0, "eWeLink_1000aaaa01", "local"), i); /* found again */
	CHECK_INT(avahicore_find(&t, 2, 0, "eWeLink_1000aaaa01", "local"), i);
	CHECK_STR(t.it[i].dev.instance, "eWeLink_1000aaaa01");
	/* another interface is another item */
	j = avahicore_add(&t, 3, 0, "eWeLink_1000aaaa01", "local");
	CHECK(j >= 0 && j != i);
	CHECK_INT(avahicore_find(&t, 2, 0, "eWeLink_1000aaaa01", "other"), -ENOENT);
	CHECK_INT(avahicore_add(&t, 2, 0, "", "local"), -EINVAL);
	CHECK_INT(avahicore_add(&t, 2, 0, NULL, "local"), -EINVAL);
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK_INT(avahicore_add(&t, 2, 0, name, "local"), -E2BIG);
	name[AVAHI_NAME_MAX] = '\0'; /* exactly the limit */
	CHECK(avahicore_add(&t, 2, 0, name, "local") >= 0);
	/* resolver paths */
	CHECK_INT(avahicore_by_resolver(&t, "/Client1/ServiceResolver1"), -ENOENT);
	snprintf(t.it[j].resolver, sizeof(t.it[j].resolver), "/Client1/ServiceResolver1");
	CHECK_INT(avahicore_by_resolver(&t, "/Client1/ServiceResolver1"), j);
	CHECK_INT(avahicore_by_resolver(&t, ""), -ENOENT);
	avahicore_del(&t, j);
	CHECK_INT(avahicore_find(&t, 3, 0, "eWeLink_1000aaaa01", "local"), -ENOENT);
	CHECK_INT(avahicore_by_resolver(&t, "/Client1/ServiceResolver1"), -ENOENT);
	/* the limit: AVAHI_DEV_MAX items, then -ENOSPC */
	memset(&t, 0, sizeof(t));
	for (int k = 0; k < AVAHI_DEV_MAX; k++) {
		snprintf(name, sizeof(name), "eWeLink_10000000%02x", k);
		CHECK_INT(avahicore_add(&t, 2, 0, name, "local"), k);
	}
	CHECK_INT(avahicore_add(&t, 2, 0, "eWeLink_1000ffffff", "local"), -ENOSPC);
	avahicore_del(&t, 5);
	CHECK_INT(avahicore_add(&t, 2, 0, "eWeLink_1000ffffff", "local"), 5);
}

static struct avahicore_item *
fresh(struct avahicore_table *t, const char *name)
{
	memset(t, 0, sizeof(*t));
	return &t->it[avahicore_add(t, 2, 0, name, "local")];
}

static void
test_found(void)
{
	static struct avahicore_table t;
	struct avahicore_item *it;
	const struct avahicore_bytes diy[] = {
		S("txtvers=1"), S("id=1000806ace"), S("type=diy_plug"), S("apivers=1"), S("seq=3"),
		S("data1={\"switch\":\"off\",\"startup\":\"off\",\"pulse\":\"off\","
		  "\"pulseWidth\":500,\"rssi\":-47}"),
	};
	const struct avahicore_bytes lan[] = {
		S("txtvers=1"), S("id=1000aaaa1a"), S("type=plug"), S("apivers=1"), S("seq=3"),
		S("encrypt=true"), S("iv=MTIzNDU2Nzg5MGFiY2RlZg=="), S("data1=q83vEjRWeJA="),
	};
	const struct avahicore_bytes bad[] = { S("txtvers=1"), S("=nokey") };
	struct avahicore_bytes many[AVAHI_TXT_STRINGS_MAX + 1];
	static uint8_t big[300];
	struct avahicore_bytes huge[8];

	it = fresh(&t, "eWeLink_1000806ace");
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, diy, 6), 0);
	CHECK(it->resolved);
	CHECK_STR(it->dev.addr, "192.168.178.51");
	CHECK_INT(it->dev.port, 8081);
	CHECK_STR(it->dev.instance, "eWeLink_1000806ace");
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_DIY);
	CHECK_INT(it->dev.dev.route, DIY_ROUTE_DIY);
	CHECK_STR(it->dev.dev.id, "1000806ace");
	CHECK_STR(it->dev.dev.type, "diy_plug");
	/* a new TXT for the same item replaces the old classification */
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, lan, 8), 0);
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_LAN);
	CHECK_INT(it->dev.dev.route, DIY_ROUTE_NONE);

	/* the address must be an IPv4 literal: the item is left as it was */
	it = fresh(&t, "eWeLink_1000806ace");
	CHECK_INT(avahicore_found(it, "fe80::1", 8081, diy, 6), -EINVAL);
	CHECK_INT(avahicore_found(it, "192.168.178.300", 8081, diy, 6), -EINVAL);
	CHECK_INT(avahicore_found(it, "", 8081, diy, 6), -EINVAL);
	CHECK(!it->resolved);
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, NULL, 1), -EINVAL);

	/* no TXT at all: the id comes from the instance name, no type: unsupported */
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, NULL, 0), 0);
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_UNSUPPORTED);
	CHECK_STR(it->dev.dev.id, "1000806ace");

	/* a malformed string */
	it = fresh(&t, "eWeLink_1000806ace");
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, bad, 2), 0);
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_UNSUPPORTED);
	CHECK_STR(it->dev.dev.why, "its TXT record is malformed");
	CHECK_STR(it->dev.dev.id, "1000806ace");

	/* more strings than AVAHI_TXT_STRINGS_MAX */
	for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
		many[i] = (struct avahicore_bytes)S("seq=1");
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, many, AVAHI_TXT_STRINGS_MAX), 0);
	CHECK(it->dev.dev.why == NULL || it->dev.dev.mode != DNSSD_MODE_UNSUPPORTED ||
	      strstr(it->dev.dev.why, "too many") == NULL);
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, many, AVAHI_TXT_STRINGS_MAX + 1), 0);
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_UNSUPPORTED);
	CHECK(it->dev.dev.why && strstr(it->dev.dev.why, "too many"));

	/* larger than DNSSD_TXT_MAX in total */
	memcpy(big, "xdata=", 6);
	memset(big + 6, 'a', sizeof(big) - 6);
	for (size_t i = 0; i < 8; i++)
		huge[i] = (struct avahicore_bytes){ big, 250 };
	CHECK_INT(avahicore_found(it, "192.168.178.51", 8081, huge, 8), 0);
	CHECK_INT(it->dev.dev.mode, DNSSD_MODE_UNSUPPORTED);
	CHECK(it->dev.dev.why && strstr(it->dev.dev.why, "larger"));
	CHECK_STR(it->dev.dev.id, "1000806ace");
}

static void
test_removed(void)
{
	static struct avahicore_table t;
	struct avahicore_item *it = fresh(&t, "eWeLink_1000abcdef");
	const struct avahicore_bytes diy[] = { S("id=1000abcdef"), S("type=diy_plug"),
					       S("data1={\"switch\":\"on\"}") };
	const struct avahi_dev *d;

	/* withdrawn before it was resolved: instance and id from the name */
	d = avahicore_removed(it);
	CHECK(d != NULL);
	CHECK_STR(d->instance, "eWeLink_1000abcdef");
	CHECK_STR(d->dev.id, "1000abcdef");
	CHECK_STR(d->addr, "");
	/* resolved first: the last answer is kept */
	it = fresh(&t, "eWeLink_1000abcdef");
	CHECK_INT(avahicore_found(it, "10.1.2.3", 8081, diy, 3), 0);
	d = avahicore_removed(it);
	CHECK_STR(d->dev.id, "1000abcdef");
	CHECK_STR(d->addr, "10.1.2.3");
	CHECK_INT(d->dev.mode, DNSSD_MODE_DIY);
	CHECK(avahicore_removed(NULL) == NULL);
}

static void
test_gone(void)
{
	char b[256], small[16];

	CHECK_STR(avahicore_gone_why(AVAHICORE_GONE_NO_OWNER, NULL, b, sizeof(b)),
		  "avahi-daemon is not running (nobody owns org.freedesktop.Avahi on the system "
		  "D-Bus)");
	CHECK_STR(avahicore_gone_why(AVAHICORE_GONE_LEFT, NULL, b, sizeof(b)),
		  "avahi-daemon left the system D-Bus (stopped or restarted)");
	CHECK_STR(avahicore_gone_why(AVAHICORE_GONE_BUS_LOST, NULL, b, sizeof(b)),
		  "the system D-Bus connection was lost");
	CHECK_STR(avahicore_gone_why(AVAHICORE_GONE_REFUSED, "Access denied", b, sizeof(b)),
		  "avahi-daemon refused to browse _ewelink._tcp: Access denied");
	CHECK_STR(avahicore_gone_why(AVAHICORE_GONE_FAILURE, NULL, b, sizeof(b)),
		  "avahi-daemon's browse of _ewelink._tcp failed: no reason given");
	/* cut, always terminated */
	CHECK_INT(strlen(avahicore_gone_why(AVAHICORE_GONE_LEFT, NULL, small, sizeof(small))),
		  sizeof(small) - 1);
}

int
main(void)
{
	test_table();
	test_found();
	test_removed();
	test_gone();
	return check_done();
}

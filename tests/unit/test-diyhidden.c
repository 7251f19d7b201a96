/* Unit tests of src/diyhidden.c (a --device-ip device that answers on 8081 but is not
 * announced over mDNS while Avahi runs): on one of our subnets = multicast blocked, off
 * them = mDNS does not cross routers, no interfaces known = never "another subnet"; both
 * lines say the left-mDNS proof is unavailable (exit 6). And the route's "unproven" line
 * names that reason instead of "no Avahi browser". */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "diyhidden.h"
#include "engine.h"
#include "route-diy.h"

static uint32_t
ip4(const char *s)
{
	struct in_addr a;

	CHECK(inet_pton(AF_INET, s, &a) == 1);
	return a.s_addr;
}

static void
test_on_link(void)
{
	struct diyhidden_net nets[] = {
		{ ip4("127.0.0.1"), ip4("255.0.0.0") },
		{ ip4("192.168.178.2"), ip4("255.255.255.0") },
		{ ip4("10.8.0.6"), ip4("255.255.255.255") }, /* point-to-point: no link */
	};

	CHECK(diyhidden_on_link(ip4("192.168.178.77"), nets, 3));
	CHECK(!diyhidden_on_link(ip4("192.168.179.77"), nets, 3));
	CHECK(!diyhidden_on_link(ip4("10.8.0.6"), nets, 3)); /* the /32 is skipped */
	CHECK(!diyhidden_on_link(ip4("10.99.0.5"), nets, 3));
	CHECK(diyhidden_on_link(ip4("10.99.0.5"), nets, 0)); /* unknown: no claim */
	CHECK(diyhidden_on_link(ip4("10.99.0.5"), &nets[2], 1)); /* only a /32: no claim */
	/* a default-route-like 0.0.0.0/0 says nothing either */
	{
		struct diyhidden_net any = { ip4("0.0.0.0"), 0 };
		CHECK(diyhidden_on_link(ip4("10.99.0.5"), &any, 1));
	}
}

static void
test_lines(void)
{
	char buf[512];
	const char *why = NULL;

	CHECK_INT(diyhidden_unannounced("192.168.178.77", true, buf, sizeof(buf), &why),
		  DIYHIDDEN_BLOCKED);
	CHECK(strstr(buf, "192.168.178.77 answers on port 8081 but is not announced") == buf);
	CHECK(strstr(buf, "multicast (mDNS, UDP 5353) is blocked between this computer and the "
			  "device") != NULL);
	CHECK(strstr(buf, "exit 6") != NULL);
	CHECK(why && strstr(why, "blocked") != NULL);
	CHECK(strlen(buf) < sizeof(buf) - 1);

	CHECK_INT(diyhidden_unannounced("10.99.0.5", false, buf, sizeof(buf), &why),
		  DIYHIDDEN_SUBNET);
	CHECK(strstr(buf, "another subnet") != NULL);
	CHECK(strstr(buf, "mDNS does not cross routers") != NULL);
	CHECK(strstr(buf, "exit 6") != NULL);
	CHECK(why && strstr(why, "another subnet") != NULL);
	CHECK(strlen(buf) < sizeof(buf) - 1);
}

/* ---- the unproven line names the reason ------------------------------------------------- */

static void
nop_arm(void *a, enum engine_timer t, unsigned ms)
{
	(void)a, (void)t, (void)ms;
}
static void
nop_cancel(void *a, enum engine_timer t)
{
	(void)a, (void)t;
}
static void
nop_narrate(void *a, const char *f, const char *e, const char *t)
{
	(void)a, (void)f, (void)e, (void)t;
}
static void
nop_say(void *a, const char *t)
{
	(void)a, (void)t;
}
static void
nop_send(void *a, enum diyflow_step s, bool w)
{
	(void)a, (void)s, (void)w;
}
static void
nop_finish(void *a, bool s, bool i)
{
	(void)a, (void)s, (void)i;
}

static const struct engine_ops ops = { nop_arm, nop_cancel, nop_narrate, nop_say, nop_say, NULL };
static const struct route_diy_ops rops = { .send = nop_send, .finish = nop_finish };

static void
unproven(const char *why, const char *want)
{
	struct engine e;
	struct route_diy rd = { .ops = &rops };
	struct diyflow_facts ff = { 0 };
	struct diyflow_result r = { .step = DIYFLOW_STEP_INFO, .outcome = DIYFLOW_OUT_REPLY,
				    .sent_deviceid = true, .ota_unlock = true };

	rd.f.device_ip = "10.99.0.5";
	rd.f.unobservable = why; /* mdns_watch false: nobody can see it leave */
	engine_init(&e, &route_diy, &rd, &ops, NULL);
	engine_post(&e, RDIY_EV_START);
	engine_post(&e, RDIY_EV_FOUND);
	rd.f.next = diyflow_next(&ff, &r); /* info (unlocked) -> flash */
	engine_post(&e, RDIY_EV_NEXT);
	r.step = DIYFLOW_STEP_FLASH;
	rd.f.next = diyflow_next(&ff, &r); /* flash accepted -> serve */
	engine_post(&e, RDIY_EV_NEXT);
	rd.f.all_acked = rd.f.completion_seen = true;
	engine_post(&e, RDIY_EV_PROGRESS);
	CHECK_STR(engine_stage_name(&route_diy, e.cur), "unproven");
	CHECK_MSG(strstr(e.diagnosis, want) != NULL, "%s", e.diagnosis);
}

int
main(void)
{
	const char *why = NULL;
	char buf[512];

	test_on_link();
	test_lines();
	unproven(NULL, "could not be observed (no Avahi browser)");
	diyhidden_unannounced("10.99.0.5", false, buf, sizeof(buf), &why);
	unproven(why, "could not be observed (it is on another subnet: mDNS does not cross "
		      "routers)");
	return check_done();
}

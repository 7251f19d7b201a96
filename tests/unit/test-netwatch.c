/* Tests of netwatch. The pure classification runs everywhere; the rest needs
 * root: it enters a new network namespace (unshare(CLONE_NEWNET)), makes a
 * dummy interface (ifb or bridge when the dummy module is missing, lo as the
 * last resort), runs an lws context
 * with netwatch and changes addresses (rtnl calls for the timed changes, ip(8)
 * for the rest), checking that every callback
 * arrives, once, within NETWATCH_TEST_LATENCY_MS of the change.
 * Without root or namespaces it reports the pure results and exits 77 (skip). */
#define _GNU_SOURCE /* unshare() */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/socket.h>

#include "check.h"
#include "netwatch.h"

#define NETWATCH_TEST_LATENCY_MS 100 /* from the kernel call that changes an address
				      * to the callback */
#define MAX_EVENTS 64

static struct in_addr
ip4(const char *s)
{
	struct in_addr a = { 0 };

	inet_pton(AF_INET, s, &a);
	return a;
}

static void
test_classify(void)
{
	static const struct {
		const char *addr;
		bool ap, final, loop;
	} rows[] = {
		{ "10.10.7.2", true, false, false },
		{ "10.10.7.100", true, false, false },
		{ "10.10.7.254", true, false, false },
		{ "10.10.7.1", false, false, false },  /* the device itself */
		{ "10.10.7.0", false, false, false },  /* network */
		{ "10.10.7.255", false, false, false }, /* broadcast */
		{ "10.10.8.2", false, false, false },
		{ "10.10.6.2", false, false, false },
		{ "110.10.7.2", false, false, false },
		{ "192.168.4.2", false, true, false },
		{ "192.168.4.3", false, false, false },
		{ "192.168.4.1", false, false, false },
		{ "192.168.40.2", false, false, false },
		{ "127.0.0.1", false, false, true },
		{ "127.255.255.254", false, false, true },
		{ "128.0.0.1", false, false, false },
		{ "0.0.0.0", false, false, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct in_addr a = ip4(rows[i].addr);

		CHECK_MSG(netwatch_is_device_ap(a) == rows[i].ap, "device_ap(%s)", rows[i].addr);
		CHECK_MSG(netwatch_is_finalstage(a) == rows[i].final, "finalstage(%s)",
			  rows[i].addr);
		CHECK_MSG(netwatch_is_loopback(a) == rows[i].loop, "loopback(%s)", rows[i].addr);
	}
}

/* ---- namespace part ----------------------------------------------------------- */

struct ev {
	bool added;
	struct netwatch_addr a;
	struct timespec at;
};

struct state {
	struct ev evs[MAX_EVENTS];
	unsigned n;
	struct netwatch *nw;      /* for the stop-inside-callback test */
	bool stop_in_cb;
};

static double max_latency_ms; /* worst ip(8) start -> callback seen */
static const char *ifname = "nw0"; /* or "lo" when no link type below works */

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static void
on_addr(void *arg, bool added, const struct netwatch_addr *a)
{
	struct state *st = arg;

	if (st->n < MAX_EVENTS) {
		st->evs[st->n].added = added;
		st->evs[st->n].a = *a;
		clock_gettime(CLOCK_MONOTONIC, &st->evs[st->n].at);
	}
	st->n++;
	if (st->stop_in_cb) {
		st->stop_in_cb = false;
		netwatch_stop(st->nw);
		st->nw = NULL;
	}
}

static int
sh(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return system(buf);
}

/* A link that takes addresses: dummy, or ifb/bridge where the dummy module is
 * missing (some containers). Returns 0 or -1. */
static int
make_if(const char *name)
{
	static const char *const types[] = { "dummy", "ifb", "bridge" };
	char cmd[128];

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		snprintf(cmd, sizeof(cmd), "ip link add %s type %s", name, types[i]);
		if (sh(cmd) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "ip link set %s up", name);
		if (sh(cmd) == 0)
			return 0;
		snprintf(cmd, sizeof(cmd), "ip link del %s", name);
		sh(cmd);
	}
	return -1;
}

static struct lws_context *tick_cx;
static lws_sorted_usec_list_t tick_sul;

/* bounds lws_service()'s sleep so the wait below can watch its clock; events
 * still arrive only through the adopted fd's POLLIN */
static void
tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(tick_cx, 0, sul, tick, 20 * LWS_US_PER_MS);
}

/* Service until st has want events or limit_ms passed. */
static void
wait_events(struct lws_context *cx, struct state *st, unsigned want, unsigned limit_ms)
{
	struct timespec t0, t;

	tick_cx = cx;
	tick(&tick_sul);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		lws_service(cx, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (st->n < want && ms_between(&t0, &t) < limit_ms);
	lws_sul_cancel(&tick_sul);
}

/* Add or delete cidr on ifname in-process (no ip(8) spawn inside the timing). */
static int
addr_op(bool add, const char *cidr)
{
	struct nl_addr *local = NULL;
	struct rtnl_addr *ra = NULL;
	struct nl_sock *sk;
	int r = -1;

	sk = nl_socket_alloc();
	if (!sk || nl_connect(sk, NETLINK_ROUTE) < 0)
		goto out;
	ra = rtnl_addr_alloc();
	if (!ra || nl_addr_parse(cidr, AF_INET, &local) < 0)
		goto out;
	rtnl_addr_set_ifindex(ra, (int)if_nametoindex(ifname));
	if (rtnl_addr_set_local(ra, local) < 0) /* also sets the prefix length */
		goto out;
	r = add ? rtnl_addr_add(sk, ra, 0) : rtnl_addr_delete(sk, ra, 0);
out:
	nl_addr_put(local);
	rtnl_addr_put(ra);
	nl_socket_free(sk);
	return r;
}

/* Add or delete cidr and expect exactly one event (added, addr), in time. */
static void
expect_one(struct lws_context *cx, struct state *st, bool add, const char *cidr,
	   const char *addr, uint8_t prefixlen)
{
	unsigned before = st->n;
	struct timespec t0;
	const struct ev *e;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_MSG(addr_op(add, cidr) == 0, "%s %s failed", add ? "add" : "del", cidr);
	wait_events(cx, st, before + 1, 1000);
	wait_events(cx, st, before + 2, 50); /* nothing else may follow */
	CHECK_MSG(st->n == before + 1, "%s: %u events, want 1", cidr, st->n - before);
	if (st->n < before + 1)
		return;
	e = &st->evs[before];
	CHECK_MSG(e->added == add, "%s: added %d", cidr, e->added);
	CHECK_MSG(e->a.addr.s_addr == ip4(addr).s_addr, "%s: addr %s", cidr,
		  inet_ntoa(e->a.addr));
	CHECK_MSG(e->a.prefixlen == prefixlen, "%s: prefixlen %u", cidr, e->a.prefixlen);
	CHECK_MSG(strcmp(e->a.ifname, ifname) == 0, "%s: ifname \"%s\"", cidr, e->a.ifname);
	CHECK_MSG(e->a.ifindex == (int)if_nametoindex(ifname), "%s: ifindex %d", cidr,
		  e->a.ifindex);
	CHECK_MSG(ms_between(&t0, &e->at) < NETWATCH_TEST_LATENCY_MS,
		  "%s: callback after %.1f ms", cidr, ms_between(&t0, &e->at));
	if (ms_between(&t0, &e->at) > max_latency_ms)
		max_latency_ms = ms_between(&t0, &e->at);
}

/* Run a command that must produce no event. */
static void
expect_none(struct lws_context *cx, struct state *st, const char *cmd)
{
	unsigned before = st->n;

	CHECK_MSG(sh(cmd) == 0, "%s failed", cmd);
	wait_events(cx, st, before + 1, 150);
	CHECK_MSG(st->n == before, "%s: %u unexpected events", cmd, st->n - before);
}

static struct lws_protocols protocols[3];

static struct lws_context *
make_context(struct lws_vhost **ret_vh, bool with_netwatch)
{
	struct lws_context_creation_info info;
	struct lws_context *cx;

	memset(protocols, 0, sizeof(protocols));
	protocols[0] = (struct lws_protocols){ "dummy", lws_callback_http_dummy, 0, 0, 0, NULL, 0 };
	if (with_netwatch)
		protocols[1] = netwatch_protocol;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	cx = lws_create_context(&info);
	CHECK(cx != NULL);
	info.vhost_name = "test";
	*ret_vh = lws_create_vhost(cx, &info);
	CHECK(*ret_vh != NULL);
	return cx;
}

static void
test_events(void)
{
	struct state st = { 0 };
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct netwatch *nw = NULL;
	char cmd[128];

	/* present before the start: reported by the initial dump, inside start */
	snprintf(cmd, sizeof(cmd), "ip addr add 10.10.7.5/24 dev %s", ifname);
	CHECK(sh(cmd) == 0);

	cx = make_context(&vh, true);
	CHECK_INT(netwatch_start(vh, on_addr, &st, &nw), 0);
	CHECK_MSG(st.n == 1, "initial dump: %u events, want 1", st.n);
	if (st.n >= 1) {
		CHECK(st.evs[0].added);
		CHECK(st.evs[0].a.addr.s_addr == ip4("10.10.7.5").s_addr);
		CHECK(netwatch_is_device_ap(st.evs[0].a.addr));
	}
	/* lo (127.0.0.1 in this namespace) was excluded */

	expect_one(cx, &st, true, "10.10.7.2/24", "10.10.7.2", 24);
	expect_one(cx, &st, false, "10.10.7.2/24", "10.10.7.2", 24);
	expect_one(cx, &st, true, "192.168.4.2/24", "192.168.4.2", 24);
	CHECK(st.n >= 1 && netwatch_is_finalstage(st.evs[st.n - 1].a.addr));

	/* noise: a lifetime change of a known address, IPv6, loopback */
	snprintf(cmd, sizeof(cmd),
		 "ip addr change 192.168.4.2/24 dev %s valid_lft 300 preferred_lft 300", ifname);
	expect_none(cx, &st, cmd);
	snprintf(cmd, sizeof(cmd), "ip -6 addr add fd00::2/64 dev %s nodad", ifname);
	expect_none(cx, &st, cmd);
	expect_none(cx, &st, "ip addr add 127.0.0.2/8 dev lo");
	/* deleting what was never reported is no event either */
	expect_none(cx, &st, "ip addr del 127.0.0.2/8 dev lo");

	/* stop from inside the callback: no more callbacks, nothing leaks */
	st.nw = nw;
	st.stop_in_cb = true;
	expect_one(cx, &st, true, "10.10.7.3/24", "10.10.7.3", 24);
	CHECK(st.nw == NULL);
	snprintf(cmd, sizeof(cmd), "ip addr del 10.10.7.3/24 dev %s", ifname);
	expect_none(cx, &st, cmd);

	/* a fresh watcher reports the present state, then a clean stop */
	st.n = 0;
	CHECK_INT(netwatch_start(vh, on_addr, &st, &nw), 0);
	CHECK_MSG(st.n == 2, "second dump: %u events, want 2", st.n); /* .5 and 4.2 */
	netwatch_stop(nw);
	snprintf(cmd, sizeof(cmd), "ip addr del 10.10.7.5/24 dev %s", ifname);
	expect_none(cx, &st, cmd);

	/* many at once: all arrive, each once */
	st.n = 0;
	CHECK_INT(netwatch_start(vh, on_addr, &st, &nw), 0);
	CHECK_INT(st.n, 1); /* 192.168.4.2 */
	for (int i = 10; i < 30; i++) {
		snprintf(cmd, sizeof(cmd), "ip addr add 10.20.0.%d/32 dev %s", i, ifname);
		sh(cmd);
	}
	wait_events(cx, &st, 21, 1000);
	wait_events(cx, &st, 22, 50);
	CHECK_INT(st.n, 21);

	/* an interface goes: its addresses are reported gone, under the name
	 * they had (if_indextoname no longer knows it) */
	if (make_if("nw2") == 0) {
		unsigned before = st.n;

		sh("ip addr add 10.10.7.9/24 dev nw2");
		sh("ip addr add 10.10.7.10/24 dev nw2");
		wait_events(cx, &st, before + 2, 1000);
		CHECK_INT(st.n - before, 2);
		before = st.n;
		CHECK(sh("ip link del nw2") == 0);
		wait_events(cx, &st, before + 2, 1000);
		wait_events(cx, &st, before + 3, 50);
		CHECK_INT(st.n - before, 2);
		for (unsigned i = before; i < st.n && i < MAX_EVENTS; i++) {
			CHECK(!st.evs[i].added);
			CHECK_STR(st.evs[i].a.ifname, "nw2");
		}
	}

	/* the context goes first: netwatch_stop afterwards is still safe */
	lws_context_destroy(cx);
	netwatch_stop(nw);
	netwatch_stop(NULL);

	/* the protocol must be on the vhost */
	cx = make_context(&vh, false);
	nw = (struct netwatch *)&st;
	CHECK_INT(netwatch_start(vh, on_addr, &st, &nw), -ENOPROTOOPT);
	CHECK(nw == (struct netwatch *)&st);
	lws_context_destroy(cx);
}

/* The snapshot lists the default route's interface first, without 127/8. */
static void
test_snapshot(void)
{
	struct netwatch_addr out[NETWATCH_SNAPSHOT_MAX];
	size_t n = 0;

	if (make_if("nw1") < 0) {
		printf("# snapshot order not tested: cannot make a second interface\n");
		return;
	}
	/* nw0 (or lo) has 192.168.4.2 and 10.20.0.x; the default route goes via nw1 */
	CHECK(sh("ip addr add 172.16.5.9/24 dev nw1") == 0);
	CHECK(sh("ip route add default via 172.16.5.1 dev nw1") == 0);
	CHECK_INT(netwatch_snapshot(out, NETWATCH_SNAPSHOT_MAX, &n), 0);
	CHECK(n == 22);
	if (n >= 1) {
		CHECK_MSG(out[0].addr.s_addr == ip4("172.16.5.9").s_addr, "first: %s",
			  inet_ntoa(out[0].addr));
		CHECK_STR(out[0].ifname, "nw1");
		CHECK_INT(out[0].prefixlen, 24);
	}
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(!netwatch_is_loopback(out[i].addr), "loopback listed");
	/* cut: 1 and the first entries */
	CHECK_INT(netwatch_snapshot(out, 2, &n), 1);
	CHECK_INT(n, 2);
	CHECK(out[0].addr.s_addr == ip4("172.16.5.9").s_addr);
	CHECK_INT(netwatch_snapshot(NULL, 0, &n), 1);
	CHECK_INT(n, 0);
}

/* One crafted address message: family, then attributes as (type, len, data)
 * triples ended by type 0. ifindex 0 names no interface, so the label is used. */
static int
parse_crafted(int type, int family, struct netwatch_addr *a, ...)
{
	struct nl_msg *m = nlmsg_alloc_simple(type, 0);
	struct ifaddrmsg ifa = { .ifa_family = (unsigned char)family, .ifa_prefixlen = 24 };
	va_list ap;
	int r = -ENOMEM;

	if (!m || nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0)
		goto out;
	va_start(ap, a);
	for (int t; (t = va_arg(ap, int)) != 0;) {
		int len = va_arg(ap, int);
		const void *data = va_arg(ap, const void *);
		if (nla_put(m, t, len, data) < 0) {
			va_end(ap);
			goto out;
		}
	}
	va_end(ap);
	memset(a, 0, sizeof(*a));
	r = netwatch_parse(nlmsg_hdr(m), a);
out:
	nlmsg_free(m);
	return r;
}

/* netlink attributes are checked against a policy: a label that is not
 * NUL-terminated or longer than IFNAMSIZ, or an address of the wrong length, makes
 * the message malformed (-EINVAL), never a truncated or padded name. */
static void
test_parse(void)
{
	struct netwatch_addr a;
	struct in_addr v4 = ip4("10.10.7.2"), lo = ip4("127.0.0.1");
	unsigned char v6[16] = { 0xfe, 0x80 };
	static const char label[] = "wlan9";
	static const char label20[] = "abcdefghijklmnopqrst"; /* 20 + NUL > IFNAMSIZ */
	uint32_t flags = 0;

	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &v4, IFA_LABEL,
				(int)sizeof(label), label, IFA_FLAGS, 4, &flags, 0), 1);
	CHECK(a.addr.s_addr == v4.s_addr && a.prefixlen == 24);
	CHECK_STR(a.ifname, "wlan9");
	CHECK_INT(parse_crafted(RTM_DELADDR, AF_INET, &a, IFA_ADDRESS, 4, &v4, 0), 1);

	/* Malformed: refused whole. */
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &v4, IFA_LABEL, 5, label,
				0), -EINVAL); /* not NUL-terminated */
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &v4, IFA_LABEL,
				(int)sizeof(label20), label20, 0), -EINVAL);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 3, &v4, 0), -EINVAL);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 16, v6, 0), -EINVAL);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &v4, IFA_ADDRESS, 6, v6,
				0), -EINVAL);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &v4, IFA_FLAGS, 2, &flags,
				0), -EINVAL);

	/* Ignored: other family, loopback, no address, another message type. */
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET6, &a, IFA_LOCAL, 16, v6, 0), 0);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LOCAL, 4, &lo, 0), 0);
	CHECK_INT(parse_crafted(RTM_NEWADDR, AF_INET, &a, IFA_LABEL, (int)sizeof(label), label,
				0), 0);
	CHECK_INT(parse_crafted(RTM_NEWLINK, AF_INET, &a, IFA_LOCAL, 4, &v4, 0), 0);

	/* A header shorter than struct ifaddrmsg. */
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWADDR, 0);
	unsigned char two[2] = { AF_INET, 24 };
	CHECK(m && nlmsg_append(m, two, sizeof(two), 1) == 0);
	if (m) {
		nlmsg_hdr(m)->nlmsg_len = NLMSG_LENGTH(sizeof(two));
		CHECK_INT(netwatch_parse(nlmsg_hdr(m), &a), -EINVAL);
		nlmsg_free(m);
	}
}

int
main(void)
{
	test_classify();
	test_parse();

	if (geteuid() != 0) {
		printf("# skip: not root, cannot make a network namespace (%u pure checks passed, "
		       "%u failed)\n", check_passed, check_failed);
		return check_failed ? 1 : 77;
	}
	if (unshare(CLONE_NEWNET) < 0) {
		printf("# skip: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return check_failed ? 1 : 77;
	}
	if (sh("ip link set lo up") != 0) {
		printf("# skip: ip(8) not usable\n");
		return check_failed ? 1 : 77;
	}
	if (make_if("nw0") < 0)
		ifname = "lo";
	lws_set_log_level(LLL_ERR, NULL);
	test_events();
	test_snapshot();
	printf("# events on \"%s\", worst latency %.1f ms (rtnl call to callback)\n", ifname,
	       max_latency_ms);
	return check_done();
}

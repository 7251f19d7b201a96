/* netwatch: see netwatch.h.
 *
 * One NETLINK_ROUTE socket, subscribed to RTNLGRP_IPV4_IFADDR before it asks for
 * a dump of the current addresses, so no change can fall between the dump and
 * the subscription (a change seen twice is dropped by the tracking table).
 * netwatch_start reads the dump synchronously, then the socket goes
 * non-blocking and a dup() of its fd is adopted into lws; lws closes the dup,
 * nl_socket_free closes the original.
 *
 * If the kernel drops notifications because our receive buffer overflowed
 * (recvmsg fails with ENOBUFS, which libnl reports as -NLE_NOMEM) or a dump was
 * interrupted, the tracking table may be stale: we ask for a new dump, mark
 * every address it (or an event meanwhile) confirms, and when it ends report
 * the unconfirmed ones as removed.
 *
 * Re-entrancy: the user callback runs inside nl_recvmsgs_default, inside the
 * lws RAW_RX_FILE callback. netwatch_stop called from there only sets a flag;
 * the drain loop frees everything once libnl has returned and tells lws to
 * close the wsi by returning -1.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "netwatch.h"

#define NETWATCH_PROTOCOL_NAME "sonota-netwatch"
#define NETWATCH_DRAIN_MAX 64          /* nl_recvmsgs rounds per readable event; the
					* poll fires again if more is queued */
#define NETWATCH_DUMP_TIMEOUT_MS 2000 /* the initial dump answers in microseconds;
				       * this only bounds a kernel that never does */

struct netwatch_entry {
	struct netwatch_addr a; /* what we reported as added */
	unsigned gen;           /* dump generation that last confirmed it */
	bool used;
};

struct netwatch {
	struct nl_sock *sk;     /* the subscribed socket, owned */
	struct lws *wsi;        /* the adopted dup() of its fd; NULL once lws closed it */
	netwatch_cb cb;         /* user callback */
	void *arg;              /* its argument */
	bool dumping;           /* a dump is in progress (replies still to come) */
	bool resync;            /* the running dump reconciles the table when done */
	bool resync_wanted;     /* state may be stale: dump again when possible */
	unsigned gen;           /* current dump generation */
	unsigned busy;          /* > 0 while libnl is calling us back */
	bool stopping;          /* netwatch_stop was called while busy */
	bool untracked;         /* the table overflowed: unknown DELs are reported */
	struct netwatch_entry track[NETWATCH_TRACK_MAX]; /* addresses reported as present */
};

/* ---- pure helpers --------------------------------------------------------- */

bool
netwatch_is_device_ap(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	uint32_t host = h & 0xff;

	return (h & 0xffffff00u) == 0x0a0a0700u && host != 0 && host != 1 && host != 255;
}

bool
netwatch_is_finalstage(struct in_addr a)
{
	return ntohl(a.s_addr) == 0xc0a80402u; /* 192.168.4.2 */
}

bool
netwatch_is_loopback(struct in_addr a)
{
	return (ntohl(a.s_addr) & 0xff000000u) == 0x7f000000u;
}

/* The one boundary from libnl's error space to -errno. */
static int
nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_INVAL:
	case NLE_MSGTYPE_NOSUPPORT:
		return -EINVAL;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_DUMP_INTR:
		return -EINTR;
	case NLE_MSG_OVERFLOW:
		return -ENOBUFS;
	default:
		return -EIO;
	}
}

static void
fill_ifname(struct netwatch_addr *a, const char *label)
{
	char name[IF_NAMESIZE];

	a->ifname[0] = '\0';
	if (a->ifindex > 0 && if_indextoname((unsigned)a->ifindex, name)) {
		memcpy(a->ifname, name, sizeof(a->ifname));
	} else if (label) {
		strncpy(a->ifname, label, sizeof(a->ifname) - 1);
		a->ifname[sizeof(a->ifname) - 1] = '\0';
	}
}

/* The attributes of an IPv4 RTM_NEWADDR/RTM_DELADDR that netwatch reads, with the
 * types and lengths the kernel sends (linux/if_addr.h): nlmsg_parse refuses a
 * message whose attribute breaks them. Unlisted attributes are not checked. */
static const struct nla_policy ifa_policy[IFA_MAX + 1] = {
	[IFA_ADDRESS] = { .minlen = sizeof(struct in_addr), .maxlen = sizeof(struct in_addr) },
	[IFA_LOCAL] = { .minlen = sizeof(struct in_addr), .maxlen = sizeof(struct in_addr) },
	[IFA_BROADCAST] = { .minlen = sizeof(struct in_addr), .maxlen = sizeof(struct in_addr) },
	[IFA_LABEL] = { .type = NLA_STRING, .maxlen = IFNAMSIZ }, /* NUL included */
	[IFA_CACHEINFO] = { .minlen = sizeof(struct ifa_cacheinfo) },
	[IFA_FLAGS] = { .type = NLA_U32 },
};

int
netwatch_parse(struct nlmsghdr *nlh, struct netwatch_addr *ret)
{
	struct nlattr *tb[IFA_MAX + 1];
	struct ifaddrmsg *ifa;
	struct nlattr *addr;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return 0;
	if (!nlmsg_valid_hdr(nlh, sizeof(*ifa)))
		return -EINVAL;
	ifa = nlmsg_data(nlh);
	/* The policy is IPv4's: look at the family first (IPv6 addresses are 16
	 * bytes). */
	if (ifa->ifa_family != AF_INET)
		return 0;
	if (nlmsg_parse(nlh, sizeof(*ifa), tb, IFA_MAX, ifa_policy) < 0)
		return -EINVAL;
	/* IFA_LOCAL is the local address; IFA_ADDRESS is the peer's on a
	 * point-to-point link and equal to IFA_LOCAL elsewhere. */
	addr = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!addr)
		return 0;
	memset(ret, 0, sizeof(*ret));
	memcpy(&ret->addr, nla_data(addr), sizeof(ret->addr));
	if (netwatch_is_loopback(ret->addr))
		return 0;
	ret->prefixlen = ifa->ifa_prefixlen;
	ret->ifindex = (int)ifa->ifa_index;
	fill_ifname(ret, tb[IFA_LABEL] ? nla_get_string(tb[IFA_LABEL]) : NULL);
	return 1;
}

static struct netwatch_entry *
track_find(struct netwatch *nw, const struct netwatch_addr *a)
{
	for (size_t i = 0; i < NETWATCH_TRACK_MAX; i++) {
		struct netwatch_entry *e = &nw->track[i];

		if (e->used && e->a.addr.s_addr == a->addr.s_addr &&
		    e->a.prefixlen == a->prefixlen && e->a.ifindex == a->ifindex)
			return e;
	}
	return NULL;
}

static struct netwatch_entry *
track_add(struct netwatch *nw, const struct netwatch_addr *a)
{
	for (size_t i = 0; i < NETWATCH_TRACK_MAX; i++) {
		struct netwatch_entry *e = &nw->track[i];

		if (!e->used) {
			e->used = true;
			e->a = *a;
			e->gen = nw->gen;
			return e;
		}
	}
	nw->untracked = true;
	return NULL;
}

/* NL_CB_VALID: one routing message. */
static int
on_valid(struct nl_msg *msg, void *arg)
{
	struct netwatch *nw = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct netwatch_entry *e;
	struct netwatch_addr a;

	if (nw->stopping)
		return NL_STOP;
	if (netwatch_parse(nlh, &a) <= 0)
		return NL_SKIP; /* not an IPv4 address event, or malformed: ignored */

	e = track_find(nw, &a);
	if (nlh->nlmsg_type == RTM_NEWADDR) {
		if (e) { /* known: a lifetime refresh or a dump repeating an event */
			e->gen = nw->gen;
			return NL_OK;
		}
		track_add(nw, &a);
		nw->cb(nw->arg, true, &a);
	} else {
		if (e) {
			a = e->a; /* report the name it had when it appeared */
			e->used = false;
		} else if (!nw->untracked) {
			return NL_OK; /* never reported as present */
		}
		nw->cb(nw->arg, false, &a);
	}
	return NL_OK;
}

/* NL_CB_FINISH: the end of a dump. With a resync, every tracked address the
 * dump did not confirm is gone. */
static int
on_finish(struct nl_msg *msg, void *arg)
{
	struct netwatch *nw = arg;

	(void)msg;
	if (!nw->dumping)
		return NL_STOP;
	nw->dumping = false;
	if (nw->resync) {
		nw->resync = false;
		for (size_t i = 0; i < NETWATCH_TRACK_MAX && !nw->stopping; i++) {
			struct netwatch_entry *e = &nw->track[i];

			if (e->used && e->gen != nw->gen) {
				struct netwatch_addr a = e->a;

				e->used = false;
				nw->cb(nw->arg, false, &a);
			}
		}
	}
	return NL_STOP;
}

static int
request_dump(struct netwatch *nw, bool resync)
{
	struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	int r;

	r = nl_send_simple(nw->sk, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof(ifa));
	if (r < 0)
		return nl_to_errno(r);
	nw->gen++;
	nw->dumping = true;
	nw->resync = resync;
	return 0;
}

static void
netwatch_free(struct netwatch *nw)
{
	if (nw->sk)
		nl_socket_free(nw->sk); /* closes the original fd */
	free(nw);
}

/* Read everything queued on the socket. Returns 0, or -1 to have lws close the
 * wsi (netwatch was stopped from inside the user callback, and is freed). */
static int
drain(struct netwatch *nw, struct lws *wsi)
{
	int r = 0;

	nw->busy++;
	for (unsigned i = 0; i < NETWATCH_DRAIN_MAX && !nw->stopping; i++) {
		r = nl_recvmsgs_default(nw->sk);
		if (r == -NLE_AGAIN)
			break; /* nothing more queued: the normal way out */
		if (r == -NLE_NOMEM || r == -NLE_DUMP_INTR || r == -NLE_MSG_OVERFLOW) {
			/* notifications were lost: what we reported may be stale.
			 * A dump already running goes on (its replies are not
			 * multicast and are not dropped); a new one follows it. */
			nw->resync_wanted = true;
		}
	}
	nw->busy--;

	if (!nw->stopping && nw->resync_wanted && !nw->dumping) {
		if (request_dump(nw, true) == 0)
			nw->resync_wanted = false;
	}
	if (nw->stopping) {
		lws_set_opaque_user_data(wsi, NULL);
		nw->wsi = NULL;
		netwatch_free(nw);
		return -1;
	}
	return 0;
}

int
netwatch_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	struct netwatch *nw;

	switch (reason) {
	case LWS_CALLBACK_RAW_ADOPT_FILE:
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE:
		nw = lws_get_opaque_user_data(wsi);
		if (!nw)
			return -1; /* stopped: let lws close it */
		return drain(nw, wsi);
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		nw = lws_get_opaque_user_data(wsi);
		if (nw)
			nw->wsi = NULL; /* lws closed it (context teardown): forget it */
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols netwatch_protocol = {
	.name = NETWATCH_PROTOCOL_NAME,
	.callback = netwatch_lws_callback,
	.per_session_data_size = 0,
	.rx_buffer_size = 0,
};

/* Read the initial dump on the still blocking socket, with a receive timeout. */
static int
initial_dump(struct netwatch *nw)
{
	struct timeval tv = { .tv_sec = NETWATCH_DUMP_TIMEOUT_MS / 1000,
			      .tv_usec = (NETWATCH_DUMP_TIMEOUT_MS % 1000) * 1000 };
	struct timeval none = { 0 };
	int fd = nl_socket_get_fd(nw->sk);
	int r;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	r = request_dump(nw, false);
	while (r == 0 && nw->dumping) {
		r = nl_recvmsgs_default(nw->sk);
		if (r == -NLE_AGAIN)
			r = -ETIMEDOUT;
		else
			r = nl_to_errno(r);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none)) < 0 && r == 0)
		r = -errno;
	return r;
}

int
netwatch_start(struct lws_vhost *vh, netwatch_cb cb, void *arg, struct netwatch **ret)
{
	lws_adopt_desc_t ad = { 0 };
	struct netwatch *nw;
	int r, fd = -1;

	if (!vh || !cb || !ret)
		return -EINVAL;
	if (!lws_vhost_name_to_protocol(vh, NETWATCH_PROTOCOL_NAME))
		return -ENOPROTOOPT;

	nw = calloc(1, sizeof(*nw));
	if (!nw)
		return -ENOMEM;
	nw->cb = cb;
	nw->arg = arg;

	nw->sk = nl_socket_alloc();
	if (!nw->sk) {
		r = -ENOMEM;
		goto fail;
	}
	/* notifications carry sequence number 0 and answer no request of ours */
	nl_socket_disable_seq_check(nw->sk);
	nl_socket_disable_auto_ack(nw->sk);
	r = nl_socket_modify_cb(nw->sk, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nw);
	if (r == 0)
		r = nl_socket_modify_cb(nw->sk, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, nw);
	if (r == 0)
		r = nl_connect(nw->sk, NETLINK_ROUTE);
	if (r == 0)
		r = nl_socket_set_buffer_size(nw->sk, NETWATCH_RCVBUF, 0);
	/* subscribe before the dump: see the file comment */
	if (r == 0)
		r = nl_socket_add_memberships(nw->sk, RTNLGRP_IPV4_IFADDR, 0);
	if (r < 0) {
		r = nl_to_errno(r);
		goto fail;
	}

	r = initial_dump(nw);
	if (r < 0)
		goto fail;

	r = nl_socket_set_nonblocking(nw->sk);
	if (r < 0) {
		r = nl_to_errno(r);
		goto fail;
	}
	fd = fcntl(nl_socket_get_fd(nw->sk), F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}

	/* opaque is set before lws' ADOPT callback runs (unlike a later
	 * lws_set_opaque_user_data) */
	ad.vh = vh;
	ad.type = LWS_ADOPT_RAW_FILE_DESC;
	ad.fd.filefd = fd;
	ad.vh_prot_name = NETWATCH_PROTOCOL_NAME;
	ad.opaque = nw;
	nw->wsi = lws_adopt_descriptor_vhost_via_info(&ad);
	if (!nw->wsi) {
		/* lws 4.1 closes only sockets on a failed adoption, never a
		 * file descriptor, and our ADOPT callback cannot fail, so the fd
		 * never reached lws' poll table: it is still ours to close */
		close(fd);
		r = -ENOMEM;
		goto fail;
	}
	*ret = nw;
	return 0;

fail:
	netwatch_free(nw);
	return r;
}

void
netwatch_stop(struct netwatch *nw)
{
	if (!nw)
		return;
	if (nw->busy) {
		nw->stopping = true; /* drain() frees once libnl has returned */
		return;
	}
	if (nw->wsi) {
		struct lws *wsi = nw->wsi;

		/* detach first: its close callback must not touch nw */
		lws_set_opaque_user_data(wsi, NULL);
		nw->wsi = NULL;
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	}
	netwatch_free(nw);
}

/* ---- snapshot -------------------------------------------------------------- */

/* ifindex of the main table's IPv4 default route with the lowest metric, or 0. */
static int
default_route_ifindex(struct nl_sock *sk)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	uint32_t best_prio = UINT32_MAX;
	int ifindex = 0;

	if (rtnl_route_alloc_cache(sk, AF_INET, 0, &cache) < 0)
		return 0;
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		struct rtnl_nexthop *nh;

		if (rtnl_route_get_family(rt) != AF_INET ||
		    rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(rt) != RTN_UNICAST ||
		    (dst && nl_addr_get_prefixlen(dst) != 0) || rtnl_route_get_nnexthops(rt) < 1)
			continue;
		nh = rtnl_route_nexthop_n(rt, 0);
		if (!nh || rtnl_route_nh_get_ifindex(nh) <= 0)
			continue;
		if (rtnl_route_get_priority(rt) < best_prio || !ifindex) {
			best_prio = rtnl_route_get_priority(rt);
			ifindex = rtnl_route_nh_get_ifindex(nh);
		}
	}
	nl_cache_free(cache);
	return ifindex;
}

int
netwatch_snapshot(struct netwatch_addr *out, size_t max, size_t *ret_n)
{
	struct nl_cache *cache = NULL;
	struct nl_sock *sk;
	size_t n = 0;
	bool cut = false;
	int r, defidx;

	if ((!out && max) || !ret_n)
		return -EINVAL;
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r == 0)
		r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0) {
		r = nl_to_errno(r);
		goto out;
	}
	defidx = default_route_ifindex(sk);

	/* pass 0: the default route's interface; pass 1: the others */
	for (int pass = 0; pass < 2; pass++) {
		for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
			struct rtnl_addr *ra = (struct rtnl_addr *)o;
			struct nl_addr *local = rtnl_addr_get_local(ra);
			struct netwatch_addr a = { 0 };
			bool on_default;

			if (rtnl_addr_get_family(ra) != AF_INET || !local ||
			    nl_addr_get_len(local) != sizeof(struct in_addr))
				continue;
			memcpy(&a.addr, nl_addr_get_binary_addr(local), sizeof(a.addr));
			if (netwatch_is_loopback(a.addr))
				continue;
			a.ifindex = rtnl_addr_get_ifindex(ra);
			on_default = defidx > 0 && a.ifindex == defidx;
			if (on_default != (pass == 0))
				continue;
			if (n == max) {
				cut = true;
				continue;
			}
			a.prefixlen = (uint8_t)rtnl_addr_get_prefixlen(ra);
			fill_ifname(&a, rtnl_addr_get_label(ra));
			out[n++] = a;
		}
	}
	*ret_n = n;
	r = cut ? 1 : 0;
out:
	nl_cache_free(cache);
	nl_socket_free(sk);
	return r;
}

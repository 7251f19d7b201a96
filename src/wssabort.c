/* wssabort: see wssabort.h. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/tcp.h>

#include <libwebsockets.h>

#include "wss.h"
#include "wssabort.h"
#include "wssrule.h"

#define WSS_ABORT_PEER_MAX 48

/* A connection whose TLS handshake lws failed while the peer was still connected,
 * held (its socket dup'd, so that no FIN goes out) for WSS_ABORT_GRACE_MS: a peer
 * that rejects our certificate with a fatal alert closes right after it, and the
 * alert may have reached lws before the FIN reached the kernel. */
struct wss_abort_pending {
	lws_sorted_usec_list_t sul;
	struct wss_abort *j;
	struct wss_abort_pending *next;
	int fd;
	char peer[WSS_ABORT_PEER_MAX];
};

/* Read what TCP knows of a connection's socket while it is still open. */
static void
close_facts(int fd, bool request_seen, bool we_closed, struct wss_close_facts *f)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(f, 0, sizeof(*f));
	f->request_seen = request_seen;
	f->we_closed = we_closed;
	memset(&ti, 0, sizeof(ti));
	if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof(ti.tcpi_bytes_acked))
		return;
	f->tcp_known = true;
	f->tcp_state = ti.tcpi_state;
	f->bytes_acked = ti.tcpi_bytes_acked;
}

static void
pending_unlink(struct wss_abort_pending *p)
{
	for (struct wss_abort_pending **pp = &p->j->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
}

static void
pending_expired(lws_sorted_usec_list_t *sul)
{
	struct wss_abort_pending *p = lws_container_of(sul, struct wss_abort_pending, sul);
	struct wss_abort *j = p->j;
	struct wss_close_facts f;

	close_facts(p->fd, false, false, &f);
	close(p->fd);
	pending_unlink(p);
	if (wss_is_tls_abort(&f))
		j->cb(j->arg, p->peer);
	free(p);
}

void
wss_abort_judge(struct wss_abort *j, int fd, bool request_seen, bool we_closed, const char *peer)
{
	struct wss_close_facts f;

	close_facts(fd, request_seen, we_closed, &f);
	if (wss_is_tls_abort(&f)) {
		close(fd);
		j->cb(j->arg, peer);
		return;
	}
	struct wss_abort_pending *p = wss_tls_abort_undecided(&f) ? calloc(1, sizeof(*p)) : NULL;
	if (!p) {
		close(fd);
		return;
	}
	p->j = j;
	p->fd = fd;
	snprintf(p->peer, sizeof(p->peer), "%s", peer);
	p->next = j->pending;
	j->pending = p;
	lws_sul_schedule(j->ctx, 0, &p->sul, pending_expired,
	                 (lws_usec_t)WSS_ABORT_GRACE_MS * LWS_US_PER_MS);
}

void
wss_abort_fini(struct wss_abort *j)
{
	while (j->pending) {
		struct wss_abort_pending *p = j->pending;
		j->pending = p->next;
		lws_sul_cancel(&p->sul);
		close(p->fd);
		free(p);
	}
}

/* imgsrv: see imgsrv.h. This file: options, the listening socket, MHD's start and
 * stop, the pacer thread's lifecycle and MHD's rate-limited logger; a request's
 * handling is in imgsrvreq.c, the body reader and pacer in imgsrvpace.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "imgsrvint.h"
#include "proto.h"
#include "util.h"

/* MHD's external logger: into log_mhd(), at most IMGSRV_LOG_BURST messages per
 * IMGSRV_LOG_WINDOW_MS, then one line saying how many were dropped. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct imgsrv *srv = cls;
	uint64_t now = util_mono_ms();
	unsigned long dropped = 0;
	bool emit;

	pthread_mutex_lock(&srv->log_lock);
	if (now - srv->log_window_ms >= IMGSRV_LOG_WINDOW_MS) {
		dropped = srv->log_suppressed;
		srv->log_window_ms = now;
		srv->log_count = 0;
		srv->log_suppressed = 0;
	}
	emit = srv->log_count < IMGSRV_LOG_BURST;
	if (emit)
		srv->log_count++;
	else
		srv->log_suppressed++;
	pthread_mutex_unlock(&srv->log_lock);
	if (!srv->log)
		return;
	if (dropped)
		log_printf(srv->log, LOG_WARN, "mhd: %lu more messages suppressed", dropped);
	if (emit)
		log_mhd(srv->log, fmt, ap);
}

/* MHD would decode %HH in the path before routing; keep the raw path instead, so
 * that an encoded name or "%2e%2e" can never match a served file. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

static bool
valid_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= EVQ_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int
check_opts(const struct imgsrv_opts *o, char *err, size_t errlen)
{
	if (!o->evq) {
		snprintf(err, errlen, "image server: no event queue");
		return -EINVAL;
	}
	if (o->nfiles == 0 || o->nfiles > IMGSRV_FILES_MAX || !o->files) {
		snprintf(err, errlen, "image server: %zu files (1 to %d)", o->nfiles,
			 IMGSRV_FILES_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < o->nfiles; i++) {
		const struct imgsrv_file *f = &o->files[i];
		if (!valid_name(f->name) || strcmp(f->name, ".") == 0 ||
		    strcmp(f->name, "..") == 0) {
			snprintf(err, errlen, "image server: bad file name \"%s\"",
				 f->name ? f->name : "(null)");
			return -EINVAL;
		}
		if (!f->data || f->size == 0) {
			snprintf(err, errlen, "image server: file \"%s\" is empty", f->name);
			return -EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(o->files[j].name, f->name) == 0) {
				snprintf(err, errlen, "image server: file \"%s\" given twice",
					 f->name);
				return -EINVAL;
			}
	}
	if (o->max_clients > IMGSRV_CLIENTS_MAX) {
		snprintf(err, errlen, "image server: %u clients (at most %d)", o->max_clients,
			 IMGSRV_CLIENTS_MAX);
		return -EINVAL;
	}
	if (o->legacy_dispatch) {
		struct in_addr a;
		if (!o->dispatch_ip || inet_pton(AF_INET, o->dispatch_ip, &a) != 1 ||
		    o->dispatch_port == 0) {
			snprintf(err, errlen, "image server: legacy dispatch needs an IPv4 address "
				 "and a port, got \"%s\" port %u",
				 o->dispatch_ip ? o->dispatch_ip : "(none)", o->dispatch_port);
			return -EINVAL;
		}
	}
	return 0;
}

/* Create, bind and listen on the socket ourselves, so that the caller learns why
 * binding failed (MHD would only say that it did). */
static int
listen_socket(const struct imgsrv_opts *o, unsigned backlog, int *ret_fd, int *ret_family,
	      uint16_t *ret_port, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = -1, one = 1, r;
	const char *addr = o->bind_addr ? o->bind_addr : "0.0.0.0";
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(o->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(o->port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "image server: bad bind address \"%s\"", addr);
		return -EINVAL;
	}

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "image server: socket: %s", strerror(-r));
		return r;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
		r = -errno;
		snprintf(err, errlen, "image server: setsockopt: %s", strerror(-r));
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
		r = -errno;
		if (r == -EADDRINUSE)
			snprintf(err, errlen, "port %u is busy (another program listens on it)",
				 o->port);
		else if (r == -EACCES)
			snprintf(err, errlen, "port %u is privileged: run as root, or grant "
				 "CAP_NET_BIND_SERVICE", o->port);
		else if (r == -EADDRNOTAVAIL)
			snprintf(err, errlen, "port %u: address \"%s\" is not on this host",
				 o->port, addr);
		else
			snprintf(err, errlen, "port %u: bind: %s", o->port, strerror(-r));
		goto fail;
	}
	if (listen(fd, (int)backlog) < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: listen: %s", o->port, strerror(-r));
		goto fail;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: getsockname: %s", o->port, strerror(-r));
		goto fail;
	}
	*ret_port = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	*ret_family = ss.ss_family;
	*ret_fd = fd;
	return 0;
fail:
	close(fd);
	return r;
}

/* MHD closes the listening socket it was given on some of its start-up failure
 * paths and not on others (measured with 0.9.75: a flag conflict leaves it open, a
 * failed thread pool closes it). It gets a duplicate; after a failure, close that
 * duplicate only if the number still names our socket and not a file another
 * thread opened since. */
static void
close_if_same(int dupfd, int fd)
{
	struct stat a, b;

	if (fstat(dupfd, &b) == 0 && fstat(fd, &a) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		close(dupfd);
}

static struct MHD_Response *
text_response(const char *body, const char *type, const char *allow)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return NULL;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
		MHD_destroy_response(resp);
		return NULL;
	}
	return resp;
}

int
imgsrv_start(const struct imgsrv_opts *o, struct imgsrv **ret, char *err, size_t errlen)
{
	struct imgsrv *srv = NULL;
	pthread_condattr_t ca;
	int fd = -1, family = AF_INET, r;
	uint16_t port = 0;
	const struct imgsrv_limits *l = &o->limits;

	r = check_opts(o, err, errlen);
	if (r < 0)
		return r;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "image server: out of memory");
		return -ENOMEM;
	}
	memcpy(srv->files, o->files, o->nfiles * sizeof(*o->files));
	srv->nfiles = o->nfiles;
	srv->legacy = o->legacy_dispatch;
	srv->diy = o->diy_completion;
	srv->evq = o->evq;
	srv->ackwatch = o->ackwatch;
	srv->log = o->log;
	srv->block_size = l->block_size ? l->block_size : IMGSRV_BLOCK_SIZE;
	/* The connection limit follows the number of devices (imgsrv.h). With a thread
	 * pool MHD splits it between the threads, and a thread at its share stops
	 * accepting, so the other takes the next connection: the sum still holds. The
	 * listen backlog is as deep, so a burst of every device at once waits in the
	 * kernel instead of being dropped (the kernel caps it at somaxconn). */
	unsigned clients = o->max_clients ? o->max_clients : IMGSRV_CLIENTS_DEFAULT;
	unsigned conn_max = l->conn_max ? l->conn_max
					: clients * IMGSRV_CONNS_PER_CLIENT + IMGSRV_CONN_HEADROOM;
	srv->buffer_max = l->buffer_max ? l->buffer_max : IMGSRV_BUFFER_MAX;

	/* The port first: the likeliest failure, reported before any thread exists. */
	r = listen_socket(o, conn_max, &fd, &family, &port, err, errlen);
	if (r < 0)
		goto fail;
	srv->port = port;

	r = -ENOMEM;
	snprintf(err, errlen, "image server: out of memory");
	srv->r404 = text_response("Not Found\n", "text/plain", NULL);
	srv->r405_file = text_response("Method Not Allowed\n", "text/plain", "GET, HEAD");
	srv->r405_post = text_response("Method Not Allowed\n", "text/plain", "POST");
	srv->r413 = text_response("Content Too Large\n", "text/plain", NULL);
	srv->r414 = text_response("URI Too Long\n", "text/plain", NULL);
	srv->r431 = text_response("Request Header Fields Too Large\n", "text/plain", NULL);
	if (!srv->r404 || !srv->r405_file || !srv->r405_post || !srv->r413 || !srv->r414 ||
	    !srv->r431 ||
	    MHD_add_response_header(srv->r414, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES ||
	    MHD_add_response_header(srv->r431, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)
		goto fail;
	if (srv->diy) {
		srv->rdiy_ok = text_response("{\"error\":0}", "application/json", NULL);
		srv->r400 = text_response("Bad Request\n", "text/plain", NULL);
		if (!srv->rdiy_ok || !srv->r400)
			goto fail;
	}
	if (srv->legacy) {
		/* PROTOCOL.md §3.1; the values were validated in check_opts(). */
		srv->dispatch_json = proto_build_dispatch_reply(o->dispatch_ip, o->dispatch_port);
		if (!srv->dispatch_json)
			goto fail;
		srv->rdispatch = text_response(srv->dispatch_json, "application/json", NULL);
		if (!srv->rdispatch)
			goto fail;
	}

	r = -pthread_mutex_init(&srv->lock, NULL);
	if (r < 0)
		goto fail_text;
	srv->lock_ok = true;
	r = -pthread_mutex_init(&srv->log_lock, NULL);
	if (r < 0)
		goto fail_text;
	srv->log_lock_ok = true;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	r = -pthread_cond_init(&srv->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (r < 0)
		goto fail_text;
	srv->cond_ok = true;
	r = -pthread_create(&srv->pacer, NULL, imgsrv_pacer_main, srv);
	if (r < 0)
		goto fail_text;
	srv->pacer_ok = true;

	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME;
	if (o->log)
		flags |= MHD_USE_ERROR_LOG;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	unsigned threads = l->threads ? l->threads : IMGSRV_THREADS;
	int mfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mfd < 0) {
		r = -errno;
		snprintf(err, errlen, "port %u: dup: %s", port, strerror(-r));
		goto fail;
	}
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, imgsrv_on_request, srv,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv, /* first, or MHD logs to stderr */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mfd,
		MHD_OPTION_NOTIFY_COMPLETED, imgsrv_on_completed, srv,
		MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
		MHD_OPTION_URI_LOG_CALLBACK, imgsrv_on_uri, srv,
		MHD_OPTION_CONNECTION_LIMIT, conn_max, /* and no per-address limit */
		MHD_OPTION_CONNECTION_TIMEOUT, l->timeout_s ? l->timeout_s : IMGSRV_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		l->conn_memory ? l->conn_memory : (size_t)IMGSRV_CONN_MEMORY,
		threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, threads,
		MHD_OPTION_END);
	if (!srv->mhd) {
		close_if_same(mfd, fd);
		r = -EIO;
		snprintf(err, errlen, "port %u: libmicrohttpd failed to start", port);
		goto fail;
	}
	close(fd); /* MHD owns mfd now */
	*ret = srv;
	return 0;

fail_text:
	snprintf(err, errlen, "image server: %s", strerror(-r));
fail:
	if (fd >= 0)
		close(fd);
	imgsrv_stop(srv);
	return r;
}

uint16_t
imgsrv_bound_port(const struct imgsrv *srv)
{
	return srv ? srv->port : 0;
}

void
imgsrv_stop(struct imgsrv *srv)
{
	if (!srv)
		return;
	/* MHD must not be stopped with suspended connections: resume them all, and
	 * make their readers fail so they end (DONE with complete=false). */
	if (srv->lock_ok) {
		pthread_mutex_lock(&srv->lock);
		srv->stopping = true;
		while (srv->paced) {
			struct imgsrv_req *r = srv->paced;
			srv->paced = r->next;
			r->next = NULL;
			r->suspended = false;
			MHD_resume_connection(r->conn);
		}
		srv->pacer_quit = true;
		if (srv->cond_ok)
			pthread_cond_signal(&srv->cond);
		pthread_mutex_unlock(&srv->lock);
	}
	if (srv->pacer_ok)
		pthread_join(srv->pacer, NULL);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd); /* closes the listening socket too */
	if (srv->log_suppressed && srv->log)
		log_printf(srv->log, LOG_WARN, "mhd: %lu more messages suppressed",
			   srv->log_suppressed);
	if (srv->cond_ok)
		pthread_cond_destroy(&srv->cond);
	if (srv->log_lock_ok)
		pthread_mutex_destroy(&srv->log_lock);
	if (srv->lock_ok)
		pthread_mutex_destroy(&srv->lock);
	if (srv->rdispatch)
		MHD_destroy_response(srv->rdispatch);
	if (srv->rdiy_ok)
		MHD_destroy_response(srv->rdiy_ok);
	if (srv->r400)
		MHD_destroy_response(srv->r400);
	free(srv->dispatch_json);
	if (srv->r431)
		MHD_destroy_response(srv->r431);
	if (srv->r414)
		MHD_destroy_response(srv->r414);
	if (srv->r413)
		MHD_destroy_response(srv->r413);
	if (srv->r405_post)
		MHD_destroy_response(srv->r405_post);
	if (srv->r405_file)
		MHD_destroy_response(srv->r405_file);
	if (srv->r404)
		MHD_destroy_response(srv->r404);
	free(srv);
}

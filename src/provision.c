/* provision: see provision.h and docs/provisioning.md (which this mirrors).
 *
 * Phases: GET_WAIT -> GET -> POST_WAIT -> POST -> DONE. One lws_sul per run
 * does all the timing: in a *_WAIT phase it is the backoff before the next
 * attempt; in GET or POST it is the attempt's deadline. Connection events
 * (connect error, close, a complete reply) never act inside the lws callback:
 * they record how the attempt ended, detach the wsi and move the sul to "now".
 * Every decision, and the user's done callback, therefore runs from the sul, on
 * a clean stack where prov_cancel() is always safe.
 *
 * A wsi is detached by clearing its opaque user data; callbacks of a detached
 * wsi are ignored (or close it). We close our own wsi by returning -1 inside its
 * callbacks and with LWS_TO_KILL_SYNC from the sul (never inside its callback).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpresp.h"
#include "proto.h"
#include "provision.h"
#include "provreq.h"
#include "util.h"

#define PROV_PROTOCOL_NAME "sonota-prov"

enum prov_phase {
	PH_GET_WAIT, /* backoff before a GET attempt */
	PH_GET,      /* a GET /device attempt is running */
	PH_POST_WAIT,
	PH_POST,     /* a POST /ap attempt is running */
	PH_DONE,     /* the done callback was called (or is being called) */
};

enum prov_end {
	END_NONE,            /* the attempt still runs */
	END_CONNECT_FAILED,  /* no TCP connection */
	END_CLOSED,          /* the device closed before a complete reply */
	END_TIMEOUT,         /* the deadline passed */
	END_MALFORMED,       /* the reply is not valid HTTP or breaks a limit */
	END_REPLY,           /* a complete reply is in head/body */
};

/* Per-vhost data: the runs on this vhost, so that a vhost (or context) destroyed
 * under them can stop their timers before lws frees the timer lists. */
struct prov_vhd {
	struct prov *runs; /* list through prov.next */
};

struct prov {
	struct lws_context *cx;   /* for connects and timers */
	struct lws_vhost *vh;     /* the vhost with prov_protocol */
	struct prov_vhd *vhd;     /* NULL once the vhost was destroyed */
	struct prov *next;        /* in vhd->runs */
	struct log *log;          /* borrowed */
	prov_done_cb cb;          /* user callback */
	void *arg;                /* its argument */

	char addr[INET_ADDRSTRLEN]; /* the device's address */
	uint16_t port;              /* and port */
	char ssid[PROTO_SSID_MAX + 1]; /* for the log only */
	char server[PROTO_HOST_MAX + 1]; /* likewise */
	uint16_t server_port;
	unsigned max_get, get_timeout_ms, post_timeout_ms, backoff_first_ms, backoff_max_ms;

	enum prov_phase phase;    /* see the file comment */
	unsigned get_attempts;    /* GET attempts made */
	unsigned post_attempts;   /* POST attempts made */
	lws_sorted_usec_list_t sul; /* backoff or deadline; "now" after a connection event */

	/* the running attempt */
	struct lws *wsi;          /* NULL when there is none or it was detached */
	enum prov_end end;        /* how it ended */
	bool written;             /* its request was handed to the socket */
	char why[PROV_WHY_MAX];   /* failure text for the log */
	char rx[PROV_REPLY_MAX];  /* reply bytes so far */
	size_t rx_len;
	struct httpresp head;     /* END_REPLY: the reply's head ... */
	char body[PROV_BODY_MAX]; /* ... and NUL-terminated body */
	size_t body_len;

	/* requests, each with LWS_PRE bytes of headroom for lws_write */
	unsigned char *get_req;   /* owned */
	size_t get_len;
	unsigned char *post_req;  /* owned; holds the password: zeroed and freed once written */
	size_t post_len;

	char deviceid[PROTO_DEVICEID_MAX + 1]; /* from GET /device; "" until then */
};

static const char *const result_names[_PROV_RESULT_MAX] = {
	[PROV_OK] = "ok",
	[PROV_POSTED_NO_REPLY] = "posted-no-reply",
	[PROV_DEVICE_UNREACHABLE] = "device-unreachable",
	[PROV_REJECTED] = "rejected",
	[PROV_BAD_REPLY] = "bad-reply",
	[PROV_CANCELLED] = "cancelled",
};

const char *
prov_result_name(enum prov_result r)
{
	return (unsigned)r < _PROV_RESULT_MAX ? result_names[r] : "?";
}

static void on_sul(lws_sorted_usec_list_t *sul);

bool
prov_post_sent(const struct prov *p)
{
	return p && p->phase == PH_POST && p->written;
}

static void
schedule_ms(struct prov *p, unsigned ms)
{
	lws_sul_schedule(p->cx, 0, &p->sul, on_sul, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* ---- the connection --------------------------------------------------------- */

/* Forget the running wsi: its later callbacks find no prov and are ignored. */
static void
detach(struct prov *p)
{
	if (p->wsi) {
		lws_set_opaque_user_data(p->wsi, NULL);
		p->wsi = NULL;
	}
}

/* Record how the attempt ended (the first report wins) and decide from the sul. */
static void
attempt_end(struct prov *p, enum prov_end end, const char *why)
{
	if (p->end != END_NONE)
		return;
	p->end = end;
	if (why)
		util_strlcpy(p->why, why, sizeof(p->why));
	detach(p);
	schedule_ms(p, 0);
}

/* Close the running wsi from outside its callbacks. */
static void
kill_wsi(struct prov *p)
{
	struct lws *wsi = p->wsi;

	detach(p);
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Try to complete the reply from the bytes received. Returns true when the
 * attempt ended (reply complete or malformed). eof: the device closed. */
static bool
try_reply(struct prov *p, bool eof)
{
	char err[PROV_WHY_MAX] = "";
	int r;

	for (;;) {
		r = httpresp_parse(p->rx, p->rx_len, &p->head, err, sizeof(err));
		if (r < 0)
			break;
		/* skip an interim 1xx (we never ask for one, but HTTP allows it) */
		if (p->head.status >= 100 && p->head.status < 200 && p->head.status != 101) {
			memmove(p->rx, p->rx + p->head.header_len, p->rx_len - p->head.header_len);
			p->rx_len -= p->head.header_len;
			continue;
		}
		r = httpresp_body(p->rx, p->rx_len, eof, &p->head, p->body, sizeof(p->body),
				  &p->body_len, err, sizeof(err));
		break;
	}
	if (r == 0) {
		attempt_end(p, END_REPLY, NULL);
		return true;
	}
	if (r == -EAGAIN) {
		if (!eof)
			return false;
		attempt_end(p, END_CLOSED,
			    p->rx_len ? "connection closed inside the reply" : "connection closed");
		return true;
	}
	attempt_end(p, END_MALFORMED, err[0] ? err : "malformed reply");
	return true;
}

static int
on_writeable(struct prov *p, struct lws *wsi)
{
	bool post = p->phase == PH_POST;
	unsigned char *buf = post ? p->post_req : p->get_req;
	size_t len = post ? p->post_len : p->get_len;
	int n;

	if (p->written || !buf)
		return 0;
	/* the whole request in one write: one TCP segment (§2.4) */
	n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_RAW);
	if (n < (int)len) {
		/* nothing usable was sent: a POST stays repeatable */
		attempt_end(p, END_CONNECT_FAILED, "write failed");
		return -1;
	}
	p->written = true;
	if (post) {
		explicit_bzero(p->post_req, LWS_PRE + PROV_REQUEST_MAX + 1);
		free(p->post_req);
		p->post_req = NULL;
	}
	return 0;
}

int
prov_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct prov_vhd *vhd;
	struct prov *p;

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		vhd = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
		if (!vhd && !lws_protocol_vh_priv_zalloc(lws_get_vhost(wsi), lws_get_protocol(wsi),
							 sizeof(struct prov_vhd)))
			return -1;
		return 0;

	case LWS_CALLBACK_PROTOCOL_DESTROY:
		/* The vhost goes (lws_context_destroy): its connections were closed
		 * already, and the timer lists die with the context. Stop every run
		 * and tell its owner. */
		vhd = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
		while (vhd && vhd->runs) {
			p = vhd->runs;
			vhd->runs = p->next;
			p->next = NULL;
			p->vhd = NULL;
			lws_sul_cancel(&p->sul);
			detach(p);
			if (p->phase != PH_DONE) {
				p->phase = PH_DONE;
				p->cb(p->arg, PROV_CANCELLED, p->deviceid[0] ? p->deviceid : NULL);
			}
		}
		return 0;

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		p = lws_get_opaque_user_data(wsi);
		if (p) {
			char why[PROV_WHY_MAX];

			snprintf(why, sizeof(why), "%.*s", in ? (int)len : 0,
				 in ? (const char *)in : "");
			attempt_end(p, END_CONNECT_FAILED, why[0] ? why : "connect failed");
		}
		return 0;

	case LWS_CALLBACK_RAW_CONNECTED:
		p = lws_get_opaque_user_data(wsi);
		if (!p)
			return -1;
		p->wsi = wsi; /* may run before lws_client_connect_via_info returned */
		lws_callback_on_writable(wsi);
		return 0;

	case LWS_CALLBACK_RAW_WRITEABLE:
		p = lws_get_opaque_user_data(wsi);
		if (!p)
			return -1;
		return on_writeable(p, wsi);

	case LWS_CALLBACK_RAW_RX:
		p = lws_get_opaque_user_data(wsi);
		if (!p)
			return -1;
		if (!p->written) {
			attempt_end(p, END_MALFORMED, "the device spoke before our request");
			return -1;
		}
		if (len > sizeof(p->rx) - p->rx_len) {
			attempt_end(p, END_MALFORMED, "reply longer than PROV_REPLY_MAX");
			return -1;
		}
		memcpy(p->rx + p->rx_len, in, len);
		p->rx_len += len;
		return try_reply(p, false) ? -1 : 0;

	case LWS_CALLBACK_RAW_CLOSE:
		p = lws_get_opaque_user_data(wsi);
		if (p)
			try_reply(p, true);
		return 0;

	default:
		return 0;
	}
}

const struct lws_protocols prov_protocol = {
	.name = PROV_PROTOCOL_NAME,
	.callback = prov_lws_callback,
	.per_session_data_size = 0,
	.rx_buffer_size = 0,
};

static void
start_attempt(struct prov *p, enum prov_phase phase)
{
	struct lws_client_connect_info i = { 0 };
	struct lws *wsi;

	p->phase = phase;
	p->end = END_NONE;
	p->written = false;
	p->why[0] = '\0';
	p->rx_len = 0;
	p->body_len = 0;
	if (phase == PH_GET)
		p->get_attempts++;
	else
		p->post_attempts++;

	/* the deadline first: a connect that fails at once moves it to "now" */
	schedule_ms(p, phase == PH_GET ? p->get_timeout_ms : p->post_timeout_ms);

	i.context = p->cx;
	i.vhost = p->vh;
	i.address = p->addr;
	i.port = p->port;
	i.path = "";
	i.host = p->addr;
	i.origin = p->addr;
	i.method = "RAW";
	i.protocol = PROV_PROTOCOL_NAME;
	i.local_protocol_name = PROV_PROTOCOL_NAME;
	i.opaque_user_data = p;
	wsi = lws_client_connect_via_info(&i);
	if (!wsi) {
		attempt_end(p, END_CONNECT_FAILED, "connect failed");
		return;
	}
	if (p->end == END_NONE)
		p->wsi = wsi;
}

static void
finish(struct prov *p, enum prov_result r)
{
	lws_sul_cancel(&p->sul);
	kill_wsi(p);
	p->phase = PH_DONE;
	log_printf(p->log, r == PROV_OK || r == PROV_POSTED_NO_REPLY ? LOG_NOTICE : LOG_ERR,
		   "provisioning: %s", prov_result_name(r));
	p->cb(p->arg, r, p->deviceid[0] ? p->deviceid : NULL);
	/* p may be freed now */
}

static unsigned
backoff_ms(const struct prov *p, unsigned failures)
{
	return provreq_backoff_ms(p->backoff_first_ms, p->backoff_max_ms, failures);
}

static const char *
end_text(const struct prov *p)
{
	if (p->why[0])
		return p->why;
	switch (p->end) {
	case END_TIMEOUT:
		return "no complete reply in time";
	case END_CLOSED:
		return "connection closed";
	default:
		return "connect failed";
	}
}

/* The GET /device attempt ended. */
static void
get_ended(struct prov *p)
{
	struct proto_device_info info;
	int r;

	if (p->end == END_REPLY) {
		if (p->head.status != 200) {
			log_err(p->log, "GET /device: the device answered HTTP %u, not 200; "
					"not sending the WiFi credentials",
				p->head.status);
			finish(p, PROV_BAD_REPLY);
			return;
		}
		r = proto_parse_device_info(p->body, p->body_len, &info);
		/* the reply holds the device's apikey, a secret we do not use */
		explicit_bzero(p->rx, sizeof(p->rx));
		explicit_bzero(p->body, sizeof(p->body));
		if (r < 0) {
			log_err(p->log, "GET /device: the reply is not a device description (%s); "
					"not sending the WiFi credentials to whatever answers "
					"at %s",
				r == -E2BIG ? "a field is too long"
				: r == -EMSGSIZE ? "too long"
						 : "no JSON object with a valid \"deviceid\"",
				p->addr);
			finish(p, PROV_BAD_REPLY);
			return;
		}
		explicit_bzero(info.apikey, sizeof(info.apikey));
		util_strlcpy(p->deviceid, info.deviceid, sizeof(p->deviceid));
		log_notice(p->log, "device \"%s\" answered at %s:%u (accept \"%s\")", p->deviceid,
			   p->addr, p->port, info.accept);
		log_notice(p->log, "sending WiFi \"%s\" and server \"%s\" port %u to device \"%s\" "
				   "(POST /ap, %zu bytes in one write)",
			   p->ssid, p->server, p->server_port, p->deviceid, p->post_len);
		start_attempt(p, PH_POST);
		return;
	}
	if (p->end == END_MALFORMED) {
		log_err(p->log, "GET /device: bad reply from %s:%u (%s); not sending the WiFi "
				"credentials",
			p->addr, p->port, p->why);
		finish(p, PROV_BAD_REPLY);
		return;
	}
	if (p->get_attempts >= p->max_get) {
		log_err(p->log, "GET /device: %s; giving up after %u attempts", end_text(p),
			p->get_attempts);
		finish(p, PROV_DEVICE_UNREACHABLE);
		return;
	}
	log_info(p->log, "GET /device attempt %u of %u: %s, retrying in %u ms", p->get_attempts,
		 p->max_get, end_text(p), backoff_ms(p, p->get_attempts));
	p->phase = PH_GET_WAIT;
	schedule_ms(p, backoff_ms(p, p->get_attempts));
}

/* The POST /ap attempt ended. */
static void
post_ended(struct prov *p)
{
	int error;

	if (!p->written) {
		if (p->post_attempts >= PROV_POST_CONNECT_ATTEMPTS) {
			log_err(p->log,
				"POST /ap: %s; giving up after %u attempts (nothing was sent)",
				end_text(p), p->post_attempts);
			finish(p, PROV_DEVICE_UNREACHABLE);
			return;
		}
		log_warn(p->log, "POST /ap attempt %u of %u: %s before anything was sent, "
				 "retrying in %u ms",
			 p->post_attempts, PROV_POST_CONNECT_ATTEMPTS, end_text(p),
			 backoff_ms(p, p->post_attempts));
		p->phase = PH_POST_WAIT;
		schedule_ms(p, backoff_ms(p, p->post_attempts));
		return;
	}
	if (p->end != END_REPLY) {
		log_warn(p->log, "POST /ap: %s after the request was sent; it counts only if the "
				 "device's AP now goes away",
			 end_text(p));
		finish(p, PROV_POSTED_NO_REPLY);
		return;
	}
	if (p->head.status < 200 || p->head.status > 299) {
		log_err(p->log, "POST /ap: the device answered HTTP %u", p->head.status);
		finish(p, PROV_REJECTED);
		return;
	}
	if (provreq_parse_ap_reply(p->body, p->body_len, &error) < 0) {
		log_warn(p->log, "POST /ap: the device's reply is not {\"error\":N}; it counts "
				 "only if the device's AP now goes away");
		finish(p, PROV_POSTED_NO_REPLY);
		return;
	}
	if (error != 0) {
		log_err(p->log, "POST /ap: the device refused the settings with error %d", error);
		finish(p, PROV_REJECTED);
		return;
	}
	log_notice(p->log, "device \"%s\" accepted WiFi \"%s\"", p->deviceid, p->ssid);
	finish(p, PROV_OK);
}

static void
on_sul(lws_sorted_usec_list_t *sul)
{
	struct prov *p = lws_container_of(sul, struct prov, sul);

	switch (p->phase) {
	case PH_GET_WAIT:
		start_attempt(p, PH_GET);
		return;
	case PH_POST_WAIT:
		start_attempt(p, PH_POST);
		return;
	case PH_GET:
	case PH_POST:
		if (p->end == END_NONE) { /* the deadline */
			kill_wsi(p);
			p->end = END_TIMEOUT;
		}
		if (p->phase == PH_GET)
			get_ended(p);
		else
			post_ended(p);
		return;
	case PH_DONE:
		return;
	}
}

/* ---- start / cancel ---------------------------------------------------------- */

/* LWS_PRE headroom + text, as lws_write wants it. */
static unsigned char *
alloc_request(size_t len)
{
	return calloc(1, LWS_PRE + len + 1);
}

static int
build_requests(struct prov *p, const struct prov_opts *o)
{
	int n;

	p->get_req = alloc_request(PROV_REQUEST_MAX);
	p->post_req = alloc_request(PROV_REQUEST_MAX);
	if (!p->get_req || !p->post_req)
		return -ENOMEM;
	n = provreq_get((char *)p->get_req + LWS_PRE, PROV_REQUEST_MAX + 1, p->addr, p->port);
	if (n < 0)
		return n;
	p->get_len = (size_t)n;
	n = provreq_post((char *)p->post_req + LWS_PRE, PROV_REQUEST_MAX + 1, p->addr, p->port,
			 o->ssid, o->password, o->server_name, o->server_port);
	if (n < 0)
		return n;
	p->post_len = (size_t)n;
	return 0;
}

static void
prov_free(struct prov *p)
{
	if (p->post_req) {
		explicit_bzero(p->post_req, LWS_PRE + PROV_REQUEST_MAX + 1);
		free(p->post_req);
	}
	free(p->get_req);
	free(p);
}

int
prov_start(struct lws_context *cx, struct lws_vhost *vh, const struct prov_opts *o,
	   struct log *log, prov_done_cb cb, void *arg, struct prov **ret)
{
	const struct lws_protocols *prot;
	struct prov_vhd *vhd;
	struct prov *p;
	uint32_t ip;
	int r;

	if (!cx || !vh || !o || !log || !cb || !ret)
		return -EINVAL;
	if (util_parse_ipv4(o->device_addr ? o->device_addr : PROV_DEFAULT_DEVICE_ADDR, &ip) < 0)
		return -EINVAL;
	if (!o->ssid || !o->password || !o->server_name)
		return -EINVAL;
	prot = lws_vhost_name_to_protocol(vh, PROV_PROTOCOL_NAME);
	if (!prot)
		return -ENOPROTOOPT;
	vhd = lws_protocol_vh_priv_get(vh, prot);
	if (!vhd)
		vhd = lws_protocol_vh_priv_zalloc(vh, prot, sizeof(*vhd));
	if (!vhd)
		return -ENOMEM;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cx = cx;
	p->vh = vh;
	p->log = log;
	p->cb = cb;
	p->arg = arg;
	util_format_ipv4(ip, p->addr, sizeof(p->addr));
	p->port = o->device_port ? o->device_port : PROV_DEFAULT_DEVICE_PORT;
	util_strlcpy(p->ssid, o->ssid, sizeof(p->ssid));
	util_strlcpy(p->server, o->server_name, sizeof(p->server));
	p->server_port = o->server_port;
	p->max_get = o->max_get_attempts ? o->max_get_attempts : PROV_GET_ATTEMPTS;
	p->get_timeout_ms = o->get_timeout_ms ? o->get_timeout_ms : PROV_GET_TIMEOUT_MS;
	p->post_timeout_ms = o->post_timeout_ms ? o->post_timeout_ms : PROV_POST_TIMEOUT_MS;
	p->backoff_first_ms = o->backoff_first_ms ? o->backoff_first_ms : PROV_BACKOFF_FIRST_MS;
	p->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : PROV_BACKOFF_MAX_MS;
	if (p->backoff_max_ms < p->backoff_first_ms)
		p->backoff_max_ms = p->backoff_first_ms;

	r = build_requests(p, o);
	if (r < 0) {
		prov_free(p);
		return r;
	}

	p->vhd = vhd;
	p->next = vhd->runs;
	vhd->runs = p;

	log_notice(p->log, "provisioning: asking the device at %s:%u who it is (GET /device)",
		   p->addr, p->port);
	/* the first attempt runs from the loop, so the callback never runs inside
	 * prov_start */
	p->phase = PH_GET_WAIT;
	schedule_ms(p, 0);
	*ret = p;
	return 0;
}

void
prov_cancel(struct prov *p)
{
	if (!p)
		return;
	if (p->vhd) {
		struct prov **pp;

		for (pp = &p->vhd->runs; *pp; pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				break;
			}
		lws_sul_cancel(&p->sul);
		kill_wsi(p);
	}
	prov_free(p);
}

/* provision: see provision.h and docs/provisioning.md (which this mirrors); one
 * attempt's connection is in provconn.c (provint.h).
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

#include "provint.h"
#include "provreq.h"
#include "util.h"

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

void
prov_schedule_ms(struct prov *p, unsigned ms)
{
	lws_sul_schedule(p->cx, 0, &p->sul, on_sul, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void
finish(struct prov *p, enum prov_result r)
{
	lws_sul_cancel(&p->sul);
	prov_kill_wsi(p);
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
		prov_start_attempt(p, PH_POST);
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
	prov_schedule_ms(p, backoff_ms(p, p->get_attempts));
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
		prov_schedule_ms(p, backoff_ms(p, p->post_attempts));
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
		prov_start_attempt(p, PH_GET);
		return;
	case PH_POST_WAIT:
		prov_start_attempt(p, PH_POST);
		return;
	case PH_GET:
	case PH_POST:
		if (p->end == END_NONE) { /* the deadline */
			prov_kill_wsi(p);
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
	prov_schedule_ms(p, 0);
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
		prov_kill_wsi(p);
	}
	prov_free(p);
}

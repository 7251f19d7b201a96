/* provconn: one provisioning attempt's connection (provint.h): the lws client
 * callback, which only records how the attempt ended and moves the run's timer to
 * "now" (provision.c decides, on a clean stack; see its file comment). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "provint.h"
#include "util.h"

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
	prov_schedule_ms(p, 0);
}

/* Close the running wsi from outside its callbacks. */
void
prov_kill_wsi(struct prov *p)
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

void
prov_start_attempt(struct prov *p, enum prov_phase phase)
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
	prov_schedule_ms(p, phase == PH_GET ? p->get_timeout_ms : p->post_timeout_ms);

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

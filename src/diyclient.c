/* diyclient: see diyclient.h.
 *
 * Phases: IDLE -> GAP (waiting out DIY_REQ_GAP_MS since the last exchange ended) -> RUN (the
 * connection; the sul is the deadline) -> END (the result is decided; the sul at "now"
 * delivers it) -> IDLE. As in provision.c, connection events never call the user: they
 * record how the exchange ended, detach the wsi and move the sul to "now". A wsi is detached
 * by clearing its opaque user data; callbacks of a detached wsi are ignored (or close it).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diyclient.h"
#include "diyhttp.h"
#include "util.h"

#define DIYCLIENT_PROTOCOL_NAME "sonota-diy"
#define DIYCLIENT_GAP_MARGIN_MS 50 /* on top of DIY_REQ_GAP_MS: the device's clock starts when
				    * it sends its answer, ours when we have read it (diysim
				    * caught 199 ms without it) */

enum dc_phase {
	DC_IDLE,
	DC_GAP, /* the request waits for DIY_REQ_GAP_MS since the last exchange */
	DC_RUN, /* connecting / written / reading; the sul is the deadline */
	DC_END, /* decided; the sul delivers it */
};

/* Per-vhost data: the clients on this vhost, so a vhost destroyed under them stops their
 * timers before lws frees the timer lists. */
struct dc_vhd {
	struct diyclient *list;
};

struct diyclient {
	struct lws_context *cx;
	struct lws_vhost *vh;
	struct dc_vhd *vhd; /* NULL once the vhost was destroyed */
	struct diyclient *next;
	struct log *log;
	lws_sorted_usec_list_t sul;
	enum dc_phase phase;
	struct lws *wsi;
	uint64_t last_end_ms; /* util_mono_ms() when the last exchange ended; 0 = none */

	/* the exchange */
	char addr[16];
	uint16_t port;
	enum diyflow_step step;
	bool sent_deviceid;
	unsigned timeout_ms;
	diyclient_cb cb;
	void *arg;
	bool written;
	struct diyhttp_seen seen;
	struct diyclient_done done;
	unsigned char req[LWS_PRE + DIYHTTP_REQ_MAX + 1];
	size_t req_len;
	char rx[DIYCLIENT_RX_MAX];
};

static void on_sul(lws_sorted_usec_list_t *sul);

static void
schedule_ms(struct diyclient *c, uint64_t ms)
{
	lws_sul_schedule(c->cx, 0, &c->sul, on_sul, (lws_usec_t)ms * LWS_US_PER_MS);
}

static void
detach(struct diyclient *c)
{
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		c->wsi = NULL;
	}
}

static void
kill_wsi(struct diyclient *c)
{
	struct lws *wsi = c->wsi;

	detach(c);
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Classify what was seen; on a verdict detach and deliver from the sul. true = ended. */
static bool
judge(struct diyclient *c)
{
	struct diy_info info;
	int r;

	if (c->phase != DC_RUN)
		return true;
	c->seen.buf = c->rx;
	memset(&info, 0, sizeof(info));
	r = diyhttp_classify(c->step, c->sent_deviceid, &c->seen, &c->done.res, &info);
	if (r == -EAGAIN)
		return false;
	c->done.has_info = c->step == DIYFLOW_STEP_INFO &&
			   c->done.res.outcome == DIYFLOW_OUT_REPLY && c->done.res.error == 0;
	if (c->done.has_info)
		c->done.info = info;
	c->phase = DC_END;
	detach(c);
	schedule_ms(c, 0);
	return true;
}

static int
dc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct dc_vhd *vhd;
	struct diyclient *c;
	int n;

	(void)user;
	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		vhd = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
		if (!vhd && !lws_protocol_vh_priv_zalloc(lws_get_vhost(wsi), lws_get_protocol(wsi),
							 sizeof(struct dc_vhd)))
			return -1;
		return 0;

	case LWS_CALLBACK_PROTOCOL_DESTROY:
		vhd = lws_protocol_vh_priv_get(lws_get_vhost(wsi), lws_get_protocol(wsi));
		while (vhd && vhd->list) {
			c = vhd->list;
			vhd->list = c->next;
			c->next = NULL;
			c->vhd = NULL;
			lws_sul_cancel(&c->sul);
			detach(c);
			c->phase = DC_IDLE; /* the owner frees it; no callback after the loop */
		}
		return 0;

	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		c = lws_get_opaque_user_data(wsi);
		if (c && c->phase == DC_RUN) {
			c->wsi = NULL;
			c->seen.reset = true; /* refused, unreachable: no reply will come */
			judge(c);
		}
		return 0;

	case LWS_CALLBACK_RAW_CONNECTED:
		c = lws_get_opaque_user_data(wsi);
		if (!c)
			return -1;
		c->wsi = wsi;
		lws_callback_on_writable(wsi);
		return 0;

	case LWS_CALLBACK_RAW_WRITEABLE:
		c = lws_get_opaque_user_data(wsi);
		if (!c)
			return -1;
		if (c->written)
			return 0;
		/* the whole request in one write (§3.3) */
		n = lws_write(wsi, c->req + LWS_PRE, c->req_len, LWS_WRITE_RAW);
		if (n < (int)c->req_len) {
			c->seen.reset = true;
			judge(c);
			return -1;
		}
		c->written = true;
		return 0;

	case LWS_CALLBACK_RAW_RX:
		c = lws_get_opaque_user_data(wsi);
		if (!c)
			return -1;
		if (len > sizeof(c->rx) - c->seen.len) {
			/* longer than any reply: whatever it is, it is not one */
			if (c->phase == DC_RUN) {
				c->done.res = (struct diyflow_result){
					.step = c->step,
					.outcome = DIYFLOW_OUT_BAD_REPLY,
					.sent_deviceid = c->sent_deviceid,
				};
				c->phase = DC_END;
				detach(c);
				schedule_ms(c, 0);
			}
			return -1;
		}
		memcpy(c->rx + c->seen.len, in, len);
		c->seen.len += len;
		return judge(c) ? -1 : 0;

	case LWS_CALLBACK_RAW_CLOSE:
		c = lws_get_opaque_user_data(wsi);
		if (c) {
			c->wsi = NULL;
			c->seen.eof = true;
			judge(c);
		}
		return 0;

	default:
		return 0;
	}
}

const struct lws_protocols diyclient_protocol = {
	.name = DIYCLIENT_PROTOCOL_NAME,
	.callback = dc_callback,
};

static void
connect_now(struct diyclient *c)
{
	struct lws_client_connect_info i = { 0 };
	struct lws *wsi;

	c->phase = DC_RUN;
	schedule_ms(c, c->timeout_ms); /* the deadline first: a failed connect moves it */
	i.context = c->cx;
	i.vhost = c->vh;
	i.address = c->addr;
	i.port = c->port;
	i.path = "";
	i.host = c->addr;
	i.origin = c->addr;
	i.method = "RAW";
	i.protocol = DIYCLIENT_PROTOCOL_NAME;
	i.local_protocol_name = DIYCLIENT_PROTOCOL_NAME;
	i.opaque_user_data = c;
	wsi = lws_client_connect_via_info(&i);
	if (!wsi) {
		c->seen.reset = true;
		judge(c);
		return;
	}
	if (c->phase == DC_RUN)
		c->wsi = wsi;
}

static void
on_sul(lws_sorted_usec_list_t *sul)
{
	struct diyclient *c = lws_container_of(sul, struct diyclient, sul);
	struct diyclient_done d;

	switch (c->phase) {
	case DC_GAP:
		connect_now(c);
		return;
	case DC_RUN: /* the deadline */
		kill_wsi(c);
		c->seen.timed_out = true;
		judge(c);
		return;
	case DC_END:
		c->phase = DC_IDLE;
		c->last_end_ms = util_mono_ms();
		d = c->done;
		log_debug(c->log, "diy: %s:%u %s%s -> %s %d", c->addr, c->port,
			  diyflow_action_name(c->step == DIYFLOW_STEP_INFO     ? DIYFLOW_ACT_INFO
					      : c->step == DIYFLOW_STEP_UNLOCK ? DIYFLOW_ACT_UNLOCK
									 : DIYFLOW_ACT_FLASH),
			  c->sent_deviceid ? "" : " (no deviceid)",
			  d.res.outcome == DIYFLOW_OUT_REPLY	   ? "reply"
			  : d.res.outcome == DIYFLOW_OUT_RESET	   ? "reset/empty"
			  : d.res.outcome == DIYFLOW_OUT_TIMEOUT   ? "timeout"
								   : "bad-reply",
			  d.res.error);
		c->cb(c->arg, &d); /* may send again or free c */
		return;
	case DC_IDLE:
		return;
	}
}

int
diyclient_new(struct lws_context *cx, struct lws_vhost *vh, struct log *log,
	      struct diyclient **ret)
{
	const struct lws_protocols *prot;
	struct dc_vhd *vhd;
	struct diyclient *c;

	if (!cx || !vh || !log || !ret)
		return -EINVAL;
	prot = lws_vhost_name_to_protocol(vh, DIYCLIENT_PROTOCOL_NAME);
	if (!prot)
		return -ENOPROTOOPT;
	vhd = lws_protocol_vh_priv_get(vh, prot);
	if (!vhd)
		vhd = lws_protocol_vh_priv_zalloc(vh, prot, sizeof(*vhd));
	if (!vhd)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cx = cx;
	c->vh = vh;
	c->log = log;
	c->vhd = vhd;
	c->next = vhd->list;
	vhd->list = c;
	*ret = c;
	return 0;
}

bool
diyclient_busy(const struct diyclient *c)
{
	return c && c->phase != DC_IDLE;
}

int
diyclient_send(struct diyclient *c, const char *ipv4, uint16_t port, enum diyflow_step step,
	       const char *deviceid, const char *body, unsigned timeout_ms, diyclient_cb cb,
	       void *arg)
{
	char *own = NULL;
	uint32_t ip;
	uint64_t now, wait = 0;
	int n;

	if (!c || !ipv4 || !port || !cb || !timeout_ms || !c->vhd)
		return -EINVAL;
	if (c->phase != DC_IDLE)
		return -EBUSY;
	if (deviceid && !deviceid[0])
		return -EINVAL; /* never "" (§3.2) */
	if (util_parse_ipv4(ipv4, &ip) < 0)
		return -EINVAL;
	if (!body) {
		if (step == DIYFLOW_STEP_INFO)
			own = diy_build_info(deviceid);
		else if (step == DIYFLOW_STEP_UNLOCK)
			own = diy_build_ota_unlock(deviceid);
		else
			return -EINVAL;
		if (!own)
			return -ENOMEM;
		body = own;
	}
	util_format_ipv4(ip, c->addr, sizeof(c->addr));
	n = diyhttp_request(step, c->addr, port, body, (char *)c->req + LWS_PRE,
			    DIYHTTP_REQ_MAX + 1);
	free(own);
	if (n < 0)
		return n;
	c->req_len = (size_t)n;
	c->port = port;
	c->step = step;
	c->sent_deviceid = deviceid != NULL;
	c->timeout_ms = timeout_ms;
	c->cb = cb;
	c->arg = arg;
	c->written = false;
	memset(&c->seen, 0, sizeof(c->seen));
	memset(&c->done, 0, sizeof(c->done));

	/* the gap since the last exchange (§3.3), waited here, never by the caller */
	now = util_mono_ms();
	if (c->last_end_ms && now - c->last_end_ms < DIY_REQ_GAP_MS + DIYCLIENT_GAP_MARGIN_MS)
		wait = DIY_REQ_GAP_MS + DIYCLIENT_GAP_MARGIN_MS - (now - c->last_end_ms);
	c->phase = DC_GAP;
	schedule_ms(c, wait); /* from the loop: cb never runs inside diyclient_send */
	return 0;
}

void
diyclient_free(struct diyclient *c)
{
	if (!c)
		return;
	if (c->vhd) {
		struct diyclient **pp;

		for (pp = &c->vhd->list; *pp; pp = &(*pp)->next)
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		lws_sul_cancel(&c->sul);
		kill_wsi(c);
	}
	free(c);
}

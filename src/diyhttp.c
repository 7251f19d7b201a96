/* diyhttp: see diyhttp.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "diyhttp.h"
#include "httpresp.h"

static const char *
cmd_of(enum diyflow_step step)
{
	switch (step) {
	case DIYFLOW_STEP_INFO: return "info";
	case DIYFLOW_STEP_UNLOCK: return "ota_unlock";
	case DIYFLOW_STEP_FLASH: return "ota_flash";
	default: return NULL;
	}
}

int
diyhttp_request(enum diyflow_step step, const char *ipv4, uint16_t port, const char *body,
		char *out, size_t outlen)
{
	char url[DIY_URL_MAX + 1];
	const char *cmd = cmd_of(step);
	int n;

	/* diy_format_url() validates the address and port the same way as for downloadUrl */
	if (!cmd || !body || diy_format_url(ipv4, port, "/", url) < 0)
		return -EINVAL;
	n = snprintf(out, outlen, "POST /zeroconf/%s HTTP/1.1\r\nHost: %s:%u\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", cmd, ipv4,
		     (unsigned)port, strlen(body), body);
	if (n < 0 || (size_t)n >= outlen)
		return -E2BIG;
	return n;
}

int
diyhttp_classify(enum diyflow_step step, bool sent_deviceid, const struct diyhttp_seen *seen,
		 struct diyflow_result *ret, struct diy_info *ret_info)
{
	struct diyflow_result r = { .step = step, .sent_deviceid = sent_deviceid };
	char body[DIY_REPLY_MAX + 1];
	struct httpresp h;
	struct diy_info info;
	size_t blen;
	int e;

	if (seen->len == 0 && (seen->eof || seen->reset)) {
		r.outcome = DIYFLOW_OUT_RESET; /* "Empty reply from server" or an RST */
		goto out;
	}
	e = httpresp_parse(seen->buf, seen->len, &h, NULL, 0);
	if (e == 0)
		e = httpresp_body(seen->buf, seen->len, seen->eof, &h, body, sizeof(body), &blen,
				  NULL, 0);
	if (e == -EAGAIN) {
		if (seen->reset) {
			r.outcome = DIYFLOW_OUT_RESET;
			goto out;
		}
		if (seen->timed_out) {
			r.outcome = DIYFLOW_OUT_TIMEOUT;
			goto out;
		}
		if (seen->eof) {
			/* a head cut short by the close: httpresp_body() judges a short body at
			 * eof, an unfinished head is ours to judge */
			r.outcome = DIYFLOW_OUT_BAD_REPLY;
			goto out;
		}
		return -EAGAIN;
	}
	if (e < 0 || h.status != 200) {
		r.outcome = DIYFLOW_OUT_BAD_REPLY;
		goto out;
	}
	if (step == DIYFLOW_STEP_INFO) {
		e = diy_parse_info(body, blen, &info);
		if (e == 0) {
			r.error = info.reply.error;
			r.ota_unlock = info.ota_unlock;
		}
	} else {
		struct diy_reply rep;

		e = diy_parse_reply(body, blen, &rep);
		if (e == 0)
			r.error = rep.error;
	}
	if (e < 0) {
		r.outcome = DIYFLOW_OUT_BAD_REPLY;
		goto out;
	}
	r.outcome = DIYFLOW_OUT_REPLY;
	if (step == DIYFLOW_STEP_INFO && ret_info)
		*ret_info = info;
out:
	*ret = r;
	return 0;
}

/* dispatch: the stock firmware's POST /dispatch/device (PROTOCOL §3.1).
 *
 * One TLS connection per dispatch: request head and body in one write (one TLS record),
 * `Host:` the provisioned serverName. The reply must be 200 with a Content-Length body of
 * exactly {"error":0,"reason":"ok","IP":<IPv4 string>,"port":<integer>}.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "conn.h"
#include "devsim.h"
#include "dispatch.h"
#include "http.h"
#include "msg.h"

#define DISPATCH_TIMEOUT_MS 10000	/* TCP+TLS connect, and the response */
#define DISPATCH_BODY_MAX 1024		/* dispatch reply: four short fields */

int
dispatch_post(struct devsim *d, struct conn *c, char *ip, size_t ipcap, uint16_t *ret_port)
{
	char *body = NULL, head[512], err[160];
	const cJSON *e, *reason, *jip, *jport;
	struct http_resp resp;
	struct in_addr ia;
	cJSON *o = NULL;
	int hl, n, r;

	d->phase = "dispatching";
	conn_init(c, d);
	r = conn_tls_connect(c, d->server_name, d->server_port, d->bind_addr,
			     DISPATCH_TIMEOUT_MS);
	if (r == -EACCES || r == -EPROTO)
		return DISPATCH_TLS;
	if (r < 0) {
		if (d->failed)
			return r;
		dev_log(d, "cannot reach the dispatch server %s:%u: %s, retrying", d->server_name,
			d->server_port, strerror(-r));
		return DISPATCH_RETRY;
	}
	body = msg_dispatch(&d->model, d->deviceid, d->apikey, dev_uptime_s(d));
	if (!body) {
		r = dev_fail(d, DEV_EXIT_PROTOCOL, "out of memory");
		goto out;
	}
	n = snprintf(head, sizeof(head),
		     "POST /dispatch/device HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n"
		     "\r\n", d->server_name, strlen(body));
	{
		/* one write: head and body in one TLS record */
		size_t bl = strlen(body);
		char *req = malloc((size_t)n + bl);

		if (!req) {
			r = dev_fail(d, DEV_EXIT_PROTOCOL, "out of memory");
			goto out;
		}
		memcpy(req, head, (size_t)n);
		memcpy(req + n, body, bl);
		r = conn_write_all(c, req, (size_t)n + bl, DISPATCH_TIMEOUT_MS);
		free(req);
	}
	if (r < 0) {
		r = d->failed ? r : DISPATCH_RETRY;
		goto out;
	}
	dev_dbg_json(d, "POST /dispatch/device", body);
	hl = conn_read_head(c, HTTP_HEAD_MAX, DISPATCH_TIMEOUT_MS);
	if (hl <= 0) {
		r = d->failed ? hl : dev_fail(d, DEV_EXIT_PROTOCOL, "dispatch: no valid response "
					      "head (%s)", hl == 0 ? "connection closed" :
					      strerror(-hl));
		goto out;
	}
	if (http_parse_response((const char *)conn_data(c), (size_t)hl, &resp, err,
				sizeof(err)) < 0) {
		r = dev_fail(d, DEV_EXIT_PROTOCOL, "dispatch: %s", err);
		goto out;
	}
	conn_consume(c, (size_t)hl);
	if (resp.status != 200 || resp.te_chunked || resp.content_length < 0 ||
	    resp.content_length > DISPATCH_BODY_MAX) {
		r = dev_fail(d, DEV_EXIT_PROTOCOL, "dispatch: status %d, Content-Length %lld%s "
			     "(need 200, Content-Length <= %d, no chunked)", resp.status,
			     resp.content_length, resp.te_chunked ? ", chunked" : "",
			     DISPATCH_BODY_MAX);
		goto out;
	}
	while (conn_avail(c) < (size_t)resp.content_length) {
		r = conn_fill(c, DISPATCH_TIMEOUT_MS);
		if (r <= 0) {
			r = d->failed ? r : dev_fail(d, DEV_EXIT_PROTOCOL, "dispatch: body "
						     "incomplete");
			goto out;
		}
	}
	o = cJSON_ParseWithLength((const char *)conn_data(c), (size_t)resp.content_length);
	e = cJSON_GetObjectItemCaseSensitive(o, "error");
	reason = cJSON_GetObjectItemCaseSensitive(o, "reason");
	jip = cJSON_GetObjectItemCaseSensitive(o, "IP");
	jport = cJSON_GetObjectItemCaseSensitive(o, "port");
	if (!cJSON_IsObject(o) || !cJSON_IsNumber(e) || e->valuedouble != 0 ||
	    !cJSON_IsString(reason) || strcmp(reason->valuestring, "ok") ||
	    !cJSON_IsString(jip) || inet_pton(AF_INET, jip->valuestring, &ia) != 1 ||
	    strlen(jip->valuestring) >= ipcap || !cJSON_IsNumber(jport) ||
	    jport->valuedouble < 1 || jport->valuedouble > 65535 ||
	    jport->valuedouble != (double)(int)jport->valuedouble) {
		r = dev_fail(d, DEV_EXIT_PROTOCOL, "dispatch reply is not {\"error\":0,\"reason\":"
			     "\"ok\",\"IP\":<IPv4 string>,\"port\":<int>}: %.*s",
			     (int)(resp.content_length > 200 ? 200 : resp.content_length),
			     (const char *)conn_data(c));
		goto out;
	}
	snprintf(ip, ipcap, "%s", jip->valuestring);
	*ret_port = (uint16_t)jport->valuedouble;
	dev_log(d, "dispatch: WebSocket server %s:%u", ip, *ret_port);
	r = 0;
out:
	cJSON_Delete(o);
	free(body);
	conn_close(c, r == 0);
	return r;
}

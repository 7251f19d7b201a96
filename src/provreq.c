/* provreq: see provreq.h. Pure. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "proto.h"
#include "provreq.h"

static void
host_of(char *host, size_t len, const char *addr, uint16_t port)
{
	if (port == 80)
		snprintf(host, len, "%s", addr);
	else
		snprintf(host, len, "%s:%u", addr, port);
}

int
provreq_get(char *buf, size_t max, const char *addr, uint16_t port)
{
	char host[64];
	host_of(host, sizeof(host), addr, port);
	int n = snprintf(buf, max, "GET /device HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
			 host);
	return n < 0 || (size_t)n >= max ? -EMSGSIZE : n;
}

int
provreq_post(char *buf, size_t max, const char *addr, uint16_t port, const char *ssid,
	     const char *password, const char *server, uint16_t server_port)
{
	char host[64];
	int n, r;

	host_of(host, sizeof(host), addr, port);
	/* proto_build_ap validates the bounds of ssid, password and server name */
	char *json = proto_build_ap(ssid, password, server, server_port);
	if (!json)
		return -EINVAL;
	size_t jlen = strlen(json);
	/* one buffer: request line, headers and body go out in one write */
	n = snprintf(buf, max,
		     "POST /ap HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     host, jlen, json);
	r = n < 0 || (size_t)n >= max ? -EMSGSIZE : n;
	explicit_bzero(json, jlen);
	free(json);
	return r;
}

int
provreq_parse_ap_reply(const char *body, size_t len, int *ret_error)
{
	const char *end = NULL;
	cJSON *root, *e;
	int r = -EINVAL;

	root = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!root)
		return -EINVAL;
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(root) && cJSON_IsNumber(e) && e->valuedouble >= -2147483648.0 &&
	    e->valuedouble <= 2147483647.0 && e->valuedouble == (double)(int)e->valuedouble) {
		*ret_error = (int)e->valuedouble;
		r = 0;
	}
	for (; r == 0 && end && end < body + len; end++)
		if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
			r = -EINVAL;
	cJSON_Delete(root);
	return r;
}

unsigned
provreq_backoff_ms(unsigned first, unsigned max, unsigned failures)
{
	unsigned ms = first;

	for (unsigned k = 1; k < failures && ms < max; k++)
		ms *= 2;
	return ms < max ? ms : max;
}

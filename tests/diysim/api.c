/* diysim: the device's /zeroconf API on port 8081 (§3, §4, §9 items 1-8) and its mDNS
 * announcements (§2, §9 item 13). One connection at a time: api_serve() handles one request
 * and closes, and whoever connects meanwhile is reset.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sim.h"

#define REQ_HEAD_MS 2000   /* a request must arrive this soon after connecting */
#define HANG_MS 10000      /* 3.3's hang on malformed JSON, bounded for tests */
#define UNLOCK_SRV_MS 5000 /* the unlock server's answer */
#define SSID "simnet"
#define BSSID "ec:17:2f:3d:15:e" /* devices print octets without leading zeros (§4) */
#define RSSI -47



/* The device state as TXT dataN and as info fields (§2, §4). Caller frees. */
static cJSON *
state(const struct sim *s, bool for_info)
{
	cJSON *o = cJSON_CreateObject();

	if (s->m.multi_channel) {
		cJSON *a = cJSON_AddArrayToObject(o, "switches");

		for (int i = 0; i < 4; i++) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "switch", s->sw_on ? "on" : "off");
			cJSON_AddNumberToObject(e, "outlet", i);
			cJSON_AddItemToArray(a, e);
		}
	} else {
		cJSON_AddStringToObject(o, "switch", s->sw_on ? "on" : "off");
		cJSON_AddStringToObject(o, "startup", "off");
		cJSON_AddStringToObject(o, "pulse", "off");
		cJSON_AddNumberToObject(o, "pulseWidth", 500);
	}
	if (!for_info) {
		cJSON_AddNumberToObject(o, "rssi", RSSI);
		if (s->m.fw_version[0]) {
			cJSON_AddStringToObject(o, "ssid", SSID);
			cJSON_AddStringToObject(o, "bssid", BSSID);
		}
		return o;
	}
	cJSON_AddStringToObject(o, "ssid", SSID);
	cJSON_AddBoolToObject(o, "otaUnlock", s->unlocked);
	if (s->m.fw_version[0]) { /* 3.5+ (§4) */
		cJSON_AddStringToObject(o, "fwVersion", s->m.fw_version);
		cJSON_AddStringToObject(o, "deviceid", s->id);
		cJSON_AddStringToObject(o, "bssid", BSSID);
		cJSON_AddNumberToObject(o, "signalStrength", RSSI);
	}
	return o;
}

void
sim_announce(struct sim *s, bool goodbye)
{
	uint8_t pkt[SIM_MDNS_PKT_MAX];
	cJSON *st;
	char *json;
	int n;

	if (s->mdns_fd < 0)
		return;
	st = state(s, false);
	json = s->lan_mode ? strdup("q83vEjRWeJA=") /* LAN mode: ciphertext (§2, §8) */
			   : cJSON_PrintUnformatted(st);
	cJSON_Delete(st);
	if (!json)
		return;
	n = sim_mdns_encode(&(struct sim_announce){ .id = s->id, .type = s->m.type, .seq = s->seq,
						  .state = json, .addr = s->bind.s_addr,
						  .port = s->port, .goodbye = goodbye,
						  .lan = s->lan_mode },
			    pkt, sizeof(pkt));
	free(json);
	if (n > 0 && sendto(s->mdns_fd, pkt, (size_t)n, 0, (struct sockaddr *)&s->mdns_dest,
			    sizeof(s->mdns_dest)) < 0)
		sim_log(s, "mDNS send failed: %s", strerror(errno));
	else if (n > 0)
		sim_log(s, "mDNS %s (seq %u, %d bytes)", goodbye ? "goodbye" : "announce", s->seq,
		        n);
}

static void
reply(struct sim *s, int fd, int error, cJSON *data)
{
	cJSON *o = cJSON_CreateObject();
	char head[160], *body;

	cJSON_AddNumberToObject(o, "seq", s->seq);
	cJSON_AddNumberToObject(o, "error", error);
	if (data) {
		if (s->m.info_data_string) { /* 3.3/3.4: data is a string holding JSON (§3.1) */
			char *inner = cJSON_PrintUnformatted(data);

			cJSON_AddStringToObject(o, "data", inner ? inner : "");
			free(inner);
			cJSON_Delete(data);
		} else {
			cJSON_AddItemToObject(o, "data", data);
		}
	}
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!body)
		return;
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", strlen(body));
	if (net_write_all(fd, head, strlen(head)) == 0)
		(void)net_write_all(fd, body, strlen(body));
	sim_log(s, "reply %s", body);
	free(body);
}

/* Someone connected while a connection is open: the device resets it (IT#45). */
static void
refuse_newcomer(struct sim *s)
{
	int c = accept(s->listen_fd, NULL, NULL);

	if (c >= 0) {
		s->second_conn_rst++;
		sim_log(s, "second connection while busy: reset (IT#45)");
		net_close_rst(c);
	}
}

/* Hold fd open until the peer closes or ms pass, resetting anyone else who connects (the
 * device serves one connection at a time, §3.3). */
static void
hold(struct sim *s, int fd, int ms)
{
	int64_t end = sim_now_ms() + ms;

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = s->listen_fd, .events = POLLIN } };
		int64_t left = end - sim_now_ms();
		char junk[256];

		if (left <= 0 || poll(p, 2, (int)left) < 0)
			return;
		if (p[1].revents & POLLIN)
			refuse_newcomer(s);
		if ((p[0].revents & (POLLIN | POLLHUP)) && read(fd, junk, sizeof(junk)) <= 0)
			return;
	}
}

/* Until fd is readable (or ms pass), resetting new connections. */
static void
wait_readable(struct sim *s, int fd, int ms)
{
	int64_t end = sim_now_ms() + ms;

	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = s->listen_fd, .events = POLLIN } };
		int64_t left = end - sim_now_ms();

		if (left <= 0 || poll(p, 2, (int)left) <= 0)
			return;
		if (p[1].revents & POLLIN)
			refuse_newcomer(s);
		if (p[0].revents)
			return;
	}
}

static void
malformed(struct sim *s, int fd, const char *why)
{
	sim_log(s, "malformed request (%s): %s", why,
		s->m.malformed == SIM_BAD_HANG ? "hanging (3.3, IT#53)" : "reset (IT#128)");
	if (s->m.malformed == SIM_BAD_HANG)
		hold(s, fd, HANG_MS);
	net_close_rst(fd);
}

/* POST /v2/d/otaflash to the fake unlock server; 0 = unlocked, 1 = refused, <0 no answer. */
static int
unlock_remote(struct sim *s)
{
	char ip[INET_ADDRSTRLEN], req[256], buf[1024], body[64];
	size_t len, hl;
	struct sim_resp resp;
	int fd, r, err = -1;
	cJSON *o;

	inet_ntop(AF_INET, &s->unlock_srv.sin_addr, ip, sizeof(ip));
	fd = net_connect(ip, ntohs(s->unlock_srv.sin_port), UNLOCK_SRV_MS);
	if (fd < 0)
		return fd;
	/* The real request was never published (§4.1, unverified): a minimal JSON body. */
	snprintf(body, sizeof(body), "{\"deviceid\":\"%s\"}", s->id);
	snprintf(req, sizeof(req), "POST /v2/d/otaflash HTTP/1.1\r\nHost: apid.coolkit.cn\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(body),
		 body);
	r = net_write_all(fd, req, strlen(req));
	if (r == 0)
		r = net_read_head(fd, buf, sizeof(buf), &len, &hl, sim_now_ms() + UNLOCK_SRV_MS);
	if (r == 0)
		r = sim_parse_resp(buf, hl, &resp);
	if (r == 0 && resp.content_length > 0 && (size_t)resp.content_length < sizeof(buf) - hl)
		r = net_fill(fd, (uint8_t *)buf, hl + (size_t)resp.content_length, len,
			     UNLOCK_SRV_MS);
	close(fd);
	if (r < 0)
		return r;
	buf[hl + (resp.content_length > 0 ? (size_t)resp.content_length : 0)] = '\0';
	o = cJSON_Parse(buf + hl);
	if (resp.status == 200 && cJSON_IsNumber(cJSON_GetObjectItem(o, "error")))
		err = cJSON_GetObjectItem(o, "error")->valueint;
	cJSON_Delete(o);
	sim_log(s, "unlock server answered %d, error %d", resp.status, err);
	return err == 0 ? 0 : 1;
}

static bool
hex64(const char *h)
{
	if (strlen(h) != 64)
		return false;
	for (; *h; h++)
		if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f') ||
		      (*h >= 'A' && *h <= 'F')))
			return false;
	return true;
}

/* One request on a connection the device accepted; the connection is closed on return. */
static void
handle(struct sim *s, int fd)
{
	char buf[SIM_HEAD_MAX + SIM_BODY_MAX + 1];
	size_t len, hl;
	struct sim_req rq;
	const cJSON *idit, *data;
	const char *cmd;
	cJSON *root;
	int64_t now;
	int r;

	/* Wait for the request, resetting anyone else who connects meanwhile (§3.3). */
	wait_readable(s, fd, REQ_HEAD_MS);
	r = net_read_head(fd, buf, SIM_HEAD_MAX, &len, &hl, sim_now_ms() + REQ_HEAD_MS);
	now = sim_now_ms();
	if (r < 0) {
		sim_log(s, "no request head (%s): closing", strerror(-r));
		net_close_rst(fd);
		return;
	}
	if (sim_parse_req(buf, hl, &rq) < 0) {
		malformed(s, fd, "request line");
		return;
	}
	if (rq.minor == 0) {
		s->http10_ignored++;
		sim_log(s, "HTTP/1.0 %s %s ignored: no answer (IT#105)", rq.method, rq.path);
		hold(s, fd, 1000);
		close(fd);
		return;
	}
	if (s->last_req_ms && now - s->last_req_ms < s->m.min_gap_ms) {
		s->gap_refused++;
		sim_log(s, "request %lld ms after the previous one (< %d ms): reset",
			(long long)(now - s->last_req_ms), s->m.min_gap_ms);
		net_close_rst(fd);
		return;
	}
	if (strcmp(rq.method, "POST") || strncmp(rq.path, "/zeroconf/", 10)) {
		sim_log(s, "%s %s: not a /zeroconf POST, no answer", rq.method, rq.path);
		net_close_rst(fd);
		return;
	}
	cmd = rq.path + 10;
	if (rq.chunked || rq.content_length < 0 || rq.content_length > SIM_BODY_MAX) {
		malformed(s, fd, "no usable Content-Length");
		return;
	}
	if (net_fill(fd, (uint8_t *)buf, hl + (size_t)rq.content_length, len, REQ_HEAD_MS) < 0 ||
	    len > hl + (size_t)rq.content_length) {
		malformed(s, fd, "body shorter or longer than Content-Length");
		return;
	}
	buf[hl + (size_t)rq.content_length] = '\0';
	root = cJSON_Parse(buf + hl);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		malformed(s, fd, "body is not one JSON object");
		return;
	}
	sim_log(s, "POST %s %s", rq.path, buf + hl);
	idit = cJSON_GetObjectItemCaseSensitive(root, "deviceid");
	switch (sim_deviceid_check(s->m.idrule, s->id, idit != NULL,
				   cJSON_IsString(idit) ? idit->valuestring : NULL)) {
	case SIM_IDV_DROP:
		sim_log(s, "deviceid \"\": dropping the request without a reply (3.7.x, NJH#18)");
		net_close_rst(fd);
		goto out;
	case SIM_IDV_404:
		reply(s, fd, 404, NULL);
		goto done;
	case SIM_IDV_422:
		sim_log(s, "deviceid sent to a MINIR3: 422 (IT#123)");
		reply(s, fd, 422, NULL);
		goto done;
	case SIM_IDV_OK:
		break;
	}
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (!cJSON_IsObject(data)) {
		reply(s, fd, 400, NULL);
		goto done;
	}
	if (!strcmp(cmd, "info")) {
		reply(s, fd, 0, state(s, true));
	} else if (!strcmp(cmd, "switch") && !s->m.multi_channel) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(data, "switch");

		if (!cJSON_IsString(v) ||
		    (strcmp(v->valuestring, "on") && strcmp(v->valuestring, "off"))) {
			reply(s, fd, 422, NULL);
			goto done;
		}
		s->sw_on = !strcmp(v->valuestring, "on");
		s->seq++;
		reply(s, fd, 0, NULL);
		sim_announce(s, false);
	} else if (!strcmp(cmd, "ota_unlock")) {
		int u = s->unlock == SIM_UNLOCK_INTERNET ? 0
			: s->unlock == SIM_UNLOCK_SERVER ? unlock_remote(s) : -1;

		if (u < 0) {
			sim_log(s, "ota_unlock: unlock server unreachable, holding the connection "
				"%d ms, then closing without a reply (§4.1)", s->unlock_hang_ms);
			hold(s, fd, s->unlock_hang_ms);
			close(fd);
			goto out;
		}
		if (u == 0)
			s->unlocked = true;
		reply(s, fd, u == 0 ? 0 : 500, NULL);
	} else if (!strcmp(cmd, "ota_flash")) {
		const cJSON *url = cJSON_GetObjectItemCaseSensitive(data, "downloadUrl");
		const cJSON *sha = cJSON_GetObjectItemCaseSensitive(data, "sha256sum");

		if (!s->unlocked) {
			reply(s, fd, 403, NULL);
		} else if (!cJSON_IsString(url) || !cJSON_IsString(sha) ||
		           !hex64(sha->valuestring) ||
		           strlen(url->valuestring) >= sizeof(s->flash_url)) {
			reply(s, fd, 422, NULL);
		} else if (strncmp(url->valuestring, "http://", 7)) {
			sim_log(
			    s,
			    "downloadUrl is not http:// : answering 0 and doing nothing (IT#10)");
			reply(s, fd, 0, NULL);
		} else {
			reply(s, fd, 0, NULL); /* before downloading (§5.1) */
			s->flash_pending = true;
			strcpy(s->flash_url, url->valuestring);
			strcpy(s->flash_sha, sha->valuestring);
		}
	} else {
		sim_log(s, "unknown command '%s': no answer", cmd);
		net_close_rst(fd);
		goto out;
	}
done:
	close(fd);
out:
	s->last_req_ms = sim_now_ms();
	cJSON_Delete(root);
}

void
api_serve(struct sim *s, int fd)
{
	handle(s, fd);
}

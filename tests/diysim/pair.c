/* diysim pair: the compatible-pairing AP of a 3.5+ device (DIY-PROTOCOL.md §1.2, §1.3,
 * §9.14): ITEAD-<id>'s HTTP server at 10.10.7.1:80 with the old JSON provisioning API,
 * GET /device and POST /ap, as strict as tests/devsim's (PROTOCOL.md §2.2-§2.4):
 *  - HTTP/1.0: closed without a reply; Transfer-Encoding: never answered;
 *  - POST /ap without Content-Length, with a body over 1024 bytes, whose head and body
 *    did not arrive in one read (one TCP segment, §2.4), that is not one JSON object, or
 *    whose fields have the wrong types or bounds (version, port: integers; ssid 1-32,
 *    password at most 64, serverName non-empty: strings): no reply at all, the connection
 *    held, then closed (the client times out, like on the real device);
 *  - a valid POST /ap: {"error":0}, then the AP goes (the join command takes 10.10.7.1
 *    down and brings the home address up) and the device joins the WiFi in DIY mode or in
 *    eWeLink LAN mode, as the model's pair_ap says (§1.3 is unknown).
 * The WiFi password is a secret here too: only its length is logged.
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

#define PAIR_REQ_MAX 4096   /* head + body of one request */
#define PAIR_BODY_MAX 1024  /* POST /ap: five short fields */
#define PAIR_READ_MS 3000   /* a request must be complete this soon after connecting */
#define PAIR_SILENT_MS 5000 /* an ignored request: the connection is held this long */
#define PAIR_BIND_TRIES 100 /* x 50 ms: the AP address may come up just after the start */
#define PAIR_SSID_MAX 32
#define PAIR_PASS_MAX 64

static int
pair_listen(struct sim *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = s->pair_addr,
				 .sin_port = htons(s->pair_port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	for (int i = 0; bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0; i++) {
		if (errno != EADDRNOTAVAIL || i >= PAIR_BIND_TRIES) {
			int e = errno;

			close(fd);
			return -e;
		}
		usleep(50 * 1000);
	}
	if (listen(fd, 4) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void
pair_reply(struct sim *s, int fd, int status, const char *body)
{
	char head[200];

	snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status,
		 status == 200 ? "OK" : "Not Found", strlen(body));
	if (net_write_all(fd, head, strlen(head)) == 0)
		(void)net_write_all(fd, body, strlen(body));
	sim_log(s, "AP: reply %d %s", status, body);
}

/* No reply: hold the connection until the client gives up or PAIR_SILENT_MS. */
static void
pair_silent(struct sim *s, int fd, const char *why)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char junk[256];
	int64_t end = sim_now_ms() + PAIR_SILENT_MS;

	s->pair_ignored++;
	sim_log(s, "AP: ignoring the request silently (no reply, like the real device): %s", why);
	while (sim_now_ms() < end && poll(&p, 1, (int)(end - sim_now_ms())) > 0)
		if (recv(fd, junk, sizeof(junk), 0) <= 0)
			break;
}

static bool
json_int(const cJSON *o, const char *k, long min, long max, long *ret)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long)it->valuedouble ||
	    it->valuedouble < min || it->valuedouble > max)
		return false;
	*ret = (long)it->valuedouble;
	return true;
}

static const char *
json_str(const cJSON *o, const char *k, size_t max, bool nonempty)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsString(it) || strlen(it->valuestring) > max ||
	    (nonempty && !it->valuestring[0]))
		return NULL;
	return it->valuestring;
}

/* POST /ap's body (§2.3). 1: provisioned (*ok: the home WiFi's settings), 0: ignored. */
static int
pair_post(struct sim *s, const char *body, size_t len, bool *ok, char why[160])
{
	const char *ssid = NULL, *pass = NULL, *server = NULL, *bad = NULL;
	long version = 0, port = 0;
	cJSON *root = cJSON_ParseWithLength(body, len);

	if (!root)
		bad = "body is not valid JSON";
	else if (!cJSON_IsObject(root))
		bad = "body is not a JSON object";
	else if (cJSON_GetObjectItemCaseSensitive(root, "version") &&
		 !json_int(root, "version", 0, 1000, &version))
		bad = "\"version\" not an integer number"; /* optional on 3.5+ (§1.3) */
	else if (!(ssid = json_str(root, "ssid", PAIR_SSID_MAX, true)))
		bad = "\"ssid\" missing, not a string, empty or longer than 32";
	else if (!(pass = json_str(root, "password", PAIR_PASS_MAX, false)))
		bad = "\"password\" missing, not a string or longer than 64";
	else if (!(server = json_str(root, "serverName", 255, true)))
		bad = "\"serverName\" missing, not a string or empty";
	else if (!json_int(root, "port", 1, 65535, &port))
		bad = "\"port\" missing or not an integer number in 1..65535";
	if (bad) {
		snprintf(why, 160, "POST /ap: %s", bad);
		cJSON_Delete(root);
		return 0;
	}
	sim_log(s, "AP: POST /ap: version %ld, ssid \"%s\", password (%zu chars), serverName "
		"\"%s\", port %ld", version, ssid, strlen(pass), server, port);
	*ok = (!s->pair_ssid || !strcmp(ssid, s->pair_ssid)) &&
	      (!s->pair_password || !strcmp(pass, s->pair_password));
	if (!*ok)
		snprintf(why, 160, "POST /ap carried ssid \"%s\" and a password of %zu chars, but "
			 "the home WiFi is \"%s\" with %zu: the device never joins it", ssid,
			 strlen(pass), s->pair_ssid ? s->pair_ssid : "?",
			 s->pair_password ? strlen(s->pair_password) : 0);
	cJSON_Delete(root);
	return 1;
}

/* One connection, one request. 1: a valid POST /ap (*ok as above), else 0. */
static int
pair_serve(struct sim *s, int fd, bool *ok, char why[160])
{
	char buf[PAIR_REQ_MAX + 1];
	size_t len = 0, hl = 0;
	int reads = 0, r = 0;
	int64_t end = sim_now_ms() + PAIR_READ_MS;
	struct sim_req q;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char *e;
		ssize_t n;

		if (poll(&p, 1, (int)(end - sim_now_ms() > 0 ? end - sim_now_ms() : 0)) <= 0) {
			sim_log(s, "AP: request incomplete after %d ms, closing", PAIR_READ_MS);
			return 0;
		}
		n = recv(fd, buf + len, PAIR_REQ_MAX - len, 0);
		if (n <= 0)
			return 0;
		len += (size_t)n;
		reads++;
		buf[len] = '\0';
		if (!hl && (e = strstr(buf, "\r\n\r\n"))) {
			hl = (size_t)(e - buf) + 4;
			if (sim_parse_req(buf, hl, &q) < 0) {
				sim_log(s, "AP: malformed request head, closing");
				return 0;
			}
			if (q.minor != 1) {
				sim_log(s, "AP: rejecting %s %s: not HTTP/1.1 (ITEAD's servers drop "
					"HTTP/1.0), closing without a reply", q.method, q.path);
				s->pair_ignored++;
				return 0;
			}
			if (q.chunked) {
				pair_silent(s, fd, "Transfer-Encoding is not understood");
				return 0;
			}
			if (q.content_length > PAIR_BODY_MAX) {
				pair_silent(s, fd, "body too large");
				return 0;
			}
		}
		if (hl && len >= hl + (size_t)(q.content_length > 0 ? q.content_length : 0))
			break;
		if (len >= PAIR_REQ_MAX) {
			sim_log(s, "AP: request too long, closing");
			return 0;
		}
	}
	if (!strcmp(q.method, "GET") && !strcmp(q.path, "/device")) {
		char body[200];

		snprintf(body, sizeof(body), "{\"deviceid\":\"%s\",\"apikey\":\"%s\",\"accept\":"
			 "\"post\",\"chipid\":\"00771234\"}", s->id,
			 "11111111-2222-3333-4444-555555555555");
		sim_log(s, "AP: GET /device");
		pair_reply(s, fd, 200, body);
	} else if (!strcmp(q.method, "POST") && !strcmp(q.path, "/ap")) {
		char bad[160];

		if (q.content_length < 0)
			pair_silent(s, fd, "POST /ap without Content-Length");
		else if (reads > 1)
			pair_silent(s, fd, "POST /ap's head and body came in several segments");
		else if (!pair_post(s, buf + hl, (size_t)q.content_length, ok, bad))
			pair_silent(s, fd, bad);
		else {
			if (!*ok)
				snprintf(why, 160, "%s", bad);
			pair_reply(s, fd, 200, "{\"error\":0}");
			r = 1;
		}
	} else {
		sim_log(s, "AP: %s %s: not found", q.method, q.path);
		pair_reply(s, fd, 404, "{\"error\":404}");
	}
	return r;
}

int
pair_run(struct sim *s, int64_t deadline_ms, volatile const sig_atomic_t *stop)
{
	char ip[INET_ADDRSTRLEN], why[160] = "";
	bool ok = false;
	int lfd = pair_listen(s), r = 0;

	inet_ntop(AF_INET, &s->pair_addr, ip, sizeof(ip));
	if (lfd < 0) {
		sim_log(s, "AP: cannot listen on %s:%u: %s", ip, s->pair_port, strerror(-lfd));
		return 0;
	}
	sim_log(s, "compatible pairing AP ITEAD-%s, server on %s:%u, fw %s", s->id, ip,
		s->pair_port, s->m.fw_version[0] ? s->m.fw_version : "3.3");
	while (!*stop && sim_now_ms() < deadline_ms) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		r = pair_serve(s, fd, &ok, why);
		close(fd);
		if (r)
			break;
	}
	close(lfd);
	if (!r)
		return 0;
	sim_log(s, "AP: leaving the pairing AP for the home WiFi");
	if (s->pair_join && system(s->pair_join) != 0)
		sim_log(s, "AP: the join command failed: %s", s->pair_join);
	if (!ok) {
		s->result = SIM_EXIT_PAIR_FAILED;
		snprintf(s->reason, sizeof(s->reason), "%s", why);
		sim_log(s, "%s", why);
		return -1;
	}
	s->lan_mode = s->m.pair_ap == SIM_PAIR_LAN;
	sim_log(s, "joined the home WiFi in %s", s->lan_mode ? "eWeLink LAN mode (encrypted, no "
		"DIY API)" : "DIY mode");
	return 1;
}

/* ap: pairing AP HTTP server of the stock firmware (PROTOCOL §2.2-§2.4).
 *
 * Behaviour modelled on the evidence of §2.4:
 *  - HTTP/1.0 requests are rejected (the connection is closed without a reply);
 *  - a POST /ap whose body is not valid JSON, or whose fields have the wrong JSON type
 *    (numbers must be numbers), gets NO reply at all - the client just times out;
 *  - with the model knob ap_needs_single_segment, a POST /ap whose head and body did not
 *    arrive in one read() is ignored the same way (lwIP segmentation trouble, §2.4/§12-2);
 *  - after a valid POST /ap: reply {"error":0}, close, drop the AP.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ap.h"
#include "conn.h"
#include "devsim.h"
#include "http.h"

#define AP_CONN_MAX 4			/* lwIP on the device allows only a few sockets */
#define AP_REQ_MAX 4096			/* head + body of one request */
#define AP_BODY_MAX 1024		/* POST /ap body: five short fields */
#define AP_SSID_MAX 32			/* 802.11 SSID */
#define AP_PASS_MAX 64			/* WPA passphrase */

struct ap_conn {
	int fd;				/* -1: free */
	char buf[AP_REQ_MAX + 1];
	size_t len;
	int reads;			/* read() calls that contributed to the current request */
	bool silent;			/* device stopped answering on this connection */
};

struct ap {
	struct devsim *d;
	int lfd;
	struct ap_conn c[AP_CONN_MAX];
	bool provisioned;
};

static void
ap_conn_close(struct ap_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->reads = 0;
	c->silent = false;
}

static int
ap_listen(struct ap *ap)
{
	struct devsim *d = ap->d;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)d->ap_port) };
	socklen_t sl = sizeof(sin);
	int fd, one = 1, tries;

	if (inet_pton(AF_INET, d->ap_addr, &sin.sin_addr) != 1)
		return dev_fail(d, DEV_EXIT_USAGE, "--ap-addr \"%s\" is not an IPv4 address",
				d->ap_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return dev_fail(d, DEV_EXIT_USAGE, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* the driver adds the AP address from the ap-up hook; allow it a moment to settle */
	for (tries = 0; bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0; tries++) {
		if (errno != EADDRNOTAVAIL || tries >= 20) {
			int e = errno;

			close(fd);
			return dev_fail(d, DEV_EXIT_HOOK, "cannot bind the AP server to %s:%d: %s",
					d->ap_addr, d->ap_port, strerror(e));
		}
		if (conn_sleep(d, 100) < 0) {
			close(fd);
			return -ETIMEDOUT;
		}
	}
	if (listen(fd, 8) < 0 || getsockname(fd, (struct sockaddr *)&sin, &sl) < 0) {
		int e = errno;

		close(fd);
		return dev_fail(d, DEV_EXIT_USAGE, "listen: %s", strerror(e));
	}
	ap->lfd = fd;
	dev_log(d, "AP ITEAD-%s up, HTTP server listening on %s:%u", d->deviceid, d->ap_addr,
		ntohs(sin.sin_port));
	return 0;
}

static void
ap_reply(struct ap *ap, struct ap_conn *c, int status, const char *reason, const char *body,
	 bool close_after)
{
	char out[1024];
	int n;

	n = snprintf(out, sizeof(out),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n"
		     "Connection: %s\r\n"
		     "\r\n%s",
		     status, reason, strlen(body), close_after ? "close" : "keep-alive", body);
	if (n > 0 && (size_t)n < sizeof(out) && send(c->fd, out, (size_t)n, MSG_NOSIGNAL) < 0)
		dev_log(ap->d, "AP: sending the reply failed: %s", strerror(errno));
}

static bool
json_int(const cJSON *o, const char *key, long min, long max, long *ret)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(it) || it->valuedouble != (double)(long)it->valuedouble ||
	    it->valuedouble < (double)min || it->valuedouble > (double)max)
		return false;
	*ret = (long)it->valuedouble;
	return true;
}

static const char *
json_str(const cJSON *o, const char *key, size_t maxlen, bool nonempty)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsString(it) || strlen(it->valuestring) > maxlen ||
	    (nonempty && !it->valuestring[0]))
		return NULL;
	return it->valuestring;
}

/* Validate the POST /ap body (§2.3). 1 = provisioned, 0 = ignored silently. */
static int
ap_post(struct ap *ap, const char *body, size_t len)
{
	struct devsim *d = ap->d;
	const char *ssid, *pass, *server, *why = NULL;
	long version, port;
	cJSON *root;

	root = cJSON_ParseWithLength(body, len);
	if (!root)
		why = "body is not valid JSON";
	else if (!cJSON_IsObject(root))
		why = "body is not a JSON object";
	else if (!json_int(root, "version", 0, 1000, &version))
		why = "\"version\" missing or not an integer number";
	else if (!(ssid = json_str(root, "ssid", AP_SSID_MAX, true)))
		why = "\"ssid\" missing, not a string, empty or longer than 32";
	else if (!(pass = json_str(root, "password", AP_PASS_MAX, false)))
		why = "\"password\" missing, not a string or longer than 64";
	else if (!(server = json_str(root, "serverName", DEV_HOST_MAX - 1, true)))
		why = "\"serverName\" missing, not a string or empty";
	else if (!json_int(root, "port", 1, 65535, &port))
		why = "\"port\" missing or not an integer number in 1..65535";
	if (why) {
		dev_log(d, "AP: ignoring POST /ap silently (no reply, like the real device): %s",
			why);
		cJSON_Delete(root);
		return 0;
	}
	snprintf(d->server_name, sizeof(d->server_name), "%s", server);
	d->server_port = (uint16_t)port;
	/* the WiFi password is a secret: only its length is logged */
	dev_log(d, "AP: provisioned: version %ld, ssid \"%s\", password (%zu chars), "
		"serverName \"%s\", port %ld", version, ssid, strlen(pass), server, port);
	if (d->ssid_check && strcmp(d->ssid_check, ssid)) {
		dev_fail(d, DEV_EXIT_PROTOCOL, "POST /ap carried ssid \"%s\", but the home WiFi is "
			 "\"%s\": the device would never join it", ssid, d->ssid_check);
		cJSON_Delete(root);
		return 1;
	}
	cJSON_Delete(root);
	return 1;
}

/* Handle complete requests buffered on c. */
static void
ap_process(struct ap *ap, struct ap_conn *c)
{
	struct devsim *d = ap->d;

	while (c->fd >= 0 && c->len && !c->silent) {
		struct http_req req;
		char err[128];
		char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
		size_t hl, total;

		if (!e) {
			if (c->len >= AP_REQ_MAX) {
				dev_log(d, "AP: request head too long, closing");
				ap_conn_close(c);
			}
			return;
		}
		hl = (size_t)(e - c->buf) + 4;
		if (http_parse_request(c->buf, hl, &req, err, sizeof(err)) < 0) {
			dev_log(d, "AP: malformed request (%s), closing", err);
			ap_conn_close(c);
			return;
		}
		if (req.minor != 1) {
			dev_log(d, "AP: rejecting %s %s: not HTTP/1.1 (ITEAD's servers drop "
				"HTTP/1.0 requests), closing without a reply", req.method,
				req.path);
			ap_conn_close(c);
			return;
		}
		if (req.te_present) {
			dev_log(d, "AP: %s %s with Transfer-Encoding: not understood, no reply",
				req.method, req.path);
			c->silent = true;
			return;
		}
		total = hl + (size_t)(req.content_length > 0 ? req.content_length : 0);
		if (req.content_length > AP_BODY_MAX) {
			dev_log(d, "AP: %s %s body of %lld bytes is too large, no reply",
				req.method, req.path, req.content_length);
			c->silent = true;
			return;
		}
		if (c->len < total)
			return;		/* body incomplete */
		if (!strcmp(req.method, "GET") && !strcmp(req.path, "/device")) {
			char body[256];

			snprintf(body, sizeof(body),
				 "{\"deviceid\":\"%s\",\"apikey\":\"%s\",\"accept\":\"post\"}",
				 d->deviceid, d->apikey);
			dev_log(d, "AP: GET /device");
			ap_reply(ap, c, 200, "OK", body, false);
		} else if (!strcmp(req.method, "POST") && !strcmp(req.path, "/ap")) {
			dev_log(d, "AP: POST /ap: head and body arrived in %d read%s%s", c->reads,
				c->reads == 1 ? "" : "s",
				req.expect ? " (Expect header present, ignored)" : "");
			if (d->ap_post_silent) {
				dev_log(d, "AP: --ap-post-silent: no reply to POST /ap, the AP stays");
				c->silent = true;
				return;
			}
			if (req.content_length < 0) {
				dev_log(d, "AP: POST /ap without Content-Length, no reply");
				c->silent = true;
				return;
			}
			if (d->model.ap_needs_single_segment && c->reads > 1) {
				dev_log(d, "AP: this model ignores a POST /ap split over several "
					"segments (ap_needs_single_segment), no reply");
				c->silent = true;
				return;
			}
			if (ap_post(ap, c->buf + hl, (size_t)req.content_length)) {
				ap_reply(ap, c, 200, "OK", "{\"error\":0}", true);
				ap_conn_close(c);
				ap->provisioned = true;
				return;
			}
			c->silent = true;
			return;
		} else {
			dev_log(d, "AP: %s %s: not found", req.method, req.path);
			ap_reply(ap, c, 404, "Not Found", "{\"error\":404}", false);
		}
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
		c->reads = c->len ? 1 : 0;
	}
}

static void
ap_accept(struct ap *ap)
{
	int fd = accept4(ap->lfd, NULL, NULL, SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	for (i = 0; i < AP_CONN_MAX; i++) {
		if (ap->c[i].fd < 0) {
			ap->c[i].fd = fd;
			ap->c[i].len = 0;
			ap->c[i].reads = 0;
			ap->c[i].silent = false;
			return;
		}
	}
	dev_log(ap->d, "AP: too many connections, refusing one");
	close(fd);
}

static void
ap_read(struct ap *ap, struct ap_conn *c)
{
	ssize_t n;

	if (c->len >= AP_REQ_MAX) {
		ap_conn_close(c);
		return;
	}
	n = recv(c->fd, c->buf + c->len, AP_REQ_MAX - c->len, 0);
	if (n <= 0) {
		ap_conn_close(c);
		return;
	}
	if (c->silent)
		return;			/* the device stopped listening on this one */
	c->len += (size_t)n;
	c->reads++;
	ap_process(ap, c);
}

int
ap_run(struct devsim *d)
{
	struct ap ap = { .d = d, .lfd = -1 };
	int64_t ap_end;
	int r, i;

	for (i = 0; i < AP_CONN_MAX; i++)
		ap.c[i].fd = -1;
	d->phase = "waiting for provisioning on the AP";
	r = dev_hook(d, "ap-up");
	if (r < 0)
		return r;
	r = ap_listen(&ap);
	if (r < 0)
		goto out;
	ap_end = conn_now_ms() + (int64_t)d->ap_timeout_s * 1000;
	while (!ap.provisioned) {
		struct pollfd pfd[1 + AP_CONN_MAX];
		int map[1 + AP_CONN_MAX];
		int n = 0;
		int64_t left = ap_end - conn_now_ms();

		if (left <= 0) {
			r = dev_fail(d, DEV_EXIT_AP_TIMEOUT, "nobody provisioned the AP within %d s",
				     d->ap_timeout_s);
			break;
		}
		pfd[n].fd = ap.lfd;
		pfd[n].events = POLLIN;
		map[n++] = -1;
		for (i = 0; i < AP_CONN_MAX; i++) {
			if (ap.c[i].fd < 0)
				continue;
			pfd[n].fd = ap.c[i].fd;
			pfd[n].events = POLLIN;
			map[n++] = i;
		}
		r = conn_wait_fds(d, pfd, n, (int)(left > 1000 ? 1000 : left));
		if (r < 0)
			break;
		for (i = 0; i < n && r > 0; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] < 0)
				ap_accept(&ap);
			else
				ap_read(&ap, &ap.c[map[i]]);
		}
		r = 0;
	}
out:
	for (i = 0; i < AP_CONN_MAX; i++)
		ap_conn_close(&ap.c[i]);
	if (ap.lfd >= 0)
		close(ap.lfd);
	dev_log(d, "AP ITEAD-%s down", d->deviceid);
	if (dev_hook(d, "ap-down") < 0 && r >= 0)
		r = -EPROTO;
	if (r >= 0 && d->failed)
		r = -EPROTO;
	return r;
}

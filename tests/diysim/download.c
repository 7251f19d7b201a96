/* diysim: what the device does after answering ota_flash (§5.3-§5.5, §9 items 9-12):
 * download the image in 4096-byte Range requests, check every answer strictly, verify the
 * SHA-256, POST the result to the image server, then reboot into the image (which may brick
 * the device) or stay in DIY mode on failure.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sim.h"

#define CONNECT_MS 5000    /* connecting to the image server */
#define COMPLETION_MS 2000 /* the completion POST's answer is awaited, then ignored */
#define EXTRA_WAIT_MS 5 /* after a body: more bytes readable = a server bug */
#define ITEAD_HOST "dl.itead.cn" /* 3.5/3.6 send this Host whatever the URL says (§5.2) */

struct dl {
	char host[64], path[128], hosthdr[96];
	uint16_t port;
	int fd;
	unsigned reqs_on_fd;  /* requests sent on the current connection */
	unsigned long total;  /* from the first Content-Range; 0 = unknown */
	unsigned long off;
};

static void
completion(struct sim *s, const struct dl *d, int error)
{
	char req[256], buf[512];
	size_t len, hl;
	int fd;

	if (!s->m.completion) {
		sim_log(s, "model sends no completion POST (error would be %d)", error);
		return;
	}
	fd = net_connect_from(s->bind, d->host, d->port, CONNECT_MS); /* from its address */
	if (fd < 0) {
		sim_log(s, "completion POST: cannot connect to %s:%u", d->host, d->port);
		return;
	}
	snprintf(req, sizeof(req), "POST /api/device/otaFlash HTTP/1.1\r\nHost: %s\r\n"
		 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"error\":%d}",
		 d->hosthdr, snprintf(NULL, 0, "{\"error\":%d}", error), error);
	if (net_write_all(fd, req, strlen(req)) == 0)
		(void)net_read_head(fd, buf, sizeof(buf), &len, &hl, sim_now_ms() + COMPLETION_MS);
	close(fd);
	sim_log(s, "completion POST {\"error\":%d} sent to %s:%u", error, d->host, d->port);
}

static int
fail(struct sim *s, const char *why, unsigned long off)
{
	snprintf(s->reason, sizeof(s->reason), "download failed at byte %lu: %s", off, why);
	sim_log(s, "%s", s->reason);
	return -1;
}

/* One Range request for the chunk at d->off. 0 (advanced), 1 (retry on a new connection),
 * or -1 (failed, reason set). */
static int
chunk(struct sim *s, struct dl *d)
{
	char head[SIM_HEAD_MAX + SIM_CHUNK + 1], req[384];
	unsigned long a = d->off, b = d->off + SIM_CHUNK - 1;
	struct sim_resp rp;
	size_t len, hl, extra;
	int r;

	if (d->total && b > d->total - 1)
		b = d->total - 1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nRange: bytes=%lu-%lu\r\n\r\n",
		 d->path, d->hosthdr, a, b);
	r = net_write_all(d->fd, req, strlen(req));
	if (r == 0)
		r = net_read_head(d->fd, head, sizeof(head), &len, &hl,
		                  sim_now_ms() + s->m.stall_ms);
	if (r == -ECONNRESET || r == -EPIPE) {
		if (d->reqs_on_fd > 0)
			return 1; /* the server closed a kept-alive connection: reconnect */
		return fail(s, "the server closed the connection mid-image", a);
	}
	if (r == -ETIMEDOUT)
		return fail(s, "stalled: no answer within the device's timeout", a);
	if (r < 0)
		return fail(s, strerror(-r), a);
	d->reqs_on_fd++;
	r = sim_parse_resp(head, hl, &rp);
	if (r == -EPROTO)
		return fail(s, "Content-Range is not \"bytes a-b/total\"", a);
	if (r < 0)
		return fail(s, "malformed response head", a);
	if (rp.status != 206) {
		char why[96];

		snprintf(why, sizeof(why), "status %d, not 206: the server ignored Range (424)",
			 rp.status);
		return fail(s, why, a);
	}
	if (rp.chunked)
		return fail(s, "chunked encoding", a);
	if (rp.content_length < 0 || !rp.has_range)
		return fail(s, "206 without Content-Length or Content-Range", a);
	if (!d->total) {
		d->total = rp.cr_total;
		sim_log(s, "image is %lu bytes", d->total);
		if (d->total > s->m.size_max) {
			char why[96];

			snprintf(why, sizeof(why), "image of %lu bytes exceeds the device's %u",
				 d->total, s->m.size_max);
			return fail(s, why, a);
		}
		if (b > d->total - 1)
			b = d->total - 1;
	}
	if (rp.cr_total != d->total || rp.cr_a != a || rp.cr_b != b)
		return fail(s, "Content-Range does not match the requested range", a);
	if ((unsigned long)rp.content_length != b - a + 1)
		return fail(s, "Content-Length is not the range's length", a);
	extra = len - hl;
	if (extra > (size_t)rp.content_length)
		return fail(s, "bytes beyond Content-Length", a);
	memcpy(s->image + a, head + hl, extra);
	r = net_fill(d->fd, s->image + a, (size_t)rp.content_length, extra, s->m.stall_ms);
	if (r == -ETIMEDOUT)
		return fail(s, "stalled mid-chunk", a);
	if (r < 0)
		return fail(s, "the server closed the connection mid-chunk", a);
	d->off = b + 1;
	if (rp.close) {
		close(d->fd);
		d->fd = -1;
	} else {
		/* nothing more may be readable: a longer body is a server bug */
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, EXTRA_WAIT_MS) == 1) {
			if (read(d->fd, &c, 1) > 0)
				return fail(s, "bytes beyond Content-Length", a);
			close(d->fd);
			d->fd = -1;
		}
	}
	return 0;
}

void
download_run(struct sim *s)
{
	struct dl d = { .fd = -1 };
	char sha[65];
	bool retried = false;
	enum sim_img v;

	s->flash_pending = false;
	if (sim_parse_url(s->flash_url, d.host, &d.port, d.path) < 0) {
		snprintf(s->reason, sizeof(s->reason), "cannot use downloadUrl '%s' (an IPv4 "
			 "literal is required by this simulator)", s->flash_url);
		sim_log(s, "%s", s->reason);
		s->flashes_failed++;
		return;
	}
	if (s->m.host_itead)
		snprintf(d.hosthdr, sizeof(d.hosthdr), "%s", ITEAD_HOST);
	else
		snprintf(d.hosthdr, sizeof(d.hosthdr), "%s:%u", d.host, d.port);
	sim_log(s, "downloading %s (Host: %s)", s->flash_url, d.hosthdr);
	while (!d.total || d.off < d.total) {
		int r;

		if (s->m.drop_at && d.total &&
		    d.off * 100 / d.total >= (unsigned long)s->m.drop_at) {
			snprintf(s->reason, sizeof(s->reason),
			         "WiFi dropped at byte %lu of %lu (%d%%): "
			         "no completion POST, the device stays on its firmware",
			         d.off, d.total, s->m.drop_at);
			sim_log(s, "%s", s->reason);
			if (d.fd >= 0)
				net_close_rst(d.fd);
			s->flashes_failed++;
			sim_announce(s, false); /* back on the WLAN, still in DIY mode */
			return;
		}
		if (d.fd < 0) {
			d.fd = net_connect_from(s->bind, d.host, d.port, CONNECT_MS);
			d.reqs_on_fd = 0;
			if (d.fd < 0) {
				fail(s, "cannot connect to the image server", d.off);
				goto failed;
			}
		}
		r = chunk(s, &d);
		if (r < 0)
			goto failed;
		if (r == 1) {
			close(d.fd);
			d.fd = -1;
			if (retried) {
				fail(s, "the server keeps closing the connection", d.off);
				goto failed;
			}
			retried = true;
			continue;
		}
		retried = false;
	}
	if (d.fd >= 0)
		close(d.fd);
	if (s->m.corrupt && d.total)
		s->image[d.total / 2] ^= 0x01; /* model "corrupt": a bit flipped on the way */
	sim_sha256_hex(s->image, d.total, sha);
	if (strcmp(sha, s->flash_sha) != 0) {
		snprintf(s->reason, sizeof(s->reason),
		         "sha256 of the %lu downloaded bytes is %s, "
		         "ota_flash said %s%s",
		         d.total, sha, s->flash_sha,
		         strcasecmp(sha, s->flash_sha) == 0 ? " (upper case: refused, IT#102)"
		                                            : "");
		sim_log(s, "%s", s->reason);
		completion(s, &d, 409);
		s->flashes_failed++;
		return;
	}
	/* The device does not check the format: it writes what it got and reboots (§9.10). */
	v = sim_image_verdict(s->image, d.total);
	completion(s, &d, 0);
	sim_announce(s, true);
	s->finished = true;
	s->result = v == SIM_IMG_BOOTS ? SIM_EXIT_OK : SIM_EXIT_BRICKED;
	snprintf(s->reason, sizeof(s->reason), "%lu bytes flashed, digest ok: %s", d.total,
		 sim_image_text(v));
	sim_log(s, "%s", s->reason);
	return;
failed:
	if (d.fd >= 0)
		close(d.fd);
	completion(s, &d, 404);
	s->flashes_failed++;
}

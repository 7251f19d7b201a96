/* diyroute: the DIY route's pure cores (src/diy.h, diyflow.h, dnssd.h, diyimage.h) driving
 * diysim end to end, before the engine exists to do it. It is a test, not the adapter: it
 * does the I/O the route table will do (mDNS tap, one request per connection 250 ms apart, an
 * image server with exact 206 answers and the completion POST handler) in the plainest way,
 * so that a disagreement between the cores and the strict simulator shows up now.
 *
 *   test-diyroute --diysim PATH --models DIR --mkimage PATH --case NAME
 *
 * Cases: ok-<model> (the takeover completes: verdict DONE), unlock-offline (give-up naming
 * the Internet), bad-digest (verdict FAILED on completion 409), qio-refused (diyimage_check
 * refuses the image; nothing is sent, the device is never bricked). Exit 0 when the case's
 * expectation holds.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diy.h"
#include "diyflow.h"
#include "diyhttp.h"
#include "diyimage.h"
#include "dnssd.h"

#define GAP_MS 250         /* > DIY_REQ_GAP_MS, with scheduling slack */
#define REPLY_MAX DIY_REPLY_MAX
#define IMG_PATH "/diy/image.bin"
#define CASE_S 60          /* bound of one case */

struct imgsrv {
	int fd;
	uint16_t port;
	const uint8_t *img;
	size_t len;
	pthread_mutex_t mu;
	uint64_t acked;        /* contiguous bytes sent from 0 */
	int64_t progress_ms;   /* when acked last grew */
	bool completion_seen;
	int completion_error;
	bool stop;
};

struct tap {
	int fd;
	bool have_id, left;
	char id[DNSSD_ID_MAX + 1];
	struct dnssd_device dev;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- image server: Range GETs (206) and the completion POST ------------------------ */

static void
serve_one(struct imgsrv *s, int c)
{
	char buf[2048] = "", hdr[256];
	size_t len = 0;

	for (;;) { /* keep-alive: one request after another on this connection */
		char *end, *rg;
		ssize_t n;

		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (len == sizeof(buf) - 1)
				return;
			n = read(c, buf + len, sizeof(buf) - 1 - len);
			if (n <= 0)
				return;
			len += (size_t)n;
			buf[len] = '\0';
		}
		size_t hl = (size_t)(end - buf) + 4;

		if (!strncmp(buf, "POST /api/device/otaFlash ", 26)) {
			char *cl = strcasestr(buf, "Content-Length:");
			size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
			int e;

			while (len < hl + want && len < sizeof(buf) - 1) {
				n = read(c, buf + len, sizeof(buf) - 1 - len);
				if (n <= 0)
					break;
				len += (size_t)n;
			}
			pthread_mutex_lock(&s->mu);
			if (len >= hl + want && diy_parse_completion(buf + hl, want, &e) == 0) {
				s->completion_seen = true;
				s->completion_error = e;
			}
			pthread_mutex_unlock(&s->mu);
			(void)!write(
			    c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"error\":0}", 51);
			return;
		}
		rg = strcasestr(buf, "\nRange: bytes=");
		if (strncmp(buf, "GET " IMG_PATH " ", strlen("GET " IMG_PATH " ")) || !rg)
			return; /* the device only ever asks for ranges of our path */
		unsigned long a = strtoul(rg + 14, &end, 10), b = strtoul(end + 1, NULL, 10);

		if (a >= s->len)
			return;
		if (b >= s->len)
			b = s->len - 1;
		snprintf(hdr, sizeof(hdr), "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes "
			 "%lu-%lu/%zu\r\nContent-Length: %lu\r\n\r\n", a, b, s->len, b - a + 1);
		if (write(c, hdr, strlen(hdr)) < 0 ||
		    write(c, s->img + a, b - a + 1) != (ssize_t)(b - a + 1))
			return;
		pthread_mutex_lock(&s->mu);
		if (a == s->acked) {
			s->acked = b + 1;
			s->progress_ms = now_ms();
		}
		pthread_mutex_unlock(&s->mu);
		memmove(buf, buf + hl, len - hl);
		len -= hl;
		buf[len] = '\0';
	}
}

static void *
imgsrv_run(void *arg)
{
	struct imgsrv *s = arg;

	while (!s->stop) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 100) != 1)
			continue;
		c = accept(s->fd, NULL, NULL);
		if (c >= 0) {
			int one = 1;

			/* head and body go out in two writes: without this, Nagle and the
			 * peer's delayed ACK add 40 ms to every 4 KB chunk */
			(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			serve_one(s, c);
			close(c);
		}
	}
	return NULL;
}

static int
listen_any(int type, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, type, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 4) < 0) ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0)
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/* ---- mDNS tap: find TXT records and goodbyes in the device's announcements ------------- */

static size_t
name_end(const uint8_t *p, size_t len, size_t off, char *first, size_t firstlen)
{
	bool got = false;

	while (off < len && p[off]) {
		if (!got && first) {
			size_t n = p[off] < firstlen - 1 ? p[off] : firstlen - 1;

			memcpy(first, p + off + 1, n);
			first[n] = '\0';
			got = true;
		}
		off += p[off] + 1u;
	}
	return off + 1;
}

static void
tap_poll(struct tap *t, int ms)
{
	uint8_t p[1500];
	struct pollfd pf = { .fd = t->fd, .events = POLLIN };
	ssize_t n;

	while (poll(&pf, 1, ms) == 1 && (n = recv(t->fd, p, sizeof(p), 0)) > 12) {
		size_t off = 12, an = (size_t)p[6] << 8 | p[7];

		for (size_t i = 0; i < an && off < (size_t)n; i++) {
			char inst[64] = "";
			unsigned type, ttl, rdl;
			struct dnssd_txt txt;

			off = name_end(p, (size_t)n, off, inst, sizeof(inst));
			if (off + 10 > (size_t)n)
				break;
			type = (unsigned)p[off] << 8 | p[off + 1];
			ttl = (unsigned)p[off + 4] << 24 | (unsigned)p[off + 5] << 16 |
			      (unsigned)p[off + 6] << 8 | p[off + 7];
			rdl = (unsigned)p[off + 8] << 8 | p[off + 9];
			off += 10;
			if (off + rdl > (size_t)n)
				break;
			if (type == 16 && ttl == 0)
				t->left = true; /* goodbye: the service is withdrawn */
			if (type == 16 && ttl > 0 && dnssd_txt_parse(p + off, rdl, &txt) == 0) {
				dnssd_classify(&txt, inst, &t->dev);
				snprintf(t->id, sizeof(t->id), "%s", t->dev.id);
				t->have_id = t->dev.mode == DNSSD_MODE_DIY;
			}
			off += rdl;
		}
		ms = 0;
	}
}

/* ---- one /zeroconf request per connection (diyhttp.h builds and classifies) ------------ */

static struct diyflow_result
request(uint16_t port, enum diyflow_step step, const char *body, bool with_id, int timeout_ms,
	struct diy_info *info)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct diyflow_result r = { 0 };
	char req[DIYHTTP_REQ_MAX], resp[REPLY_MAX + 1024];
	struct diyhttp_seen seen = { .buf = resp };
	int64_t end = now_ms() + timeout_ms;
	int fd = socket(AF_INET, SOCK_STREAM, 0), n;

	n = diyhttp_request(step, "127.0.0.1", port, body, req, sizeof(req));
	if (n < 0 || fd < 0)
		abort(); /* a test bug */
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
		seen.reset = true;
	while (diyhttp_classify(step, with_id, &seen, &r, info) == -EAGAIN) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - now_ms();
		ssize_t got;

		if (left <= 0 || poll(&p, 1, (int)left) != 1) {
			seen.timed_out = true;
			continue;
		}
		got = read(fd, resp + seen.len, sizeof(resp) - seen.len);
		if (got < 0)
			seen.reset = true;
		else if (got == 0 || seen.len + (size_t)got == sizeof(resp))
			seen.eof = true;
		if (got > 0)
			seen.len += (size_t)got;
	}
	close(fd);
	return r;
}

/* ---- the case ---------------------------------------------------------------------------- */

struct opts {
	const char *diysim, *models, *mkimage, *name;
};

static uint8_t *
make_image(const struct opts *o, const char *mode, size_t *ret_len)
{
	char path[] = "/tmp/diyroute-XXXXXX", cmd[1024];
	struct stat st;
	uint8_t *img = NULL;
	int fd = mkstemp(path);
	FILE *f;

	if (fd < 0)
		return NULL;
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s arduino --mode %s --size 482432 -o %s", o->mkimage, mode,
		 path);
	if (system(cmd) == 0 && stat(path, &st) == 0 && (img = malloc((size_t)st.st_size)) &&
	    (f = fopen(path, "rb"))) {
		*ret_len = fread(img, 1, (size_t)st.st_size, f);
		fclose(f);
	}
	unlink(path);
	return img;
}

static pid_t
spawn_sim(const struct opts *o, const char *model, uint16_t tap_port, const char *unlock,
	  uint16_t *ret_port)
{
	char mpath[512], mdns[32], line[512];
	int pfd[2];
	pid_t pid;
	FILE *f;

	snprintf(mpath, sizeof(mpath), "%s/%s.model", o->models, model);
	snprintf(mdns, sizeof(mdns), "127.0.0.1:%u", tap_port);
	if (pipe(pfd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 2);
		close(pfd[0]);
		execl(o->diysim, o->diysim, "--model", mpath, "--port", "0", "--mdns", mdns,
		      "--unlock", unlock, "--unlock-hang-ms", "1500", "--timeout", "50",
		      (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "listening on 127.0.0.1:");

		fputs(line, stderr);
		if (p) {
			*ret_port = (uint16_t)atoi(p + 23);
			break;
		}
	}
	/* keep echoing the simulator's log in the background */
	if (f && fork() == 0) {
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		_exit(0);
	}
	if (f)
		fclose(f);
	return pid;
}

static int
run(const struct opts *o)
{
	const char *model = "r3-3.6", *mode = "dout", *unlock = "internet";
	bool want_done = true, bad_digest = false;
	struct imgsrv srv = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct tap tap = { 0 };
	struct diyflow_facts facts = { 0 };
	struct diyflow_result last = { .step = DIYFLOW_STEP_NONE };
	struct diyflow_next nx;
	struct image_info info;
	enum diyimage_rule rule;
	char err[256], diag[256], sha[65];
	uint16_t tap_port = 0, dev_port = 0;
	pthread_t th;
	size_t len = 0;
	uint8_t *img;
	int64_t flash_ms = 0, t_end;
	int status = -1, verdict = DIYFLOW_PENDING;
	pid_t pid;

	if (!strncmp(o->name, "ok-", 3))
		model = o->name + 3;
	else if (!strcmp(o->name, "unlock-offline"))
		unlock = "offline", want_done = false;
	else if (!strcmp(o->name, "bad-digest"))
		bad_digest = true, want_done = false;
	else if (!strcmp(o->name, "qio-refused"))
		mode = "qio", want_done = false;
	else
		return 2;

	img = make_image(o, mode, &len);
	if (!img)
		return 2;
	/* The image rules run before anything is sent (issue 11 item 4). */
	if (diyimage_check(img, len, "image.bin", &info, &rule, err, sizeof(err)) < 0) {
		fprintf(stderr, "diyroute: image refused: %s\n", err);
		free(img);
		return !strcmp(o->name, "qio-refused") && rule == DIYIMAGE_MODE ? 0 : 1;
	}
	memcpy(sha, info.sha256_hex, sizeof(sha));
	if (bad_digest)
		sha[0] = sha[0] == '0' ? '1' : '0';

	tap.fd = listen_any(SOCK_DGRAM, &tap_port);
	srv.fd = listen_any(SOCK_STREAM, &srv.port);
	srv.img = img;
	srv.len = len;
	if (tap.fd < 0 || srv.fd < 0 || pthread_create(&th, NULL, imgsrv_run, &srv))
		return 2;
	pid = spawn_sim(o, model, tap_port, unlock, &dev_port);
	if (pid < 0 || !dev_port)
		return 2;
	t_end = now_ms() + CASE_S * 1000;

	/* discover: the id comes from the announcement, as it will from Avahi */
	while (!tap.have_id && now_ms() < t_end)
		tap_poll(&tap, 200);
	fprintf(stderr, "diyroute: discovered %s (%s, type %s)\n", tap.id,
		dnssd_mode_name(tap.dev.mode), tap.dev.type);

	/* info -> unlock -> flash, as diyflow_next says */
	nx = diyflow_next(&facts, &last);
	while (nx.act != DIYFLOW_ACT_SERVE && nx.act != DIYFLOW_ACT_GIVE_UP && now_ms() < t_end) {
		const char *id = nx.send_deviceid ? tap.id : NULL;
		struct diy_info di;
		char *body;
		enum diyflow_step step = nx.act == DIYFLOW_ACT_UNLOCK ? DIYFLOW_STEP_UNLOCK
					 : nx.act == DIYFLOW_ACT_FLASH ? DIYFLOW_STEP_FLASH
								      : DIYFLOW_STEP_INFO;
		int limit = step == DIYFLOW_STEP_UNLOCK ? DIYFLOW_UNLOCK_MS
			    : step == DIYFLOW_STEP_FLASH ? DIYFLOW_FLASH_MS : DIYFLOW_INFO_MS;

		body = step == DIYFLOW_STEP_FLASH
			       ? diy_build_ota_flash(id, "127.0.0.1", srv.port, IMG_PATH, sha)
			       : step == DIYFLOW_STEP_UNLOCK ? diy_build_ota_unlock(id)
							     : diy_build_info(id);
		if (!body)
			return 2;
		sleep_ms(GAP_MS);
		last = request(dev_port, step, body, nx.send_deviceid, limit, &di);
		free(body);
		nx = diyflow_next(&facts, &last);
		fprintf(stderr, "diyroute: %s -> outcome %d error %d -> next %s%s%s\n",
		        step == DIYFLOW_STEP_INFO     ? "info"
		        : step == DIYFLOW_STEP_UNLOCK ? "unlock"
		                                      : "flash",
		        last.outcome, last.error, diyflow_action_name(nx.act),
		        nx.diagnosis ? ": " : "", nx.diagnosis ? nx.diagnosis : "");
	}
	if (nx.act == DIYFLOW_ACT_SERVE) {
		flash_ms = now_ms();
		srv.progress_ms = flash_ms;
		while (now_ms() < t_end) {
			struct diyflow_progress p;

			tap_poll(&tap, 100);
			pthread_mutex_lock(&srv.mu);
			p = (struct diyflow_progress){
				.image_size = len, .acked = srv.acked,
				.completion_seen = srv.completion_seen,
				.completion_error = srv.completion_error, .left_mdns = tap.left,
				.ms_since_flash = now_ms() - flash_ms,
				.ms_since_progress = now_ms() - srv.progress_ms,
				.ms_since_complete = 0 };
			pthread_mutex_unlock(&srv.mu);
			verdict = diyflow_verdict(&p, diag, sizeof(diag));
			if (verdict != DIYFLOW_PENDING)
				break;
		}
		fprintf(stderr, "diyroute: verdict %s: %s\n",
		        verdict == DIYFLOW_DONE     ? "done"
		        : verdict == DIYFLOW_FAILED ? "failed"
		                                    : "pending",
		        diag);
	}
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	srv.stop = true;
	pthread_join(th, NULL);
	free(img);
	fprintf(stderr, "diyroute: diysim exit %d\n", WEXITSTATUS(status));

	if (want_done)
		return verdict == DIYFLOW_DONE && WEXITSTATUS(status) == 0 ? 0 : 1;
	if (!strcmp(o->name, "unlock-offline"))
		return nx.act == DIYFLOW_ACT_GIVE_UP && strstr(nx.diagnosis, "Internet") ? 0 : 1;
	/* bad-digest */
	return verdict == DIYFLOW_FAILED && strstr(diag, "409") && WEXITSTATUS(status) == 11 ? 0
	                                                                                     : 1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"diysim", required_argument, NULL, 's'},
	    {"models", required_argument, NULL, 'm'},
	    {"mkimage", required_argument, NULL, 'k'},
	    {"case", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = { 0 };
	int c, r;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': o.diysim = optarg; break;
		case 'm': o.models = optarg; break;
		case 'k': o.mkimage = optarg; break;
		case 'c': o.name = optarg; break;
		default: return 2;
		}
	}
	if (!o.diysim || !o.models || !o.mkimage || !o.name)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	r = run(&o);
	printf("diyroute %s: %s\n", o.name, r == 0 ? "ok" : "FAILED");
	return r;
}

/* imgsrv-harness: serve files with sonota-c's image server alone, for bench/run.
 *
 * Bench-only stand-in for the full binary: loads each FILE into memory (served
 * as /ota/<basename> and /slowota/<basename>), starts imgsrv and drains its
 * event queue on a second thread, as the lws loop would (that cost is part of
 * what is measured). Prints "ready port=N" when serving; stops on SIGINT/SIGTERM
 * and prints the event counts.
 *
 * usage: imgsrv-harness [--bind ADDR] [--port N] [--threads N] [--block N]
 *                       [--buffer-max N] [--conn-memory N] FILE...
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"
#include "imgsrv.h"
#include "log.h"

struct harness {
	struct evq q;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool quit;
	bool woken;          /* a push happened since the last drain */
	unsigned long counts[EVQ_HTTP_DIY_COMPLETION + 1];
	unsigned long complete;
};

static void
wake(void *arg)
{
	struct harness *h = arg;

	pthread_mutex_lock(&h->lock);
	h->woken = true;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void *
drain_main(void *arg)
{
	struct harness *h = arg;

	for (;;) {
		struct evq_event *e;
		while ((e = evq_pop(&h->q))) {
			h->counts[e->type]++;
			h->complete += e->type == EVQ_HTTP_DONE && e->complete;
			free(e);
		}
		pthread_mutex_lock(&h->lock);
		if (h->quit) {
			pthread_mutex_unlock(&h->lock);
			return NULL;
		}
		while (!h->woken && !h->quit)
			pthread_cond_wait(&h->cond, &h->lock);
		h->woken = false;
		pthread_mutex_unlock(&h->lock);
	}
}

static int
load(const char *path, struct imgsrv_file *f)
{
	FILE *fp = fopen(path, "rb");
	long n;
	uint8_t *d;

	if (!fp)
		return -errno;
	if (fseek(fp, 0, SEEK_END) < 0 || (n = ftell(fp)) <= 0 || fseek(fp, 0, SEEK_SET) < 0 ||
	    !(d = malloc((size_t)n)) || fread(d, 1, (size_t)n, fp) != (size_t)n) {
		fclose(fp);
		return -EIO;
	}
	fclose(fp);
	char *copy = strdup(path);
	f->name = strdup(basename(copy));
	free(copy);
	f->data = d;
	f->size = (size_t)n;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"bind", required_argument, NULL, 'b'},
		{"port", required_argument, NULL, 'p'},
		{"threads", required_argument, NULL, 't'},
		{"block", required_argument, NULL, 'k'},
		{"buffer-max", required_argument, NULL, 'm'},
		{"conn-memory", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	struct imgsrv_file files[IMGSRV_FILES_MAX];
	struct imgsrv_opts o = {.bind_addr = "127.0.0.1", .files = files};
	struct harness h = {0};
	struct imgsrv *srv = NULL;
	struct log log = {0};
	char err[256];
	pthread_t drainer;
	sigset_t ss;
	int c, sig;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'b': o.bind_addr = optarg; break;
		case 'p': o.port = (uint16_t)atoi(optarg); break;
		case 't': o.limits.threads = (unsigned)atoi(optarg); break;
		case 'k': o.limits.block_size = (size_t)atol(optarg); break;
		case 'm': o.limits.buffer_max = (size_t)atol(optarg); break;
		case 'c': o.limits.conn_memory = (size_t)atol(optarg); break;
		default: return 2;
		}
	}
	for (int i = optind; i < argc && o.nfiles < IMGSRV_FILES_MAX; i++) {
		if (load(argv[i], &files[o.nfiles]) < 0) {
			fprintf(stderr, "cannot read \"%s\"\n", argv[i]);
			return 1;
		}
		o.nfiles++;
	}
	if (log_open(&log, NULL, LOG_WARN) < 0)
		return 1;
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.cond, NULL);
	evq_init(&h.q, wake, &h);
	o.evq = &h.q;
	o.log = &log;

	/* Block the stop signals before any thread starts, so they all inherit it. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	pthread_create(&drainer, NULL, drain_main, &h);
	if (imgsrv_start(&o, &srv, err, sizeof(err)) < 0) {
		fprintf(stderr, "imgsrv_start: %s\n", err);
		return 1;
	}
	printf("ready port=%u\n", imgsrv_bound_port(srv));
	fflush(stdout);
	sigwait(&ss, &sig);

	imgsrv_stop(srv);
	pthread_mutex_lock(&h.lock);
	h.quit = true;
	pthread_cond_signal(&h.cond);
	pthread_mutex_unlock(&h.lock);
	pthread_join(drainer, NULL);
	fprintf(stderr, "events: request %lu progress %lu done %lu (complete %lu) dropped %llu\n",
		h.counts[EVQ_HTTP_REQUEST], h.counts[EVQ_HTTP_PROGRESS], h.counts[EVQ_HTTP_DONE],
		h.complete, (unsigned long long)h.q.dropped);
	evq_fini(&h.q);
	log_close(&log);
	for (size_t i = 0; i < o.nfiles; i++) {
		free((void *)files[i].name);
		free((void *)files[i].data);
	}
	return 0;
}

/* diymain: the composition of a --diy run (diyrun.h): the image checked by the DIY rules
 * before anything is sent, the image server (with the completion POST handler) listening
 * before ota_flash, the loop with signals and evq, the shared system bus and the Avahi
 * browser when there is one, then the route until it ends; teardown in reverse. Kept apart
 * from sonota.c, whose route-1 set-up (three images, WiFi pre-flight, certificate, WSS)
 * a DIY run does not need. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ackwatch.h"
#ifdef SONOTA_WITH_NM
#include "avahi.h"
#include "bus.h"
#endif
#include "diyrun.h"
#include "imgsrv.h"
#include "netwatch.h"
#include "plugins.h"
#include "provision.h"

struct diymain {
	struct ui ui;
	struct diyfile img;
	struct evq evq;
	bool evq_ready;
	struct lws_context *lws;
	struct lws_vhost *vh;
	struct lws_protocols protocols[6]; /* loop, diyclient, bus, netwatch, prov, end */
	struct ackwatch *ackwatch;
	struct imgsrv *http;
	int sigfd;
	struct bus *bus;
	struct avahi *avahi;
	struct netwatch *nw;             /* --pair: this computer's addresses */
	struct diyrun run;
	bool run_ready;
	struct plugins plugins;          /* --pair: the WiFi hop driver (issue 10's), if NM */
};

static int
loop_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct diymain *m = lws_context_user(lws_get_context(wsi));
	struct evq_event *ev;

	(void)user, (void)in, (void)len;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (!m || !m->evq_ready)
			return 0;
		while ((ev = evq_pop(&m->evq))) {
			if (m->run_ready)
				diyrun_evq(&m->run, ev);
			free(ev);
		}
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE: {
		struct signalfd_siginfo si;

		if (read(lws_get_socket_fd(wsi), &si, sizeof(si)) == (ssize_t)sizeof(si) && m) {
			log_notice(m->run.log, "%s received", strsignal((int)si.ssi_signo));
			if (m->run_ready)
				diyrun_interrupt(&m->run);
		}
		return 0;
	}
	default:
		return 0;
	}
}

static void
wake(void *arg)
{
	struct diymain *m = arg;

	if (m->lws)
		lws_cancel_service(m->lws);
}

static int
setup(struct diymain *m, const struct cfg *cfg, struct log *log, sigset_t *mask)
{
	char err[512] = "";
	enum diyimage_rule rule = DIYIMAGE_OK;
	int r;

	/* 1. The image, by the DIY rules, before any port opens or any request leaves. */
	if ((r = diyfile_load(cfg->diy_image, &m->img, &rule, err, sizeof(err))) < 0) {
		log_err(log, "DIY image: %s", err);
		return SONOTA_EXIT_IMAGES;
	}
	log_notice(log, "DIY image %s: %zu bytes, sha256 %s", cfg->diy_image, m->img.size,
		   m->img.info.sha256_hex);

	/* 2. The loop. */
	if ((r = evq_init(&m->evq, wake, m)) < 0)
		return SONOTA_EXIT_FAILURE;
	m->evq_ready = true;
	log_route_lws(log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = m;
	if (!(m->lws = lws_create_context(&info)))
		return SONOTA_EXIT_FAILURE;
	m->protocols[0] = (struct lws_protocols){ .name = "sonota-loop", .callback = loop_cb };
	m->protocols[1] = diyclient_protocol;
#ifdef SONOTA_WITH_NM
	m->protocols[2] = bus_protocol;
	/* issue 11 item 2 (diyap): --pair's provisioning and address watch */
	m->protocols[3] = netwatch_protocol;
	m->protocols[4] = prov_protocol;
#else
	m->protocols[2] = netwatch_protocol;
	m->protocols[3] = prov_protocol;
#endif
	memset(&info, 0, sizeof(info));
	info.vhost_name = "loop";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = m->protocols;
	if (!(m->vh = lws_create_vhost(m->lws, &info)))
		return SONOTA_EXIT_FAILURE;

	/* 3. The image server, listening before ota_flash: Host ignored, exact 206s, the
	 * completion POST handler on, the last range through ackwatch. */
	if ((r = ackwatch_start(&m->evq, 0, &m->ackwatch)) < 0)
		return SONOTA_EXIT_FAILURE;
	struct imgsrv_file file = { .name = DIYRUN_FILE, .data = m->img.data, .size = m->img.size };
	struct imgsrv_opts io = {
		.port = cfg->http_port, .bind_addr = cfg->bind, .files = &file, .nfiles = 1,
		.evq = &m->evq, .ackwatch = m->ackwatch, .log = log, .max_clients = 1,
		.diy_completion = true,
	};
	if ((r = imgsrv_start(&io, &m->http, err, sizeof(err))) < 0) {
		log_err(log, "images over HTTP: %s", err);
		return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND : SONOTA_EXIT_FAILURE;
	}

	/* 4. Signals. */
	m->sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	lws_sock_file_fd_type fd = { .filefd = m->sigfd >= 0 ? dup(m->sigfd) : -1 };
	if (m->sigfd < 0 || fd.filefd < 0 ||
	    !lws_adopt_descriptor_vhost(m->vh, LWS_ADOPT_RAW_FILE_DESC, fd, "sonota-loop", NULL)) {
		if (fd.filefd >= 0)
			close(fd.filefd);
		return SONOTA_EXIT_FAILURE;
	}

	/* 5. The route, and mDNS through Avahi on the system bus when there is one. */
	m->run.cfg = cfg;
	m->run.log = log;
	m->run.ui = &m->ui;
	m->run.img = &m->img;
	m->run.http_port = imgsrv_bound_port(m->http);
	if ((r = diyrun_init(&m->run, m->lws, m->vh)) < 0)
		return SONOTA_EXIT_FAILURE;
	m->run_ready = true;
	/* issue 11 item 2 (diyap): --pair follows this computer's hops (the initial addresses
	 * are recorded now, the route is told from its start on) */
	if (cfg->pair && (r = netwatch_start(m->vh, diyrun_pair_addr, &m->run, &m->nw)) < 0) {
		log_err(log, "cannot watch this computer's addresses: %s", strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
#ifdef SONOTA_WITH_NM
	if ((r = bus_open(m->vh, NULL, NULL, &m->bus)) < 0) {
		log_notice(log, "no system D-Bus (%s): no mDNS through Avahi", strerror(-r));
		m->bus = NULL;
	} else if ((r = avahi_start(m->bus, log, diyrun_avahi, &m->run, &m->avahi)) < 0) {
		log_notice(log, "Avahi: %s", strerror(-r));
		m->avahi = NULL;
	}
#endif
	if (!m->avahi && cfg->pair) { /* diyap: only mDNS tells DIY from LAN mode after it */
		log_err(log, "--pair: no Avahi on the system bus to find the device over mDNS once "
			     "it joined your WiFi (apt install avahi-daemon); nothing was sent");
		return SONOTA_EXIT_PREFLIGHT;
	}
	if (!m->avahi && !cfg->device_ip) {
		log_err(log, "--diy: no Avahi on the system bus to find the device over mDNS: name "
			     "it with --device-ip IP (its address in DIY mode)");
		return SONOTA_EXIT_PREFLIGHT;
	}
	if (!m->avahi)
		ui_say(&m->ui, "Without Avahi the device's leaving mDNS cannot be observed: a "
			       "successful flash ends with exit %d (success reported, not proven).",
		       SONOTA_EXIT_UNPROVEN);
	/* --pair: the WiFi hops through NetworkManager (src/hop.c), as route 1's, unless
	 * --wifi manual: joining ITEAD-<id> and going home are the driver's then */
	if (cfg->pair && cfg->wifi != CFG_WIFI_MANUAL) {
		struct plugin_env pe = { &m->run.eng, m->lws, m->vh, cfg, log, &m->ui, m->bus };
		const char *name = NULL;
		if ((r = plugins_start(&m->plugins, NULL, &pe, &name)) < 0) {
			if (r != -EPERM)
				log_err(log, "cannot start %s: %s", name ? name : "a plug-in",
					strerror(-r));
			return r == -EPERM ? SONOTA_EXIT_PREFLIGHT : SONOTA_EXIT_FAILURE;
		}
	}
	log_notice(log, "listening: HTTP %u (DIY image and completion POST)",
		   m->run.http_port);
	ui_json_int(&m->ui, "ready", "http_port", m->run.http_port);
	diyrun_start(&m->run, m->avahi != NULL);
	return 0;
}

static void
teardown(struct diymain *m)
{
	plugins_stop(&m->plugins); /* before the bus they ride on */
#ifdef SONOTA_WITH_NM
	avahi_stop(m->avahi);
#endif
	if (m->run_ready)
		diyrun_fini(&m->run);
	netwatch_stop(m->nw);
	imgsrv_stop(m->http);
	ackwatch_stop(m->ackwatch);
#ifdef SONOTA_WITH_NM
	bus_close(m->bus);
#endif
	if (m->lws)
		lws_context_destroy(m->lws);
	if (m->sigfd >= 0)
		close(m->sigfd);
	if (m->evq_ready)
		evq_fini(&m->evq);
	diyfile_free(&m->img);
	ui_fini(&m->ui);
}

int
diyrun_main(const struct cfg *cfg, struct log *log)
{
	struct diymain *m = calloc(1, sizeof(*m));
	sigset_t mask;
	int code;

	if (!m)
		return SONOTA_EXIT_FAILURE;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL); /* before MHD's threads: they inherit it */
	m->sigfd = -1;
	ui_init(&m->ui, log, cfg->json);
	code = setup(m, cfg, log, &mask);
	if (code == 0) {
		while (!diyrun_ended(&m->run))
			if (lws_service(m->lws, 0) < 0)
				break;
		/* --pair: the hop driver restores the user's network (bounded by it) */
		while (plugins_busy(&m->plugins))
			if (lws_service(m->lws, 0) < 0)
				break;
		code = diyrun_ended(&m->run) ? m->run.exit_code : SONOTA_EXIT_FAILURE;
	}
	ui_json_int(&m->ui, "exit", "code", code);
	teardown(m);
	free(m);
	return code;
}

/* sonota: the composition; see sonota.h. The route's rules are in route-cloud.c
 * (docs/stage-machine.md), its adapter in takeover.c. */
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
#include "bus.h"
#endif
#include "imgsrv.h"
#include "netwatch.h"
#include "provision.h"
#include "sonota.h"
#include "tls.h"
#include "wss.h"

/* ---- the loop protocol: signals and wake-ups from the MHD thread ------------ */

static int
loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct sonota *s = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (s && s->evq_ready)
			transfers_drain(&s->tr, &s->evq);
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE: {
		struct signalfd_siginfo si;
		ssize_t n = read(lws_get_socket_fd(wsi), &si, sizeof(si));
		if (n == (ssize_t)sizeof(si)) {
			log_notice(s->log, "%s received", strsignal((int)si.ssi_signo));
			takeover_post(&s->to, ROUTE_EV_INTERRUPT);
		}
		return 0;
	}
	default:
		return 0;
	}
}

static void
evq_wake(void *arg)
{
	struct sonota *s = arg;
	if (s->lws)
		lws_cancel_service(s->lws);
}

/* ---- the shared system bus (issue 11 §1) -------------------------------------- */

/* One connection for NM (the hop driver in --wifi auto) and Avahi (the DIY route),
 * opened only when something needs it. Without a bus, s->bus stays NULL: the hop
 * driver then tries its own and says "manual" with the reason. */
static void
open_bus(struct sonota *s)
{
#ifdef SONOTA_WITH_NM
	int r;

	if (s->cfg->wifi == CFG_WIFI_MANUAL)
		return;
	if ((r = bus_open(s->vh_loop, NULL, NULL, &s->bus)) < 0) {
		log_debug(s->log, "system D-Bus: %s", strerror(-r));
		s->bus = NULL;
	}
#else
	(void)s;
#endif
}

/* ---- wiring: who reports to whom -------------------------------------------- */

static void
wire(struct sonota *s)
{
	peers_init(&s->peers);
	cloud_init(&s->cloud, s->log);
	s->cloud.ui = &s->ui;
	s->cloud.peers = &s->peers;
	s->cloud.max_devices = s->cfg->max_devices;
	s->cloud.slowstream = s->cfg->slowstream;
	s->cloud.relay_test = !s->cfg->no_relay_test;
	s->cloud.digest_user1 = s->images.files[IMAGESET_USER1].info.sha256_hex;
	s->cloud.digest_user2 = s->images.files[IMAGESET_USER2].info.sha256_hex;
	s->cloud.post = takeover_cloud_event;
	s->cloud.post_arg = &s->to;

	s->tr = (struct transfers){ .log = s->log, .ui = &s->ui, .peers = &s->peers,
				    .images = &s->images, .post = takeover_transfers_event,
				    .post_arg = &s->to, .final_deviceid = s->cloud.final_deviceid };

	takeover_init(&s->to);
	s->to.cfg = s->cfg;
	s->to.log = s->log;
	s->to.ui = &s->ui;
	s->to.cloud = &s->cloud;
	s->to.tr = &s->tr;
	s->to.images = &s->images;
}

/* ---- life cycle ------------------------------------------------------------------ */

int
sonota_init(struct sonota *s, const struct cfg *cfg, struct log *log)
{
	char err[1024] = "";
	int r;

	/* Block the signals before any thread exists (MHD's inherit the mask), so
	 * they reach only the signalfd that the loop reads. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP); /* the terminal closed: the same teardown and summary */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->log = log;
	s->sigfd = -1;
	ui_init(&s->ui, log, cfg->json);
	wire(s);

	/* 1. Images: nothing is served that was not validated. */
	enum imageset_variant v = cfg->flash_mode == CFG_FLASH_DIO ? IMAGESET_DIO : IMAGESET_DOUT;
	r = imageset_load(&s->images, cfg->images_dir, v, err, sizeof(err));
	if (r < 0) {
		log_err(log, "images: %s", err);
		log_err(log, "see static/README.md for where images come from; "
			     "`sonota-c --check-images` reports on every file");
		return SONOTA_EXIT_IMAGES;
	}
	for (unsigned i = 0; i < s->images.nwarnings; i++)
		log_warn(log, "images: %s", s->images.warnings[i]);
	log_notice(log, "images: %s variant from %s, image set: %s",
		   imageset_variant_name(v), cfg->images_dir,
		   s->images.known_set ? s->images.known_set : "unknown");
	for (int i = 0; i < _IMAGESET_ROLE_MAX; i++)
		log_info(log, "images: %s %zu bytes sha256 %s", s->images.files[i].name,
			 s->images.files[i].size, s->images.files[i].info.sha256_hex);

	/* 2. Pre-flight: addresses, and what is missing from the user. */
	bool tty = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	r = preflight_run(&s->pre, cfg, log, tty ? stdin : NULL, tty ? stderr : NULL, err,
			  sizeof(err));
	if (r < 0) {
		log_err(log, "%s", err);
		if (r == -EINTR)
			return SONOTA_EXIT_INTERRUPTED;
		return r == -EINVAL ? SONOTA_EXIT_USAGE : SONOTA_EXIT_PREFLIGHT;
	}
	log_notice(log, "serving host %s: HTTPS/WSS port %u, images on HTTP port %u%s",
		   s->pre.serving_host, cfg->https_port, cfg->http_port,
		   cfg->legacy ? ", legacy plain port" : "");
	s->cloud.serving_host = s->to.serving_host = s->pre.serving_host;
	s->to.ssid = s->pre.ssid;
	s->to.password = s->pre.password;

	/* 3. The certificate. */
	bool generated = false;
	r = tls_ensure(cfg->cert_file, cfg->key_file, cfg->cert_dir, s->cert,
		       sizeof(s->cert), s->key, sizeof(s->key), &generated, err, sizeof(err));
	if (r < 0) {
		log_err(log, "certificate: %s", err);
		return SONOTA_EXIT_FAILURE;
	}
	char fp[65] = "?";
	tls_fingerprint(s->cert, fp);
	log_notice(log, "certificate %s%s (sha256 %.16s...)", s->cert,
		   generated ? ", generated now" : "", fp);
	if (tls_check_chain(s->cert, err, sizeof(err)) == 1)
		log_warn(log, "%s", err); /* too big for the stock firmware's TLS buffer */

	/* 4. The loop and its listeners, bound now, before the user touches the device. */
	if ((r = evq_init(&s->evq, evq_wake, s)) < 0) {
		log_err(log, "cannot create the event queue: %s", strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	s->evq_ready = true;
	log_route_lws(log);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.user = s;
	s->lws = lws_create_context(&info);
	if (!s->lws) {
		log_err(log, "cannot create the libwebsockets context");
		return SONOTA_EXIT_FAILURE;
	}
	s->to.lws = s->lws;
	engine_lws_init(&s->to.el, &s->to.eng, s->lws, &s->ui, s->log);
	s->loop_protocols[0] = (struct lws_protocols){ .name = "sonota-loop",
						       .callback = loop_callback };
	s->loop_protocols[1] = netwatch_protocol;
	s->loop_protocols[2] = prov_protocol;
#ifdef SONOTA_WITH_NM
	s->loop_protocols[3] = bus_protocol; /* issue 11: the shared system bus */
#endif
	memset(&info, 0, sizeof(info));
	info.vhost_name = "loop";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = s->loop_protocols;
	s->vh_loop = lws_create_vhost(s->lws, &info);
	if (!s->vh_loop) {
		log_err(log, "cannot create the internal vhost");
		return SONOTA_EXIT_FAILURE;
	}
	s->to.vh_loop = s->vh_loop;
	struct wss_opts wo = {
		.name = "https", .port = cfg->https_port, .bind = cfg->bind, .cert = s->cert,
		.key = s->key, .ops = &cloud_ops, .arg = &s->cloud, .log = log,
	};
	if ((r = wss_vhost_create(s->lws, &wo, &s->vh_https, err, sizeof(err))) < 0) {
		log_err(log, "HTTPS/WSS: %s", err);
		return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND : SONOTA_EXIT_FAILURE;
	}
	/* Port 0 (tests): advertise the port the kernel chose. */
	s->cloud.https_port = (uint16_t)lws_get_vhost_listen_port(s->vh_https);
	struct imgsrv_file files[_IMAGESET_ROLE_MAX];
	for (int i = 0; i < _IMAGESET_ROLE_MAX; i++)
		files[i] = (struct imgsrv_file){ .name = s->images.files[i].name,
						 .data = s->images.files[i].data,
						 .size = s->images.files[i].size };
	if ((r = ackwatch_start(&s->evq, 0, &s->ackwatch)) < 0) {
		log_err(log, "cannot start the delivery watcher: %s", strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	struct imgsrv_opts io = {
		.port = cfg->http_port, .bind_addr = cfg->bind, .files = files,
		.nfiles = _IMAGESET_ROLE_MAX, .evq = &s->evq, .ackwatch = s->ackwatch, .log = log,
		.max_clients = cfg->max_devices,
	};
	if ((r = imgsrv_start(&io, &s->http, err, sizeof(err))) < 0) {
		log_err(log, "images over HTTP: %s", err);
		return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND : SONOTA_EXIT_FAILURE;
	}
	s->cloud.http_port = imgsrv_bound_port(s->http);
	if (cfg->legacy) {
		io.port = cfg->legacy_port;
		io.legacy_dispatch = true;
		io.dispatch_ip = s->pre.serving_host;
		io.dispatch_port = s->cloud.https_port;
		if ((r = imgsrv_start(&io, &s->http_legacy, err, sizeof(err))) < 0) {
			log_err(log, "legacy plain HTTP: %s", err);
			return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND
								 : SONOTA_EXIT_FAILURE;
		}
	}
	char legacy[32] = "";
	if (s->http_legacy)
		snprintf(legacy, sizeof(legacy), ", legacy HTTP %u", imgsrv_bound_port(s->http_legacy));
	log_notice(log, "listening: HTTPS/WSS %u, HTTP %u%s", s->cloud.https_port,
		   s->cloud.http_port, legacy);
	ui_json_int(&s->ui, "ready", "https_port", s->cloud.https_port);

	/* 5. Address events (the initial dump sets have_*), and signals. */
	if ((r = netwatch_start(s->vh_loop, takeover_addr, &s->to, &s->nw)) < 0) {
		log_err(log, "cannot watch network addresses: %s", strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	s->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	lws_sock_file_fd_type fd = { .filefd = s->sigfd >= 0 ? dup(s->sigfd) : -1 };
	if (s->sigfd < 0 || fd.filefd < 0 ||
	    !lws_adopt_descriptor_vhost(s->vh_loop, LWS_ADOPT_RAW_FILE_DESC, fd, "sonota-loop",
					NULL)) {
		log_err(log, "cannot watch for signals");
		if (fd.filefd >= 0)
			close(fd.filefd);
		return SONOTA_EXIT_FAILURE;
	}

	/* 6. Plug-ins (a WiFi hop driver...): observers of the route, plugins.c. They
	 * share one system-bus connection (issue 11 §1), opened here when one needs it. */
	open_bus(s);
	struct plugin_env pe = { takeover_engine(&s->to), s->lws, s->vh_loop, cfg, log, &s->ui,
				 s->bus };
	const char *name = "?";
	if ((r = plugins_start(&s->plugins, NULL, &pe, &name)) < 0) {
		if (r == -EPERM) /* a pre-flight refusal, explained by the plug-in */
			return SONOTA_EXIT_PREFLIGHT;
		log_err(log, "plug-in %s: cannot start: %s", name, strerror(-r));
		return SONOTA_EXIT_FAILURE;
	}
	return 0;
}

int
sonota_run(struct sonota *s)
{
	s->to.rc.f.https_port = s->cloud.https_port;
	s->to.rc.f.http_port = s->cloud.http_port;
	takeover_start(&s->to);
	while (!takeover_ended(&s->to))
		if (lws_service(s->lws, 0) < 0)
			break;
	if (!takeover_ended(&s->to)) {
		log_err(s->log, "the event loop failed (our bug)");
		return SONOTA_EXIT_FAILURE;
	}
	/* A plug-in may still need the loop: the hop driver restores the WiFi. */
	while (plugins_busy(&s->plugins))
		if (lws_service(s->lws, 0) < 0)
			break;
	ui_json_int(&s->ui, "exit", "code", s->to.exit_code);
	return s->to.exit_code;
}

void
sonota_fini(struct sonota *s)
{
	plugins_stop(&s->plugins);
	takeover_fini(&s->to);
	netwatch_stop(s->nw);
	/* MHD first: its thread must not wake a destroyed context. */
	imgsrv_stop(s->http_legacy);
	imgsrv_stop(s->http);
	ackwatch_stop(s->ackwatch);
#ifdef SONOTA_WITH_NM
	bus_close(s->bus); /* last user gone (plugins_stop above): before the context */
#endif
	if (s->lws)
		lws_context_destroy(s->lws);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->evq_ready)
		evq_fini(&s->evq);
	preflight_free(&s->pre);
	imageset_free(&s->images);
	ui_fini(&s->ui);
	memset(s, 0, sizeof(*s));
}

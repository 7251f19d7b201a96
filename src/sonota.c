/* sonota: the one context; see sonota.h. Stage effects follow
 * docs/stage-machine.md, which is authoritative for the transitions (stage.c). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "ackwatch.h"
#include "cloud.h"
#include "imgsrv.h"
#include "netwatch.h"
#include "provision.h"
#include "sonota.h"
#include "tls.h"
#include "transfers.h"
#include "wss.h"

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- stage effects ------------------------------------------------------ */

static void remind(lws_sorted_usec_list_t *sul);

static void
say_instruction(struct sonota *s)
{
	const char *ssid = s->pre.ssid ? s->pre.ssid : "your home WiFi";
	switch (s->sm.cur) {
	case STAGE_WAIT_AP:
		ui_say(&s->ui, "NOW: hold the device's button for about 7 seconds until its LED "
			       "blinks fast (some firmware needs a second long press), then join "
			       "this computer to the WiFi \"ITEAD-<id>\", password 12345678.");
		break;
	case STAGE_PROVISIONING:
		ui_say(&s->ui, "Talking to the device at 10.10.7.1: keep this computer on its "
			       "ITEAD-<id> WiFi.");
		break;
	case STAGE_WAIT_HOME:
		ui_say(&s->ui, "NOW: reconnect this computer to \"%s\" so that it has %s again. "
			       "The device joins it by itself.", ssid, s->pre.serving_host);
		break;
	case STAGE_SERVING:
		if (s->devices_seen) {
			ui_say(&s->ui, "Serving the emulated cloud (%u device%s seen). Keep this "
				       "computer on \"%s\".", s->devices_seen,
			       s->devices_seen == 1 ? "" : "s", ssid);
			break;
		}
		ui_say(&s->ui, "Waiting for the device to call %s:%u (it does within a minute of "
			       "joining \"%s\"). Keep this computer on that network.",
		       s->pre.serving_host, s->https_port, ssid);
		break;
	case STAGE_FINALSTAGE:
		if (s->have_final)
			ui_say(&s->ui, "On FinalStage as 192.168.4.2: waiting for the device to "
				       "download %s.",
			       s->final.user2_delivered ? "image_arduino.bin"
							: "its images (1 or 2 files)");
		else
			ui_say(&s->ui, "NOW: join this computer to the open WiFi \"FinalStage\" "
				       "once it appears (10-20 s after the device reboots). Make sure "
				       "nothing else (a phone...) joins it first: this computer must "
				       "get 192.168.4.2, and no firewall may block port %u.",
			       s->http_port);
		break;
	case STAGE_FINAL_DELIVERED:
		ui_say(&s->ui, "The device writes the final firmware and restarts; waiting up "
			       "to %u s for FinalStage to go away.", s->cfg->done_timeout);
		break;
	default:
		break;
	}
}

static void
remind(lws_sorted_usec_list_t *sul)
{
	struct sonota *s = lws_container_of(sul, struct sonota, sul_remind);
	say_instruction(s);
	lws_sul_schedule(s->lws, 0, &s->sul_remind, remind, SONOTA_REMIND_S * LWS_US_PER_SEC);
}

static void
stage_timeout(lws_sorted_usec_list_t *sul)
{
	struct sonota *s = lws_container_of(sul, struct sonota, sul_timeout);
	sonota_event(s, STAGE_EV_TIMEOUT);
}

static void prov_done(void *arg, enum prov_result r, const char *deviceid);

static void
prov_begin(struct sonota *s)
{
	struct prov_opts o = {
		.ssid = s->pre.ssid,
		.password = s->pre.password,
		.server_name = s->pre.serving_host,
		.server_port = s->https_port,
	};
	s->prov_posted = false;
	int r = prov_start(s->lws, s->vh_loop, &o, s->log, prov_done, s, &s->prov);
	if (r < 0) {
		log_err(s->log, "cannot start provisioning: %s (our bug)", strerror(-r));
		s->exit_code = SONOTA_EXIT_FAILURE;
		sonota_event(s, STAGE_EV_FATAL);
	}
}

static void
prov_retry(lws_sorted_usec_list_t *sul)
{
	struct sonota *s = lws_container_of(sul, struct sonota, sul_retry);
	if (s->sm.cur == STAGE_WAIT_AP && (s->have_ap || s->cfg->no_check_ip))
		sonota_event(s, STAGE_EV_AP_UP);
}

static void
print_summary(struct sonota *s)
{
	ui_say(&s->ui, "Summary:");
	unsigned ndev = 0;
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++) {
		const struct session_dev *d = &s->sessions.devs[i];
		if (!d->used)
			continue;
		ndev++;
		ui_say(&s->ui, "  device %s: model %s, firmware %s, stock stage %s", d->deviceid,
		       d->model[0] ? d->model : "?", d->rom_version[0] ? d->rom_version : "?",
		       session_dev_state_name(d->state));
		ui_json(&s->ui, "summary-device", "deviceid", d->deviceid, "model", d->model,
			"romVersion", d->rom_version, "state", session_dev_state_name(d->state),
			NULL);
	}
	if (!ndev)
		ui_say(&s->ui, "  device: none reached the emulated cloud in this run%s",
		       s->final.requests ? " (resumed at FinalStage)" : "");
	ui_say(&s->ui, "  final image: %s", s->final.delivered ? "delivered in full" : "NOT delivered");
	for (int i = 0; i < _IMAGESET_ROLE_MAX; i++) {
		const struct imageset_file *f = &s->images.files[i];
		if (f->name)
			ui_say(&s->ui, "  image %s: %zu bytes, sha256 %s", f->name, f->size,
			       f->info.sha256_hex);
	}
	for (int st = 0; st < _STAGE_MAX; st++)
		if (s->stage_ms[st])
			ui_say(&s->ui, "  time in %s: %.1f s", stage_name((enum stage)st),
			       (double)s->stage_ms[st] / 1000.0);
	ui_say(&s->ui, "  total: %.1f s", (double)(mono_ms() - s->start_ms) / 1000.0);
}

/* The steps of a takeover as the user sees them, for the terminal checklist. */
static const struct {
	const char *label;
	enum stage first, last; /* the stages that make up the step */
} steps[] = {
	{ "pre-flight", STAGE_PREFLIGHT, STAGE_PREFLIGHT },
	{ "provisioning", STAGE_WAIT_AP, STAGE_PROVISIONING },
	{ "home WiFi", STAGE_WAIT_HOME, STAGE_WAIT_HOME },
	{ "emulated cloud", STAGE_SERVING, STAGE_SERVING },
	{ "FinalStage", STAGE_FINALSTAGE, STAGE_FINAL_DELIVERED },
	{ "done", STAGE_DONE, STAGE_DONE },
};

/* On a terminal: "[x] pre-flight  [x] provisioning  [>] emulated cloud  [ ] ...". */
static void
print_checklist(struct sonota *s, enum stage now)
{
	char line[256];
	size_t off = 0;
	if (!s->ui.tty || now == STAGE_FAILED)
		return;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && off < sizeof(line); i++) {
		const char *mark = now > steps[i].last ? "x" : now >= steps[i].first ? ">" : " ";
		if (i == 1 && s->cfg->no_prov)
			mark = "-"; /* skipped */
		int w = snprintf(line + off, sizeof(line) - off, "%s[%s] %s", i ? "  " : "", mark,
				 steps[i].label);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	ui_say(&s->ui, "%s", line);
}

static void
on_enter(void *arg, enum stage old, enum stage_ev ev, enum stage now)
{
	struct sonota *s = arg;
	int64_t t = mono_ms();

	s->stage_ms[old] += t - s->stage_since_ms;
	s->stage_since_ms = t;
	ui_transition(&s->ui, stage_name(old), stage_ev_name(ev), stage_name(now));
	if (old == now && ev != STAGE_EV_TIMEOUT)
		return; /* a self-transition: narrated, nothing to start */

	print_checklist(s, now);
	lws_sul_cancel(&s->sul_timeout);
	lws_sul_cancel(&s->sul_retry);
	if (old == STAGE_PROVISIONING && now != STAGE_PROVISIONING && s->prov) {
		prov_cancel(s->prov);
		s->prov = NULL;
	}

	switch (now) {
	case STAGE_WAIT_AP:
		if (old == STAGE_PROVISIONING && ev == STAGE_EV_AP_DOWN)
			ui_say(&s->ui, "The device's WiFi went away before it was provisioned (its "
				       "AP closes after a few minutes). Long-press the button again.");
		if (old == STAGE_PROVISIONING && ev == STAGE_EV_PROV_FAILED && s->have_ap)
			lws_sul_schedule(s->lws, 0, &s->sul_retry, prov_retry,
					 SONOTA_PROV_RETRY_S * LWS_US_PER_SEC);
		if (old == STAGE_PREFLIGHT && (s->have_ap || s->cfg->no_check_ip))
			lws_sul_schedule(s->lws, 0, &s->sul_retry, prov_retry, 1);
		break;
	case STAGE_PROVISIONING:
		prov_begin(s);
		break;
	case STAGE_FINAL_DELIVERED:
		lws_sul_schedule(s->lws, 0, &s->sul_timeout, stage_timeout,
				 (lws_usec_t)s->cfg->done_timeout * LWS_US_PER_SEC);
		break;
	case STAGE_DONE:
		/* The loop may be about to block in poll (a timer brought us here): wake
		 * it so that sonota_run sees the final stage now. Same for FAILED. */
		lws_cancel_service(s->lws);
		print_summary(s);
		ui_say(&s->ui, "Done: the device runs the new firmware. (If it is Tasmota, it "
			       "opens a WiFi \"sonoff-XXXX\" for its own set-up.)");
		s->exit_code = SONOTA_EXIT_OK;
		break;
	case STAGE_FAILED:
		lws_cancel_service(s->lws);
		if (ev == STAGE_EV_INTERRUPT) {
			ui_say(&s->ui, "Interrupted before the final image was delivered: the "
				       "device is NOT done.");
			s->exit_code = SONOTA_EXIT_INTERRUPTED;
		} else if (!s->exit_code) {
			s->exit_code = SONOTA_EXIT_FAILURE;
		}
		print_summary(s);
		break;
	default:
		break;
	}
	/* The instruction waits a moment: a stage entered while its condition already
	 * holds is left at once (follow_up), and only the settled one is explained. */
	lws_sul_cancel(&s->sul_remind);
	if (!stage_is_final(now))
		lws_sul_schedule(s->lws, 0, &s->sul_remind, remind, SONOTA_SETTLE_MS * LWS_US_PER_MS);
	ui_json(&s->ui, "stage", "stage", stage_name(now), NULL);
}

/* Synthesised follow-ups: a stage entered while its awaited condition already holds. */
static void
follow_up(struct sonota *s)
{
	switch (s->sm.cur) {
	case STAGE_WAIT_HOME:
		if (s->have_final)
			sonota_event(s, STAGE_EV_FINAL_UP);
		else if (s->have_home || s->cfg->no_check_ip)
			sonota_event(s, STAGE_EV_HOME_UP);
		break;
	case STAGE_WAIT_AP:
		if (s->have_final && s->cfg->no_prov)
			sonota_event(s, STAGE_EV_FINAL_UP);
		break;
	case STAGE_FINAL_DELIVERED:
		/* FinalStage may have gone while the delivery was being confirmed (E2A
		 * restarts right after its download): that is the end already. */
		if (!s->have_final && !s->cfg->no_check_ip)
			sonota_event(s, STAGE_EV_FINAL_DOWN);
		break;
	default:
		break;
	}
}

void
sonota_event(struct sonota *s, enum stage_ev ev)
{
	enum stage before = s->sm.cur;
	if (stage_is_final(before))
		return; /* the loop is ending: late events are moot */
	if (ev == STAGE_EV_DEVICE_SEEN)
		s->devices_seen++;
	if (stage_event(&s->sm, ev) < 0) {
		log_debug(s->log, "stage: event %s ignored in %s", stage_ev_name(ev),
			  stage_name(before));
		return;
	}
	if (s->sm.cur != before)
		follow_up(s);
}

/* ---- provisioning ------------------------------------------------------ */

static void
prov_done(void *arg, enum prov_result r, const char *deviceid)
{
	struct sonota *s = arg;
	struct prov *p = s->prov;

	/* The run is over: release it (allowed from inside its callback). */
	s->prov = NULL;
	if (deviceid) {
		snprintf(s->prov_deviceid, sizeof(s->prov_deviceid), "%s", deviceid);
		deviceid = s->prov_deviceid;
	}
	prov_cancel(p);
	switch (r) {
	case PROV_OK:
		ui_say(&s->ui, "Device %s accepted the WiFi settings and leaves its AP now.",
		       deviceid ? deviceid : "?");
		sonota_event(s, STAGE_EV_PROV_OK);
		break;
	case PROV_POSTED_NO_REPLY:
		s->prov_posted = true;
		log_notice(s->log, "device %s took the WiFi settings without replying; "
				   "provisioned if its AP now goes away", deviceid ? deviceid : "?");
		sonota_event(s, STAGE_EV_PROV_NO_REPLY);
		if (!s->have_ap && !s->cfg->no_check_ip)
			sonota_event(s, STAGE_EV_PROV_OK);
		break;
	case PROV_CANCELLED:
		break;
	default:
		log_warn(s->log, "provisioning failed (%d): %s", r,
			 r == PROV_DEVICE_UNREACHABLE ? "no answer from 10.10.7.1"
			 : r == PROV_REJECTED	      ? "the device refused the settings"
						      : "the answer was not a Sonoff's");
		sonota_event(s, STAGE_EV_PROV_FAILED);
		break;
	}
}

/* ---- network events -------------------------------------------------------- */

static void
on_addr(void *arg, bool added, const struct netwatch_addr *a)
{
	struct sonota *s = arg;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a->addr, ip, sizeof(ip));
	log_debug(s->log, "address %s %s/%u on %s", added ? "added" : "removed", ip,
		  a->prefixlen, a->ifname);
	bool started = s->sm.cur != STAGE_PREFLIGHT;

	if (netwatch_is_device_ap(a->addr)) {
		if (s->have_ap == added)
			return;
		s->have_ap = added;
		log_notice(s->log, "this computer %s the device's WiFi (%s)",
			   added ? "joined" : "left", ip);
		if (!started)
			return;
		if (!added && s->sm.cur == STAGE_PROVISIONING && s->prov_posted)
			sonota_event(s, STAGE_EV_PROV_OK); /* posted, then the AP went: success */
		else
			sonota_event(s, added ? STAGE_EV_AP_UP : STAGE_EV_AP_DOWN);
	} else if (netwatch_is_finalstage(a->addr)) {
		if (s->have_final == added)
			return;
		s->have_final = added;
		log_notice(s->log, "this computer %s FinalStage (192.168.4.2)",
			   added ? "joined" : "left");
		if (!added && s->sm.cur == STAGE_FINALSTAGE && !s->final.delivered &&
		    s->final.inflight)
			ui_say(&s->ui, "FinalStage went away during a download; its outcome decides "
				       "what comes next.");
		else if (!added && s->sm.cur == STAGE_FINALSTAGE && !s->final.delivered)
			ui_say(&s->ui, s->final.user2_delivered
					       ? "FinalStage went away: expected, the device reboots "
						 "into the image it just wrote. Rejoin FinalStage when it "
						 "comes back."
					       : "FinalStage went away before image_arduino.bin was "
						 "delivered. Rejoin FinalStage; sonota-c keeps waiting.");
		if (started)
			sonota_event(s, added ? STAGE_EV_FINAL_UP : STAGE_EV_FINAL_DOWN);
	} else if ((ntohl(a->addr.s_addr) & 0xffffff00u) == 0xc0a80400u && added &&
		   s->sm.cur == STAGE_FINALSTAGE) {
		/* 192.168.4.x but not .2: another client joined FinalStage first. */
		ui_say(&s->ui, "This computer got %s on what looks like FinalStage, but the device "
			       "only talks to 192.168.4.2: another client (a phone?) took it. Make it "
			       "leave FinalStage and rejoin, or set 192.168.4.2 by hand.", ip);
	} else if (s->cfg->serving_host && a->addr.s_addr == htonl(s->cfg->serving_addr)) {
		if (s->have_home == added)
			return;
		s->have_home = added;
		log_notice(s->log, "this computer %s the serving address %s",
			   added ? "has" : "lost", ip);
		if (started)
			sonota_event(s, added ? STAGE_EV_HOME_UP : STAGE_EV_HOME_DOWN);
	} else if (!s->cfg->serving_host && strcmp(ip, s->pre.serving_host) == 0) {
		s->have_home = added;
		if (started)
			sonota_event(s, added ? STAGE_EV_HOME_UP : STAGE_EV_HOME_DOWN);
	}
}

/* ---- the loop protocol: signals and wake-ups from the MHD thread ------------ */

static int
loop_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct sonota *s = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (s && s->evq_ready)
			transfers_drain(s);
		return 0;
	case LWS_CALLBACK_RAW_RX_FILE: {
		struct signalfd_siginfo si;
		ssize_t n = read(lws_get_socket_fd(wsi), &si, sizeof(si));
		if (n == (ssize_t)sizeof(si)) {
			log_notice(s->log, "%s received", strsignal((int)si.ssi_signo));
			sonota_event(s, STAGE_EV_INTERRUPT);
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

/* ---- life cycle ------------------------------------------------------------ */

int
sonota_init(struct sonota *s, const struct cfg *cfg, struct log *log)
{
	char err[512] = "";
	int r;

	/* Block the signals before any thread exists (MHD's inherit the mask), so
	 * they reach only the signalfd that the loop reads. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->log = log;
	s->sigfd = -1;
	s->start_ms = s->stage_since_ms = mono_ms();
	ui_init(&s->ui, log, cfg->json);
	session_table_init(&s->sessions);
	stage_init(&s->sm, on_enter, s);
	const char *fault = getenv("SONOTA_TEST_FAULT");
	if (fault && *fault) {
		snprintf(s->fault, sizeof(s->fault), "%s", fault);
		log_warn(log, "TEST FAULT \"%s\" ACTIVE: this run misbehaves on purpose", s->fault);
	}

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
	snprintf(s->digest_user1, sizeof(s->digest_user1), "%s",
		 s->images.files[IMAGESET_USER1].info.sha256_hex);
	snprintf(s->digest_user2, sizeof(s->digest_user2), "%s",
		 s->images.files[IMAGESET_USER2].info.sha256_hex);
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

	/* 3. The certificate. */
	bool generated = false;
	r = tls_ensure(cfg->cert_file, cfg->key_file, SONOTA_DEFAULT_CERT_DIR, s->cert,
		       sizeof(s->cert), s->key, sizeof(s->key), &generated, err, sizeof(err));
	if (r < 0) {
		log_err(log, "certificate: %s", err);
		return SONOTA_EXIT_FAILURE;
	}
	char fp[65] = "?";
	tls_fingerprint(s->cert, fp);
	log_notice(log, "certificate %s%s (sha256 %.16s...)", s->cert,
		   generated ? ", generated now" : "", fp);

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
	s->loop_protocols[0] = (struct lws_protocols){ .name = "sonota-loop",
						       .callback = loop_callback };
	s->loop_protocols[1] = netwatch_protocol;
	s->loop_protocols[2] = prov_protocol;
	memset(&info, 0, sizeof(info));
	info.vhost_name = "loop";
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = s->loop_protocols;
	s->vh_loop = lws_create_vhost(s->lws, &info);
	if (!s->vh_loop) {
		log_err(log, "cannot create the internal vhost");
		return SONOTA_EXIT_FAILURE;
	}
	struct wss_opts wo = {
		.name = "https", .port = cfg->https_port, .bind = cfg->bind, .cert = s->cert,
		.key = s->key, .ops = &cloud_ops, .arg = s, .log = log,
	};
	if ((r = wss_vhost_create(s->lws, &wo, &s->vh_https, err, sizeof(err))) < 0) {
		log_err(log, "HTTPS/WSS: %s", err);
		return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND : SONOTA_EXIT_FAILURE;
	}
	/* Port 0 (tests): advertise the port the kernel chose. */
	s->https_port = (uint16_t)lws_get_vhost_listen_port(s->vh_https);
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
	};
	if ((r = imgsrv_start(&io, &s->http, err, sizeof(err))) < 0) {
		log_err(log, "images over HTTP: %s", err);
		return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND : SONOTA_EXIT_FAILURE;
	}
	s->http_port = imgsrv_bound_port(s->http);
	if (cfg->legacy) {
		io.port = cfg->legacy_port;
		io.legacy_dispatch = true;
		io.dispatch_ip = s->pre.serving_host;
		io.dispatch_port = s->https_port;
		if ((r = imgsrv_start(&io, &s->http_legacy, err, sizeof(err))) < 0) {
			log_err(log, "legacy plain HTTP: %s", err);
			return r == -EADDRINUSE || r == -EACCES ? SONOTA_EXIT_BIND
								 : SONOTA_EXIT_FAILURE;
		}
	}
	char legacy[32] = "";
	if (s->http_legacy)
		snprintf(legacy, sizeof(legacy), ", legacy HTTP %u", imgsrv_bound_port(s->http_legacy));
	log_notice(log, "listening: HTTPS/WSS %u, HTTP %u%s", s->https_port, s->http_port, legacy);
	ui_json_int(&s->ui, "ready", "https_port", s->https_port);

	/* 5. Address events (the initial dump sets have_*), and signals. */
	if ((r = netwatch_start(s->vh_loop, on_addr, s, &s->nw)) < 0) {
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
	return 0;
}

int
sonota_run(struct sonota *s)
{
	sonota_event(s, s->cfg->no_prov ? STAGE_EV_START_NO_PROV : STAGE_EV_START);
	follow_up(s);
	while (!stage_is_final(s->sm.cur))
		if (lws_service(s->lws, 0) < 0)
			break;
	if (!stage_is_final(s->sm.cur)) {
		log_err(s->log, "the event loop failed (our bug)");
		return SONOTA_EXIT_FAILURE;
	}
	ui_json_int(&s->ui, "exit", "code", s->exit_code);
	return s->exit_code;
}

void
sonota_fini(struct sonota *s)
{
	if (s->lws) {
		lws_sul_cancel(&s->sul_remind);
		lws_sul_cancel(&s->sul_timeout);
		lws_sul_cancel(&s->sul_retry);
	}
	if (s->prov)
		prov_cancel(s->prov);
	netwatch_stop(s->nw);
	/* MHD first: its thread must not wake a destroyed context. */
	imgsrv_stop(s->http_legacy);
	imgsrv_stop(s->http);
	ackwatch_stop(s->ackwatch);
	if (s->lws)
		lws_context_destroy(s->lws);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->evq_ready)
		evq_fini(&s->evq);
	preflight_free(&s->pre);
	imageset_free(&s->images);
	memset(s, 0, sizeof(*s));
}

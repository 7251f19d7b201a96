/* cloud: see cloud.h. Runs on the lws loop thread only. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cloud.h"
#include "proto.h"
#include "session.h"
#include "util.h"

/* One websocket connection of a device. */
struct cloud_conn {
	struct session_conn sc; /* its dialogue state */
	struct wss_conn *wc;    /* its transport */
	char peer[EVQ_PEER_MAX];
	bool admitted;          /* its register was admitted under --max-devices */
	int dev;                /* then: its device's index in the session table */
	uint64_t dev_id;        /* and that device's session id */
};

void
cloud_init(struct cloud *c, struct log *log)
{
	memset(c, 0, sizeof(*c));
	c->log = log;
	session_table_init(&c->sessions);
#ifdef SONOTA_TEST_FAULTS
	const char *fault = getenv("SONOTA_TEST_FAULT");
	if (fault && *fault) {
		snprintf(c->fault, sizeof(c->fault), "%s", fault);
		log_warn(log, "TEST FAULT \"%s\" ACTIVE: this run misbehaves on purpose", c->fault);
	}
#endif
}

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A random (version 4) UUID: the server apikey issued to a connection. */
static int
uuid4(char out[37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		 b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		 b[14], b[15]);
	return 0;
}

static char *
on_dispatch(void *arg, const char *peer, const char *body, size_t len)
{
	struct cloud *s = arg;
	struct proto_dispatch d;
	int r = proto_parse_dispatch(body, len, &d);

	/* No log_add_secret for apikeys: the logger masks every "apikey" value by
	 * structure (redact.c), and values a client chooses must not fill its secret set. */
	if (!log_peer_allow(s->log, peer))
		; /* over this address's budget: counted, reported with its next line */
	else if (r < 0)
		log_warn(s->log, "dispatch from %s: body is not a JSON object (%s), answering anyway",
			 peer, strerror(-r));
	else
		log_notice(s->log, "device %s (%s, firmware %s) at %s called the emulated cloud",
			   d.deviceid[0] ? d.deviceid : "?", d.model[0] ? d.model : "model ?",
			   d.rom_version[0] ? d.rom_version : "?", peer);
	if (d.deviceid[0])
		peers_bind(s->peers, peer, d.deviceid);
	ui_json(s->ui, "dispatch", "peer", peer, "deviceid", d.deviceid, "model", d.model,
		"romVersion", d.rom_version, NULL);
	s->post(s->post_arg, CLOUD_DEVICE_SEEN);
	return proto_build_dispatch_reply(s->serving_host, s->https_port);
}

static void *
on_open(void *arg, struct wss_conn *c, const char *peer)
{
	struct cloud *s = arg;
	struct cloud_conn *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return NULL;
	session_conn_init(&cc->sc);
	cc->wc = c;
	snprintf(cc->peer, sizeof(cc->peer), "%s", peer);
	if (log_peer_allow(s->log, peer))
		log_info(s->log, "websocket from %s opened", peer);
	return cc;
}

/* Is the device in slot i admitted now (an admitted connection still open)? */
static bool
admitted(const struct cloud *s, unsigned i)
{
	const struct session_dev *d = &s->sessions.devs[i];
	return s->adm_conns[i] > 0 && d->used && d->id == s->adm_id[i];
}

unsigned
cloud_devices_online(const struct cloud *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++)
		n += admitted(s, i);
	return n;
}

/* Admission under --max-devices, decided at register. Only devices admitted here
 * count: a connection that never registered (a probe, a device that sent another
 * frame first and stays) and a refused one still closing do not take a place. */
static bool
admit(struct cloud *s, struct cloud_conn *cc)
{
	const struct session_dev *d = session_conn_device(&s->sessions, &cc->sc);
	if (!d)
		return false;
	if (cc->admitted)
		return true;
	unsigned i = (unsigned)cc->sc.dev;
	if (!admitted(s, i)) {
		if (cloud_devices_online(s) >= s->max_devices)
			return false;
		s->adm_id[i] = d->id;
		s->adm_conns[i] = 0;
	}
	s->adm_conns[i]++;
	cc->admitted = true;
	cc->dev = (int)i;
	cc->dev_id = d->id;
	return true;
}

/* A failed upgrade ack (404 or another error). The slow stream is chosen only on
 * evidence of old firmware: this device's address fetched user1/user2 with a plain
 * GET, no Range (PROTOCOL.md §3.6, §4), never because a download failed. */
static void
upgrade_failed(struct cloud *s, const char *peer, const struct session_event *e)
{
	const char *id = e->deviceid[0] ? e->deviceid : "?";
	struct peers_entry *pe = peers_find(s->peers, peer);
	bool slow = e->slow;

	ui_json(s->ui, "upgrade-failed", "deviceid", e->deviceid, "error",
		e->type == SESSION_EV_UPGRADE_FAILED_404 ? "404" : "other", NULL);
	if (!slow && pe && pe->plain_fetch && strcmp(pe->deviceid, e->deviceid) == 0 &&
	    session_set_slow(&s->sessions, e->deviceid) == 0)
		slow = true;
	if (e->state == SESSION_DEV_GAVE_UP)
		return; /* SESSION_EV_GAVE_UP follows and explains */
	if (slow)
		log_warn(s->log, "device %s could not download the image (error %d, attempt %u of "
				 "%d): it downloaded without Range, so it is old firmware; it gets "
				 "the slow stream (/slowota/) when it reconnects. Power-cycle it if "
				 "it has not reconnected within a minute", id, e->error, e->attempt,
			 SESSION_UPGRADE_FAILURES_MAX);
	else
		log_warn(s->log, "device %s could not download the image (error %d, attempt %u of "
				 "%d); it is offered the same URLs again when it reconnects", id,
			 e->error, e->attempt, SESSION_UPGRADE_FAILURES_MAX);
}

void
cloud_session_event(struct cloud *s, struct cloud_conn *cc, const char *peer,
		    const struct session_event *e)
{
	const char *id = e->deviceid[0] ? e->deviceid : "?";
	switch (e->type) {
	case SESSION_EV_REGISTERED:
		if (cc && !admit(s, cc)) {
			log_warn(s->log, "device %s refused: %u devices are served already "
					 "(--max-devices); it can try again later", id,
				 s->max_devices);
			wss_close(cc->wc);
			break;
		}
		log_notice(s->log, "device %s (%s, firmware %s) registered from %s%s%s",
			   id, e->model[0] ? e->model : "model ?",
			   e->rom_version[0] ? e->rom_version : "?", peer,
			   e->text[0] ? ": " : "", e->text);
		peers_bind(s->peers, peer, e->deviceid);
		ui_json(s->ui, "registered", "deviceid", e->deviceid, "model", e->model,
			"romVersion", e->rom_version, "peer", peer, NULL);
		s->post(s->post_arg, CLOUD_DEVICE_SEEN);
		break;
	case SESSION_EV_UNREGISTERED:
		if (log_peer_allow(s->log, peer))
			log_warn(s->log, "device %s at %s sent \"%s\" before register (device "
				 "quirk), answering anyway", id, peer, e->text);
		break;
	case SESSION_EV_RELAY_TEST:
		log_notice(s->log, "device %s: relay test (4 toggles, ending %s as reported)",
			   id, e->sw == PROTO_SWITCH_ON ? "on" : "off");
		break;
	case SESSION_EV_RELAY_TEST_SKIPPED:
		log_info(s->log, "device %s: no relay test: %s", id, e->text);
		break;
	case SESSION_EV_RELAY_ACK:
		log_debug(s->log, "device %s acked relay %s with %d", id,
			  e->sw == PROTO_SWITCH_ON ? "on" : "off", e->error);
		break;
	case SESSION_EV_UPGRADE_SENT:
		log_notice(s->log, "device %s: upgrade sent (%s, attempt %u): %s, %s", id,
			   e->slow ? "slow stream" : "full speed", e->attempt,
			   e->url_user1, e->url_user2);
		ui_json(s->ui, "upgrade-sent", "deviceid", e->deviceid, "user1", e->url_user1,
			"user2", e->url_user2, NULL);
		break;
	case SESSION_EV_UPGRADE_DONE:
		log_notice(s->log, "device %s downloaded and verified the intermediate image "
				   "(ack 0): it reboots into it now", id);
		snprintf(s->final_deviceid, sizeof(s->final_deviceid), "%s", e->deviceid);
		ui_json(s->ui, "stock-done", "deviceid", e->deviceid, NULL);
		s->post(s->post_arg, CLOUD_STOCK_DONE);
		break;
	case SESSION_EV_UPGRADE_FAILED_404:
	case SESSION_EV_UPGRADE_FAILED:
		upgrade_failed(s, peer, e);
		break;
	case SESSION_EV_GAVE_UP:
		log_err(s->log, "device %s: giving up after %u failed upgrade attempts (last error "
				"%d); it is not offered the upgrade again in this run. %s", id,
			e->attempt, e->error,
			e->slow ? "It failed on the slow stream too: check its power supply and "
				  "WiFi signal, then rerun"
				: "Check its WiFi signal and that no firewall blocks the HTTP port; "
				  "if it is old firmware, rerun with --slowstream");
		ui_json(s->ui, "gave-up", "deviceid", e->deviceid, NULL);
		break;
	case SESSION_EV_UPGRADE_HELD:
		if (log_peer_allow(s->log, peer))
			log_info(s->log, "device %s: upgrade held (--all: this computer may leave "
					 "the home WiFi to provision another device); it gets the "
					 "upgrade when it reconnects", id);
		break;
	case SESSION_EV_EVICTED:
		log_info(s->log, "device %s (offline, %s) forgotten to make room: %d devices are "
				 "known", id, session_dev_state_name(e->state), SESSION_MAX_DEVICES);
		break;
	case SESSION_EV_UNKNOWN_ACTION:
		if (log_peer_allow(s->log, peer))
			log_info(s->log, "device %s sent unknown action \"%s\", ignoring it", id,
			 e->text);
		break;
	case SESSION_EV_MALFORMED:
		if (log_peer_allow(s->log, peer))
			log_warn(s->log, "websocket %s: malformed message (%s), ignoring it (device "
				 "bug or not a device)", peer, strerror(-e->error));
		break;
	case SESSION_EV_UNKNOWN_ACK:
		if (log_peer_allow(s->log, peer))
			log_info(s->log, "device %s acked sequence \"%s\" that we never sent, "
				 "ignoring it", id, e->text);
		break;
	case SESSION_EV_LIMIT:
		log_warn(s->log, "device %s refused: %d devices are connected already", id,
			 SESSION_MAX_DEVICES);
		break;
	case SESSION_EV_DEVICEID_CHANGED:
		log_warn(s->log, "websocket %s: deviceid changed from %s to \"%s\" (device "
				 "bug), closing", peer, id, e->text);
		break;
	case SESSION_EV_CLOSED_BEFORE_ACK:
		log_notice(s->log, "device %s disconnected before acknowledging its upgrade; "
				   "it is offered again when it reconnects", id);
		break;
	default:
		log_debug(s->log, "device %s: %s", id, session_event_name(e->type));
		break;
	}
}

static void
on_text(void *arg, void *user, struct wss_conn *c, const char *buf, size_t len)
{
	struct cloud *s = arg;
	struct cloud_conn *cc = user;
	struct session_out out = { 0 };
	char uuid[37];
	char d1[65], d2[65];

	/* The frame as received: its apikey values are masked by the logger (redact.c),
	 * its control bytes escaped; a client's frames share its address's budget. */
	if (log_enabled(s->log, LOG_DEBUG) && log_peer_allow(s->log, cc->peer))
		log_debug(s->log, "ws %s >> %.*s", cc->peer, (int)len, buf);
	if (uuid4(uuid) < 0) {
		log_err(s->log, "getrandom failed, closing %s", cc->peer);
		wss_close(c);
		return;
	}
	memcpy(d1, s->digest_user1, sizeof(d1));
	memcpy(d2, s->digest_user2, sizeof(d2));
#ifdef SONOTA_TEST_FAULTS
	if (strcmp(s->fault, "digest") == 0) {
		/* Test-only negative control (SONOTA_TEST_FAULT=digest): a wrong digest. */
		d1[0] = d1[0] == '0' ? '1' : '0';
		d2[0] = d2[0] == '0' ? '1' : '0';
	}
#endif
	struct session_env env = {
		.serving_host = s->serving_host,
		.http_port = s->http_port,
		.slowstream = s->slowstream,
		.relay_test = s->relay_test,
		.digest_user1 = d1,
		.digest_user2 = d2,
		.now_ms = now_ms(),
		.mono_ms = (int64_t)util_mono_ms(),
		.fresh_uuid = uuid,
		.hold_upgrade = s->hold_upgrade,
	};
	int r = session_on_text(&s->sessions, &cc->sc, &env, buf, len, &out);
	for (unsigned i = 0; i < out.nevents; i++)
		cloud_session_event(s, cc, cc->peer, &out.events[i]);
	if (r < 0) {
		log_err(s->log, "websocket %s: internal error %s, closing (our bug)", cc->peer,
			strerror(-r));
		session_out_free(&out);
		wss_close(c);
		return;
	}
	bool dump = log_enabled(s->log, LOG_DEBUG) && log_peer_allow(s->log, cc->peer);
	for (unsigned i = 0; i < out.ntexts; i++) {
		if (dump)
			log_debug(s->log, "ws %s << %s", cc->peer, out.texts[i]);
		if (wss_send(c, out.texts[i], strlen(out.texts[i])) < 0)
			break;
	}
	if (out.close)
		wss_close(c);
	session_out_free(&out);
}

static void
on_close(void *arg, void *user)
{
	struct cloud *s = arg;
	struct cloud_conn *cc = user;
	struct session_out out = { 0 };

	if (!cc)
		return;
	if (cc->admitted && s->adm_id[cc->dev] == cc->dev_id && s->adm_conns[cc->dev])
		s->adm_conns[cc->dev]--;
	session_conn_close(&s->sessions, &cc->sc, &out);
	for (unsigned i = 0; i < out.nevents; i++)
		cloud_session_event(s, cc, cc->peer, &out.events[i]);
	session_out_free(&out);
	if (log_peer_allow(s->log, cc->peer))
		log_info(s->log, "websocket from %s closed", cc->peer);
	free(cc);
}

static void
on_tls_abort(void *arg, const char *peer)
{
	struct cloud *s = arg;
	unsigned i;

	/* The explanation once per peer; repeats go to the debug file only. */
	for (i = 0; i < s->naborted; i++)
		if (strcmp(s->aborted[i], peer) == 0) {
			if (log_peer_allow(s->log, peer))
				log_debug(s->log, "%s dropped the TLS handshake again", peer);
			return;
		}
	if (s->naborted < CLOUD_ABORT_PEERS_MAX)
		snprintf(s->aborted[s->naborted++], EVQ_PEER_MAX, "%s", peer);
	else if (!log_peer_allow(s->log, peer))
		return; /* the table of explained peers is full: a budget per address */
	log_warn(s->log,
		 "%s closed its TLS connection during or right after the handshake, before any "
		 "request. Likely cause: its firmware (1.6+ or 2.6+) pins the eWeLink cloud "
		 "certificate and cannot be taken over this way (see README, Troubleshooting)",
		 peer);
	ui_json(s->ui, "tls-abort", "peer", peer, NULL);
}

const struct wss_ops cloud_ops = {
	.on_dispatch = on_dispatch,
	.on_open = on_open,
	.on_text = on_text,
	.on_close = on_close,
	.on_tls_abort = on_tls_abort,
};

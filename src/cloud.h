/* cloud: the emulated eWeLink cloud. Turns what the wss listener receives into
 * session.c calls, and what session.c decides into frames, log lines, UI events and
 * route events (PROTOCOL.md §3). Owns the session table and its own state; reports
 * to the route through a post function, never by including the composition's header.
 * Runs on the lws loop thread only.
 *
 * cloud_session_event() is the ONE place that maps a session event to its log line,
 * its UI/JSON event and its route event: new session events are added there.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "peers.h"
#include "session.h"
#include "ui.h"
#include "wss.h"

#define CLOUD_ABORT_PEERS_MAX 16 /* peers whose handshake aborts were explained */

/* What cloud reports to the route. */
enum cloud_event {
	CLOUD_DEVICE_SEEN, /* a device called dispatch or registered */
	CLOUD_STOCK_DONE,  /* a device acked its upgrade with 0 */
};

typedef void (*cloud_post_fn)(void *arg, enum cloud_event ev);

struct cloud_conn;

struct cloud {
	struct log *log;                /* borrowed */
	struct ui *ui;                  /* borrowed */
	struct peers *peers;            /* borrowed: address -> deviceid */
	const char *serving_host;       /* borrowed: the host the device reaches */
	uint16_t https_port;            /* bound HTTPS/WSS port (set once bound) */
	uint16_t http_port;             /* bound image port (set once bound) */
	unsigned max_devices;           /* --max-devices */
	bool slowstream;                /* --slowstream */
	bool relay_test;                /* !--no-relay-test */
	bool hold_upgrade;              /* --all: no upgrade for now (session_env); set by
					 * the adapter while this computer may leave home */
	const char *digest_user1;       /* borrowed: sha256 hex of the served user1 */
	const char *digest_user2;       /* same for user2 */
	cloud_post_fn post;             /* the route's events */
	void *post_arg;
	struct session_table sessions;  /* every device's dialogue state (owned) */
	char final_deviceid[PROTO_DEVICEID_MAX + 1]; /* the device last done with stock */
	unsigned adm_conns[SESSION_MAX_DEVICES];  /* admitted connections per session slot */
	uint64_t adm_id[SESSION_MAX_DEVICES];     /* the slot's device id when admitted */
	char aborted[CLOUD_ABORT_PEERS_MAX][EVQ_PEER_MAX]; /* peers told about pinning */
	unsigned naborted;
#ifdef SONOTA_TEST_FAULTS
	char fault[16];                 /* SONOTA_TEST_FAULT (test builds only), "" none */
#endif
};

/* Zero c's state and the session table; the caller then sets the borrowed fields.
 * In a build with -DSONOTA_TEST_FAULTS, reads $SONOTA_TEST_FAULT (and warns). */
void cloud_init(struct cloud *c, struct log *log);

/* Devices admitted under --max-devices with a connection open now (a connection that
 * never registered, or was refused, does not count). */
unsigned cloud_devices_online(const struct cloud *c);

/* Log, tell the UI and post the route event for one session event of the
 * connection from peer (cc may be NULL outside a connection). */
void cloud_session_event(struct cloud *c, struct cloud_conn *cc, const char *peer,
			 const struct session_event *e);

/* The callbacks for wss_vhost_create; arg is the struct cloud. */
extern const struct wss_ops cloud_ops;

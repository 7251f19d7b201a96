/* session: the per-device WebSocket dialogue of PROTOCOL.md §3.3-3.6 as a pure
 * state machine.
 *
 * The caller (the lws adapter) owns one struct session_table for the whole server
 * and one struct session_conn per WebSocket connection. For each complete text
 * message from a device it calls session_on_text(); the result is a list of JSON
 * texts to send on that connection, in order, and a list of events to log or act
 * on. When the connection closes it calls session_conn_close(). No I/O, no
 * logging, no clock, no RNG: the time and a fresh UUID come in struct session_env.
 *
 * Devices are keyed by deviceid and are independent: what one device reports
 * never changes another's state. Per connection the dialogue is (SonOTA order):
 *   register -> reply (server key = a fresh UUID, never the device's own)
 *   date     -> reply with the true UTC date
 *   update   -> reply; on the first update of the connection, also the relay test
 *               (once per device, see SESSION_EV_RELAY_TEST) and then `upgrade`
 *   query    -> reply params:0
 *   ack      -> matched by sequence to the relay command or upgrade it answers
 * Ack 0 to the upgrade: the device is done with the stock stage. Any other ack (404
 * included) is a failure: nothing more is sent on that connection, and the device
 * gets the upgrade again on its next connection, until SESSION_UPGRADE_FAILURES_MAX
 * failed acks: then it has given up (SESSION_DEV_GAVE_UP) and is never offered the
 * upgrade again in this run. A 404 does not by itself make the device slow: only the
 * caller knows the evidence of old firmware (that device's address downloaded
 * user1/user2 without a Range header, PROTOCOL.md §3.6, §4), and says so with
 * session_set_slow(); a slow device's later upgrades carry /slowota/ URLs. A device
 * whose connection closes before the ack gets the upgrade again on its next
 * connection (that is not a failure).
 * docs/protocol.md describes the messages; this header is the contract for the code.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Devices remembered at once. SonOTA handles one; a user flashing a handful of
 * plugs at a time needs a few; the benchmark holds 200 at once. 256 bounds the memory
 * a flood of made-up deviceids can take (about 300 B each). When full, the least
 * recently active device without an open connection (session_dev.last_active_ms,
 * then the oldest) is forgotten to make room, whatever its state
 * (SESSION_EV_EVICTED), so that clients which connect and vanish cannot lock real
 * devices out. Only when all SESSION_MAX_DEVICES are connected at once is a new
 * device refused (SESSION_EV_LIMIT) and its connection must be closed. */
#define SESSION_MAX_DEVICES 256

/* Failed upgrade acks (any non-zero error, 404 included) before a device is given up
 * on for this run: 1 at full speed, then (if the caller found it old and called
 * session_set_slow()) 2 on the slow stream. A device that fails every time is not
 * offered the upgrade without end; the caller says why (SESSION_EV_GAVE_UP). */
#define SESSION_UPGRADE_FAILURES_MAX 3

/* Server commands awaiting an ack on one connection: 4 relay toggles + 1 upgrade
 * are the most one connection ever sends. */
#define SESSION_PENDING_MAX 8

/* Output of one session_on_text() call: at most 6 texts (update reply, 4 toggles,
 * upgrade) and 4 events (unregistered, evicted, relay test, upgrade sent). */
#define SESSION_OUT_TEXTS_MAX 8
#define SESSION_OUT_EVENTS_MAX 8

#define SESSION_TEXT_MAX 96 /* detail text of an event */

enum session_dev_state {
	SESSION_DEV_NEW,          /* seen only in frames other than register so far */
	SESSION_DEV_REGISTERED,   /* connected; upgrade not sent on this connection yet */
	SESSION_DEV_UPGRADE_SENT, /* upgrade sent, ack awaited */
	SESSION_DEV_INTERRUPTED,  /* connection closed before the ack: sent again next time */
	SESSION_DEV_UPGRADED,     /* ack 0: downloaded and verified, device reboots */
	SESSION_DEV_FAILED,       /* ack != 0; sent again on its next connection */
	SESSION_DEV_GAVE_UP,      /* SESSION_UPGRADE_FAILURES_MAX failed acks: never sent
				   * again in this run (a new register does not change it) */
	_SESSION_DEV_STATE_MAX,
};

/* One device, keyed by deviceid. Read-only for the caller. */
struct session_dev {
	bool used;                                  /* slot in use */
	uint64_t id;                                /* unique in the table, never reused */
	char deviceid[PROTO_DEVICEID_MAX + 1];
	char model[PROTO_MODEL_MAX + 1];            /* from register, "" if never told */
	char rom_version[PROTO_ROMVERSION_MAX + 1]; /* from register, "" if never told */
	bool slow;                                  /* session_set_slow(): use /slowota/ */
	enum session_dev_state state;
	enum proto_switch relay;                    /* relay state last reported by the device */
	bool relay_tested;                          /* the relay test was sent once */
	uint64_t upgrade_seq;                       /* sequence of the last upgrade sent, 0 none */
	uint64_t await_seq;                         /* upgrade sequence still unacked, 0 none */
	int last_error;                             /* error of the last upgrade ack */
	unsigned nconns;                            /* open connections bound to it */
	unsigned connections;                       /* connections bound to it so far */
	unsigned upgrades_sent;                     /* upgrade commands sent so far */
	unsigned failures;                          /* upgrade acks != 0 */
	int64_t last_active_ms;                     /* env.mono_ms of its last frame */
};

/* All devices, and the sequence counter shared by every connection. */
struct session_table {
	struct session_dev devs[SESSION_MAX_DEVICES];
	uint64_t last_seq; /* last sequence handed out */
	uint64_t next_id;  /* next session_dev.id */
};

enum session_ack_kind {
	SESSION_ACK_RELAY,   /* a relay toggle */
	SESSION_ACK_UPGRADE, /* the upgrade command */
};

struct session_pending {
	uint64_t seq;
	enum session_ack_kind kind;
	bool on; /* SESSION_ACK_RELAY: the state commanded */
};

/* Per WebSocket connection. Initialise with session_conn_init(). */
struct session_conn {
	int dev;                            /* index in table->devs, -1 before the first frame */
	uint64_t dev_id;                    /* table->devs[dev].id when bound */
	char apikey[PROTO_APIKEY_MAX + 1];  /* server key issued on this connection, "" none */
	bool registered;                    /* a register was answered */
	bool got_update;                    /* the first update was handled */
	bool upgrade_sent;                  /* the upgrade went out on this connection */
	bool done;                          /* upgrade acked: initiate nothing more */
	struct session_pending pending[SESSION_PENDING_MAX]; /* acks awaited, oldest first */
	unsigned npending;
};

/* What the caller supplies for one session_on_text() call. Strings are borrowed. */
struct session_env {
	const char *serving_host;  /* host or IP the device reaches (in the URLs) */
	uint16_t http_port;        /* plain-HTTP image port (8080) */
	bool slowstream;           /* --slowstream: /slowota/ for every device */
	bool relay_test;           /* SonOTA-compatible relay test (--no-relay-test: false) */
	const char *digest_user1;  /* lower-case hex SHA-256 of the served user1 bytes */
	const char *digest_user2;  /* same for user2 */
	int64_t now_ms;            /* wall clock, ms since the epoch (UTC) */
	int64_t mono_ms;           /* monotonic clock, ms: only to find the least recently
				    * active device when the table is full */
	const char *fresh_uuid;    /* a UUID made for this connection; used (copied) the
				    * first time the connection needs a server key */
	bool hold_upgrade;         /* --all: the first update is answered, then no relay
				    * test and no upgrade: the connection is closed
				    * (SESSION_EV_UPGRADE_HELD) and the device gets its
				    * upgrade when it reconnects after the hold (a download
				    * must not start while this computer is about to leave
				    * the home WiFi) */
};

enum session_event_type {
	SESSION_EV_REGISTERED,           /* deviceid, model, rom_version; attempt = connection
					  * number of this device; prev_state; text notes an
					  * earlier connection still open */
	SESSION_EV_UNREGISTERED,         /* first frame of the connection was not register
					  * (text = its action); answered anyway */
	SESSION_EV_RELAY_TEST,           /* 4 toggles sent; sw = reported state, where the
					  * relay ends */
	SESSION_EV_RELAY_TEST_SKIPPED,   /* text = why */
	SESSION_EV_RELAY_ACK,            /* a toggle was acked: sw commanded, error */
	SESSION_EV_UPGRADE_SENT,         /* url_user1/2, slow, attempt, model, sequence */
	SESSION_EV_UPGRADE_DONE,         /* ack 0: stock stage finished for this device */
	SESSION_EV_UPGRADE_FAILED_404,   /* ack 404 (error), attempt; slow = whether the device
					  * is slow now (session_set_slow() was called), state =
					  * failed, or gave-up (SESSION_EV_GAVE_UP follows) */
	SESSION_EV_UPGRADE_FAILED,       /* ack with another code (error); as _404 otherwise */
	SESSION_EV_UNKNOWN_ACTION,       /* text = the action; no reply, connection kept */
	SESSION_EV_MALFORMED,            /* error = -errno of proto_parse_device; ignored */
	SESSION_EV_UNKNOWN_ACK,          /* text = the sequence as sent, error = its code */
	SESSION_EV_LIMIT,                /* too many devices: refused, out->close set */
	SESSION_EV_DEVICEID_CHANGED,     /* deviceid = the bound one, text = the new one;
					  * out->close set */
	SESSION_EV_CLOSED_BEFORE_ACK,    /* session_conn_close: upgrade unacked (sequence) */
	SESSION_EV_GAVE_UP,              /* after the last allowed failed ack: error = that
					  * ack's error, attempt = failed acks
					  * (SESSION_UPGRADE_FAILURES_MAX), slow */
	SESSION_EV_EVICTED,              /* the table was full: this offline device (deviceid,
					  * state, attempt = its failed acks) was forgotten to
					  * make room for the device of this frame */
	SESSION_EV_UPGRADE_HELD,         /* env.hold_upgrade: the first update answered, the
					  * upgrade not sent; out->close set */
	_SESSION_EV_MAX,
};

struct session_event {
	enum session_event_type type;
	char deviceid[PROTO_DEVICEID_MAX + 1];      /* "" when unknown (malformed frame) */
	char model[PROTO_MODEL_MAX + 1];            /* the device's, "" if unknown */
	char rom_version[PROTO_ROMVERSION_MAX + 1];
	char text[SESSION_TEXT_MAX + 1];            /* detail, see the event type */
	char url_user1[PROTO_URL_MAX + 1];          /* SESSION_EV_UPGRADE_SENT */
	char url_user2[PROTO_URL_MAX + 1];
	bool slow;                                  /* /slowota/ URLs (sent or next time) */
	int error;                                  /* ack error code, or -errno */
	unsigned attempt;                           /* see the event type */
	enum proto_switch sw;                       /* see the event type */
	uint64_t sequence;                          /* the command concerned, 0 none */
	enum session_dev_state prev_state;          /* device state before the frame */
	enum session_dev_state state;               /* device state after it */
};

/* The result of one call. Start from a zeroed struct (or one passed through
 * session_out_free()); texts are malloc'd and owned by out until freed. */
struct session_out {
	char *texts[SESSION_OUT_TEXTS_MAX]; /* JSON to send, in this order */
	unsigned ntexts;
	struct session_event events[SESSION_OUT_EVENTS_MAX];
	unsigned nevents;
	bool close;                         /* close the connection after sending texts */
};

/* Empty table. */
void session_table_init(struct session_table *t);

/* Fresh, unbound connection. */
void session_conn_init(struct session_conn *c);

/* Consume one device text frame (need not be NUL-terminated) on connection c and
 * append the replies and commands to send and the events to out (which must be
 * empty). A frame the protocol does not allow (malformed, unknown action, unknown
 * ack) gives an event, not an error. Returns 0, or:
 *  -EINVAL  a caller bug in env (no fresh_uuid or the device's own apikey as it, no
 *           serving_host, a digest not 64 lower-case hex digits, now_ms outside
 *           1970..9999, a URL longer than PROTO_URL_MAX)
 *  -ENOMEM
 *  -ENOBUFS out was not empty and filled up
 * On error out may already hold texts: free it and close the connection. */
int session_on_text(struct session_table *t, struct session_conn *c,
		    const struct session_env *env, const char *buf, size_t len,
		    struct session_out *out);

/* The connection closed: unbind it. If its upgrade was still unacked the device
 * becomes SESSION_DEV_INTERRUPTED and, when out is not NULL, a
 * SESSION_EV_CLOSED_BEFORE_ACK event is appended. c is reinitialised. */
void session_conn_close(struct session_table *t, struct session_conn *c,
			struct session_out *out);

/* Evidence of old firmware: serve this device /slowota/ URLs from its next upgrade on
 * (PROTOCOL.md §3.6). Call it only on evidence: that device's address fetched
 * user1/user2 without a Range header (a plain GET answered 200), never because a
 * download failed. 0, or -ENOENT for a device not in the table. */
int session_set_slow(struct session_table *t, const char *deviceid);

/* Free the texts of out and zero it. NULL-safe. */
void session_out_free(struct session_out *out);

/* The device with this deviceid, or NULL. Borrowed; valid until the next call that
 * takes a non-const table. */
const struct session_dev *session_find(const struct session_table *t, const char *deviceid);

/* The device connection c is bound to, or NULL. Borrowed, as session_find(). */
const struct session_dev *session_conn_device(const struct session_table *t,
					      const struct session_conn *c);

const char *session_event_name(enum session_event_type type); /* "registered", ... */
const char *session_dev_state_name(enum session_dev_state state); /* "new", ... */

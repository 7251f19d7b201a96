/* proto: pure encode/decode of every JSON message sonota-c exchanges with a device.
 *
 * Provisioning (device AP, PROTOCOL.md §2.2-2.3), dispatch (§3.1) and the WebSocket
 * dialogue (§3.3-3.4). No I/O, no logging, no clock: times and keys come from the
 * caller. docs/protocol.md shows every message with an example and mirrors this file.
 *
 * Builders return compact JSON (cJSON_PrintUnformatted, keys in the order written
 * in the comments) in a malloc'd NUL-terminated string that the caller frees with
 * free(); they return NULL on OOM or when an argument breaks the limit named in its
 * comment (a caller bug: the caller validated its inputs already).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Size of one device text frame. Real frames are well under 1 KB (register with
 * all fields ≈ 200 B, update of a POW ≈ 300 B, [vpon]); 4 KB leaves room for
 * firmware that sends more params and still bounds what a client can make us
 * parse. The WebSocket adapter must refuse (close) bigger messages. */
#define PROTO_MSG_MAX 4096

/* Field limits (characters, without the NUL). A longer field makes the message
 * invalid (-E2BIG) rather than being cut, so no two devices can collide on a cut id. */
#define PROTO_DEVICEID_MAX 32   /* real ids are 10 hex chars ("10000b80c9") */
#define PROTO_APIKEY_MAX 64     /* a UUID is 36 chars */
#define PROTO_MODEL_MAX 32      /* "ITA-GZ1-GL", "PSF-B04-GL": 10 chars */
#define PROTO_ROMVERSION_MAX 32 /* "1.5.5", "2.6.1" */
#define PROTO_SEQUENCE_MAX 24   /* a decimal uint64 has at most 20 digits */
#define PROTO_ACTION_MAX 32     /* longest known action is "register" */
#define PROTO_ACCEPT_MAX 16     /* "post" (GET /device), "ws;2" (dispatch) */
#define PROTO_SSID_MAX 32       /* IEEE 802.11 SSID length */
#define PROTO_PASSWORD_MAX 64   /* WPA2: 8-63 chars, or 64 hex digits */
#define PROTO_HOST_MAX 253      /* a DNS name or an IP literal */
#define PROTO_URL_MAX 320       /* "http://" host ":" port "/slowota/image_user1-0x01000.bin" */
#define PROTO_DIGEST_LEN 64     /* lower-case hex SHA-256 */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" plus the NUL. */
#define PROTO_DATE_LEN 25

/* `version` sent in `upgrade`. Devices are not known to look at it (SonOTA
 * comment; the cloud sent the real version "1.5.5", [vpon]). We send SonOTA's
 * value because it is the one proven on many devices, and being higher than any
 * real stock version it cannot look like a downgrade to a firmware that did
 * compare. */
#define PROTO_UPGRADE_VERSION "23.42.5"

/* `model` sent in `upgrade` when the device never told us its own (SonOTA's default,
 * the Sonoff Basic/S20/TH model). */
#define PROTO_DEFAULT_MODEL "ITA-GZ1-GL"

/* Heartbeat values of the register reply (SonOTA's, also the real cloud's [vpon]). */
#define PROTO_HB_INTERVAL 145

enum proto_type {
	PROTO_MSG_REGISTER, /* D1: action "register" */
	PROTO_MSG_DATE,     /* D2: action "date" */
	PROTO_MSG_UPDATE,   /* D3: action "update" */
	PROTO_MSG_QUERY,    /* D4: action "query" */
	PROTO_MSG_ACK,      /* D5: no action; "error" and "sequence" */
	PROTO_MSG_UNKNOWN,  /* another action; its name is in msg.action */
};

enum proto_switch {
	PROTO_SWITCH_NONE = 0, /* no params.switch */
	PROTO_SWITCH_OFF,      /* "off" */
	PROTO_SWITCH_ON,       /* "on" */
	PROTO_SWITCH_INVALID,  /* params.switch present but not "on"/"off" */
};

/* One decoded device->server frame. Strings are NUL-terminated copies ("" when
 * absent); nothing points into the input or into cJSON. */
struct proto_msg {
	enum proto_type type;
	char action[PROTO_ACTION_MAX + 1];         /* as sent; "" for an ack */
	char deviceid[PROTO_DEVICEID_MAX + 1];     /* never empty */
	char apikey[PROTO_APIKEY_MAX + 1];         /* a secret: never log it */
	char model[PROTO_MODEL_MAX + 1];           /* register */
	char rom_version[PROTO_ROMVERSION_MAX + 1]; /* register: "romVersion" */
	bool has_ts;
	int64_t ts;                                /* "ts" (integral number) */
	bool has_sequence;
	char sequence[PROTO_SEQUENCE_MAX + 1];     /* string, or a number printed in decimal */
	bool has_error;
	int error;                                 /* ack: "error" */
	bool has_params;                           /* "params" present (any type) */
	enum proto_switch sw;                      /* update: params.switch */
	bool has_switches;                         /* update: params.switches is an array */
};

/* Parse buf (len bytes, need not be NUL-terminated) as ONE JSON object with nothing but
 * whitespace after it. On success *ret is the root, owned (cJSON_Delete) by the caller.
 * -EMSGSIZE over max bytes, -EINVAL not exactly one object, -ENOMEM. Shared by every
 * decoder of untrusted JSON (proto.c, diy.c). */
int proto_parse_object(const char *buf, size_t len, size_t max, struct cJSON **ret);

/* Print o unformatted when ok, then free o (NULL-safe). Returns the text (the caller
 * frees it), or NULL when o is NULL, ok is false or printing fails. Shared by every
 * builder of a JSON message (proto.c, diy.c). */
char *proto_print_free(struct cJSON *o, bool ok);

/* Decode one device WebSocket text frame (need not be NUL-terminated).
 * Fields the server acts on (action, deviceid, apikey, model, romVersion,
 * sequence, error, params.switch) must have the right type when present; "ts" is
 * only informational and is ignored (has_ts false) when it is not an integral
 * number. Text fields must be printable ASCII; deviceid, apikey and action must
 * also contain no space.
 * Returns 0, or:
 *  -EMSGSIZE  len > PROTO_MSG_MAX
 *  -EINVAL    not JSON (cJSON cannot tell this from OOM: both give -EINVAL),
 *             trailing non-whitespace, not an object, no string "deviceid" or an
 *             empty one, a field of the wrong type or with a bad character, an
 *             error outside int, a sequence that is neither a string nor an
 *             integral number in [0, 2^53], no action and not an ack
 *  -E2BIG     a field longer than its PROTO_*_MAX
 *  -ENOMEM    no memory for the private copy of buf
 * *ret is written only on success. */
int proto_parse_device(const char *buf, size_t len, struct proto_msg *ret);

/* GET http://10.10.7.1/device reply (§2.2). */
struct proto_device_info {
	char deviceid[PROTO_DEVICEID_MAX + 1]; /* never empty */
	char apikey[PROTO_APIKEY_MAX + 1];     /* "" if absent; a secret */
	char accept[PROTO_ACCEPT_MAX + 1];     /* "post" in practice; "" if absent */
};

/* Decode the /device reply. Same rules and errors as proto_parse_device (deviceid
 * required, apikey and accept optional). *ret written only on success. */
int proto_parse_device_info(const char *buf, size_t len, struct proto_device_info *ret);

/* POST /dispatch/device body (§3.1). */
struct proto_dispatch {
	char deviceid[PROTO_DEVICEID_MAX + 1];      /* "" when absent or unusable */
	char apikey[PROTO_APIKEY_MAX + 1];          /* likewise; a secret */
	char model[PROTO_MODEL_MAX + 1];
	char rom_version[PROTO_ROMVERSION_MAX + 1];
};

/* Lenient decode of a dispatch body: the server answers dispatch whatever the body
 * says (SonOTA ignores it), so this only collects what it can for the log. A field
 * that is absent, not a string, too long or not printable is left "". *ret is
 * always written (zeroed first). Returns 0 when the body was a JSON object,
 * -EMSGSIZE when len > PROTO_MSG_MAX, -EINVAL when it was not a JSON object. */
int proto_parse_dispatch(const char *buf, size_t len, struct proto_dispatch *ret);

/* Format ms since the Unix epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC (always
 * seconds and three digits of milliseconds). Returns 0, or -ERANGE for ms < 0 or
 * a year past 9999 (out untouched). */
int proto_format_utc(int64_t ms, char out[PROTO_DATE_LEN]);

/* {"error":0,"deviceid":D,"apikey":K,"config":{"hb":1,"hbInterval":145}}
 * K is the server-issued key, never the device's own. */
char *proto_build_register_reply(const char *deviceid, const char *server_apikey);

/* {"error":0,"deviceid":D,"apikey":K,"date":"YYYY-MM-DDTHH:MM:SS.mmmZ"} in UTC.
 * NULL also when now_ms is outside proto_format_utc's range. */
char *proto_build_date_reply(const char *deviceid, const char *server_apikey, int64_t now_ms);

/* {"error":0,"deviceid":D,"apikey":K} */
char *proto_build_update_reply(const char *deviceid, const char *server_apikey);

/* {"error":0,"deviceid":D,"apikey":K,"params":0} ("no timers") */
char *proto_build_query_reply(const char *deviceid, const char *server_apikey);

/* Server-initiated relay command:
 * {"action":"update","deviceid":D,"apikey":K,"userAgent":"app","sequence":"<seq>",
 *  "ts":0,"params":{"switch":"on"|"off"},"from":"app"} */
char *proto_build_relay(const char *deviceid, const char *server_apikey, uint64_t sequence,
			bool on);

struct proto_upgrade {
	const char *deviceid;
	const char *server_apikey;
	uint64_t sequence;
	const char *url_user1;    /* http URL of image_user1-0x01000.bin, <= PROTO_URL_MAX */
	const char *digest_user1; /* PROTO_DIGEST_LEN lower-case hex chars */
	const char *url_user2;
	const char *digest_user2;
	const char *model;        /* the device's own model; NULL or "" -> PROTO_DEFAULT_MODEL */
};

/* {"action":"upgrade","deviceid":D,"apikey":K,"userAgent":"app","sequence":"<seq>",
 *  "ts":0,"params":{"binList":[{"downloadUrl":U1,"digest":H1,"name":"user1.bin"},
 *  {"downloadUrl":U2,"digest":H2,"name":"user2.bin"}],"model":M,
 *  "version":PROTO_UPGRADE_VERSION}}
 * NULL also when a URL is too long or a digest is not 64 lower-case hex digits. */
char *proto_build_upgrade(const struct proto_upgrade *u);

/* {"error":0,"reason":"ok","IP":ip,"port":port} (the key is upper-case "IP").
 * NULL also when ip is longer than PROTO_HOST_MAX. */
char *proto_build_dispatch_reply(const char *ip, uint16_t port);

/* POST http://10.10.7.1/ap body, numbers unquoted, keys in this order:
 * {"version":4,"ssid":S,"password":P,"serverName":H,"port":port}
 * NULL also when ssid (1..PROTO_SSID_MAX), password (<= PROTO_PASSWORD_MAX) or
 * server_name (1..PROTO_HOST_MAX) is out of bounds. The result holds the WiFi
 * password: never log it unredacted. */
char *proto_build_ap(const char *ssid, const char *password, const char *server_name,
		     uint16_t port);

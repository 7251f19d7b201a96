/* diy: pure core of the DIY route (eWeLink firmware 3.x, DIY-PROTOCOL.md §3-§5).
 *
 * - decode the device's JSON replies: the {"seq","error"} envelope and /zeroconf/info,
 *   whose `data` is an object (3.5+) or a JSON string holding an object (3.3/3.4, §3.1);
 * - the error-code tables (§3.4): the device's API answers and the codes of the completion
 *   POST, each with a one-line diagnosis;
 * - build the request bodies of info, ota_unlock and ota_flash (§3.1, §5.1, §5.2), with the
 *   `deviceid` rules of §3.2: never "", omitted when the device refuses it;
 * - the firmware line and the route that applies to a firmware version (§1.1).
 * The flash sequence and the completion verdict built on these are in diyflow.h.
 * No I/O, no logging, no clock (times come in as arguments). Builders return compact JSON in
 * a malloc'd string the caller frees with free(), or NULL on OOM or a bad argument.
 * docs/diy.md describes how the engine drives these.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIY_PORT 8081          /* SRV port of every DIY device seen (§2, [D20] p.4) */
#define DIY_REPLY_MAX 4096     /* a device reply; info is < 400 B, MINIR3's arrays < 1 KB */
#define DIY_DEVICEID_MAX 32    /* real ids are 10 hex chars */
#define DIY_VERSION_MAX 16     /* "3.7.6" */
#define DIY_SSID_MAX 32        /* IEEE 802.11 */
#define DIY_BSSID_MAX 17       /* "ec:17:2f:3d:15:0e"; devices print octets unpadded (§4) */
#define DIY_URL_MAX 160        /* "http://" IPv4 ":" port "/" path: paths are ours and short */
#define DIY_PATH_MAX 96        /* path part of downloadUrl, leading '/' included */
#define DIY_SHA256_HEX 64      /* lower-case hex, required by 3.6 (IT#102) */
#define DIY_REQ_GAP_MS 200     /* at least this between two requests to a device ([D14]) */

/* Firmware lines that behave differently (§1.1). */
enum diy_fw {
	DIY_FW_UNKNOWN = 0, /* not told yet */
	DIY_FW_PRE33,       /* 3.0-3.2: string data + selfApikey, not supported by this route */
	DIY_FW_33,          /* 3.3-3.4: info.data as a string, no fwVersion */
	DIY_FW_35,          /* 3.5-3.6: Host: dl.itead.cn when downloading */
	DIY_FW_37,          /* 3.7+: "deviceid":"" refused (reset / empty reply) */
	DIY_FW_MINIR3,      /* MINIR3-style multi-channel API: sending deviceid -> 422 / hang */
	_DIY_FW_MAX,
};

/* Which take-over route fits a stock firmware (§1.1, PROTOCOL.md §1). */
enum diy_route {
	DIY_ROUTE_UNKNOWN = 0, /* version not parseable */
	DIY_ROUTE_CLOUD,       /* route 1, emulated cloud: 1.x < 1.6, 2.x < 2.6 */
	DIY_ROUTE_DIY,         /* route 2, DIY mode: 3.x and the newer product lines */
	DIY_ROUTE_NONE,        /* 1.6+/2.6+: pinned certificate and no DIY mode: serial only */
};

/* The reply envelope of every /zeroconf call: {"seq":n,"error":e[,"data":...]}. */
struct diy_reply {
	bool has_seq;
	uint32_t seq;
	int error; /* 0 = success; a reply without "error" is invalid */
};

/* /zeroconf/info, data decoded from either form. Strings are copies, "" when absent. */
struct diy_info {
	struct diy_reply reply;
	bool data_is_string;                  /* 3.3/3.4 form */
	char deviceid[DIY_DEVICEID_MAX + 1];  /* 3.5+ only */
	char fw_version[DIY_VERSION_MAX + 1]; /* "fwVersion", 3.5+ only */
	bool has_ota_unlock;
	bool ota_unlock;                      /* "otaUnlock" */
	char ssid[DIY_SSID_MAX + 1];
	char bssid[DIY_BSSID_MAX + 1];
	bool has_signal;
	int signal_dbm;                       /* "signalStrength" */
	bool multi_channel;                   /* "switches" array (MINIR3, multi-outlet) */
	enum diy_fw fw;                       /* deduced: fwVersion, else the form of data */
};

/* Decode a reply envelope. 0, or -EMSGSIZE (len > DIY_REPLY_MAX), -EINVAL (not one JSON
 * object, no integral "error", "seq" not a non-negative integer). *ret only on success. */
int diy_parse_reply(const char *buf, size_t len, struct diy_reply *ret);

/* Decode a /zeroconf/info reply. Besides diy_parse_reply's errors: -EINVAL when error is 0
 * and data is missing, is neither an object nor a string holding a JSON object, or a known
 * field has the wrong type or a non-printable character; -E2BIG when a field exceeds its
 * limit. When error != 0 only reply is filled. *ret written only on success. */
int diy_parse_info(const char *buf, size_t len, struct diy_info *ret);

/* Decode the body of the device's POST /api/device/otaFlash to the image server (§5.5):
 * a JSON object with an integral "error". 0 with *ret_error, or -EMSGSIZE / -EINVAL. */
int diy_parse_completion(const char *buf, size_t len, int *ret_error);

/* Firmware line of a version string ("3.6.0" -> DIY_FW_35); DIY_FW_UNKNOWN when not 3.x.
 * MINIR3 is not told by a version (its own 1.x numbering): see diy_info.multi_channel. */
enum diy_fw diy_fw_from_version(const char *version);

/* Route for a stock firmware version ("1.5.5" -> CLOUD, "2.6.1" -> NONE, "3.6.0" -> DIY). */
enum diy_route diy_route_for_version(const char *version);

const char *diy_fw_name(enum diy_fw fw);       /* "3.5-3.6", ... */
const char *diy_route_name(enum diy_route r);  /* "cloud", "diy", "none", "unknown" */

/* Where an error code came from. */
enum diy_err_ctx {
	DIY_ERR_API,        /* the "error" of a /zeroconf reply (§3.4) */
	DIY_ERR_COMPLETION, /* the "error" of the device's POST /api/device/otaFlash (§5.5) */
};

/* One-line diagnosis of a code ("unlock server unreachable: ..."), or NULL for a code not
 * in the table. Static strings. */
const char *diy_error_text(enum diy_err_ctx ctx, int code);

/* Codes of the tables, for tests and docs: *ret_n entries. */
const int *diy_error_codes(enum diy_err_ctx ctx, size_t *ret_n);

/* The downloadUrl: "http://<ipv4>:<port><path>". ipv4 must be a dotted-quad literal (no
 * name: 3.5/3.6 send Host: dl.itead.cn anyway, and names need the device's DNS), port
 * 1..65535, path starts with '/', printable ASCII without space, '?', '#' or '%', at most
 * DIY_PATH_MAX. 0 or -EINVAL. */
int diy_format_url(const char *ipv4, uint16_t port, const char *path, char out[DIY_URL_MAX + 1]);

/* Whether a device on the LAN can reach our image server at ipv4 (§6 row 8: tools bound to
 * 127.0.0.1 or announcing an unusable address). NULL when usable, else a one-line reason:
 * not a dotted quad, 0.0.0.0/8, loopback 127/8, link-local 169.254/16 (the device gets a DHCP
 * address, §2), multicast 224/4, reserved 240/4 or broadcast. diy_format_url() does not call
 * it (tests serve on loopback); the engine checks the serving address with it first. */
const char *diy_ipv4_unusable(const char *ipv4);

/* Request bodies. deviceid NULL = key omitted (§3.2); "" is never sent: NULL result.
 * info / ota_unlock: {"deviceid":D,"data":{}}
 * ota_flash: {"deviceid":D,"data":{"downloadUrl":URL,"sha256sum":H}} with URL from
 * diy_format_url() and H exactly 64 hex digits (upper case is lowered: 3.6 refuses it). */
char *diy_build_info(const char *deviceid);
char *diy_build_ota_unlock(const char *deviceid);
char *diy_build_ota_flash(const char *deviceid, const char *ipv4, uint16_t port,
			  const char *path, const char *sha256_hex);

/* dnssd: pure decoding of the DNS-SD announcement of an eWeLink device (DIY-PROTOCOL.md §2)
 * and its classification: DIY mode or eWeLink LAN mode, which route applies, and the
 * diagnosis for a device that stays hidden.
 *
 * Input comes either as the raw TXT RDATA of a DNS answer (length-prefixed strings, as on
 * the wire) or one string at a time (Avahi's D-Bus API hands the TXT strings over as an
 * array of byte arrays). Keys are case-insensitive and the first occurrence wins (RFC 6763
 * §6.4, §6.5). No I/O, no logging, no allocation.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diy.h"

#define DNSSD_SERVICE "_ewelink._tcp"  /* domain local. */
#define DNSSD_TXT_MAX 1300             /* whole TXT record, [D14] §4.1 */
#define DNSSD_DATA_PIECES 8            /* data1..data4 seen; room for a longer state */
#define DNSSD_DATA_MAX 1300            /* concatenated dataN: bounded by the record */
#define DNSSD_ID_MAX 32                /* ids are 10 hex chars */
#define DNSSD_TYPE_MAX 32              /* "diy_plug", "multifun_switch" */
#define DNSSD_INSTANCE_PREFIX "eWeLink_" /* instance and host name: eWeLink_<id> (§2) */
#define DNSSD_APIVERS_MAX 1            /* clients ignore a higher apivers ([D14] §4.2) */

struct dnssd_txt {
	char id[DNSSD_ID_MAX + 1];     /* "id" */
	char type[DNSSD_TYPE_MAX + 1]; /* "type" */
	bool has_txtvers, has_apivers, has_seq;
	unsigned txtvers, apivers;
	uint32_t seq;                  /* TXT update counter */
	bool encrypt;                  /* "encrypt=true": LAN mode (§8) */
	bool has_iv;                   /* "iv" present: LAN mode */
	unsigned data_mask;            /* bit n-1 set: dataN seen */
	size_t data_len[DNSSD_DATA_PIECES];
	char data[DNSSD_DATA_PIECES][256]; /* each TXT string is at most 255 bytes */
	size_t total;                  /* bytes of the record seen so far */
};

/* Add one TXT string ("key=value", "key" or "key="). Unknown keys are ignored. Returns 0,
 * -E2BIG when the record would exceed DNSSD_TXT_MAX or a value its field, -EINVAL for a
 * malformed string (empty key, key starting with '=', a known number that is not one, a
 * control byte in id/type). t must be zeroed before the first string. */
int dnssd_txt_add(struct dnssd_txt *t, const uint8_t *s, size_t len);

/* Parse a whole TXT RDATA (<len><bytes>...). 0 with *ret filled, or -EINVAL (a length
 * running past the end, a bad string), -E2BIG. *ret written only on success. */
int dnssd_txt_parse(const uint8_t *rdata, size_t len, struct dnssd_txt *ret);

/* The dataN strings concatenated in order into out[outlen] (NUL-terminated). Returns the
 * length, or -ENOENT (no data1), -EINVAL (a gap: data3 without data2), -E2BIG. */
int dnssd_txt_data(const struct dnssd_txt *t, char *out, size_t outlen);

/* The device id from an instance or host name "eWeLink_<id>[.local...]" (SonoffLAN also sees
 * "eWelink_"); 0 or -EINVAL. */
int dnssd_id_from_instance(const char *name, char out[DNSSD_ID_MAX + 1]);

enum dnssd_mode {
	DNSSD_MODE_DIY = 0,      /* plain JSON state in dataN: the DIY API works */
	DNSSD_MODE_LAN,          /* encrypt/iv: eWeLink LAN mode; no OTA there (§8) */
	DNSSD_MODE_UNSUPPORTED,  /* unknown type, apivers too high, no id */
};

/* What the announcement says about a device. */
struct dnssd_device {
	enum dnssd_mode mode;
	char id[DNSSD_ID_MAX + 1];
	char type[DNSSD_TYPE_MAX + 1];
	bool state_ok;             /* DIY: the dataN JSON parsed as an object */
	bool has_ota_unlock;       /* rarely in TXT (doc example only) */
	bool ota_unlock;
	bool multi_channel;        /* "switches" array in the state (MINIR3, DualR3) */
	char ssid[DIY_SSID_MAX + 1];
	enum diy_route route;      /* DIY for DIY mode; NONE for LAN mode (enter DIY first) */
	const char *why;           /* one line: why this mode / why unsupported */
};

/* Classify a parsed announcement; instance may be NULL (then t->id must be set). Never
 * fails: an unusable record is DNSSD_MODE_UNSUPPORTED with why set. */
void dnssd_classify(const struct dnssd_txt *t, const char *instance, struct dnssd_device *ret);

/* What to do about a device in eWeLink LAN mode (one line, issue 11 item 2). A 3.5+ device
 * given the WiFi by a JSON POST /ap on its compatible-pairing AP may end up in LAN mode, not
 * DIY mode (DIY-PROTOCOL.md §1.3, unknown): the browser form is ITEAD's documented way (§1.2). */
#define DNSSD_LAN_MODE_TODO                                                                     \
	"no OTA there; enter DIY mode: hold the button 5 s until the LED blinks, then 5 s more " \
	"until it blinks fast, join the WiFi ITEAD-<id> (password 12345678) and set your WiFi " \
	"in a browser at http://10.10.7.1/ (3.3/3.4: the GPIO16 jumper and the WLAN sonoffDiy; " \
	"docs/diy.md)"
const char *dnssd_mode_name(enum dnssd_mode m); /* "diy", "lan", "unsupported" */

/* What the caller knows when a device it looks for does not show up. */
struct dnssd_hidden {
	bool avahi_running;     /* the host's mDNS daemon answered */
	bool others_seen;       /* other _ewelink._tcp devices were seen */
	bool seen_lan_mode;     /* this id was seen, but in LAN mode */
	bool ip_given;          /* --device-ip named its address */
	bool ip_answers_8081;   /* that address answered /zeroconf/info */
	bool ip_same_subnet;    /* that address is on one of our subnets */
};

/* One-line diagnosis for a hidden device (mDNS blocked, another subnet, not in DIY mode). */
const char *dnssd_hidden_diagnosis(const struct dnssd_hidden *h);

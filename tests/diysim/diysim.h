/* diysim: a strict simulator of one Sonoff in DIY mode (eWeLink firmware 3.x), the device
 * side of /work/shared/docs/DIY-PROTOCOL.md (§n below), checked as §9 lists. Independent of
 * libsonota on purpose: a bug of ours must be caught here, not mirrored. README.md is the
 * contract with test drivers.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_ID_MAX 32
#define SIM_STR_MAX 64
#define SIM_HEAD_MAX 1024     /* request headers fit in 1024 bytes (inferred, §5.3) */
#define SIM_BODY_MAX 4096     /* a /zeroconf body; real ones are < 300 B */
#define SIM_CHUNK 4096        /* the device's Range size (§5.3, [JK] log) */
#define SIM_IMAGE_MAX (1u << 20) /* buffer for a download: the whole flash */
#define SIM_TXT_PIECE 249     /* dataN pieces (§2) */
#define SIM_MDNS_PKT_MAX 1500 /* one Ethernet frame */

/* ---- models (models/NAME.model, key=value) ---------------------------------------- */

enum sim_idrule {
	SIM_ID_ANY,    /* 3.3-3.6: "", absent and the real id work; a wrong id -> 404 */
	SIM_ID_STRICT, /* 3.7.x: "" -> connection closed without a reply (NJH#18) */
	SIM_ID_MINIR3, /* MINIR3: any deviceid key -> 422 (IT#123) */
};

enum sim_malformed {
	SIM_BAD_HANG,  /* 3.3: malformed JSON hangs the server (IT#53) */
	SIM_BAD_RESET, /* 3.5+: reset (IT#128) */
};

struct sim_model {
	char fw_version[SIM_STR_MAX];  /* "3.6.0"; "" = not reported (3.3 has no fwVersion) */
	char type[SIM_STR_MAX];        /* TXT type, "diy_plug" */
	bool info_data_string;         /* info.data as a JSON string (3.3/3.4) */
	bool host_itead;               /* downloads send Host: dl.itead.cn (3.5/3.6) */
	enum sim_idrule idrule;
	enum sim_malformed malformed;
	bool multi_channel;            /* switches[] instead of switch (MINIR3) */
	int min_gap_ms;                /* requests closer than this are reset (§3.3, [D14]) */
	unsigned size_max;             /* largest image the device takes (0x7F000, inferred) */
	int stall_ms;                  /* download: this long without data fails it */
	bool completion;               /* POST /api/device/otaFlash after the download (§5.5) */
	bool goodbye;                  /* the mDNS goodbye before the reboot (§9.12); false: a
					* silent reboot, the records are left to expire */
	bool reboot;                   /* reboot after completion 0; false: it says success but
					* stays in DIY mode, answering (a flash that did not take) */
	bool corrupt;                  /* one bit of the received image flips (a bad transfer):
					* the digest does not match, completion 409 */
	int drop_at;                   /* 1..99: WiFi drops at this % of the download; 0 off */
	bool ota_unlocked;             /* otaUnlock at start */
	/* diyap (issue 11 item 2): which mode a JSON POST /ap on the compatible-pairing AP
	 * leaves the device in (DIY-PROTOCOL.md §1.3: unknown, so a model key, §9.14) */
	enum sim_pair_mode { SIM_PAIR_DIY = 0, SIM_PAIR_LAN } pair_ap;
};

void sim_model_defaults(struct sim_model *m);
/* Parse a model file's text; 0 or -EINVAL with "line N: ..." in err. */
int sim_model_parse(struct sim_model *m, const char *text, char *err, size_t errlen);

/* ---- HTTP heads (pure) -------------------------------------------------------------- */

struct sim_req {
	char method[8];
	char path[128];
	int minor;              /* HTTP/1.<minor> */
	long content_length;    /* -1 when absent */
	bool chunked;
	char host[128];
	long range_a, range_b;  /* -1 when absent */
};

/* Parse a request head (up to and including the blank line). 0 or -EINVAL. */
int sim_parse_req(const char *head, size_t len, struct sim_req *r);

struct sim_resp {
	int status;
	long content_length;    /* -1 when absent */
	bool chunked;
	bool close;             /* Connection: close */
	bool has_range;
	unsigned long cr_a, cr_b, cr_total; /* Content-Range: bytes a-b/total */
};

/* Parse a response head; Content-Range must be the RFC form "bytes a-b/total". 0 or -EINVAL
 * (malformed), -EPROTO (a malformed Content-Range). */
int sim_parse_resp(const char *head, size_t len, struct sim_resp *r);

/* Split "http://A.B.C.D:PORT/path" (IPv4 literal; port default 80). 0 or -EINVAL. */
int sim_parse_url(const char *url, char host[64], uint16_t *port, char path[128]);

/* ---- mDNS (pure) --------------------------------------------------------------------- */

struct sim_announce {
	const char *id;       /* device id */
	const char *type;     /* TXT type */
	uint32_t seq;         /* TXT seq */
	const char *state;    /* state JSON, split into dataN */
	uint32_t addr;        /* A record, network order */
	uint16_t port;        /* SRV port */
	bool goodbye;         /* TTL 0: withdraw (RFC 6762 §10.1) */
	bool lan;             /* eWeLink LAN mode: encrypt=true, iv, dataN = state as given
			       * (base64 ciphertext) (§2, §8) */
};

/* Encode an unsolicited mDNS response (PTR, SRV, TXT, A; no name compression). Returns the
 * length, or -E2BIG. */
int sim_mdns_encode(const struct sim_announce *a, uint8_t *out, size_t outlen);

/* True when the DNS packet is a query with a PTR/ANY question for _ewelink._tcp.local. */
bool sim_mdns_is_query_for_us(const uint8_t *pkt, size_t len);

/* ---- image and device checks (pure) ------------------------------------------------- */

enum sim_img {
	SIM_IMG_BOOTS = 0, /* 0xE9, DOUT: the new firmware boots */
	SIM_IMG_GZIP,      /* 1F 8B: written raw, bricks (T#8761) */
	SIM_IMG_MAGIC,     /* not 0xE9: the ROM finds no image, bricks */
	SIM_IMG_MODE,      /* not DOUT: the flash cannot be read in that mode, bricks */
};

/* What booting this image would do (§9.10). */
enum sim_img sim_image_verdict(const uint8_t *img, size_t len);
const char *sim_image_text(enum sim_img v);

/* sha256 of buf in lower-case hex (65 bytes with NUL). */
void sim_sha256_hex(const uint8_t *buf, size_t len, char out[65]);

/* ---- device-id rule (pure) ---------------------------------------------------------- */

enum sim_idverdict {
	SIM_IDV_OK,
	SIM_IDV_DROP,  /* close without reply */
	SIM_IDV_404,
	SIM_IDV_422,
};

/* has: the key is present; value: its string value (NULL when not a string). */
enum sim_idverdict sim_deviceid_check(enum sim_idrule rule, const char *real, bool has,
				      const char *value);

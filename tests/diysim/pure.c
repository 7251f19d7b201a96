/* diysim pure parts: HTTP heads, URLs, the mDNS encoder, image and deviceid verdicts. No
 * I/O; test-diysim-pure.c covers each.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "diysim.h"

#define TTL_HOST 120    /* RFC 6762 §10: host-name records (A, SRV) */
#define TTL_OTHER 4500  /* RFC 6762 §10: PTR, TXT */
#define CLASS_IN 1
#define CACHE_FLUSH 0x8000
#define T_A 1
#define T_PTR 12
#define T_TXT 16
#define T_SRV 33
#define T_ANY 255

/* Value of header name in head (case-insensitive), copied into out; false when absent. */
static bool
header(const char *head, size_t len, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p && p + 1 < end) {
		const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
		size_t ll;

		if (!eol)
			break;
		ll = (size_t)(eol - line);
		if (ll > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			size_t vl;

			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(eol - v);
			while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
				vl--;
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol;
	}
	return false;
}

static long
to_long(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0)
		return -2;
	return v;
}

int
sim_parse_req(const char *head, size_t len, struct sim_req *r)
{
	char v[128];
	int n = 0;

	memset(r, 0, sizeof(*r));
	r->content_length = r->range_a = r->range_b = -1;
	if (sscanf(head, "%7s %127s HTTP/1.%d%n", r->method, r->path, &r->minor, &n) != 3 || !n)
		return -EINVAL;
	if (header(head, len, "Content-Length", v, sizeof(v))) {
		r->content_length = to_long(v);
		if (r->content_length < 0)
			return -EINVAL;
	}
	if (header(head, len, "Transfer-Encoding", v, sizeof(v)))
		r->chunked = strcasestr(v, "chunked") != NULL;
	header(head, len, "Host", r->host, sizeof(r->host));
	if (header(head, len, "Range", v, sizeof(v)) &&
	    sscanf(v, "bytes=%ld-%ld", &r->range_a, &r->range_b) != 2)
		return -EINVAL;
	return 0;
}

int
sim_parse_resp(const char *head, size_t len, struct sim_resp *r)
{
	char v[128], extra;
	int minor;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	if (sscanf(head, "HTTP/1.%d %d", &minor, &r->status) != 2)
		return -EINVAL;
	if (header(head, len, "Content-Length", v, sizeof(v))) {
		r->content_length = to_long(v);
		if (r->content_length < 0)
			return -EINVAL;
	}
	if (header(head, len, "Transfer-Encoding", v, sizeof(v)))
		r->chunked = strcasestr(v, "chunked") != NULL;
	if (header(head, len, "Connection", v, sizeof(v)))
		r->close = strcasestr(v, "close") != NULL;
	if (header(head, len, "Content-Range", v, sizeof(v))) {
		r->has_range = true;
		/* RFC 9110 form only; ITEAD's own "bytes=" form is lenient-device territory */
		if (sscanf(v, "bytes %lu-%lu/%lu%c", &r->cr_a, &r->cr_b, &r->cr_total, &extra) !=
		        3 ||
		    r->cr_b < r->cr_a || r->cr_b >= r->cr_total)
			return -EPROTO;
	}
	return 0;
}

int
sim_parse_url(const char *url, char host[64], uint16_t *port, char path[128])
{
	const char *h, *slash, *colon;
	struct in_addr a;
	size_t hl;
	long p = 80;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	h = url + 7;
	slash = strchr(h, '/');
	if (!slash || strlen(slash) >= 128)
		return -EINVAL;
	colon = memchr(h, ':', (size_t)(slash - h));
	hl = (size_t)((colon ? colon : slash) - h);
	if (hl == 0 || hl >= 64)
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return -EINVAL; /* names need DNS, which the simulated device does not have */
	if (colon) {
		char ps[8];
		size_t pl = (size_t)(slash - colon - 1);

		if (pl == 0 || pl >= sizeof(ps))
			return -EINVAL;
		memcpy(ps, colon + 1, pl);
		ps[pl] = '\0';
		p = to_long(ps);
		if (p < 1 || p > 65535)
			return -EINVAL;
	}
	*port = (uint16_t)p;
	strcpy(path, slash);
	return 0;
}

/* ---- mDNS -------------------------------------------------------------------------- */

struct pkt {
	uint8_t *b;
	size_t len, cap;
	bool over;
};

static void
put(struct pkt *p, const void *d, size_t n)
{
	if (p->over || p->cap - p->len < n) {
		p->over = true;
		return;
	}
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void
put8(struct pkt *p, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(p, &b, 1);
}

static void
put16(struct pkt *p, unsigned v)
{
	put8(p, v >> 8);
	put8(p, v & 0xFF);
}

static void
put32(struct pkt *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p, v & 0xFFFF);
}

/* A name from dotted labels ("eWeLink_1._ewelink._tcp.local"). */
static void
put_name(struct pkt *p, const char *dotted)
{
	while (*dotted) {
		size_t n = strcspn(dotted, ".");

		put8(p, (unsigned)n);
		put(p, dotted, n);
		dotted += n + (dotted[n] == '.');
	}
	put8(p, 0);
}

/* Record head; returns the offset of RDLENGTH to patch. */
static size_t
rr(struct pkt *p, const char *name, unsigned type, unsigned cls, uint32_t ttl)
{
	size_t at;

	put_name(p, name);
	put16(p, type);
	put16(p, cls);
	put32(p, ttl);
	at = p->len;
	put16(p, 0);
	return at;
}

static void
rdlen(struct pkt *p, size_t at)
{
	size_t n = p->len - at - 2;

	if (!p->over) {
		p->b[at] = (uint8_t)(n >> 8);
		p->b[at + 1] = (uint8_t)n;
	}
}

static void
txt_str(struct pkt *p, const char *k, const char *v, size_t vl)
{
	size_t kl = strlen(k);

	put8(p, (unsigned)(kl + 1 + vl));
	put(p, k, kl);
	put8(p, '=');
	put(p, v, vl);
}

int
sim_mdns_encode(const struct sim_announce *a, uint8_t *out, size_t outlen)
{
	struct pkt p = { out, 0, outlen, false };
	char inst[128], host[96], num[16];
	size_t at, sl = strlen(a->state);
	uint32_t ttl_h = a->goodbye ? 0 : TTL_HOST, ttl_o = a->goodbye ? 0 : TTL_OTHER;

	snprintf(inst, sizeof(inst), "eWeLink_%s._ewelink._tcp.local", a->id);
	snprintf(host, sizeof(host), "eWeLink_%s.local", a->id);
	put16(&p, 0);      /* id 0 (RFC 6762 §18.1) */
	put16(&p, 0x8400); /* response, authoritative */
	put16(&p, 0);
	put16(&p, 4);
	put16(&p, 0);
	put16(&p, 0);

	at = rr(&p, "_ewelink._tcp.local", T_PTR, CLASS_IN, ttl_o);
	put_name(&p, inst);
	rdlen(&p, at);

	at = rr(&p, inst, T_SRV, CLASS_IN | CACHE_FLUSH, ttl_h);
	put16(&p, 0);
	put16(&p, 0);
	put16(&p, a->port);
	put_name(&p, host);
	rdlen(&p, at);

	at = rr(&p, inst, T_TXT, CLASS_IN | CACHE_FLUSH, ttl_o);
	txt_str(&p, "txtvers", "1", 1);
	txt_str(&p, "id", a->id, strlen(a->id));
	txt_str(&p, "type", a->type, strlen(a->type));
	txt_str(&p, "apivers", "1", 1);
	snprintf(num, sizeof(num), "%u", a->seq);
	txt_str(&p, "seq", num, strlen(num));
	if (a->lan) { /* LAN mode: encrypted state (§2 "encrypt, iv") */
		txt_str(&p, "encrypt", "true", 4);
		txt_str(&p, "iv", "MTIzNDU2Nzg5MGFiY2RlZg==", 24);
	}
	for (size_t off = 0, i = 1; off < sl; off += SIM_TXT_PIECE, i++) {
		char key[8];
		size_t n = sl - off < SIM_TXT_PIECE ? sl - off : SIM_TXT_PIECE;

		snprintf(key, sizeof(key), "data%zu", i);
		txt_str(&p, key, a->state + off, n);
	}
	rdlen(&p, at);

	at = rr(&p, host, T_A, CLASS_IN | CACHE_FLUSH, ttl_h);
	put(&p, &a->addr, 4);
	rdlen(&p, at);
	return p.over ? -E2BIG : (int)p.len;
}

bool
sim_mdns_is_query_for_us(const uint8_t *pkt, size_t len)
{
	static const char want[] = "\x08_ewelink\x04_tcp\x05local";
	size_t off = 12, qd;

	if (len < 12 || (pkt[2] & 0x80))
		return false; /* short, or a response */
	qd = (size_t)pkt[4] << 8 | pkt[5];
	for (size_t q = 0; q < qd && off < len; q++) {
		size_t start = off;
		unsigned type;

		while (off < len && pkt[off] && (pkt[off] & 0xC0) == 0)
			off += pkt[off] + 1u;
		if (off >= len || pkt[off] != 0)
			return false; /* compressed question names: not from a simple browser */
		off++;
		if (len - off < 4)
			return false;
		type = (unsigned)pkt[off] << 8 | pkt[off + 1];
		if ((type == T_PTR || type == T_ANY) && off - start == sizeof(want) &&
		    strncasecmp((const char *)pkt + start, want, sizeof(want) - 1) == 0)
			return true;
		off += 4;
	}
	return false;
}

/* ---- images, digests, ids ------------------------------------------------------------ */

enum sim_img
sim_image_verdict(const uint8_t *img, size_t len)
{
	if (len >= 2 && img[0] == 0x1F && img[1] == 0x8B)
		return SIM_IMG_GZIP;
	if (len < 4 || img[0] != 0xE9)
		return SIM_IMG_MAGIC;
	if (img[2] != 3)
		return SIM_IMG_MODE;
	return SIM_IMG_BOOTS;
}

const char *
sim_image_text(enum sim_img v)
{
	switch (v) {
	case SIM_IMG_BOOTS: return "the new firmware boots";
	case SIM_IMG_GZIP: return "bricked: a gzip file was written raw to flash (T#8761)";
	case SIM_IMG_MAGIC: return "bricked: no 0xE9 image at 0x0, the ROM finds nothing to boot";
	case SIM_IMG_MODE: return "bricked: flash mode is not DOUT, the flash cannot be read";
	}
	return "?";
}

void
sim_sha256_hex(const uint8_t *buf, size_t len, char out[65])
{
	uint8_t d[32];

#if MBEDTLS_VERSION_MAJOR >= 3
	(void)mbedtls_sha256(buf, len, d, 0);
#else
	(void)mbedtls_sha256_ret(buf, len, d, 0);
#endif
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

enum sim_idverdict
sim_deviceid_check(enum sim_idrule rule, const char *real, bool has, const char *value)
{
	if (rule == SIM_ID_MINIR3)
		return has ? SIM_IDV_422 : SIM_IDV_OK;
	if (!has)
		return SIM_IDV_OK;
	if (!value)
		return SIM_IDV_404;
	if (value[0] == '\0')
		return rule == SIM_ID_STRICT ? SIM_IDV_DROP : SIM_IDV_OK;
	return strcmp(value, real) == 0 ? SIM_IDV_OK : SIM_IDV_404;
}

/* redact: see redact.h.
 *
 * Secrets are found Rabin-Karp style: one class per distinct length, each a
 * hash table of its secrets' polynomial hashes (mod 2^64); a line is scanned
 * once per class with a rolling hash, and a hash hit is confirmed by memcmp. A
 * line thus costs O(length x classes) whatever the number of secrets (hundreds
 * of devices register hundreds of apikeys, all of one length).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "redact.h"

#define HASH_BASE 0x100000001b3ull /* odd, so powers never vanish mod 2^64 */

static uint64_t
hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0;

	for (size_t i = 0; i < len; i++)
		h = h * HASH_BASE + (unsigned char)s[i];
	return h;
}

/* Slot to start probing at for hash h in a table of nslots (a power of 2). */
static uint32_t
slot_of(uint64_t h, uint32_t nslots)
{
	return (uint32_t)((h * 0x9e3779b97f4a7c15ull) >> 32) & (nslots - 1);
}

static struct redact_class *
class_find(const struct redact_set *set, size_t len)
{
	for (size_t i = 0; i < set->nclasses; i++)
		if (set->classes[i].len == len)
			return &set->classes[i];
	return NULL;
}

/* Put entry index idx into c (which has room). */
static void
class_put(struct redact_class *c, uint64_t hash, uint32_t idx)
{
	uint32_t k = slot_of(hash, c->nslots);

	while (c->slots[k])
		k = (k + 1) & (c->nslots - 1);
	c->slots[k] = idx + 1;
	c->count++;
}

/* Make room for one more entry in c: keep the load at most one half. */
static int
class_grow(const struct redact_set *set, struct redact_class *c)
{
	uint32_t nslots, *old = c->slots, oldn = c->nslots;

	if ((c->count + 1) * 2 <= c->nslots)
		return 0;
	nslots = c->nslots ? c->nslots * 2 : 16;
	c->slots = calloc(nslots, sizeof(*c->slots));
	if (!c->slots) {
		c->slots = old;
		return -ENOMEM;
	}
	c->nslots = nslots;
	c->count = 0;
	for (uint32_t k = 0; k < oldn; k++)
		if (old[k])
			class_put(c, set->v[old[k] - 1].hash, old[k] - 1);
	free(old);
	return 0;
}

/* The entry equal to s[0..len) with hash h in c, or NULL. */
static const struct redact_entry *
class_lookup(const struct redact_set *set, const struct redact_class *c, const char *s, uint64_t h)
{
	if (!c->nslots)
		return NULL;
	for (uint32_t k = slot_of(h, c->nslots); c->slots[k]; k = (k + 1) & (c->nslots - 1)) {
		const struct redact_entry *e = &set->v[c->slots[k] - 1];

		if (e->hash == h && memcmp(e->s, s, c->len) == 0)
			return e;
	}
	return NULL;
}

int
redact_set_add(struct redact_set *set, const char *s, size_t len)
{
	struct redact_class *c;
	uint64_t h;
	char *copy;

	if (len == 0 || len > REDACT_SECRET_LEN_MAX)
		return -E2BIG;
	h = hash_bytes(s, len);
	c = class_find(set, len);
	if (c && class_lookup(set, c, s, h))
		return 0;
	if (set->n >= REDACT_SECRETS_MAX)
		return -ENOSPC;
	if (!c) {
		struct redact_class *v = realloc(set->classes, (set->nclasses + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		set->classes = v;
		c = &v[set->nclasses++];
		*c = (struct redact_class){ .len = len, .pow = 1 };
		for (size_t k = 1; k < len; k++)
			c->pow *= HASH_BASE;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct redact_entry *v = realloc(set->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		set->v = v;
		set->cap = cap;
	}
	if (class_grow(set, c) < 0)
		return -ENOMEM;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	set->v[set->n] = (struct redact_entry){ .s = copy, .len = len, .hash = h };
	class_put(c, h, (uint32_t)set->n++);
	return 0;
}

void
redact_set_free(struct redact_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		explicit_bzero(set->v[i].s, set->v[i].len);
		free(set->v[i].s);
	}
	free(set->v);
	for (size_t i = 0; i < set->nclasses; i++)
		free(set->classes[i].slots);
	free(set->classes);
	memset(set, 0, sizeof(*set));
}

void
redact_mark_secrets(const struct redact_set *set, const char *s, size_t n, unsigned char *mask)
{
	for (size_t ci = 0; ci < set->nclasses; ci++) {
		const struct redact_class *c = &set->classes[ci];
		uint64_t h;

		if (c->len > n || !c->count)
			continue;
		h = hash_bytes(s, c->len);
		for (size_t i = 0;; i++) {
			if (class_lookup(set, c, s + i, h))
				memset(mask + i, REDACT_SECRET, c->len);
			if (i + c->len >= n)
				break;
			h = (h - (unsigned char)s[i] * c->pow) * HASH_BASE +
			    (unsigned char)s[i + c->len];
		}
	}
}

/* Number of backslashes right before s[at], not looking before s[from]. */
static size_t
backslashes_before(const char *s, size_t from, size_t at)
{
	size_t k = 0;

	while (at > from + k && s[at - 1 - k] == '\\')
		k++;
	return k;
}

/* Skip JSON whitespace from s[i]: raw, or escaped at any depth (a run of
 * backslashes, then n, r or t). */
static size_t
skip_ws(const char *s, size_t i, size_t n)
{
	for (;;) {
		size_t j = i;

		if (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) {
			i++;
			continue;
		}
		while (j < n && s[j] == '\\')
			j++;
		if (j > i && j < n && (s[j] == 'n' || s[j] == 'r' || s[j] == 't')) {
			i = j + 1;
			continue;
		}
		return i;
	}
}

/* A quote at any depth at s[i]: a run of backslashes then '"'. Returns the index
 * after the quote and the run length in *ret_depth, or 0 when there is none. */
static size_t
quote_at(const char *s, size_t i, size_t n, size_t *ret_depth)
{
	size_t j = i;

	while (j < n && s[j] == '\\')
		j++;
	if (j >= n || s[j] != '"')
		return 0;
	*ret_depth = j - i;
	return j + 1;
}

/* The value starting at s[v]: mark it, return the index after it. */
static size_t
mark_value(const char *s, size_t v, size_t n, unsigned char *mask)
{
	size_t depth, i = quote_at(s, v, n, &depth);

	if (!i) {
		/* A bare value (number, literal or junk): up to a delimiter. */
		for (i = v; i < n && !strchr(",}] \t\r\n\"", s[i]); i++)
			mask[i] = REDACT_APIKEY;
		return i;
	}
	/* A string whose opening quote has `depth` backslashes: at depth d (0 for
	 * raw JSON, 1 when escaped once, 3 twice, 2^d - 1 in general) its closing
	 * quote has r backslashes before it with r = depth modulo 2 * (depth + 1);
	 * an escaped quote inside the value has more (r = 1 at depth 0, 3 at
	 * depth 1). The last `depth` backslashes belong to the closing quote. */
	size_t start = i;

	for (; i < n; i++) {
		size_t r;

		if (s[i] != '"')
			continue;
		r = backslashes_before(s, start, i);
		if (r % (2 * (depth + 1)) == depth) {
			memset(mask + start, REDACT_APIKEY, i - depth - start);
			return i + 1;
		}
	}
	/* No closing quote: the line was cut inside the value. */
	memset(mask + start, REDACT_APIKEY, n - start);
	return n;
}

void
redact_mark_apikeys(const char *s, size_t n, unsigned char *mask)
{
	static const char key[] = "apikey";
	const size_t klen = sizeof(key) - 1;
	size_t i = 0;

	while (i < n) {
		const char *q = memchr(s + i, '"', n - i);
		size_t j, depth;

		if (!q)
			return;
		i = (size_t)(q - s) + 1;
		if (n - i < klen || strncasecmp(s + i, key, klen) != 0)
			continue;
		/* The key's closing quote, at whatever depth. */
		j = quote_at(s, i + klen, n, &depth);
		if (!j)
			continue;
		j = skip_ws(s, j, n);
		if (j >= n || s[j] != ':')
			continue;
		j = skip_ws(s, j + 1, n);
		if (j >= n)
			return;
		i = mark_value(s, j, n, mask);
	}
}

size_t
redact_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, overlong lead C0/C1, or F5..FF */
	/* The second byte's range excludes overlongs, surrogates and > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return len;
}

/* Does the valid sequence s[0..len) need escaping in a log line? C1 controls
 * (U+0080..U+009F: some terminals act on them) and the Unicode line and
 * paragraph separators (some viewers break lines there) do. */
static bool
unicode_needs_escape(const unsigned char *s, size_t len)
{
	if (len == 2)
		return s[0] == 0xc2 && s[1] <= 0x9f;
	return len == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9);
}

/* Append one byte's escape to out at *o. */
static void
put_escape(char *out, size_t *o, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	out[(*o)++] = '\\';
	if (c == '\n' || c == '\r' || c == '\t') {
		out[(*o)++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return;
	}
	out[(*o)++] = 'x';
	out[(*o)++] = hex[c >> 4];
	out[(*o)++] = hex[c & 15];
}

static size_t
escape_len(unsigned char c)
{
	return c == '\n' || c == '\r' || c == '\t' ? 2 : 4;
}

size_t
redact_render(const char *s, size_t n, const unsigned char *mask, size_t in_max, size_t out_max,
	      unsigned flags, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	bool control = flags & REDACT_ESCAPE_CONTROL;
	size_t i = 0, o = 0;

	while (i < n) {
		size_t len, need;

		if (i >= in_max)
			break;
		if (mask[i]) {
			unsigned char kind = mask[i];
			const char *rep = kind == REDACT_SECRET ? "***" : "<redacted>";
			size_t rlen = strlen(rep);

			if (o + rlen > out_max)
				break;
			memcpy(out + o, rep, rlen);
			o += rlen;
			while (i < n && mask[i] == kind)
				i++;
			continue;
		}
		len = redact_utf8_len(u + i, n - i);
		/* A sequence must not run into masked bytes. */
		for (size_t k = 1; k < len; k++)
			if (mask[i + k])
				len = 0;
		/* NUL is always escaped: it would end the C string. */
		if (len == 1 && u[i] && (!control || (u[i] >= 0x20 && u[i] != 0x7f))) {
			if (o + 1 > out_max)
				break;
			out[o++] = s[i++];
			continue;
		}
		if (len > 1 && !(control && unicode_needs_escape(u + i, len))) {
			if (o + len > out_max)
				break;
			memcpy(out + o, s + i, len);
			o += len;
			i += len;
			continue;
		}
		/* Escape: one control byte, every byte of an escaped character, or
		 * one byte of invalid UTF-8 (the next one is looked at afresh). */
		if (len == 0)
			len = 1;
		need = 0;
		for (size_t k = 0; k < len; k++)
			need += escape_len(u[i + k]);
		if (o + need > out_max)
			break;
		for (size_t k = 0; k < len; k++)
			put_escape(out, &o, u[i + k]);
		i += len;
	}
	if (i < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

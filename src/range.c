/* range: see range.h.
 *
 * Grammar (RFC 7233 §2.1, RFC 7230 §3.2.3 and §7):
 *   Range           = byte-ranges-specifier / other-ranges-specifier
 *   byte-ranges-specifier = bytes-unit "=" byte-range-set      ; unit case-insensitive
 *   byte-range-set  = 1#( byte-range-spec / suffix-byte-range-spec )
 *   byte-range-spec = first-byte-pos "-" [ last-byte-pos ]
 *   suffix-byte-range-spec = "-" suffix-length
 *   *-pos, suffix-length = 1*DIGIT
 * Whitespace (SP / HTAB) is accepted only where the RFCs put OWS: around the whole
 * field value and around the commas of the list, but not right after "=". "1#"
 * lists may contain empty elements ("bytes=0-9," or "bytes=,0-9"), which a
 * recipient must ignore; such a list still names one range. Nowhere else:
 * "bytes = 0-9", "bytes= 0-9" and "bytes=0 - 9" are malformed.
 *
 * Numbers saturate at UINT64_MAX instead of overflowing. That keeps every verdict
 * right: a saturated first-byte-pos is >= any size (unsatisfiable), a saturated
 * last-byte-pos is clamped to size-1, and a saturated suffix-length covers the
 * whole file.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "range.h"

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Parse 1*DIGIT from [*p, end), saturating at UINT64_MAX. Returns false when
 * there is no digit. */
static bool
parse_u64(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || !is_digit(*s))
		return false;
	for (; s < end && is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			v = UINT64_MAX;
		else
			v = v * 10 + d;
	}
	*p = s;
	*ret = v;
	return true;
}

/* One list element [s, end), already stripped of OWS, against size. */
static enum range_result
parse_spec(const char *s, const char *end, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
	uint64_t first, last, n;

	if (*s == '-') {
		s++;
		if (!parse_u64(&s, end, &n) || s != end)
			return RANGE_NONE;
		if (n == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		if (n > size)
			n = size;
		*ret_off = size - n;
		*ret_len = n;
		return RANGE_OK;
	}

	if (!parse_u64(&s, end, &first) || s >= end || *s != '-')
		return RANGE_NONE;
	s++;
	if (s == end) {
		last = UINT64_MAX;
	} else {
		if (!parse_u64(&s, end, &last) || s != end)
			return RANGE_NONE;
		if (last < first)
			return RANGE_NONE; /* syntactically invalid: ignore the header */
	}
	if (first >= size)
		return RANGE_UNSATISFIABLE; /* also every range of an empty file */
	if (last > size - 1)
		last = size - 1;
	*ret_off = first;
	*ret_len = last - first + 1;
	return RANGE_OK;
}

enum range_result
range_parse(const char *hdr, uint64_t size, uint64_t *ret_off, uint64_t *ret_len)
{
	static const char unit[] = "bytes=";
	const char *p, *end, *elem = NULL, *elem_end = NULL;
	size_t len;
	unsigned nelem = 0;

	if (!hdr)
		return RANGE_NONE;
	len = strnlen(hdr, RANGE_HEADER_MAX + 1);
	if (len > RANGE_HEADER_MAX)
		return RANGE_NONE;
	p = hdr;
	end = hdr + len;

	/* OWS around the field value. */
	while (p < end && is_ows(*p))
		p++;
	while (end > p && is_ows(end[-1]))
		end--;

	if ((size_t)(end - p) < sizeof(unit) - 1 || strncasecmp(p, unit, sizeof(unit) - 1) != 0)
		return RANGE_NONE;
	p += sizeof(unit) - 1;
	if (p < end && is_ows(*p))
		return RANGE_NONE; /* "1#" allows OWS only after a comma, not after "=" */

	/* Split the 1# list on commas; empty elements (only OWS) do not count. */
	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *e = c ? c : end;
		const char *a = p, *b = e;

		while (a < b && is_ows(*a))
			a++;
		while (b > a && is_ows(b[-1]))
			b--;
		if (a < b) {
			if (++nelem > 1)
				return RANGE_NONE; /* several ranges: we serve only one */
			elem = a;
			elem_end = b;
		}
		if (!c)
			break;
		p = c + 1;
	}
	if (nelem != 1)
		return RANGE_NONE;
	return parse_spec(elem, elem_end, size, ret_off, ret_len);
}

/* redact: the pure core of the logger's output path. It finds what must not be
 * written (apikey values by the structure of the text, registered secrets by
 * their bytes) and renders a line so that no byte of it can start another line
 * or drive a terminal. No I/O, no lock, no logging: log.c holds the lock and
 * writes; the fuzz target fuzz-redact and test-log drive it directly.
 *
 * Marking works on a mask, one byte per input byte, so that overlapping or
 * adjacent finds collapse into one replacement and no fragment survives.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REDACT_SECRETS_MAX 65536  /* forms held by one set: a WiFi password takes up to 3,
				   * an apikey 1, so this is thousands of devices' worth;
				   * the caller must fail safe when an add is refused */
#define REDACT_SECRET_LEN_MAX 512 /* longest form kept (a 64-byte password escaped twice
				   * for JSON is at most 256 bytes) */

/* Mask values: what covers an input byte. */
enum redact_mark {
	REDACT_CLEAR = 0,
	REDACT_SECRET = 1, /* a registered secret: rendered as "***" */
	REDACT_APIKEY = 2, /* the value of an "apikey" member: rendered as "<redacted>" */
};

struct redact_entry {
	char *s;       /* owned, NUL-terminated (zeroed when freed) */
	size_t len;
	uint64_t hash; /* rolling hash of s (see redact.c) */
};

/* The secrets of one length, found by a rolling hash over a line. */
struct redact_class {
	size_t len;      /* of every entry in it */
	uint64_t pow;    /* the hash base to the power len - 1 */
	uint32_t *slots; /* open addressing: entry index + 1, 0 = empty */
	uint32_t nslots; /* a power of 2, at least twice the count */
	uint32_t count;
};

/* A set of secrets; a zeroed struct is an empty set. A line costs one hash step
 * per byte and per distinct secret length, whatever the number of secrets. */
struct redact_set {
	struct redact_entry *v;       /* n entries, cap allocated */
	size_t n, cap;
	struct redact_class *classes; /* nclasses, one per distinct length */
	size_t nclasses;
};

/* Add s[0..len) to the set (a repeat is a no-op). Returns 0, -E2BIG when len is
 * 0 or over REDACT_SECRET_LEN_MAX, -ENOSPC when the set holds REDACT_SECRETS_MAX
 * forms, -ENOMEM. */
int redact_set_add(struct redact_set *set, const char *s, size_t len);

/* Zero and free every form; the set is empty (and usable) after. */
void redact_set_free(struct redact_set *set);

/* Set mask[i] = REDACT_SECRET for every byte of s[0..n) covered by an occurrence
 * of a secret of set (occurrences may overlap). Other bytes are left alone. */
void redact_mark_secrets(const struct redact_set *set, const char *s, size_t n,
			 unsigned char *mask);

/* Set mask[i] = REDACT_APIKEY for every byte of the value of each "apikey" member
 * in s[0..n): the key matched without regard to case and quoted at any JSON
 * escaping depth (`"apikey"`, `\"apikey\"`, `\\\"apikey\\\"`), whitespace (raw
 * or escaped as \n \r \t) around the colon. A string value is covered up to its
 * closing quote at the same depth, or to the end of s when it has none (a line
 * cut short); a bare value up to the next , } ] quote or whitespace. */
void redact_mark_apikeys(const char *s, size_t n, unsigned char *mask);

/* Rendering flags. */
#define REDACT_ESCAPE_CONTROL 1u /* bytes < 0x20, 0x7f, C1 controls and U+2028/9 are
				  * escaped (for log lines); without it only NUL and
				  * invalid UTF-8 are (for cJSON, which escapes the rest) */

/* Render s[0..n) with mask into out: each run of marked bytes becomes "***"
 * (REDACT_SECRET) or "<redacted>" (REDACT_APIKEY); \n \r \t stay readable as
 * two characters, other escaped bytes become \xNN (lower-case hex), each byte of
 * invalid UTF-8 included, so the result is valid UTF-8 and, with
 * REDACT_ESCAPE_CONTROL, free of control characters. Rendering stops before
 * input byte in_max (bytes past it may hold secrets cut short: callers format
 * with slack) or before the output would pass out_max bytes; then "..." is
 * appended. No escape or character is ever split. out needs out_max + 4 bytes;
 * returns the length written (NUL not counted). */
size_t redact_render(const char *s, size_t n, const unsigned char *mask, size_t in_max,
		     size_t out_max, unsigned flags, char *out);

/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 when the bytes there
 * are not one (overlong forms, surrogates and code points past U+10FFFF
 * included). */
size_t redact_utf8_len(const unsigned char *s, size_t n);

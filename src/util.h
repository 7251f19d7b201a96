/* util: small pure helpers shared by the modules: strict number and IPv4
 * parsing, bounded string copy, JSON string escaping, reading the first line of a
 * file, clocks and timestamps. Nothing here logs.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define UTIL_TIMESTAMP_LEN 24 /* "YYYY-MM-DD HH:MM:SS.mmm" plus NUL */

/* Parse a decimal number in [min, max]. Strict: digits only (no sign, no
 * whitespace, no "0x", no leading zeros except "0" itself, nothing after the
 * digits). Returns 0, -EINVAL when s is not such a number (NULL or empty
 * included), or -ERANGE when it is outside [min, max] or overflows. ret_val is
 * written only on success. */
int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_val);
int util_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret_val);
int util_parse_u16(const char *s, uint16_t min, uint16_t max, uint16_t *ret_val);
int util_parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret_val);

/* Parse dotted-quad IPv4 "a.b.c.d", each part decimal 0..255 without leading
 * zeros (so "010.1.1.1", which inet_aton reads as octal, is refused), nothing
 * before or after. Returns 0 with the address in host byte order, or -EINVAL. */
int util_parse_ipv4(const char *s, uint32_t *ret_addr);

/* Format a host-byte-order IPv4 address as "a.b.c.d" into buf (>= 16 bytes). */
void util_format_ipv4(uint32_t addr, char *buf, size_t len);

/* Copy src into dst (size bytes, size > 0), always NUL-terminated. Returns
 * strlen(src); a result >= size means the copy was truncated (as BSD strlcpy). */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/* Write the body of a JSON string for s (without the quotes) into buf, escaped
 * exactly as cJSON prints it: \" \\ \b \f \n \r \t, other bytes below 0x20 as
 * \u00xx, everything else (UTF-8 included) verbatim. Returns the length of the
 * full escaped form (as snprintf: a result >= len means buf was too small; buf is
 * always NUL-terminated when len > 0). */
size_t util_json_escape(const char *s, char *buf, size_t len);

/* Read the first line of the file at path into a new string: the bytes up to
 * the first "\n" (or the end), without the "\n" and without one "\r" before it.
 * Only regular files and pipes are read: a directory gives -EISDIR, anything
 * else (a terminal, a device) -EINVAL before a byte is read. A line longer than
 * max bytes gives -EFBIG, a NUL byte in it -EILSEQ; other failures -errno of
 * open/read. ret_st (may be NULL) receives the fstat of the opened file. On
 * success *ret_line is malloc'd and owned by the caller (free it with
 * util_free_secret when it is a secret). */
int util_read_first_line(const char *path, size_t max, char **ret_line, struct stat *ret_st);

#define UTIL_HEAD_MAX 16 /* first bytes of an over-large file kept for the caller's
			  * diagnosis: room for any magic number we test (gzip's 2) */

/* What util_read_bounded() says about a file over its bound. */
struct util_oversize {
	intmax_t size;               /* the file's size */
	uint8_t head[UTIL_HEAD_MAX]; /* its first bytes ... */
	size_t head_len;             /* ... this many (0: they could not be read) */
};

/* Read the file at path whole into a new buffer, refusing before allocating anything
 * but a regular file of at most max bytes. O_NOFOLLOW: the file itself must not be a
 * symbolic link (a link pointing elsewhere is how the wrong bytes get served
 * unnoticed); O_NONBLOCK: a FIFO must not hang start-up. A file that grows or shrinks
 * while read is refused instead of half-served. Failures, each with "<path>: <why>" in
 * err: -ENOENT ("missing"), -ELOOP (a symbolic link), -EINVAL ("not a regular file"),
 * -EFBIG ("too-large: N bytes, at most max"; ret_big, if not NULL, gets the size and
 * first bytes), -EIO ("changed while being read"), -ENOMEM, another -errno. On success
 * *ret_data is malloc'ed (the caller frees it) and *ret_size its length; both are
 * untouched on failure. */
int util_read_bounded(const char *path, size_t max, uint8_t **ret_data, size_t *ret_size,
		      struct util_oversize *ret_big, char *err, size_t errlen);

/* Overwrite a NUL-terminated secret with zeros (not optimised away) and free it.
 * NULL is fine. */
void util_free_secret(char *s);

/* Wall clock (CLOCK_REALTIME) in milliseconds since the epoch. */
uint64_t util_now_ms(void);

/* Monotonic clock (CLOCK_MONOTONIC) in milliseconds; for durations and timeouts. */
uint64_t util_mono_ms(void);

/* Format ms since the epoch as local time "YYYY-MM-DD HH:MM:SS.mmm" into buf
 * (UTIL_TIMESTAMP_LEN bytes suffice). */
void util_format_timestamp(uint64_t ms, char *buf, size_t len);

/* Format an error text into err (errlen bytes); nothing when err is NULL or errlen
 * is 0. The pure cores report their -errno's detail this way. */
void util_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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

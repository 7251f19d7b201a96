/* util: see util.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret_val)
{
	uint64_t v = 0;
	bool overflow = false;
	const char *p;

	if (!s || !*s)
		return -EINVAL;
	/* "0" is the only number that may start with a zero: "08" would read as 8
	 * here but as an error or octal elsewhere, so it is refused as ambiguous. */
	if (s[0] == '0' && s[1] != '\0')
		return -EINVAL;
	for (p = s; *p; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true; /* keep scanning: trailing junk is still -EINVAL */
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*ret_val = v;
	return 0;
}

int
util_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret_val)
{
	uint64_t v;
	int r = util_parse_u64(s, min, max, &v);

	if (r < 0)
		return r;
	*ret_val = (uint32_t)v;
	return 0;
}

int
util_parse_u16(const char *s, uint16_t min, uint16_t max, uint16_t *ret_val)
{
	uint64_t v;
	int r = util_parse_u64(s, min, max, &v);

	if (r < 0)
		return r;
	*ret_val = (uint16_t)v;
	return 0;
}

int
util_parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret_val)
{
	uint64_t v;
	int r = util_parse_u64(s, min, max, &v);

	if (r < 0)
		return r;
	*ret_val = (unsigned)v;
	return 0;
}

int
util_parse_ipv4(const char *s, uint32_t *ret_addr)
{
	uint32_t addr = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, ndigits = 0;

		if (part > 0) {
			if (*p != '.')
				return -EINVAL;
			p++;
		}
		/* At most three digits, so v cannot overflow before the range check. */
		while (*p >= '0' && *p <= '9' && ndigits < 4) {
			v = v * 10 + (unsigned)(*p - '0');
			p++;
			ndigits++;
		}
		if (ndigits == 0 || ndigits > 3 || v > 255)
			return -EINVAL;
		if (ndigits > 1 && p[-(int)ndigits] == '0')
			return -EINVAL; /* leading zero: octal to inet_aton */
		addr = addr << 8 | v;
	}
	if (*p != '\0')
		return -EINVAL;
	*ret_addr = addr;
	return 0;
}

void
util_format_ipv4(uint32_t addr, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
		 addr & 0xff);
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

size_t
util_json_escape(const char *s, char *buf, size_t len)
{
	size_t n = 0;

	/* Mirrors cJSON's print_string_ptr() so that a secret can be found in
	 * the JSON that cJSON produced. */
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char tmp[8];
		const char *esc = NULL;
		size_t elen;

		switch (*p) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			if (*p < 0x20) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", *p);
				esc = tmp;
			}
			break;
		}
		if (!esc) {
			if (n + 1 < len)
				buf[n] = (char)*p;
			n++;
			continue;
		}
		elen = strlen(esc);
		for (size_t i = 0; i < elen; i++, n++)
			if (n + 1 < len)
				buf[n] = esc[i];
	}
	if (len > 0)
		buf[n < len ? n : len - 1] = '\0';
	return n;
}

int
util_read_first_line(const char *path, size_t max, char **ret_line, struct stat *ret_st)
{
	struct stat st;
	char *buf = NULL, *nl;
	size_t cap, n = 0, linelen;
	int fd, r;

	/* O_NONBLOCK: opening a FIFO without a writer must not hang; it is
	 * cleared again below so that a pipe's reader waits for the data (a
	 * shell's <(...) is a pipe with its writer running). O_NOCTTY: a
	 * terminal named here must not become ours. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	/* A terminal or a device could block for ever or never end. */
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		r = -EINVAL;
		goto out;
	}
	if (fcntl(fd, F_SETFL, 0) < 0) {
		r = -errno;
		goto out;
	}
	if (max > SIZE_MAX - 2) {
		r = -EINVAL;
		goto out;
	}
	/* Room for max bytes, an optional "\r" and the "\n" (or one byte beyond
	 * max that proves the line too long), plus the NUL. */
	cap = max + 3;
	buf = malloc(cap);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t got;

		nl = memchr(buf, '\n', n);
		if (nl || n >= cap - 1)
			break;
		got = read(fd, buf + n, cap - 1 - n);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	linelen = nl ? (size_t)(nl - buf) : n;
	if (nl && linelen > 0 && buf[linelen - 1] == '\r')
		linelen--;
	if (linelen > max) {
		r = -EFBIG;
		goto out;
	}
	if (memchr(buf, '\0', linelen)) {
		r = -EILSEQ;
		goto out;
	}
	/* Clear whatever was read beyond the line: it may be secret too. */
	explicit_bzero(buf + linelen, cap - linelen);
	buf[linelen] = '\0';
	if (ret_st)
		*ret_st = st;
	*ret_line = buf;
	buf = NULL;
	r = 0;
out:
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	close(fd);
	return r;
}

/* The one bounded file reader (imageset.c's images, diyfile.c's DIY image). The size is
 * checked again after reading: one byte more must be the end of the file. */
int
util_read_bounded(const char *path, size_t max, uint8_t **ret_data, size_t *ret_size,
		  struct util_oversize *ret_big, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *data = NULL, extra;
	size_t size, off = 0;
	ssize_t n;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			util_seterr(err, errlen, "%s: missing", path);
		else if (r == -ELOOP)
			util_seterr(err, errlen, "%s: is a symbolic link; use the file itself", path);
		else
			util_seterr(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		util_seterr(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		util_seterr(err, errlen, "%s: not a regular file", path);
		r = -EINVAL;
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		util_seterr(err, errlen, "%s: too-large: %jd bytes, at most %zu", path,
			    (intmax_t)st.st_size, max);
		if (ret_big) {
			/* The head lets the caller name a cause the user can act on (a
			 * .bin.gz is "gzip", not "too-large"). */
			ret_big->size = (intmax_t)st.st_size;
			ret_big->head_len = 0;
			do
				n = read(fd, ret_big->head, sizeof(ret_big->head));
			while (n < 0 && errno == EINTR);
			if (n > 0)
				ret_big->head_len = (size_t)n;
		}
		r = -EFBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	data = malloc(size ? size : 1);
	if (!data) {
		r = -ENOMEM;
		util_seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (off < size) {
		n = read(fd, data + off, size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			util_seterr(err, errlen, "%s: %s", path, strerror(-r));
			goto out;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	do
		n = read(fd, &extra, 1);
	while (n < 0 && errno == EINTR);
	if (off != size || n != 0) {
		util_seterr(err, errlen, "%s: changed while being read", path);
		r = -EIO;
		goto out;
	}
	*ret_data = data;
	*ret_size = size;
	data = NULL;
	r = 0;
out:
	free(data);
	close(fd);
	return r;
}

void
util_free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	/* Both clocks exist on every Linux; a failure would leave ts unset. */
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t
util_now_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

uint64_t
util_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

void
util_format_timestamp(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, len, "@%llu.%03u", (unsigned long long)(ms / 1000),
			 (unsigned)(ms % 1000));
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03u", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

void
util_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

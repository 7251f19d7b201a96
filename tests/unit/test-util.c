/* Unit tests for util: number and IPv4 parsers, strlcpy, JSON escaping (checked
 * against cJSON itself), first-line and bounded file reading, clocks and timestamps. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "util.h"

static void
test_parse_u64(void)
{
	static const struct {
		const char *s;
		uint64_t min, max;
		int ret;
		uint64_t want;
	} t[] = {
		{ "0", 0, 10, 0, 0 },
		{ "7", 0, 10, 0, 7 },
		{ "10", 0, 10, 0, 10 },
		{ "11", 0, 10, -ERANGE, 0 },
		{ "4", 5, 10, -ERANGE, 0 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999", 0, UINT64_MAX, -ERANGE, 0 },
		{ "99999999999999999999999x", 0, UINT64_MAX, -EINVAL, 0 },
		{ "", 0, 10, -EINVAL, 0 },
		{ "+1", 0, 10, -EINVAL, 0 },
		{ "-1", 0, 10, -EINVAL, 0 },
		{ "-0", 0, 10, -EINVAL, 0 },
		{ " 1", 0, 10, -EINVAL, 0 },
		{ "1 ", 0, 10, -EINVAL, 0 },
		{ "1\n", 0, 10, -EINVAL, 0 },
		{ "1x", 0, 10, -EINVAL, 0 },
		{ "0x1", 0, 10, -EINVAL, 0 },
		{ "01", 0, 10, -EINVAL, 0 },
		{ "00", 0, 10, -EINVAL, 0 },
		{ "1.0", 0, 10, -EINVAL, 0 },
		{ "1e3", 0, 10000, -EINVAL, 0 },
		{ "١", 0, 10, -EINVAL, 0 }, /* Arabic-Indic digit one */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		int r = util_parse_u64(t[i].s, t[i].min, t[i].max, &v);

		CHECK_MSG(r == t[i].ret, "u64 row %zu \"%s\": %d, want %d", i, t[i].s, r, t[i].ret);
		if (t[i].ret == 0)
			CHECK_MSG(v == t[i].want, "u64 row %zu value %llu", i, (unsigned long long)v);
		else
			CHECK_MSG(v == 12345, "u64 row %zu wrote ret_val on failure", i);
	}
	CHECK_INT(util_parse_u64(NULL, 0, 1, &(uint64_t){ 0 }), -EINVAL);
}

static void
test_parse_narrow(void)
{
	uint16_t v16 = 1;
	uint32_t v32 = 1;
	unsigned vu = 1;

	CHECK_INT(util_parse_u16("65535", 0, UINT16_MAX, &v16), 0);
	CHECK_INT(v16, 65535);
	CHECK_INT(util_parse_u16("65536", 0, UINT16_MAX, &v16), -ERANGE);
	CHECK_INT(v16, 65535);
	CHECK_INT(util_parse_u16("0", 1, UINT16_MAX, &v16), -ERANGE);
	CHECK_INT(util_parse_u16("8080", 1, UINT16_MAX, &v16), 0);
	CHECK_INT(v16, 8080);
	CHECK_INT(util_parse_u16("80 80", 1, UINT16_MAX, &v16), -EINVAL);

	CHECK_INT(util_parse_u32("4294967295", 0, UINT32_MAX, &v32), 0);
	CHECK_INT(v32, UINT32_MAX);
	CHECK_INT(util_parse_u32("4294967296", 0, UINT32_MAX, &v32), -ERANGE);
	CHECK_INT(v32, UINT32_MAX);

	CHECK_INT(util_parse_uint("64", 1, 64, &vu), 0);
	CHECK_INT(vu, 64);
	CHECK_INT(util_parse_uint("65", 1, 64, &vu), -ERANGE);
	CHECK_INT(util_parse_uint("0", 1, 64, &vu), -ERANGE);
	CHECK_INT(util_parse_uint("-1", 1, 64, &vu), -EINVAL);
	CHECK_INT(vu, 64);
}

static void
test_parse_ipv4(void)
{
	static const struct {
		const char *s;
		int ret;
		uint32_t want;
	} t[] = {
		{ "192.168.1.5", 0, 0xc0a80105 },
		{ "0.0.0.0", 0, 0 },
		{ "255.255.255.255", 0, 0xffffffff },
		{ "10.10.7.1", 0, 0x0a0a0701 },
		{ "1.2.3.4", 0, 0x01020304 },
		{ "256.1.1.1", -EINVAL, 0 },
		{ "1.1.1.256", -EINVAL, 0 },
		{ "1.1.1", -EINVAL, 0 },
		{ "1.1.1.1.1", -EINVAL, 0 },
		{ "1.1.1.", -EINVAL, 0 },
		{ ".1.1.1", -EINVAL, 0 },
		{ "1..1.1", -EINVAL, 0 },
		{ "01.1.1.1", -EINVAL, 0 },
		{ "1.1.1.01", -EINVAL, 0 },
		{ "1.1.1.00", -EINVAL, 0 },
		{ "0001.1.1.1", -EINVAL, 0 },
		{ "1234.1.1.1", -EINVAL, 0 },
		{ "0x7f.0.0.1", -EINVAL, 0 },
		{ "127.1", -EINVAL, 0 },
		{ "2130706433", -EINVAL, 0 },
		{ " 1.1.1.1", -EINVAL, 0 },
		{ "1.1.1.1 ", -EINVAL, 0 },
		{ "1.1.1.1\n", -EINVAL, 0 },
		{ "+1.1.1.1", -EINVAL, 0 },
		{ "1.-1.1.1", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "::1", -EINVAL, 0 },
		{ "a.b.c.d", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t a = 42;
		struct in_addr ia;
		int r = util_parse_ipv4(t[i].s, &a);

		CHECK_MSG(r == t[i].ret, "ipv4 row %zu \"%s\": %d, want %d", i, t[i].s, r, t[i].ret);
		if (t[i].ret == 0)
			CHECK_MSG(a == t[i].want, "ipv4 row %zu: %08x", i, a);
		else
			CHECK_MSG(a == 42, "ipv4 row %zu wrote ret_addr on failure", i);
		/* glibc's inet_pton is strict in the same way: cross-check it. */
		CHECK_MSG((inet_pton(AF_INET, t[i].s, &ia) == 1) == (t[i].ret == 0),
			  "ipv4 row %zu \"%s\" disagrees with inet_pton", i, t[i].s);
		if (t[i].ret == 0)
			CHECK_MSG(ntohl(ia.s_addr) == t[i].want, "ipv4 row %zu inet_pton value", i);
	}
	CHECK_INT(util_parse_ipv4(NULL, &(uint32_t){ 0 }), -EINVAL);

	char buf[16];
	util_format_ipv4(0xc0a80105, buf, sizeof(buf));
	CHECK_STR(buf, "192.168.1.5");
	util_format_ipv4(0xffffffff, buf, sizeof(buf));
	CHECK_STR(buf, "255.255.255.255");
}

static void
test_strlcpy(void)
{
	char buf[6];

	CHECK_INT(util_strlcpy(buf, "abc", sizeof(buf)), 3);
	CHECK_STR(buf, "abc");
	CHECK_INT(util_strlcpy(buf, "abcde", sizeof(buf)), 5);
	CHECK_STR(buf, "abcde");
	CHECK_INT(util_strlcpy(buf, "abcdefgh", sizeof(buf)), 8);
	CHECK_STR(buf, "abcde");
	CHECK_INT(util_strlcpy(buf, "", sizeof(buf)), 0);
	CHECK_STR(buf, "");
	memcpy(buf, "zzzzzz", 6);
	CHECK_INT(util_strlcpy(buf, "xy", 1), 2);
	CHECK_STR(buf, "");
	CHECK_INT(buf[1], 'z');
	CHECK_INT(util_strlcpy(buf, "xy", 0), 2); /* writes nothing */
	CHECK_INT(buf[0], '\0');
}

static void
test_json_escape(void)
{
	static const char *const t[] = {
		"plain", "", "q\"uote", "back\\slash", "\b\f\n\r\t", "\x01\x1f\x7f", "ümlaut €",
		"sl/ash", "\"\\\"\\", "mixed \"a\\b\" \x02 end",
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[128];
		cJSON *s = cJSON_CreateString(t[i]);
		char *printed = cJSON_PrintUnformatted(s);
		size_t n = util_json_escape(t[i], buf, sizeof(buf));

		/* cJSON prints the escaped form between quotes. */
		CHECK_MSG(printed && strlen(printed) == n + 2 && strncmp(printed + 1, buf, n) == 0,
			  "json row %zu: \"%s\" vs cJSON %s", i, buf, printed ? printed : "(null)");
		free(printed);
		cJSON_Delete(s);
	}

	/* Truncation behaves like snprintf. */
	char small[4];
	CHECK_INT(util_json_escape("a\"bc", small, sizeof(small)), 5);
	CHECK_STR(small, "a\\\"");
	CHECK_INT(util_json_escape("\n", small, 2), 2);
	CHECK_STR(small, "\\");
	CHECK_INT(util_json_escape("abc", NULL, 0), 3);
}

static char *
write_tmp(const char *content, size_t len, mode_t mode)
{
	char *path = strdup("/tmp/sonota-test-util-XXXXXX");
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
		fprintf(stderr, "cannot write temporary file\n");
		exit(1);
	}
	close(fd);
	return path;
}

static void
test_read_first_line(void)
{
	static const struct {
		const char *content;
		size_t len;
		size_t max;
		int ret;
		const char *want;
	} t[] = {
		{ "secret\n", 7, 64, 0, "secret" },
		{ "secret", 6, 64, 0, "secret" },
		{ "secret\r\n", 8, 64, 0, "secret" },
		{ "secret\nsecond line\n", 19, 64, 0, "secret" },
		{ "\n", 1, 64, 0, "" },
		{ "", 0, 64, 0, "" },
		{ "  spaces kept  \n", 16, 64, 0, "  spaces kept  " },
		{ "12345678\n", 9, 8, 0, "12345678" },
		{ "12345678\r\n", 10, 8, 0, "12345678" },
		{ "12345678", 8, 8, 0, "12345678" },
		{ "123456789\n", 10, 8, -EFBIG, NULL },
		{ "123456789", 9, 8, -EFBIG, NULL },
		{ "1234567890123\n", 14, 8, -EFBIG, NULL },
		{ "nul\0byte\n", 9, 64, -EILSEQ, NULL },
		{ "ok\nnul\0later\n", 13, 64, 0, "ok" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *path = write_tmp(t[i].content, t[i].len, 0600);
		char *line = (char *)"untouched";
		struct stat st = { 0 };
		int r = util_read_first_line(path, t[i].max, &line, &st);

		CHECK_MSG(r == t[i].ret, "first-line row %zu: %d, want %d", i, r, t[i].ret);
		if (t[i].ret == 0) {
			CHECK_STR(line, t[i].want);
			CHECK_MSG((st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode),
				  "first-line row %zu: stat not returned", i);
			util_free_secret(line);
		} else {
			CHECK_MSG(strcmp(line, "untouched") == 0, "row %zu wrote ret_line", i);
		}
		unlink(path);
		free(path);
	}

	char *line = NULL;
	CHECK_INT(util_read_first_line("/nonexistent/sonota-test", 64, &line, NULL), -ENOENT);
	CHECK_INT(util_read_first_line("/tmp", 64, &line, NULL), -EISDIR);
	CHECK_INT(util_read_first_line("/dev/null", 64, &line, NULL), -EINVAL);
	CHECK_INT(util_read_first_line("/dev/zero", 64, &line, NULL), -EINVAL);
	CHECK(line == NULL);

	/* A pipe is read, and waits for its writer's data. */
	int fds[2];
	char path[64];
	CHECK_INT(pipe(fds), 0);
	CHECK_INT(write(fds[1], "piped\n", 6), 6);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	CHECK_INT(util_read_first_line(path, 64, &line, NULL), 0);
	CHECK_STR(line, "piped");
	free(line);
	/* Without a newline, the line ends when the writer closes. */
	CHECK_INT(write(fds[1], "last", 4), 4);
	close(fds[1]);
	line = NULL;
	CHECK_INT(util_read_first_line(path, 64, &line, NULL), 0);
	CHECK_STR(line, "last");
	free(line);
	close(fds[0]);

	/* A FIFO without a writer does not hang: it reads as empty. */
	char fifo[] = "/tmp/sonota-test-util-fifo-XXXXXX";
	int tfd = mkstemp(fifo);
	close(tfd);
	unlink(fifo);
	CHECK_INT(mkfifo(fifo, 0600), 0);
	line = NULL;
	CHECK_INT(util_read_first_line(fifo, 64, &line, NULL), 0);
	CHECK_STR(line, "");
	free(line);
	unlink(fifo);
}

static void
test_clocks(void)
{
	uint64_t now = util_now_ms(), mono1 = util_mono_ms(), mono2;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	time_t t = time(NULL);

	/* Within a minute of time(): the unit is milliseconds, not seconds or us. */
	CHECK((int64_t)(now / 1000) - (int64_t)t < 60 && (int64_t)t - (int64_t)(now / 1000) < 60);
	nanosleep(&ts, NULL);
	mono2 = util_mono_ms();
	CHECK(mono2 >= mono1 + 19 && mono2 < mono1 + 5000);

	char buf[UTIL_TIMESTAMP_LEN];
	setenv("TZ", "UTC", 1);
	tzset();
	util_format_timestamp(0, buf, sizeof(buf));
	CHECK_STR(buf, "1970-01-01 00:00:00.000");
	util_format_timestamp(1700000000123ull, buf, sizeof(buf));
	CHECK_STR(buf, "2023-11-14 22:13:20.123");
	util_format_timestamp(1700000000999ull, buf, sizeof(buf));
	CHECK_STR(buf, "2023-11-14 22:13:20.999");
	CHECK_INT(strlen(buf) + 1, UTIL_TIMESTAMP_LEN);
}

static void
test_free_secret(void)
{
	util_free_secret(NULL); /* must not crash */
	util_free_secret(strdup("gone"));
	CHECK(1); /* reaching here is the check; ASan sees misuse */
}

/* util_read_bounded: the one bounded reader of imageset.c and diyfile.c. Exactly max
 * bytes pass; one more is -EFBIG before any allocation, with the head for a diagnosis;
 * a link, a directory and a FIFO are refused without reading (the FIFO would hang). */
static void
test_read_bounded(void)
{
	char *path = write_tmp("\x1f\x8b" "abcdefghijklmnopqrstuvwxyz", 28, 0600);
	char link[64], fifo[] = "/tmp/sonota-test-util-bfifo-XXXXXX", err[256];
	struct util_oversize big = { 0 };
	uint8_t *data = (uint8_t *)"untouched";
	size_t size = 7;

	CHECK_INT(util_read_bounded(path, 28, &data, &size, &big, err, sizeof(err)), 0);
	CHECK_INT(size, 28);
	CHECK(memcmp(data, "\x1f\x8b" "abc", 5) == 0);
	free(data);
	data = (uint8_t *)"untouched";
	size = 7;
	CHECK_INT(util_read_bounded(path, 27, &data, &size, &big, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "too-large: 28 bytes, at most 27") != NULL);
	CHECK_INT(big.size, 28);
	CHECK_INT(big.head_len, UTIL_HEAD_MAX);
	CHECK(memcmp(big.head, "\x1f\x8b" "abcdefghijklmn", UTIL_HEAD_MAX) == 0);
	CHECK_INT(util_read_bounded(path, 27, &data, &size, NULL, err, sizeof(err)), -EFBIG);
	CHECK(data == (uint8_t *)"untouched" && size == 7);

	snprintf(link, sizeof(link), "%s.link", path);
	CHECK_INT(symlink(path, link), 0);
	CHECK_INT(util_read_bounded(link, 64, &data, &size, NULL, err, sizeof(err)), -ELOOP);
	CHECK(strstr(err, "symbolic link") != NULL);
	CHECK_INT(util_read_bounded("/tmp", 64, &data, &size, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file") != NULL);
	CHECK_INT(util_read_bounded("/nonexistent/sonota-test", 64, &data, &size, NULL, err,
				    sizeof(err)), -ENOENT);
	CHECK(strstr(err, "missing") != NULL);
	if (mkdtemp(fifo)) {
		rmdir(fifo);
		CHECK_INT(mkfifo(fifo, 0600), 0);
		CHECK_INT(util_read_bounded(fifo, 64, &data, &size, NULL, err, sizeof(err)),
			  -EINVAL);
		unlink(fifo);
	} else {
		CHECK_MSG(0, "mkdtemp failed");
	}
	CHECK(data == (uint8_t *)"untouched" && size == 7);
	unlink(link);
	unlink(path);
	free(path);
}

int
main(void)
{
	test_parse_u64();
	test_parse_narrow();
	test_parse_ipv4();
	test_strlcpy();
	test_json_escape();
	test_read_first_line();
	test_read_bounded();
	test_clocks();
	test_free_secret();
	return check_done();
}

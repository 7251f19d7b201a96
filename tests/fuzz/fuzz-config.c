/* Fuzz target for config: the input is an argv vector, NUL-separated (the
 * program name is added in front). Runs cfg_init -> cfg_parse_args -> cfg_check
 * -> cfg_print -> cfg_free; must not crash, leak or hang.
 *
 * Two guards keep the run hermetic: stdout goes to /dev/null (--help and
 * --version print there), and cfg_check is skipped when an argument names
 * something under /dev, /proc or /sys, or an fd: --wifi-password-file would
 * read it, and a pipe of the test harness could block.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"

#define FUZZ_ARGS_MAX 256 /* more arguments add nothing but time */

static bool
risky_path(const char *s)
{
	return strstr(s, "/dev") || strstr(s, "/proc") || strstr(s, "/sys") || strstr(s, "fd/");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	char *buf, *argv[FUZZ_ARGS_MAX + 2];
	int argc = 0;
	bool risky = false;
	struct cfg c;
	char err[256];
	FILE *sink;

	if (!quiet) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			fflush(stdout);
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
		quiet = true;
	}

	/* A copy with a NUL at the end, so the last argument is terminated. */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';

	argv[argc++] = (char *)"sonota-c";
	for (size_t i = 0; i <= size && argc <= FUZZ_ARGS_MAX;) {
		size_t len = strlen(buf + i);

		argv[argc++] = buf + i;
		risky |= risky_path(buf + i);
		i += len + 1;
	}
	argv[argc] = NULL;

	cfg_init(&c);
	if (cfg_parse_args(&c, argc, argv, err, sizeof(err)) == 0 && !risky &&
	    cfg_check(&c, err, sizeof(err)) == 0) {
		sink = fopen("/dev/null", "w");
		if (sink) {
			cfg_print(&c, sink);
			fclose(sink);
		}
	}
	/* An error is one line at most and always terminated. */
	if (memchr(err, '\0', sizeof(err)) == NULL || strchr(err, '\n'))
		abort();
	cfg_free(&c);
	free(buf);
	return 0;
}

/* Unit tests for log: secrets never reach the console or the debug file (raw,
 * JSON-escaped, overlapping, straddling the cut, via the lws and MHD routes),
 * the file is 0600 and refused when it is not a regular file of ours, levels
 * filter the console only, long lines are cut, lines never interleave. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "check.h"
#include "log.h"

/* A password with everything that breaks naive redaction: JSON specials,
 * regex metacharacters, printf's %, UTF-8. */
static const char secret_pw[] = "Q\"u\\o%te.*+?[x](y){z}^$|ü€K";
/* A second secret, apikey-like. */
static const char secret_key[] = "9f1c2d3e-7e6d-4bbb-8ccc-0123456789ab";

static char tmpdir[] = "/tmp/sonota-test-log-XXXXXX";

struct capture {
	struct log log;
	char *con_buf;    /* console captured with open_memstream */
	size_t con_len;
	char path[256];   /* the debug file */
};

static void
capture_open(struct capture *c, const char *name, int console_level)
{
	int r;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s/%s", tmpdir, name);
	r = log_open(&c->log, c->path, console_level);
	CHECK_INT(r, 0);
	c->log.console = open_memstream(&c->con_buf, &c->con_len);
	CHECK(c->log.console != NULL);
}

/* Close everything; return the debug file's contents in *ret_file (malloc'd).
 * The console text stays in c->con_buf (malloc'd). */
static void
capture_close(struct capture *c, char **ret_file)
{
	FILE *f;
	long n;
	char *buf;

	fclose(c->log.console);
	c->log.console = NULL;
	log_close(&c->log);
	f = fopen(c->path, "r");
	CHECK(f != NULL);
	if (!f) {
		*ret_file = strdup("");
		return;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		CHECK_MSG(0, "short read of %s", c->path);
	fclose(f);
	*ret_file = buf;
}

/* No substring of s of length >= 4 appears in text (ASCII-only fragments
 * would be too likely to appear by chance; 4 bytes of these secrets are not). */
static bool
leaks_fragment(const char *text, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i + 4 <= n; i++) {
		char frag[8];

		memcpy(frag, s + i, 4);
		frag[4] = '\0';
		if (strstr(text, frag)) {
			fprintf(stderr, "leaked fragment \"%s\" of \"%s\"\n", frag, s);
			return true;
		}
	}
	return false;
}

static char *
json_escaped(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *p = cJSON_PrintUnformatted(j);
	size_t n = strlen(p);

	cJSON_Delete(j);
	memmove(p, p + 1, n - 2); /* drop the quotes */
	p[n - 2] = '\0';
	return p;
}

static void __attribute__((format(printf, 2, 3)))
call_mhd(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_mhd(l, fmt, ap);
	va_end(ap);
}

static void
test_redaction(void)
{
	struct capture c;
	char *file, *esc = json_escaped(secret_pw);
	char longline[LOG_LINE_MAX + 200];

	capture_open(&c, "redact.log", LOG_DEBUG);
	CHECK_INT(log_add_secret(&c.log, secret_pw), 0);
	CHECK_INT(log_add_secret(&c.log, secret_key), 0);
	CHECK_INT(c.log.nsecrets, 3); /* raw pw, escaped pw, key (escapes to itself) */
	CHECK(strcmp(esc, secret_pw) != 0); /* the escaped form really differs */

	log_notice(&c.log, "raw: %s", secret_pw);
	log_notice(&c.log, "%s at the start", secret_pw);
	log_notice(&c.log, "at the end %s", secret_pw);
	log_notice(&c.log, "%s", secret_pw);
	log_notice(&c.log, "twice %s and %s", secret_pw, secret_pw);
	log_notice(&c.log, "glued %s%s%s", secret_pw, secret_key, secret_pw);
	log_warn(&c.log, "json: {\"password\":\"%s\",\"apikey\":\"%s\"}", esc, secret_key);
	log_err(&c.log, "json at the end \"%s", esc);
	log_info(&c.log, "multi\nline %s\nvalue", secret_pw);
	log_debug(&c.log, "debug only: %s", secret_key);

	/* A pretty-printed dump as cJSON makes it. */
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "ssid", "home");
	cJSON_AddStringToObject(o, "password", secret_pw);
	char *dump = cJSON_Print(o);
	log_notice(&c.log, ">> %s", dump);
	free(dump);
	cJSON_Delete(o);

	/* The secret straddles LOG_LINE_MAX: its head must not survive the cut. */
	for (int off = -8; off <= 3; off++) {
		size_t at = (size_t)(LOG_LINE_MAX + off);

		memset(longline, '_', at);
		memcpy(longline + at, secret_pw, sizeof(secret_pw));
		log_notice(&c.log, "%s", longline);
	}
	/* Routed through MHD and lws too. */
	call_mhd(&c.log, "Failed for '%s'\n", secret_pw);
	log_route_lws(&c.log);
	lwsl_err("lws saw %s\n", secret_key);
	lwsl_warn("[2024/01/31 12:34:56:1234] W: lws json %s\n", esc);

	capture_close(&c, &file);
	CHECK(!leaks_fragment(c.con_buf, secret_pw));
	CHECK(!leaks_fragment(c.con_buf, esc));
	CHECK(!leaks_fragment(c.con_buf, secret_key));
	CHECK(!leaks_fragment(file, secret_pw));
	CHECK(!leaks_fragment(file, esc));
	CHECK(!leaks_fragment(file, secret_key));

	/* ... and the redaction marks are where the secrets were. */
	CHECK(strstr(c.con_buf, "raw: ***\n") != NULL);
	CHECK(strstr(c.con_buf, "\n*** at the start\n") != NULL);
	CHECK(strstr(c.con_buf, "at the end ***\n") != NULL);
	CHECK(strstr(c.con_buf, "twice *** and ***\n") != NULL);
	CHECK(strstr(c.con_buf, "glued ***\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: json: {\"password\":\"***\",\"apikey\":\"***\"}\n"));
	CHECK(strstr(c.con_buf, "error: json at the end \"***\n") != NULL);
	CHECK(strstr(c.con_buf, "\"password\":\t\"***\"") != NULL);
	CHECK(strstr(c.con_buf, "mhd: Failed for '***'\n") != NULL);
	CHECK(strstr(c.con_buf, "error: lws: lws saw ***\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: lws: lws json ***\n") != NULL); /* timestamp gone */
	CHECK(strstr(file, " WARN: json: {\"password\":\"***\",\"apikey\":\"***\"}\n"));
	CHECK(strstr(file, " DEBUG: debug only: ***\n") != NULL);
	CHECK(strstr(file, " INFO: line ***\n") != NULL);
	CHECK(strstr(file, " ERROR: lws: lws saw ***\n") != NULL);
	free(file);
	free(c.con_buf);
	free(esc);
}

static void
test_overlap(void)
{
	struct capture c;
	char *file;

	/* "abcdXYZW" and "XYZWefgh" overlap in the text "abcdXYZWefgh": removing
	 * one first would leave the other's tail; both must go entirely. The
	 * shorter "ZWe!" inside is a third secret. */
	capture_open(&c, "overlap.log", LOG_NOTICE);
	CHECK_INT(log_add_secret(&c.log, "XYZWefgh"), 0);
	CHECK_INT(log_add_secret(&c.log, "abcdXYZW"), 0);
	CHECK_INT(log_add_secret(&c.log, "ZWe!"), 0);
	CHECK_INT(log_add_secret(&c.log, "nono"), 0); /* overlaps itself in "nonono" */
	CHECK_INT(log_add_secret(&c.log, "abcdXYZW"), 0); /* a repeat takes no slot */
	CHECK_INT(log_add_secret(&c.log, ""), 0);         /* ignored */
	CHECK_INT(c.log.nsecrets, 4);
	log_notice(&c.log, "1 abcdXYZWefgh 2");
	log_notice(&c.log, "3 XYZWefghabcdXYZW 4");
	log_notice(&c.log, "5 abcdXYZWZWe! 6");
	log_notice(&c.log, "7 XYZWefgXYZWefgh 8"); /* near miss first */
	log_notice(&c.log, "9 nonono 10");
	capture_close(&c, &file);
	CHECK_STR(c.con_buf, "1 *** 2\n3 *** 4\n5 *** 6\n7 XYZWefg*** 8\n9 *** 10\n");
	CHECK(strstr(file, "NOTICE: 1 *** 2\n") != NULL);
	free(file);
	free(c.con_buf);
}

static void
test_secret_table(void)
{
	struct log l;
	char big[LOG_SECRET_MAX + 2];
	char name[32];
	int r = 0;

	CHECK_INT(log_open(&l, NULL, LOG_NOTICE), 0);
	CHECK(l.file == NULL);
	/* Too long for the slack: refused rather than redacted unreliably. */
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(log_add_secret(&l, big), -E2BIG);
	big[LOG_SECRET_MAX] = '\0';
	CHECK_INT(log_add_secret(&l, big), 0);
	/* 64 quotes escape to 128 bytes: fine. */
	memset(big, '"', 64);
	big[64] = '\0';
	CHECK_INT(log_add_secret(&l, big), 0);
	CHECK_INT(l.nsecrets, 3);
	for (unsigned i = 0; i < LOG_MAX_SECRETS && r == 0; i++) {
		snprintf(name, sizeof(name), "secret-%u", i);
		r = log_add_secret(&l, name);
	}
	CHECK_INT(r, -ENOSPC);
	CHECK_INT(l.nsecrets, LOG_MAX_SECRETS);
	/* One slot left would not hold both forms of a quote-containing secret. */
	log_close(&l);
	CHECK_INT(l.nsecrets, 0);
	CHECK_INT(log_open(&l, NULL, LOG_NOTICE), 0);
	for (unsigned i = 0; i < LOG_MAX_SECRETS - 1; i++) {
		snprintf(name, sizeof(name), "secret-%u", i);
		CHECK_INT(log_add_secret(&l, name), 0);
	}
	CHECK_INT(log_add_secret(&l, "needs\"two"), -ENOSPC);
	CHECK_INT(l.nsecrets, LOG_MAX_SECRETS - 1);
	CHECK_INT(log_add_secret(&l, "fits"), 0);
	log_close(&l);

	struct log zero;
	memset(&zero, 0, sizeof(zero));
	log_close(&zero); /* safe on a zeroed struct */
	CHECK(1);
}

static void
test_levels_and_format(void)
{
	struct capture c;
	char *file;

	capture_open(&c, "levels.log", LOG_NOTICE);
	CHECK(log_enabled(&c.log, LOG_DEBUG)); /* the file takes everything */
	log_err(&c.log, "e %d", 1);
	log_warn(&c.log, "w");
	log_notice(&c.log, "n");
	log_info(&c.log, "i");
	log_debug(&c.log, "d");
	log_notice(&c.log, "ctl \x1b[31mred\x1b[0m \r tab\tend\x7f\n\n");
	log_printf(&c.log, 99, "clamped to debug");
	capture_close(&c, &file);
	CHECK_STR(c.con_buf, "error: e 1\nwarning: w\nn\nctl ?[31mred?[0m ? tab\tend?\n");

	/* "YYYY-MM-DD HH:MM:SS.mmm LEVEL: msg", every level. */
	static const char *const want[] = {
		"ERROR: e 1", "WARN: w", "NOTICE: n", "INFO: i", "DEBUG: d",
		"NOTICE: ctl ?[31mred?[0m ? tab\tend?", "DEBUG: clamped to debug",
	};
	char *p = file;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char *nl = strchr(p, '\n');
		int y, mo, d, h, mi, s, ms, n = 0;

		CHECK_MSG(nl != NULL, "file line %zu missing", i);
		if (!nl)
			break;
		*nl = '\0';
		CHECK_MSG(sscanf(p, "%4d-%2d-%2d %2d:%2d:%2d.%3d %n", &y, &mo, &d, &h, &mi, &s, &ms,
				 &n) == 7 && n == 24 && p[4] == '-' && p[19] == '.',
			  "file line %zu: \"%s\"", i, p);
		CHECK_MSG(strcmp(p + 24, want[i]) == 0, "file line %zu: \"%s\"", i, p + 24);
		p = nl + 1;
	}
	CHECK_STR(p, "");
	free(file);
	free(c.con_buf);

	/* No file, console at ERR: only errors are enabled. */
	struct log l;
	CHECK_INT(log_open(&l, NULL, LOG_ERR), 0);
	CHECK(log_enabled(&l, LOG_ERR));
	CHECK(!log_enabled(&l, LOG_WARN));
	log_close(&l);
}

static void
test_long_lines(void)
{
	struct capture c;
	char *file, *line = malloc(3 * LOG_LINE_MAX);

	capture_open(&c, "long.log", LOG_NOTICE);
	memset(line, 'x', 3 * LOG_LINE_MAX - 1);
	line[3 * LOG_LINE_MAX - 1] = '\0';
	log_notice(&c.log, "%s", line);
	line[LOG_LINE_MAX] = '\0';
	log_notice(&c.log, "%s", line); /* exactly LOG_LINE_MAX: not cut */
	capture_close(&c, &file);

	char *nl = strchr(c.con_buf, '\n');
	CHECK(nl && nl - c.con_buf == LOG_LINE_MAX + 3);
	CHECK(nl && memcmp(nl - 4, "x...", 4) == 0);
	CHECK(nl && strlen(nl + 1) == LOG_LINE_MAX + 1 && nl[LOG_LINE_MAX] == 'x');
	CHECK(strstr(file, "x...\n") != NULL);
	free(file);
	free(c.con_buf);
	free(line);
}

static void
test_file_safety(void)
{
	struct log l;
	struct stat st;
	char path[256], link[256];
	FILE *f;
	mode_t old = umask(0);

	/* Created 0600 even with umask 0. */
	snprintf(path, sizeof(path), "%s/mode.log", tmpdir);
	CHECK_INT(log_open(&l, path, LOG_ERR), 0);
	log_close(&l);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);

	/* An existing 0644 file is appended to and tightened. */
	snprintf(path, sizeof(path), "%s/existing.log", tmpdir);
	f = fopen(path, "w");
	fputs("old line\n", f);
	fclose(f);
	chmod(path, 0644);
	CHECK_INT(log_open(&l, path, LOG_ERR), 0);
	l.console = NULL; /* keep the test's stderr clean */
	log_err(&l, "new line");
	log_close(&l);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
	f = fopen(path, "r");
	char buf[128] = "";
	CHECK(fread(buf, 1, sizeof(buf) - 1, f) > 0);
	fclose(f);
	CHECK(strncmp(buf, "old line\n", 9) == 0 && strstr(buf, "ERROR: new line\n"));

	/* A symlink is refused, even one to a file of ours. */
	snprintf(link, sizeof(link), "%s/link.log", tmpdir);
	CHECK_INT(symlink(path, link), 0);
	CHECK_INT(log_open(&l, link, LOG_ERR), -ELOOP);
	CHECK(l.file == NULL);
	log_close(&l);
	unlink(link);

	/* Not a regular file. */
	CHECK_INT(log_open(&l, "/dev/null", LOG_ERR), -EINVAL);
	log_close(&l);
	CHECK_INT(log_open(&l, tmpdir, LOG_ERR), -EISDIR);
	log_close(&l);
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	CHECK_INT(mkfifo(path, 0600), 0);
	CHECK_INT(log_open(&l, path, LOG_ERR), -ENXIO); /* no reader: does not hang */
	log_close(&l);
	unlink(path);

	/* Another owner's file (only testable as root). */
	if (geteuid() == 0) {
		snprintf(path, sizeof(path), "%s/foreign.log", tmpdir);
		f = fopen(path, "w");
		fclose(f);
		CHECK_INT(chown(path, 65534, 65534), 0);
		CHECK_INT(log_open(&l, path, LOG_ERR), -EPERM);
		log_close(&l);
		unlink(path);
	}
	umask(old);

	char def[64];
	log_default_path(def, sizeof(def));
	CHECK(strncmp(def, "sonota-", 7) == 0 && strlen(def) > 11 &&
	      strcmp(def + strlen(def) - 4, ".log") == 0);
}

static void
test_lws_levels(void)
{
	struct capture c;
	char *file;

	/* Console at NOTICE: lws NOTICE is not even asked for (it is noisy under
	 * mbedTLS); USER lands at INFO, which the file keeps. */
	capture_open(&c, "lws-notice.log", LOG_NOTICE);
	log_route_lws(&c.log);
	lwsl_notice("lws notice one\n");
	lwsl_user("lws user one\n");
	lwsl_warn("lws warn one\n");
	capture_close(&c, &file);
	CHECK_STR(c.con_buf, "warning: lws: lws warn one\n");
	CHECK(strstr(file, "notice one") == NULL);
	CHECK(strstr(file, " INFO: lws: lws user one\n") != NULL);
	free(file);
	free(c.con_buf);

	/* -vv: NOTICE comes in, at DEBUG. */
	capture_open(&c, "lws-debug.log", LOG_DEBUG);
	log_route_lws(&c.log);
	lwsl_notice("lws notice two\n");
	capture_close(&c, &file);
	CHECK_STR(c.con_buf, "debug: lws: lws notice two\n");
	free(file);
	free(c.con_buf);

	/* After log_close, lws lines are dropped, not written to a dead log
	 * (ASan would see the use after close). */
	lwsl_err("after close\n");
}

#define THREAD_LINES 2000

static void *
thread_main(void *arg)
{
	struct log *l = arg;

	for (int i = 0; i < THREAD_LINES; i++)
		log_notice(l, "thread line %d ABCDEFGHIJKLMNOPQRSTUVWXYZ%s", i,
			   "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
	return NULL;
}

static void
test_threads(void)
{
	struct capture c;
	pthread_t t[2];
	char *file;
	unsigned good = 0, bad = 0;

	capture_open(&c, "threads.log", LOG_NOTICE);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_main, &c.log);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	capture_close(&c, &file);
	for (char *p = c.con_buf, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		int n = -1;
		if (sscanf(p, "thread line %*d ABCDEFGHIJKLMNOPQRSTUVWXYZ%*[0-9a-z]%n", &n) == 0 &&
		    n == (int)strlen(p) && strlen(p) > 100)
			good++;
		else
			bad++;
	}
	CHECK_INT(good, 2 * THREAD_LINES);
	CHECK_INT(bad, 0);
	free(file);
	free(c.con_buf);
}

int
main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_redaction();
	test_overlap();
	test_secret_table();
	test_levels_and_format();
	test_long_lines();
	test_file_safety();
	test_lws_levels();
	test_threads();

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}

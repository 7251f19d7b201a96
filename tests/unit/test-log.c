/* Unit tests for log: secrets never reach the console or the debug file (raw,
 * JSON-escaped, overlapping, straddling the cut, via the lws and MHD routes),
 * nor do the apikeys of 700 devices and 650 server replies (issue 9 item 4);
 * a client byte never starts a line (item 5); the file is 0600, refused when it
 * is not a regular file of ours, and capped; levels filter the console only;
 * long lines are cut; lines never interleave; per-peer budgets, the console
 * hook and log_redact work as log.h says. */
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
	/* raw pw, escaped pw, pw escaped twice, key (escapes to itself) */
	CHECK_INT(c.log.secrets.n, 4);
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
	CHECK(strstr(c.con_buf,
		     "warning: json: {\"password\":\"***\",\"apikey\":\"<redacted>\"}\n"));
	CHECK(strstr(c.con_buf, "error: json at the end \"***\n") != NULL);
	CHECK(strstr(c.con_buf, "\"password\":\\t\"***\"") != NULL); /* tab escaped */
	CHECK(strstr(c.con_buf, "mhd: Failed for '***'\n") != NULL);
	CHECK(strstr(c.con_buf, "error: lws: lws saw ***\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: lws: lws json ***\n") != NULL); /* timestamp gone */
	CHECK(strstr(file, " WARN: json: {\"password\":\"***\",\"apikey\":\"<redacted>\"}\n"));
	CHECK(strstr(file, " DEBUG: debug only: ***\n") != NULL);
	CHECK(strstr(file, " INFO: multi\\nline ***\\nvalue\n") != NULL); /* one line */
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
	CHECK_INT(c.log.secrets.n, 4);
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
	struct capture c;
	char big[LOG_SECRET_MAX + 2];
	char name[32], *file;
	int r = 0;
	unsigned added = 0;

	capture_open(&c, "table.log", LOG_NOTICE);
	/* Too long for the slack: refused rather than redacted unreliably. */
	memset(big, 'k', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(log_add_secret(&c.log, big), -E2BIG);
	big[LOG_SECRET_MAX] = '\0';
	CHECK_INT(log_add_secret(&c.log, big), 0);
	/* 64 quotes escape to 128 bytes (256 twice): fine. */
	memset(big, '"', 64);
	big[64] = '\0';
	CHECK_INT(log_add_secret(&c.log, big), 0);
	CHECK_INT(c.log.secrets.n, 4);
	CHECK(!c.log.secrets_lost);
	/* No small table: far more than the 16 slots of old. */
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "secret-%u", i);
		CHECK_MSG(log_add_secret(&c.log, name) == 0, "secret %u refused", i);
	}
	log_notice(&c.log, "first secret-0 last secret-4999 middle secret-2500.");
	/* Until the set is full: then the add fails and, to be safe, every later
	 * line is withheld (the secret could be in any of them). */
	for (unsigned i = 5000; r == 0 && i < 2 * REDACT_SECRETS_MAX; i++, added++) {
		snprintf(name, sizeof(name), "secret-%u", i);
		r = log_add_secret(&c.log, name);
	}
	CHECK_INT(r, -ENOSPC);
	CHECK_INT(c.log.secrets.n, REDACT_SECRETS_MAX);
	CHECK(c.log.secrets_lost);
	log_notice(&c.log, "this line holds %s", name);
	char red[64];
	log_redact(&c.log, name, true, red, sizeof(red));
	CHECK_STR(red, "(withheld)");
	capture_close(&c, &file);
	CHECK(strstr(c.con_buf, "first *** last *** middle ***.\n") != NULL);
	CHECK(strstr(c.con_buf, name) == NULL);
	CHECK(strstr(c.con_buf, "(line withheld: a secret could not be registered") != NULL);
	CHECK(strstr(file, name) == NULL);
	CHECK(strstr(file, "NOTICE: (line withheld") != NULL);
	free(file);
	free(c.con_buf);

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
	CHECK_STR(c.con_buf, "error: e 1\nwarning: w\nn\n"
			     "ctl \\x1b[31mred\\x1b[0m \\r tab\\tend\\x7f\n");

	/* "YYYY-MM-DD HH:MM:SS.mmm LEVEL: msg", every level. */
	static const char *const want[] = {
		"ERROR: e 1", "WARN: w", "NOTICE: n", "INFO: i", "DEBUG: d",
		"NOTICE: ctl \\x1b[31mred\\x1b[0m \\r tab\\tend\\x7f", "DEBUG: clamped to debug",
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

/* A distinct apikey-like UUID for device i (kind 'd') or server key i ('s'). */
static void
make_key(char kind, unsigned i, char *buf, size_t len)
{
	snprintf(buf, len, "%08x-%04x-4%03x-8%03x-%012llx", 0x5eed0000u + i * 7919u,
		 kind == 'd' ? 0xd0d0u : 0x5e5eu, i % 4096u, (i * 13u) % 4096u,
		 (kind == 'd' ? 0xd00000000000ull : 0x5e0000000000ull) + i * 104729ull);
}

#define SCALE_DEVICES 700
#define SCALE_SERVER_KEYS 650

/* Issue 9 item 4: with 12 devices the old 16-entry table let apikeys through;
 * after a few hundred, almost all. Every key of 700 devices and 650 server
 * replies, in every shape a line can carry it, must be masked, whether or not
 * it was registered. */
static void
test_apikeys_at_scale(void)
{
	struct capture c;
	char *file;
	char key[64], id[16];

	capture_open(&c, "scale.log", LOG_DEBUG);
	for (unsigned i = 0; i < SCALE_DEVICES; i++) {
		make_key('d', i, key, sizeof(key));
		snprintf(id, sizeof(id), "10000%05u", i);
		/* What cloud.c does today: register, then log the frame. Half of the
		 * devices are never registered: structure alone must do. */
		if (i % 2 == 0)
			CHECK_INT(log_add_secret(&c.log, key), 0);
		log_debug(&c.log, "ws 192.168.1.%u >> {\"action\":\"register\",\"apikey\":\"%s\","
			  "\"deviceid\":\"%s\",\"romVersion\":\"1.5.5\"}", i % 250, key, id);
		log_notice(&c.log, "dispatch body {\"accept\":\"ws\",\"apikey\" :  \"%s\"}", key);
		log_info(&c.log, "embedded {\"frame\":\"{\\\"apikey\\\":\\\"%s\\\",\\\"x\\\":1}\"}",
			 key);
		log_warn(&c.log, "spaced {\"deviceid\":\"%s\",\"APIKEY\"\t:\n\"%s\"}", id, key);
		if (i % 2 == 0)
			log_info(&c.log, "registered key in plain text: %s.", key);
	}
	for (unsigned i = 0; i < SCALE_SERVER_KEYS; i++) {
		make_key('s', i, key, sizeof(key));
		if (i % 2 == 1)
			CHECK_INT(log_add_secret(&c.log, key), 0);
		log_debug(&c.log, "ws 10.0.0.%u << {\"error\":0,\"deviceid\":\"10000%05u\","
			  "\"apikey\":\"%s\",\"config\":{\"hb\":1,\"hbInterval\":145}}",
			  i % 250, i, key);
		/* A reply as cJSON pretty-prints it. */
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "error", 0);
		cJSON_AddStringToObject(o, "apikey", key);
		char *dump = cJSON_Print(o);
		log_debug(&c.log, "<< %s", dump);
		/* ... and that dump escaped into another JSON string. */
		char *inner = json_escaped(dump);
		log_debug(&c.log, "{\"sent\":\"%s\"}", inner);
		free(inner);
		free(dump);
		cJSON_Delete(o);
	}
	capture_close(&c, &file);

	unsigned leaked_con = 0, leaked_file = 0;
	for (unsigned i = 0; i < SCALE_DEVICES + SCALE_SERVER_KEYS; i++) {
		if (i < SCALE_DEVICES)
			make_key('d', i, key, sizeof(key));
		else
			make_key('s', i - SCALE_DEVICES, key, sizeof(key));
		/* 12 hex digits of the tail are unique to the key. */
		const char *tail = key + 24;
		leaked_con += strstr(c.con_buf, tail) != NULL;
		leaked_file += strstr(file, tail) != NULL;
	}
	CHECK_INT(leaked_con, 0);
	CHECK_INT(leaked_file, 0);
	/* The masks are where the keys were, and the rest of each line stays. */
	CHECK(strstr(file, "\"apikey\":\"<redacted>\",\"deviceid\":\"1000000699\"") != NULL);
	CHECK(strstr(file, "\"apikey\" :  \"<redacted>\"}") != NULL);
	CHECK(strstr(file, "{\\\"apikey\\\":\\\"<redacted>\\\",\\\"x\\\":1}") != NULL);
	CHECK(strstr(file, "\"APIKEY\"\\t:\\n\"<redacted>\"}") != NULL);
	CHECK(strstr(file, "registered key in plain text: ***.") != NULL);
	CHECK(strstr(file, "\\\"apikey\\\":\\t\\\"<redacted>\\\"") != NULL);
	CHECK(strstr(c.con_buf, "dispatch body {\"accept\":\"ws\",\"apikey\" :  \"<redacted>\"}\n"));
	free(file);
	free(c.con_buf);
}

/* Count the lines of text. */
static unsigned
count_lines(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* Issue 9 item 5: a websocket frame with a newline wrote a forged entry of ours
 * into the debug log. Every control byte and invalid UTF-8 byte from a client
 * is escaped; one call is one line. */
static void
test_injection(void)
{
	static const char forged[] =
		"{\"action\":\"update\"}\n2026-12-04 08:00:00.000 NOTICE: device 1000000001 "
		"downloaded and verified the intermediate image\r\n\x1b[2K\x1b]0;title\x07"
		"\x00tail";
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "plain ascii", "plain ascii" },
		{ "utf8 \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", "utf8 \xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "nl\ncr\rtab\tbell\x07" "del\x7f", "nl\\ncr\\rtab\\tbell\\x07del\\x7f" },
		{ "esc \x1b[31m", "esc \\x1b[31m" },
		{ "lone \xff\xfe", "lone \\xff\\xfe" },
		{ "overlong \xc0\xaf \xe0\x80\xaf", "overlong \\xc0\\xaf \\xe0\\x80\\xaf" },
		{ "surrogate \xed\xa0\x80", "surrogate \\xed\\xa0\\x80" },
		{ "too big \xf4\x90\x80\x80", "too big \\xf4\\x90\\x80\\x80" },
		{ "cut \xe2\x82", "cut \\xe2\\x82" },
		{ "cont \x80 then a", "cont \\x80 then a" },
		{ "c1 csi \xc2\x9b" "2J", "c1 csi \\xc2\\x9b2J" },
		{ "line sep \xe2\x80\xa8 para \xe2\x80\xa9", "line sep \\xe2\\x80\\xa8 para \\xe2\\x80\\xa9" },
		{ "max \xf4\x8f\xbf\xbf", "max \xf4\x8f\xbf\xbf" },
	};
	struct capture c;
	char *file;

	capture_open(&c, "inject.log", LOG_DEBUG);
	/* The frame as cloud.c logs it: "%.*s" with the frame's length, NUL included. */
	log_debug(&c.log, "ws 192.168.1.66 >> %.*s", (int)sizeof(forged) - 1, forged);
	call_mhd(&c.log, "Error in request from %s\n", "a\nb\r\n");
	log_route_lws(&c.log);
	lwsl_warn("peer sent\n%s\n", "forged\nline");
	capture_close(&c, &file);
	CHECK_INT(count_lines(c.con_buf), 3);
	CHECK_INT(count_lines(file), 3);
	CHECK(strstr(file, "\n2026-12-04 08:00:00.000") == NULL);
	CHECK(strstr(file, " DEBUG: ws 192.168.1.66 >> {\"action\":\"update\"}\\n2026-12-04 "
			   "08:00:00.000 NOTICE: device 1000000001 downloaded and verified the "
			   "intermediate image\\r\\n\\x1b[2K\\x1b]0;title\\x07\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: mhd: Error in request from a\\nb\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: lws: peer sent\\nforged\\nline\n") != NULL);
	for (const char *p = file; *p; p++)
		CHECK_MSG(*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7f),
			  "raw control byte 0x%02x in the file", (unsigned char)*p);
	free(file);
	free(c.con_buf);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char want[256];

		capture_open(&c, "inject-row.log", LOG_NOTICE);
		log_notice(&c.log, "%s", rows[i].in);
		capture_close(&c, &file);
		snprintf(want, sizeof(want), "%s\n", rows[i].want);
		CHECK_MSG(strcmp(c.con_buf, want) == 0, "row %zu: \"%s\"", i, c.con_buf);
		free(file);
		free(c.con_buf);
		unlink(c.path);
	}
}

/* Issue 9 item 6: the debug file is capped; one line says so, the console goes on. */
static void
test_file_cap(void)
{
	struct capture c;
	struct stat st;
	char *file;

	capture_open(&c, "cap.log", LOG_NOTICE);
	CHECK(c.log.file_max == LOG_FILE_MAX_DEFAULT && LOG_FILE_MAX_DEFAULT == 64ull << 20);
	log_set_file_max(&c.log, 4096);
	for (int i = 0; i < 200; i++)
		log_notice(&c.log, "line %03d of a client that floods the log", i);
	CHECK(!log_enabled(&c.log, LOG_DEBUG)); /* nothing takes debug lines any more */
	capture_close(&c, &file);
	CHECK_INT(stat(c.path, &st), 0);
	CHECK_MSG(st.st_size <= 4096 && st.st_size > 3000, "file size %lld",
		  (long long)st.st_size);
	/* The last line is the note, and it comes once. */
	char *last = strrchr(file, '\n');
	*last = '\0';
	last = strrchr(file, '\n');
	CHECK(last && strstr(last, " WARN: this debug log reached its cap of 4096 bytes; further "
				   "lines go to the console only") != NULL);
	CHECK(strstr(file, "reached its cap") == strstr(last ? last : file, "reached its cap"));
	CHECK(strstr(file, "line 000 of") != NULL);
	CHECK(strstr(file, "line 199 of") == NULL);
	/* The console has every line, and one warning about the cap. */
	CHECK_INT(count_lines(c.con_buf), 201);
	CHECK(strstr(c.con_buf, "line 199 of a client that floods the log\n") != NULL);
	CHECK(strstr(c.con_buf, "warning: the debug log reached its cap of 4096 bytes") != NULL);
	free(file);
	free(c.con_buf);

	/* 0: no cap. */
	capture_open(&c, "nocap.log", LOG_ERR);
	log_set_file_max(&c.log, 0);
	for (int i = 0; i < 200; i++)
		log_notice(&c.log, "line %03d of a client that floods the log", i);
	capture_close(&c, &file);
	CHECK_INT(count_lines(file), 200);
	free(file);
	free(c.con_buf);
}

/* Issue 9 item 6: client-driven lines are limited per peer. */
static void
test_peer_limit(void)
{
	struct capture c;
	char *file, want[128];
	unsigned allowed = 0;

	capture_open(&c, "peers.log", LOG_NOTICE);
	for (int i = 0; i < LOG_PEER_BURST + 50; i++)
		if (log_peer_allow_at(&c.log, "192.168.1.66", 1000))
			allowed++, log_notice(&c.log, "binary frame %d from 192.168.1.66", i);
	CHECK_INT(allowed, LOG_PEER_BURST);
	/* Another peer has its own budget. */
	CHECK(log_peer_allow_at(&c.log, "192.168.1.67", 1000));
	/* One second refills LOG_PEER_RATE lines; the first says what was hidden. */
	allowed = 0;
	for (int i = 0; i < 2 * LOG_PEER_RATE; i++)
		allowed += log_peer_allow_at(&c.log, "192.168.1.66", 2000);
	CHECK_INT(allowed, LOG_PEER_RATE);
	/* Ten more refused, reported at close. */
	capture_close(&c, &file);
	snprintf(want, sizeof(want), "warning: \u2026 50 lines from 192.168.1.66 suppressed\n");
	CHECK(strstr(c.con_buf, want) != NULL);
	/* (capture_close ends the console first: the close report is in the file) */
	snprintf(want, sizeof(want), " WARN: \u2026 %d lines from 192.168.1.66 suppressed\n",
		 LOG_PEER_RATE);
	CHECK(strstr(file, want) != NULL);
	CHECK(strstr(file, " WARN: \u2026 50 lines from 192.168.1.66 suppressed\n") != NULL);
	CHECK(strstr(c.con_buf, "192.168.1.67 suppressed") == NULL);
	free(file);
	free(c.con_buf);

	/* A full table reuses the slot seen longest ago: a flood of new peers
	 * takes bounded memory, and the refusals of a forgotten peer are still
	 * counted at close. */
	capture_open(&c, "peers-full.log", LOG_NOTICE);
	for (int i = 0; i < LOG_PEER_BURST + 3; i++)
		log_peer_allow_at(&c.log, "10.0.0.1", 5);
	for (unsigned i = 0; i < LOG_PEERS_MAX; i++) {
		char peer[32];

		snprintf(peer, sizeof(peer), "10.1.%u.%u", i / 256, i % 256);
		CHECK(log_peer_allow_at(&c.log, peer, 10 + i));
	}
	/* 10.0.0.1 was forgotten: a fresh budget. */
	CHECK(log_peer_allow_at(&c.log, "10.0.0.1", 20000));
	capture_close(&c, &file);
	CHECK(strstr(file, " WARN: \u2026 3 lines from peers no longer tracked suppressed\n"));
	free(file);
	free(c.con_buf);
}

struct peer_race {
	struct log *log;
	unsigned allowed;
};

static void *
peer_thread(void *arg)
{
	struct peer_race *r = arg;

	for (int i = 0; i < 20000; i++)
		r->allowed += log_peer_allow_at(r->log, "192.168.1.99", 777);
	return NULL;
}

/* The MHD thread and the loop thread may ask for the same peer at once: the
 * budget is spent exactly once. */
static void
test_peer_threads(void)
{
	struct log l;
	struct peer_race r[2];
	pthread_t t[2];

	CHECK_INT(log_open(&l, NULL, LOG_ERR), 0);
	for (int i = 0; i < 2; i++) {
		r[i] = (struct peer_race){ .log = &l };
		pthread_create(&t[i], NULL, peer_thread, &r[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(r[0].allowed + r[1].allowed, LOG_PEER_BURST);
	l.console = NULL;
	log_close(&l);
}

struct hook_log {
	char calls[64];
	unsigned n;
};

static void
hook_record(void *arg, FILE *console, enum log_console_phase phase)
{
	struct hook_log *h = arg;

	if (h->n + 1 < sizeof(h->calls))
		h->calls[h->n++] = phase == LOG_CONSOLE_BEFORE ? 'B' : 'A';
	fputs(phase == LOG_CONSOLE_BEFORE ? "<" : ">", console);
}

static void
write_x(void *arg, FILE *console)
{
	fputs(arg, console);
}

/* The console hook brackets every console line and only console lines. */
static void
test_console_hook(void)
{
	struct capture c;
	struct hook_log h = { 0 };
	char *file;

	capture_open(&c, "hook.log", LOG_NOTICE);
	log_set_console_hook(&c.log, hook_record, &h);
	log_notice(&c.log, "one");
	log_debug(&c.log, "file only");
	log_console_write(&c.log, write_x, (char *)"[bar]");
	log_warn(&c.log, "two");
	log_set_console_hook(&c.log, NULL, NULL);
	log_notice(&c.log, "three");
	capture_close(&c, &file);
	CHECK_STR(h.calls, "BABA");
	CHECK_STR(c.con_buf, "<one\n>[bar]<warning: two\n>three\n");
	free(file);
	free(c.con_buf);
}

/* log_redact: the same masks for outputs that are not lines; escapes per use. */
static void
test_log_redact(void)
{
	struct log l;
	char out[64];

	CHECK_INT(log_open(&l, NULL, LOG_NOTICE), 0);
	CHECK_INT(log_add_secret(&l, "hunter2!"), 0);
	CHECK_INT(log_redact(&l, "pw hunter2! {\"apikey\":\"k-1\"} a\nb\xff", false, out,
			     sizeof(out)), strlen(out));
	CHECK_STR(out, "pw *** {\"apikey\":\"<redacted>\"} a\\nb\\xff");
	log_redact(&l, "pw hunter2! {\"apikey\":\"k-1\"} a\nb\xff", true, out, sizeof(out));
	CHECK_STR(out, "pw *** {\"apikey\":\"<redacted>\"} a\nb\\xff");
	/* Cut to fit, never inside an escape. */
	CHECK_INT(log_redact(&l, "abcdef\x01\x01\x01", false, out, 16), 13);
	CHECK_STR(out, "abcdef\\x01...");
	log_close(&l);
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
	test_apikeys_at_scale();
	test_injection();
	test_file_cap();
	test_peer_limit();
	test_peer_threads();
	test_console_hook();
	test_log_redact();

	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}

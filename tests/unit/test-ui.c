/* Unit tests for ui: a progress bar and console lines from other threads never
 * share a terminal line (the console is a memory stream marked as a terminal,
 * replayed through a tiny terminal model); --json values are escaped and
 * redacted, one valid JSON object per line. */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "redact.h"
#include "ui.h"

#define ERASE "\r\033[K"

/* Replay console output as a terminal shows it: ERASE empties the current row,
 * "\n" ends it. Returns the finished rows as one "\n"-joined string (malloc'd)
 * and the unfinished row in *ret_open (malloc'd). A stray "\r" or escape byte
 * counts as a failure: the bar may only use ERASE. */
static char *
terminal(const char *out, char **ret_open)
{
	size_t n = strlen(out);
	char *rows = calloc(1, n + 1), *row = calloc(1, n + 1);
	size_t nrows = 0, nrow = 0;

	for (size_t i = 0; i < n;) {
		if (strncmp(out + i, ERASE, strlen(ERASE)) == 0) {
			nrow = 0;
			i += strlen(ERASE);
			continue;
		}
		if (out[i] == '\r' || out[i] == '\033')
			CHECK_MSG(0, "stray control at %zu", i);
		if (out[i] == '\n') {
			memcpy(rows + nrows, row, nrow);
			nrows += nrow;
			rows[nrows++] = '\n';
			nrow = 0;
		} else {
			row[nrow++] = out[i];
		}
		i++;
	}
	row[nrow] = '\0';
	*ret_open = row;
	return rows;
}

struct console {
	struct log log;
	char *buf;
	size_t len;
};

static void
console_open(struct console *c, int level)
{
	memset(c, 0, sizeof(*c));
	CHECK_INT(log_open(&c->log, NULL, level), 0);
	c->log.console = open_memstream(&c->buf, &c->len);
}

static void
console_close(struct console *c)
{
	fclose(c->log.console);
	c->log.console = NULL;
	log_close(&c->log);
}

static void
test_bar_and_lines(void)
{
	struct console c;
	struct ui u;
	char *open, *rows;

	console_open(&c, LOG_NOTICE);
	ui_init(&u, &c.log, false);
	u.tty = true; /* the memory stream plays a terminal */
	ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", 0, 1000);
	ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", 500, 1000);
	/* A line of the image server (in sonota-c from the MHD thread). */
	log_warn(&c.log, "mhd: connection from 192.168.1.66 closed by remote peer");
	ui_say(&u, "a status line");
	ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", 700, 1000);
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK_STR(rows, "warning: mhd: connection from 192.168.1.66 closed by remote peer\n"
			"a status line\n");
	/* 80 columns (the stream has no size): the key is cut to fit. */
	CHECK_STR(open, "  10000abcde image_user2-0 [#####################.........]  70% "
			"700/1000 bytes");
	free(rows);
	free(open);
	/* A bar not updated for UI_BAR_STALE_MS is not drawn again after a line. */
	u.bar_ms -= UI_BAR_STALE_MS + 1;
	log_notice(&c.log, "much later");
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK(strstr(rows, "a status line\nmuch later\n") != NULL);
	CHECK_STR(open, "");
	free(rows);
	free(open);
	ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", 800, 1000);
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK(strstr(open, "  10000abcde image_user2-0 [") == open);
	free(rows);
	free(open);
	/* The end of the transfer erases the bar for good. */
	ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", 1000, 1000);
	log_notice(&c.log, "after");
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK(strstr(rows, "\nafter\n") != NULL);
	CHECK_STR(open, "");
	free(rows);
	free(open);
	/* ui_fini unhooks: the log may outlive the ui. */
	ui_progress(&u, "x", "y", 1, 10);
	ui_fini(&u);
	CHECK(c.log.hook == NULL);
	log_notice(&c.log, "last");
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK(strstr(rows, "\nafter\nlast\n") != NULL);
	free(rows);
	free(open);
	ui_fini(&u); /* twice is fine */
	console_close(&c);
	free(c.buf);
}

/* A client-chosen device id with terminal escapes is escaped in the bar, and
 * a long one is cut so the bar never wraps (erasing one row would leave the
 * rest on screen). */
static void
test_bar_escaped(void)
{
	struct console c;
	struct ui u;
	char *open, *rows;

	console_open(&c, LOG_NOTICE);
	ui_init(&u, &c.log, false);
	u.tty = true;
	ui_progress(&u, "dev\033]0;x\007\r\nid", "f.bin", 1, 2);
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK_STR(rows, "");
	CHECK(strstr(open, "  dev\\x1b]0;x\\x07\\r\\nid f.bin [") == open);
	free(rows);
	free(open);
	ui_progress(&u, "a-very-long-device-name-that-goes-on-and-on-and-on-and-on",
		    "image_user2-0x81000.bin", 1, 2);
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK_MSG(strlen(open) < 80, "bar of %zu columns: %s", strlen(open), open);
	free(rows);
	free(open);
	ui_fini(&u);
	console_close(&c);
	free(c.buf);
}

#define THREAD_LINES 3000

static void *
logger_thread(void *arg)
{
	struct log *l = arg;

	for (int i = 0; i < THREAD_LINES; i++)
		log_notice(l, "mhd: line %d from the image server thread", i);
	return NULL;
}

/* The bar is drawn on one thread while another logs: every finished row is a
 * whole log line, never a bar or a mix. */
static void
test_bar_threads(void)
{
	struct console c;
	struct ui u;
	pthread_t t;
	char *open, *rows;
	unsigned good = 0, bad = 0;

	console_open(&c, LOG_NOTICE);
	ui_init(&u, &c.log, false);
	u.tty = true;
	pthread_create(&t, NULL, logger_thread, &c.log);
	for (uint64_t i = 0; i < 20000; i++)
		ui_progress(&u, "10000abcde", "image_user2-0x81000.bin", i % 9999, 10000);
	pthread_join(t, NULL);
	fflush(c.log.console);
	rows = terminal(c.buf, &open);
	CHECK(1); /* terminal() checks only on failure */
	for (char *p = rows, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		int n = -1;

		*nl = '\0';
		if (sscanf(p, "mhd: line %*d from the image server thread%n", &n) == 0 &&
		    n == (int)strlen(p))
			good++;
		else if (bad++ < 3)
			fprintf(stderr, "mixed row: \"%s\"\n", p);
	}
	CHECK_INT(good, THREAD_LINES);
	CHECK_INT(bad, 0);
	free(rows);
	free(open);
	ui_fini(&u);
	console_close(&c);
	free(c.buf);
}

/* Parse every line of out as JSON; return them as an array (caller deletes). */
static cJSON *
json_lines(const char *out)
{
	cJSON *all = cJSON_CreateArray();

	for (const char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1) {
		cJSON *o = cJSON_ParseWithLength(p, (size_t)(nl - p));

		CHECK_MSG(o != NULL, "not JSON: %.*s", (int)(nl - p), p);
		if (o)
			cJSON_AddItemToArray(all, o);
	}
	return all;
}

static const char *
field(cJSON *all, int i, const char *key)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(all, i), key);

	return cJSON_IsString(v) ? v->valuestring : "(missing)";
}

static void
test_json(void)
{
	struct console c;
	struct ui u;
	char *jbuf;
	size_t jlen;

	console_open(&c, LOG_ERR);
	ui_init(&u, &c.log, false);
	u.json = open_memstream(&jbuf, &jlen);
	CHECK_INT(log_add_secret(&c.log, "s3cret-pw"), 0);
	ui_json(&u, "device", "deviceid", "id\"with\\quotes\nand\r\ncontrols\x01\x1b[2J", "model",
		"bad utf8 \xff\xc0\xaf ok \xc3\xbc", "frame",
		"{\"apikey\":\"9f1c2d3e-7e6d-4bbb-8ccc-0123456789ab\",\"x\":1}", "pw",
		"is s3cret-pw", "none", NULL, NULL);
	ui_say(&u, "say \"%s\"\n{\"apikey\" : \"k-42\"}", "s3cret-pw");
	ui_transition(&u, "a\nb", "ev", "c");
	ui_progress(&u, "who\n1", "file\"2", 5, 10);
	ui_json_int(&u, "exit", "code", -3);
	/* A secret that straddles LOG_LINE_MAX is still seen whole. */
	ui_say(&u, "%*s%s", LOG_LINE_MAX - 6, "", "s3cret-pw");
	fclose(u.json);
	u.json = NULL;

	/* One object per line, each valid JSON, no raw control byte anywhere. */
	for (const char *p = jbuf; *p; p++)
		CHECK_MSG(*p == '\n' || (unsigned char)*p >= 0x20, "raw byte 0x%02x",
			  (unsigned char)*p);
	CHECK(redact_utf8_len((const unsigned char *)"a", 1) == 1);
	for (size_t i = 0; i < jlen;) {
		size_t l = redact_utf8_len((const unsigned char *)jbuf + i, jlen - i);
		CHECK_MSG(l > 0, "invalid UTF-8 at %zu", i);
		i += l ? l : 1;
	}
	cJSON *all = json_lines(jbuf);
	CHECK_INT(cJSON_GetArraySize(all), 6);
	/* Values round-trip (quotes, backslashes, controls) ... */
	CHECK_STR(field(all, 0, "event"), "device");
	CHECK_STR(field(all, 0, "deviceid"), "id\"with\\quotes\nand\r\ncontrols\x01\x1b[2J");
	/* ... invalid UTF-8 becomes \xNN text ... */
	CHECK_STR(field(all, 0, "model"), "bad utf8 \\xff\\xc0\\xaf ok \xc3\xbc");
	/* ... and secrets and apikeys are masked as in the log. */
	CHECK_STR(field(all, 0, "frame"), "{\"apikey\":\"<redacted>\",\"x\":1}");
	CHECK_STR(field(all, 0, "pw"), "is ***");
	CHECK_STR(field(all, 0, "none"), "");
	CHECK_STR(field(all, 1, "text"), "say \"***\"\n{\"apikey\" : \"<redacted>\"}");
	CHECK_STR(field(all, 2, "from"), "a\nb");
	CHECK_STR(field(all, 3, "who"), "who\n1");
	CHECK_STR(field(all, 3, "file"), "file\"2");
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 4), "code")->valuedouble == -3);
	CHECK(strlen(field(all, 5, "text")) == LOG_LINE_MAX - 3 &&
	      strcmp(field(all, 5, "text") + LOG_LINE_MAX - 9, "   ***") == 0);
	CHECK(strstr(jbuf, "s3cr") == NULL && strstr(jbuf, "k-42") == NULL &&
	      strstr(jbuf, "0123456789ab") == NULL);
	cJSON_Delete(all);
	free(jbuf);
	ui_fini(&u);
	console_close(&c);
	free(c.buf);
}

int
main(void)
{
	test_bar_and_lines();
	test_bar_escaped();
	test_bar_threads();
	test_json();
	return check_done();
}

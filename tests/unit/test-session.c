/* Unit tests for session.c: the per-device dialogue driven by device frames, with
 * a fake clock and fake UUIDs. Outgoing texts are checked by parsing them back. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "session.h"

#define H1 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2 "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define T0 INT64_C(1495370245123) /* 2017-05-21T12:37:25.123Z */

/* One simulated device connection. */
struct sim {
	const char *id;         /* deviceid */
	const char *own_key;    /* the device's own apikey (register) */
	char uuid[40];          /* the fresh UUID the caller made for this connection */
	struct session_conn c;
	struct session_env env;
	struct session_out out;
	int ret;                /* of the last session_on_text */
};

static struct session_env
env_default(void)
{
	return (struct session_env){
		.serving_host = "192.168.1.10",
		.http_port = 8080,
		.slowstream = false,
		.relay_test = true,
		.digest_user1 = H1,
		.digest_user2 = H2,
		.now_ms = T0,
		.fresh_uuid = NULL,
	};
}

static unsigned uuid_counter;
static int64_t fake_mono; /* the monotonic clock every frame is fed at (env.mono_ms) */

/* A new connection of a device (a fresh server UUID each time). s must be zeroed
 * or have been connected before: its last output is freed. */
static void
sim_connect(struct sim *s, const char *id, const char *own_key)
{
	session_out_free(&s->out);
	s->id = id;
	s->own_key = own_key;
	snprintf(s->uuid, sizeof(s->uuid), "00000000-0000-4000-8000-%012u", ++uuid_counter);
	session_conn_init(&s->c);
	s->env = env_default();
	s->env.fresh_uuid = s->uuid;
}

/* Feed one frame; the previous output is freed first. */
static int
sim_feed(struct session_table *t, struct sim *s, const char *json)
{
	session_out_free(&s->out);
	s->env.mono_ms = fake_mono;
	s->ret = session_on_text(t, &s->c, &s->env, json, strlen(json), &s->out);
	return s->ret;
}

static int
sim_register(struct session_table *t, struct sim *s, const char *model, const char *rom)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"userAgent\":\"device\",\"apikey\":\"%s\",\"deviceid\":\"%s\","
		 "\"action\":\"register\",\"version\":2,\"romVersion\":\"%s\",\"model\":\"%s\","
		 "\"ts\":933}",
		 s->own_key, s->id, rom, model);
	return sim_feed(t, s, buf);
}

static int
sim_action(struct session_table *t, struct sim *s, const char *action, const char *params)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "{\"userAgent\":\"device\",\"apikey\":\"%s\",\"deviceid\":\"%s\","
		 "\"action\":\"%s\"%s%s}",
		 s->uuid, s->id, action, params ? ",\"params\":" : "", params ? params : "");
	return sim_feed(t, s, buf);
}

static int
sim_ack(struct session_table *t, struct sim *s, const char *seq, int error)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"error\":%d,\"userAgent\":\"device\",\"apikey\":\"%s\",\"deviceid\":\"%s\","
		 "\"sequence\":\"%s\"}",
		 error, s->uuid, s->id, seq);
	return sim_feed(t, s, buf);
}

/* ---- inspecting output ----------------------------------------------------- */

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* Field of out->texts[i] (NULL if missing); the parsed copy lives until the next
 * call. */
static cJSON *last_parsed;

static cJSON *
text_json(const struct sim *s, unsigned i)
{
	cJSON_Delete(last_parsed);
	last_parsed = NULL;
	if (i >= s->out.ntexts)
		return NULL;
	last_parsed = cJSON_Parse(s->out.texts[i]);
	return last_parsed;
}

static const char *
text_field(const struct sim *s, unsigned i, const char *k)
{
	return jstr(text_json(s, i), k);
}

/* "on"/"off" of a relay command text, NULL if not one. */
static const char *
text_switch(const struct sim *s, unsigned i)
{
	cJSON *o = text_json(s, i);
	const char *a = jstr(o, "action");
	if (!a || strcmp(a, "update") != 0)
		return NULL;
	return jstr(cJSON_GetObjectItemCaseSensitive(o, "params"), "switch");
}

static const char *
text_url(const struct sim *s, unsigned i, int which)
{
	cJSON *o = text_json(s, i);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "params"),
						       "binList");
	return jstr(cJSON_GetArrayItem(list, which), "downloadUrl");
}

/* Index of the first event of this type, or -1. */
static int
find_event(const struct sim *s, enum session_event_type type)
{
	for (unsigned i = 0; i < s->out.nevents; i++)
		if (s->out.events[i].type == type)
			return (int)i;
	return -1;
}

static const struct session_event *
event(const struct sim *s, enum session_event_type type)
{
	int i = find_event(s, type);
	return i < 0 ? NULL : &s->out.events[i];
}

/* The sequence of the upgrade text in the output, "" if none. */
static void
upgrade_seq(const struct sim *s, char *buf, size_t n)
{
	buf[0] = '\0';
	for (unsigned i = 0; i < s->out.ntexts; i++) {
		const char *a = text_field(s, i, "action");
		if (a && strcmp(a, "upgrade") == 0)
			snprintf(buf, n, "%s", text_field(s, i, "sequence"));
	}
}

static void
sim_done(struct sim *s)
{
	session_out_free(&s->out);
}

/* ---- tests ------------------------------------------------------------------- */

/* register -> date -> update -> [4 toggles + upgrade] -> query -> acks, checking
 * every message. */
static void
test_full_dialogue(void)
{
	struct session_table t;
	struct sim s = { 0 };
	char want[512], seqs[5][32];
	const struct session_event *e;

	session_table_init(&t);
	sim_connect(&s, "10000b80c9", "6b2d4b2c-1f2e-4a4b-9a9f-0123456789ab");

	CHECK_INT(sim_register(&t, &s, "PSF-B04-GL", "1.5.5"), 0);
	CHECK_INT(s.out.ntexts, 1);
	snprintf(want, sizeof(want),
		 "{\"error\":0,\"deviceid\":\"10000b80c9\",\"apikey\":\"%s\","
		 "\"config\":{\"hb\":1,\"hbInterval\":145}}",
		 s.uuid);
	CHECK_STR(s.out.texts[0], want);
	CHECK(!s.out.close);
	CHECK((e = event(&s, SESSION_EV_REGISTERED)) != NULL);
	if (e) {
		CHECK_STR(e->deviceid, "10000b80c9");
		CHECK_STR(e->model, "PSF-B04-GL");
		CHECK_STR(e->rom_version, "1.5.5");
		CHECK_INT(e->attempt, 1);
		CHECK_INT(e->prev_state, SESSION_DEV_NEW);
		CHECK_INT(e->state, SESSION_DEV_REGISTERED);
	}

	CHECK_INT(sim_action(&t, &s, "date", NULL), 0);
	CHECK_INT(s.out.ntexts, 1);
	snprintf(want, sizeof(want),
		 "{\"error\":0,\"deviceid\":\"10000b80c9\",\"apikey\":\"%s\","
		 "\"date\":\"2017-05-21T12:37:25.123Z\"}",
		 s.uuid);
	CHECK_STR(s.out.texts[0], want);
	CHECK_INT(s.out.nevents, 0);

	CHECK_INT(sim_action(&t, &s, "update",
			     "{\"switch\":\"off\",\"fwVersion\":\"1.5.5\",\"rssi\":-41,"
			     "\"staMac\":\"5C:CF:7F:12:34:56\",\"startup\":\"off\"}"),
		  0);
	CHECK_INT(s.out.ntexts, 6);
	snprintf(want, sizeof(want), "{\"error\":0,\"deviceid\":\"10000b80c9\",\"apikey\":\"%s\"}",
		 s.uuid);
	CHECK_STR(s.out.texts[0], want);
	/* reported off: on, off, on, off */
	static const char *const toggles[] = { "on", "off", "on", "off" };
	for (unsigned i = 0; i < 4; i++) {
		CHECK_STR(text_switch(&s, 1 + i), toggles[i]);
		CHECK_STR(text_field(&s, 1 + i, "apikey"), s.uuid);
		CHECK_STR(text_field(&s, 1 + i, "from"), "app");
		snprintf(seqs[i], sizeof(seqs[i]), "%s", text_field(&s, 1 + i, "sequence"));
	}
	CHECK_STR(text_field(&s, 5, "action"), "upgrade");
	CHECK_STR(text_field(&s, 5, "apikey"), s.uuid);
	CHECK_STR(text_url(&s, 5, 0), "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");
	CHECK_STR(text_url(&s, 5, 1), "http://192.168.1.10:8080/ota/image_user2-0x81000.bin");
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(text_json(&s, 5), "params"), "model"),
		  "PSF-B04-GL");
	snprintf(seqs[4], sizeof(seqs[4]), "%s", text_field(&s, 5, "sequence"));
	/* first sequence is the clock, then +1 each */
	CHECK_STR(seqs[0], "1495370245123");
	CHECK_STR(seqs[4], "1495370245127");
	CHECK((e = event(&s, SESSION_EV_RELAY_TEST)) != NULL);
	if (e)
		CHECK_INT(e->sw, PROTO_SWITCH_OFF);
	CHECK((e = event(&s, SESSION_EV_UPGRADE_SENT)) != NULL);
	if (e) {
		CHECK(!e->slow);
		CHECK_INT(e->attempt, 1);
		CHECK_INT(e->sequence, 1495370245127);
		CHECK_STR(e->url_user1, "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");
		CHECK_STR(e->url_user2, "http://192.168.1.10:8080/ota/image_user2-0x81000.bin");
		CHECK_STR(e->model, "PSF-B04-GL");
		CHECK_INT(e->state, SESSION_DEV_UPGRADE_SENT);
	}
	CHECK(find_event(&s, SESSION_EV_RELAY_TEST) < find_event(&s, SESSION_EV_UPGRADE_SENT));

	CHECK_INT(sim_action(&t, &s, "query", "[\"timers\"]"), 0);
	CHECK_INT(s.out.ntexts, 1);
	snprintf(want, sizeof(want),
		 "{\"error\":0,\"deviceid\":\"10000b80c9\",\"apikey\":\"%s\",\"params\":0}", s.uuid);
	CHECK_STR(s.out.texts[0], want);

	/* acks of the toggles, out of order */
	static const unsigned order[] = { 2, 0, 3, 1 };
	for (unsigned i = 0; i < 4; i++) {
		CHECK_INT(sim_ack(&t, &s, seqs[order[i]], 0), 0);
		CHECK_INT(s.out.ntexts, 0);
		CHECK((e = event(&s, SESSION_EV_RELAY_ACK)) != NULL);
		if (e) {
			CHECK_INT(e->error, 0);
			CHECK_INT(e->sw, strcmp(toggles[order[i]], "on") == 0 ? PROTO_SWITCH_ON
									       : PROTO_SWITCH_OFF);
		}
	}
	/* the same ack again is unknown now */
	CHECK_INT(sim_ack(&t, &s, seqs[0], 0), 0);
	CHECK(event(&s, SESSION_EV_UNKNOWN_ACK) != NULL);

	const struct session_dev *d = session_find(&t, "10000b80c9");
	CHECK(d && d->state == SESSION_DEV_UPGRADE_SENT);

	CHECK_INT(sim_ack(&t, &s, seqs[4], 0), 0);
	CHECK((e = event(&s, SESSION_EV_UPGRADE_DONE)) != NULL);
	if (e) {
		CHECK_INT(e->prev_state, SESSION_DEV_UPGRADE_SENT);
		CHECK_INT(e->state, SESSION_DEV_UPGRADED);
	}
	CHECK(d && d->state == SESSION_DEV_UPGRADED && !d->slow);

	/* Nothing more is initiated; replies still come. */
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"off\"}"), 0);
	CHECK_INT(s.out.ntexts, 1);

	session_out_free(&s.out);
	session_conn_close(&t, &s.c, &s.out);
	CHECK_INT(s.out.nevents, 0); /* acked: nothing interrupted */
	CHECK(d && d->nconns == 0 && d->state == SESSION_DEV_UPGRADED);
	sim_done(&s);
}

/* The relay test leaves the relay where the device reported it. */
static void
test_relay_ends_in_reported_state(void)
{
	static const struct {
		const char *params;
		const char *want[4];
	} rows[] = {
		{ "{\"switch\":\"on\"}", { "off", "on", "off", "on" } },
		{ "{\"switch\":\"off\"}", { "on", "off", "on", "off" } },
		{ "{\"switch\":\"on\",\"power\":\"12.50\",\"startup\":\"stay\"}",
		  { "off", "on", "off", "on" } },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct session_table t;
		struct sim s = { 0 };

		session_table_init(&t);
		sim_connect(&s, "1000000001", "devkey-1");
		sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
		CHECK_INT(sim_action(&t, &s, "update", rows[r].params), 0);
		CHECK_INT(s.out.ntexts, 6);
		for (unsigned i = 0; i < 4; i++)
			CHECK_STR(text_switch(&s, 1 + i), rows[r].want[i]);
		/* the last command equals the reported state */
		CHECK_STR(text_switch(&s, 4), strstr(rows[r].params, "\"on\"") ? "on" : "off");
		sim_done(&s);
	}
}

/* No relay test: disabled, multi-channel, no params, no switch, odd switch. */
static void
test_relay_test_skipped(void)
{
	static const struct {
		bool relay_test;
		const char *params;
		const char *why;
	} rows[] = {
		{ false, "{\"switch\":\"on\"}", "disabled (--no-relay-test)" },
		{ true, "{\"switches\":[{\"switch\":\"on\",\"outlet\":0},{\"switch\":\"off\","
			"\"outlet\":1}]}", "multi-channel device (params.switches)" },
		{ true, NULL, "first update has no params" },
		{ true, "{\"fwVersion\":\"1.2.0\"}", "no params.switch in the first update" },
		{ true, "{\"switch\":\"toggle\"}", "params.switch is neither \"on\" nor \"off\"" },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct session_table t;
		const struct session_event *e;
		struct sim s = { 0 };

		session_table_init(&t);
		sim_connect(&s, "1000000002", "devkey-2");
		s.env.relay_test = rows[r].relay_test;
		sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
		CHECK_INT(sim_action(&t, &s, "update", rows[r].params), 0);
		/* update reply + upgrade only */
		CHECK_MSG(s.out.ntexts == 2, "row %zu: %u texts", r, s.out.ntexts);
		CHECK(text_switch(&s, 1) == NULL);
		CHECK_STR(text_field(&s, 1, "action"), "upgrade");
		CHECK(event(&s, SESSION_EV_RELAY_TEST) == NULL);
		CHECK((e = event(&s, SESSION_EV_RELAY_TEST_SKIPPED)) != NULL);
		if (e)
			CHECK_STR(e->text, rows[r].why);
		CHECK(event(&s, SESSION_EV_UPGRADE_SENT) != NULL);
		sim_done(&s);
	}
}

/* Sequences are unique and strictly increasing over the whole table, whatever
 * the clock does (stands still, jumps back). */
static void
test_sequences(void)
{
	static const int64_t clocks[] = { T0, T0, T0 - 60000, T0 + 5, 0, -5, T0 + 1 };
	struct session_table t;
	struct sim s[7] = { 0 };
	uint64_t last = 0;
	unsigned n = 0;
	int bad = 0;
	char id[16];

	session_table_init(&t);
	for (unsigned k = 0; k < 7; k++) {
		snprintf(id, sizeof(id), "10000000%02u", k);
		sim_connect(&s[k], strdup(id), "devkey");
		s[k].env.now_ms = clocks[k];
		sim_register(&t, &s[k], "ITA-GZ1-GL", "1.5.5");
		if (s[k].env.now_ms < 0)
			s[k].env.now_ms = 0; /* the date reply needs a valid clock; seq does not */
		sim_action(&t, &s[k], "update", "{\"switch\":\"on\"}");
		for (unsigned i = 1; i < s[k].out.ntexts; i++) {
			const char *q = text_field(&s[k], i, "sequence");
			uint64_t v = q ? strtoull(q, NULL, 10) : 0;
			if (!q || v <= last)
				bad++;
			last = v;
			n++;
		}
	}
	CHECK_INT(n, 7 * 5);
	CHECK_INT(bad, 0);
	for (unsigned k = 0; k < 7; k++) {
		free((char *)s[k].id);
		sim_done(&s[k]);
	}
}

/* An upgrade ack 404 alone does not make a device slow (issue 9: a download refused
 * for load made 129 Range-downloading devices slow for good); session_set_slow(),
 * the caller's evidence of old firmware, does, for that device only, from its next
 * connection; another device connected at the same time keeps /ota/. */
static void
test_404_slow_only_that_device(void)
{
	struct session_table t;
	struct sim a = { 0 }, b = { 0 };
	const struct session_event *e;
	char seq[32];

	session_table_init(&t);
	sim_connect(&a, "10000aaaaa", "key-a");
	sim_connect(&b, "10000bbbbb", "key-b");
	sim_register(&t, &a, "ITA-GZ1-GL", "1.5.2");
	sim_register(&t, &b, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &a, "update", "{\"switch\":\"on\"}");
	upgrade_seq(&a, seq, sizeof(seq));
	CHECK(seq[0] != '\0');

	/* the download failed, with no evidence of old firmware: still fast */
	CHECK_INT(sim_ack(&t, &a, seq, 404), 0);
	CHECK((e = event(&a, SESSION_EV_UPGRADE_FAILED_404)) != NULL);
	if (e) {
		CHECK(!e->slow);
		CHECK_INT(e->error, 404);
		CHECK_INT(e->state, SESSION_DEV_FAILED);
	}
	CHECK(!session_find(&t, "10000aaaaa")->slow);
	session_conn_close(&t, &a.c, NULL);
	sim_connect(&a, "10000aaaaa", "key-a");
	sim_register(&t, &a, "ITA-GZ1-GL", "1.5.2");
	sim_action(&t, &a, "update", "{\"switch\":\"on\"}");
	CHECK_STR(text_url(&a, 1, 0), "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");
	CHECK((e = event(&a, SESSION_EV_UPGRADE_SENT)) != NULL && !e->slow && e->attempt == 2);

	/* now the evidence (its address fetched a file without Range), then the 404 */
	CHECK_INT(session_set_slow(&t, "10000aaaaa"), 0);
	CHECK_INT(session_set_slow(&t, "10000zzzzz"), -ENOENT);
	upgrade_seq(&a, seq, sizeof(seq));
	CHECK_INT(sim_ack(&t, &a, seq, 404), 0);
	CHECK((e = event(&a, SESSION_EV_UPGRADE_FAILED_404)) != NULL);
	if (e) {
		CHECK(e->slow);
		CHECK_INT(e->state, SESSION_DEV_FAILED);
	}
	CHECK(session_find(&t, "10000aaaaa")->slow);
	CHECK(!session_find(&t, "10000bbbbb")->slow);
	CHECK_INT(session_find(&t, "10000bbbbb")->state, SESSION_DEV_REGISTERED);

	/* nothing more on a's connection: an update gets only its reply */
	CHECK_INT(sim_action(&t, &a, "update", "{\"switch\":\"on\"}"), 0);
	CHECK_INT(a.out.ntexts, 1);
	CHECK(event(&a, SESSION_EV_UPGRADE_SENT) == NULL);

	/* b, connected meanwhile, still gets /ota/ */
	sim_action(&t, &b, "update", "{\"switch\":\"off\"}");
	CHECK_STR(text_url(&b, 5, 0), "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");

	/* a reconnects: /slowota/, third attempt, no second relay test */
	session_conn_close(&t, &a.c, NULL);
	sim_connect(&a, "10000aaaaa", "key-a");
	sim_register(&t, &a, "ITA-GZ1-GL", "1.5.2");
	CHECK((e = event(&a, SESSION_EV_REGISTERED)) != NULL);
	if (e) {
		CHECK_INT(e->prev_state, SESSION_DEV_FAILED);
		CHECK_INT(e->attempt, 3);
		CHECK(e->slow);
	}
	sim_action(&t, &a, "update", "{\"switch\":\"on\"}");
	CHECK_INT(a.out.ntexts, 2);
	CHECK_STR(text_url(&a, 1, 0), "http://192.168.1.10:8080/slowota/image_user1-0x01000.bin");
	CHECK_STR(text_url(&a, 1, 1), "http://192.168.1.10:8080/slowota/image_user2-0x81000.bin");
	CHECK((e = event(&a, SESSION_EV_UPGRADE_SENT)) != NULL);
	if (e) {
		CHECK(e->slow);
		CHECK_INT(e->attempt, 3);
	}
	CHECK((e = event(&a, SESSION_EV_RELAY_TEST_SKIPPED)) != NULL);
	if (e)
		CHECK_STR(e->text, "already done on an earlier connection");

	/* b is still fast on a new connection of its own */
	session_conn_close(&t, &b.c, NULL);
	sim_connect(&b, "10000bbbbb", "key-b");
	sim_register(&t, &b, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &b, "update", "{\"switch\":\"off\"}");
	CHECK_STR(text_url(&b, 1, 0), "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");

	/* --slowstream: /slowota/ for everyone from the start */
	struct sim c = { 0 };
	sim_connect(&c, "10000ccccc", "key-c");
	c.env.slowstream = true;
	sim_register(&t, &c, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &c, "update", "{\"switch\":\"off\"}");
	CHECK_STR(text_url(&c, 5, 1), "http://192.168.1.10:8080/slowota/image_user2-0x81000.bin");
	CHECK(!session_find(&t, "10000ccccc")->slow); /* the device itself is not marked */

	sim_done(&a);
	sim_done(&b);
	sim_done(&c);
}

/* Other ack codes, unknown sequences, late acks. */
static void
test_acks(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;
	char seq[32];

	session_table_init(&t);
	sim_connect(&s, "10000dddd1", "key-d");
	sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &s, "update", "{\"switch\":\"on\"}");
	upgrade_seq(&s, seq, sizeof(seq));

	static const char *const unknown[] = { "1", "99999999999999999999", "Invalid sequence",
					       "-1", "12x" };
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		CHECK_INT(sim_ack(&t, &s, unknown[i], 0), 0);
		CHECK((e = event(&s, SESSION_EV_UNKNOWN_ACK)) != NULL);
		if (e)
			CHECK_STR(e->text, unknown[i]);
		CHECK(!s.out.close);
	}
	CHECK_INT(session_find(&t, "10000dddd1")->state, SESSION_DEV_UPGRADE_SENT);

	/* a numeric sequence matches like a string one */
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"error\":500,\"deviceid\":\"10000dddd1\",\"sequence\":%s}",
		 seq);
	CHECK_INT(sim_feed(&t, &s, buf), 0);
	CHECK((e = event(&s, SESSION_EV_UPGRADE_FAILED)) != NULL);
	if (e)
		CHECK_INT(e->error, 500);
	CHECK(!session_find(&t, "10000dddd1")->slow); /* only session_set_slow() does */
	CHECK_INT(session_find(&t, "10000dddd1")->state, SESSION_DEV_FAILED);
	CHECK_INT(session_find(&t, "10000dddd1")->failures, 1);

	/* Late ack: upgrade sent on connection 1, which closes; the device acks it on
	 * connection 2 before any update there. */
	struct sim l = { 0 };
	sim_connect(&l, "10000dddd2", "key-l");
	sim_register(&t, &l, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &l, "update", "{\"switch\":\"on\"}");
	upgrade_seq(&l, seq, sizeof(seq));
	session_out_free(&l.out);
	session_conn_close(&t, &l.c, &l.out);
	CHECK((e = event(&l, SESSION_EV_CLOSED_BEFORE_ACK)) != NULL);
	CHECK_INT(session_find(&t, "10000dddd2")->state, SESSION_DEV_INTERRUPTED);
	sim_connect(&l, "10000dddd2", "key-l");
	sim_register(&t, &l, "ITA-GZ1-GL", "1.5.5");
	CHECK_INT(sim_ack(&t, &l, seq, 0), 0);
	CHECK(event(&l, SESSION_EV_UPGRADE_DONE) != NULL);
	CHECK_INT(session_find(&t, "10000dddd2")->state, SESSION_DEV_UPGRADED);
	/* and no second upgrade on that connection */
	sim_action(&t, &l, "update", "{\"switch\":\"on\"}");
	CHECK_INT(l.out.ntexts, 1);

	sim_done(&s);
	sim_done(&l);
}

/* A connection that closes before the upgrade ack: the next connection of the
 * device gets the upgrade again. */
static void
test_closed_before_ack(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;
	char seq1[32], seq2[32];

	session_table_init(&t);
	sim_connect(&s, "10000eeee1", "key-e");
	sim_register(&t, &s, "PSC-B01-GL", "2.0.2");
	sim_action(&t, &s, "update", "{\"switch\":\"off\"}");
	upgrade_seq(&s, seq1, sizeof(seq1));
	session_out_free(&s.out);
	session_conn_close(&t, &s.c, &s.out);
	CHECK((e = event(&s, SESSION_EV_CLOSED_BEFORE_ACK)) != NULL);
	if (e) {
		CHECK_INT(e->state, SESSION_DEV_INTERRUPTED);
		CHECK_INT(e->sequence, strtoull(seq1, NULL, 10));
	}
	CHECK_INT(session_find(&t, "10000eeee1")->nconns, 0);
	CHECK_INT(s.c.dev, -1); /* reinitialised */

	sim_connect(&s, "10000eeee1", "key-e");
	sim_register(&t, &s, "PSC-B01-GL", "2.0.2");
	sim_action(&t, &s, "update", "{\"switch\":\"off\"}");
	upgrade_seq(&s, seq2, sizeof(seq2));
	CHECK(seq2[0] && strcmp(seq1, seq2) != 0);
	CHECK((e = event(&s, SESSION_EV_UPGRADE_SENT)) != NULL);
	if (e) {
		CHECK_INT(e->attempt, 2);
		CHECK_INT(e->prev_state, SESSION_DEV_REGISTERED);
		CHECK_STR(e->model, "PSC-B01-GL");
	}
	sim_done(&s);
}

/* --all holds the upgrade while this computer may leave home: the first update is
 * answered, nothing else is sent (no relay test, no upgrade), the connection is to
 * be closed; once the hold is off, the device's next connection gets both, as its
 * first attempt. */
static void
test_hold_upgrade(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;
	char seq[32];

	session_table_init(&t);
	for (int k = 0; k < 2; k++) {
		sim_connect(&s, "10000eeee2", "key-h");
		s.env.hold_upgrade = true;
		CHECK_INT(sim_register(&t, &s, "PSC-B01-GL", "2.0.2"), 0);
		CHECK(!s.out.close);
		CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"off\"}"), 0);
		CHECK_INT(s.out.ntexts, 1); /* the reply only */
		upgrade_seq(&s, seq, sizeof(seq));
		CHECK_STR(seq, "");
		CHECK(s.out.close);
		CHECK(event(&s, SESSION_EV_UPGRADE_HELD) != NULL);
		CHECK(event(&s, SESSION_EV_RELAY_TEST) == NULL);
		CHECK(event(&s, SESSION_EV_UPGRADE_SENT) == NULL);
		session_out_free(&s.out);
		session_conn_close(&t, &s.c, &s.out);
		CHECK(event(&s, SESSION_EV_CLOSED_BEFORE_ACK) == NULL);
		CHECK_INT(session_find(&t, "10000eeee2")->state, SESSION_DEV_REGISTERED);
	}
	sim_connect(&s, "10000eeee2", "key-h");
	sim_register(&t, &s, "PSC-B01-GL", "2.0.2");
	sim_action(&t, &s, "update", "{\"switch\":\"off\"}");
	upgrade_seq(&s, seq, sizeof(seq));
	CHECK(seq[0] != '\0');
	CHECK(!s.out.close);
	CHECK(event(&s, SESSION_EV_RELAY_TEST) != NULL);
	CHECK((e = event(&s, SESSION_EV_UPGRADE_SENT)) != NULL);
	if (e)
		CHECK_INT(e->attempt, 1);
	CHECK_STR(session_event_name(SESSION_EV_UPGRADE_HELD), "upgrade-held");
	sim_done(&s);
}

/* A device reconnects while its old connection is still open (half-dead TCP):
 * both work, and closing the old one does not disturb the new upgrade. */
static void
test_takeover(void)
{
	struct session_table t;
	struct sim old = { 0 }, cur = { 0 };
	const struct session_event *e;

	session_table_init(&t);
	sim_connect(&old, "10000fff01", "key-f");
	sim_register(&t, &old, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &old, "update", "{\"switch\":\"on\"}");

	sim_connect(&cur, "10000fff01", "key-f");
	sim_register(&t, &cur, "ITA-GZ1-GL", "1.5.5");
	CHECK((e = event(&cur, SESSION_EV_REGISTERED)) != NULL);
	if (e)
		CHECK_STR(e->text, "earlier connection still open");
	CHECK_INT(session_find(&t, "10000fff01")->nconns, 2);
	CHECK(strcmp(old.uuid, cur.uuid) != 0);
	CHECK_STR(text_field(&cur, 0, "apikey"), cur.uuid);
	sim_action(&t, &cur, "update", "{\"switch\":\"on\"}");
	CHECK(event(&cur, SESSION_EV_UPGRADE_SENT) != NULL);

	session_out_free(&old.out);
	session_conn_close(&t, &old.c, &old.out);
	CHECK_INT(old.out.nevents, 0); /* its upgrade is superseded, not interrupted */
	CHECK_INT(session_find(&t, "10000fff01")->state, SESSION_DEV_UPGRADE_SENT);
	CHECK_INT(session_find(&t, "10000fff01")->nconns, 1);
	sim_done(&old);
	sim_done(&cur);
}

/* Five devices at once, frames interleaved round-robin; each ends differently and
 * none affects another. */
static void
test_five_interleaved(void)
{
	static const char *const ids[5] = { "1000000a01", "1000000a02", "1000000a03", "1000000a04",
					    "1000000a05" };
	static const char *const models[5] = { "ITA-GZ1-GL", "PSC-B01-GL", "PSF-B04-GL",
					       "PSA-BHA-GL", "PSB-B04-GL" };
	static const char *const sw[5] = { "on", "off", "on", "off", "on" };
	static const int ack[5] = { 0, 404, 500, -1 /* closes */, 0 };
	struct session_table t;
	struct sim s[5] = { 0 };
	char seq[5][32];
	int bad = 0;

	session_table_init(&t);
	for (int k = 0; k < 5; k++) {
		char key[32];
		snprintf(key, sizeof(key), "own-key-%d", k);
		sim_connect(&s[k], ids[k], strdup(key));
	}
	for (int k = 0; k < 5; k++)
		bad += sim_register(&t, &s[k], models[k], "1.5.5") != 0;
	for (int k = 4; k >= 0; k--)
		bad += sim_action(&t, &s[k], "date", NULL) != 0;
	for (int k = 0; k < 5; k++) {
		char p[64];
		snprintf(p, sizeof(p), "{\"switch\":\"%s\"}", sw[k]);
		bad += sim_action(&t, &s[k], "update", p) != 0;
		/* every text is for this device with this connection's key */
		for (unsigned i = 0; i < s[k].out.ntexts; i++) {
			bad += strcmp(text_field(&s[k], i, "deviceid"), ids[k]) != 0;
			bad += strcmp(text_field(&s[k], i, "apikey"), s[k].uuid) != 0;
		}
		CHECK_INT(s[k].out.ntexts, 6);
		CHECK_STR(text_switch(&s[k], 4), sw[k]);
		CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(text_json(&s[k], 5), "params"),
			       "model"),
			  models[k]);
		upgrade_seq(&s[k], seq[k], sizeof(seq[k]));
	}
	for (int k = 0; k < 5; k++)
		bad += sim_action(&t, &s[k], "query", "[\"timers\"]") != 0;
	CHECK_INT(bad, 0);

	/* an ack for device 1's upgrade sent on device 0's connection is unknown there
	 * (and device 0 is the one identified by the frame) */
	CHECK_INT(sim_ack(&t, &s[0], seq[1], 0), 0);
	CHECK(event(&s[0], SESSION_EV_UNKNOWN_ACK) != NULL);
	CHECK_INT(session_find(&t, ids[1])->state, SESSION_DEV_UPGRADE_SENT);

	/* device 1 is old firmware: the caller saw its plain GET before its 404 */
	CHECK_INT(session_set_slow(&t, ids[1]), 0);
	for (int k = 0; k < 5; k++) {
		if (ack[k] < 0) {
			session_conn_close(&t, &s[k].c, NULL);
			continue;
		}
		CHECK_INT(sim_ack(&t, &s[k], seq[k], ack[k]), 0);
	}
	static const enum session_dev_state want[5] = {
		SESSION_DEV_UPGRADED, SESSION_DEV_FAILED, SESSION_DEV_FAILED,
		SESSION_DEV_INTERRUPTED, SESSION_DEV_UPGRADED,
	};
	static const bool want_slow[5] = { false, true, false, false, false };
	for (int k = 0; k < 5; k++) {
		const struct session_dev *d = session_find(&t, ids[k]);
		CHECK_MSG(d && d->state == want[k], "device %d: state %s, want %s", k,
			  d ? session_dev_state_name(d->state) : "(none)",
			  session_dev_state_name(want[k]));
		CHECK_MSG(d && d->slow == want_slow[k], "device %d: slow", k);
		CHECK_MSG(d && strcmp(d->model, models[k]) == 0, "device %d: model", k);
		CHECK_MSG(d && d->relay == (strcmp(sw[k], "on") == 0 ? PROTO_SWITCH_ON
								    : PROTO_SWITCH_OFF),
			  "device %d: relay", k);
	}

	/* reconnections: device 3 gets the upgrade again at /ota/, device 1 at /slowota/ */
	for (int k = 1; k <= 3; k += 2) {
		session_conn_close(&t, &s[k].c, NULL);
		sim_connect(&s[k], ids[k], s[k].own_key);
		sim_register(&t, &s[k], models[k], "1.5.5");
		sim_action(&t, &s[k], "update", "{\"switch\":\"on\"}");
		CHECK_INT(s[k].out.ntexts, 2);
		CHECK_STR(text_url(&s[k], 1, 0),
			  k == 1 ? "http://192.168.1.10:8080/slowota/image_user1-0x01000.bin"
				 : "http://192.168.1.10:8080/ota/image_user1-0x01000.bin");
	}
	for (int k = 0; k < 5; k++) {
		free((char *)s[k].own_key);
		sim_done(&s[k]);
	}
}

/* Frames the protocol does not allow never close the connection by themselves. */
static void
test_unknown_and_malformed(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;

	session_table_init(&t);
	sim_connect(&s, "1000012345", "key-u");
	sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");

	CHECK_INT(sim_action(&t, &s, "reportSubDevice", NULL), 0);
	CHECK_INT(s.out.ntexts, 0);
	CHECK(!s.out.close);
	CHECK((e = event(&s, SESSION_EV_UNKNOWN_ACTION)) != NULL);
	if (e) {
		CHECK_STR(e->text, "reportSubDevice");
		CHECK_STR(e->deviceid, "1000012345");
	}

	static const char *const junk[] = { "", "not json", "{\"action\":\"date\"}", "[]",
					    "{\"deviceid\":\"1000012345\"}" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		CHECK_INT(sim_feed(&t, &s, junk[i]), 0);
		CHECK_INT(s.out.ntexts, 0);
		CHECK(!s.out.close);
		CHECK((e = event(&s, SESSION_EV_MALFORMED)) != NULL);
		if (e) {
			CHECK_INT(e->error, -EINVAL);
			CHECK_STR(e->deviceid, "1000012345");
		}
	}
	/* the dialogue goes on */
	CHECK_INT(sim_action(&t, &s, "date", NULL), 0);
	CHECK_INT(s.out.ntexts, 1);

	/* malformed first frame: nothing bound */
	struct sim f = { 0 };
	sim_connect(&f, "1000099999", "key-f");
	CHECK_INT(sim_feed(&t, &f, "{{{"), 0);
	CHECK((e = event(&f, SESSION_EV_MALFORMED)) != NULL);
	if (e)
		CHECK_STR(e->deviceid, "");
	CHECK_INT(f.c.dev, -1);
	CHECK(session_find(&t, "1000099999") == NULL);

	/* a frame too large for PROTO_MSG_MAX */
	char *big = malloc(PROTO_MSG_MAX + 2);
	memset(big, ' ', PROTO_MSG_MAX + 1);
	big[0] = '{';
	big[PROTO_MSG_MAX] = '}';
	big[PROTO_MSG_MAX + 1] = '\0';
	CHECK_INT(sim_feed(&t, &f, big), 0);
	CHECK((e = event(&f, SESSION_EV_MALFORMED)) != NULL);
	if (e)
		CHECK_INT(e->error, -EMSGSIZE);
	free(big);

	sim_done(&s);
	sim_done(&f);
}

/* Frames before register are answered; the upgrade then uses the default model. */
static void
test_unregistered(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;

	session_table_init(&t);
	sim_connect(&s, "1000054321", "key-n");
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), 0);
	CHECK((e = event(&s, SESSION_EV_UNREGISTERED)) != NULL);
	if (e)
		CHECK_STR(e->text, "update");
	CHECK_INT(s.out.ntexts, 6);
	CHECK_STR(text_field(&s, 0, "apikey"), s.uuid);
	CHECK_STR(jstr(cJSON_GetObjectItemCaseSensitive(text_json(&s, 5), "params"), "model"),
		  "ITA-GZ1-GL");
	CHECK((e = event(&s, SESSION_EV_UPGRADE_SENT)) != NULL);
	if (e) {
		CHECK_STR(e->model, "ITA-GZ1-GL");
		CHECK_INT(e->prev_state, SESSION_DEV_NEW);
	}
	sim_done(&s);
}

/* One connection, one device. */
static void
test_deviceid_changed(void)
{
	struct session_table t;
	struct sim s = { 0 };
	const struct session_event *e;

	session_table_init(&t);
	sim_connect(&s, "10000c0001", "key-c");
	sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
	s.id = "10000c0002";
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), 0);
	CHECK(s.out.close);
	CHECK_INT(s.out.ntexts, 0);
	CHECK((e = event(&s, SESSION_EV_DEVICEID_CHANGED)) != NULL);
	if (e) {
		CHECK_STR(e->deviceid, "10000c0001");
		CHECK_STR(e->text, "10000c0002");
	}
	CHECK(session_find(&t, "10000c0002") == NULL);
	CHECK_INT(session_find(&t, "10000c0001")->state, SESSION_DEV_REGISTERED);
	sim_done(&s);
}

/* Drive a registered, connected device into one of the states an offline device
 * can be left in, then disconnect it. */
enum left_as { LEFT_REGISTERED, LEFT_INTERRUPTED, LEFT_FAILED, LEFT_SLOW, LEFT_GAVE_UP,
	       LEFT_UPGRADED };

static void
leave_as(struct session_table *t, struct sim *s, enum left_as how)
{
	char seq[32];
	int acks = how == LEFT_GAVE_UP ? SESSION_UPGRADE_FAILURES_MAX : 1;

	for (int i = 0; i < acks && how != LEFT_REGISTERED; i++) {
		if (i > 0) {
			session_conn_close(t, &s->c, NULL);
			sim_connect(s, s->id, s->own_key);
			sim_register(t, s, "ITA-GZ1-GL", "1.5.5");
		}
		sim_action(t, s, "update", "{\"switch\":\"on\"}");
		upgrade_seq(s, seq, sizeof(seq));
		if (how == LEFT_SLOW)
			session_set_slow(t, s->id);
		if (how != LEFT_INTERRUPTED)
			sim_ack(t, s, seq, how == LEFT_UPGRADED ? 0 : 404);
	}
	session_conn_close(t, &s->c, NULL);
}

/* SESSION_MAX_DEVICES. Full of connected devices, a new one is refused. Once devices
 * are offline, the least recently active one is forgotten, whatever its state
 * (issue 9: after 256 devices disconnected in mid-upgrade, every new device was
 * refused until restart). */
static void
test_device_limit(void)
{
	static struct session_table t;
	static struct sim s[SESSION_MAX_DEVICES + 1];
	static char ids[SESSION_MAX_DEVICES + 1][16];
	const struct session_event *e;
	int bad = 0;

	session_table_init(&t);
	for (int k = 0; k <= SESSION_MAX_DEVICES; k++) {
		snprintf(ids[k], sizeof(ids[k]), "20000%05d", k);
		sim_connect(&s[k], ids[k], "key");
	}
	for (int k = 0; k < SESSION_MAX_DEVICES; k++) {
		fake_mono = 1000 + k;
		bad += sim_register(&t, &s[k], "ITA-GZ1-GL", "1.5.5") != 0 || s[k].out.close;
		bad += sim_action(&t, &s[k], "update", "{\"switch\":\"on\"}") != 0;
		bad += session_find(&t, ids[k])->last_active_ms != fake_mono;
	}
	CHECK_INT(bad, 0);

	/* all connected: refused */
	struct sim *x = &s[SESSION_MAX_DEVICES];
	fake_mono = 5000;
	CHECK_INT(sim_register(&t, x, "ITA-GZ1-GL", "1.5.5"), 0);
	CHECK(x->out.close);
	CHECK_INT(x->out.ntexts, 0);
	CHECK((e = event(x, SESSION_EV_LIMIT)) != NULL);
	if (e)
		CHECK_STR(e->deviceid, ids[SESSION_MAX_DEVICES]);
	CHECK(event(x, SESSION_EV_EVICTED) == NULL);
	CHECK(session_find(&t, ids[SESSION_MAX_DEVICES]) == NULL);

	/* every device disconnects in mid-upgrade; a new device still gets in, and the
	 * least recently active one (device 0) is forgotten */
	for (int k = 0; k < SESSION_MAX_DEVICES; k++)
		session_conn_close(&t, &s[k].c, NULL);
	CHECK_INT(session_find(&t, ids[0])->state, SESSION_DEV_INTERRUPTED);
	session_conn_init(&x->c);
	CHECK_INT(sim_register(&t, x, "ITA-GZ1-GL", "1.5.5"), 0);
	CHECK(!x->out.close);
	CHECK(event(x, SESSION_EV_REGISTERED) != NULL);
	CHECK((e = event(x, SESSION_EV_EVICTED)) != NULL);
	if (e) {
		CHECK_STR(e->deviceid, ids[0]);
		CHECK_INT(e->state, SESSION_DEV_INTERRUPTED);
	}
	CHECK(find_event(x, SESSION_EV_EVICTED) < find_event(x, SESSION_EV_REGISTERED));
	CHECK(session_find(&t, ids[0]) == NULL);
	CHECK(session_find(&t, ids[1]) != NULL);
	CHECK(session_find(&t, ids[SESSION_MAX_DEVICES]) != NULL);
	sim_done(x);
	for (int k = 0; k <= SESSION_MAX_DEVICES; k++)
		sim_done(&s[k]);
}

/* Issue 9: "--max-devices 256 admitted only 255 devices in one run". One device
 * (a probe, or a real one that lost power) disconnected before acking its upgrade,
 * and an interrupted device was kept for good: it held a slot of the 256. Now all
 * SESSION_MAX_DEVICES connected devices get in. */
static void
test_all_slots_after_interrupt(void)
{
	static struct session_table t;
	static struct sim s[SESSION_MAX_DEVICES];
	static char ids[SESSION_MAX_DEVICES][16];
	struct sim probe = { 0 };
	int admitted = 0, evicted = 0;

	session_table_init(&t);
	fake_mono = 10;
	sim_connect(&probe, "40000fffff", "key");
	sim_register(&t, &probe, "ITA-GZ1-GL", "1.5.5");
	sim_action(&t, &probe, "update", "{\"switch\":\"on\"}");
	session_conn_close(&t, &probe.c, NULL);
	CHECK_INT(session_find(&t, "40000fffff")->state, SESSION_DEV_INTERRUPTED);
	for (int k = 0; k < SESSION_MAX_DEVICES; k++) {
		fake_mono = 100 + k;
		snprintf(ids[k], sizeof(ids[k]), "40000%05d", k);
		sim_connect(&s[k], ids[k], "key");
		sim_register(&t, &s[k], "ITA-GZ1-GL", "1.5.5");
		admitted += event(&s[k], SESSION_EV_REGISTERED) != NULL && !s[k].out.close;
		evicted += event(&s[k], SESSION_EV_EVICTED) != NULL;
	}
	CHECK_INT(admitted, SESSION_MAX_DEVICES);
	CHECK_INT(evicted, 1);
	CHECK(session_find(&t, "40000fffff") == NULL);
	for (int k = 0; k < SESSION_MAX_DEVICES; k++)
		sim_done(&s[k]);
	sim_done(&probe);
	fake_mono = 0;
}

/* Which offline device is forgotten: the least recently active, whatever its state;
 * a connected device never is, however old. One row per state of the older device. */
static void
test_eviction_any_state(void)
{
	static const struct {
		enum left_as how;
		const char *what;
	} rows[] = {
		{ LEFT_REGISTERED, "registered" },   { LEFT_INTERRUPTED, "interrupted" },
		{ LEFT_FAILED, "failed" },           { LEFT_SLOW, "failed, marked slow" },
		{ LEFT_GAVE_UP, "gave up" },         { LEFT_UPGRADED, "upgraded" },
	};
	static struct session_table t;
	static struct sim s[SESSION_MAX_DEVICES + 1];
	static char ids[SESSION_MAX_DEVICES + 1][16];

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct session_event *e;
		int bad = 0;

		session_table_init(&t);
		for (int k = 0; k <= SESSION_MAX_DEVICES; k++) {
			snprintf(ids[k], sizeof(ids[k]), "30000%05d", k);
			sim_connect(&s[k], ids[k], "key");
		}
		/* device 0 is the oldest and stays connected; device 5 goes offline in
		 * the row's state at t=100, device 9 offline (registered) at t=200 */
		for (int k = 0; k < SESSION_MAX_DEVICES; k++) {
			fake_mono = k == 0 ? 1 : 1000 + k;
			bad += sim_register(&t, &s[k], "ITA-GZ1-GL", "1.5.5") != 0;
		}
		fake_mono = 100;
		leave_as(&t, &s[5], rows[r].how);
		fake_mono = 200;
		leave_as(&t, &s[9], LEFT_REGISTERED);
		CHECK_MSG(bad == 0 && session_find(&t, ids[5])->nconns == 0, "%s: setup",
			  rows[r].what);

		struct sim *x = &s[SESSION_MAX_DEVICES];
		fake_mono = 300;
		sim_register(&t, x, "ITA-GZ1-GL", "1.5.5");
		e = event(x, SESSION_EV_EVICTED);
		CHECK_MSG(e && strcmp(e->deviceid, ids[5]) == 0, "%s: evicted %s", rows[r].what,
			  e ? e->deviceid : "nothing");
		CHECK_MSG(!x->out.close && session_find(&t, ids[SESSION_MAX_DEVICES]),
			  "%s: new device admitted", rows[r].what);
		CHECK_MSG(session_find(&t, ids[0]) && session_find(&t, ids[9]), "%s: kept",
			  rows[r].what);
		/* the next newcomer takes device 9's slot; then the table is full of
		 * connected devices */
		sim_connect(x, "3000099999", "key");
		sim_register(&t, x, "ITA-GZ1-GL", "1.5.5");
		e = event(x, SESSION_EV_EVICTED);
		CHECK_MSG(e && strcmp(e->deviceid, ids[9]) == 0, "%s: second eviction",
			  rows[r].what);
		sim_connect(x, "3000099998", "key");
		sim_register(&t, x, "ITA-GZ1-GL", "1.5.5");
		CHECK_MSG(event(x, SESSION_EV_LIMIT) && x->out.close, "%s: then full",
			  rows[r].what);
		for (int k = 0; k <= SESSION_MAX_DEVICES; k++)
			sim_done(&s[k]);
	}
	fake_mono = 0;
}

/* Bounded re-offers: SESSION_UPGRADE_FAILURES_MAX failed acks (any error) and the
 * device has given up for this run (issue 9: a device acking 404 was offered the
 * upgrade without end). A connection closed before the ack is not a failure. */
static void
test_give_up(void)
{
	enum { CLOSE = -1, END = -2 };
	static const struct {
		const char *what;
		int acks[6];                      /* per connection; END ends the list */
		enum session_dev_state want;
		int gave_up_at;                   /* connection whose ack gave up (1-based), 0 */
	} rows[] = {
		{ "404 404 404", { 404, 404, 404, END }, SESSION_DEV_GAVE_UP, 3 },
		{ "500 404 1", { 500, 404, 1, END }, SESSION_DEV_GAVE_UP, 3 },
		{ "404 404 0", { 404, 404, 0, END }, SESSION_DEV_UPGRADED, 0 },
		{ "404 close 404 404", { 404, CLOSE, 404, 404, END }, SESSION_DEV_GAVE_UP, 4 },
		{ "close close 404", { CLOSE, CLOSE, 404, END }, SESSION_DEV_FAILED, 0 },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct session_table t;
		struct sim s = { 0 };
		const struct session_event *e;
		char seq[32];

		session_table_init(&t);
		for (int i = 0; rows[r].acks[i] != END; i++) {
			sim_connect(&s, "10000e0001", "key-e");
			sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
			sim_action(&t, &s, "update", "{\"switch\":\"on\"}");
			upgrade_seq(&s, seq, sizeof(seq));
			CHECK_MSG(seq[0], "%s: upgrade %d sent", rows[r].what, i + 1);
			if (rows[r].acks[i] != CLOSE) {
				sim_ack(&t, &s, seq, rows[r].acks[i]);
				e = event(&s, SESSION_EV_GAVE_UP);
				CHECK_MSG(!!e == (rows[r].gave_up_at == i + 1), "%s: ack %d gave up %d",
					  rows[r].what, i + 1, !!e);
				if (e) {
					CHECK_INT(e->error, rows[r].acks[i]);
					CHECK_INT(e->attempt, SESSION_UPGRADE_FAILURES_MAX);
					CHECK_INT(e->state, SESSION_DEV_GAVE_UP);
					/* the failure event comes first and says so too */
					CHECK(find_event(&s, SESSION_EV_GAVE_UP) == 1);
					CHECK_INT(s.out.events[0].state, SESSION_DEV_GAVE_UP);
				}
			}
			session_conn_close(&t, &s.c, NULL);
		}
		const struct session_dev *d = session_find(&t, "10000e0001");
		CHECK_MSG(d && d->state == rows[r].want, "%s: state %s", rows[r].what,
			  d ? session_dev_state_name(d->state) : "(none)");

		/* next connection: a device that gave up is answered, but never offered
		 * the upgrade again, and register does not reset it */
		sim_connect(&s, "10000e0001", "key-e");
		sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5");
		sim_action(&t, &s, "update", "{\"switch\":\"on\"}");
		upgrade_seq(&s, seq, sizeof(seq));
		bool gave_up = rows[r].want == SESSION_DEV_GAVE_UP;
		CHECK_MSG(!seq[0] == gave_up, "%s: offered again %d", rows[r].what, !!seq[0]);
		if (gave_up) {
			CHECK_INT(s.out.ntexts, 1); /* the update reply */
			CHECK_INT(d->state, SESSION_DEV_GAVE_UP);
			CHECK_STR(session_dev_state_name(d->state), "gave-up");
			sim_action(&t, &s, "update", "{\"switch\":\"off\"}");
			CHECK_INT(s.out.ntexts, 1);
		}
		sim_done(&s);
	}
	CHECK_STR(session_event_name(SESSION_EV_GAVE_UP), "gave-up");
	CHECK_STR(session_event_name(SESSION_EV_EVICTED), "evicted");
}

/* Caller bugs in env are errors, not silent misbehaviour. */
static void
test_env_errors(void)
{
	struct session_table t;
	struct sim s = { 0 };

	session_table_init(&t);
	sim_connect(&s, "1000077777", "same-key");

	/* server key == the device's own key */
	s.env.fresh_uuid = "same-key";
	CHECK_INT(sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5"), -EINVAL);
	s.env.fresh_uuid = NULL;
	CHECK_INT(sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5"), -EINVAL);
	s.env.fresh_uuid = "";
	CHECK_INT(sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5"), -EINVAL);
	s.env.fresh_uuid = s.uuid;
	CHECK_INT(sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5"), 0);
	CHECK_STR(text_field(&s, 0, "apikey"), s.uuid);
	/* registering again with the key we issued is only an echo, not a bug */
	s.own_key = s.uuid;
	CHECK_INT(sim_register(&t, &s, "ITA-GZ1-GL", "1.5.5"), 0);
	CHECK_STR(text_field(&s, 0, "apikey"), s.uuid);

	s.env.now_ms = -1;
	CHECK_INT(sim_action(&t, &s, "date", NULL), -EINVAL);
	s.env.now_ms = T0;

	s.env.digest_user1 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), -EINVAL);
	CHECK_INT(s.out.ntexts, 0); /* nothing sent */
	s.env.digest_user1 = H1;
	s.env.digest_user2 = NULL;
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), -EINVAL);
	s.env.digest_user2 = H2;
	s.env.serving_host = "";
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), -EINVAL);
	char host[400];
	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	s.env.serving_host = host;
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), -EINVAL);
	CHECK_INT(session_find(&t, "1000077777")->state, SESSION_DEV_REGISTERED);

	/* IPv6 literal in brackets */
	s.env.serving_host = "fd00::10";
	s.env.http_port = 18080;
	CHECK_INT(sim_action(&t, &s, "update", "{\"switch\":\"on\"}"), 0);
	CHECK_STR(text_url(&s, 5, 0), "http://[fd00::10]:18080/ota/image_user1-0x01000.bin");

	/* out must start empty; a full one gives -ENOBUFS, not an overflow */
	struct session_out full;
	memset(&full, 0, sizeof(full));
	full.ntexts = SESSION_OUT_TEXTS_MAX;
	const char *date = "{\"action\":\"date\",\"deviceid\":\"1000077777\"}";
	CHECK_INT(session_on_text(&t, &s.c, &s.env, date, strlen(date), &full), -ENOBUFS);
	sim_done(&s);
}

static void
test_names(void)
{
	for (int i = 0; i < _SESSION_EV_MAX; i++)
		CHECK_MSG(strcmp(session_event_name((enum session_event_type)i), "?") != 0,
			  "event %d has no name", i);
	for (int i = 0; i < _SESSION_DEV_STATE_MAX; i++)
		CHECK_MSG(strcmp(session_dev_state_name((enum session_dev_state)i), "?") != 0,
			  "state %d has no name", i);
	CHECK_STR(session_event_name(_SESSION_EV_MAX), "?");
	CHECK_STR(session_dev_state_name(SESSION_DEV_UPGRADED), "upgraded");
}

int
main(void)
{
	test_full_dialogue();
	test_relay_ends_in_reported_state();
	test_relay_test_skipped();
	test_sequences();
	test_404_slow_only_that_device();
	test_eviction_any_state();
	test_all_slots_after_interrupt();
	test_give_up();
	test_acks();
	test_closed_before_ack();
	test_hold_upgrade();
	test_takeover();
	test_five_interleaved();
	test_unknown_and_malformed();
	test_unregistered();
	test_deviceid_changed();
	test_device_limit();
	test_env_errors();
	test_names();
	cJSON_Delete(last_parsed);
	return check_done();
}

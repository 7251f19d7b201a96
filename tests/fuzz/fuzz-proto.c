/* Fuzz target for the JSON cores: proto_parse_device, proto_parse_device_info,
 * proto_parse_dispatch, and the session dialogue.
 *
 * The whole input goes to each parser. Then it is split at '\n' into frames that
 * are fed, in turn, to two connections of one fresh session table (frames
 * alternate between them), so multi-frame dialogues (register, update, acks) are
 * reachable. Invariants checked (abort on violation):
 *  - every text the session emits parses as JSON and is an object, and server
 *    sequences are strictly increasing (proto_check_texts, proto-check.h, whose
 *    unit test shows each check failing on a bad text);
 *  - a parsed deviceid survives a build/parse round trip;
 *  - session_on_text never fails with a valid env (only -ENOMEM could).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto-check.h"
#include "proto.h"
#include "session.h"

#define H1 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define H2 "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
#define FUZZ_MAX_FRAMES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_round_trip(const struct proto_msg *m)
{
	struct proto_msg back;
	char *s = proto_build_relay(m->deviceid, "00000000-0000-4000-8000-000000000001", 7, true);

	if (!s)
		return; /* OOM */
	if (proto_parse_device(s, strlen(s), &back) != 0 || strcmp(back.deviceid, m->deviceid) ||
	    back.type != PROTO_MSG_UPDATE || strcmp(back.sequence, "7"))
		abort();
	free(s);
}

/* Before, a text that did not parse was skipped as if cJSON had run out of memory,
 * so "every text is JSON" could never fail. */
static void
check_out(const struct session_out *out, uint64_t *last_seq)
{
	int r = proto_check_texts(out->texts, out->ntexts, last_seq);

	if (r < 0) {
		fprintf(stderr, "fuzz-proto: emitted text fails its check (%d)\n", r);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct session_table table; /* large: keep it off the stack */
	struct session_conn conns[2];
	struct session_env env = {
		.serving_host = "192.168.1.10",
		.http_port = 8080,
		.relay_test = true,
		.digest_user1 = H1,
		.digest_user2 = H2,
		.now_ms = INT64_C(1495370245123),
	};
	const char *buf = (const char *)data;
	struct proto_device_info info;
	struct proto_dispatch disp;
	struct proto_msg m;
	uint64_t last_seq = 0;
	size_t start = 0;
	unsigned nframes = 0;

	if (proto_parse_device(buf, size, &m) == 0)
		check_round_trip(&m);
	(void)proto_parse_device_info(buf, size, &info);
	(void)proto_parse_dispatch(buf, size, &disp);

	session_table_init(&table);
	session_conn_init(&conns[0]);
	session_conn_init(&conns[1]);
	for (size_t i = 0; i <= size && nframes < FUZZ_MAX_FRAMES; i++) {
		struct session_out out;
		struct session_conn *c;
		int r;

		if (i < size && data[i] != '\n')
			continue;
		c = &conns[nframes % 2];
		memset(&out, 0, sizeof(out));
		env.fresh_uuid = nframes % 2 ? "00000000-0000-4000-8000-0000000000c1"
					     : "00000000-0000-4000-8000-0000000000c0";
		env.now_ms += 3;
		r = session_on_text(&table, c, &env, buf + start, i - start, &out);
		/* -EINVAL: a device presenting the UUID we were about to issue as its own
		 * key (the caller bug check; impossible with random UUIDs). */
		if (r < 0 && r != -ENOMEM && r != -EINVAL)
			abort();
		check_out(&out, &last_seq);
		if (out.close) {
			session_out_free(&out);
			session_conn_close(&table, c, &out);
		}
		session_out_free(&out);
		start = i + 1;
		nframes++;
	}
	session_conn_close(&table, &conns[0], NULL);
	session_conn_close(&table, &conns[1], NULL);
	for (unsigned i = 0; i < SESSION_MAX_DEVICES; i++)
		if (table.devs[i].nconns)
			abort();
	return 0;
}

/* Unit test of src/wssrule.c: the TLS abort rule over crafted TCP facts, and the
 * RFC 6455 key and version checks, table-driven. */
#include "config.h"

#include <stdio.h>

#include "check.h"
#include "wssrule.h"

static void
test_abort_rule(void)
{
	/* request_seen, we_closed, tcp_known, tcp_state, bytes_acked */
#define F(req, we, known, state, acked)                                                            \
	{                                                                                          \
		.request_seen = req, .we_closed = we, .tcp_known = known, .tcp_state = state,      \
		.bytes_acked = acked                                                               \
	}
	static const struct {
		const char *what;
		struct wss_close_facts f;
		bool abort, undecided;
	} rows[] = {
	    {"peer FIN after our certificate", F(0, 0, 1, WSS_TCP_CLOSE_WAIT, 1200), 1, 0},
	    {"peer reset after our certificate", F(0, 0, 1, WSS_TCP_CLOSE, 1200), 1, 0},
	    {"peer FIN, then we closed", F(0, 0, 1, WSS_TCP_LAST_ACK, 1200), 1, 0},
	    {"a request was seen", F(1, 0, 1, WSS_TCP_CLOSE_WAIT, 1200), 0, 0},
	    {"we closed it at the handshake limit", F(0, 1, 1, WSS_TCP_CLOSE_WAIT, 1200), 0, 0},
	    {"TCP facts unknown", F(0, 0, 0, WSS_TCP_CLOSE_WAIT, 1200), 0, 0},
	    {"peer left before our answer", F(0, 0, 1, WSS_TCP_CLOSE_WAIT, 0), 0, 0},
	    {"peer reset before our answer", F(0, 0, 1, WSS_TCP_CLOSE, 0), 0, 0},
	    {"lws ended it, peer still there", F(0, 0, 1, WSS_TCP_ESTABLISHED, 1200), 0, 1},
	    {"limit ended it, peer still there", F(0, 1, 1, WSS_TCP_ESTABLISHED, 1200), 0, 0},
	    {"silent before our answer", F(0, 0, 1, WSS_TCP_ESTABLISHED, 0), 0, 0},
	    {"we closed first, peer followed", F(0, 0, 1, WSS_TCP_TIME_WAIT, 1200), 0, 0},
	    {"our FIN is in flight", F(0, 0, 1, WSS_TCP_FIN_WAIT1, 1200), 0, 0},
	};
#undef F
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK_MSG(wss_is_tls_abort(&rows[i].f) == rows[i].abort, "%s: want %s",
		          rows[i].what, rows[i].abort ? "abort" : "no abort");
		CHECK_MSG(wss_tls_abort_undecided(&rows[i].f) == rows[i].undecided, "%s: want %s",
		          rows[i].what, rows[i].undecided ? "undecided" : "decided");
	}
}

static void
test_key_version(void)
{
	static const struct {
		const char *key;
		bool want;
	} keys[] = {
	    {"ITEADTmobiM0x1DabcEsnw==", true}, /* the device's constant key */
	    {"dGhlIHNhbXBsZSBub25jZQ==", true}, /* RFC 6455 §1.3's example */
	    {"AAAAAAAAAAAAAAAAAAAAAA==", true},
	    {"++++++++++++++++++++/w==", true},
	    {"ITEADTmobiM0x1DabcEsnx==", false},  /* unused bits set */
	    {"ITEADTmobiM0x1DabcEsnw=", false},   /* 23 characters */
	    {"ITEADTmobiM0x1DabcEsnw===", false}, /* 25 */
	    {"ITEADTmobiM0x1DabcEsn===", false},  /* 15 bytes and a half */
	    {"ITEADTmobiM0x1Dabc-snw==", false},  /* base64url is not base64 */
	    {"ITEADTmobiM0x1Dabc snw==", false},
	    {"SVRFQURUbW9iaU0weDFEYWJjRXNudz09", false}, /* 24 bytes */
	    {"", false},
	    {NULL, false},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CHECK_MSG(wss_key_valid(keys[i].key) == keys[i].want, "key \"%s\": want %s",
		          keys[i].key ? keys[i].key : "(null)", keys[i].want ? "valid" : "invalid");
	CHECK(wss_version_valid("13"));
	CHECK(!wss_version_valid("8"));
	CHECK(!wss_version_valid("13 "));
	CHECK(!wss_version_valid("013"));
	CHECK(!wss_version_valid(""));
	CHECK(!wss_version_valid(NULL));
}

int
main(void)
{
	test_abort_rule();
	test_key_version();
	return check_done();
}

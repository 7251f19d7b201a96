/* proto-check: the invariants fuzz-proto asserts on every text the session emits,
 * as a function of its own, so that a unit test (test-proto-check.c) can show that
 * each one fails on a bad text instead of only ever seeing good ones. */
#pragma once

#include <stdint.h>

/* Check texts[0..n) in order: each must parse as JSON (cJSON), be an object, and a
 * "sequence" member that is a string must be a decimal number greater than
 * *last_seq, which is then updated. Returns 0, -EBADMSG (not JSON: a NULL text,
 * a syntax error, trailing bytes), -EPROTO (JSON, but not an object) or -ERANGE
 * (a sequence not above the last). cJSON cannot tell a syntax error from running
 * out of memory; the fuzzer stops at its RSS limit long before malloc fails, so
 * every unparsable text counts as a bad one. */
int proto_check_texts(char *const *texts, unsigned n, uint64_t *last_seq);

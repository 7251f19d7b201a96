/* sessionint: the session core's private helpers, shared by session.c (the
 * dialogue) and sessiontable.c (the table); not a public interface, include session.h
 * for that. Pure like the rest of session: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"

/* Copy s into dst of size n, always terminated; s longer than n-1 is cut (only
 * used for values already bounded by proto, and for event detail text). */
void session_copy_text(char *dst, size_t n, const char *s);
/* The device bound to connection c, or NULL (unbound, or its slot reused since). */
struct session_dev *session_conn_dev(struct session_table *t, const struct session_conn *c);
/* Find the device, or make room for it: a free slot, else the eviction victim
 * (reported as SESSION_EV_EVICTED in out). NULL when every slot is a connected device. */
struct session_dev *session_dev_get(struct session_table *t, const char *deviceid,
				    struct session_out *out);
/* The next command sequence: max(last + 1, now_ms), unique over the table. */
uint64_t session_next_seq(struct session_table *t, int64_t now_ms);
/* Append an event about d (may be NULL) to out; NULL when out is full. The returned
 * event belongs to out. */
struct session_event *session_ev_add(struct session_out *out, enum session_event_type type,
				     const struct session_dev *d);
/* Append text (malloc'd; out takes ownership, also on failure) to out: 0, -ENOMEM
 * for NULL text, -ENOBUFS when out is full. */
int session_text_add(struct session_out *out, char *text);
/* Remember that c awaits the ack of seq: 0, or -ENOBUFS. */
int session_pending_add(struct session_conn *c, uint64_t seq, enum session_ack_kind kind, bool on);
/* Take the pending ack of seq from c into *ret: false when none. */
bool session_pending_take(struct session_conn *c, uint64_t seq, struct session_pending *ret);

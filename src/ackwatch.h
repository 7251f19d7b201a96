/* ackwatch: has the peer really received a response?
 *
 * libmicrohttpd reports a response "completed" once every byte was handed to the
 * kernel. A 480 KB image fits in the socket buffers, so a device that drops at 50 %
 * still looks complete to MHD. For the responses that decide the outcome (the
 * FinalStage images), imgsrv hands a dup of the connection's socket here instead
 * of reporting at once; a thread watches it and pushes the EVQ_HTTP_DONE event with
 * complete = true only when the peer's TCP acknowledged every byte written
 * (SIOCOUTQ == 0) and did not reset the connection: either the peer then closed
 * cleanly (FIN), or ACKWATCH_GRACE_MS passed without a reset. A reset, a socket
 * error or ACKWATCH_TIMEOUT_MS without full acknowledgement gives complete = false.
 *
 * Every time it measures (the poll's deadline, the timeouts) is on CLOCK_MONOTONIC,
 * its condition variable included: a wall-clock step after a WiFi hop changes
 * nothing here.
 *
 * A device's TCP window is a few KB (lwIP), so "acknowledged" is within a few KB of
 * "read by the firmware"; a peer that closes with unread data resets the connection
 * (Linux and lwIP alike), which is caught here.
 */
#pragma once

#include "evq.h"

#define ACKWATCH_POLL_MS 10      /* how often pending sockets are looked at */
#define ACKWATCH_GRACE_MS 300    /* all acknowledged and no reset for this long: delivered */
#define ACKWATCH_TIMEOUT_MS 15000 /* not all acknowledged by then: not delivered */
#define ACKWATCH_MAX 64          /* sockets watched at once; beyond, not delivered */

struct ackwatch;

/* Start the watcher thread; events go to q. timeout_ms: 0 for ACKWATCH_TIMEOUT_MS
 * (tests pass less). Returns 0 or -errno. */
int ackwatch_start(struct evq *q, unsigned timeout_ms, struct ackwatch **ret);

/* Watch fd (a dup, owned from now on: closed here) and push *done, with its
 * `complete` decided as above. Thread-safe. Returns 0, or -errno when it could not
 * be watched: then done is pushed at once with complete = false and fd closed. */
int ackwatch_add(struct ackwatch *aw, int fd, const struct evq_event *done);

/* Decide what is pending (not delivered, unless already fully acknowledged), push
 * those events, join the thread and free. NULL-safe. */
void ackwatch_stop(struct ackwatch *aw);

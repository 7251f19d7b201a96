/* dispatch: POST /dispatch/device of the stock firmware (PROTOCOL §3.1). */
#ifndef DEVSIM_DISPATCH_H
#define DEVSIM_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct conn;
struct devsim;

#define DISPATCH_RETRY 2		/* server unreachable / connection lost: try again later */
#define DISPATCH_TLS 3			/* TLS handshake failed (counts toward pin_retries) */

/* Ask serverName:port for the WebSocket server, using c (closed again on return). 0 with
 * ip (ipcap bytes) and *ret_port; DISPATCH_RETRY; DISPATCH_TLS; or -errno after recording
 * DEV_EXIT_PROTOCOL for a bad reply. */
int dispatch_post(struct devsim *d, struct conn *c, char *ip, size_t ipcap, uint16_t *ret_port);

#endif

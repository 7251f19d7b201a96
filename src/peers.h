/* peers: which device talks from which address, and what each address did, for
 * progress lines, the summary and the slow-stream decision (PROTOCOL.md §3.6, §4).
 *
 * A registry owned by the composition; cloud.c binds an address to a deviceid when a
 * device calls (dispatch, register), transfers.c records what the address fetched.
 * Pure: no I/O, no logging. Also counts the distinct deviceids that called, which
 * is what "N devices seen" means (a device calls dispatch and then registers).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "evq.h"
#include "proto.h"

#define PEERS_MAX 256   /* addresses remembered (= SESSION_MAX_DEVICES: one per device at
			 * most; behind NAT several devices share one); when full the
			 * least recently bound address is reused: progress is best effort */
#define PEERS_DEVICES_MAX 256 /* distinct deviceids counted (= SESSION_MAX_DEVICES) */

struct peers_entry {
	char peer[EVQ_PEER_MAX];               /* "" = free */
	char deviceid[PROTO_DEVICEID_MAX + 1]; /* the device last seen at that address */
	uint64_t got;                          /* bytes of completed ranges of .file */
	char file[EVQ_NAME_MAX];               /* the image it downloads */
	bool plain_fetch;                      /* fetched user1/user2 with a plain GET (no
						* Range, status 200): old firmware's evidence */
	uint64_t stamp;                        /* bind order, for reuse when full */
};

struct peers {
	struct peers_entry e[PEERS_MAX];
	char devices[PEERS_DEVICES_MAX][PROTO_DEVICEID_MAX + 1]; /* distinct deviceids */
	unsigned ndevices;
	uint64_t clock; /* last stamp handed out */
};

void peers_init(struct peers *p);

/* The entry of this address, or NULL. Borrowed until the next peers_bind. */
struct peers_entry *peers_find(struct peers *p, const char *peer);

/* Bind peer to deviceid ("" keeps an existing binding) and count the deviceid once.
 * Returns the entry (never NULL: when full, the oldest is reused). */
struct peers_entry *peers_bind(struct peers *p, const char *peer, const char *deviceid);

/* Count deviceid among the devices seen. Returns true the first time. */
bool peers_note_device(struct peers *p, const char *deviceid);

/* Distinct deviceids seen (never more than PEERS_DEVICES_MAX). */
unsigned peers_devices(const struct peers *p);

/* The deviceid at this address, or NULL when unknown. */
const char *peers_deviceid(struct peers *p, const char *peer);

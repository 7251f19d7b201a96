/* verdict: what one finished image download means for the takeover. Pure.
 *
 * Only FinalStage's device counts: E2A talks from the softAP's own address
 * (VERDICT_FINAL_PEER, 192.168.4.1). A whole image_arduino.bin fetched by anyone else
 * (a browser, curl, a benchmark) says nothing about the device, and counting it
 * would report a takeover that did not happen. "Whole" means the response started
 * at byte 0, covered the file, and ended complete (MHD sent every byte and, for a
 * whole file, ackwatch saw the peer's TCP acknowledge them all).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VERDICT_FINAL_PEER "192.168.4.1"     /* E2A's address on FinalStage (softAP default) */
#define VERDICT_FINAL_FILE "image_arduino.bin"       /* the final firmware */
#define VERDICT_USER2_FILE "image_user2-0x81000.bin" /* E2A's ROM1 job fetches it first */

enum verdict {
	VERDICT_NOT_FINAL,     /* nothing to do with FinalStage (a stock download, a HEAD,
				* an error status, another file by another peer) */
	VERDICT_DELIVERED,     /* image_arduino.bin delivered in full to FinalStage's
				* device: the one fact that ends a takeover */
	VERDICT_USER2,         /* E2A fetched image_user2 in full: it reboots into it */
	VERDICT_ABORTED_RETRY, /* an E2A download ended short: not delivered, E2A retries */
	VERDICT_STRAY,         /* a whole image_arduino.bin by another peer: ignored */
	_VERDICT_MAX,
};

/* The finished download, as the image server reported it. */
struct verdict_in {
	bool final_peer;  /* the peer is FinalStage's device (192.168.4.1) */
	const char *file; /* image file name, "" or NULL if none */
	int status;       /* HTTP status */
	bool head;        /* a HEAD request */
	bool complete;    /* every body byte sent (and acknowledged, for a whole file) */
	uint64_t off, len, total; /* the range served, and the file's size */
};

enum verdict verdict_decide(const struct verdict_in *in);

const char *verdict_name(enum verdict v); /* "delivered", ... */

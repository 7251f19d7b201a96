/* provint: private to provision.c (the run: phases, decisions, timing) and
 * provconn.c (one attempt's lws client connection). See provision.h. */
#pragma once

#include <arpa/inet.h>
#include <stdbool.h>

#include "httpresp.h"
#include "proto.h"
#include "provision.h"

#define PROV_PROTOCOL_NAME "sonota-prov"

enum prov_phase {
	PH_GET_WAIT, /* backoff before a GET attempt */
	PH_GET,      /* a GET /device attempt is running */
	PH_POST_WAIT,
	PH_POST,     /* a POST /ap attempt is running */
	PH_DONE,     /* the done callback was called (or is being called) */
};

enum prov_end {
	END_NONE,            /* the attempt still runs */
	END_CONNECT_FAILED,  /* no TCP connection */
	END_CLOSED,          /* the device closed before a complete reply */
	END_TIMEOUT,         /* the deadline passed */
	END_MALFORMED,       /* the reply is not valid HTTP or breaks a limit */
	END_REPLY,           /* a complete reply is in head/body */
};

/* Per-vhost data: the runs on this vhost, so that a vhost (or context) destroyed
 * under them can stop their timers before lws frees the timer lists. */
struct prov_vhd {
	struct prov *runs; /* list through prov.next */
};

struct prov {
	struct lws_context *cx;   /* for connects and timers */
	struct lws_vhost *vh;     /* the vhost with prov_protocol */
	struct prov_vhd *vhd;     /* NULL once the vhost was destroyed */
	struct prov *next;        /* in vhd->runs */
	struct log *log;          /* borrowed */
	prov_done_cb cb;          /* user callback */
	void *arg;                /* its argument */

	char addr[INET_ADDRSTRLEN]; /* the device's address */
	uint16_t port;              /* and port */
	char ssid[PROTO_SSID_MAX + 1]; /* for the log only */
	char server[PROTO_HOST_MAX + 1]; /* likewise */
	uint16_t server_port;
	unsigned max_get, get_timeout_ms, post_timeout_ms, backoff_first_ms, backoff_max_ms;

	enum prov_phase phase;    /* see the file comment */
	unsigned get_attempts;    /* GET attempts made */
	unsigned post_attempts;   /* POST attempts made */
	lws_sorted_usec_list_t sul; /* backoff or deadline; "now" after a connection event */

	/* the running attempt */
	struct lws *wsi;          /* NULL when there is none or it was detached */
	enum prov_end end;        /* how it ended */
	bool written;             /* its request was handed to the socket */
	char why[PROV_WHY_MAX];   /* failure text for the log */
	char rx[PROV_REPLY_MAX];  /* reply bytes so far */
	size_t rx_len;
	struct httpresp head;     /* END_REPLY: the reply's head ... */
	char body[PROV_BODY_MAX]; /* ... and NUL-terminated body */
	size_t body_len;

	/* requests, each with LWS_PRE bytes of headroom for lws_write */
	unsigned char *get_req;   /* owned */
	size_t get_len;
	unsigned char *post_req;  /* owned; holds the password: zeroed and freed once written */
	size_t post_len;

	char deviceid[PROTO_DEVICEID_MAX + 1]; /* from GET /device; "" until then */
};

/* (provision.c) Move the run's one timer to ms from now. */
void prov_schedule_ms(struct prov *p, unsigned ms);

/* (provconn.c) Start an attempt of phase (PH_GET or PH_POST): the connection, with
 * the attempt's deadline on the timer; a failure to connect ends it at once. */
void prov_start_attempt(struct prov *p, enum prov_phase phase);
/* (provconn.c) Close the running attempt's connection, if any (never from inside its
 * own callback). */
void prov_kill_wsi(struct prov *p);

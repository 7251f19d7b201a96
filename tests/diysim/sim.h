/* diysim I/O side: the one context and the functions of net.c, api.c, download.c. */
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "diysim.h"

/* Exit codes (README.md). */
enum sim_exit {
	SIM_EXIT_OK = 0,        /* a good image was flashed; the device rebooted into it */
	SIM_EXIT_USAGE = 2,
	SIM_EXIT_BRICKED = 10,  /* a bad image was accepted and written: the device is dead */
	SIM_EXIT_FAILED = 11,   /* a flash failed; the device stays in DIY mode on its firmware */
	SIM_EXIT_IDLE = 12,     /* stopped (timeout/signal) without any flash attempt */
	SIM_EXIT_PAIR_FAILED = 13, /* --pair-ap: POST /ap carried another WiFi than the home
				    * one (--pair-ssid/--pair-password): it never joins */
};

enum sim_unlock {
	SIM_UNLOCK_INTERNET, /* the unlock server answers at once */
	SIM_UNLOCK_OFFLINE,  /* no Internet: the request hangs, then no reply (§4.1) */
	SIM_UNLOCK_SERVER,   /* a fake apid.coolkit.cn at unlock_addr:unlock_port */
};

struct sim {
	struct sim_model m;
	char id[SIM_ID_MAX + 1];
	struct in_addr bind;          /* device address (8081 and the A record) */
	uint16_t port;                /* 8081, or the one bound with --port 0 */
	int listen_fd;
	int mdns_fd;                  /* -1 without mDNS */
	struct sockaddr_in mdns_dest; /* 224.0.0.251:5353 or a test tap */
	bool mdns_answer;             /* answer queries (multicast destination only) */
	enum sim_unlock unlock;
	struct sockaddr_in unlock_srv;
	int unlock_hang_ms;
	bool unlocked;
	uint32_t seq;                 /* TXT/reply seq */
	int64_t last_req_ms;          /* end of the last answered request, for min_gap_ms */
	int64_t next_announce_ms;     /* 0: none scheduled */
	int announces_left;
	bool verbose;
	enum sim_exit result;
	char reason[512];
	bool finished;                /* flashed (ok or bricked): stop serving */
	bool sw_on;                   /* relay state */
	/* a flash accepted by ota_flash, run after the reply went out */
	bool flash_pending;
	char flash_url[256];
	char flash_sha[80];
	/* counters, reported in the RESULT line */
	unsigned http10_ignored, gap_refused, second_conn_rst, flashes_failed;
	uint8_t *image;               /* SIM_IMAGE_MAX download buffer */
	/* diyap (issue 11 item 2): the compatible-pairing AP before DIY mode (pair.c) */
	bool pair_on;                 /* --pair-ap given: start in the pairing AP */
	struct in_addr pair_addr;     /* 10.10.7.1 */
	uint16_t pair_port;           /* 80 */
	const char *pair_ssid;        /* the home WiFi POST /ap must carry (NULL: any) */
	const char *pair_password;    /* ... and its password (NULL: any) */
	const char *pair_join;        /* shell command: AP address down, home address up */
	bool lan_mode;                /* joined in eWeLink LAN mode (model pair_ap=lan) */
	unsigned pair_ignored;        /* pairing-AP requests ignored (no reply) */
};

int64_t sim_now_ms(void);
void sim_log(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* net.c */
int net_read_head(int fd, char *buf, size_t cap, size_t *ret_len, size_t *ret_head,
		  int64_t deadline_ms);
int net_read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms);
int net_write_all(int fd, const void *buf, size_t n);
void net_close_rst(int fd);
int net_connect(const char *ip, uint16_t port, int timeout_ms);
/* The same from the device's own address (NULL or INADDR_ANY: the kernel's choice): a
 * device has one address, so its downloads and completion POST come from it, also when
 * several simulated devices share one network namespace. */
int net_connect_from(const struct in_addr *from, const char *ip, uint16_t port,
		     int timeout_ms);
int net_fill(int fd, uint8_t *buf, size_t n, size_t have, int timeout_ms);

/* api.c: serve one accepted connection on 8081 (one at a time). */
void api_serve(struct sim *s, int fd);
/* mDNS: announce now (goodbye = TTL 0). */
void sim_announce(struct sim *s, bool goodbye);

/* pair.c: serve the compatible-pairing AP until a valid POST /ap (then run pair_join) or
 * the deadline or *stop. 1: joined the home WiFi (s->lan_mode per the model); 0: stopped
 * or timed out unpaired; -1: paired with another WiFi than the home one (s->result set). */
int pair_run(struct sim *s, int64_t deadline_ms, volatile const sig_atomic_t *stop);

/* download.c: the accepted ota_flash (after its reply); sets s->result / s->finished. */
void download_run(struct sim *s);

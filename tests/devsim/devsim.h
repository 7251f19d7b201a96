/* devsim: one simulated Sonoff, from the stock AP to the final Arduino flash.
 *
 * The simulator is an independent implementation of the device side of
 * /work/shared/docs/PROTOCOL.md (referred to as "PROTOCOL" below). It never links
 * libsonota, so bugs in our server are not mirrored here. It is deliberately as strict
 * as the real device: everything the real firmware would reject is rejected, with an
 * exit code per failure class (see README.md and enum dev_exit).
 *
 * One context (struct devsim) is passed everywhere; there are no globals.
 */
#ifndef DEVSIM_H
#define DEVSIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#include "flash.h"
#include "model.h"

/* Exit codes: the contract with the e2e driver (README.md). */
enum dev_exit {
	DEV_EXIT_OK = 0,
	DEV_EXIT_USAGE = 2,
	DEV_EXIT_AP_TIMEOUT = 10,	/* never provisioned */
	DEV_EXIT_TLS = 11,		/* handshake failed / pinned cert rejected */
	DEV_EXIT_UPGRADE = 12,		/* wrong model or malformed upgrade */
	DEV_EXIT_DOWNLOAD = 13,		/* HTTP/Range/length/digest violation (ack 404 sent) */
	DEV_EXIT_E2A = 14,		/* E2A gave up, MODE_UNKNOWN, would hang, bricked */
	DEV_EXIT_FLASH = 15,		/* final flash != expected */
	DEV_EXIT_TIMEOUT = 16,		/* overall --timeout exceeded */
	DEV_EXIT_PROTOCOL = 17,		/* server dialogue violation */
	DEV_EXIT_HOOK = 18,		/* the --hook command failed (test setup problem) */
};

enum dev_start {
	DEV_START_AP,			/* stock firmware, pairing AP up */
	DEV_START_STA,			/* stock firmware, already provisioned */
	DEV_START_E2A,			/* stock OTA done, E2A in the inactive slot */
};

#define DEV_ID_LEN 10			/* deviceid: 10 lower-case hex chars */
#define DEV_UUID_LEN 36			/* 8-4-4-4-12 */
#define DEV_HOST_MAX 128		/* provisioned serverName, dispatch IP */
#define DEV_REASON_MAX 512		/* text after "RESULT fail <code>: " */

struct devsim {
	/* options (immutable after devsim_parse_args) */
	const char *model_path;		/* --model */
	char deviceid[DEV_ID_LEN + 1];	/* --deviceid */
	enum dev_start start;		/* --start */
	int e2a_rom;			/* --e2a-rom (1|2) for --start e2a */
	char server_name[DEV_HOST_MAX];	/* --server host, or serverName from POST /ap */
	uint16_t server_port;		/* --server port, or port from POST /ap */
	const char *bind_addr;		/* --bind: source address of STA connections */
	const char *ap_addr;		/* --ap-addr */
	int ap_port;			/* --ap-port (0 = ephemeral, logged) */
	int ap_timeout_s;		/* --ap-timeout */
	const char *final_host;		/* --final-host (E2A's hard-coded 192.168.4.2) */
	int final_port;			/* --final-port (E2A's hard-coded 8080) */
	const char *hook;		/* --hook CMD */
	const char *expect_final;	/* --expect-final FILE */
	bool stop_after_stock;		/* --stop-after stock */
	int blink_ms;			/* --blink-ms (E2A LED phase) */
	int timeout_s;			/* --timeout (overall bound) */
	const char *ssid_check;		/* --ssid-check */
	bool ap_post_silent;		/* --ap-post-silent: POST /ap never answered */
	bool verbose;			/* --verbose */

	struct model model;		/* quirks of this device (model.h) */
	struct flash flash;		/* the 1 MB SPI flash (flash.h) */
	int boot_slot;			/* 1|2: slot the Espressif bootloader boots */
	bool sta_up;			/* on the home WiFi (sta-up ran, sta-down not yet) */

	char apikey[DEV_UUID_LEN + 1];	/* device's own key (GET /device, register) */
	int64_t start_ms;		/* monotonic start, for `ts` (seconds since boot) */
	int64_t deadline_ms;		/* monotonic end of --timeout */
	const char *phase;		/* what the device is doing, for the timeout reason */

	/* stock-firmware state kept across WebSocket reconnects */
	bool have_seq;			/* a server sequence was seen */
	unsigned long long last_seq;	/* highest server sequence seen (must increase) */
	char relay[4][4];		/* "on"/"off" per outlet ("" = never set) */
	int relay_updates;		/* number of server relay updates applied */
	int slow_fails;			/* norange downloads given up as "too fast" */
	bool drop_done;			/* drop_at already simulated */
	bool final_drop_done;		/* final_drop_at already simulated */
	bool slow_expected;		/* after an ack 404 the next URLs should be /slowota/ */

	mbedtls_entropy_context entropy;	/* TLS randomness */
	mbedtls_ctr_drbg_context drbg;

	/* result: the first failure wins */
	bool failed;
	enum dev_exit exit_code;
	char reason[DEV_REASON_MAX];
};

/* Log one line "devsim[<id>]: ..." on stderr. */
void dev_log(struct devsim *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like dev_log, only with --verbose. */
void dev_dbg(struct devsim *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Overwrite every "apikey":"<value>" value in s with '*' (secrets are never logged). */
void dev_mask_apikeys(char *s);
/* With --verbose, log a JSON message with every apikey value masked. */
void dev_dbg_json(struct devsim *d, const char *dir, const char *json);
/* Record a failure (only the first one counts) and log it; returns -EPROTO for chaining. */
int dev_fail(struct devsim *d, enum dev_exit code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Name of an exit code as printed on the RESULT line. */
const char *dev_exit_name(enum dev_exit code);
/* Run the --hook for a WiFi event; 0, or -errno after recording DEV_EXIT_HOOK. */
int dev_hook(struct devsim *d, const char *event);
/* Ask the hook a question (`CMD <question> <deviceid>`, not logged, no WiFi state
 * change): 1 when it exits 0 (or there is no hook), 0 when it exits 1, else
 * dev_fail (DEV_EXIT_HOOK) and -errno. */
int dev_hook_ask(struct devsim *d, const char *question);
/* Fill buf with len random bytes (getrandom). */
void dev_random(void *buf, size_t len);
/* A random (version 4) UUID, lower-case 8-4-4-4-12, as the device's own apikey. */
void dev_uuid4(char out[DEV_UUID_LEN + 1]);
/* Seconds since the simulated boot (the `ts` of dispatch/register). */
long dev_uptime_s(struct devsim *d);

#endif

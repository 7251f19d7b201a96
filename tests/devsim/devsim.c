/* devsim: main - options, the device's life from power-on to the final flash check, and
 * the RESULT line. See README.md for the contract with the e2e driver. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ap.h"
#include "cloud.h"
#include "conn.h"
#include "devsim.h"
#include "e2a.h"

#define DEV_FINAL_MAX 0x100000		/* --expect-final can cover the whole flash at most */

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: devsim --model FILE [options]\n"
		"  --model FILE          device quirks file (required)\n"
		"  --deviceid ID         10 lower-case hex chars (default 10000abcde)\n"
		"  --start ap|sta|e2a    starting point (default ap)\n"
		"  --e2a-rom 1|2         with --start e2a: slot the E2A image runs from\n"
		"  --server IP:PORT      with --start sta: provisioned serverName:port\n"
		"  --bind IP             source address of STA connections\n"
		"  --ap-addr IP          AP HTTP address (default 10.10.7.1)\n"
		"  --ap-port N           AP HTTP port (default 80; 0 = any, logged)\n"
		"  --ap-timeout SECS     AP closes unprovisioned after this (default 180)\n"
		"  --final-host IP       E2A's server (default 192.168.4.2)\n"
		"  --final-port N        E2A's port (default 8080)\n"
		"  --hook CMD            run `CMD <event> <deviceid>` at WiFi changes\n"
		"  --expect-final FILE   image the flash must hold at 0x0 in the end\n"
		"  --stop-after stock    succeed right after the stock OTA\n"
		"  --blink-ms N          E2A LED phase (default 10000)\n"
		"  --timeout SECS        overall bound (default 120)\n"
		"  --ssid-check SSID     SSID the POST /ap must carry\n"
		"  --ap-post-silent      never answer POST /ap; the AP stays up\n"
		"  --verbose\n");
}

static int
parse_num(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int
dev_parse_args(struct devsim *d, int argc, char **argv, char *err, size_t errlen)
{
	enum {
		O_MODEL = 256, O_DEVICEID, O_START, O_E2A_ROM, O_SERVER, O_BIND, O_AP_ADDR,
		O_AP_PORT, O_AP_TIMEOUT, O_FINAL_HOST, O_FINAL_PORT, O_HOOK, O_EXPECT_FINAL,
		O_STOP_AFTER, O_BLINK_MS, O_TIMEOUT, O_SSID_CHECK, O_VERBOSE, O_HELP,
		O_AP_POST_SILENT,
	};
	static const struct option opts[] = {
		{ "model", required_argument, NULL, O_MODEL },
		{ "deviceid", required_argument, NULL, O_DEVICEID },
		{ "start", required_argument, NULL, O_START },
		{ "e2a-rom", required_argument, NULL, O_E2A_ROM },
		{ "server", required_argument, NULL, O_SERVER },
		{ "bind", required_argument, NULL, O_BIND },
		{ "ap-addr", required_argument, NULL, O_AP_ADDR },
		{ "ap-port", required_argument, NULL, O_AP_PORT },
		{ "ap-timeout", required_argument, NULL, O_AP_TIMEOUT },
		{ "final-host", required_argument, NULL, O_FINAL_HOST },
		{ "final-port", required_argument, NULL, O_FINAL_PORT },
		{ "hook", required_argument, NULL, O_HOOK },
		{ "expect-final", required_argument, NULL, O_EXPECT_FINAL },
		{ "stop-after", required_argument, NULL, O_STOP_AFTER },
		{ "blink-ms", required_argument, NULL, O_BLINK_MS },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "ssid-check", required_argument, NULL, O_SSID_CHECK },
		{ "ap-post-silent", no_argument, NULL, O_AP_POST_SILENT },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL;
	long v;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_MODEL:
			d->model_path = optarg;
			break;
		case O_DEVICEID:
			if (strlen(optarg) != DEV_ID_LEN || strspn(optarg, "0123456789abcdef") !=
			    DEV_ID_LEN) {
				snprintf(err, errlen, "--deviceid must be 10 lower-case hex chars");
				return -EINVAL;
			}
			snprintf(d->deviceid, sizeof(d->deviceid), "%s", optarg);
			break;
		case O_START:
			if (!strcmp(optarg, "ap"))
				d->start = DEV_START_AP;
			else if (!strcmp(optarg, "sta"))
				d->start = DEV_START_STA;
			else if (!strcmp(optarg, "e2a"))
				d->start = DEV_START_E2A;
			else {
				snprintf(err, errlen, "--start must be ap, sta or e2a");
				return -EINVAL;
			}
			break;
		case O_E2A_ROM:
			if (parse_num(optarg, 1, 2, &v)) {
				snprintf(err, errlen, "--e2a-rom must be 1 or 2");
				return -EINVAL;
			}
			d->e2a_rom = (int)v;
			break;
		case O_SERVER:
			server = optarg;
			break;
		case O_BIND:
			d->bind_addr = optarg;
			break;
		case O_AP_ADDR:
			d->ap_addr = optarg;
			break;
		case O_AP_PORT:
			if (parse_num(optarg, 0, 65535, &v)) {
				snprintf(err, errlen, "--ap-port must be 0..65535");
				return -EINVAL;
			}
			d->ap_port = (int)v;
			break;
		case O_AP_TIMEOUT:
			if (parse_num(optarg, 1, 86400, &v)) {
				snprintf(err, errlen, "--ap-timeout must be 1..86400");
				return -EINVAL;
			}
			d->ap_timeout_s = (int)v;
			break;
		case O_FINAL_HOST:
			d->final_host = optarg;
			break;
		case O_FINAL_PORT:
			if (parse_num(optarg, 1, 65535, &v)) {
				snprintf(err, errlen, "--final-port must be 1..65535");
				return -EINVAL;
			}
			d->final_port = (int)v;
			break;
		case O_HOOK:
			d->hook = optarg;
			break;
		case O_EXPECT_FINAL:
			d->expect_final = optarg;
			break;
		case O_STOP_AFTER:
			if (strcmp(optarg, "stock")) {
				snprintf(err, errlen, "--stop-after only knows \"stock\"");
				return -EINVAL;
			}
			d->stop_after_stock = true;
			break;
		case O_BLINK_MS:
			if (parse_num(optarg, 0, 600000, &v)) {
				snprintf(err, errlen, "--blink-ms must be 0..600000");
				return -EINVAL;
			}
			d->blink_ms = (int)v;
			break;
		case O_TIMEOUT:
			if (parse_num(optarg, 1, 86400, &v)) {
				snprintf(err, errlen, "--timeout must be 1..86400");
				return -EINVAL;
			}
			d->timeout_s = (int)v;
			break;
		case O_AP_POST_SILENT:
			d->ap_post_silent = true;
			break;
		case O_SSID_CHECK:
			d->ssid_check = optarg;
			break;
		case O_VERBOSE:
			d->verbose = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			snprintf(err, errlen, "unknown option (see --help)");
			return -EINVAL;
		}
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (!d->model_path) {
		snprintf(err, errlen, "--model is required");
		return -EINVAL;
	}
	if (server) {
		const char *colon = strrchr(server, ':');

		if (!colon || colon == server || (size_t)(colon - server) >= sizeof(d->server_name) ||
		    parse_num(colon + 1, 1, 65535, &v)) {
			snprintf(err, errlen, "--server must be HOST:PORT");
			return -EINVAL;
		}
		snprintf(d->server_name, sizeof(d->server_name), "%.*s", (int)(colon - server),
			 server);
		d->server_port = (uint16_t)v;
	}
	if (d->start == DEV_START_STA && !server) {
		snprintf(err, errlen, "--start sta needs --server IP:PORT");
		return -EINVAL;
	}
	if (d->start == DEV_START_E2A && !d->e2a_rom) {
		snprintf(err, errlen, "--start e2a needs --e2a-rom 1|2");
		return -EINVAL;
	}
	return 0;
}

/* --start e2a: the stock OTA already put a (synthetic) E2A image into slot e2a_rom. */
static void
setup_e2a_start(struct devsim *d)
{
	int stock_slot = d->e2a_rom == 1 ? 2 : 1;
	uint32_t addr = d->e2a_rom == 1 ? FLASH_USER1 : FLASH_USER2;
	size_t len = 0x3A000;

	flash_init_stock(&d->flash, stock_slot);
	flash_erase_range(&d->flash, addr, len);
	/* synthetic E2A: written over erased flash, like the stock OTA would */
	{
		uint8_t *img = malloc(len);

		if (img) {
			flash_synth_user_image(img, len, 0xE2, 0x03);
			flash_write(&d->flash, addr, img, len);
			free(img);
		}
	}
	d->boot_slot = d->e2a_rom;
	dev_log(d, "start: stock firmware in slot %d, E2A in slot %d (boot slot %d)", stock_slot,
		d->e2a_rom, d->boot_slot);
}

static int
check_final(struct devsim *d)
{
	uint8_t *want = NULL;
	size_t n = 0, i;
	FILE *f;
	int r = 0;

	if (!d->expect_final) {
		dev_log(d, "final firmware booted (no --expect-final given, flash not compared)");
		return 0;
	}
	f = fopen(d->expect_final, "rb");
	if (!f)
		return dev_fail(d, DEV_EXIT_USAGE, "cannot open --expect-final \"%s\": %s",
				d->expect_final, strerror(errno));
	want = malloc(DEV_FINAL_MAX + 1);
	if (want)
		n = fread(want, 1, DEV_FINAL_MAX + 1, f);
	fclose(f);
	if (!want || n == 0 || n > DEV_FINAL_MAX) {
		free(want);
		return dev_fail(d, DEV_EXIT_USAGE, "--expect-final \"%s\" is empty, unreadable or "
				"larger than the flash", d->expect_final);
	}
	for (i = 0; i < n; i++)
		if (d->flash.mem[i] != want[i])
			break;
	if (i < n)
		r = dev_fail(d, DEV_EXIT_FLASH, "final flash differs from --expect-final at offset "
			     "0x%05zx (flash 0x%02x, expected 0x%02x; %zu bytes compared)", i,
			     d->flash.mem[i], want[i], n);
	else
		dev_log(d, "final flash holds exactly the %zu bytes of %s at 0x0", n,
			d->expect_final);
	free(want);
	return r;
}

static int
dev_life(struct devsim *d)
{
	int r;

	if (d->start == DEV_START_E2A) {
		setup_e2a_start(d);
	} else {
		flash_init_stock(&d->flash, d->model.slot);
		d->boot_slot = d->model.slot;
		if (d->start == DEV_START_AP) {
			r = ap_run(d);
			if (r < 0)
				return r;
		}
		dev_log(d, "joining the home WiFi; cloud server %s:%u", d->server_name,
			d->server_port);
		r = dev_hook(d, "sta-up");
		if (r < 0)
			return r;
		r = cloud_run(d);
		if (r < 0) {
			if (d->sta_up)
				dev_hook(d, "sta-down");	/* process exit: let the driver clean up */
			return r;
		}
		if (d->stop_after_stock) {
			dev_log(d, "stock OTA done (--stop-after stock)");
			return 0;
		}
	}
	r = e2a_run(d);
	if (r < 0)
		return r;
	if (d->flash.bad_writes)
		return dev_fail(d, DEV_EXIT_FLASH, "%u write(s) into unerased flash, first at 0x%05x "
				"(simulator bug)", d->flash.bad_writes, d->flash.first_bad_write);
	return check_final(d);
}

int
main(int argc, char **argv)
{
	static const char pers[] = "sonota-devsim";
	struct devsim *d;
	char err[256];
	int code;

	signal(SIGPIPE, SIG_IGN);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "devsim: RESULT fail usage: out of memory\n");
		return DEV_EXIT_USAGE;
	}
	snprintf(d->deviceid, sizeof(d->deviceid), "10000abcde");
	d->start = DEV_START_AP;
	d->ap_addr = "10.10.7.1";
	d->ap_port = 80;
	d->ap_timeout_s = 180;
	d->final_host = "192.168.4.2";
	d->final_port = 8080;
	d->blink_ms = 10000;
	d->timeout_s = 120;
	d->phase = "starting";
	model_defaults(&d->model);
	mbedtls_entropy_init(&d->entropy);
	mbedtls_ctr_drbg_init(&d->drbg);

	if (dev_parse_args(d, argc, argv, err, sizeof(err)) < 0) {
		usage(stderr);
		dev_fail(d, DEV_EXIT_USAGE, "%s", err);
		goto out;
	}
	if (model_load(&d->model, d->model_path, err, sizeof(err)) < 0) {
		dev_fail(d, DEV_EXIT_USAGE, "model: %s", err);
		goto out;
	}
	if (mbedtls_ctr_drbg_seed(&d->drbg, mbedtls_entropy_func, &d->entropy,
				  (const unsigned char *)pers, sizeof(pers) - 1)) {
		dev_fail(d, DEV_EXIT_USAGE, "cannot seed the DRBG");
		goto out;
	}
	d->start_ms = conn_now_ms();
	d->deadline_ms = d->start_ms + (int64_t)d->timeout_s * 1000;
	dev_uuid4(d->apikey);
	for (int i = 0; i < 4; i++)
		snprintf(d->relay[i], sizeof(d->relay[i]), "%s",
			 d->model.sw == MODEL_SWITCH_ON ? "on" : "off");
	dev_log(d, "model %s %s (slot %d, TLS max 1.%d%s, %s download%s), start %s",
		d->model.name, d->model.rom_version, d->model.slot, d->model.tls_max_minor - 1,
		d->model.pin_cert ? ", pinned certificate" : "",
		d->model.download == MODEL_DL_RANGE ? "Range" : "no-Range",
		d->model.ap_needs_single_segment ? ", single-segment AP" : "",
		d->start == DEV_START_AP ? "ap" : d->start == DEV_START_STA ? "sta" : "e2a");
	if (dev_life(d) < 0 && !d->failed)
		dev_fail(d, DEV_EXIT_PROTOCOL, "internal: failure without a recorded reason");
out:
	code = d->failed ? (int)d->exit_code : 0;
	if (d->failed)
		fprintf(stderr, "devsim: RESULT fail %s: %s\n", dev_exit_name(d->exit_code),
			d->reason);
	else
		fprintf(stderr, "devsim: RESULT ok\n");
	mbedtls_ctr_drbg_free(&d->drbg);
	mbedtls_entropy_free(&d->entropy);
	free(d);
	return code;
}

/* e2a: Espressif2Arduino (sillyfrog fork, PROTOCOL §5), step by step.
 *
 * Per boot: LED phase (--blink-ms), rom = running slot, magic = flash[0x1000], mode per
 * §5.1 (including the MODE_UNKNOWN trap, where the FinalStage AP comes up anyway and
 * nothing ever happens), FinalStage AP up, TCP probe of final-host:final-port every
 * 500 ms, then up to three HTTP/1.0 download attempts with E2A's checks (status 200,
 * Content-Length present, >= 4096, <= region, first byte == magic), streaming into the
 * flash model in 1024-byte blocks exactly where and in the order E2A erases and writes.
 *
 * What the real E2A cannot survive is reported as DEV_EXIT_E2A: a stalled or truncated
 * stream (its loop has no read timeout), more bytes than Content-Length (unsigned
 * underflow), three failed attempts (it restarts into the same state forever).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "devsim.h"
#include "e2a.h"
#include "http.h"

#define E2A_PROBE_MS 500		/* connect() loop period (§5.2) */
#define E2A_HTTP_TIMEOUT_MS 5000	/* ESP8266HTTPClient timeout (§5.3) */
#define E2A_RETRIES 3			/* attempts per file (§5.3) */
#define E2A_STALL_MS 10000		/* no data for this long: the real loop would wait forever */
#define E2A_BLOCK 1024			/* flash write unit of the loop */
#define E2A_MIN_LEN 4096		/* "Length too short" */
#define E2A_ROM2_REGION 0x7F000		/* 0x81000..0x100000 */
#define E2A_ROM1_REGION 0x80000		/* 0x0..0x80000 */
#define E2A_EXTRA_CHECK_MS 50		/* look for bytes beyond Content-Length */
#define E2A_BOOTS_MAX 8			/* ROM1 + ROM2 + a drop need 4 boots; more is a loop */

#define E2A_RETRY 2			/* attempt result: E2A retries (reason in why) */
#define E2A_DROPPED 1			/* final_drop_at: WiFi dropped mid-download */

static const char *const e2a_mode_name[] = {
	[E2A_MODE_UNKNOWN] = "MODE_UNKNOWN",
	[E2A_MODE_FLASH_ROM1] = "MODE_FLASH_ROM1",
	[E2A_MODE_FLASH_ROM2] = "MODE_FLASH_ROM2",
};

static const char *const flash_mode_name[] = { "QIO", "QOUT", "DIO", "DOUT" };

enum e2a_mode
e2a_decide(int rom, uint8_t magic)
{
	if (magic == 0xEA && rom == 1)
		return E2A_MODE_FLASH_ROM2;
	if (magic == 0xEA && rom == 2)
		return E2A_MODE_FLASH_ROM1;
	if (magic == 0xE9 && rom == 2)
		return E2A_MODE_FLASH_ROM1;	/* recovery case of 330d9f0 (§5.1) */
	return E2A_MODE_UNKNOWN;
}

static bool
mode_ok(struct devsim *d, uint8_t mode)
{
	return mode <= 3 && (d->model.flash_modes & (1u << mode));
}

/* 1: E2A runs from d->boot_slot; 0: the Arduino image booted; <0: bricked (recorded). */
static int
e2a_boot(struct devsim *d)
{
	const uint8_t *m = d->flash.mem;

	if (flash_has_espboot(&d->flash)) {
		uint32_t addr = d->boot_slot == 2 ? FLASH_USER2 : FLASH_USER1;

		if (m[addr] != 0xEA)
			return dev_fail(d, DEV_EXIT_E2A, "bricked: the Espressif bootloader finds 0x%02x, "
					"not 0xEA, in slot %d (0x%05x); needs serial flashing", m[addr],
					d->boot_slot, addr);
		if (!mode_ok(d, m[addr + 2]))
			return dev_fail(d, DEV_EXIT_E2A, "bricked: the image in slot %d has flash mode "
					"%s, which this chip cannot run (flash_modes); needs serial",
					d->boot_slot, m[addr + 2] <= 3 ? flash_mode_name[m[addr + 2]] :
					"invalid");
		dev_log(d, "boot: Espressif bootloader, slot %d (0x%05x): E2A", d->boot_slot, addr);
		return 1;
	}
	if (m[0] != 0xE9)
		return dev_fail(d, DEV_EXIT_FLASH, "bricked: no bootloader at 0x0 (byte 0x%02x)",
				m[0]);
	if (!mode_ok(d, m[2]))
		return dev_fail(d, DEV_EXIT_FLASH, "bricked: the bootloader at 0x0 has flash mode %s, "
				"which this chip cannot run", m[2] <= 3 ? flash_mode_name[m[2]] :
				"invalid");
	dev_log(d, "boot: the image at 0x0 is not the Espressif bootloader any more: the "
		"final (Arduino) firmware boots");
	return 0;
}

static int
e2a_probe(struct devsim *d)
{
	struct conn *c = calloc(1, sizeof(*c));
	int n = 0, r;

	if (!c)
		return dev_fail(d, DEV_EXIT_E2A, "out of memory");
	d->phase = "E2A probing the FinalStage host";
	for (;;) {
		/* The radio: only the station associated with this device's FinalStage can
		 * reach it (the driver knows who that is; several devices' FinalStage may
		 * share one test network). */
		r = dev_hook_ask(d, "final-assoc");
		if (r < 0)
			break;
		if (r == 0) {
			r = conn_sleep(d, E2A_PROBE_MS);
			if (r < 0)
				break;
			continue;
		}
		conn_init(c, d);
		r = conn_tcp_connect(c, d->final_host, (uint16_t)d->final_port, NULL, E2A_PROBE_MS);
		n++;
		if (r == 0) {
			conn_close(c, false);	/* nothing is sent on the probe (§5.2) */
			dev_log(d, "E2A: TCP probe %d to %s:%d connected", n, d->final_host,
				d->final_port);
			break;
		}
		if (d->failed)
			break;
		if (n == 1 || n % 20 == 0)
			dev_log(d, "E2A: TCP probe %d to %s:%d failed (%s), retrying every %d ms",
				n, d->final_host, d->final_port, strerror(-r), E2A_PROBE_MS);
		r = conn_sleep(d, E2A_PROBE_MS);
		if (r < 0)
			break;
	}
	free(c);
	return r;
}

/* Flash write of one block, with the SDK's 4-byte granularity (inferred from khcnz in
 * #11, PROTOCOL §5.3): a tail that is not a multiple of 4 is not written. */
static int
e2a_flash_write(struct devsim *d, uint32_t addr, const uint8_t *p, size_t len)
{
	size_t aligned = len & ~(size_t)3;

	if (aligned != len)
		dev_log(d, "E2A: flash write of %zu bytes at 0x%05x is not a multiple of 4: the "
			"last %zu byte(s) are not written", len, addr, len - aligned);
	if (aligned && flash_write(&d->flash, addr, p, aligned) < 0)
		return dev_fail(d, DEV_EXIT_FLASH, "flash write into unerased bytes at 0x%05x "
				"(simulator bug)", d->flash.first_bad_write);
	return 0;
}

static int
e2a_retry(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
e2a_retry(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return E2A_RETRY;
}

/* Wait until n bytes are buffered; the loop of E2A has no timeout: a stall or a close is
 * a hang of the real device. */
static int
e2a_need(struct devsim *d, struct conn *c, size_t n, long long done, long long total)
{
	while (conn_avail(c) < n) {
		int r = conn_fill(c, E2A_STALL_MS);

		if (r == 0)
			return dev_fail(d, DEV_EXIT_E2A, "the server closed the connection after %lld "
					"of %lld bytes: E2A's flash loop (no read timeout) would wait "
					"forever", done + (long long)conn_avail(c), total);
		if (r == -ETIMEDOUT && !d->failed)
			return dev_fail(d, DEV_EXIT_E2A, "stream stalled for %d s at %lld of %lld "
					"bytes: E2A (no read timeout) would hang forever",
					E2A_STALL_MS / 1000, done + (long long)conn_avail(c), total);
		if (r < 0)
			return d->failed ? r : dev_fail(d, DEV_EXIT_E2A, "read error: %s", strerror(-r));
	}
	return 0;
}

static int
e2a_attempt(struct devsim *d, struct conn *c, enum e2a_mode mode, char *why, size_t wl)
{
	bool rom1 = mode == E2A_MODE_FLASH_ROM1;
	const char *path = rom1 ? "/ota/image_arduino.bin" : "/ota/image_user2-0x81000.bin";
	uint8_t magic = rom1 ? 0xE9 : 0xEA;
	long long region = rom1 ? E2A_ROM1_REGION : E2A_ROM2_REGION, cl, off = 0;
	uint8_t *ram = NULL;		/* ROM1: the first 4096 bytes (eboot) */
	struct http_resp resp;
	char req[512], err[160];
	int hl, n, r;

	r = conn_tcp_connect(c, d->final_host, (uint16_t)d->final_port, NULL,
			     E2A_HTTP_TIMEOUT_MS);
	if (r < 0)
		return d->failed ? r : e2a_retry(why, wl, "connection failed (%s)", strerror(-r));
	/* exactly what ESP8266HTTPClient sends with useHTTP10(true) (§5.3) */
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.0\r\n"
		     "Host: %s:%d\r\n"
		     "User-Agent: ESP8266HTTPClient\r\n"
		     "Connection: close\r\n"
		     "\r\n", path, d->final_host, d->final_port);
	r = conn_write_all(c, req, (size_t)n, E2A_HTTP_TIMEOUT_MS);
	if (r < 0)
		return d->failed ? r : e2a_retry(why, wl, "sending the request failed (%s)",
						 strerror(-r));
	hl = conn_read_head(c, HTTP_HEAD_MAX, E2A_HTTP_TIMEOUT_MS);
	if (hl < 0 && d->failed)
		return hl;
	if (hl <= 0)
		return e2a_retry(why, wl, "Invalid response Code - retry (no response: %s)",
				 hl == 0 ? "connection closed" : strerror(-hl));
	if (http_parse_response((const char *)conn_data(c), (size_t)hl, &resp, err,
				sizeof(err)) < 0)
		return e2a_retry(why, wl, "Invalid response Code - retry (malformed head: %s)", err);
	conn_consume(c, (size_t)hl);
	dev_log(d, "E2A: HTTP response Code %d, Content-Length %lld", resp.status,
		resp.content_length);
	if (resp.status != 200)
		return e2a_retry(why, wl, "Invalid response Code - retry (%d)", resp.status);
	cl = resp.content_length;
	if (cl < 0)
		return e2a_retry(why, wl, "Length exceeds flash size - retry (no Content-Length: "
				 "size -1 read as unsigned)");
	if (cl < E2A_MIN_LEN)
		return e2a_retry(why, wl, "Length too short - retry (%lld < %d)", cl, E2A_MIN_LEN);
	if (cl > region)
		return e2a_retry(why, wl, "Length exceeds flash size - retry (%lld > %lld)", cl,
				 region);
	if (resp.te_chunked)
		dev_log(d, "E2A: chunked encoding is not decoded in HTTP/1.0 mode: the chunk "
			"header is read as image data");
	/* peek() at the first body byte */
	r = conn_avail(c) ? 0 : conn_fill(c, E2A_HTTP_TIMEOUT_MS);
	if (r < 0 && d->failed)
		return r;
	if (!conn_avail(c))
		return e2a_retry(why, wl, "Invalid magic byte - retry (no body byte within %d ms)",
				 E2A_HTTP_TIMEOUT_MS);
	if (conn_data(c)[0] != magic)
		return e2a_retry(why, wl, "Invalid magic byte - retry (0x%02x, expected 0x%02x)",
				 conn_data(c)[0], magic);

	if (rom1) {
		ram = malloc(E2A_MIN_LEN);
		if (!ram)
			return dev_fail(d, DEV_EXIT_E2A, "out of memory");
	} else {
		/* system_upgrade_flag_set(START); erase 0x80000..0xFFFFF (§5.3) */
		flash_erase_sectors(&d->flash, 128, 255);
		dev_log(d, "E2A: erased sectors 128-255 (0x80000-0xFFFFF)");
	}
	while (off < cl) {
		size_t want = cl - off < E2A_BLOCK ? (size_t)(cl - off) : E2A_BLOCK;

		r = e2a_need(d, c, want, off, cl);
		if (r < 0)
			goto out;
		if (rom1 && off < E2A_MIN_LEN) {
			memcpy(ram + off, conn_data(c), want);	/* E2A_MIN_LEN % E2A_BLOCK == 0 */
			if (off + (long long)want == E2A_MIN_LEN) {
				flash_erase_sectors(&d->flash, 1, 127);
				dev_log(d, "E2A: first 4096 bytes kept in RAM, erased sectors 1-127 "
					"(0x1000-0x7FFFF)");
			}
		} else {
			uint32_t addr = rom1 ? (uint32_t)off : FLASH_USER2 + (uint32_t)off;

			r = e2a_flash_write(d, addr, conn_data(c), want);
			if (r < 0)
				goto out;
		}
		conn_consume(c, want);
		off += (long long)want;
		if (rom1 && !d->final_drop_done && d->model.final_drop_at &&
		    off * 100 >= (long long)d->model.final_drop_at * cl && off < cl) {
			d->final_drop_done = true;
			dev_log(d, "E2A: WiFi dropped at %lld of %lld bytes (final_drop_at=%d%%)", off,
				cl, d->model.final_drop_at);
			r = E2A_DROPPED;
			goto out;
		}
	}
	/* nothing beyond Content-Length: E2A's unsigned `remaining` would underflow */
	if (!conn_avail(c))
		conn_fill(c, E2A_EXTRA_CHECK_MS);
	if (conn_avail(c)) {
		r = dev_fail(d, DEV_EXIT_E2A, "%zu byte(s) beyond Content-Length %lld: E2A's "
			     "unsigned remaining counter would underflow", conn_avail(c), cl);
		goto out;
	}
	if (rom1) {
		/* the bootloader sector last: erase sector 0, write the saved eboot (§5.3) */
		flash_erase_sectors(&d->flash, 0, 0);
		r = e2a_flash_write(d, 0, ram, E2A_MIN_LEN);
		if (r < 0)
			goto out;
		dev_log(d, "E2A: %lld bytes of image_arduino.bin flashed (bootloader sector last)",
			cl);
	} else {
		dev_log(d, "E2A: %lld bytes of image_user2-0x81000.bin flashed at 0x81000", cl);
	}
	r = 0;
out:
	free(ram);
	return r;
}

static int
e2a_job(struct devsim *d, enum e2a_mode mode)
{
	int rom = mode == E2A_MODE_FLASH_ROM1 ? 1 : 2;
	struct conn *c = calloc(1, sizeof(*c));
	char why[256] = "";
	int retry, r = 0;

	if (!c)
		return dev_fail(d, DEV_EXIT_E2A, "out of memory");
	d->phase = rom == 1 ? "E2A downloading image_arduino.bin" :
		"E2A downloading image_user2-0x81000.bin";
	for (retry = 0; retry < E2A_RETRIES; retry++) {
		dev_log(d, "E2A: Flashing rom %d (retry:%d)", rom, retry);
		conn_init(c, d);
		r = e2a_attempt(d, c, mode, why, sizeof(why));
		conn_close(c, false);
		if (r != E2A_RETRY)
			break;
		dev_log(d, "E2A: %s", why);
	}
	if (r == E2A_RETRY)
		r = dev_fail(d, DEV_EXIT_E2A, "Retry counter exceeded - giving up: %d attempts for "
			     "rom %d failed, last: %s", E2A_RETRIES, rom, why);
	free(c);
	return r;
}

int
e2a_run(struct devsim *d)
{
	int boots, r;

	for (boots = 0;; boots++) {
		enum e2a_mode mode;
		uint8_t magic;
		int rom;

		if (boots >= E2A_BOOTS_MAX)
			return dev_fail(d, DEV_EXIT_E2A, "E2A restarted %d times without finishing",
					boots);
		r = e2a_boot(d);
		if (r <= 0)
			return r;
		rom = d->boot_slot;
		d->phase = "E2A LED phase";
		dev_log(d, "E2A: LED phase (%d ms)", d->blink_ms);
		r = conn_sleep(d, d->blink_ms);
		if (r < 0)
			return r;
		magic = d->flash.mem[FLASH_USER1];
		mode = e2a_decide(rom, magic);
		dev_log(d, "E2A: Current rom %d, Rom 1 magic byte 0x%02x, Upgrade ROM mode %s", rom,
			magic, e2a_mode_name[mode]);
		/* the AP comes up in every mode, MODE_UNKNOWN included (§5.1 bug) */
		dev_log(d, "E2A: FinalStage AP up");
		r = dev_hook(d, "finalstage-up");
		if (r < 0)
			return r;
		if (mode == E2A_MODE_UNKNOWN) {
			r = dev_fail(d, DEV_EXIT_E2A, "MODE_UNKNOWN: FinalStage up forever, needs "
				     "serial (rom %d, byte 0x%02x at 0x1000)", rom, magic);
			dev_hook(d, "finalstage-down");	/* process exit: let the driver clean up */
			return r;
		}
		r = e2a_probe(d);
		if (r == 0)
			r = e2a_job(d, mode);
		dev_log(d, "E2A: FinalStage AP down");
		if (r < 0) {
			dev_hook(d, "finalstage-down");	/* process exit: let the driver clean up */
			return r;
		}
		if (dev_hook(d, "finalstage-down") < 0)
			return -EPROTO;
		if (mode == E2A_MODE_FLASH_ROM2) {
			/* system_upgrade_flag_set(FINISH) + system_upgrade_reboot() */
			d->boot_slot = 2;
			dev_log(d, "E2A: rebooting into rom 2");
		} else {
			dev_log(d, "E2A: ESP.restart()%s", r == E2A_DROPPED ? " after the WiFi drop" :
				"");
		}
	}
}

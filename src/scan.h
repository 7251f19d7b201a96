/* scan: `sonota-c --scan` (issue 11 §1): list the Sonoffs on the LAN, one per line, and
 * exit. The devices come from the host's avahi-daemon over the system D-Bus (avahi.h),
 * browsed until Avahi's AllForNow + DIYSCAN_SETTLE_MS, never longer than
 * DIYSCAN_BROWSE_MAX_MS; then every DIY-mode device is asked POST /zeroconf/info on port
 * 8081 (diyclient.h; all in parallel, each bounded by DIYFLOW_INFO_MS, the deviceid rules
 * of diyflow_next()) for its firmware version and otaUnlock. The lines are
 * diyscan_format() (or diyscan_json() with --json), sorted by id: deviceid, address, type,
 * firmware, otaUnlock, mode, which route applies ("?" where a device did not answer, with
 * one line on err saying why).
 *
 * Output: the device lines on out; messages (no Avahi, nothing found and the likely
 * cause from dnssd_hidden_diagnosis()) on err, one line each. Exit status: 0 when at
 * least one device was listed, SONOTA_EXIT_FAILURE when none was (or Avahi cannot be
 * asked: no system bus, no avahi-daemon, a build without libsystemd).
 */
#pragma once

#include <stdio.h>

#include "cfg.h"

int scan_run(const struct cfg *cfg, FILE *out, FILE *err);

/* The same for one device at device_ip (an IPv4 literal: `--scan --device-ip IP`): no
 * Avahi, no D-Bus (also in a build without libsystemd); its /zeroconf/info is read
 * directly (without the deviceid key) and listed (id "?" when the reply has none: 3.3/3.4).
 * No answer: the hidden-device diagnosis (nothing on port 8081, another subnet). With
 * device_ip NULL it is scan_run. */
int scan_run_at(const struct cfg *cfg, const char *device_ip, FILE *out, FILE *err);

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

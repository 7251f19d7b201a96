/* diyleave: see diyleave.h. Pure. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "diyleave.h"

static const char *
how(const struct diyflow_result *r, char *buf, size_t len)
{
	if (r->outcome == DIYFLOW_OUT_RESET)
		return "the connection was refused or reset";
	snprintf(buf, len, "no answer within %d s", DIYFLOW_INFO_MS / 1000);
	return buf;
}

enum diyleave
diyleave_judge(const struct diyleave_in *in, char *buf, size_t len)
{
	const char *ip = in->ip && in->ip[0] ? in->ip : "the device";
	const struct diyflow_result *r = in->res;
	int waited = DIYFLOW_LEAVE_MDNS_MS / 1000;
	char why[48];

	if (r->outcome == DIYFLOW_OUT_REPLY) {
		const char *fw = in->fw_version && in->fw_version[0] ? in->fw_version : NULL;
		const char *before = in->fw_before && in->fw_before[0] ? in->fw_before : NULL;
		char fwt[DIY_VERSION_MAX + 32] = "";

		if (fw)
			snprintf(fwt, sizeof(fwt), " (firmware %s%s)", fw,
				 before && strcmp(fw, before) == 0 ? ", unchanged" : "");
		snprintf(buf, len, "%s reported success (every byte acknowledged, completion POST "
			 "error 0) but after %d s it still announces DIY mode and still answers "
			 "/zeroconf/info on port 8081%s: it did not reboot into the new image; not "
			 "called done. Power-cycle it, then run --scan: a device still listed in DIY "
			 "mode kept its firmware", ip, waited, fwt);
		return DIYLEAVE_STILL_DIY;
	}
	if (r->outcome != DIYFLOW_OUT_RESET && r->outcome != DIYFLOW_OUT_TIMEOUT) {
		/* DIYFLOW_OUT_BAD_REPLY (NONE: no probe was made, a bug: no claim either) */
		snprintf(buf, len, "%s reported success (every byte acknowledged, completion POST "
			 "error 0) and sent no mDNS goodbye within %d s; something still answers "
			 "on port 8081, but not as the DIY firmware: whether it rebooted into the "
			 "new image is unknown; not called done. Look for the new firmware's WiFi "
			 "(Tasmota: tasmota-XXXXXX)", ip, waited);
		return DIYLEAVE_OTHER;
	}
	snprintf(buf, len, "%s reported success (every byte acknowledged, completion POST error "
		 "0) and no longer answers on port 8081 (%s): the DIY firmware is gone, as after "
		 "a reboot into the new image; but it sent no mDNS goodbye within %d s, so its "
		 "leaving DIY mode was not observed: NOT proven, not called done. Look for the "
		 "new firmware's WiFi (Tasmota: tasmota-XXXXXX)", ip, how(r, why, sizeof(why)), waited);
	return DIYLEAVE_GONE;
}

const char *
diyleave_name(enum diyleave v)
{
	switch (v) {
	case DIYLEAVE_NONE: return "none";
	case DIYLEAVE_GONE: return "gone";
	case DIYLEAVE_STILL_DIY: return "still-diy";
	case DIYLEAVE_OTHER: return "other";
	}
	return "unknown";
}

/* drawer: see drawer.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "drawer.h"

void
drawer_init(struct drawer *d)
{
	memset(d, 0, sizeof(*d));
}

int
drawer_record(struct drawer *d, const char *deviceid, const uint8_t bssid[6],
	      enum drawer_outcome o, const char *why)
{
	if ((unsigned)o >= _DRAWER_OUTCOME_MAX)
		o = DRAWER_FAILED;
	if (d->n >= DRAWER_DEVICES_MAX) {
		d->dropped++;
		d->dropped_not_done += o != DRAWER_DONE;
		return -ENOSPC;
	}
	struct drawer_dev *v = &d->devs[d->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->deviceid, sizeof(v->deviceid), "%s", deviceid ? deviceid : "");
	if (bssid)
		memcpy(v->bssid, bssid, 6);
	v->outcome = o;
	snprintf(v->why, sizeof(v->why), "%s", why ? why : "");
	/* one line: the summary prints one line per device */
	for (char *p = v->why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return 0;
}

bool
drawer_all_done(const struct drawer *d)
{
	if (d->n == 0 || d->dropped_not_done)
		return false;
	for (unsigned i = 0; i < d->n; i++)
		if (d->devs[i].outcome != DRAWER_DONE)
			return false;
	return true;
}

const char *
drawer_outcome_name(enum drawer_outcome o)
{
	static const char *const names[_DRAWER_OUTCOME_MAX] = {
		[DRAWER_DONE] = "done",
		[DRAWER_FAILED] = "failed",
		[DRAWER_INTERRUPTED] = "interrupted",
	};
	return (unsigned)o < _DRAWER_OUTCOME_MAX ? names[o] : "invalid";
}

bool
drawer_summary_line(const struct drawer *d, unsigned i, char *buf, size_t len)
{
	static const uint8_t zero[6];
	if (i >= d->n || !len)
		return false;
	const struct drawer_dev *v = &d->devs[i];
	char mac[40] = "";
	if (memcmp(v->bssid, zero, 6))
		snprintf(mac, sizeof(mac), " (BSSID %02X:%02X:%02X:%02X:%02X:%02X)", v->bssid[0],
			 v->bssid[1], v->bssid[2], v->bssid[3], v->bssid[4], v->bssid[5]);
	const char *what = v->outcome == DRAWER_DONE	     ? "DONE: final firmware delivered"
			   : v->outcome == DRAWER_INTERRUPTED ? "NOT done: interrupted"
							      : "NOT done";
	snprintf(buf, len, "device %u of %u: %s%s: %s%s%s", i + 1, d->n,
		 v->deviceid[0] ? v->deviceid : "(id unknown)", mac, what,
		 v->outcome != DRAWER_DONE && v->why[0] ? ": " : "",
		 v->outcome != DRAWER_DONE ? v->why : "");
	return true;
}

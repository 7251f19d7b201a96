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

static void
set_why(struct drawer_dev *v, const char *why)
{
	snprintf(v->why, sizeof(v->why), "%s", why ? why : "");
	/* one line: the summary prints one line per device */
	for (char *p = v->why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* A new entry, or NULL when the list is full. */
static struct drawer_dev *
new_entry(struct drawer *d, const char *deviceid, const uint8_t bssid[6])
{
	if (d->n >= DRAWER_DEVICES_MAX)
		return NULL;
	struct drawer_dev *v = &d->devs[d->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->deviceid, sizeof(v->deviceid), "%s", deviceid ? deviceid : "");
	if (bssid)
		memcpy(v->bssid, bssid, 6);
	return v;
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
	struct drawer_dev *v = new_entry(d, deviceid, bssid);
	v->state = DRAWER_ST_ENDED;
	v->outcome = o;
	set_why(v, why);
	return 0;
}

static bool
known_mac(const uint8_t m[6])
{
	static const uint8_t zero[6];
	return m && memcmp(m, zero, 6) != 0;
}

static int
find_open(const struct drawer *d, const char *deviceid, const uint8_t bssid[6])
{
	for (unsigned i = 0; i < d->n; i++) {
		const struct drawer_dev *v = &d->devs[i];
		if (v->state == DRAWER_ST_ENDED)
			continue;
		if (known_mac(bssid) && known_mac(v->bssid) ? memcmp(bssid, v->bssid, 6) == 0
		    : deviceid && deviceid[0] && strcmp(deviceid, v->deviceid) == 0)
			return (int)i;
	}
	return -1;
}

int
drawer_add(struct drawer *d, const char *deviceid, const uint8_t bssid[6])
{
	int i = find_open(d, deviceid, bssid);
	if (i >= 0)
		return i;
	struct drawer_dev *v = new_entry(d, deviceid, known_mac(bssid) ? bssid : NULL);
	if (!v) {
		d->dropped++;
		d->dropped_not_done++;
		return -ENOSPC;
	}
	v->state = DRAWER_ST_PROVISIONED;
	return (int)(v - d->devs);
}

int
drawer_cloud(struct drawer *d, const char *deviceid, bool stock_done)
{
	if (!deviceid || !deviceid[0])
		return -EINVAL;
	int i = find_open(d, deviceid, NULL);
	if (i < 0) {
		/* ended already: a done device calls no more; a failed one is not
		 * taken up again in this run */
		for (unsigned k = 0; k < d->n; k++)
			if (strcmp(d->devs[k].deviceid, deviceid) == 0)
				return (int)k;
		struct drawer_dev *v = new_entry(d, deviceid, NULL);
		if (!v)
			return -ENOSPC;
		v->state = DRAWER_ST_CALLED;
		i = (int)(v - d->devs);
	}
	struct drawer_dev *v = &d->devs[i];
	enum drawer_state to = stock_done ? DRAWER_ST_STOCK_DONE : DRAWER_ST_CALLED;
	if (v->state < to)
		v->state = to;
	return i;
}

int
drawer_final_cur(const struct drawer *d)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->devs[i].state == DRAWER_ST_FINAL)
			return (int)i;
	return -1;
}

int
drawer_final_next(struct drawer *d)
{
	int i = drawer_final_cur(d);
	if (i >= 0)
		return i;
	for (unsigned k = 0; k < d->n; k++)
		if (d->devs[k].state == DRAWER_ST_STOCK_DONE) {
			d->devs[k].state = DRAWER_ST_FINAL;
			return (int)k;
		}
	return -1;
}

int
drawer_end(struct drawer *d, unsigned i, enum drawer_outcome o, const char *why)
{
	if (i >= d->n || d->devs[i].state == DRAWER_ST_ENDED)
		return -EINVAL;
	if ((unsigned)o >= _DRAWER_OUTCOME_MAX)
		o = DRAWER_FAILED;
	d->devs[i].state = DRAWER_ST_ENDED;
	d->devs[i].outcome = o;
	set_why(&d->devs[i], o == DRAWER_DONE ? NULL : why);
	return 0;
}

unsigned
drawer_count(const struct drawer *d, enum drawer_state st)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->n; i++)
		n += d->devs[i].state == st;
	return n;
}

bool
drawer_in_stage2(const struct drawer_dev *v)
{
	return v->state == DRAWER_ST_PROVISIONED || v->state == DRAWER_ST_CALLED;
}

unsigned
drawer_stage2(const struct drawer *d)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->n; i++)
		n += drawer_in_stage2(&d->devs[i]);
	return n;
}

unsigned
drawer_count_done(const struct drawer *d)
{
	unsigned n = 0;
	for (unsigned i = 0; i < d->n; i++)
		n += d->devs[i].state == DRAWER_ST_ENDED && d->devs[i].outcome == DRAWER_DONE;
	return n;
}

unsigned
drawer_open(const struct drawer *d)
{
	return d->n - drawer_count(d, DRAWER_ST_ENDED);
}

bool
drawer_all_done(const struct drawer *d)
{
	if (d->n == 0 || d->dropped_not_done)
		return false;
	for (unsigned i = 0; i < d->n; i++)
		if (d->devs[i].state != DRAWER_ST_ENDED || d->devs[i].outcome != DRAWER_DONE)
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

const char *
drawer_state_name(enum drawer_state st)
{
	static const char *const names[_DRAWER_ST_MAX] = {
		[DRAWER_ST_PROVISIONED] = "provisioned, never called the emulated cloud",
		[DRAWER_ST_CALLED] = "still in stage 2 (the emulated cloud)",
		[DRAWER_ST_STOCK_DONE] = "stage 2 done, its FinalStage not served",
		[DRAWER_ST_FINAL] = "on FinalStage, the final image not delivered",
		[DRAWER_ST_ENDED] = "ended",
	};
	return (unsigned)st < _DRAWER_ST_MAX ? names[st] : "invalid";
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
	if (v->state != DRAWER_ST_ENDED) {
		snprintf(buf, len, "device %u of %u: %s%s: NOT done: %s", i + 1, d->n,
			 v->deviceid[0] ? v->deviceid : "(id unknown)", mac,
			 drawer_state_name(v->state));
		return true;
	}
	const char *what = v->outcome == DRAWER_DONE	     ? "DONE: final firmware delivered"
			   : v->outcome == DRAWER_INTERRUPTED ? "NOT done: interrupted"
							      : "NOT done";
	snprintf(buf, len, "device %u of %u: %s%s: %s%s%s", i + 1, d->n,
		 v->deviceid[0] ? v->deviceid : "(id unknown)", mac, what,
		 v->outcome != DRAWER_DONE && v->why[0] ? ": " : "",
		 v->outcome != DRAWER_DONE ? v->why : "");
	return true;
}

/* peers: see peers.h. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "peers.h"

void
peers_init(struct peers *p)
{
	memset(p, 0, sizeof(*p));
}

struct peers_entry *
peers_find(struct peers *p, const char *peer)
{
	for (unsigned i = 0; i < PEERS_MAX; i++)
		if (p->e[i].peer[0] && strcmp(p->e[i].peer, peer) == 0)
			return &p->e[i];
	return NULL;
}

bool
peers_note_device(struct peers *p, const char *deviceid)
{
	if (!deviceid || !deviceid[0])
		return false;
	for (unsigned i = 0; i < p->ndevices; i++)
		if (strcmp(p->devices[i], deviceid) == 0)
			return false;
	if (p->ndevices >= PEERS_DEVICES_MAX)
		return false;
	snprintf(p->devices[p->ndevices++], sizeof(p->devices[0]), "%s", deviceid);
	return true;
}

unsigned
peers_devices(const struct peers *p)
{
	return p->ndevices;
}

struct peers_entry *
peers_bind(struct peers *p, const char *peer, const char *deviceid)
{
	struct peers_entry *e = peers_find(p, peer);
	if (!e) {
		struct peers_entry *oldest = &p->e[0];
		for (unsigned i = 0; i < PEERS_MAX && !e; i++) {
			if (!p->e[i].peer[0])
				e = &p->e[i];
			else if (p->e[i].stamp < oldest->stamp)
				oldest = &p->e[i];
		}
		if (!e)
			e = oldest;
		memset(e, 0, sizeof(*e));
		snprintf(e->peer, sizeof(e->peer), "%s", peer);
	}
	e->stamp = ++p->clock;
	if (deviceid && deviceid[0]) {
		snprintf(e->deviceid, sizeof(e->deviceid), "%s", deviceid);
		peers_note_device(p, deviceid);
	}
	return e;
}

const char *
peers_deviceid(struct peers *p, const char *peer)
{
	struct peers_entry *e = peers_find(p, peer);
	return e && e->deviceid[0] ? e->deviceid : NULL;
}

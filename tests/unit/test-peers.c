/* Unit tests of the peer registry (src/peers.c): one device calling dispatch and
 * then registering is ONE device seen (it was reported as "2 devices seen"). */
#include "config.h"

#include <stdio.h>

#include "check.h"
#include "peers.h"

static struct peers p;

int
main(void)
{
	peers_init(&p);
	/* dispatch, then register, then a reconnect: one device. */
	peers_bind(&p, "192.168.1.50", "10000abcde");
	peers_bind(&p, "192.168.1.50", "10000abcde");
	peers_bind(&p, "192.168.1.51", "10000abcde");
	CHECK_INT(peers_devices(&p), 1);
	CHECK_STR(peers_deviceid(&p, "192.168.1.50"), "10000abcde");
	CHECK(peers_deviceid(&p, "192.168.1.99") == NULL);
	/* A download by an unknown address creates an entry without a device. */
	struct peers_entry *e = peers_bind(&p, "192.168.1.60", "");
	CHECK(e != NULL);
	CHECK(peers_deviceid(&p, "192.168.1.60") == NULL);
	CHECK_INT(peers_devices(&p), 1);
	/* Two devices behind one address (NAT): two devices, the address names the last. */
	peers_bind(&p, "192.168.1.70", "10000aaaa1");
	peers_bind(&p, "192.168.1.70", "10000aaaa2");
	CHECK_INT(peers_devices(&p), 3);
	CHECK_STR(peers_deviceid(&p, "192.168.1.70"), "10000aaaa2");
	CHECK(!peers_note_device(&p, "10000aaaa1"));
	CHECK(!peers_note_device(&p, ""));
	/* Full: the oldest address is reused, never a failure. */
	char ip[32], id[16];
	for (unsigned i = 0; i < PEERS_MAX + 10; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 200, i % 200);
		snprintf(id, sizeof(id), "2000%06x", i);
		CHECK_MSG(peers_bind(&p, ip, id) != NULL, "bind %u", i);
	}
	CHECK_STR(peers_deviceid(&p, "10.0.1.65"), "2000000109");
	CHECK(peers_deviceid(&p, "192.168.1.50") == NULL); /* the oldest went */
	CHECK_INT(peers_devices(&p), PEERS_DEVICES_MAX);
	return check_done();
}

/* Fuzz target for the Avahi browser's core (avahicore_found): what a resolver hands over
 * comes from any host on the LAN (address and TXT strings of an _ewelink._tcp record).
 * Input: the address text up to the first NUL, then the TXT strings as length-prefixed
 * byte strings (as on the wire; each becomes one element of Avahi's aay), cut at the
 * first length running past the end. Invariants (abort on violation): no read outside
 * the input (ASan); 0 exactly when the address is an IPv4 literal; then the device has a
 * mode, a reason unless it is DIY, the DIY route only in DIY mode, bounded strings, and
 * its instance is the item's name.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "avahicore.h"

#define FUZZ_STRINGS_MAX (AVAHI_TXT_STRINGS_MAX + 4) /* a few past the limit */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct avahicore_table t;
	struct avahicore_bytes txt[FUZZ_STRINGS_MAX];
	char addr[64];
	const uint8_t *nul = memchr(data, 0, size);
	size_t alen = nul ? (size_t)(nul - data) : size, off, n = 0;
	struct avahicore_item *it;
	struct in_addr a;
	int r, i;

	if (alen >= sizeof(addr))
		return 0;
	memcpy(addr, data, alen);
	addr[alen] = '\0';
	off = nul ? alen + 1 : size;
	while (off < size && n < FUZZ_STRINGS_MAX) {
		size_t l = data[off++];

		if (l > size - off)
			break;
		txt[n++] = (struct avahicore_bytes){ data + off, l };
		off += l;
	}
	memset(&t, 0, sizeof(t));
	i = avahicore_add(&t, 1, 0, "eWeLink_1000fuzz00", "local");
	if (i < 0)
		abort();
	it = &t.it[i];
	r = avahicore_found(it, addr, 8081, txt, n);
	if ((r == 0) != (inet_pton(AF_INET, addr, &a) == 1))
		abort();
	if (r)
		return 0;
	if (!it->resolved || it->dev.instance != it->name)
		abort();
	if (it->dev.dev.mode != DNSSD_MODE_DIY && !it->dev.dev.why)
		abort();
	if ((it->dev.dev.route == DIY_ROUTE_DIY) != (it->dev.dev.mode == DNSSD_MODE_DIY))
		abort();
	if (strlen(it->dev.dev.id) > DNSSD_ID_MAX || strlen(it->dev.dev.type) > DNSSD_TYPE_MAX ||
	    strlen(it->dev.addr) >= INET_ADDRSTRLEN)
		abort();
	if (avahicore_removed(it) != &it->dev)
		abort();
	return 0;
}

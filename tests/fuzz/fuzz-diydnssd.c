/* Fuzz target for the DNS-SD TXT decoder of the DIY route: the input is a TXT RDATA as it
 * comes off the network (any host on the LAN can announce _ewelink._tcp). Invariants (abort
 * on violation): parsing never reads outside the input (ASan); the concatenated dataN fits
 * the buffer and has the returned length; classification always yields a mode, a reason, and
 * the DIY route only for DIY mode.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnssd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[DNSSD_DATA_MAX + 1];
	struct dnssd_device d;
	struct dnssd_txt t;
	int n;

	if (dnssd_txt_parse(data, size, &t) != 0)
		return 0;
	n = dnssd_txt_data(&t, out, sizeof(out));
	if (n >= 0 && (size_t)n != strlen(out))
		abort();
	dnssd_classify(&t, "eWeLink_fuzz", &d);
	if (!d.why || (d.route == DIY_ROUTE_DIY) != (d.mode == DNSSD_MODE_DIY))
		abort();
	if (strlen(d.id) > DNSSD_ID_MAX || strlen(d.ssid) > DIY_SSID_MAX)
		abort();
	return 0;
}

/* diyhidden: see diyhidden.h. Pure. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>

#include "diyhidden.h"

bool
diyhidden_on_link(uint32_t ip, const struct diyhidden_net *nets, size_t n)
{
	size_t usable = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t m = nets[i].mask;

		if (m == 0 || m == 0xffffffffu)
			continue;
		usable++;
		if (((nets[i].addr ^ ip) & m) == 0)
			return true;
	}
	return usable == 0; /* nothing to compare with: do not claim another subnet */
}

enum diyhidden
diyhidden_unannounced(const char *ip, bool on_link, char *buf, size_t len, const char **why)
{
	if (!on_link) {
		*why = "it is on another subnet: mDNS does not cross routers";
		snprintf(buf, len, "%s answers on port 8081 but is not announced over mDNS: it is "
			 "on another subnet than this computer, and mDNS does not cross routers. Its "
			 "leaving DIY mode cannot be observed: a reported success will end with exit "
			 "6 (not proven); run from a computer on the device's network for a full "
			 "proof", ip);
		return DIYHIDDEN_SUBNET;
	}
	*why = "mDNS is blocked between this computer and the device";
	snprintf(buf, len, "%s answers on port 8081 but is not announced over mDNS although "
		 "Avahi runs: multicast (mDNS, UDP 5353) is blocked between this computer and the "
		 "device (AP/client isolation, a guest network, Docker or a VM network). Its leaving "
		 "DIY mode cannot be observed: a reported success will end with exit 6 (not "
		 "proven)", ip);
	return DIYHIDDEN_BLOCKED;
}

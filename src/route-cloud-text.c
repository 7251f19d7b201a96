/* route-cloud-text: the longer texts of the cloud route (route-cloud.h), apart from
 * the tables to keep route-cloud.c short. Pure. */
#include "config.h"

#include <stdio.h>

#include "route-cloud.h"

static const char *
ssid(const struct route_cloud_facts *f)
{
	return f->ssid ? f->ssid : "your home WiFi";
}

bool
route_cloud_no_call_text(const struct route_cloud_facts *f, bool expired, char *buf, size_t len)
{
	char when[64];
	if (expired)
		snprintf(when, sizeof(when), "within %u s (--call-timeout)", f->call_timeout_s);
	else
		snprintf(when, sizeof(when), "yet");
	snprintf(buf, len,
		 "The device took the WiFi settings and left its WiFi, but has not called %s:%u %s. "
		 "Likely causes, most likely first: 1) a wrong WiFi password; 2) a wrong SSID "
		 "(\"%s\", case matters); 3) a 5 GHz-only network (the device needs 2.4 GHz); "
		 "4) client isolation on the router (WiFi clients cannot reach each other); "
		 "5) a firewall on this computer blocking TCP port %u (HTTPS). What to do: fix "
		 "the cause, put the device in pairing mode again (hold its button ~7 s), then "
		 "rerun sonota-c.",
		 f->serving_host ? f->serving_host : "this computer", f->https_port, when, ssid(f),
		 f->https_port);
	return true;
}

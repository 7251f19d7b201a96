/* Fuzz target for the DIY route's JSON decoders: diy_parse_info, diy_parse_reply and
 * diy_parse_completion get the whole input (device replies and the completion POST body are
 * untrusted bytes). Invariants (abort on violation):
 *  - a parsed info's strings are NUL-terminated within their limits and printable;
 *  - an info with error 0 is also a valid reply envelope with the same error and seq;
 *  - a parsed deviceid survives a round trip through diy_build_info and cJSON (when
 *    non-empty and without a space): the builder escapes what it must (a '"' in an id was
 *    the first input that broke a naive substring check of this target, kept as a seed).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct diy_info in;
	struct diy_reply r;
	int e;

	if (diy_parse_info(buf, size, &in) == 0) {
		check_text(in.deviceid, DIY_DEVICEID_MAX);
		check_text(in.fw_version, DIY_VERSION_MAX);
		check_text(in.ssid, DIY_SSID_MAX);
		check_text(in.bssid, DIY_BSSID_MAX);
		if (diy_parse_reply(buf, size, &r) != 0 || r.error != in.reply.error ||
		    r.has_seq != in.reply.has_seq || r.seq != in.reply.seq)
			abort();
		if (in.deviceid[0] && !strchr(in.deviceid, ' ')) {
			char *s = diy_build_info(in.deviceid);
			cJSON *o = s ? cJSON_Parse(s) : NULL;
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceid");

			if (s && (!cJSON_IsString(id) || strcmp(id->valuestring, in.deviceid)))
				abort();
			cJSON_Delete(o);
			free(s);
		}
		(void)diy_fw_name(in.fw);
		(void)diy_route_for_version(in.fw_version);
	}
	(void)diy_parse_reply(buf, size, &r);
	(void)diy_parse_completion(buf, size, &e);
	return 0;
}

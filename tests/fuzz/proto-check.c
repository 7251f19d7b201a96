/* proto-check: see proto-check.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "proto-check.h"

int
proto_check_texts(char *const *texts, unsigned n, uint64_t *last_seq)
{
	for (unsigned i = 0; i < n; i++) {
		const char *end = NULL;
		const cJSON *q;
		cJSON *o;
		int r = 0;

		if (!texts[i])
			return -EBADMSG;
		/* require_null_terminated: "{}x" is not one JSON text. */
		o = cJSON_ParseWithOpts(texts[i], &end, 1);
		if (!o)
			return -EBADMSG;
		if (!cJSON_IsObject(o)) {
			r = -EPROTO;
		} else {
			q = cJSON_GetObjectItemCaseSensitive(o, "sequence");
			if (cJSON_IsString(q)) {
				char *e = NULL;
				unsigned long long v = strtoull(q->valuestring, &e, 10);

				if (e == q->valuestring || *e || v <= *last_seq)
					r = -ERANGE;
				else
					*last_seq = v;
			}
		}
		cJSON_Delete(o);
		if (r < 0)
			return r;
	}
	return 0;
}

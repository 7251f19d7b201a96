/* Fuzz target for diyhttp_classify(): what a device (or anything listening on port 8081)
 * sends back to a /zeroconf request. Byte 0 picks the step and the connection's end (bits
 * 0-1 step, bit 2 eof, bit 3 reset, bit 4 timed out); the rest is what was read. Invariants
 * (abort on violation): -EAGAIN only while nothing ended the connection; otherwise 0 with the
 * step and sent_deviceid echoed; a reply to info comes with a parsed diy_info whose error
 * matches.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diyhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diyflow_result r;
	struct diy_info info;
	struct diyhttp_seen seen;
	enum diyflow_step step;
	int e;

	if (size < 1)
		return 0;
	step = (enum diyflow_step)(1 + data[0] % 3);
	seen = (struct diyhttp_seen){ .buf = data + 1, .len = size - 1, .eof = data[0] & 4,
				      .reset = data[0] & 8, .timed_out = data[0] & 16 };
	memset(&info, 0, sizeof(info));
	info.reply.error = -12345;
	e = diyhttp_classify(step, data[0] & 32, &seen, &r, &info);
	if (e == -EAGAIN) {
		if (seen.eof || seen.reset || seen.timed_out)
			abort();
		return 0;
	}
	if (e != 0 || r.step != step || r.sent_deviceid != !!(data[0] & 32))
		abort();
	if (r.outcome == DIYFLOW_OUT_REPLY && step == DIYFLOW_STEP_INFO &&
	    info.reply.error != r.error)
		abort();
	return 0;
}

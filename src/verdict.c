/* verdict: see verdict.h. */
#include "config.h"

#include <string.h>

#include "verdict.h"

enum verdict
verdict_decide(const struct verdict_in *in)
{
	if (!in->file || !in->file[0] || in->head || in->status >= 400)
		return VERDICT_NOT_FINAL;
	bool whole = in->complete && in->off == 0 && in->len == in->total && in->total > 0;
	bool arduino = strcmp(in->file, VERDICT_FINAL_FILE) == 0;
	if (!in->final_peer)
		return arduino && whole ? VERDICT_STRAY : VERDICT_NOT_FINAL;
	if (!whole)
		return VERDICT_ABORTED_RETRY;
	if (arduino)
		return VERDICT_DELIVERED;
	if (strcmp(in->file, VERDICT_USER2_FILE) == 0)
		return VERDICT_USER2;
	return VERDICT_NOT_FINAL;
}

const char *
verdict_name(enum verdict v)
{
	static const char *const names[_VERDICT_MAX] = {
		[VERDICT_NOT_FINAL] = "not-final",
		[VERDICT_DELIVERED] = "delivered",
		[VERDICT_USER2] = "user2",
		[VERDICT_ABORTED_RETRY] = "aborted-retry",
		[VERDICT_STRAY] = "stray-download-ignored",
	};
	return (unsigned)v < _VERDICT_MAX ? names[v] : "invalid";
}

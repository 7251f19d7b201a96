/* Unit tests of the final-delivery verdict (src/verdict.c): only a whole
 * image_arduino.bin to FinalStage's device ends a takeover. */
#include "config.h"

#include "check.h"
#include "verdict.h"

#define SZ 480000ull
#define FIN VERDICT_FINAL_FILE
#define U2 VERDICT_USER2_FILE

static const struct {
	const char *name;
	struct verdict_in in;
	enum verdict want;
} cases[] = {
	{ "E2A, whole arduino", { true, FIN, 200, false, true, 0, SZ, SZ }, VERDICT_DELIVERED },
	{ "E2A, arduino short", { true, FIN, 200, false, false, 0, SZ, SZ },
	  VERDICT_ABORTED_RETRY },
	{ "E2A, arduino range", { true, FIN, 206, false, true, 4096, 4096, SZ },
	  VERDICT_ABORTED_RETRY },
	{ "E2A, whole user2", { true, U2, 200, false, true, 0, SZ, SZ }, VERDICT_USER2 },
	{ "E2A, user2 short", { true, U2, 200, false, false, 0, SZ, SZ }, VERDICT_ABORTED_RETRY },
	{ "E2A, HEAD", { true, FIN, 200, true, true, 0, SZ, SZ }, VERDICT_NOT_FINAL },
	{ "E2A, 404", { true, FIN, 404, false, true, 0, 0, 0 }, VERDICT_NOT_FINAL },
	{ "E2A, no file", { true, "", 200, false, true, 0, SZ, SZ }, VERDICT_NOT_FINAL },
	{ "curl, whole arduino", { false, FIN, 200, false, true, 0, SZ, SZ }, VERDICT_STRAY },
	{ "curl, short arduino", { false, FIN, 200, false, false, 0, SZ, SZ },
	  VERDICT_NOT_FINAL },
	{ "stock device, user2", { false, U2, 200, false, true, 0, SZ, SZ }, VERDICT_NOT_FINAL },
	{ "stock device, range", { false, U2, 206, false, true, 0, 4096, SZ },
	  VERDICT_NOT_FINAL },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum verdict v = verdict_decide(&cases[i].in);
		CHECK_MSG(v == cases[i].want, "%s: %s, want %s", cases[i].name, verdict_name(v),
			  verdict_name(cases[i].want));
	}
	CHECK_STR(verdict_name(VERDICT_STRAY), "stray-download-ignored");
	CHECK_STR(verdict_name(_VERDICT_MAX), "invalid");
	return check_done();
}

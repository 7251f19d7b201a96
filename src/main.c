/* sonota-c entry point (placeholder while the modules land). */
#include "config.h"

#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "sonota-c %s: not built yet\n", SONOTA_VERSION);
	return 1;
}

/* `sonota-c --scan --device-ip IP` until the option exists (issue 11; diyrun adds
 * --device-ip): scan_run_at() on a default configuration, as main() will call it.
 *
 *   test-scan-ip IP [json]
 *
 * Prints what scan_run_at prints and exits with its status (run.sh checks both).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "scan.h"

int
main(int argc, char **argv)
{
	struct cfg cfg;
	int code;

	if (argc < 2) {
		fprintf(stderr, "usage: %s IP [json]\n", argv[0]);
		return 2;
	}
	cfg_init(&cfg);
	cfg.json = argc > 2 && !strcmp(argv[2], "json");
	code = scan_run_at(&cfg, argv[1], stdout, stderr);
	cfg_free(&cfg);
	return code;
}

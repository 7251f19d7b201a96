/* sonota-c: take an ITEAD Sonoff off its stock firmware over WiFi.
 *
 * The table of contents: options -> logger -> context (images, pre-flight,
 * certificate, listeners, address events) -> the loop -> teardown in reverse.
 * Exit codes: enum sonota_exit in cfg.h (also in --help and docs/sonota-c.1).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "diyfile.h"
#include "diyrun.h"
#include "imageset.h"
#include "log.h"
#include "scan.h"
#include "sonota.h"

int
main(int argc, char **argv)
{
	struct cfg cfg;
	struct log log = { 0 };
	struct sonota s;
	char err[512] = "";
	char path[64];
	int code;

	cfg_init(&cfg);
	int r = cfg_parse_args(&cfg, argc, argv, err, sizeof(err));
	if (r == 0)
		r = cfg_check(&cfg, err, sizeof(err));
	if (r == CFG_DONE) {
		cfg_free(&cfg);
		return SONOTA_EXIT_OK;
	}
	if (r < 0) {
		fprintf(stderr, "sonota-c: %s\nTry 'sonota-c --help'.\n", err);
		cfg_free(&cfg);
		return SONOTA_EXIT_USAGE;
	}

	if (cfg.check_images) {
		code = imageset_report(stdout, cfg.images_dir) == 0 ? SONOTA_EXIT_OK
								    : SONOTA_EXIT_IMAGES;
		/* The DIY route's image, by that route's rules (docs/diy.md). */
		if (cfg.diy_image && diyfile_report(stdout, cfg.diy_image) < 0)
			code = SONOTA_EXIT_IMAGES;
		cfg_free(&cfg);
		return code;
	}

	/* issue 11 (avahi): list the devices on the LAN and exit (no log file) */
	if (cfg.scan) {
		code = cfg.device_ip ? scan_run_at(&cfg, cfg.device_ip, stdout, stderr)
				     : scan_run(&cfg, stdout, stderr);
		cfg_free(&cfg);
		return code;
	}

	const char *log_path = NULL;
	if (!cfg.no_log_file) {
		log_path = cfg.log_file;
		if (!log_path) {
			log_default_path(path, sizeof(path));
			log_path = path;
		}
	}
	r = log_open(&log, log_path, cfg.console_level);
	if (r < 0) {
		fprintf(stderr, "sonota-c: cannot open the log file \"%s\": %s\n", log_path,
			strerror(-r));
		cfg_free(&cfg);
		return SONOTA_EXIT_FAILURE;
	}
	if (cfg.wifi_password)
		log_add_secret(&log, cfg.wifi_password);
	log_notice(&log, "sonota-c %s%s%s", SONOTA_VERSION, log_path ? ", debug log " : "",
		   log_path ? log_path : "");

	if (cfg.diy) { /* issue 11: the DIY route is a composition of its own (diyrun.h) */
		code = diyrun_main(&cfg, &log);
	} else {
		code = sonota_init(&s, &cfg, &log);
		if (code == 0)
			code = sonota_run(&s);
		sonota_fini(&s);
	}
	log_notice(&log, "exit %d", code);
	log_close(&log);
	cfg_free(&cfg);
	return code;
}

/* cfgusage: what the option table says to people (cfg.h): --help
 * (cfg_usage), --version, --print-config (cfg_print, which never shows the
 * password nor its length), and the per-option facts test-config checks against
 * README.md and the man page (cfg_option_name, cfg_option_doc). Generated from
 * the table through cfg_opt_def(); nothing here changes a struct cfg.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libwebsockets.h>
#include <mbedtls/version.h>
#include <microhttpd.h>

#include "cfg.h"
#include "cfgint.h"
#include "log.h"

const char *
cfg_option_name(unsigned opt)
{
	return opt < _CFG_OPT_MAX ? cfg_opt_def(opt)->name : NULL;
}

int
cfg_option_doc(unsigned opt, struct cfg_option_doc *ret)
{
	const struct option_def *o;

	if (opt >= _CFG_OPT_MAX)
		return -ENOENT;
	o = cfg_opt_def(opt);
	memset(ret, 0, sizeof(*ret));
	ret->name = o->name;
	switch (o->kind) {
	case K_PORT:
	case K_UINT:
		ret->has_range = true;
		ret->min = o->min;
		ret->max = o->max;
		snprintf(ret->def, sizeof(ret->def), "%u", o->def);
		return 0;
	case K_STRING:
		ret->has_range = true;
		ret->min = o->min;
		ret->max = o->max;
		break;
	default:
		break;
	}
	if (!o->def_fn && o->def_help)
		snprintf(ret->def, sizeof(ret->def), "%s", o->def_help);
	else if (!o->def_fn && o->def_str)
		snprintf(ret->def, sizeof(ret->def), "%s", o->def_str);
	return 0;
}

const char *
cfg_wifi_name(enum cfg_wifi w)
{
	return w == CFG_WIFI_AUTO ? "auto" : w == CFG_WIFI_MANUAL ? "manual" : "default";
}

const char *
cfg_flash_mode_name(enum cfg_flash_mode m)
{
	return m == CFG_FLASH_DIO ? "dio" : "dout";
}

/* ---- output ------------------------------------------------------------ */

static const char *
password_source_name(enum cfg_password_source s)
{
	switch (s) {
	case CFG_PASSWORD_ARG: return "from --wifi-password";
	case CFG_PASSWORD_FILE: return "from --wifi-password-file";
	case CFG_PASSWORD_ENV: return "from $" CFG_ENV_WIFI_PASSWORD;
	case CFG_PASSWORD_NONE: break;
	}
	return "";
}

void
cfg_print(const struct cfg *c, FILE *f)
{
	char buf[CFG_PATH_MAX + 1];

	for (unsigned i = 0; i < _CFG_OPT_MAX; i++) {
		const struct option_def *o = cfg_opt_def(i);
		const char *s;

		switch (o->kind) {
		case K_HELP:
		case K_VERSION:
			continue;
		case K_FLAG:
		case K_CHECK_IMAGES:
			fprintf(f, "%-20s %s\n", o->name, *CFIELD(c, o->offset, bool) ? "yes" : "no");
			break;
		case K_COUNT:
			fprintf(f, "%-20s %u\n", o->name, *CFIELD(c, o->offset, unsigned));
			break;
		case K_PORT:
			fprintf(f, "%-20s %u\n", o->name, *CFIELD(c, o->offset, uint16_t));
			break;
		case K_UINT:
			fprintf(f, "%-20s %u\n", o->name, *CFIELD(c, o->offset, unsigned));
			break;
		case K_FLASH:
			fprintf(f, "%-20s %s\n", o->name,
				cfg_flash_mode_name(*CFIELD(c, o->offset, enum cfg_flash_mode)));
			break;
		case K_WIFI:
			fprintf(f, "%-20s %s\n", o->name,
				cfg_wifi_name(*CFIELD(c, o->offset, enum cfg_wifi)));
			break;
		case K_SECRET:
			/* Never the value, never its length. */
			if (c->wifi_password)
				fprintf(f, "%-20s *** (%s)\n", o->name,
					password_source_name(c->wifi_password_source));
			else
				fprintf(f, "%-20s (none)\n", o->name);
			break;
		case K_STRING:
		case K_PATH:
		case K_IPV4:
			s = *CFIELD(c, o->offset, char *);
			if (s)
				fprintf(f, "%-20s \"%s\"\n", o->name, s);
			else
				fprintf(f, "%-20s (%s)\n", o->name,
					o->def_fn ? o->def_fn(buf, sizeof(buf))
					: o->def_help ? o->def_help
					: o->def_str ? o->def_str : "none");
			break;
		}
	}
	if (c->cert_dir)
		fprintf(f, "%-20s \"%s\"\n", "cert-dir", c->cert_dir);
	fprintf(f, "%-20s %s\n", "console-level", c->console_level <= LOG_ERR ? "error"
			       : c->console_level == LOG_WARN ? "warning"
			       : c->console_level == LOG_NOTICE ? "notice"
			       : c->console_level == LOG_INFO ? "info" : "debug");
}

/* One option's lines in --help: "  -v, --verbose" then the help text from
 * column 30, continuation lines aligned, the default last. */
static void
usage_option(FILE *f, const struct option_def *o)
{
	char head[64], def[CFG_PATH_MAX + 16] = "", buf[CFG_PATH_MAX + 1];
	const char *p = o->help;
	int n;

	n = snprintf(head, sizeof(head), "  %c%c%s--%s%s%s", o->short_name ? '-' : ' ',
		     o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
		     o->metavar && o->metavar[0] != '[' ? " " : "", o->metavar ? o->metavar : "");
	if (o->def_fn)
		snprintf(def, sizeof(def), " (default: %s)", o->def_fn(buf, sizeof(buf)));
	else if (o->def_help)
		snprintf(def, sizeof(def), " (default: %s)", o->def_help);
	else if (o->def_str)
		snprintf(def, sizeof(def), " (default: %s)", o->def_str);
	else if (o->kind == K_PORT || o->kind == K_UINT)
		snprintf(def, sizeof(def), " (default: %u)", o->def);

	fputs(head, f);
	if (n >= 29)
		fprintf(f, "\n%29s", "");
	else
		fprintf(f, "%*s", 29 - n, "");
	for (;;) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			break;
		fprintf(f, " %.*s\n%29s", (int)(nl - p), p, "");
		p = nl + 1;
	}
	/* Put the default on its own line when it would pass 80 columns. */
	if (30 + strlen(p) + strlen(def) > 80 && def[0])
		fprintf(f, " %s\n%29s%s\n", p, "", def);
	else
		fprintf(f, " %s%s\n", p, def);
}

void
cfg_usage(FILE *f)
{
	fputs("Usage: sonota-c [OPTION]...\n"
	      "Take ITEAD Sonoff devices off their stock eWeLink firmware over WiFi and leave\n"
	      "them running open firmware (a re-implementation of SonOTA).\n"
	      "\n"
	      "Stage 1 gives the device (in pairing mode, network ITEAD-xxxxxxxxxx) your home\n"
	      "WiFi and this host as its server; in stage 2 the stock firmware downloads the\n"
	      "intermediate firmware from this host; in stage 3 join the FinalStage network\n"
	      "and the final image is delivered.\n"
	      "\n"
	      "Options:\n", f);
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++)
		if (!cfg_opt_def(i)->advanced)
			usage_option(f, cfg_opt_def(i));
	fputs("\nAdvanced:\n", f);
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++)
		if (cfg_opt_def(i)->advanced)
			usage_option(f, cfg_opt_def(i));
	fprintf(f, "\n"
		"Environment:\n"
		"  %-27s the WiFi password when neither --wifi-password nor\n"
		"  %-27s --wifi-password-file is given\n"
		"\n"
		"Exit codes:\n"
		"  %3d  success: the device on FinalStage got the final image\n"
		"       (the summary lists any other device as NOT done); --diy:\n"
		"       every byte acknowledged, completion error 0, left mDNS\n"
		"  %3d  failure during the run (a device failed, a timeout)\n"
		"  %3d  usage error\n"
		"  %3d  images invalid or missing\n"
		"  %3d  cannot bind a port, or no permission to\n"
		"  %3d  pre-flight failed (address checks; --diy: several DIY\n"
		"       devices and no --device-id: nothing sent)\n"
		"  %3d  --diy: the device reported success but leaving mDNS\n"
		"       could not be observed (no Avahi, or no goodbye within\n"
		"       120 s while port 8081 went silent): NOT called done\n"
		"  %3d  interrupted (SIGINT, SIGTERM, SIGHUP)\n"
		"\n"
		"Examples:\n"
		"  sonota-c --serving-host 192.168.1.5\n"
		"  sonota-c --no-prov --serving-host 192.168.1.5\n"
		"  sonota-c --serving-host 192.168.1.5 --wifi-ssid Home --wifi-password-file pw\n"
		"  sonota-c --check-images=/path/to/images\n"
		"  sonota-c --diy --diy-image tasmota-lite.bin [--device-ip 192.168.1.77]\n"
		"  sonota-c --scan\n"
		"  sonota-c --diy --diy-image tasmota-lite.bin --device-id 1000abcdef\n"
		"  sonota-c --diy --pair --diy-image tasmota-lite.bin --wifi-ssid Home \\\n"
		"           --wifi-password-file pw\n",
		CFG_ENV_WIFI_PASSWORD, "", SONOTA_EXIT_OK, SONOTA_EXIT_FAILURE, SONOTA_EXIT_USAGE,
		SONOTA_EXIT_IMAGES, SONOTA_EXIT_BIND, SONOTA_EXIT_PREFLIGHT, SONOTA_EXIT_UNPROVEN,
		SONOTA_EXIT_INTERRUPTED);
}

void
cfg_version(FILE *f)
{
	char mbed[32]; /* mbedtls_version_get_string_full() needs at least 18 bytes */

	const char *lws = lws_get_library_version();
	int lws_len = (int)strlen(lws);

	/* lws appends "-<git hash>", which is empty in a release build. */
	while (lws_len > 0 && (lws[lws_len - 1] == '-' || lws[lws_len - 1] == ' '))
		lws_len--;
	mbedtls_version_get_string_full(mbed);
	fprintf(f, "sonota-c %s\n"
		"libwebsockets %.*s\n"
		"%s\n"
		"libmicrohttpd %s\n",
		SONOTA_VERSION, lws_len, lws, mbed, MHD_get_version());
}

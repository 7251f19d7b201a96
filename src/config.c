/* config: see cfg.h (the header is not named config.h; cfg.h says why).
 *
 * Everything about an option lives in one row of options[]: its names, the kind
 * of value, the field it lands in, range, default and help text. getopt_long's
 * tables, --help, cfg_print and cfg_init's defaults are all generated from it.
 * cfg_parse_args checks each value on its own; rules between options live in
 * cfg_check, so that the order on the command line never matters.
 *
 * This file holds the table and the lifecycle (cfg_init, cfg_parse_args,
 * cfg_check, cfg_free). The rest of the module, sharing the table through
 * cfgint.h: cfgcheck.c (checks of values, the password file, the ports),
 * cfgpath.c (where files are) and cfgusage.c (--help, --version, cfg_print).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"
#include "cfgint.h"
#include "log.h"
#include "util.h"

static int validate_serving_host(const char *arg, char *msg, size_t msglen);
static int validate_device_ip(const char *arg, char *msg, size_t msglen);
static int validate_ssid(const char *arg, char *msg, size_t msglen);
static int validate_password(const char *arg, char *msg, size_t msglen);
static const char *images_default(char *buf, size_t len);
static const char *cert_default(char *buf, size_t len);
static const char *key_default(char *buf, size_t len);

#define F(field) offsetof(struct cfg, field)

static const struct option_def options[_CFG_OPT_MAX] = {
	[CFG_OPT_SERVING_HOST] = {
		"serving-host", 0, K_IPV4, false, F(serving_host), F(serving_addr),
		.metavar = "IP", .validate = validate_serving_host,
		.help = "this host's address on the home WiFi, which\n"
			"the device must reach in stage 2 (required\n"
			"with --no-prov)",
	},
	[CFG_OPT_NO_PROV] = {
		"no-prov", 0, K_FLAG, false, F(no_prov), 0,
		.help = "skip provisioning: the device is already on\n"
			"the home WiFi (implies --no-check-ip)",
	},
	[CFG_OPT_WIFI_SSID] = {
		"wifi-ssid", 0, K_STRING, false, F(wifi_ssid), 0, 1, CFG_SSID_MAX,
		.metavar = "SSID", .validate = validate_ssid,
		.help = "home WiFi network the device is to join\n"
			"(1-32 bytes)",
	},
	[CFG_OPT_WIFI_PASSWORD] = {
		"wifi-password", 0, K_SECRET, false, F(wifi_password), 0,
		.metavar = "PASS", .validate = validate_password,
		.help = "its WPA2 password: 8-63 printable ASCII\n"
			"characters or 64 hex digits; other users can\n"
			"see it in ps, so prefer --wifi-password-file\n"
			"or $" CFG_ENV_WIFI_PASSWORD,
	},
	[CFG_OPT_WIFI_PASSWORD_FILE] = {
		"wifi-password-file", 0, K_PATH, false, F(wifi_password_file), 0,
		.metavar = "FILE",
		.help = "read the password from the first line of\n"
			"FILE: a pipe, or a file that group and others\n"
			"cannot access (chmod 600)",
	},
	[CFG_OPT_NO_CHECK_IP] = {
		"no-check-ip", 0, K_FLAG, false, F(no_check_ip), 0,
		.help = "do not wait for the device's network\n"
			"(10.10.7.x) in stage 1 nor for the serving\n"
			"host's address in stage 2",
	},
	[CFG_OPT_LEGACY] = {
		"legacy", 0, K_FLAG, false, F(legacy), 0,
		.help = "HTTPS/WSS on port 443 (needs root) instead of\n"
			"8443, plus a plain-HTTP listener on\n"
			"--legacy-port for old firmware",
	},
	[CFG_OPT_SLOWSTREAM] = {
		"slowstream", 's', K_FLAG, false, F(slowstream), 0,
		.help = "advertise the slow image URLs (/slowota/)\n"
			"from the start",
	},
	[CFG_OPT_NO_RELAY_TEST] = {
		"no-relay-test", 0, K_FLAG, false, F(no_relay_test), 0,
		.help = "do not toggle the device's relay before the\n"
			"upgrade",
	},
	[CFG_OPT_FLASH_MODE] = {
		"flash-mode", 0, K_FLASH, false, F(flash_mode), 0, .def = CFG_FLASH_DOUT,
		.metavar = "MODE", .def_help = "dout",
		.help = "flash mode of the images to serve: dout or dio",
	},
	[CFG_OPT_IMAGES] = {
		"images", 0, K_PATH, false, F(images_dir), 0, .def_fn = images_default,
		.metavar = "DIR",
		.help = "directory that holds the firmware images",
	},
	[CFG_OPT_CHECK_IMAGES] = {
		"check-images", 0, K_CHECK_IMAGES, false, F(check_images), F(images_dir),
		.metavar = "[=DIR]",
		.help = "check the images (in DIR, else --images),\n"
			"print a report and exit",
	},
	[CFG_OPT_CERT] = {
		"cert", 0, K_PATH, false, F(cert_file), 0, .metavar = "FILE",
		.def_fn = cert_default,
		.help = "TLS certificate (PEM) for HTTPS/WSS; needs --key",
	},
	[CFG_OPT_KEY] = {
		"key", 0, K_PATH, false, F(key_file), 0, .metavar = "FILE",
		.def_fn = key_default,
		.help = "private key (PEM) of --cert",
	},
	[CFG_OPT_LOG_FILE] = {
		"log-file", 0, K_PATH, false, F(log_file), 0, .metavar = "FILE",
		.def_help = "sonota-<unix time>.log",
		.help = "debug log with every detail (mode 0600)",
	},
	[CFG_OPT_NO_LOG_FILE] = {
		"no-log-file", 0, K_FLAG, false, F(no_log_file), 0,
		.help = "write no debug log",
	},
	[CFG_OPT_VERBOSE] = {
		"verbose", 'v', K_COUNT, false, F(verbose), 0,
		.help = "more console output (-vv: debug)",
	},
	[CFG_OPT_QUIET] = {
		"quiet", 'q', K_COUNT, false, F(quiet), 0,
		.help = "less console output (-q: warnings and errors,\n"
			"-qq: errors only)",
	},
	[CFG_OPT_JSON] = {
		"json", 0, K_FLAG, false, F(json), 0,
		.help = "print one JSON event per line on stdout",
	},
	[CFG_OPT_HELP] = {
		"help", 'h', K_HELP, false, 0, 0,
		.help = "show this help and exit",
	},
	[CFG_OPT_VERSION] = {
		"version", 'V', K_VERSION, false, 0, 0,
		.help = "show the versions of sonota-c and its\n"
			"libraries and exit",
	},
	[CFG_OPT_HTTPS_PORT] = {
		"https-port", 0, K_PORT, true, F(https_port), 0, 0, UINT16_MAX,
		CFG_HTTPS_PORT_DEFAULT, .def_help = "8443; 443 with --legacy",
		.metavar = "PORT",
		.help = "HTTPS/WSS port advertised to the device\n"
			"(0: any free port)",
	},
	[CFG_OPT_HTTP_PORT] = {
		"http-port", 0, K_PORT, true, F(http_port), 0, 0, UINT16_MAX,
		CFG_HTTP_PORT_DEFAULT, .metavar = "PORT",
		.help = "plain-HTTP image port; the stage 3 firmware\n"
			"always downloads from 8080",
	},
	[CFG_OPT_LEGACY_PORT] = {
		"legacy-port", 0, K_PORT, true, F(legacy_port), 0, 0, UINT16_MAX,
		CFG_LEGACY_PORT_DEFAULT, .metavar = "PORT",
		.help = "plain-HTTP port of --legacy",
	},
	[CFG_OPT_BIND] = {
		"bind", 0, K_IPV4, true, F(bind), F(bind_addr), .metavar = "ADDR",
		.def_help = "all addresses",
		.help = "listen on this IPv4 address only (stage 3\n"
			"needs the listeners on 192.168.4.2 too)",
	},
	[CFG_OPT_DONE_TIMEOUT] = {
		"done-timeout", 0, K_UINT, true, F(done_timeout), 0, 1, CFG_DONE_TIMEOUT_MAX,
		CFG_DONE_TIMEOUT_DEFAULT, .metavar = "SECS",
		.help = "after the final image was delivered, how\n"
			"long to wait for the FinalStage network to go\n"
			"away before exiting",
	},
	[CFG_OPT_MAX_DEVICES] = {
		"max-devices", 0, K_UINT, true, F(max_devices), 0, 1, CFG_MAX_DEVICES_MAX,
		CFG_MAX_DEVICES_DEFAULT, .metavar = "N",
		.help = "devices served at the same time (1-256)",
	},
	/* engine: time limits of the waiting stages */
	[CFG_OPT_CALL_TIMEOUT] = {
		"call-timeout", 0, K_UINT, true, F(call_timeout), 0, 1, CFG_TIMEOUT_MAX,
		CFG_CALL_TIMEOUT_DEFAULT, .metavar = "SECS",
		.help = "how long a provisioned device may take to\n"
			"call this computer once it is back on the\n"
			"home WiFi; then exit 1 with the likely causes",
	},
	[CFG_OPT_WAIT_TIMEOUT] = {
		"wait-timeout", 0, K_UINT, true, F(wait_timeout), 0, 1, CFG_TIMEOUT_MAX,
		CFG_WAIT_TIMEOUT_DEFAULT, .metavar = "SECS",
		.help = "limit of every other waiting stage (joining\n"
			"ITEAD-<id>, going home, stage 2, FinalStage);\n"
			"then exit 1 saying what did not happen",
	},
	/* the DIY route (issue 11): only its image check is wired so far */
	[CFG_OPT_DIY_IMAGE] = {
		"diy-image", 0, K_PATH, false, F(diy_image), 0, .metavar = "FILE",
		.help = "the image for a DIY-mode device (firmware\n"
			"3.x), flashed with --diy; with --check-images,\n"
			"report it by the DIY rules",
	},
	/* issue 10: WiFi hops through NetworkManager */
	[CFG_OPT_WIFI] = {
		"wifi", 0, K_WIFI, false, F(wifi), 0, .metavar = "auto|manual",
		.def_help = "auto when NetworkManager manages one WiFi device",
		.help = "auto: join ITEAD-<id> and FinalStage and\n"
			"go home through NetworkManager; manual: you\n"
			"hop the WiFi by hand",
	},
	[CFG_OPT_WIFI_IFACE] = {
		"wifi-iface", 0, K_STRING, false, F(wifi_iface), 0, 1, 15,
		.metavar = "IFACE",
		.help = "the WiFi device to hop (1-15 bytes; needed\n"
			"when NetworkManager manages several)",
	},
	[CFG_OPT_ALLOW_SSH_DROP] = {
		"allow-ssh-drop", 0, K_FLAG, false, F(allow_ssh_drop), 0,
		.help = "hop even when this SSH session rides on\n"
			"that WiFi device (it drops until home)",
	},
	/* issue 11 (avahi): discovery through the host's Avahi daemon */
	[CFG_OPT_SCAN] = {
		"scan", 0, K_FLAG, false, F(scan), 0,
		.help = "list the Sonoffs on this LAN (mDNS, through\n"
			"avahi-daemon): id, address, type, firmware,\n"
			"otaUnlock, which route applies; then exit",
	},
	/* issue 11 (diyrun): the DIY route (docs/diy.md) */
	[CFG_OPT_DIY] = {
		"diy", 0, K_FLAG, false, F(diy), 0,
		.help = "take over a device in DIY mode (eWeLink\n"
			"firmware 3.x) with --diy-image: found over\n"
			"mDNS (Avahi), or named by --device-ip",
	},
	[CFG_OPT_DEVICE_IP] = {
		"device-ip", 0, K_IPV4, false, F(device_ip), F(device_addr),
		.metavar = "IP", .validate = validate_device_ip,
		.help = "with --diy: the IPv4 address of the device\n"
			"in DIY mode (when mDNS cannot find it);\n"
			"with --scan: read that address only",
	},
	/* drawer: take over every ITEAD-* AP in range (issue 10 item 4) */
	[CFG_OPT_ALL] = {
		"all", 0, K_FLAG, false, F(all), 0,
		.help = "take over every ITEAD-<id> WiFi in range\n"
			"(stage 2 together, FinalStage one at a\n"
			"time; needs the automatic WiFi hops); a\n"
			"summary line per device",
	},
	/* diymore: several DIY-mode devices on the LAN (src/diypick.h) */
	[CFG_OPT_DEVICE_ID] = {
		"device-id", 0, K_STRING, false, F(device_id), 0, 1, CFG_DEVICE_ID_MAX,
		.metavar = "ID", .validate = cfg_validate_device_id,
		.help = "with --diy: take the DIY-mode device with\n"
			"this deviceid (needed when several announce\n"
			"themselves); with --scan: list it only",
	},
	/* issue 11 item 2 (diyap): into DIY mode through the compatible-pairing AP */
	[CFG_OPT_PAIR] = {
		"pair", 0, K_FLAG, false, F(pair), 0,
		.help = "with --diy: first give the device in its\n"
			"ITEAD-<id> WiFi (firmware 3.5+, button 5 s,\n"
			"then 5 s more) the home WiFi of --wifi-ssid;\n"
			"you hop this computer when told",
	},
};

#undef F

/* Bit of struct cfg's given beyond the table: --check-images came with =DIR. */
#define GIVEN_CHECK_IMAGES_DIR _CFG_OPT_MAX
_Static_assert(_CFG_OPT_MAX < 63, "struct cfg's given has a bit per option and one more");

/* getopt_long's val for an option without a short name: beyond any char. */
#define LONG_ONLY_BASE 256

const struct option_def *
cfg_opt_def(unsigned id)
{
	return id < _CFG_OPT_MAX ? &options[id] : NULL;
}

/* The table, apply(), cfg_parse_args() and cfg_check() know the helpers of
 * cfgcheck.c and cfgpath.c (cfgint.h) by these short names. */
static const char *
quote(const char *s, char *buf, size_t len)
{
	return cfg_quote(s, buf, len);
}

static int
validate_serving_host(const char *arg, char *msg, size_t msglen)
{
	return cfg_validate_serving_host(arg, msg, msglen);
}

static int
validate_device_ip(const char *arg, char *msg, size_t msglen)
{
	return cfg_validate_device_ip(arg, msg, msglen);
}

static int
validate_ssid(const char *arg, char *msg, size_t msglen)
{
	return cfg_validate_ssid(arg, msg, msglen);
}

static int
validate_password(const char *arg, char *msg, size_t msglen)
{
	return cfg_validate_password(arg, msg, msglen);
}

static int
read_password_file(struct cfg *c, char *err, size_t errlen)
{
	return cfg_read_password_file(c, err, errlen);
}

static int
check_ports(struct cfg *c, char *err, size_t errlen)
{
	return cfg_check_ports(c, err, errlen);
}

static int
own_state_dir(char *buf, size_t len)
{
	return cfg_own_state_dir(buf, len);
}

/* The defaults --help shows for --images, --cert and --key (cfgpath.c). */
static const char *
images_default(char *buf, size_t len)
{
	snprintf(buf, len, "%s", cfg_default_images_dir());
	return buf;
}

static const char *
cert_default(char *buf, size_t len)
{
	return cfg_generated_default(buf, len, "server.crt");
}

static const char *
key_default(char *buf, size_t len)
{
	return cfg_generated_default(buf, len, "server.key");
}

static void
free_string(struct cfg *c, unsigned id, size_t off)
{
	char **p = FIELD(c, off, char *);

	if (options[id].kind == K_SECRET)
		util_free_secret(*p);
	else
		free(*p);
	*p = NULL;
}

void
cfg_init(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++) {
		const struct option_def *o = &options[i];

		switch (o->kind) {
		case K_PORT:
			*FIELD(c, o->offset, uint16_t) = (uint16_t)o->def;
			break;
		case K_UINT:
			*FIELD(c, o->offset, unsigned) = o->def;
			break;
		case K_FLASH:
			*FIELD(c, o->offset, enum cfg_flash_mode) = (enum cfg_flash_mode)o->def;
			break;
		default:
			/* Strings stay NULL until cfg_check (so that this cannot
			 * fail); flags and counters are zero. */
			break;
		}
	}
	c->console_level = LOG_NOTICE;
}

void
cfg_free(struct cfg *c)
{
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++) {
		switch (options[i].kind) {
		case K_STRING:
		case K_PATH:
		case K_SECRET:
		case K_IPV4:
			free_string(c, i, options[i].offset);
			break;
		default:
			break;
		}
	}
	/* A password read from the file or the environment sits in the same
	 * field, freed above as the K_SECRET's. */
	free(c->cert_dir);
	memset(c, 0, sizeof(*c));
}

bool
cfg_given(const struct cfg *c, enum cfg_opt opt)
{
	return (unsigned)opt < _CFG_OPT_MAX && (c->given >> opt & 1);
}

/* Replace a string field with a copy of arg. */
static int
set_string(struct cfg *c, unsigned id, size_t off, const char *arg, char *err, size_t errlen)
{
	char *copy = strdup(arg);

	if (!copy) {
		util_seterr(err, errlen, "--%s: out of memory", options[id].name);
		return -ENOMEM;
	}
	free_string(c, id, off);
	*FIELD(c, off, char *) = copy;
	return 0;
}

static int
number_error(unsigned id, const char *arg, int r, char *err, size_t errlen)
{
	const struct option_def *o = &options[id];
	char q[QUOTE_MAX];

	if (r == -ERANGE)
		util_seterr(err, errlen, "--%s: %s is out of range %u..%u", o->name,
		            quote(arg, q, sizeof(q)), o->min, o->max);
	else
		util_seterr(err, errlen, "--%s: \"%s\" is not a number (decimal, no sign)", o->name,
		            quote(arg, q, sizeof(q)));
	return -EINVAL;
}

/* Store one option's value. Returns 0, CFG_DONE or -errno with err set. */
static int
apply(struct cfg *c, unsigned id, const char *arg, char *err, size_t errlen)
{
	const struct option_def *o = &options[id];
	char q[QUOTE_MAX], msg[160];
	size_t len;
	int r;

	c->given |= UINT64_C(1) << id;
	switch (o->kind) {
	case K_FLAG:
		*FIELD(c, o->offset, bool) = true;
		return 0;
	case K_COUNT: {
		unsigned *n = FIELD(c, o->offset, unsigned);

		if (*n < CFG_COUNT_MAX)
			(*n)++;
		return 0;
	}
	case K_HELP:
		cfg_usage(stdout);
		return CFG_DONE;
	case K_VERSION:
		cfg_version(stdout);
		return CFG_DONE;
	case K_STRING:
		len = strlen(arg);
		if (len < o->min || len > o->max) {
			util_seterr(err, errlen, "--%s: \"%s\" must be %u to %u bytes long",
			            o->name, quote(arg, q, sizeof(q)), o->min, o->max);
			return -EINVAL;
		}
		break;
	case K_PATH:
		len = strlen(arg);
		if (len == 0 || len > CFG_PATH_MAX) {
			util_seterr(err, errlen, "--%s: %s", o->name,
			            len ? "the path is too long" : "the path is empty");
			return -EINVAL;
		}
		return set_string(c, id, o->offset, arg, err, errlen);
	case K_SECRET:
		break;
	case K_PORT: {
		uint16_t v;

		r = util_parse_u16(arg, (uint16_t)o->min, (uint16_t)o->max, &v);
		if (r < 0)
			return number_error(id, arg, r, err, errlen);
		*FIELD(c, o->offset, uint16_t) = v;
		return 0;
	}
	case K_UINT: {
		unsigned v;

		r = util_parse_uint(arg, o->min, o->max, &v);
		if (r < 0)
			return number_error(id, arg, r, err, errlen);
		*FIELD(c, o->offset, unsigned) = v;
		return 0;
	}
	case K_IPV4: {
		uint32_t a;

		if (util_parse_ipv4(arg, &a) < 0) {
			util_seterr(err, errlen,
			            "--%s: \"%s\" is not a dotted IPv4 address like "
			            "192.168.1.5",
			            o->name, quote(arg, q, sizeof(q)));
			return -EINVAL;
		}
		if (o->validate && o->validate(arg, msg, sizeof(msg)) < 0) {
			util_seterr(err, errlen, "--%s: %s %s", o->name, quote(arg, q, sizeof(q)),
			            msg);
			return -EINVAL;
		}
		r = set_string(c, id, o->offset, arg, err, errlen);
		if (r < 0)
			return r;
		*FIELD(c, o->offset2, uint32_t) = a;
		return 0;
	}
	case K_WIFI:
		if (strcasecmp(arg, "auto") == 0) {
			*FIELD(c, o->offset, enum cfg_wifi) = CFG_WIFI_AUTO;
		} else if (strcasecmp(arg, "manual") == 0) {
			*FIELD(c, o->offset, enum cfg_wifi) = CFG_WIFI_MANUAL;
		} else {
			util_seterr(err, errlen, "--%s: \"%s\" is neither \"auto\" nor \"manual\"",
			            o->name, quote(arg, q, sizeof(q)));
			return -EINVAL;
		}
		return 0;
	case K_FLASH:
		if (strcasecmp(arg, "dout") == 0) {
			*FIELD(c, o->offset, enum cfg_flash_mode) = CFG_FLASH_DOUT;
		} else if (strcasecmp(arg, "dio") == 0) {
			*FIELD(c, o->offset, enum cfg_flash_mode) = CFG_FLASH_DIO;
		} else {
			util_seterr(err, errlen, "--%s: \"%s\" is neither \"dout\" nor \"dio\"",
			            o->name, quote(arg, q, sizeof(q)));
			return -EINVAL;
		}
		return 0;
	case K_CHECK_IMAGES:
		*FIELD(c, o->offset, bool) = true;
		if (!arg)
			return 0;
		if (*arg == '\0' || strlen(arg) > CFG_PATH_MAX) {
			util_seterr(err, errlen, "--%s: %s", o->name,
			            *arg ? "the path is too long" : "the path is empty");
			return -EINVAL;
		}
		c->given |= UINT64_C(1) << GIVEN_CHECK_IMAGES_DIR;
		return set_string(c, id, o->offset2, arg, err, errlen);
	}

	/* K_STRING and K_SECRET: the validator has the last word. */
	if (o->validate && o->validate(arg, msg, sizeof(msg)) < 0) {
		if (o->kind == K_SECRET)
			util_seterr(err, errlen, "--%s: %s", o->name, msg);
		else
			util_seterr(err, errlen, "--%s: \"%s\" %s", o->name,
			            quote(arg, q, sizeof(q)), msg);
		return -EINVAL;
	}
	return set_string(c, id, o->offset, arg, err, errlen);
}

/* Which table entry has this getopt val? -1 when none. */
static int
lookup_val(int val)
{
	if (val >= LONG_ONLY_BASE && val < LONG_ONLY_BASE + _CFG_OPT_MAX)
		return val - LONG_ONLY_BASE;
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++)
		if (options[i].short_name && options[i].short_name == val)
			return (int)i;
	return -1;
}

/* getopt_long said '?': an unknown or ambiguous option, or an argument given
 * to an option that takes none. Never echo what follows '=': it may be a
 * mistyped --wifi-password=... */
static int
unknown_option(int argc, char **argv, char *err, size_t errlen)
{
	const char *tok = optind >= 1 && optind <= argc ? argv[optind - 1] : NULL;
	char name[QUOTE_MAX];
	int id = lookup_val(optopt);

	if (id >= 0) {
		util_seterr(err, errlen, "--%s: takes no argument", options[id].name);
		return -EINVAL;
	}
	if (optopt) {
		util_seterr(err, errlen, "unrecognized option \"-%c\" (see --help)",
		            optopt > 0x20 && optopt < 0x7f ? optopt : '?');
		return -EINVAL;
	}
	if (!tok)
		tok = "?";
	quote(tok, name, sizeof(name));
	name[strcspn(name, "=")] = '\0';
	util_seterr(err, errlen, "unrecognized or ambiguous option \"%s\" (see --help)", name);
	return -EINVAL;
}

int
cfg_parse_args(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	struct option longopts[_CFG_OPT_MAX + 1];
	char shortopts[2 + 3 * _CFG_OPT_MAX + 1];
	size_t ns = 0;
	int ch, r;

	if (err && errlen)
		err[0] = '\0';
	/* ':' first: a missing argument returns ':' rather than '?'. */
	shortopts[ns++] = ':';
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++) {
		const struct option_def *o = &options[i];
		int has_arg;

		switch (o->kind) {
		case K_FLAG:
		case K_COUNT:
		case K_HELP:
		case K_VERSION:
			has_arg = no_argument;
			break;
		case K_CHECK_IMAGES:
			has_arg = optional_argument;
			break;
		default:
			has_arg = required_argument;
			break;
		}
		longopts[i] = (struct option){
			.name = o->name,
			.has_arg = has_arg,
			.flag = NULL,
			.val = o->short_name ? o->short_name : LONG_ONLY_BASE + (int)i,
		};
		if (o->short_name) {
			shortopts[ns++] = o->short_name;
			if (has_arg != no_argument)
				shortopts[ns++] = ':';
			if (has_arg == optional_argument)
				shortopts[ns++] = ':';
		}
	}
	longopts[_CFG_OPT_MAX] = (struct option){ 0 };
	shortopts[ns] = '\0';

	/* getopt keeps its state in globals: optind = 0 makes glibc start over
	 * (and re-read POSIXLY_CORRECT), so repeated calls parse afresh. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int id;

		if (ch == '?')
			return unknown_option(argc, argv, err, errlen);
		id = lookup_val(ch == ':' ? optopt : ch);
		if (id < 0) {
			/* Cannot happen with the tables above; be safe anyway. */
			util_seterr(err, errlen, "internal error: unknown option value %d", ch);
			return -EINVAL;
		}
		if (ch == ':') {
			util_seterr(err, errlen, "--%s: missing argument", options[id].name);
			return -EINVAL;
		}
		r = apply(c, (unsigned)id, optarg, err, errlen);
		if (r != 0)
			return r;
	}
	if (optind < argc) {
		char q[QUOTE_MAX];

		util_seterr(err, errlen, "unexpected argument \"%s\" (sonota-c takes only options)",
		            quote(argv[optind], q, sizeof(q)));
		return -EINVAL;
	}
	return 0;
}

/* The home WiFi's password (--wifi-password, --wifi-password-file or the environment)
 * and its pairing with --wifi-ssid: the cloud route's stage 1 and --diy --pair. */
static int
check_wifi(struct cfg *c, char *err, size_t errlen)
{
	char msg[160];
	const char *env;
	int r;

	if (c->wifi_password && c->wifi_password_file) {
		util_seterr(err, errlen,
		            "--wifi-password-file: cannot be used with --wifi-password");
		return -EINVAL;
	}
	if (c->wifi_password) {
		c->wifi_password_source = CFG_PASSWORD_ARG;
	} else if (c->wifi_password_file) {
		r = read_password_file(c, err, errlen);
		if (r < 0)
			return r;
	} else if ((env = getenv(CFG_ENV_WIFI_PASSWORD)) && *env) {
		if (validate_password(env, msg, sizeof(msg)) < 0) {
			util_seterr(err, errlen, "%s: %s", CFG_ENV_WIFI_PASSWORD, msg);
			return -EINVAL;
		}
		c->wifi_password = strdup(env);
		if (!c->wifi_password) {
			util_seterr(err, errlen, "%s: out of memory", CFG_ENV_WIFI_PASSWORD);
			return -ENOMEM;
		}
		c->wifi_password_source = CFG_PASSWORD_ENV;
	}

	if (c->wifi_ssid && !c->wifi_password) {
		util_seterr(err, errlen,
		            "--wifi-ssid: needs a password: --wifi-password, "
		            "--wifi-password-file or $%s",
		            CFG_ENV_WIFI_PASSWORD);
		return -EINVAL;
	}
	/* The environment is ambient: it may hold a password for a later prompt
	 * of the SSID, but an explicit password without the SSID is a mistake. */
	if (!c->wifi_ssid && (c->wifi_password_source == CFG_PASSWORD_ARG ||
			      c->wifi_password_source == CFG_PASSWORD_FILE)) {
		util_seterr(err, errlen, "--%s: needs --wifi-ssid",
		            options[c->wifi_password_source == CFG_PASSWORD_ARG
		                        ? CFG_OPT_WIFI_PASSWORD
		                        : CFG_OPT_WIFI_PASSWORD_FILE]
		                .name);
		return -EINVAL;
	}
	return 0;
}

/* issue 11 item 2 (diyap): --diy --pair gives the device in its compatible-pairing AP
 * the home WiFi, then runs the DIY route: it needs the WiFi settings, and finds the device
 * over mDNS once it joined (its address comes from the router's DHCP: --device-ip cannot
 * name it beforehand, and only its announcement tells DIY mode from LAN mode). The hops are
 * the user's: the NetworkManager hop driver runs only the cloud route. */
static int
check_pair(struct cfg *c, char *err, size_t errlen)
{
	int r;

	if (c->no_prov) {
		util_seterr(err, errlen, "--pair: cannot be used with --no-prov (--pair is the "
			    "provisioning step)");
		return -EINVAL;
	}
	if (c->device_ip) {
		util_seterr(err, errlen, "--pair: cannot be used with --device-ip (after pairing "
			    "the device gets its address from your router; sonota-c finds it over "
			    "mDNS). If mDNS cannot see it, pair with --pair, then rerun --diy "
			    "--device-ip IP");
		return -EINVAL;
	}
	if (c->wifi == CFG_WIFI_AUTO) {
		util_seterr(err, errlen, "--pair: the WiFi hops are yours (join ITEAD-<id>, then "
			    "your home WiFi, when told): --wifi auto does not apply");
		return -EINVAL;
	}
	if ((r = check_wifi(c, err, errlen)) < 0)
		return r;
	if (!c->wifi_ssid) {
		util_seterr(err, errlen, "--pair: needs --wifi-ssid SSID and its password "
			    "(--wifi-password-file, $%s or --wifi-password): the WiFi the device "
			    "is to join", CFG_ENV_WIFI_PASSWORD);
		return -EINVAL;
	}
	return 0;
}

int
cfg_check(struct cfg *c, char *err, size_t errlen)
{
	int level, r;

	if (err && errlen)
		err[0] = '\0';

	/* Derived values first: --check-images needs the directory too. */
	if (!c->images_dir) {
		c->images_dir = strdup(cfg_default_images_dir());
		if (!c->images_dir) {
			util_seterr(err, errlen, "--images: out of memory");
			return -ENOMEM;
		}
	}
	if (!cfg_given(c, CFG_OPT_HTTPS_PORT))
		c->https_port = c->legacy ? CFG_HTTPS_PORT_LEGACY : CFG_HTTPS_PORT_DEFAULT;
	if (c->no_prov)
		c->no_check_ip = true;
	level = LOG_NOTICE + (int)c->verbose - (int)c->quiet;
	c->console_level = level < LOG_ERR ? LOG_ERR : level > LOG_DEBUG ? LOG_DEBUG : level;

	if (cfg_given(c, CFG_OPT_IMAGES) && (c->given >> GIVEN_CHECK_IMAGES_DIR & 1)) {
		util_seterr(err, errlen,
		            "--check-images: give the directory either here (=DIR) or "
		            "with --images, not both");
		return -EINVAL;
	}
	if (c->cert_file && !c->key_file) {
		util_seterr(err, errlen, "--cert: needs --key (the certificate's private key)");
		return -EINVAL;
	}
	if (c->key_file && !c->cert_file) {
		util_seterr(err, errlen, "--key: needs --cert");
		return -EINVAL;
	}
	if (!c->cert_file && !c->cert_dir) {
		char dir[CFG_PATH_MAX + 1];

		r = own_state_dir(dir, sizeof(dir));
		if (r < 0 && !c->check_images) {
			util_seterr(err, errlen,
			            "--cert: no directory for a generated certificate: "
			            "$XDG_STATE_HOME and $HOME are unset or not absolute; set "
			            "one, or give --cert and --key");
			return -EINVAL;
		}
		if (r == 0 && !(c->cert_dir = strdup(dir))) {
			util_seterr(err, errlen, "--cert: out of memory");
			return -ENOMEM;
		}
	}
	if (c->log_file && c->no_log_file) {
		util_seterr(err, errlen, "--log-file: cannot be used with --no-log-file");
		return -EINVAL;
	}
	if (c->legacy && cfg_given(c, CFG_OPT_HTTPS_PORT) &&
	    c->https_port != CFG_HTTPS_PORT_LEGACY) {
		util_seterr(err, errlen,
		            "--https-port: --legacy means HTTPS on port 443, not %u; "
		            "drop one of the two",
		            c->https_port);
		return -EINVAL;
	}
	if (cfg_given(c, CFG_OPT_LEGACY_PORT) && !c->legacy) {
		util_seterr(err, errlen, "--legacy-port: only used with --legacy");
		return -EINVAL;
	}
	r = check_ports(c, err, errlen);
	if (r < 0)
		return r;

	/* A report on the images needs none of the WiFi settings. */
	if (c->check_images)
		return 0;
	/* drawer: --all is the cloud route's (stage 1 for each device) */
	if (c->all && (c->scan || c->diy)) {
		util_seterr(err, errlen, "--all: cannot be used with --%s (--all takes over the "
			    "devices in pairing mode, from their ITEAD-<id> WiFi)",
			    c->scan ? "scan" : "diy");
		return -EINVAL;
	}
	/* diymore: --device-id picks among the devices discovered; an address names one
	 * already */
	if (c->device_id && !c->diy && !c->scan) {
		util_seterr(err, errlen, "--device-id: needs --diy or --scan");
		return -EINVAL;
	}
	if (c->device_id && c->device_ip) {
		util_seterr(err, errlen, "--device-id: cannot be used with --device-ip (the address "
			    "names the device already)");
		return -EINVAL;
	}
	/* issue 11 (avahi): neither does a scan of the LAN */
	if (c->scan)
		return 0;

	/* issue 11: the DIY route needs its image; its options only make sense with it, and
	 * the cloud route's WiFi settings do not apply to it (docs/diy.md). */
	if (c->diy_image && !c->diy) {
		util_seterr(err, errlen,
		            "--diy-image: needs --diy (or --check-images), so that a 3.x device "
		            "is never run through the cloud route");
		return -EINVAL;
	}
	if (c->device_ip && !c->diy && !c->scan) {
		util_seterr(err, errlen, "--device-ip: needs --diy or --scan");
		return -EINVAL;
	}
	if (c->diy) {
		if (!c->diy_image) {
			util_seterr(err, errlen, "--diy: needs --diy-image FILE (e.g. "
				    "tasmota-lite.bin: DOUT, at most 508000 bytes)");
			return -EINVAL;
		}
		if (c->pair)
			return check_pair(c, err, errlen);
		if (c->no_prov || c->wifi_ssid || c->wifi_password || c->wifi_password_file) {
			util_seterr(err, errlen, "--diy: the device is on the WiFi already; "
				    "--no-prov and the --wifi-* settings do not apply (add --pair "
				    "to give a device in its ITEAD-<id> WiFi the home WiFi first)");
			return -EINVAL;
		}
		return 0;
	}
	if (c->pair) {
		util_seterr(err, errlen, "--pair: needs --diy (the cloud route provisions the "
			    "device without it)");
		return -EINVAL;
	}

	/* drawer: --all hops from device to device by itself; both need stage 1. */
	if (c->all && c->no_prov) {
		util_seterr(err, errlen,
		            "--all: cannot be used with --no-prov (each device of the drawer "
		            "is provisioned from its ITEAD-<id> WiFi)");
		return -EINVAL;
	}
	if (c->all && c->wifi == CFG_WIFI_MANUAL) {
		util_seterr(err, errlen,
		            "--all: needs the automatic WiFi hops, not --wifi manual (sonota-c "
		            "joins each device's ITEAD-<id> WiFi itself)");
		return -EINVAL;
	}

	if (c->no_prov) {
		static const unsigned wifi[] = {
			CFG_OPT_WIFI_SSID, CFG_OPT_WIFI_PASSWORD, CFG_OPT_WIFI_PASSWORD_FILE,
		};

		for (size_t i = 0; i < sizeof(wifi) / sizeof(wifi[0]); i++) {
			if (cfg_given(c, wifi[i])) {
				util_seterr(err, errlen,
				            "--%s: cannot be used with --no-prov (which "
				            "skips giving the device the WiFi settings)",
				            options[wifi[i]].name);
				return -EINVAL;
			}
		}
		if (!c->serving_host) {
			util_seterr(err, errlen,
			            "--no-prov: needs --serving-host (the address the "
			            "device must reach)");
			return -EINVAL;
		}
		return 0;
	}

	return check_wifi(c, err, errlen);
}

/* config: see cfg.h (the header is not named config.h; cfg.h says why).
 *
 * Everything about an option lives in one row of cfg_options[]: its names, the kind
 * of value, the field it lands in, range, default and help text. getopt_long's
 * tables, --help, cfg_print and cfg_init's defaults are all generated from it.
 * cfg_parse_args checks each value on its own; rules between options live in
 * cfg_check, so that the order on the command line never matters.
 *
 * This file holds the lifecycle (cfg_init, cfg_parse_args, cfg_check, cfg_free).
 * The rest of the module, sharing the table through cfgint.h: cfgopts.c (the
 * table), cfgcheck.c (checks of values, the password file, the ports), cfgpath.c
 * (where files are) and cfgusage.c (--help, --version, cfg_print).
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



/* Bit of struct cfg's given beyond the table: --check-images came with =DIR. */
#define GIVEN_CHECK_IMAGES_DIR _CFG_OPT_MAX
_Static_assert(_CFG_OPT_MAX < 63, "struct cfg's given has a bit per option and one more");

/* getopt_long's val for an option without a short name: beyond any char. */
#define LONG_ONLY_BASE 256

/* The table, apply(), cfg_parse_args() and cfg_check() know the helpers of
 * cfgcheck.c and cfgpath.c (cfgint.h) by these short names. */
static const char *
quote(const char *s, char *buf, size_t len)
{
	return cfg_quote(s, buf, len);
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

static void
free_string(struct cfg *c, unsigned id, size_t off)
{
	char **p = FIELD(c, off, char *);

	if (cfg_options[id].kind == K_SECRET)
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
		const struct option_def *o = &cfg_options[i];

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
		switch (cfg_options[i].kind) {
		case K_STRING:
		case K_PATH:
		case K_SECRET:
		case K_IPV4:
			free_string(c, i, cfg_options[i].offset);
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
		util_seterr(err, errlen, "--%s: out of memory", cfg_options[id].name);
		return -ENOMEM;
	}
	free_string(c, id, off);
	*FIELD(c, off, char *) = copy;
	return 0;
}

static int
number_error(unsigned id, const char *arg, int r, char *err, size_t errlen)
{
	const struct option_def *o = &cfg_options[id];
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
	const struct option_def *o = &cfg_options[id];
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
		if (cfg_options[i].short_name && cfg_options[i].short_name == val)
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
		util_seterr(err, errlen, "--%s: takes no argument", cfg_options[id].name);
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
		const struct option_def *o = &cfg_options[i];
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
			util_seterr(err, errlen, "--%s: missing argument", cfg_options[id].name);
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
		if (cfg_validate_password(env, msg, sizeof(msg)) < 0) {
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
		            cfg_options[c->wifi_password_source == CFG_PASSWORD_ARG
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
				            cfg_options[wifi[i]].name);
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

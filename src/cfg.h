/* cfg: sonota-c's configuration. One declarative option table (config.c) feeds
 * getopt_long, --help (cfg_usage), cfg_print and the man page's test; the values
 * land in struct cfg, which is immutable once cfg_check() has succeeded.
 *
 * Lifecycle: cfg_init(&c) -> cfg_parse_args(&c, argc, argv, err, errlen) ->
 * cfg_check(&c, err, errlen) -> ... -> cfg_free(&c).
 *
 * This header is named cfg.h, not config.h: meson generates the build's
 * config.h (SONOTA_VERSION, the directories of the build and the install), and a src/config.h would
 * shadow it for every file in src/ because quoted includes search the
 * includer's directory first. The module's source file is config.c.
 *
 * Where files are is decided at run time (docs: README.md "Install"):
 * cfg_default_images_dir() and cfg_state_dir().
 *
 * Pure core: nothing here logs. Errors come back as -errno plus ONE line in
 * err that names the option (or the environment variable). The exception is
 * --help/--version, which print to stdout as the user asked.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of sonota-c: the contract between main.c, --help, the man page
 * and scripts that run sonota-c. */
enum sonota_exit {
	SONOTA_EXIT_OK = 0,           /* the device on FinalStage got the final image */
	SONOTA_EXIT_FAILURE = 1,      /* failure during the run: a device failed, a timeout */
	SONOTA_EXIT_USAGE = 2,        /* bad command line (cfg_parse_args/cfg_check failed) */
	SONOTA_EXIT_IMAGES = 3,       /* images invalid or missing */
	SONOTA_EXIT_BIND = 4,         /* cannot bind a port, or no permission to */
	SONOTA_EXIT_PREFLIGHT = 5,    /* pre-flight failed (the host's address checks) */
	SONOTA_EXIT_UNPROVEN = 6,     /* --diy: the device reported success, but a proof of it
				       * (leaving mDNS) could not be observed (no Avahi, or no
				       * goodbye while port 8081 went silent): not called done */
	SONOTA_EXIT_INTERRUPTED = 130, /* SIGINT/SIGTERM, as a shell reports 128 + SIGINT */
};

#define CFG_DONE 1 /* cfg_parse_args: --help or --version was printed; exit 0 */

#define CFG_ENV_WIFI_PASSWORD "SONOTA_WIFI_PASSWORD" /* password source of last resort */

#define CFG_SSID_MAX 32          /* IEEE 802.11 SSID length limit, in bytes */
#define CFG_PASSWORD_MIN 8       /* WPA2 passphrase: 8..63 printable ASCII */
#define CFG_PASSWORD_MAX 63
#define CFG_PSK_HEX_LEN 64       /* ... or the raw PSK as exactly 64 hex digits */
#define CFG_PATH_MAX 4095        /* PATH_MAX less the NUL: longer paths cannot be opened */
#define CFG_COUNT_MAX 16         /* -v/-q beyond this change nothing; caps the counter */

#define CFG_HTTPS_PORT_DEFAULT 8443  /* SonOTA's DEFAULT_PORT_HTTPS */
#define CFG_HTTPS_PORT_LEGACY 443    /* with --legacy, as SonOTA */
#define CFG_HTTP_PORT_DEFAULT 8080   /* image downloads; E2A in stage 3 hard-codes 8080 */
#define CFG_LEGACY_PORT_DEFAULT 8081 /* SonOTA's extra plain-HTTP listener with --legacy */
#define CFG_DONE_TIMEOUT_DEFAULT 30  /* seconds to wait for FinalStage to go away */
#define CFG_DONE_TIMEOUT_MAX 3600
#define CFG_DEVICE_ID_MAX 32 /* diymore: --device-id; real ids are 10 hex digits (DNSSD_ID_MAX) */
#define CFG_MAX_DEVICES_DEFAULT 8
#define CFG_MAX_DEVICES_MAX 256 /* = SESSION_MAX_DEVICES */
/* engine: time limits of the waiting stages (docs/stage-machine.md) */
#define CFG_CALL_TIMEOUT_DEFAULT 300 /* a provisioned device calls within a minute when
				      * its WiFi works; 5 minutes covers slow DHCP and
				      * a user rejoining the home WiFi late */
#define CFG_WAIT_TIMEOUT_DEFAULT 900 /* a step the user does (join ITEAD-<id>, go home,
				      * join FinalStage) or a stock download, slow
				      * stream included (480 KB at ~5 KB/s: ~100 s) */
#define CFG_TIMEOUT_MAX 86400        /* a day: beyond that nothing is still coming */

/* The state directory of a generated certificate: root's follows the FHS (/var/lib,
 * as systemd's StateDirectory=), a user's the XDG base directory specification. */
#define CFG_STATE_DIR_ROOT "/var/lib/sonota-c"
#define CFG_STATE_DIR_NAME "sonota-c"            /* under $XDG_STATE_HOME */
#define CFG_STATE_HOME_DEFAULT ".local/state"    /* $XDG_STATE_HOME's default, under $HOME */

enum cfg_flash_mode {
	CFG_FLASH_DOUT = 0, /* default: what newer Sonoffs (ESP8285, DOUT-only flash) boot */
	CFG_FLASH_DIO,      /* for devices that need DIO user images */
};

/* --wifi: who hops the computer's WiFi (issue 10, docs/wifi.md). */
enum cfg_wifi {
	CFG_WIFI_DEFAULT = 0, /* not given: auto when NetworkManager can, else manual */
	CFG_WIFI_AUTO,        /* --wifi auto: NetworkManager hops, or say why not */
	CFG_WIFI_MANUAL,      /* --wifi manual: the user hops by hand */
};

enum cfg_password_source {
	CFG_PASSWORD_NONE = 0, /* no password: --no-prov, or the caller must ask */
	CFG_PASSWORD_ARG,      /* --wifi-password (visible to other users in ps) */
	CFG_PASSWORD_FILE,     /* --wifi-password-file */
	CFG_PASSWORD_ENV,      /* $SONOTA_WIFI_PASSWORD */
};

/* The configuration. Strings are owned (freed by cfg_free) and NULL when not
 * given unless a default is noted. Ports may be 0 ("any free port", for tests). */
struct cfg {
	/* provisioning (stage 1) */
	char *serving_host;            /* --serving-host, dotted IPv4 as given; NULL: caller chooses */
	uint32_t serving_addr;         /* serving_host parsed, host byte order; 0 when NULL */
	bool no_prov;                  /* --no-prov: skip stage 1, the device is on the WiFi */
	char *wifi_ssid;               /* --wifi-ssid, 1..32 bytes */
	char *wifi_password;           /* SECRET (never print; log_add_secret it): from the
					* option, the file or the environment; NULL if none */
	enum cfg_password_source wifi_password_source; /* where wifi_password came from */
	char *wifi_password_file;      /* --wifi-password-file path (read by cfg_check) */
	bool no_check_ip;              /* --no-check-ip, or implied by --no-prov (as SonOTA) */

	/* stock OTA (stage 2) */
	bool legacy;                   /* --legacy: HTTPS on 443, extra plain listener */
	bool slowstream;               /* -s/--slowstream: advertise /slowota/ from the start */
	bool no_relay_test;            /* --no-relay-test: do not toggle the relay before upgrade */
	enum cfg_flash_mode flash_mode; /* --flash-mode: which user images to serve */
	char *images_dir;              /* --images or --check-images=DIR; default
					* cfg_default_images_dir() */
	bool check_images;             /* --check-images: report on the images and exit */
	char *cert_file;               /* --cert PEM; NULL: the caller's default/generated one */
	char *key_file;                /* --key PEM; set exactly when cert_file is */
	char *cert_dir;                /* derived: where the generated certificate and key
					* live when --cert is not given (cfg_state_dir() of
					* this process; NULL only with --cert or
					* --check-images when no directory could be found).
					* The caller passes it to tls_ensure(). */

	/* output */
	char *log_file;                /* --log-file; NULL: caller picks "sonota-<time>.log" */
	bool no_log_file;              /* --no-log-file: no debug file at all */
	unsigned verbose;              /* number of -v (capped at CFG_COUNT_MAX) */
	unsigned quiet;                /* number of -q (capped at CFG_COUNT_MAX) */
	int console_level;             /* derived: LOG_NOTICE + verbose - quiet, clamped to
					* LOG_ERR..LOG_DEBUG (enum log_level values) */
	bool json;                     /* --json: one JSON event per line on stdout */

	/* advanced */
	uint16_t https_port;           /* derived: --https-port, else 8443 (443 with --legacy) */
	uint16_t http_port;            /* --http-port, default 8080 */
	uint16_t legacy_port;          /* --legacy-port, default 8081; used only with --legacy */
	char *bind;                    /* --bind IPv4 listen address; NULL: all addresses */
	uint32_t bind_addr;            /* bind parsed, host byte order; 0 (any) when NULL */
	unsigned done_timeout;         /* --done-timeout seconds, 1..3600, default 30 */
	unsigned max_devices;          /* --max-devices 1..256, default 8 */
	unsigned call_timeout;         /* --call-timeout seconds, 1..86400, default 300 */
	unsigned wait_timeout;         /* --wait-timeout seconds, 1..86400, default 900 */

	/* the DIY route (issue 11; only --check-images uses it so far) */
	char *diy_image;               /* --diy-image FILE; NULL: none */
	/* issue 10: WiFi hops through NetworkManager (src/hop.c) */
	enum cfg_wifi wifi;            /* --wifi auto|manual */
	char *wifi_iface;              /* --wifi-iface: the WiFi device to hop, NULL: NM's only one */
	bool allow_ssh_drop;           /* --allow-ssh-drop: hop the radio the SSH session rides on */
	/* issue 11 (avahi): discovery */
	bool scan;                     /* --scan: list the Sonoffs on the LAN and exit (src/scan.h) */
	/* issue 11 (diyrun): the DIY route */
	bool diy;                      /* --diy: take over a device in DIY mode (firmware 3.x) */
	char *device_ip;               /* --device-ip: its IPv4 literal as given; NULL: discover */
	uint32_t device_addr;          /* device_ip parsed, host byte order; 0 when NULL */
	/* drawer: every ITEAD-* AP in range, one after another (docs/wifi.md "Drawer mode") */
	bool all;                      /* --all */
	/* diymore: several DIY devices on the LAN (src/diypick.h) */
	char *device_id;               /* --device-id: the DIY device to take / list; NULL: any */
	/* issue 11 item 2 (diyap): into DIY mode through the compatible-pairing AP */
	bool pair;                     /* --pair: with --diy, give the device (in its
					* ITEAD-<id> AP) the home WiFi first (docs/diy.md) */

	uint64_t given;                /* bit per option table entry seen on the command
					* line; test with cfg_given() */
};

/* Option identifiers, in table (and --help) order. */
enum cfg_opt {
	CFG_OPT_SERVING_HOST,
	CFG_OPT_NO_PROV,
	CFG_OPT_WIFI_SSID,
	CFG_OPT_WIFI_PASSWORD,
	CFG_OPT_WIFI_PASSWORD_FILE,
	CFG_OPT_NO_CHECK_IP,
	CFG_OPT_LEGACY,
	CFG_OPT_SLOWSTREAM,
	CFG_OPT_NO_RELAY_TEST,
	CFG_OPT_FLASH_MODE,
	CFG_OPT_IMAGES,
	CFG_OPT_CHECK_IMAGES,
	CFG_OPT_CERT,
	CFG_OPT_KEY,
	CFG_OPT_LOG_FILE,
	CFG_OPT_NO_LOG_FILE,
	CFG_OPT_VERBOSE,
	CFG_OPT_QUIET,
	CFG_OPT_JSON,
	CFG_OPT_HELP,
	CFG_OPT_VERSION,
	CFG_OPT_HTTPS_PORT, /* advanced from here on */
	CFG_OPT_HTTP_PORT,
	CFG_OPT_LEGACY_PORT,
	CFG_OPT_BIND,
	CFG_OPT_DONE_TIMEOUT,
	CFG_OPT_MAX_DEVICES,
	CFG_OPT_CALL_TIMEOUT, /* engine */
	CFG_OPT_WAIT_TIMEOUT,
	CFG_OPT_DIY_IMAGE, /* the DIY route (issue 11) */
	CFG_OPT_WIFI, /* issue 10: WiFi hops */
	CFG_OPT_WIFI_IFACE,
	CFG_OPT_ALLOW_SSH_DROP,
	CFG_OPT_SCAN, /* issue 11 (avahi): list the DIY-mode devices on the LAN */
	CFG_OPT_DIY, /* issue 11 (diyrun): the DIY route */
	CFG_OPT_DEVICE_IP,
	CFG_OPT_ALL, /* drawer: --all */
	CFG_OPT_DEVICE_ID, /* diymore: choose among several DIY-mode devices */
	CFG_OPT_PAIR, /* issue 11 item 2 (diyap): --diy --pair */
	_CFG_OPT_MAX,
};

/* Set every field to its default. Never fails; cfg_free() is due afterwards. */
void cfg_init(struct cfg *c);

/* Parse argv (argv[0] is the program name). Resets getopt (optind = 0) first,
 * so it can run repeatedly; getopt_long may permute argv. Values are checked
 * one by one; cross-field rules wait for cfg_check(). Returns 0 to run on,
 * CFG_DONE when --help or --version was printed to stdout (the caller exits 0),
 * -EINVAL with one line in err naming the option, or -ENOMEM. */
int cfg_parse_args(struct cfg *c, int argc, char **argv, char *err, size_t errlen);

/* Apply the cross-field rules and derive values (https_port, console_level,
 * no_check_ip). Reads --wifi-password-file (refused unless a regular file
 * that neither group nor others can access, or a pipe) and, when no password
 * option is given and --no-prov is not, $SONOTA_WIFI_PASSWORD. Returns 0, or
 * -errno with one line in err naming the option. Afterwards c is read-only. */
int cfg_check(struct cfg *c, char *err, size_t errlen);

/* Free the strings (the password zeroed first). Safe after a failed parse or
 * on a zeroed struct; leaves c zeroed. */
void cfg_free(struct cfg *c);

/* Was this option on the command line? */
bool cfg_given(const struct cfg *c, enum cfg_opt opt);

/* Print the configuration, one "name value" line per option, for the log or
 * the console. The WiFi password is shown as "***" (never its length). */
void cfg_print(const struct cfg *c, FILE *f);

/* Print the --help text (generated from the option table): intro, options,
 * advanced options, environment, exit codes, examples. */
void cfg_usage(FILE *f);

/* Print the --version text: sonota-c's version and those of libwebsockets,
 * mbed TLS and libmicrohttpd as linked. */
void cfg_version(FILE *f);

/* Long name (without "--") of table entry opt, or NULL when out of range; lets
 * tests check that the man page lists every option. */
const char *cfg_option_name(unsigned opt);

/* What the documentation must say about one option, from the option table (the
 * man page's test checks it against docs/sonota-c.1). */
struct cfg_option_doc {
	const char *name;  /* long name without "--" */
	bool has_range;    /* a number (or a string's length in bytes) in min..max */
	unsigned min, max;
	char def[80];      /* the fixed default as --help shows it, e.g. "8443" or "dout";
			    * "" when none, or when it is decided at run time (a path) */
};

/* Fill *ret for table entry opt: 0, or -ENOENT when out of range. */
int cfg_option_doc(unsigned opt, struct cfg_option_doc *ret);

/* The directory of a generated certificate for a user with effective uid euid and
 * these values of $XDG_STATE_HOME and $HOME (NULL: unset): the build's fixed
 * directory (meson option cert_dir) if any, else CFG_STATE_DIR_ROOT for root, else
 * $XDG_STATE_HOME/sonota-c, else $HOME/.local/state/sonota-c; a relative or empty
 * variable is ignored, as the XDG specification says. Pure (nothing is created:
 * tls_ensure makes the directory, mode 0700). Writes buf and returns 0, -ENOENT
 * when neither variable gives an absolute path, or -ENAMETOOLONG. */
int cfg_state_dir(unsigned euid, const char *xdg_state_home, const char *home, char *buf,
		  size_t len);

/* The default images directory of a binary at exe (an absolute, resolved path;
 * NULL when unknown) built in build_root (resolved): the build's fixed directory
 * (meson option images_dir) if any, else the source tree's static/ when exe lies
 * inside build_root (a source-tree build, its tests, scripts/demo.sh), else the
 * installed DATADIR/sonota-c/images. Pure; returns a constant string. */
const char *cfg_images_dir_for(const char *exe, const char *build_root);

/* cfg_images_dir_for() of this process (/proc/self/exe and this build's directory);
 * what --images defaults to and --help shows. A constant string. */
const char *cfg_default_images_dir(void);

/* Name of a flash mode ("dout", "dio"). */
const char *cfg_flash_mode_name(enum cfg_flash_mode m);

/* Name of a --wifi value ("default", "auto", "manual"). */
const char *cfg_wifi_name(enum cfg_wifi w);

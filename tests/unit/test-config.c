/* Unit tests for config (cfg.h): every option, every malformed value and every
 * cross-field rule, each error checked to name its option; defaults; password
 * sources (option, file, pipe, environment); --help/--version; cfg_print's
 * redaction; the man page lists every option. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"
#include "log.h"
#include "tls.h"

#define MAX_ARGS 48

static char tmpdir[] = "/tmp/sonota-test-config-XXXXXX";
static char pwfile_ok[256];      /* 0600, a valid password */
static char pwfile_open[256];    /* 0644 */
static char pwfile_short[256];   /* 0600, too short a password */
static char pwfile_long[256];    /* 0600, a first line longer than any password */
static char pwfile_empty[256];   /* 0600, empty */
static char pwfile_nul[256];     /* 0600, a NUL byte in the first line */

static const char file_password[] = "from-the-file \"x\"";

/* Run parse (and check, if parse returned 0) over args; returns the first
 * non-zero result, or 0. The cfg is left for the caller to inspect and free. */
static int
run(struct cfg *c, const char *const *args, char *err, size_t errlen, int *ret_stage)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0, r;

	argv[argc++] = (char *)"sonota-c";
	for (; args[argc - 1] && argc <= MAX_ARGS; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;
	cfg_init(c);
	*ret_stage = 1;
	r = cfg_parse_args(c, argc, argv, err, errlen);
	if (r != 0)
		return r;
	*ret_stage = 2;
	return cfg_check(c, err, errlen);
}

struct row {
	const char *args[MAX_ARGS];
	int stage;          /* 1: parse fails, 2: check fails */
	int ret;            /* the error */
	const char *err;    /* must appear in err: the option, usually */
	const char *absent; /* must not appear in err (a secret), or NULL */
};

static const struct row bad_rows[] = {
	/* malformed values, found by cfg_parse_args */
	{ { "--serving-host" }, 1, -EINVAL, "--serving-host: missing argument", NULL },
	{ { "--serving-host", "" }, 1, -EINVAL, "--serving-host: \"\" is not", NULL },
	{ { "--serving-host", "1.2.3" }, 1, -EINVAL, "--serving-host: \"1.2.3\"", NULL },
	{ { "--serving-host", "01.2.3.4" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "256.1.1.1" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "host.lan" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "0.0.0.0" }, 1, -EINVAL, "--serving-host: 0.0.0.0 is not a host", NULL },
	{ { "--serving-host", "0.1.2.3" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "127.0.0.1" }, 1, -EINVAL, "--serving-host: 127.0.0.1 is a loopback", NULL },
	{ { "--serving-host", "127.1.2.3" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "224.0.0.251" }, 1, -EINVAL, "--serving-host: 224.0.0.251 is a multicast", NULL },
	{ { "--serving-host", "255.255.255.255" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "240.0.0.1" }, 1, -EINVAL, "--serving-host", NULL },
	{ { "--serving-host", "10.10.7.2" }, 1, -EINVAL, "--serving-host: 10.10.7.2 is in 10.10.7.0/24", NULL },
	{ { "--serving-host", "192.168.4.2" }, 1, -EINVAL, "--serving-host: 192.168.4.2 is in 192.168.4.0/24", NULL },
	{ { "--wifi-ssid" }, 1, -EINVAL, "--wifi-ssid: missing argument", NULL },
	{ { "--wifi-ssid", "" }, 1, -EINVAL, "--wifi-ssid: \"\" must be 1 to 32 bytes", NULL },
	{ { "--wifi-ssid", "123456789012345678901234567890123" }, 1, -EINVAL, "--wifi-ssid", NULL },
	{ { "--wifi-ssid", "tab\there" }, 1, -EINVAL, "--wifi-ssid: \"tab?here\" contains a control", NULL },
	{ { "--wifi-password", "short12" }, 1, -EINVAL, "--wifi-password: a WPA2 password", "short12" },
	{ { "--wifi-password", "" }, 1, -EINVAL, "--wifi-password: the password is empty", NULL },
	{ { "--wifi-password", "tab\tin-password" }, 1, -EINVAL, "--wifi-password", "in-password" },
	{ { "--wifi-password", "pässwort-mit-umlaut" }, 1, -EINVAL, "--wifi-password", "wort" },
	{ { "--wifi-password", "0123456789012345678901234567890123456789012345678901234567890123x" },
	  1, -EINVAL, "--wifi-password", "0123" }, /* 64 printable is neither form */
	{ { "--wifi-password", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg" },
	  1, -EINVAL, "--wifi-password", "0123" }, /* 64 but not all hex */
	{ { "--wifi-password-file", "" }, 1, -EINVAL, "--wifi-password-file: the path is empty", NULL },
	{ { "--flash-mode", "qio" }, 1, -EINVAL, "--flash-mode: \"qio\" is neither", NULL },
	{ { "--flash-mode", "" }, 1, -EINVAL, "--flash-mode", NULL },
	{ { "--flash-mode" }, 1, -EINVAL, "--flash-mode: missing argument", NULL },
	{ { "--images", "" }, 1, -EINVAL, "--images: the path is empty", NULL },
	{ { "--check-images=" }, 1, -EINVAL, "--check-images: the path is empty", NULL },
	{ { "--check-images", "dir" }, 1, -EINVAL, "unexpected argument \"dir\"", NULL },
	{ { "--cert", "" }, 1, -EINVAL, "--cert", NULL },
	{ { "--key", "" }, 1, -EINVAL, "--key", NULL },
	{ { "--log-file", "" }, 1, -EINVAL, "--log-file", NULL },
	{ { "--https-port", "65536" }, 1, -EINVAL, "--https-port: 65536 is out of range 0..65535", NULL },
	{ { "--https-port", "-1" }, 1, -EINVAL, "--https-port: \"-1\" is not a number", NULL },
	{ { "--https-port", "+443" }, 1, -EINVAL, "--https-port", NULL },
	{ { "--https-port", "0443" }, 1, -EINVAL, "--https-port", NULL },
	{ { "--https-port", "443 " }, 1, -EINVAL, "--https-port", NULL },
	{ { "--https-port", "" }, 1, -EINVAL, "--https-port", NULL },
	{ { "--https-port", "99999999999999999999999" }, 1, -EINVAL, "--https-port", NULL },
	{ { "--http-port", "http" }, 1, -EINVAL, "--http-port: \"http\" is not a number", NULL },
	{ { "--http-port" }, 1, -EINVAL, "--http-port: missing argument", NULL },
	{ { "--legacy-port", "70000" }, 1, -EINVAL, "--legacy-port: 70000 is out of range", NULL },
	{ { "--bind", "1.2.3" }, 1, -EINVAL, "--bind: \"1.2.3\" is not a dotted IPv4", NULL },
	{ { "--bind", "::" }, 1, -EINVAL, "--bind", NULL },
	{ { "--done-timeout", "0" }, 1, -EINVAL, "--done-timeout: 0 is out of range 1..3600", NULL },
	{ { "--done-timeout", "3601" }, 1, -EINVAL, "--done-timeout", NULL },
	{ { "--done-timeout", "1.5" }, 1, -EINVAL, "--done-timeout", NULL },
	{ { "--max-devices", "0" }, 1, -EINVAL, "--max-devices: 0 is out of range 1..256", NULL },
	{ { "--max-devices", "257" }, 1, -EINVAL, "--max-devices", NULL },
	{ { "--max-devices", "8x" }, 1, -EINVAL, "--max-devices", NULL },
	/* engine: time limits */
	{ { "--call-timeout", "0" }, 1, -EINVAL, "--call-timeout: 0 is out of range 1..86400", NULL },
	{ { "--call-timeout", "86401" }, 1, -EINVAL, "--call-timeout", NULL },
	{ { "--wait-timeout", "0" }, 1, -EINVAL, "--wait-timeout: 0 is out of range 1..86400", NULL },
	{ { "--wait-timeout", "5m" }, 1, -EINVAL, "--wait-timeout", NULL },
	/* unknown options, stray arguments, arguments to flags */
	{ { "--bogus" }, 1, -EINVAL, "unrecognized or ambiguous option \"--bogus\"", NULL },
	{ { "--wifi-pasword=Secret-Typo-1" }, 1, -EINVAL, "\"--wifi-pasword\"", "Secret-Typo" },
	{ { "--no" }, 1, -EINVAL, "ambiguous option \"--no\"", NULL },
	{ { "-x" }, 1, -EINVAL, "unrecognized option \"-x\"", NULL },
	{ { "-vqx" }, 1, -EINVAL, "unrecognized option \"-x\"", NULL },
	{ { "--json=yes" }, 1, -EINVAL, "--json: takes no argument", NULL },
	{ { "--verbose=2" }, 1, -EINVAL, "--verbose: takes no argument", NULL },
	{ { "--no-prov=1" }, 1, -EINVAL, "--no-prov: takes no argument", NULL },
	{ { "stray" }, 1, -EINVAL, "unexpected argument \"stray\"", NULL },
	{ { "--serving-host", "192.168.1.5", "--", "--json" }, 1, -EINVAL, "unexpected argument \"--json\"", NULL },
	/* cross-field rules, found by cfg_check */
	{ { "--wifi-ssid", "Home" }, 2, -EINVAL, "--wifi-ssid: needs a password", NULL },
	{ { "--wifi-password", "password1" }, 2, -EINVAL, "--wifi-password: needs --wifi-ssid", NULL },
	{ { "--wifi-password-file", pwfile_ok }, 2, -EINVAL, "--wifi-password-file: needs --wifi-ssid", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password", "password1", "--wifi-password-file", pwfile_ok },
	  2, -EINVAL, "--wifi-password-file: cannot be used with --wifi-password", "password1" },
	{ { "--no-prov", "--serving-host", "192.168.1.5", "--wifi-ssid", "Home" },
	  2, -EINVAL, "--wifi-ssid: cannot be used with --no-prov", NULL },
	{ { "--no-prov", "--serving-host", "192.168.1.5", "--wifi-password", "password1" },
	  2, -EINVAL, "--wifi-password: cannot be used with --no-prov", "password1" },
	{ { "--no-prov", "--serving-host", "192.168.1.5", "--wifi-password-file", pwfile_ok },
	  2, -EINVAL, "--wifi-password-file: cannot be used with --no-prov", NULL },
	{ { "--no-prov" }, 2, -EINVAL, "--no-prov: needs --serving-host", NULL },
	/* drawer: --all needs stage 1 and the automatic hops */
	{ { "--all", "--no-prov", "--serving-host", "192.168.1.5" }, 2, -EINVAL,
	  "--all: cannot be used with --no-prov", NULL },
	{ { "--all", "--wifi", "manual" }, 2, -EINVAL,
	  "--all: needs the automatic WiFi hops, not --wifi manual", NULL },
	{ { "--all=1" }, 1, -EINVAL, "--all: takes no argument", NULL },
	{ { "--all", "--scan" }, 2, -EINVAL, "--all: cannot be used with --scan", NULL },
	{ { "--all", "--diy" }, 2, -EINVAL, "--all: cannot be used with --diy", NULL },
	{ { "--cert", "c.pem" }, 2, -EINVAL, "--cert: needs --key", NULL },
	{ { "--key", "k.pem" }, 2, -EINVAL, "--key: needs --cert", NULL },
	{ { "--log-file", "x.log", "--no-log-file" }, 2, -EINVAL, "--log-file: cannot be used with --no-log-file", NULL },
	{ { "--legacy", "--https-port", "8443" }, 2, -EINVAL, "--https-port: --legacy means HTTPS on port 443", NULL },
	{ { "--https-port", "8443", "--legacy" }, 2, -EINVAL, "--https-port", NULL },
	{ { "--legacy-port", "9000" }, 2, -EINVAL, "--legacy-port: only used with --legacy", NULL },
	{ { "--http-port", "8443" }, 2, -EINVAL, "--http-port: port 8443 is taken by --https-port", NULL },
	{ { "--https-port", "8080" }, 2, -EINVAL, "--https-port: port 8080 is taken by --http-port", NULL },
	{ { "--https-port", "9000", "--http-port", "9000" }, 2, -EINVAL, "--http-port: port 9000 is taken by --https-port", NULL },
	{ { "--legacy", "--legacy-port", "8080" }, 2, -EINVAL, "--legacy-port: port 8080 is taken by --http-port", NULL },
	{ { "--legacy", "--http-port", "443" }, 2, -EINVAL, "--http-port: port 443 is taken by --https-port", NULL },
	{ { "--legacy", "--http-port", "8081" }, 2, -EINVAL, "--http-port: port 8081 is taken by --legacy-port", NULL },
	{ { "--images", "a", "--check-images=b" }, 2, -EINVAL, "--check-images: give the directory either", NULL },
	/* the password file */
	{ { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_open }, 2, -EPERM,
	  "--wifi-password-file: \"", "from-the" },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_short }, 2, -EINVAL,
	  "--wifi-password-file: \"", "tiny1" },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_long }, 2, -EINVAL,
	  "the first line is longer than any WPA2 password", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_empty }, 2, -EINVAL,
	  "the password is empty", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_nul }, 2, -EINVAL,
	  "the first line contains a NUL byte", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", "/nonexistent/pw" }, 2, -ENOENT,
	  "--wifi-password-file: \"/nonexistent/pw\": No such file", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", "/tmp" }, 2, -EISDIR,
	  "--wifi-password-file: \"/tmp\"", NULL },
	{ { "--wifi-ssid", "Home", "--wifi-password-file", "/dev/null" }, 2, -EINVAL,
	  "is neither a regular file nor a pipe", NULL },
};

static void
test_bad_rows(void)
{
	unsetenv(CFG_ENV_WIFI_PASSWORD);
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct row *t = &bad_rows[i];
		struct cfg c;
		char err[512];
		int stage, r = run(&c, t->args, err, sizeof(err), &stage);

		CHECK_MSG(r == t->ret && stage == t->stage, "row %zu (%s): ret %d at stage %d, "
			  "want %d at %d; err \"%s\"", i, t->args[0], r, stage, t->ret, t->stage, err);
		CHECK_MSG(strstr(err, t->err) != NULL, "row %zu: err \"%s\" lacks \"%s\"", i, err,
			  t->err);
		CHECK_MSG(!t->absent || !strstr(err, t->absent), "row %zu: err \"%s\" shows \"%s\"",
			  i, err, t->absent);
		CHECK_MSG(!strchr(err, '\n'), "row %zu: err is more than one line", i);
		cfg_free(&c);
	}
}

static void
test_defaults(void)
{
	static const char *const none[] = { NULL };
	struct cfg c;
	char err[256];
	int stage;

	unsetenv(CFG_ENV_WIFI_PASSWORD);
	CHECK_INT(run(&c, none, err, sizeof(err), &stage), 0);
	CHECK_STR(err, "");
	CHECK(c.serving_host == NULL);
	CHECK_INT(c.serving_addr, 0);
	CHECK(!c.no_prov);
	CHECK(c.wifi_ssid == NULL);
	CHECK(c.wifi_password == NULL);
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_NONE);
	CHECK(c.wifi_password_file == NULL);
	CHECK(!c.no_check_ip);
	CHECK(!c.legacy);
	CHECK(!c.slowstream);
	CHECK(!c.no_relay_test);
	CHECK_INT(c.flash_mode, CFG_FLASH_DOUT);
	CHECK_STR(c.images_dir, cfg_default_images_dir());
	CHECK(!c.check_images);
	CHECK(c.cert_file == NULL);
	CHECK(c.key_file == NULL);
	CHECK(c.log_file == NULL);
	CHECK(!c.no_log_file);
	CHECK_INT(c.verbose, 0);
	CHECK_INT(c.quiet, 0);
	CHECK_INT(c.console_level, LOG_NOTICE);
	CHECK(!c.json);
	CHECK_INT(c.https_port, 8443);
	CHECK_INT(c.http_port, 8080);
	CHECK_INT(c.legacy_port, 8081);
	CHECK(c.bind == NULL);
	CHECK_INT(c.bind_addr, 0);
	CHECK_INT(c.done_timeout, 30);
	CHECK_INT(c.max_devices, 8);
	CHECK_INT(c.given, 0);
	for (unsigned i = 0; i < _CFG_OPT_MAX; i++)
		CHECK(!cfg_given(&c, i));
	cfg_free(&c);

	/* cfg_init alone gives the numeric defaults too. */
	cfg_init(&c);
	CHECK_INT(c.call_timeout, 300); /* engine */
	CHECK_INT(c.wait_timeout, 900);
	CHECK_INT(c.http_port, 8080);
	CHECK_INT(c.done_timeout, 30);
	CHECK_INT(c.max_devices, 8);
	cfg_free(&c);

	/* Exit codes are a contract (--help, the man page, scripts). */
	CHECK_INT(SONOTA_EXIT_OK, 0);
	CHECK_INT(SONOTA_EXIT_FAILURE, 1);
	CHECK_INT(SONOTA_EXIT_USAGE, 2);
	CHECK_INT(SONOTA_EXIT_IMAGES, 3);
	CHECK_INT(SONOTA_EXIT_BIND, 4);
	CHECK_INT(SONOTA_EXIT_PREFLIGHT, 5);
	CHECK_INT(SONOTA_EXIT_INTERRUPTED, 130);
	CHECK(CFG_DONE > 0);
}

static void
test_every_option(void)
{
	static const char *const all[] = {
		"--serving-host", "192.168.1.5", "--wifi-ssid", "My Home ünï", "--wifi-password",
		"0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef", "--no-check-ip",
		"--legacy", "-s", "--no-relay-test", "--flash-mode", "DIO", "--images", "/srv/img",
		"--cert", "/c.pem", "--key", "/k.pem", "--log-file", "/tmp/x.log", "-vvv", "-q",
		"--json", "--http-port", "0", "--legacy-port", "0", "--bind", "0.0.0.0",
		"--done-timeout", "3600", "--max-devices", "64", NULL,
	};
	struct cfg c;
	char err[256];
	int stage;

	CHECK_INT(run(&c, all, err, sizeof(err), &stage), 0);
	CHECK_STR(err, "");
	CHECK_STR(c.serving_host, "192.168.1.5");
	CHECK_INT(c.serving_addr, 0xc0a80105);
	CHECK_STR(c.wifi_ssid, "My Home ünï");
	CHECK_STR(c.wifi_password, "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef");
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_ARG);
	CHECK(c.no_check_ip);
	CHECK(c.legacy);
	CHECK(c.slowstream);
	CHECK(c.no_relay_test);
	CHECK_INT(c.flash_mode, CFG_FLASH_DIO);
	CHECK_STR(cfg_flash_mode_name(c.flash_mode), "dio");
	CHECK_STR(c.images_dir, "/srv/img");
	CHECK_STR(c.cert_file, "/c.pem");
	CHECK_STR(c.key_file, "/k.pem");
	CHECK_STR(c.log_file, "/tmp/x.log");
	CHECK_INT(c.verbose, 3);
	CHECK_INT(c.quiet, 1);
	CHECK_INT(c.console_level, LOG_DEBUG);
	CHECK(c.json);
	CHECK_INT(c.https_port, 443); /* derived from --legacy */
	CHECK_INT(c.http_port, 0);
	CHECK_INT(c.legacy_port, 0);
	CHECK_STR(c.bind, "0.0.0.0");
	CHECK_INT(c.bind_addr, 0);
	CHECK_INT(c.done_timeout, 3600);
	CHECK_INT(c.max_devices, 64);
	CHECK(cfg_given(&c, CFG_OPT_LEGACY));
	CHECK(cfg_given(&c, CFG_OPT_VERBOSE));
	CHECK(!cfg_given(&c, CFG_OPT_HTTPS_PORT));
	CHECK(!cfg_given(&c, CFG_OPT_NO_PROV));
	CHECK(!cfg_given(&c, _CFG_OPT_MAX));
	cfg_free(&c);
}

/* Smaller success cases: { args, what to check }. */
static void
test_good_rows(void)
{
	struct cfg c;
	char err[256];
	int stage;

	unsetenv(CFG_ENV_WIFI_PASSWORD);
#define RUN_OK(...)                                                                                \
	do {                                                                                       \
		static const char *const a_[] = { __VA_ARGS__, NULL };                             \
		int r_ = run(&c, a_, err, sizeof(err), &stage);                                    \
		CHECK_MSG(r_ == 0, "%s ...: %d \"%s\"", a_[0], r_, err);                           \
	} while (0)

	RUN_OK("--no-prov", "--serving-host", "192.168.1.5");
	CHECK(c.no_prov && c.no_check_ip); /* --no-prov implies --no-check-ip */
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_NONE);
	/* drawer: --all is off by default, on when given (with --wifi auto too) */
	CHECK(!c.all);
	cfg_free(&c);
	RUN_OK("--all");
	CHECK(c.all);
	cfg_free(&c);
	RUN_OK("--all", "--wifi", "auto");
	CHECK(c.all && c.wifi == CFG_WIFI_AUTO);
	cfg_free(&c);

	RUN_OK("--legacy", "--https-port", "443");
	CHECK_INT(c.https_port, 443);
	CHECK_INT(c.legacy_port, 8081);
	cfg_free(&c);

	RUN_OK("--https-port", "9443", "--http-port", "9080");
	CHECK_INT(c.https_port, 9443);
	CHECK_INT(c.http_port, 9080);
	cfg_free(&c);

	RUN_OK("--https-port", "0", "--http-port", "0"); /* both "any free port" */
	CHECK_INT(c.https_port, 0);
	cfg_free(&c);

	RUN_OK("--http-port", "8081"); /* the legacy port is unused without --legacy */
	cfg_free(&c);

	RUN_OK("-qqq");
	CHECK_INT(c.console_level, LOG_ERR);
	cfg_free(&c);
	RUN_OK("-q");
	CHECK_INT(c.console_level, LOG_WARN);
	cfg_free(&c);
	RUN_OK("-v", "--verbose");
	CHECK_INT(c.console_level, LOG_DEBUG);
	cfg_free(&c);
	RUN_OK("-v", "-q");
	CHECK_INT(c.console_level, LOG_NOTICE);
	cfg_free(&c);
	RUN_OK("-vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
	CHECK_INT(c.verbose, CFG_COUNT_MAX);
	CHECK_INT(c.console_level, LOG_DEBUG);
	cfg_free(&c);

	RUN_OK("--serving-host", "192.168.1.5", "--serving-host", "10.0.0.2"); /* last wins */
	CHECK_STR(c.serving_host, "10.0.0.2");
	CHECK_INT(c.serving_addr, 0x0a000002);
	cfg_free(&c);

	RUN_OK("--serving-host=172.16.0.1"); /* and the "=" form */
	CHECK_STR(c.serving_host, "172.16.0.1");
	cfg_free(&c);

	RUN_OK("--flash-mode", "dout");
	CHECK_INT(c.flash_mode, CFG_FLASH_DOUT);
	cfg_free(&c);

	RUN_OK("--check-images");
	CHECK(c.check_images);
	CHECK_STR(c.images_dir, cfg_default_images_dir());
	cfg_free(&c);
	RUN_OK("--check-images=/img");
	CHECK(c.check_images);
	CHECK_STR(c.images_dir, "/img");
	cfg_free(&c);
	RUN_OK("--images", "/img2", "--check-images");
	CHECK_STR(c.images_dir, "/img2");
	cfg_free(&c);
	/* --check-images needs no WiFi settings and tolerates half of them. */
	RUN_OK("--check-images", "--wifi-ssid", "Home");
	CHECK(c.check_images);
	cfg_free(&c);

	RUN_OK("--cert", "a.pem", "--key", "a.key");
	cfg_free(&c);
	RUN_OK("--no-log-file");
	CHECK(c.no_log_file && c.log_file == NULL);
	cfg_free(&c);

	/* Passwords at the limits. */
	RUN_OK("--wifi-ssid", "12345678901234567890123456789012", "--wifi-password", "12345678");
	cfg_free(&c);
	RUN_OK("--wifi-ssid", "x", "--wifi-password",
	       "123456789012345678901234567890123456789012345678901234567890123");
	cfg_free(&c);
	RUN_OK("--wifi-ssid", "x", "--wifi-password", " ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");
	CHECK_STR(c.wifi_password, " ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}");
	cfg_free(&c);
	/* Options after a stray "--" ... are not options; before it they are. */
	RUN_OK("--json", "--");
	CHECK(c.json);
	cfg_free(&c);
#undef RUN_OK
}

static void
test_password_sources(void)
{
	struct cfg c;
	char err[256];
	int stage, fds[2];

	/* The file. */
	const char *const file[] = { "--wifi-ssid", "Home", "--wifi-password-file", pwfile_ok, NULL };
	unsetenv(CFG_ENV_WIFI_PASSWORD);
	CHECK_INT(run(&c, file, err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, file_password);
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_FILE);
	CHECK_STR(c.wifi_password_file, pwfile_ok);
	cfg_free(&c);

	/* A pipe, as "--wifi-password-file <(pass show wifi)" gives. */
	char pipe_path[64];
	CHECK_INT(pipe(fds), 0);
	CHECK_INT(write(fds[1], "piped-password\nrest\n", 20), 20);
	close(fds[1]);
	snprintf(pipe_path, sizeof(pipe_path), "/proc/self/fd/%d", fds[0]);
	const char *const piped[] = { "--wifi-ssid", "Home", "--wifi-password-file", pipe_path, NULL };
	CHECK_INT(run(&c, piped, err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, "piped-password");
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_FILE);
	cfg_free(&c);
	close(fds[0]);

	/* The environment, when no option gives a password. */
	setenv(CFG_ENV_WIFI_PASSWORD, "env-password", 1);
	const char *const ssid_only[] = { "--wifi-ssid", "Home", NULL };
	CHECK_INT(run(&c, ssid_only, err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, "env-password");
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_ENV);
	cfg_free(&c);

	/* ... also without --wifi-ssid (the caller may ask for the SSID)... */
	const char *const none[] = { NULL };
	CHECK_INT(run(&c, none, err, sizeof(err), &stage), 0);
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_ENV);
	cfg_free(&c);

	/* ... but the options win ... */
	const char *const arg[] = { "--wifi-ssid", "Home", "--wifi-password", "arg-password", NULL };
	CHECK_INT(run(&c, arg, err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, "arg-password");
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_ARG);
	cfg_free(&c);
	CHECK_INT(run(&c, file, err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, file_password);
	cfg_free(&c);

	/* ... and --no-prov ignores it. */
	const char *const noprov[] = { "--no-prov", "--serving-host", "192.168.1.5", NULL };
	CHECK_INT(run(&c, noprov, err, sizeof(err), &stage), 0);
	CHECK(c.wifi_password == NULL);
	cfg_free(&c);

	/* An invalid one is named, not shown. */
	setenv(CFG_ENV_WIFI_PASSWORD, "short", 1);
	CHECK_INT(run(&c, ssid_only, err, sizeof(err), &stage), -EINVAL);
	CHECK(strstr(err, "SONOTA_WIFI_PASSWORD: a WPA2 password") == err);
	CHECK(strstr(err, "short") == NULL);
	cfg_free(&c);

	/* An empty one counts as unset. */
	setenv(CFG_ENV_WIFI_PASSWORD, "", 1);
	CHECK_INT(run(&c, ssid_only, err, sizeof(err), &stage), -EINVAL);
	CHECK(strstr(err, "--wifi-ssid: needs a password") != NULL);
	cfg_free(&c);
	unsetenv(CFG_ENV_WIFI_PASSWORD);
}

/* Run f with stdout redirected into a file; return what it printed (malloc'd). */
static char *
capture_stdout(const char *const *args, int *ret)
{
	char path[300], *buf;
	struct cfg c;
	char err[256];
	int saved, fd, stage;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/stdout", tmpdir);
	fflush(stdout);
	saved = dup(1);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	dup2(fd, 1);
	close(fd);
	*ret = run(&c, args, err, sizeof(err), &stage);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	cfg_free(&c);

	f = fopen(path, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		CHECK_MSG(0, "short read");
	fclose(f);
	return buf;
}

static void
test_help_version(void)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const h_then_bad[] = { "-h", "--bogus", NULL };
	static const char *const version[] = { "--serving-host", "192.168.1.5", "-V", NULL };
	int r;
	char *out = capture_stdout(help, &r);

	CHECK_INT(r, CFG_DONE);
	for (unsigned i = 0; cfg_option_name(i); i++) {
		char want[64];

		snprintf(want, sizeof(want), "--%s", cfg_option_name(i));
		CHECK_MSG(strstr(out, want) != NULL, "--help lacks %s", want);
	}
	CHECK(cfg_option_name(_CFG_OPT_MAX) == NULL);
	CHECK(strstr(out, "\nAdvanced:\n") != NULL);
	CHECK(strstr(out, "\nExit codes:\n") != NULL);
	CHECK(strstr(out, "    0  success: the device on FinalStage got the final image\n") != NULL);
	CHECK(strstr(out, "    2  usage error\n") != NULL);
	CHECK(strstr(out, "  130  interrupted (SIGINT, SIGTERM, SIGHUP)\n") != NULL);
	CHECK(strstr(out, "  sonota-c --serving-host 192.168.1.5\n") != NULL);
	CHECK(strstr(out, "  sonota-c --no-prov --serving-host 192.168.1.5\n") != NULL);
	CHECK(strstr(out, "SONOTA_WIFI_PASSWORD") != NULL);
	CHECK(strstr(out, "  -v, --verbose ") != NULL);
	CHECK(strstr(out, "      --check-images[=DIR] ") != NULL);
	/* Advanced options come after the heading. */
	CHECK(strstr(out, "--max-devices") > strstr(out, "Advanced:"));
	CHECK(strstr(out, "--json") < strstr(out, "Advanced:"));
	/* Lines fit an 80-column terminal, except long paths in defaults. */
	for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1)
		CHECK_MSG(nl - p <= 80 || strstr(p, "(default: /") < nl, "long --help line: %.*s",
			  (int)(nl - p), p);
	free(out);

	out = capture_stdout(h_then_bad, &r);
	CHECK_INT(r, CFG_DONE); /* printed before the bad option is reached */
	free(out);

	out = capture_stdout(version, &r);
	CHECK_INT(r, CFG_DONE);
	CHECK(strncmp(out, "sonota-c " SONOTA_VERSION "\nlibwebsockets 4.",
		      strlen("sonota-c " SONOTA_VERSION "\nlibwebsockets 4.")) == 0);
	CHECK(strstr(out, "\nmbed TLS ") != NULL || strstr(out, "\nMbed TLS ") != NULL);
	CHECK(strstr(out, "\nlibmicrohttpd ") != NULL);
	free(out);
}

static void
test_print(void)
{
	static const char *const args[] = {
		"--serving-host", "192.168.1.5", "--wifi-ssid", "Home", "--wifi-password",
		"Pa55word-Secret", "--legacy", NULL,
	};
	struct cfg c;
	char err[256], *buf = NULL;
	size_t len = 0;
	int stage;
	FILE *f;

	CHECK_INT(run(&c, args, err, sizeof(err), &stage), 0);
	f = open_memstream(&buf, &len);
	cfg_print(&c, f);
	fclose(f);
	CHECK(strstr(buf, "Pa55word") == NULL);
	CHECK(strstr(buf, "\nwifi-password        *** (from --wifi-password)\n") != NULL);
	CHECK(strstr(buf, "****") == NULL); /* not "*" times the length */
	CHECK(strstr(buf, "serving-host         \"192.168.1.5\"\n") == buf);
	CHECK(strstr(buf, "\nwifi-ssid            \"Home\"\n") != NULL);
	CHECK(strstr(buf, "\nhttps-port           443\n") != NULL);
	CHECK(strstr(buf, "\nlegacy               yes\n") != NULL);
	CHECK(strstr(buf, "\nflash-mode           dout\n") != NULL);
	CHECK(strstr(buf, "\nconsole-level        notice\n") != NULL);
	CHECK(strstr(buf, "--help") == NULL && strstr(buf, "\nhelp ") == NULL);
	free(buf);
	cfg_free(&c);

	cfg_init(&c);
	buf = NULL;
	f = open_memstream(&buf, &len);
	cfg_print(&c, f);
	fclose(f);
	CHECK(strstr(buf, "\nwifi-password        (none)\n") != NULL);
	free(buf);
	cfg_free(&c);
}

static void
test_reentry(void)
{
	static const char *const bad[] = { "--json", "--bogus", "--no-prov", NULL };
	static const char *const good[] = { "--json", NULL };
	struct cfg c;
	char err[256];
	int stage;

	/* A parse that stopped half-way must not confuse the next one (getopt's
	 * globals), nor leak (ASan). */
	CHECK_INT(run(&c, bad, err, sizeof(err), &stage), -EINVAL);
	cfg_free(&c);
	CHECK_INT(run(&c, good, err, sizeof(err), &stage), 0);
	CHECK(c.json);
	cfg_free(&c);

	/* NULL err is fine. */
	cfg_init(&c);
	char *argv[] = { (char *)"sonota-c", (char *)"--bogus", NULL };
	CHECK_INT(cfg_parse_args(&c, 2, argv, NULL, 0), -EINVAL);
	cfg_free(&c);
	cfg_free(&c); /* twice: c is zeroed */

	struct cfg zero;
	memset(&zero, 0, sizeof(zero));
	cfg_free(&zero);
	CHECK(1);
}

/* One roff line as the reader sees it: the font macros' arguments (.B/.I joined with
 * spaces; .BI, .BR, .IR, .RB, .RI, .IB alternate fonts, so joined without), other
 * requests dropped, and the escapes \- \e \fX \& \(space) resolved. */
static void
roff_line(const char *in, char *out, size_t len)
{
	char raw[1024];
	size_t n = 0;

	raw[0] = '\0';
	if (in[0] == '.') {
		size_t m = strcspn(in + 1, " \t");
		bool joined, alt;
		const char *p = in + 1 + m;

		joined = (m == 1 && (in[1] == 'B' || in[1] == 'I')) ||
			 (m == 2 && in[1] == 'S' && in[2] == 'M');
		alt = m == 2 && strchr("BIR", in[1]) && strchr("BIR", in[2]) && in[1] != in[2];
		if (!joined && !alt) {
			out[0] = '\0';
			return;
		}
		while (*p && n + 2 < sizeof(raw)) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				break;
			if (joined && n)
				raw[n++] = ' ';
			if (*p == '"') {
				for (p++; *p && *p != '"' && n + 2 < sizeof(raw); p++)
					raw[n++] = *p;
				if (*p == '"')
					p++;
			} else {
				for (; *p && *p != ' ' && *p != '\t' && n + 2 < sizeof(raw); p++)
					raw[n++] = *p;
			}
		}
		raw[n] = '\0';
	} else {
		snprintf(raw, sizeof(raw), "%s", in);
	}
	n = 0;
	for (const char *p = raw; *p && n + 1 < len; p++) {
		if (p[0] != '\\' || !p[1]) {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == '-' || *p == ' ')
			out[n++] = *p;
		else if (*p == 'e')
			out[n++] = '\\';
		else if (*p == 'f' && p[1])
			p++; /* a font change */
		/* \& and anything else: nothing */
	}
	out[n] = '\0';
}

/* The man page's option entries, as text: for each ".TP", its tag line and its body
 * (up to the next .TP, .SS, .SH or .PP), roff resolved. */
struct man_entry {
	char tag[256];
	char body[2048];
};

#define MAN_ENTRIES_MAX 64

static unsigned
man_entries(char *buf, struct man_entry *e, unsigned max)
{
	unsigned n = 0;
	int state = 0; /* 0: outside, 1: tag next, 2: in the body */
	char text[1024];

	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		bool end = strncmp(line, ".TP", 3) == 0 || strncmp(line, ".SS", 3) == 0 ||
			   strncmp(line, ".SH", 3) == 0 || strncmp(line, ".PP", 3) == 0;

		if (end) {
			state = strncmp(line, ".TP", 3) == 0 && n < max ? 1 : 0;
			continue;
		}
		roff_line(line, text, sizeof(text));
		if (state == 1) {
			snprintf(e[n].tag, sizeof(e[n].tag), "%s", text);
			e[n].body[0] = '\0';
			n++;
			state = 2;
		} else if (state == 2 && text[0]) {
			size_t l = strlen(e[n - 1].body);

			snprintf(e[n - 1].body + l, sizeof(e[n - 1].body) - l, "%s%s", l ? " " : "",
				 text);
		}
	}
	return n;
}

/* Does tag name option --name (not merely a longer option that starts with it)? */
static bool
tag_names(const char *tag, const char *name)
{
	char want[80];
	size_t l;

	snprintf(want, sizeof(want), "--%s", name);
	l = strlen(want);
	for (const char *p = tag; (p = strstr(p, want)); p += l)
		if (!p[l] || !(p[l] == '-' || (p[l] >= 'a' && p[l] <= 'z')))
			return true;
	return false;
}

/* "default 30", "Default: dout", "(default 8080)": the default stated in text. */
static bool
states_default(const char *text, const char *def)
{
	size_t l = strlen(def);

	for (const char *p = text; *p; p++) {
		const char *v = p + 7;

		if (strncasecmp(p, "default", 7) != 0)
			continue;

		if (*v == ':')
			v++;
		while (*v == ' ')
			v++;
		if (strncmp(v, "is ", 3) == 0)
			v += 3;
		if (strncmp(v, def, l) == 0)
			return true;
	}
	return false;
}

/* The man page documents every option of the table: its name, and its range and
 * default as the table has them (a range or default that drifted from the code, as
 * --max-devices' "1 to 64" did, fails here). */
static void
check_man_text(char *buf, const char *what)
{
	static struct man_entry e[MAN_ENTRIES_MAX];
	unsigned n = man_entries(buf, e, MAN_ENTRIES_MAX);

	for (unsigned i = 0; cfg_option_name(i); i++) {
		struct cfg_option_doc d;
		const struct man_entry *m = NULL;
		char range[64];

		CHECK_INT(cfg_option_doc(i, &d), 0);
		for (unsigned k = 0; k < n && !m; k++)
			if (tag_names(e[k].tag, d.name))
				m = &e[k];
		CHECK_MSG(m != NULL, "%s: no entry for --%s", what, d.name);
		if (!m)
			continue;
		if (d.has_range) {
			snprintf(range, sizeof(range), "%u to %u", d.min, d.max);
			CHECK_MSG(strstr(m->body, range) != NULL, "%s: --%s: range \"%s\" missing in: %s",
				  what, d.name, range, m->body);
		}
		if (d.def[0])
			CHECK_MSG(states_default(m->body, d.def),
				  "%s: --%s: \"default %s\" missing in: %s", what, d.name, d.def,
				  m->body);
	}
	CHECK_INT(cfg_option_doc(_CFG_OPT_MAX, &(struct cfg_option_doc){ 0 }), -ENOENT);
}

/* "1 to 256", "1-256" or "1\u2013256" (an en dash): a range stated in text. */
static bool
states_range(const char *text, unsigned min, unsigned max)
{
	static const char *const sep[] = { " to ", "-", "\xe2\x80\x93" };
	char want[64];

	for (size_t i = 0; i < sizeof(sep) / sizeof(sep[0]); i++) {
		snprintf(want, sizeof(want), "%u%s%u", min, sep[i], max);
		for (const char *p = text; (p = strstr(p, want)); p++)
			if ((p == text || p[-1] < '0' || p[-1] > '9') &&
			    (p[strlen(want)] < '0' || p[strlen(want)] > '9'))
				return true;
	}
	return false;
}

/* README.md's option table: a row ("| `--name ...` | text |") that documents one
 * option alone states its range and its default as the table has them. Backticks
 * are dropped first. Returns the number of options found in rows. */
static unsigned
check_readme_text(const char *readme)
{
	char *copy = strdup(readme), row[2048];
	unsigned found = 0;

	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		size_t n = 0;
		char *cell_end;
		unsigned named = 0, which = 0;

		if (strncmp(line, "| `-", 4) != 0)
			continue;
		for (const char *p = line; *p && n + 1 < sizeof(row); p++)
			if (*p != '`')
				row[n++] = *p;
		row[n] = '\0';
		cell_end = strchr(row + 1, '|');
		if (!cell_end)
			continue;
		*cell_end = '\0';
		for (unsigned i = 0; cfg_option_name(i); i++) {
			if (tag_names(row, cfg_option_name(i))) {
				named++;
				which = i;
			}
		}
		found += named;
		if (named != 1)
			continue;
		{
			struct cfg_option_doc d;

			cfg_option_doc(which, &d);
			if (d.has_range)
				CHECK_MSG(states_range(cell_end + 1, d.min, d.max),
					  "README.md: --%s: range %u-%u missing in: %s", d.name,
					  d.min, d.max, cell_end + 1);
			if (d.def[0])
				CHECK_MSG(states_default(cell_end + 1, d.def),
					  "README.md: --%s: \"default %s\" missing in: %s", d.name,
					  d.def, cell_end + 1);
		}
	}
	free(copy);
	return found;
}

static void
test_man_page(void)
{
	const char *srcdir = getenv("SONOTA_TEST_SRCDIR");
	char path[512], *buf, *copy;
	FILE *f;
	long n;

	/* The checker itself, on a page that drifted: each line must be caught. */
	{
		static const char *const drifted[] = {
			".TP\n.BI \\-\\-max\\-devices \" N\"\nDevices: 1 to 64, default 8.\n",
			".TP\n.BI \\-\\-done\\-timeout \" SECS\"\nWait 1 to 3600 s, default 31.\n",
		};
		for (size_t i = 0; i < sizeof(drifted) / sizeof(drifted[0]); i++) {
			static struct man_entry e[MAN_ENTRIES_MAX];
			char page[512];
			unsigned k, cnt;
			bool caught = false;

			snprintf(page, sizeof(page), "%s", drifted[i]);
			cnt = man_entries(page, e, MAN_ENTRIES_MAX);
			CHECK_INT(cnt, 1);
			for (k = 0; k < _CFG_OPT_MAX; k++) {
				struct cfg_option_doc d;
				char range[64];

				cfg_option_doc(k, &d);
				if (!tag_names(e[0].tag, d.name))
					continue;
				snprintf(range, sizeof(range), "%u to %u", d.min, d.max);
				caught = (d.has_range && !strstr(e[0].body, range)) ||
					 (d.def[0] && !states_default(e[0].body, d.def));
				break;
			}
			CHECK_MSG(caught, "drifted page %zu not caught", i);
		}
		CHECK(states_default("x (default 8080).", "8080"));
		CHECK(states_default("Default: dout.", "dout"));
		CHECK(!tag_names("--wifi-password-file FILE", "wifi-password"));
		CHECK(tag_names("-s, --slowstream", "slowstream"));
		CHECK(tag_names("--check-images[=DIR]", "check-images"));
		CHECK(states_range("devices (1\xe2\x80\x93" "256, default 8)", 1, 256));
		CHECK(states_range("1 to 256", 1, 256) && states_range("x 1-256.", 1, 256));
		CHECK(!states_range("1 to 2567", 1, 256) && !states_range("11 to 256", 1, 256));
		CHECK(!states_range("1 to 64", 1, 256));
	}

	if (!srcdir) {
		CHECK_MSG(0, "SONOTA_TEST_SRCDIR is not set");
		return;
	}
	snprintf(path, sizeof(path), "%s/docs/sonota-c.1", srcdir);
	f = fopen(path, "r");
	CHECK_MSG(f != NULL, "cannot open %s", path);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		CHECK_MSG(0, "short read");
	fclose(f);
	CHECK(strstr(buf, ".SH EXIT STATUS") != NULL);
	CHECK(strstr(buf, ".SH ENVIRONMENT") != NULL);
	copy = strdup(buf);
	check_man_text(copy, "docs/sonota-c.1");
	free(copy);
	free(buf);

	snprintf(path, sizeof(path), "%s/README.md", srcdir);
	f = fopen(path, "r");
	CHECK_MSG(f != NULL, "cannot open %s", path);
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		CHECK_MSG(0, "short read");
	fclose(f);
	CHECK(check_readme_text(buf) >= 20);
	free(buf);
}

/* Where files go (install): the state directory of a generated certificate and the
 * default images directory, decided at run time; a certificate made through that
 * choice lands in the state directory, never in the source tree's certs/. */
static void
test_paths(void)
{
	static const struct {
		unsigned euid;
		const char *xdg, *home;
		int ret;
		const char *want;
	} rows[] = {
		{ 0, "/x/state", "/home/u", 0, CFG_STATE_DIR_ROOT },
		{ 0, NULL, NULL, 0, CFG_STATE_DIR_ROOT },
		{ 1000, "/x/state", "/home/u", 0, "/x/state/sonota-c" },
		{ 1000, NULL, "/home/u", 0, "/home/u/.local/state/sonota-c" },
		{ 1000, "", "/home/u", 0, "/home/u/.local/state/sonota-c" },
		{ 1000, "rel/state", "/home/u", 0, "/home/u/.local/state/sonota-c" },
		{ 1000, NULL, NULL, -ENOENT, NULL },
		{ 1000, "rel", "home/u", -ENOENT, NULL },
	};
	char buf[4200], srccerts[600], cert[4300], key[4300], err[256], xdg[300];
	const char *srcdir = getenv("SONOTA_TEST_SRCDIR");
	bool gen = false, had_certs;
	struct stat st;
	struct cfg c;
	int stage;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r;

		memset(buf, 'x', sizeof(buf));
		r = cfg_state_dir(rows[i].euid, rows[i].xdg, rows[i].home, buf, sizeof(buf));
#ifdef SONOTA_FIXED_CERT_DIR
		CHECK_INT(r, 0);
		CHECK_STR(buf, SONOTA_FIXED_CERT_DIR);
#else
		CHECK_MSG(r == rows[i].ret, "row %zu: %d, want %d", i, r, rows[i].ret);
		if (rows[i].want)
			CHECK_STR(buf, rows[i].want);
#endif
	}
	memset(xdg, 'a', sizeof(xdg));
	xdg[0] = '/';
	xdg[sizeof(xdg) - 1] = '\0';
#ifndef SONOTA_FIXED_CERT_DIR
	CHECK_INT(cfg_state_dir(1000, xdg, NULL, buf, 100), -ENAMETOOLONG);
#endif

	/* The images: the source tree's static/ from inside the build directory (this
	 * test runs there), the installed directory from anywhere else. */
#ifdef SONOTA_FIXED_IMAGES_DIR
	CHECK_STR(cfg_images_dir_for("/usr/bin/sonota-c", "/b"), SONOTA_FIXED_IMAGES_DIR);
#else
	CHECK_STR(cfg_default_images_dir(), SONOTA_SOURCE_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/src/build/sonota-c", "/src/build"), SONOTA_SOURCE_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/src/build/sonota-c", "/src/build/"),
		  SONOTA_SOURCE_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/src/build2/sonota-c", "/src/build"),
		  SONOTA_INSTALLED_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/usr/local/bin/sonota-c", "/src/build"),
		  SONOTA_INSTALLED_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/tmp/d/usr/local/bin/sonota-c", "/"),
		  SONOTA_INSTALLED_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for(NULL, "/src/build"), SONOTA_INSTALLED_IMAGES_DIR);
	CHECK_STR(cfg_images_dir_for("/src/build/sonota-c", NULL), SONOTA_INSTALLED_IMAGES_DIR);
	CHECK(strstr(SONOTA_INSTALLED_IMAGES_DIR, "/sonota-c/images") != NULL);
#endif

	/* cfg_check derives the directory of this process; none with --cert. */
	{
		static const char *const none[] = { NULL };
		static const char *const user[] = { "--cert", "/c.pem", "--key", "/k.pem", NULL };
		char want[4200];

		CHECK_INT(cfg_state_dir((unsigned)geteuid(), getenv("XDG_STATE_HOME"),
					getenv("HOME"), want, sizeof(want)), 0);
		CHECK_INT(run(&c, none, err, sizeof(err), &stage), 0);
		CHECK_STR(c.cert_dir, want);
		{
			char *pbuf = NULL, line[4300];
			size_t plen = 0;
			FILE *pf = open_memstream(&pbuf, &plen);

			cfg_print(&c, pf);
			fclose(pf);
			snprintf(line, sizeof(line), "\ncert-dir             \"%s\"\n", want);
			CHECK_MSG(strstr(pbuf, line) != NULL, "cfg_print lacks %s", line);
			snprintf(line, sizeof(line), "\nimages               \"%s\"\n",
				 cfg_default_images_dir());
			CHECK_MSG(strstr(pbuf, line) != NULL, "cfg_print lacks %s", line);
			free(pbuf);
		}
		cfg_free(&c);
		CHECK_INT(run(&c, user, err, sizeof(err), &stage), 0);
		CHECK(c.cert_dir == NULL);
		cfg_free(&c);
	}

	/* A certificate generated through that choice (a user's, so that no test writes
	 * to /var/lib): it lands in the state directory, made 0700, and nothing is
	 * written into the source tree's certs/. */
	snprintf(xdg, sizeof(xdg), "%s/xdg-state", tmpdir);
	snprintf(srccerts, sizeof(srccerts), "%s/certs", srcdir ? srcdir : "/nonexistent");
	had_certs = stat(srccerts, &st) == 0;
	CHECK_INT(cfg_state_dir(1000, xdg, "/home/u", buf, sizeof(buf)), 0);
	CHECK_INT(tls_ensure(NULL, NULL, buf, cert, sizeof(cert), key, sizeof(key), &gen, err,
			     sizeof(err)), 0);
	CHECK(gen);
#ifndef SONOTA_FIXED_CERT_DIR
	snprintf(buf, sizeof(buf), "%s/sonota-c/server.crt", xdg);
	CHECK_STR(cert, buf);
	snprintf(buf, sizeof(buf), "%s/sonota-c", xdg);
	CHECK(stat(buf, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700);
	CHECK(stat(cert, &st) == 0 && stat(key, &st) == 0 && (st.st_mode & 0077) == 0);
	CHECK(strncmp(cert, SONOTA_SOURCE_IMAGES_DIR, strlen(SONOTA_SOURCE_IMAGES_DIR) - 6) != 0);
#endif
	if (!had_certs)
		CHECK_MSG(stat(srccerts, &st) < 0, "%s was created", srccerts);
}

static void
write_file(char *path, size_t len, const char *name, const char *content, mode_t mode)
{
	int fd;

	snprintf(path, len, "%s/%s", tmpdir, name);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content) ||
	    fchmod(fd, mode) < 0) {
		perror(path);
		exit(1);
	}
	close(fd);
}

/* issue 11 item 2 (diyap): --diy --pair needs the home WiFi; --pair alone, with
 * --device-ip or --no-prov is refused naming --pair; --diy without --pair still refuses
 * the WiFi settings; --wifi auto and manual both go (the hop driver joins ITEAD-<id>
 * and goes home, or the user does). */
static void
test_pair(void)
{
	static const struct row rows[] = {
		{ { "--pair", "--wifi-ssid", "Home", "--wifi-password", "12345678" }, 2, -EINVAL,
		  "--pair: needs --diy", "12345678" },
		{ { "--diy", "--diy-image", "x.bin", "--pair" }, 2, -EINVAL,
		  "--pair: needs --wifi-ssid", NULL },
		{ { "--diy", "--diy-image", "x.bin", "--pair", "--wifi-ssid", "Home" }, 2, -EINVAL,
		  "--wifi-ssid: needs a password", NULL },
		{ { "--diy", "--diy-image", "x.bin", "--pair", "--wifi-ssid", "Home",
		    "--wifi-password", "12345678", "--device-ip", "192.168.1.7" }, 2, -EINVAL,
		  "--pair: cannot be used with --device-ip", "12345678" },
		{ { "--diy", "--diy-image", "x.bin", "--pair", "--wifi-ssid", "Home",
		    "--wifi-password", "12345678", "--no-prov" }, 2, -EINVAL,
		  "--pair: cannot be used with --no-prov", "12345678" },
		{ { "--diy", "--diy-image", "x.bin", "--wifi-ssid", "Home", "--wifi-password",
		    "12345678" }, 2, -EINVAL, "add --pair", "12345678" },
	};
	static const char *const ok[] = {
		"--diy", "--diy-image", "x.bin", "--pair", "--wifi-ssid", "Home",
		"--wifi-password-file", pwfile_ok, NULL,
	};
	struct cfg c;
	char err[512];
	int stage;

	unsetenv(CFG_ENV_WIFI_PASSWORD);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r = run(&c, rows[i].args, err, sizeof(err), &stage);

		CHECK_MSG(r == rows[i].ret && stage == rows[i].stage, "pair row %zu: ret %d at %d, "
			  "err \"%s\"", i, r, stage, err);
		CHECK_MSG(strstr(err, rows[i].err) != NULL, "pair row %zu: err \"%s\" lacks \"%s\"",
			  i, err, rows[i].err);
		CHECK_MSG(!rows[i].absent || !strstr(err, rows[i].absent), "pair row %zu: secret "
			  "shown", i);
		cfg_free(&c);
	}
	CHECK_INT(run(&c, (const char *const[]){ "--diy", "--diy-image", "x.bin", "--pair",
						 "--wifi-ssid", "Home", "--wifi-password",
						 "12345678", "--wifi", "auto", NULL },
		      err, sizeof(err), &stage), 0);
	CHECK(c.pair && c.wifi == CFG_WIFI_AUTO);
	cfg_free(&c);
	CHECK_INT(run(&c, ok, err, sizeof(err), &stage), 0);
	CHECK(c.diy && c.pair);
	CHECK_STR(c.wifi_ssid, "Home");
	CHECK_STR(c.wifi_password, file_password);
	CHECK_INT(c.wifi_password_source, CFG_PASSWORD_FILE);
	cfg_free(&c);
	/* the environment's password is enough */
	setenv(CFG_ENV_WIFI_PASSWORD, "from-the-env", 1);
	CHECK_INT(run(&c, (const char *const[]){ "--diy", "--diy-image", "x.bin", "--pair",
						 "--wifi-ssid", "Home", NULL },
		      err, sizeof(err), &stage), 0);
	CHECK_STR(c.wifi_password, "from-the-env");
	cfg_free(&c);
	unsetenv(CFG_ENV_WIFI_PASSWORD);
}

int
main(void)
{
	char line[300];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(line, sizeof(line), "%s\nsecond line\n", file_password);
	write_file(pwfile_ok, sizeof(pwfile_ok), "pw-ok", line, 0600);
	write_file(pwfile_open, sizeof(pwfile_open), "pw-open", line, 0644);
	write_file(pwfile_short, sizeof(pwfile_short), "pw-short", "tiny1\n", 0600);
	memset(line, 'x', 100);
	line[100] = '\0';
	write_file(pwfile_long, sizeof(pwfile_long), "pw-long", line, 0600);
	write_file(pwfile_empty, sizeof(pwfile_empty), "pw-empty", "", 0600);
	write_file(pwfile_nul, sizeof(pwfile_nul), "pw-nul", "", 0600);
	{
		FILE *f = fopen(pwfile_nul, "w");
		fwrite("pass\0word1\n", 1, 11, f);
		fclose(f);
	}

	test_bad_rows();
	test_defaults();
	test_every_option();
	test_good_rows();
	test_password_sources();
	test_help_version();
	test_print();
	test_reentry();
	test_man_page();
	test_paths();
	test_pair(); /* issue 11 item 2 (diyap) */

	snprintf(line, sizeof(line), "rm -rf '%s'", tmpdir);
	if (system(line) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}

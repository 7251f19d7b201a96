/* Unit tests for config (cfg.h): every option, every malformed value and every
 * cross-field rule, each error checked to name its option; defaults; password
 * sources (option, file, pipe, environment); --help/--version; cfg_print's
 * redaction; the man page lists every option. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"
#include "log.h"

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
	CHECK_STR(c.images_dir, SONOTA_DEFAULT_IMAGES_DIR);
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
	CHECK_STR(c.images_dir, SONOTA_DEFAULT_IMAGES_DIR);
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
	CHECK(strstr(out, "    0  success: every device done\n") != NULL);
	CHECK(strstr(out, "    2  usage error\n") != NULL);
	CHECK(strstr(out, "  130  interrupted\n") != NULL);
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

static void
test_man_page(void)
{
	const char *srcdir = getenv("SONOTA_TEST_SRCDIR");
	char path[512], *buf;
	FILE *f;
	long n;

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
	for (unsigned i = 0; cfg_option_name(i); i++) {
		char want[80], *dash, *p = want + 4;

		/* roff spells "-" as "\-": "--serving-host" is "\-\-serving\-host". */
		snprintf(want, sizeof(want), "\\-\\-%s", cfg_option_name(i));
		while ((dash = strchr(p, '-'))) {
			memmove(dash + 1, dash, strlen(dash) + 1);
			*dash = '\\';
			p = dash + 2;
		}
		CHECK_MSG(strstr(buf, want) != NULL, "man page lacks \"%s\"", want);
	}
	CHECK(strstr(buf, ".SH EXIT STATUS") != NULL);
	CHECK(strstr(buf, ".SH ENVIRONMENT") != NULL);
	free(buf);
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

	snprintf(line, sizeof(line), "rm -rf '%s'", tmpdir);
	if (system(line) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return check_done();
}

/* cfgopts: the option table of the config module (cfgint.h, cfg.h): every option's
 * names, kind of value, field, range, default and help text, in one row each.
 * getopt_long's tables, --help, cfg_print and cfg_init's defaults are generated from
 * it (config.c, cfgusage.c). */
#include "config.h"

#include <stddef.h>
#include <stdio.h>

#include "cfg.h"
#include "cfgint.h"

#define F(field) offsetof(struct cfg, field)

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

const struct option_def cfg_options[_CFG_OPT_MAX] = {
	[CFG_OPT_SERVING_HOST] = {
		"serving-host", 0, K_IPV4, false, F(serving_host), F(serving_addr),
		.metavar = "IP", .validate = cfg_validate_serving_host,
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
		.metavar = "SSID", .validate = cfg_validate_ssid,
		.help = "home WiFi network the device is to join\n"
			"(1-32 bytes)",
	},
	[CFG_OPT_WIFI_PASSWORD] = {
		"wifi-password", 0, K_SECRET, false, F(wifi_password), 0,
		.metavar = "PASS", .validate = cfg_validate_password,
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
		.metavar = "IP", .validate = cfg_validate_device_ip,
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
			"the WiFi hops as with --wifi",
	},
};

#undef F

const struct option_def *
cfg_opt_def(unsigned id)
{
	return id < _CFG_OPT_MAX ? &cfg_options[id] : NULL;
}

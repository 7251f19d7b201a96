/* cfgint: what the files of the config module share (config.c, cfgpath.c,
 * cfgcheck.c, cfgusage.c), private to them: the shape of a row of the option
 * table, the table itself through cfg_opt_def(), and the helpers one file
 * defines for another. Nothing outside the module includes this; cfg.h is its
 * public contract.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"


enum opt_kind {
	K_FLAG,         /* bool = true */
	K_COUNT,        /* unsigned += 1, capped at CFG_COUNT_MAX */
	K_STRING,       /* char *, length min..max bytes, optional validate() */
	K_PATH,         /* char *, 1..CFG_PATH_MAX bytes */
	K_SECRET,       /* char *, checked by validate(), freed with util_free_secret */
	K_PORT,         /* uint16_t in min..max */
	K_UINT,         /* unsigned in min..max */
	K_IPV4,         /* char * (as given) + uint32_t at offset2, then validate() */
	K_FLASH,        /* enum cfg_flash_mode by name */
	K_WIFI,         /* enum cfg_wifi by name */
	K_CHECK_IMAGES, /* bool + optional DIR into the char * at offset2 */
	K_HELP,
	K_VERSION,
};

struct option_def {
	const char *name;     /* long name without "--" */
	char short_name;      /* 0: none */
	enum opt_kind kind;
	bool advanced;        /* listed under "Advanced" in --help */
	size_t offset;        /* the field in struct cfg */
	size_t offset2;       /* K_IPV4: the address; K_CHECK_IMAGES: the directory */
	unsigned min, max;    /* numbers: range; K_STRING: length in bytes */
	unsigned def;         /* numbers: default */
	const char *def_str;  /* K_PATH: default applied by cfg_check when not given */
	const char *def_help; /* how --help shows the default, if not def/def_str */
	/* A default that depends on where the binary runs or who runs it (a path):
	 * writes how --help shows it into buf, returns buf. */
	const char *(*def_fn)(char *buf, size_t len);
	const char *metavar;  /* argument name in --help */
	const char *help;     /* lines separated by '\n' */
	/* Extra check of a value; writes the reason (without the option name,
	 * and never echoing a secret) to msg. */
	int (*validate)(const char *arg, char *msg, size_t msglen);
};

/* The option table's row for id (an enum cfg_opt below _CFG_OPT_MAX), or NULL
 * past the end. The table lives in config.c; rows are constant. */
const struct option_def *cfg_opt_def(unsigned id);
/* The table itself (cfgopts.c), one row per enum cfg_opt. */
extern const struct option_def cfg_options[_CFG_OPT_MAX];

/* A field of struct cfg at byte offset off, as a row's offset names it. */
#define FIELD(c, off, type) ((type *)(void *)((char *)(c) + (off)))
#define CFIELD(c, off, type) ((const type *)(const void *)((const char *)(c) + (off)))

/* ---- cfgcheck.c: checks of values, pure --------------------------------- */

#define QUOTE_MAX 68 /* 64 bytes of the value plus "..." and the NUL */

/* A user-supplied string fit to quote in an error: at most len - 4 bytes of s
 * (64 with QUOTE_MAX), control bytes as '?', "..." when cut. Writes buf (len
 * > 4), returns it. */
const char *cfg_quote(const char *s, char *buf, size_t len);

/* The rows' validators (struct option_def's validate): 0, or -EINVAL with the
 * reason in msg, without the option's name and never echoing a password. */
int cfg_validate_serving_host(const char *arg, char *msg, size_t msglen);
int cfg_validate_device_ip(const char *arg, char *msg, size_t msglen);
int cfg_validate_ssid(const char *arg, char *msg, size_t msglen);
int cfg_validate_password(const char *arg, char *msg, size_t msglen);
/* diymore: --device-id: letters and digits only (ids are 10 hex digits) */
int cfg_validate_device_id(const char *arg, char *msg, size_t msglen);

/* cfg_check's part for --wifi-password-file: read the password from its first
 * line into c->wifi_password (source CFG_PASSWORD_FILE). 0, or -errno with one
 * line in err naming the option; the password is never in err. */
int cfg_read_password_file(struct cfg *c, char *err, size_t errlen);

/* cfg_check's part for the ports: two listeners on one port (other than 0) is
 * -EINVAL with err naming the option given explicitly. */
int cfg_check_ports(struct cfg *c, char *err, size_t errlen);

/* ---- cfgpath.c: where files are ----------------------------------------- */

/* cfg_state_dir() of this process ($XDG_STATE_HOME, $HOME, the euid). */
int cfg_own_state_dir(char *buf, size_t len);

/* What tls_ensure generates when --cert/--key are not given, as --help and
 * cfg_print show it: "DIR/name, generated", or "none: set $HOME". Writes buf,
 * returns it. */
const char *cfg_generated_default(char *buf, size_t len, const char *name);

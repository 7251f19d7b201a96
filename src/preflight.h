/* preflight: the start-up checks SonOTA makes, with better messages, and on a
 * terminal the prompts for what is missing (PROTOCOL.md §8.1-8.2).
 *
 *  - unless --no-prov, refuse to start on the device's network (10.10.7.x) or
 *    on FinalStage (192.168.4.2): provisioning starts from the home network;
 *  - the serving host: given, or chosen from a menu of this computer's IPv4
 *    addresses (the default-route interface first) on a terminal;
 *  - unless --no-check-ip, the serving host must be one of those addresses;
 *  - unless --no-prov, the home WiFi SSID and password: given, or asked for
 *    (the password without echo) on a terminal.
 * Without a terminal a missing value is an error naming the option, never a hang.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>

#include "cfg.h"
#include "log.h"

#define PREFLIGHT_ADDRS_MAX 64

struct preflight {
	char serving_host[INET_ADDRSTRLEN]; /* the address devices reach us at */
	char *ssid;                         /* home WiFi SSID (owned), NULL with --no-prov */
	char *password;                     /* its password (owned, SECRET), NULL with --no-prov */
};

/* Run the checks; in and out are the terminal to prompt on (NULL: no prompts).
 * Returns 0, or -errno with err holding one line for the user: -EINVAL for a value
 * that is missing or was not given validly (the caller exits with
 * SONOTA_EXIT_USAGE), -EINTR when SIGINT or SIGTERM arrived at a prompt (exit
 * SONOTA_EXIT_INTERRUPTED; the caller must have blocked them, as it does for its
 * signalfd, or they keep their default action), anything else SONOTA_EXIT_PREFLIGHT.
 * The terminal's echo is always restored. The password, when asked for, is
 * registered with log as a secret. */
int preflight_run(struct preflight *p, const struct cfg *cfg, struct log *log, FILE *in,
		  FILE *out, char *err, size_t errlen);

/* Zero the password and free. Safe on a zeroed struct. */
void preflight_free(struct preflight *p);

/* cloud: the emulated eWeLink cloud. Turns what the wss listener receives into
 * session.c calls and what session.c decides into frames, log lines and stage
 * events (PROTOCOL.md §3). */
#pragma once

#include "wss.h"

/* The callbacks for wss_vhost_create; arg is the struct sonota. */
extern const struct wss_ops cloud_ops;

/* route-cloud-int: private to route-cloud.c and route-cloud-drawer.c, the --all
 * (drawer mode) part of the cloud route: guards, limit, texts and entry action of
 * next-device, and the recording of a device's end. See route-cloud.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "route-cloud.h"

#define RC_F(ctx) (&((const struct route_cloud *)(ctx))->f)
#define RC_R(ctx) ((struct route_cloud *)(ctx))

bool rc_g_drawer(const void *c);          /* --all */
bool rc_g_drawer_dev(const void *c);      /* --all and a device is in progress */
bool rc_g_drawer_all_done(const void *c); /* --all, every device recorded done */
unsigned rc_l_next(const void *c);
bool rc_t_next(const void *c, char *buf, size_t len);
bool rc_n_next_done(const void *c, char *buf, size_t len);
bool rc_n_next_failed(const void *c, char *buf, size_t len);
bool rc_n_stopped_done(const void *c, char *buf, size_t len);
/* next-device's entry action: records the device that ended, resets its facts */
void rc_a_next(void *c, int from, int ev, int to);
/* A terminal stage entered: in drawer mode, record the device in progress (done if
 * success, interrupted on an interrupt, else failed with the row's text). */
void rc_drawer_terminal(void *c, int from, int ev, bool success);

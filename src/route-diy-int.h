/* route-diy-int: private to route-diy.c and route-diy-pair.c, the --pair part of the DIY
 * route (issue 11 item 2): the guards, limits, texts and actions of wait-ap, provisioning,
 * posted, prov-pause and wait-home, and the LAN-mode and discover texts after pairing. See
 * route-diy.h; docs/diy.md describes the stages. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "route-diy.h"

#define RDIY_F(ctx) (&((const struct route_diy *)(ctx))->f)
#define RDIY_R(ctx) ((struct route_diy *)(ctx))

bool rdp_g_pair(const void *c);             /* --pair */
bool rdp_g_ap_here_runs_left(const void *c); /* on ITEAD-<id>, runs left */
bool rdp_g_ap_here(const void *c);
bool rdp_g_ap_gone(const void *c);
bool rdp_g_post_sent(const void *c);         /* a POST /ap of this AP session went out */
bool rdp_g_runs_left(const void *c);
bool rdp_g_home_back(const void *c);         /* home address, no 10.10.7.x */

unsigned rdp_l_wait(const void *c);     /* --wait-timeout */
unsigned rdp_l_no_reply(const void *c); /* RDIY_NO_REPLY_WAIT_S */
unsigned rdp_l_retry(const void *c);    /* RDIY_PROV_RETRY_S */

bool rdp_t_wait_ap(const void *c, char *buf, size_t len);
bool rdp_x_wait_ap(const void *c, char *buf, size_t len);
bool rdp_t_prov(const void *c, char *buf, size_t len);
bool rdp_x_prov(const void *c, char *buf, size_t len);
bool rdp_t_posted(const void *c, char *buf, size_t len);
bool rdp_x_posted_retry(const void *c, char *buf, size_t len);
bool rdp_x_posted_fail(const void *c, char *buf, size_t len);
bool rdp_x_prov_fail(const void *c, char *buf, size_t len);
bool rdp_t_pause(const void *c, char *buf, size_t len);
bool rdp_n_ap_early(const void *c, char *buf, size_t len);
bool rdp_n_posted_gone(const void *c, char *buf, size_t len);
bool rdp_t_wait_home(const void *c, char *buf, size_t len);
bool rdp_x_wait_home(const void *c, char *buf, size_t len);
/* discover after pairing: the paired device did not announce itself */
bool rdp_x_discover(const void *c, char *buf, size_t len);
/* the paired device announced eWeLink LAN mode: the one line, with what to do */
bool rdp_n_lan_mode(const void *c, char *buf, size_t len);

void rdp_a_prov_enter(void *c, int from, int ev, int to);
void rdp_a_prov_exit(void *c, int from, int ev, int to);
void rdp_a_posted(void *c, int from, int ev, int to);
void rdp_a_provisioned(void *c, int from, int ev, int to);

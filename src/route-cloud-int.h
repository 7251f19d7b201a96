/* route-cloud-int: private to route-cloud.c (the tables), route-cloud-drawer.c (the
 * --all part: guards, limits, texts and entry actions of look-next and next-device,
 * the ending of devices) and route-cloud-text.c (the other texts of the tables).
 * See route-cloud.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "route-cloud.h"

#define RC_F(ctx) (&((const struct route_cloud *)(ctx))->f)
#define RC_R(ctx) ((struct route_cloud *)(ctx))

bool rc_g_drawer(const void *c);          /* --all */
bool rc_g_drawer_dev(const void *c);      /* --all and a device is in progress */
bool rc_g_drawer_all_done(const void *c); /* --all, every device recorded done */
bool rc_g_stage2_busy(const void *c);     /* --all, a device provisioned or calling */
bool rc_g_final_ready(const void *c);     /* --all, none in stage 2, one stock-done */
bool rc_g_final_waiting(const void *c);   /* --all, a stock-done device waits */
bool rc_g_ap_gone_drawer(const void *c);  /* --all, the pairing AP went */
bool rc_g_post_sent_drawer(const void *c); /* --all, the POST /ap went out */
unsigned rc_l_look(const void *c);
bool rc_t_look(const void *c, char *buf, size_t len);
bool rc_n_wait_others(const void *c, char *buf, size_t len);
/* look-next's entry action: the device provisioned goes into the drawer */
void rc_a_look(void *c, int from, int ev, int to);
/* finalstage's entry action in drawer mode: the device to serve */
void rc_a_final(void *c, int from, int ev, int to);
unsigned rc_l_next(const void *c);
bool rc_t_next(const void *c, char *buf, size_t len);
bool rc_n_next_done(const void *c, char *buf, size_t len);
bool rc_n_next_failed(const void *c, char *buf, size_t len);
bool rc_n_stopped_done(const void *c, char *buf, size_t len);
/* next-device's entry action: ends the device(s) that the stage left ended, resets
 * the per-device facts */
void rc_a_next(void *c, int from, int ev, int to);
/* A terminal stage entered: in drawer mode, end the devices in progress (the one on
 * FinalStage done if success; the others interrupted on an interrupt, else failed
 * with the row's text). */
void rc_drawer_terminal(void *c, int from, int ev, bool success);

/* the texts of the tables (route-cloud-text.c) */
bool rc_t_wait_ap(const void *c, char *buf, size_t len);
bool rc_x_wait_ap(const void *c, char *buf, size_t len);
bool rc_t_prov(const void *c, char *buf, size_t len);
bool rc_x_prov(const void *c, char *buf, size_t len);
bool rc_t_posted(const void *c, char *buf, size_t len);
bool rc_x_posted_retry(const void *c, char *buf, size_t len);
bool rc_x_posted_fail(const void *c, char *buf, size_t len);
bool rc_x_prov_fail(const void *c, char *buf, size_t len);
bool rc_t_pause(const void *c, char *buf, size_t len);
bool rc_n_ap_early(const void *c, char *buf, size_t len);
bool rc_n_posted_gone(const void *c, char *buf, size_t len);
bool rc_t_wait_home(const void *c, char *buf, size_t len);
bool rc_x_wait_home(const void *c, char *buf, size_t len);
bool rc_t_wait_call(const void *c, char *buf, size_t len);
bool rc_no_call_notice(const void *c, char *buf, size_t len);
bool rc_x_wait_call(const void *c, char *buf, size_t len);
bool rc_t_serving(const void *c, char *buf, size_t len);
bool rc_x_serving(const void *c, char *buf, size_t len);
bool rc_t_final(const void *c, char *buf, size_t len);
bool rc_x_final(const void *c, char *buf, size_t len);
bool rc_t_delivered(const void *c, char *buf, size_t len);
bool rc_n_join_failed(const void *c, char *buf, size_t len);
bool rc_n_interrupt(const void *c, char *buf, size_t len);

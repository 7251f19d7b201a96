/* ap: the stock firmware's pairing AP and its HTTP server (PROTOCOL §2). */
#ifndef DEVSIM_AP_H
#define DEVSIM_AP_H

struct devsim;

/* Raise the AP (hook ap-up), serve GET /device and POST /ap until a valid POST /ap, then
 * drop the AP (hook ap-down). On success d->server_name/server_port hold the provisioned
 * server. Returns 0, or -errno after recording the failure (ap-timeout, protocol, hook). */
int ap_run(struct devsim *d);

#endif

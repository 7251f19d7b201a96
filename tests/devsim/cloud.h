/* cloud: the stock firmware as a client of the (fake) eWeLink cloud (PROTOCOL §3, §4). */
#ifndef DEVSIM_CLOUD_H
#define DEVSIM_CLOUD_H

struct devsim;

/* From "joined the home WiFi" to "stock OTA done": dispatch, WSS dialogue, upgrade,
 * download, ack 0, image written to the inactive slot, boot slot switched, reboot
 * (hook sta-down). Reconnects like the device does. 0, or -errno after recording the
 * failure. */
int cloud_run(struct devsim *d);

#endif

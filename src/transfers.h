/* transfers: what the image server reports (through evq) turned into the access
 * log, per-device progress, FinalStage events and the one fact that ends a
 * takeover: image_arduino.bin delivered in full. */
#pragma once

#include "sonota.h"

/* Drain every queued event; on the loop thread, after lws_cancel_service(). */
void transfers_drain(struct sonota *s);

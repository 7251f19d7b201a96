/* hop: the WiFi hop driver (issue 10, docs/wifi.md), a plug-in (plugins.h).
 *
 * Pre-flight (start): unless --wifi manual, it starts the NetworkManager client
 * (nm.h) and waits for its discovery (at most HOP_DISCOVERY_MS), prints the NM
 * facts (version, device, what will be restored, the SSH verdict), and refuses
 * to start (-EPERM: the pre-flight exit code) when the SSH session rides on the
 * radio and --allow-ssh-drop is not given. When NM cannot be used it says why in
 * one line and the run uses the manual hops.
 *
 * Then it observes the route's transitions (engine_observe) and asks NM for the
 * hop each calls for (hopcore.h), at once, from the observer. The stage machine
 * still moves only on the netlink address events the hops cause.
 *
 * On a terminal stage it restores the user's network; busy() holds the exit
 * until that is done or HOP_EXIT_WAIT_MS passed.
 *
 * Only with libsystemd (SONOTA_WITH_NM).
 */
#pragma once

#include "plugins.h"

extern const struct plugin hop_plugin;

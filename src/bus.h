/* bus: one sd-bus connection to the system bus, run by the lws service loop
 * (issue 10, docs/wifi.md; the same pattern as netwatch and STACK-NOTES.md).
 *
 * sd_bus_open_system honours $DBUS_SYSTEM_BUS_ADDRESS (the tests' private bus). A
 * dup() of the bus fd is adopted into lws as a raw file (lws closes what it
 * adopts); when it is readable or writable, sd_bus_process runs until it has
 * nothing left. After every round (and after every bus_kick) the poll events
 * follow sd_bus_get_events (POLLOUT -> lws_callback_on_writable) and an lws_sul
 * fires at sd_bus_get_timeout, so method-call timeouts and the authentication
 * deadline are honoured with no polling. No call ever blocks: callers use
 * sd_bus_call_method_async and friends on bus_sd(), then bus_kick().
 */
#pragma once

#include <stdbool.h>

#include <libwebsockets.h>
#include <systemd/sd-bus.h>

/* Called on the lws thread when the connection is gone for good (the bus daemon
 * went away, or sd-bus failed): every pending call has had its (error) reply
 * before. The bus object stays valid until bus_close. */
typedef void (*bus_lost_cb)(void *arg, int err);

struct bus;

#define BUS_LISTENERS_MAX 4 /* users of one shared connection besides its opener:
			     * NetworkManager and Avahi today (issue 11 §1) */

/* The lws protocol that services the adopted fd ("sonota-bus"). Add it to the
 * protocol list of the vhost given to bus_open; it needs no per-session data. */
extern const struct lws_protocols bus_protocol;
int bus_lws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		     size_t len);

/* A shared connection (opened once by the composition, borrowed by nm and avahi):
 * cb(arg, err) is called once, after the opener's lost callback, when the
 * connection is gone. 0, -ENOTCONN when it is gone already, -ENOSPC when
 * BUS_LISTENERS_MAX are registered. bus_unlisten_lost removes it (NULL-safe, also
 * from inside a lost callback); a listener must be removed before its arg is freed. */
int bus_listen_lost(struct bus *b, bus_lost_cb cb, void *arg);
void bus_unlisten_lost(struct bus *b, bus_lost_cb cb, void *arg);

/* Connect to the system bus and adopt the connection into vh. Must run on the lws
 * service thread. Returns 0 and *ret (free with bus_close), or -errno (-ENOPROTOOPT:
 * bus_protocol is not on vh; -ENOENT and friends: no bus to connect to). */
int bus_open(struct lws_vhost *vh, bus_lost_cb lost, void *arg, struct bus **ret);

/* The lws context of vh (for the caller's own timers), borrowed. */
struct lws_context *bus_context(struct bus *b);

/* The sd-bus connection, borrowed: valid until bus_close. */
sd_bus *bus_sd(struct bus *b);

/* Process what is queued and re-arm the poll events and the timeout. Call it
 * after issuing calls outside of a bus callback (inside one it is implied).
 * Safe with NULL. */
void bus_kick(struct bus *b);

/* True until the connection was lost. */
bool bus_alive(const struct bus *b);

/* Close the connection (pending calls are dropped without their callbacks),
 * the adopted wsi and the timer, and free b. Safe with NULL and from inside a
 * bus callback (then it completes when sd-bus has returned). Call it before
 * lws_context_destroy (nm_stop does for a bus it opened itself; a shared bus is
 * closed by its opener, last, after nm_stop and avahi_stop). */
void bus_close(struct bus *b);

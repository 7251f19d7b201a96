/* nm: see nm.h. This file: the plumbing (one call in flight, the deadline, the
 * event callback, re-entrancy) and the signal matches. nmdisc.c is the discovery
 * (WIFI-AUTOMATION.md §7 steps 1-5), nmprop.c reads answers and saved profiles,
 * nmhop.c scans, nmjoin.c joins and restores.
 *
 * Re-entrancy: replies, signals and timers enter through enter()/leave();
 * nm_stop called from the user callback inside them only sets a flag, and
 * leave() frees once the outermost entry returns. Every step emits its event
 * last, so no step touches nm after the user callback.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmint.h"
#include "nmssh.h"

/* the same protocol as bus_protocol (same name): put one of them on the vhost */
const struct lws_protocols nm_protocol = {
	.name = "sonota-bus",
	.callback = bus_lws_callback,
};

static void nm_free(struct nm *nm);
static void call_failed(struct nm *nm);

void
nm_enter(struct nm *nm)
{
	nm->depth++;
}

bool
nm_leave(struct nm *nm)
{
	if (--nm->depth == 0 && nm->stopping) {
		nm_free(nm);
		return true;
	}
	return false;
}

void
nm_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

const char *
nm_ev_name(enum nm_ev_type t)
{
	static const char *const names[_NM_EV_MAX] = {
		[NM_EV_READY] = "ready",         [NM_EV_MANUAL] = "manual",
		[NM_EV_SCANNED] = "scanned",     [NM_EV_ACTIVATED] = "activated",
		[NM_EV_FAILED] = "failed",       [NM_EV_RESTORED] = "restored",
		[NM_EV_DROPPED] = "dropped",     [NM_EV_LOST] = "lost",
		[NM_EV_ERROR] = "error",         [NM_EV_BACK] = "back",
	};

	return (unsigned)t < _NM_EV_MAX ? names[t] : "?";
}

void
nm_emit(struct nm *nm, struct nm_event *ev)
{
	if (nm->stopping)
		return;
	nm_enter(nm);
	nm->cb(nm->arg, ev);
	nm_leave(nm); /* frees only outside an entry: public calls enter too */
}

/* ---- the operation: one call in flight and a deadline ----------------------- */

static void
cancel_op(struct nm *nm)
{
	nm->call = sd_bus_slot_unref(nm->call);
	nm->next = NULL;
	lws_sul_cancel(&nm->sul);
	lws_sul_cancel(&nm->sul_grace);
}

void
nm_op_begin(struct nm *nm, enum nm_op op)
{
	nm->op = op;
}

void
nm_op_end(struct nm *nm, struct nm_event *ev)
{
	cancel_op(nm);
	nm->op = NM_OP_NONE;
	nm_emit(nm, ev);
}

void
nm_op_error(struct nm *nm, int err, const char *fmt, ...)
{
	struct nm_event ev = { .type = NM_EV_ERROR, .err = err };
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ev.message = msg;
	if (nm->op == NM_OP_DISCOVER)
		ev.type = NM_EV_MANUAL; /* a discovery that fails means manual hops */
	nm_op_end(nm, &ev);
}

static int
on_reply(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct nm *nm = ud;
	nm_step next = nm->next;
	const sd_bus_error *e;

	nm->call = sd_bus_slot_unref(nm->call);
	nm->next = NULL;
	if (!next)
		return 0;
	nm_enter(nm);
	e = sd_bus_message_get_error(m);
	if (e && !nm->tolerant) {
		nm_op_error(nm, -sd_bus_message_get_errno(m) ?: -EIO, "NetworkManager: %s: %s",
			    e->name ? e->name : "error", e->message ? e->message : "(no message)");
	} else {
		next(nm, m);
	}
	nm_leave(nm);
	return 0;
}

static int call_msg(struct nm *nm, bool tolerant, nm_step next, sd_bus_message *msg);

static int
callv(struct nm *nm, bool tolerant, nm_step next, const char *dest, const char *path,
      const char *iface, const char *member, const char *types, va_list ap)
{
	sd_bus_message *msg = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus_sd(nm->bus), &msg, dest, path, iface, member);
	if (r >= 0 && types && *types)
		r = sd_bus_message_appendv(msg, types, ap);
	if (r >= 0)
		r = call_msg(nm, tolerant, next, msg);
	sd_bus_message_unref(msg);
	return r;
}

static void
call_failed(struct nm *nm)
{
	nm_op_error(nm, nm->call_err, "D-Bus call failed: %s", strerror(-nm->call_err));
}

/* The one place a call goes out: tolerant says whether next also gets error
 * replies (set per call: a stale value would hide a D-Bus error). */
static int
call_msg(struct nm *nm, bool tolerant, nm_step next, sd_bus_message *msg)
{
	int r;

	nm->call = sd_bus_slot_unref(nm->call);
	nm->tolerant = tolerant;
	r = sd_bus_call_async(bus_sd(nm->bus), &nm->call, msg, on_reply, nm, NM_CALL_TIMEOUT_US);
	if (r < 0) {
		/* reported from the loop, never from inside the caller's nm_* call */
		nm->call_err = r;
		nm_timer(nm, 0, call_failed);
		return r;
	}
	nm->next = next;
	bus_kick(nm->bus);
	return 0;
}

int
nm_call_msg(struct nm *nm, nm_step next, sd_bus_message *msg)
{
	return call_msg(nm, false, next, msg);
}

int
nm_call(struct nm *nm, nm_step next, const char *path, const char *iface, const char *member,
	const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = callv(nm, false, next, NM_BUS, path, iface, member, types, ap);
	va_end(ap);
	return r;
}

int
nm_call_tolerant(struct nm *nm, nm_step next, const char *path, const char *iface,
		 const char *member, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = callv(nm, true, next, NM_BUS, path, iface, member, types, ap);
	va_end(ap);
	return r;
}

static void
on_sul(lws_sorted_usec_list_t *sul)
{
	struct nm *nm = lws_container_of(sul, struct nm, sul);
	void (*fn)(struct nm *) = nm->on_timeout;

	nm_enter(nm);
	if (fn)
		fn(nm);
	nm_leave(nm);
}

void
nm_timer(struct nm *nm, unsigned ms, void (*fn)(struct nm *nm))
{
	nm->on_timeout = fn;
	lws_sul_schedule(nm->cx, 0, &nm->sul, on_sul, (lws_usec_t)ms * LWS_US_PER_MS);
}

/* ---- signals ------------------------------------------------------------------ */

static void
go_lost(struct nm *nm, int err, const char *msg)
{
	struct nm_event ev = { .type = NM_EV_LOST, .err = err, .message = msg };

	if (nm->lost)
		return;
	nm->lost = true;
	cancel_op(nm);
	nm->op = NM_OP_NONE;
	nm_emit(nm, &ev);
}

static int
on_name_owner(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct nm *nm = ud;
	const char *name, *old, *new;

	if (sd_bus_message_read(m, "sss", &name, &old, &new) < 0 || strcmp(name, NM_BUS))
		return 0;
	nm_enter(nm);
	/* any change of owner (gone, or replaced by a restarted NM) invalidates
	 * every object path we hold */
	if (nm->op == NM_OP_DISCOVER && !*old && !nm->lost) {
		; /* NM appeared while we looked: the discovery sees it or fails */
	} else {
		go_lost(nm, -ECONNRESET,
			*new ? "NetworkManager restarted: manual WiFi hops until it is back"
			     : "NetworkManager stopped: manual WiFi hops until it is back");
		if (*new && !nm->back_said && !nm->stopping) {
			/* a new NetworkManager: the user may start over with it */
			struct nm_event ev = { .type = NM_EV_BACK,
					       .message = "NetworkManager is back" };
			nm->back_said = true;
			nm_emit(nm, &ev);
		}
	}
	nm_leave(nm);
	return 0;
}

static int
on_active_state(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct nm *nm = ud;
	uint32_t state, reason;

	if (sd_bus_message_read(m, "uu", &state, &reason) < 0)
		return 0;
	nm_enter(nm);
	nmhop_active_state(nm, sd_bus_message_get_path(m), state, reason);
	nm_leave(nm);
	return 0;
}

static int
on_props(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct nm *nm = ud;

	if (!nm->facts.device[0] || strcmp(sd_bus_message_get_path(m), nm->facts.device))
		return 0;
	nm_enter(nm);
	nmhop_device_props(nm, m);
	nm_leave(nm);
	return 0;
}

static int
on_device_state(sd_bus_message *m, void *ud, sd_bus_error *unused)
{
	struct nm *nm = ud;
	uint32_t state, old, reason;

	if (!nm->facts.device[0] || strcmp(sd_bus_message_get_path(m), nm->facts.device) ||
	    sd_bus_message_read(m, "uuu", &state, &old, &reason) < 0)
		return 0;
	nm_enter(nm);
	nmhop_device_state(nm, state, reason);
	nm_leave(nm);
	return 0;
}

static int
add_matches(struct nm *nm)
{
	sd_bus *sd = bus_sd(nm->bus);
	int r;

	/* installed locally at once, AddMatch sent ahead of every later call:
	 * no signal that answers one of our calls can be missed */
	r = sd_bus_match_signal_async(sd, &nm->matches[0], "org.freedesktop.DBus",
				      "/org/freedesktop/DBus", "org.freedesktop.DBus",
				      "NameOwnerChanged", on_name_owner, NULL, nm);
	if (r >= 0)
		r = sd_bus_match_signal_async(sd, &nm->matches[1], NULL, NULL, NM_ACTIVE_IFACE,
					      "StateChanged", on_active_state, NULL, nm);
	if (r >= 0)
		r = sd_bus_add_match_async(
			sd, &nm->matches[2],
			"type='signal',interface='" PROPS_IFACE "',member='PropertiesChanged',"
			"path_namespace='" NM_OBJ "/Devices'",
			on_props, NULL, nm);
	if (r >= 0)
		r = sd_bus_match_signal_async(sd, &nm->matches[3], NULL, NULL, NM_DEVICE_IFACE,
					      "StateChanged", on_device_state, NULL, nm);
	return r < 0 ? r : 0;
}

static void
on_bus_lost(void *arg, int err)
{
	struct nm *nm = arg;

	nm_enter(nm);
	if (nm->op == NM_OP_DISCOVER)
		nm_manual(nm, err, "the system D-Bus went away");
	else
		go_lost(nm, err, "the system D-Bus went away: continuing with manual WiFi hops");
	nm_leave(nm);
}

int
nm_start(struct lws_vhost *vh, const struct nm_config *cfg, nm_cb cb, void *arg,
	 struct nm **ret)
{
	struct nm *nm;
	int r;

	if (!vh || !cb || !ret)
		return -EINVAL;
	nm = calloc(1, sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	nm->profiles = calloc(NM_PROFILES_MAX, sizeof(*nm->profiles));
	if (!nm->profiles) {
		free(nm);
		return -ENOMEM;
	}
	nm->cb = cb;
	nm->arg = arg;
	nm_copy(nm->iface_want, sizeof(nm->iface_want), cfg ? cfg->iface : NULL);
	if (cfg && cfg->bus) {
		/* the composition's connection, shared with avahi: borrowed */
		nm->bus = cfg->bus;
		nm->bus_shared = true;
		r = bus_listen_lost(nm->bus, on_bus_lost, nm);
	} else {
		r = bus_open(vh, on_bus_lost, nm, &nm->bus);
	}
	if (r >= 0) {
		nm->cx = bus_context(nm->bus);
		r = add_matches(nm);
	}
	if (r < 0) {
		nm_free(nm);
		return r;
	}
	nm_op_begin(nm, NM_OP_DISCOVER);
	r = sd_bus_call_method_async(bus_sd(nm->bus), &nm->call, "org.freedesktop.DBus",
				     "/org/freedesktop/DBus", "org.freedesktop.DBus",
				     "NameHasOwner", on_reply, nm, "s", NM_BUS);
	if (r < 0) {
		nm_free(nm);
		return r;
	}
	nm->tolerant = false;
	nm->next = nm_discover_has_owner;
	*ret = nm;
	if (nm->bus_shared)
		bus_kick(nm->bus); /* a running connection: flush and re-arm now */
	return 0;
}

int
nm_facts_describe(const struct nm_facts *f, char *out, size_t len)
{
	size_t n = 0;
	int w;

#define PUT(...)                                                                                   \
	do {                                                                                       \
		w = snprintf(out + (n < len ? n : len), n < len ? len - n : 0, __VA_ARGS__);       \
		if (w < 0)                                                                         \
			return w;                                                                  \
		n += (size_t)w;                                                                    \
	} while (0)
	if (len)
		out[0] = '\0';
	PUT("NetworkManager %s, WiFi device %s\n", f->version, f->iface);
	if (f->restore == NMCORE_RESTORE_PROFILE)
		PUT("will restore \"%s\" (%s)\n", f->restore_id, f->restore_why);
	else
		PUT("nothing to restore afterwards (%s)\n",
		    f->restore_why ? f->restore_why : "no connection");
	if (f->ssh == NMCORE_SSH_NONE || f->ssh == NMCORE_SSH_UNKNOWN)
		PUT("%s\n", nmcore_ssh_name(f->ssh));
	else
		PUT("%s (%s)\n", nmcore_ssh_name(f->ssh), f->ssh_ifname);
	if (f->leftovers)
		PUT("deleted %u sonota-* profile(s) left by an earlier run\n", f->leftovers);
	if (f->saved_device_profiles)
		PUT("warning: %u saved ITEAD-*/FinalStage profile(s) with autoconnect (an earlier "
		    "manual run?): NetworkManager may join them by itself; delete them with "
		    "nmcli connection delete\n",
		    f->saved_device_profiles);
#undef PUT
	return n > INT32_MAX ? -EOVERFLOW : (int)n;
}

const struct nm_facts *
nm_facts(const struct nm *nm)
{
	return nm ? &nm->facts : NULL;
}

const struct nm_ap *
nm_aps(const struct nm *nm, size_t *ret_n)
{
	if (ret_n)
		*ret_n = nm ? nm->n_aps : 0;
	return nm ? nm->aps : NULL;
}

bool
nm_busy(const struct nm *nm)
{
	return nm && nm->op != NM_OP_NONE;
}

void
nm_abort(struct nm *nm)
{
	if (!nm || nm->op == NM_OP_NONE)
		return;
	cancel_op(nm);
	nm->op = NM_OP_NONE;
}

static void
nm_free(struct nm *nm)
{
	cancel_op(nm);
	for (size_t i = 0; i < sizeof(nm->matches) / sizeof(nm->matches[0]); i++)
		nm->matches[i] = sd_bus_slot_unref(nm->matches[i]);
	if (nm->bus_shared)
		bus_unlisten_lost(nm->bus, on_bus_lost, nm);
	else
		bus_close(nm->bus);
	free(nm->profiles);
	free(nm);
}

void
nm_stop(struct nm *nm)
{
	if (!nm)
		return;
	if (nm->depth) {
		nm->stopping = true;
		return;
	}
	nm_free(nm);
}

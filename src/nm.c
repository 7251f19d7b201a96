/* nm: see nm.h. This file: the plumbing (one call in flight, the deadline, the
 * event callback, re-entrancy), the signal matches and the discovery
 * (WIFI-AUTOMATION.md §7 steps 1-5). nmprop.c reads answers and saved profiles,
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
		[NM_EV_ERROR] = "error",
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
	if (nm->op == NM_OP_DISCOVER && !*old)
		; /* NM appeared while we looked: the discovery sees it or fails */
	else
		go_lost(nm, -ECONNRESET,
			*new ? "NetworkManager restarted: continuing with manual WiFi hops"
			     : "NetworkManager stopped: continuing with manual WiFi hops");
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

/* ---- discovery ------------------------------------------------------------------- */

static void
manual(struct nm *nm, int err, const char *msg)
{
	struct nm_event ev = { .type = NM_EV_MANUAL, .err = err, .message = msg };

	nm_op_end(nm, &ev);
}

static void
d_ready(struct nm *nm, sd_bus_message *unused)
{
	struct nm_facts *f = &nm->facts;
	struct nm_event ev = { .type = NM_EV_READY, .message = "NetworkManager drives the WiFi hops" };
	struct nmcore_profile cp[NM_PROFILES_MAX];
	struct nmcore_restore rs;
	size_t n = 0, map[NM_PROFILES_MAX];

	f->leftovers = nm->deleted;
	for (size_t i = 0; i < nm->n_profiles; i++) {
		struct nm_profile *p = &nm->profiles[i];

		/* the radio's candidates: WiFi profiles that still exist and
		 * are not ours (deleted above) */
		if (!p->path[0] || strcmp(p->type, "802-11-wireless") ||
		    !strncmp(p->id, NMCORE_PROFILE_PREFIX, sizeof(NMCORE_PROFILE_PREFIX) - 1))
			continue;
		cp[n] = (struct nmcore_profile){ p->path, p->id, p->has_ssid ? p->ssid : NULL,
						 p->ssid_len, p->autoconnect, p->priority,
						 p->timestamp, false, false };
		for (size_t k = 0; k < nm->n_elsewhere; k++)
			if (!strcmp(nm->elsewhere[k], p->path))
				cp[n].active_elsewhere = true;
		if (nmcore_profile_is_ours(&cp[n]) && p->autoconnect)
			f->saved_device_profiles++;
		map[n++] = i;
	}
	rs = nmcore_restore_choose(f->active, cp, n);
	f->restore = rs.kind;
	f->restore_why = rs.why;
	if (rs.kind == NMCORE_RESTORE_PROFILE) {
		nm_copy(f->restore_path, sizeof(f->restore_path), nm->profiles[map[rs.index]].path);
		nm_copy(f->restore_id, sizeof(f->restore_id), nm->profiles[map[rs.index]].id);
	}
	if (nmssh_check(f->iface, &f->ssh, f->ssh_ifname) < 0)
		f->ssh = NMCORE_SSH_UNKNOWN;
	nm_op_end(nm, &ev);
}

static void
d_profiles(struct nm *nm, sd_bus_message *unused)
{
	struct nm_facts *f = &nm->facts;

	for (size_t i = 0; i < nm->n_profiles; i++)
		if (!strcmp(nm->profiles[i].path, f->active))
			nm_copy(f->active_id, sizeof(f->active_id), nm->profiles[i].id);
	nm->deleted = 0;
	nm_profiles_delete_ours(nm, d_ready);
}

static int
active_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct nm *nm = ud;
	const char *s;
	int r;

	if (strcmp(key, "Connection"))
		return 0;
	r = nm_var_read(m, "o", &s);
	if (r > 0)
		nm_copy(nm->facts.active, sizeof(nm->facts.active), s);
	return r;
}

static void
d_active(struct nm *nm, sd_bus_message *m)
{
	/* an activation that vanished meanwhile: nothing was active */
	if (!sd_bus_message_is_method_error(m, NULL))
		nm_props_each(m, active_prop, nm);
	nm_profiles_read(nm, d_profiles);
}

struct dev_props {
	uint32_t type;
	int managed;
	const char *iface;
	const char *active;
};

static int
device_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct dev_props *d = ud;

	if (!strcmp(key, "DeviceType"))
		return nm_var_read(m, "u", &d->type);
	if (!strcmp(key, "Managed"))
		return nm_var_read(m, "b", &d->managed);
	if (!strcmp(key, "Interface"))
		return nm_var_read(m, "s", &d->iface);
	if (!strcmp(key, "ActiveConnection"))
		return nm_var_read(m, "o", &d->active);
	return 0;
}

static void d_device_next(struct nm *nm);
static void d_other_next(struct nm *nm);

/* The profiles active on other devices (the home link of a second adapter):
 * never a restore target for this radio. */
static void
d_other(struct nm *nm, sd_bus_message *m)
{
	const char *conn;

	if (!sd_bus_message_is_method_error(m, NULL) && nm_var_read(m, "o", &conn) > 0 &&
	    nm->n_elsewhere < NM_DEVICES_MAX)
		nm_copy(nm->elsewhere[nm->n_elsewhere++], NM_PATH_MAX, conn);
	nm->i_acs++;
	d_other_next(nm);
}

static void
d_other_next(struct nm *nm)
{
	while (nm->i_acs < nm->n_acs && !strcmp(nm->acs[nm->i_acs], nm->cand_active))
		nm->i_acs++;
	if (nm->i_acs < nm->n_acs) {
		nm_call_tolerant(nm, d_other, nm->acs[nm->i_acs], PROPS_IFACE, "Get", "ss",
				 NM_ACTIVE_IFACE, "Connection");
		return;
	}
	if (strcmp(nm->cand_active, "/"))
		nm_call_tolerant(nm, d_active, nm->cand_active, PROPS_IFACE, "GetAll", "s",
				 NM_ACTIVE_IFACE);
	else
		nm_profiles_read(nm, d_profiles);
}

static void
d_device(struct nm *nm, sd_bus_message *m)
{
	struct dev_props d = { 0 };
	struct nm_facts *f = &nm->facts;
	const char *path = nm->devices[nm->i_device++];

	if (!sd_bus_message_is_method_error(m, NULL) && nm_props_each(m, device_prop, &d) >= 0 &&
	    d.iface) {
		bool wifi = d.type == NM_DEVICE_TYPE_WIFI && d.managed;

		if (wifi)
			f->n_wifi++;
		if (nm->iface_want[0] ? !strcmp(d.iface, nm->iface_want) : (wifi && !f->device[0])) {
			if (!wifi) {
				char msg[160];

				snprintf(msg, sizeof(msg),
					 "\"%s\" is not a WiFi device managed by NetworkManager",
					 d.iface);
				manual(nm, -ENODEV, msg);
				return;
			}
			nm_copy(f->device, sizeof(f->device), path);
			nm_copy(f->iface, sizeof(f->iface), d.iface);
			nm_copy(nm->cand_active, sizeof(nm->cand_active), d.active ? d.active : "/");
		}
	}
	d_device_next(nm);
}

static void
d_device_next(struct nm *nm)
{
	struct nm_facts *f = &nm->facts;
	char msg[160];

	if (nm->i_device < nm->n_devices) {
		nm_call_tolerant(nm, d_device, nm->devices[nm->i_device], PROPS_IFACE, "GetAll",
				 "s", NM_DEVICE_IFACE);
		return;
	}
	if (!f->device[0]) {
		if (nm->iface_want[0])
			snprintf(msg, sizeof(msg), "NetworkManager has no device \"%s\"",
				 nm->iface_want);
		else
			snprintf(msg, sizeof(msg), "NetworkManager manages no WiFi device");
		manual(nm, -ENODEV, msg);
		return;
	}
	if (!nm->iface_want[0] && f->n_wifi > 1) {
		snprintf(msg, sizeof(msg),
			 "NetworkManager manages %u WiFi devices: choose one with --wifi-iface",
			 f->n_wifi);
		manual(nm, -EMLINK, msg);
		return;
	}
	nm_copy(f->active, sizeof(f->active), "/");
	nm->n_elsewhere = 0;
	nm->i_acs = 0;
	d_other_next(nm);
}

static void
d_devices(struct nm *nm, sd_bus_message *m)
{
	const char *path;
	int r;

	nm->n_devices = 0;
	r = sd_bus_message_enter_container(m, 'a', "o");
	while (r >= 0 && (r = sd_bus_message_read(m, "o", &path)) > 0)
		if (nm->n_devices < NM_DEVICES_MAX)
			nm_copy(nm->devices[nm->n_devices++], NM_PATH_MAX, path);
	nm->i_device = 0;
	d_device_next(nm);
}

/* The polkit actions a hop needs (WIFI-AUTOMATION.md §1.8): activating, scanning,
 * and adding our (system) profile. NM answers "yes", "no" or "auth" per action
 * for the caller; "auth" needs an interactive polkit agent, which a terminal over
 * SSH does not have, so only "yes" will do. */
static const char *const nm_needed_permissions[] = {
	NM_BUS ".network-control",
	NM_BUS ".wifi.scan",
	NM_BUS ".settings.modify.system",
};

static void
d_permissions(struct nm *nm, sd_bus_message *m)
{
	const char *action, *value;
	char msg[200];
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{ss}");
	while (r >= 0 && (r = sd_bus_message_read(m, "{ss}", &action, &value)) > 0) {
		for (size_t i = 0; i < sizeof(nm_needed_permissions) / sizeof(nm_needed_permissions[0]);
		     i++) {
			if (strcmp(action, nm_needed_permissions[i]) || !strcmp(value, "yes"))
				continue;
			snprintf(msg, sizeof(msg),
				 "NetworkManager does not let this user control WiFi (%s: %s): run "
				 "sonota-c as root",
				 action + sizeof(NM_BUS), value);
			manual(nm, -EPERM, msg);
			return;
		}
	}
	if (r < 0) {
		manual(nm, r, "NetworkManager: bad GetPermissions reply");
		return;
	}
	nm_call(nm, d_devices, NM_OBJ, NM_IFACE, "GetDevices", "");
}

static int
manager_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct nm *nm = ud;
	const char *s;
	int r, b;

	if (!strcmp(key, "Version")) {
		r = nm_var_read(m, "s", &s);
		if (r > 0)
			nm_copy(nm->facts.version, sizeof(nm->facts.version), s);
		return r;
	}
	if (!strcmp(key, "WirelessEnabled")) {
		r = nm_var_read(m, "b", &b);
		if (r > 0)
			nm->facts.wireless_enabled = b;
		return r;
	}
	if (!strcmp(key, "ActiveConnections")) {
		nm->n_acs = 0;
		if ((r = sd_bus_message_enter_container(m, 'v', "ao")) <= 0)
			return r < 0 ? r : 0;
		r = sd_bus_message_enter_container(m, 'a', "o");
		while (r >= 0 && (r = sd_bus_message_read(m, "o", &s)) > 0)
			if (nm->n_acs < NM_DEVICES_MAX)
				nm_copy(nm->acs[nm->n_acs++], NM_PATH_MAX, s);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		return r < 0 ? r : 1;
	}
	return 0;
}

static void
d_manager(struct nm *nm, sd_bus_message *m)
{
	char msg[160];

	if (nm_props_each(m, manager_prop, nm) < 0) {
		manual(nm, -EBADMSG, "NetworkManager: unreadable Manager properties");
		return;
	}
	if (nmcore_version_cmp(nm->facts.version, NMCORE_NM_VERSION_MIN) < 0) {
		snprintf(msg, sizeof(msg),
			 "NetworkManager %s is older than " NMCORE_NM_VERSION_MIN
			 " (no client-bound volatile profiles)",
			 nm->facts.version[0] ? nm->facts.version : "(unknown)");
		manual(nm, -EPROTONOSUPPORT, msg);
		return;
	}
	if (!nm->facts.wireless_enabled) {
		manual(nm, -ENETDOWN, "WiFi is switched off in NetworkManager (nmcli radio wifi on)");
		return;
	}
	nm_call(nm, d_permissions, NM_OBJ, NM_IFACE, "GetPermissions", "");
}

static void
d_has_owner(struct nm *nm, sd_bus_message *m)
{
	int has = 0;

	if (sd_bus_message_read(m, "b", &has) < 0 || !has) {
		manual(nm, -ENOENT, "NetworkManager is not running");
		return;
	}
	nm_call(nm, d_manager, NM_OBJ, PROPS_IFACE, "GetAll", "s", NM_IFACE);
}

static void
on_bus_lost(void *arg, int err)
{
	struct nm *nm = arg;

	nm_enter(nm);
	if (nm->op == NM_OP_DISCOVER)
		manual(nm, err, "the system D-Bus went away");
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
	nm->next = d_has_owner;
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

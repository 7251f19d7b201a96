/* nmjoin: join (AddAndActivateConnection2) and restore, and the activation
 * signals they follow (nm.h; WIFI-AUTOMATION.md §1.3, §1.5, §1.6, §7 steps 10-15). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmint.h"

#define NM_PSK_MIN 8  /* WPA passphrase: 8..63 characters */
#define NM_PSK_MAX 63

static int
check_idle(const struct nm *nm)
{
	if (!nm)
		return -EINVAL;
	if (nm->lost || nm->stopping)
		return -ENOTCONN;
	if (nm->op != NM_OP_NONE)
		return -EBUSY;
	if (!nm->facts.device[0])
		return -ENODEV;
	return 0;
}

/* ---- building a{sa{sv}} ---------------------------------------------------------- */

static int
setting_open(sd_bus_message *m, const char *name)
{
	int r = sd_bus_message_open_container(m, 'e', "sa{sv}");

	if (r >= 0)
		r = sd_bus_message_append(m, "s", name);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	return r;
}

static int
setting_close(sd_bus_message *m)
{
	int r = sd_bus_message_close_container(m);

	return r < 0 ? r : sd_bus_message_close_container(m);
}

static int
kv_bytes(sd_bus_message *m, const char *key, const void *p, size_t n)
{
	int r = sd_bus_message_open_container(m, 'e', "sv");

	if (r >= 0)
		r = sd_bus_message_append(m, "s", key);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "ay");
	if (r >= 0)
		r = sd_bus_message_append_array(m, 'y', p, n);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r < 0 ? r : sd_bus_message_close_container(m);
}

/* The profile of WIFI-AUTOMATION.md §1.3: volatile, never autoconnected, never
 * the default route, no DNS of its own, no IPv6, one auth try (no desktop
 * password dialog on a wrong PSK). */
static int
build_add2(struct nm *nm, const struct nm_ap *ap, const char *id, const char *psk,
	   sd_bus_message **ret)
{
	static const uint8_t zero[6];
	sd_bus_message *m = NULL;
	int r;

	r = sd_bus_message_new_method_call(bus_sd(nm->bus), &m, NM_BUS, NM_OBJ, NM_IFACE,
					   "AddAndActivateConnection2");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sa{sv}}");

	if (r >= 0)
		r = setting_open(m, "connection");
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}{sv}{sv}", "id", "s", id, "type", "s",
					  "802-11-wireless", "autoconnect", "b", 0);
	if (r >= 0 && psk)
		r = sd_bus_message_append(m, "{sv}", "auth-retries", "i", 1);
	if (r >= 0)
		r = setting_close(m);

	if (r >= 0)
		r = setting_open(m, "802-11-wireless");
	if (r >= 0)
		r = kv_bytes(m, "ssid", ap->ssid, ap->ssid_len);
	if (r >= 0 && memcmp(ap->bssid, zero, 6))
		r = kv_bytes(m, "bssid", ap->bssid, 6);
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}", "mode", "s", "infrastructure");
	if (r >= 0)
		r = setting_close(m);

	if (r >= 0 && psk) {
		r = setting_open(m, "802-11-wireless-security");
		if (r >= 0)
			r = sd_bus_message_append(m, "{sv}{sv}", "key-mgmt", "s", "wpa-psk", "psk",
						  "s", psk);
		if (r >= 0)
			r = setting_close(m);
	}

	if (r >= 0)
		r = setting_open(m, "ipv4");
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}", "method", "s", "auto",
					  "never-default", "b", 1, "ignore-auto-dns", "b", 1,
					  "dhcp-timeout", "i", NM_DHCP_TIMEOUT_S);
	if (r >= 0)
		r = setting_close(m);
	if (r >= 0)
		r = setting_open(m, "ipv6");
	if (r >= 0)
		r = sd_bus_message_append(m, "{sv}", "method", "s", "ignore");
	if (r >= 0)
		r = setting_close(m);

	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "oo", nm->facts.device, ap->path);
	if (r >= 0)
		r = sd_bus_message_append(m, "a{sv}", 2, "persist", "s", "volatile",
					  "bind-activation", "s", "dbus-client");
	if (r < 0) {
		sd_bus_message_unref(m);
		return r;
	}
	*ret = m;
	return 0;
}

/* ---- join ------------------------------------------------------------------------ */

static void
j_failed(struct nm *nm, sd_bus_message *m)
{
	struct nm_event ev = { .type = NM_EV_FAILED, .err = -ECONNREFUSED };
	uint32_t dstate = 0, dreason = 0;
	char msg[256];

	if (!sd_bus_message_is_method_error(m, NULL) &&
	    sd_bus_message_enter_container(m, 'v', "(uu)") > 0)
		sd_bus_message_read(m, "(uu)", &dstate, &dreason);
	ev.device_reason = dreason;
	ev.ac_reason = nm->ac_reason;
	ev.reason = nmcore_failure(dreason, nm->ac_reason);
	snprintf(msg, sizeof(msg), "joining failed: %s (NetworkManager reason %s, %u/%u)",
		 ev.reason.message, ev.reason.name, dreason, nm->ac_reason);
	ev.message = msg;
	nm->ours[0] = '\0';
	nm_op_end(nm, &ev);
}

static int
addr_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct nm_event *ev = ud;
	const char *s;
	uint32_t u;
	int r;

	if (!strcmp(key, "address")) {
		r = nm_var_read(m, "s", &s);
		if (r > 0 && inet_pton(AF_INET, s, &ev->addr) != 1)
			ev->addr.s_addr = 0;
		return r;
	}
	if (!strcmp(key, "prefix")) {
		r = nm_var_read(m, "u", &u);
		if (r > 0)
			ev->prefix = (uint8_t)(u > 32 ? 32 : u);
		return r;
	}
	return 0;
}

static void
j_addr(struct nm *nm, sd_bus_message *m)
{
	struct nm_event ev = { .type = NM_EV_ACTIVATED };
	char msg[128], a[INET_ADDRSTRLEN] = "?";

	if (sd_bus_message_enter_container(m, 'v', "aa{sv}") > 0 &&
	    sd_bus_message_enter_container(m, 'a', "a{sv}") > 0)
		nm_props_each(m, addr_prop, &ev);
	inet_ntop(AF_INET, &ev.addr, a, sizeof(a));
	snprintf(msg, sizeof(msg), "joined, address %s/%u", a, ev.prefix);
	ev.message = msg;
	nm->ours_up = true;
	nm_op_end(nm, &ev);
}

static void
j_ip4path(struct nm *nm, sd_bus_message *m)
{
	const char *path = "/";

	if (nm_var_read(m, "o", &path) <= 0 || !strcmp(path, "/")) {
		struct nm_event ev = { .type = NM_EV_ACTIVATED, .message = "joined, no IPv4 yet" };

		nm->ours_up = true;
		nm_op_end(nm, &ev);
		return;
	}
	nm_call(nm, j_addr, path, PROPS_IFACE, "Get", "ss", NM_IP4_IFACE, "AddressData");
}

static void
j_final(struct nm *nm, uint32_t state, uint32_t reason)
{
	if (nm->state_handled || (state != NM_AC_ACTIVATED && state != NM_AC_DEACTIVATED))
		return;
	nm->state_handled = true;
	/* cancel a State Get still in flight: this signal decides */
	nm->call = sd_bus_slot_unref(nm->call);
	if (state == NM_AC_ACTIVATED) {
		nm_call(nm, j_ip4path, nm->ours, PROPS_IFACE, "Get", "ss", NM_ACTIVE_IFACE,
			"Ip4Config");
		return;
	}
	nm->ac_reason = reason;
	/* the device's own reason is the precise one (wrong PSK: 7, AP gone: 53) */
	nm_call_tolerant(nm, j_failed, nm->facts.device, PROPS_IFACE, "Get", "ss",
			 NM_DEVICE_IFACE, "StateReason");
}

static void
j_state(struct nm *nm, sd_bus_message *m)
{
	uint32_t state = 0;

	if (sd_bus_message_is_method_error(m, NULL)) {
		/* the activation object is gone already: it failed before we
		 * could ask, and its signal went by unnoticed */
		j_final(nm, NM_AC_DEACTIVATED, 0);
		return;
	}
	if (nm_var_read(m, "u", &state) > 0)
		j_final(nm, state, 0);
	/* ACTIVATING: the StateChanged signal will tell */
}

static void
j_added(struct nm *nm, sd_bus_message *m)
{
	const char *profile, *ac;

	if (sd_bus_message_read(m, "oo", &profile, &ac) < 0) {
		nm_op_error(nm, -EBADMSG, "NetworkManager: bad AddAndActivateConnection2 reply");
		return;
	}
	nm_copy(nm->ours, sizeof(nm->ours), ac);
	nm_copy(nm->ours_profile, sizeof(nm->ours_profile), profile);
	/* a final state signalled before this reply (the match was in place) */
	for (size_t i = 0; i < nm->n_early; i++) {
		if (!strcmp(nm->early[i].path, ac) && (nm->early[i].state == NM_AC_ACTIVATED ||
						      nm->early[i].state == NM_AC_DEACTIVATED)) {
			j_final(nm, nm->early[i].state, nm->early[i].reason);
			return;
		}
	}
	nm_call_tolerant(nm, j_state, ac, PROPS_IFACE, "Get", "ss", NM_ACTIVE_IFACE, "State");
}

static void
j_timeout_done(struct nm *nm, sd_bus_message *unused)
{
	struct nm_event ev = { .type = NM_EV_FAILED, .err = -ETIMEDOUT };

	ev.reason = nmcore_failure(0, 6); /* CONNECT_TIMEOUT */
	ev.ac_reason = 6;
	ev.message = "joining timed out: the device's WiFi did not answer in time";
	nm->ours[0] = '\0';
	nm_op_end(nm, &ev);
}

static void
join_timeout(struct nm *nm)
{
	nm->state_handled = true;
	if (nm->ours[0])
		nm_call_tolerant(nm, j_timeout_done, NM_OBJ, NM_IFACE, "DeactivateConnection",
				 "o", nm->ours);
	else
		j_timeout_done(nm, NULL);
}

int
nm_join(struct nm *nm, const struct nm_ap *ap, const char *id, const char *psk)
{
	sd_bus_message *msg = NULL;
	int r = check_idle(nm);

	if (r < 0)
		return r;
	if (!ap || !ap->path[0] || !ap->ssid_len || !id || strlen(id) >= NM_ID_MAX ||
	    strncmp(id, NMCORE_PROFILE_PREFIX, sizeof(NMCORE_PROFILE_PREFIX) - 1) ||
	    (psk && (strlen(psk) < NM_PSK_MIN || strlen(psk) > NM_PSK_MAX)))
		return -EINVAL;
	r = build_add2(nm, ap, id, psk, &msg);
	if (r < 0)
		return r;
	nm_enter(nm);
	nm_op_begin(nm, NM_OP_JOIN);
	nm->ours[0] = nm->ours_profile[0] = '\0';
	nm->ours_up = false;
	nm->state_handled = false;
	nm->n_early = 0;
	nm->ac_reason = 0;
	nm_timer(nm, NM_JOIN_TIMEOUT_MS, join_timeout);
	nm_call_msg(nm, j_added, msg);
	sd_bus_message_unref(msg);
	nm_leave(nm);
	return 0;
}

/* ---- restore --------------------------------------------------------------------- */

static void r_check(struct nm *nm);

static void
r_done(struct nm *nm, sd_bus_message *unused)
{
	struct nm_event ev = { .type = NM_EV_RESTORED, .deleted = nm->deleted };
	char msg[NM_ID_MAX + 96];

	if (nm->facts.restore == NMCORE_RESTORE_PROFILE)
		snprintf(msg, sizeof(msg), "\"%s\" is back", nm->facts.restore_id);
	else
		snprintf(msg, sizeof(msg), "nothing to restore; our connection is down");
	ev.message = msg;
	nm->ours[0] = '\0';
	nm->ours_up = false;
	nm_op_end(nm, &ev);
}

static void
r_listed(struct nm *nm, sd_bus_message *unused)
{
	nm_profiles_delete_ours(nm, r_done);
}

static void
r_cleanup(struct nm *nm, sd_bus_message *unused)
{
	nm->cleaning = true;
	lws_sul_cancel(&nm->sul_grace);
	nm->deleted = 0;
	nm_profiles_read(nm, r_listed);
}

static void
r_activated(struct nm *nm, sd_bus_message *m)
{
	const char *ac;

	if (sd_bus_message_is_method_error(m, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(m);

		if (nm->restore_any) {
			nm_op_error(nm, -ENOENT, "NetworkManager found no connection to restore: %s",
				    e && e->message ? e->message : "(no message)");
			return;
		}
		/* the saved profile is gone (deleted meanwhile): let NM pick the
		 * best one, and accept whatever it activates that is not ours
		 * (WIFI-AUTOMATION.md §1.5) */
		nm->restore_any = true;
		nm_call_tolerant(nm, r_activated, NM_OBJ, NM_IFACE, "ActivateConnection", "ooo",
				 "/", nm->facts.device, "/");
		return;
	}
	if (sd_bus_message_read(m, "o", &ac) > 0)
		nm_copy(nm->pending_ac, sizeof(nm->pending_ac), ac);
	/* its StateChanged (or the next device change) makes r_check look again */
	r_check(nm);
}

static void
r_not_yet(struct nm *nm)
{
	if (nm->recheck) { /* a signal came while we looked: look again */
		nm->recheck = false;
		r_check(nm);
		return;
	}
	if (!nm->grace_over || nm->pending_ac[0])
		return; /* wait for a signal, or the grace timer */
	nm_copy(nm->pending_ac, sizeof(nm->pending_ac), "/"); /* asked once */
	nm_call_tolerant(nm, r_activated, NM_OBJ, NM_IFACE, "ActivateConnection", "ooo",
			 nm->facts.restore_path, nm->facts.device, "/");
}

struct ac_props {
	const char *conn;
	const char *id;
	uint32_t state;
};

static int
restore_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct ac_props *a = ud;

	if (!strcmp(key, "Connection"))
		return nm_var_read(m, "o", &a->conn);
	if (!strcmp(key, "Id"))
		return nm_var_read(m, "s", &a->id);
	if (!strcmp(key, "State"))
		return nm_var_read(m, "u", &a->state);
	return 0;
}

static void
r_ac(struct nm *nm, sd_bus_message *m)
{
	struct ac_props a = { NULL, NULL, 0 };

	if (!sd_bus_message_is_method_error(m, NULL) && nm_props_each(m, restore_prop, &a) >= 0 &&
	    a.conn && a.state == NM_AC_ACTIVATED &&
	    (!strcmp(a.conn, nm->facts.restore_path) ||
	     (nm->restore_any && a.id &&
	      strncmp(a.id, NMCORE_PROFILE_PREFIX, sizeof(NMCORE_PROFILE_PREFIX) - 1)))) {
		if (nm->restore_any) /* say what came back */
			nm_copy(nm->facts.restore_id, sizeof(nm->facts.restore_id), a.id);
		r_cleanup(nm, NULL);
		return;
	}
	/* NM (its autoconnect, or our earlier call) is bringing the target back:
	 * wait for that activation's StateChanged; an ActivateConnection now would
	 * restart it (NEW_ACTIVATION) and only delay the way home. */
	if (!sd_bus_message_is_method_error(m, NULL) && a.conn && a.state == NM_AC_ACTIVATING &&
	    !strcmp(a.conn, nm->facts.restore_path) && !nm->recheck)
		return;
	r_not_yet(nm);
}

static void
r_device_ac(struct nm *nm, sd_bus_message *m)
{
	const char *ac = "/";

	if (!sd_bus_message_is_method_error(m, NULL) && nm_var_read(m, "o", &ac) > 0 &&
	    strcmp(ac, "/")) {
		nm_call_tolerant(nm, r_ac, ac, PROPS_IFACE, "GetAll", "s", NM_ACTIVE_IFACE);
		return;
	}
	r_not_yet(nm);
}

/* Look at the device's activation: done when it is the target, ACTIVATED. */
static void
r_check(struct nm *nm)
{
	if (nm->cleaning)
		return;
	if (nm->call) {
		nm->recheck = true; /* a look is in flight: look again after it */
		return;
	}
	nm_call_tolerant(nm, r_device_ac, nm->facts.device, PROPS_IFACE, "Get", "ss",
			 NM_DEVICE_IFACE, "ActiveConnection");
}

static void
on_grace(lws_sorted_usec_list_t *sul)
{
	struct nm *nm = lws_container_of(sul, struct nm, sul_grace);

	nm_enter(nm);
	nm->grace_over = true;
	r_check(nm);
	nm_leave(nm);
}

static void
restore_timeout(struct nm *nm)
{
	nm_op_error(nm, -ETIMEDOUT, "\"%s\" did not come back within %d s",
		    nm->facts.restore_id, NM_RESTORE_TIMEOUT_MS / 1000);
}

int
nm_restore(struct nm *nm, unsigned grace_ms)
{
	int r = check_idle(nm);

	if (r < 0)
		return r;
	nm_enter(nm);
	nm_op_begin(nm, NM_OP_RESTORE);
	nm->cleaning = false;
	nm->grace_over = grace_ms == 0;
	nm->pending_ac[0] = '\0';
	nm->recheck = false;
	nm->restore_any = false;
	if (nm->facts.restore != NMCORE_RESTORE_PROFILE) {
		nm_timer(nm, NM_RESTORE_TIMEOUT_MS, restore_timeout);
		if (nm->ours[0])
			nm_call_tolerant(nm, r_cleanup, NM_OBJ, NM_IFACE, "DeactivateConnection",
					 "o", nm->ours);
		else
			r_cleanup(nm, NULL);
	} else {
		nm_timer(nm, grace_ms + NM_RESTORE_TIMEOUT_MS, restore_timeout);
		if (grace_ms)
			lws_sul_schedule(nm->cx, 0, &nm->sul_grace, on_grace,
					 (lws_usec_t)grace_ms * LWS_US_PER_MS);
		r_check(nm);
	}
	nm_leave(nm);
	return 0;
}

/* ---- signals --------------------------------------------------------------------- */

/* Our activated connection went down while no join or restore runs (the device
 * closed its AP, or someone took the radio): tell the driver. */
static void
maybe_dropped(struct nm *nm, const char *path, uint32_t state, uint32_t reason)
{
	struct nm_event ev = { .type = NM_EV_DROPPED, .ac_reason = reason };
	char msg[256];

	if (!nm->ours_up || strcmp(path, nm->ours) || state != NM_AC_DEACTIVATED)
		return;
	nm->ours_up = false;
	nm->ours[0] = '\0';
	ev.reason = nmcore_ac_reason(reason);
	snprintf(msg, sizeof(msg), "our WiFi connection went down: %s", ev.reason.message);
	ev.message = msg;
	nm_emit(nm, &ev);
}

void
nmhop_active_state(struct nm *nm, const char *path, uint32_t state, uint32_t reason)
{
	if (!path)
		return;
	switch (nm->op) {
	case NM_OP_JOIN:
		if (!nm->ours[0]) {
			/* before the reply: keep it for j_added (the first
			 * NM_EARLY_MAX - 1, then the latest in the last slot) */
			struct nm_early *e = &nm->early[nm->n_early < NM_EARLY_MAX
								 ? nm->n_early++
								 : NM_EARLY_MAX - 1];

			nm_copy(e->path, sizeof(e->path), path);
			e->state = state;
			e->reason = reason;
		} else if (!strcmp(path, nm->ours)) {
			j_final(nm, state, reason);
		}
		return;
	case NM_OP_RESTORE:
		if (nm->pending_ac[0] && !strcmp(path, nm->pending_ac) &&
		    state == NM_AC_DEACTIVATED) {
			nm_op_error(nm, -ECONNREFUSED,
				    "NetworkManager could not bring \"%s\" back (reason %u)",
				    nm->facts.restore_id, reason);
			return;
		}
		if (state == NM_AC_ACTIVATED || state == NM_AC_DEACTIVATED)
			r_check(nm);
		return;
	default: /* idle, or scanning (for FinalStage while still on ITEAD, say) */
		maybe_dropped(nm, path, state, reason);
		return;
	}
}

void
nmhop_device_state(struct nm *nm, uint32_t state, uint32_t reason)
{
	if (nm->op == NM_OP_RESTORE)
		r_check(nm);
}

/* nmdisc: the discovery of NetworkManager (WIFI-AUTOMATION.md §7 steps 1-5): is it
 * running, its version, the WiFi device (exactly one, or --wifi-iface), the
 * connection to restore, the saved profiles, the permissions, and whether the SSH
 * session rides on the radio; it ends with NM_EV_READY or NM_EV_MANUAL (nmint.h). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmint.h"
#include "nmssh.h"

void
nm_manual(struct nm *nm, int err, const char *msg)
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
				nm_manual(nm, -ENODEV, msg);
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
		nm_manual(nm, -ENODEV, msg);
		return;
	}
	if (!nm->iface_want[0] && f->n_wifi > 1) {
		snprintf(msg, sizeof(msg),
			 "NetworkManager manages %u WiFi devices: choose one with --wifi-iface",
			 f->n_wifi);
		nm_manual(nm, -EMLINK, msg);
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
			nm_manual(nm, -EPERM, msg);
			return;
		}
	}
	if (r < 0) {
		nm_manual(nm, r, "NetworkManager: bad GetPermissions reply");
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
		nm_manual(nm, -EBADMSG, "NetworkManager: unreadable Manager properties");
		return;
	}
	if (nmcore_version_cmp(nm->facts.version, NMCORE_NM_VERSION_MIN) < 0) {
		snprintf(msg, sizeof(msg),
			 "NetworkManager %s is older than " NMCORE_NM_VERSION_MIN
			 " (no client-bound volatile profiles)",
			 nm->facts.version[0] ? nm->facts.version : "(unknown)");
		nm_manual(nm, -EPROTONOSUPPORT, msg);
		return;
	}
	if (!nm->facts.wireless_enabled) {
		nm_manual(nm, -ENETDOWN, "WiFi is switched off in NetworkManager (nmcli radio wifi on)");
		return;
	}
	nm_call(nm, d_permissions, NM_OBJ, NM_IFACE, "GetPermissions", "");
}

void
nm_discover_has_owner(struct nm *nm, sd_bus_message *m)
{
	int has = 0;

	if (sd_bus_message_read(m, "b", &has) < 0 || !has) {
		nm_manual(nm, -ENOENT, "NetworkManager is not running");
		return;
	}
	nm_call(nm, d_manager, NM_OBJ, PROPS_IFACE, "GetAll", "s", NM_IFACE);
}

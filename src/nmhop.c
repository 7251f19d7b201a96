/* nmhop: the scan (nm.h; WIFI-AUTOMATION.md §1.2, §7 steps 8-9).
 * The plumbing (one call in flight, the deadline, events) is in nm.c. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmint.h"

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

/* ---- scan ------------------------------------------------------------------------ */

static int
ap_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct nm_ap *ap = ud;
	const char *s;
	int r;

	if (!strcmp(key, "Ssid")) {
		const void *data;
		size_t n;

		if ((r = sd_bus_message_enter_container(m, 'v', "ay")) <= 0)
			return r < 0 ? r : 0;
		r = sd_bus_message_read_array(m, 'y', &data, &n);
		if (r >= 0 && n <= sizeof(ap->ssid)) {
			memcpy(ap->ssid, data, n);
			ap->ssid_len = n;
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		return r < 0 ? r : 1;
	}
	if (!strcmp(key, "Flags"))
		return nm_var_read(m, "u", &ap->flags);
	if (!strcmp(key, "WpaFlags"))
		return nm_var_read(m, "u", &ap->wpa_flags);
	if (!strcmp(key, "RsnFlags"))
		return nm_var_read(m, "u", &ap->rsn_flags);
	if (!strcmp(key, "Strength"))
		return nm_var_read(m, "y", &ap->strength);
	if (!strcmp(key, "HwAddress")) {
		r = nm_var_read(m, "s", &s);
		if (r > 0 && nmcore_bssid_parse(s, ap->bssid) < 0)
			memset(ap->bssid, 0, sizeof(ap->bssid));
		return r;
	}
	return 0;
}

static int
by_strength(const void *a, const void *b)
{
	const struct nm_ap *x = a, *y = b;

	return (int)y->strength - (int)x->strength;
}

static void s_ap_next(struct nm *nm);

static void
s_ap(struct nm *nm, sd_bus_message *m)
{
	struct nm_ap *ap = &nm->aps[nm->n_aps];

	memset(ap, 0, sizeof(*ap));
	/* an AP that vanished between the list and this call is skipped */
	if (!sd_bus_message_is_method_error(m, NULL) && nm_props_each(m, ap_prop, ap) >= 0) {
		nm_copy(ap->path, sizeof(ap->path), nm->ap_paths[nm->i_ap]);
		ap->sec = nmcore_ap_classify(ap->flags, ap->wpa_flags, ap->rsn_flags);
		ap->role = nmcore_ap_role(ap->ssid, ap->ssid_len, ap->sec, ap->deviceid);
		nm->n_aps++;
	}
	nm->i_ap++;
	s_ap_next(nm);
}

static void
s_ap_next(struct nm *nm)
{
	struct nm_event ev = { .type = NM_EV_SCANNED, .message = "scan done" };

	if (nm->i_ap < nm->n_ap_paths) {
		/* one GetAll per AP (a few ms each on a local bus) */
		nm_call_tolerant(nm, s_ap, nm->ap_paths[nm->i_ap], PROPS_IFACE, "GetAll", "s",
				 NM_AP_IFACE);
		return;
	}
	qsort(nm->aps, nm->n_aps, sizeof(nm->aps[0]), by_strength);
	nm_op_end(nm, &ev);
}

static void
s_listed(struct nm *nm, sd_bus_message *m)
{
	const char *path;
	int r;

	nm->n_ap_paths = 0;
	nm->n_aps = 0;
	r = sd_bus_message_enter_container(m, 'a', "o");
	while (r >= 0 && (r = sd_bus_message_read(m, "o", &path)) > 0)
		if (nm->n_ap_paths < NM_APS_MAX)
			nm_copy(nm->ap_paths[nm->n_ap_paths++], NM_PATH_MAX, path);
	nm->i_ap = 0;
	s_ap_next(nm);
}

static void
s_list(struct nm *nm)
{
	nm_call(nm, s_listed, nm->facts.device, NM_WIRELESS_IFACE, "GetAllAccessPoints", "");
}

static void
s_requested(struct nm *nm, sd_bus_message *m)
{
	nm->scan_replied = true;
	if (nm->scan_seen)
		s_list(nm);
	/* else nmhop_device_props lists when LastScan grows */
}

static void
s_lastscan(struct nm *nm, sd_bus_message *m)
{
	sd_bus_message *msg = NULL;
	int r;

	nm->last_scan = -1;
	if (!sd_bus_message_is_method_error(m, NULL) && nm_var_read(m, "x", &nm->last_scan) < 0)
		nm->last_scan = -1;
	r = sd_bus_message_new_method_call(bus_sd(nm->bus), &msg, NM_BUS, nm->facts.device,
					   NM_WIRELESS_IFACE, "RequestScan");
	if (r >= 0)
		r = sd_bus_message_open_container(msg, 'a', "{sv}");
	if (r >= 0 && nm->scan_ssid[0]) {
		const char *ssid = nm->scan_ssid;

		r = sd_bus_message_open_container(msg, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append(msg, "s", "ssids");
		if (r >= 0)
			r = sd_bus_message_open_container(msg, 'v', "aay");
		if (r >= 0)
			r = sd_bus_message_open_container(msg, 'a', "ay");
		if (r >= 0)
			r = sd_bus_message_append_array(msg, 'y', ssid, strlen(ssid));
		for (int i = 0; i < 3 && r >= 0; i++)
			r = sd_bus_message_close_container(msg);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(msg);
	if (r < 0)
		nm_op_error(nm, r, "cannot build RequestScan: %s", strerror(-r));
	else
		nm_call_msg(nm, s_requested, msg);
	sd_bus_message_unref(msg);
}

static void
scan_timeout(struct nm *nm)
{
	nm_op_error(nm, -ETIMEDOUT, "the WiFi scan did not finish within %d s",
		    NM_SCAN_TIMEOUT_MS / 1000);
}

int
nm_scan(struct nm *nm, const char *ssid)
{
	int r = check_idle(nm);

	if (r < 0)
		return r;
	if (ssid && strlen(ssid) > NMCORE_SSID_MAX)
		return -EINVAL;
	nm_enter(nm);
	nm_op_begin(nm, NM_OP_SCAN);
	nm->scan_replied = nm->scan_seen = false;
	nm_copy(nm->scan_ssid, sizeof(nm->scan_ssid), ssid);
	nm_timer(nm, NM_SCAN_TIMEOUT_MS, scan_timeout);
	nm_call_tolerant(nm, s_lastscan, nm->facts.device, PROPS_IFACE, "Get", "ss",
			 NM_WIRELESS_IFACE, "LastScan");
	nm_leave(nm);
	return 0;
}

static int
wireless_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct nm *nm = ud;
	int64_t v;
	int r;

	if (strcmp(key, "LastScan"))
		return 0;
	r = nm_var_read(m, "x", &v);
	if (r > 0 && v > nm->last_scan)
		nm->scan_seen = true;
	return r;
}

void
nmhop_device_props(struct nm *nm, sd_bus_message *m)
{
	const char *iface;

	if (nm->op != NM_OP_SCAN || nm->scan_seen)
		return;
	if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, NM_WIRELESS_IFACE))
		return;
	nm_props_each(m, wireless_prop, nm);
	/* the reply of RequestScan may still be on its way: s_requested lists */
	if (nm->scan_seen && nm->scan_replied)
		s_list(nm);
}

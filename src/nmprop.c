/* nmprop: reading NM's answers (a{sv} walkers) and the saved profiles (read them
 * all, delete ours), shared by discovery and restore. See nm.h and nmint.h. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "nmint.h"

/* ---- a{sv} ---------------------------------------------------------------------- */

int
nm_var_read(sd_bus_message *m, const char *sig, void *p)
{
	const char *contents = NULL;
	char type;
	int r;

	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r <= 0 || type != 'v' || !contents || strcmp(contents, sig))
		return r < 0 ? r : (sd_bus_message_skip(m, "v") < 0 ? -EBADMSG : 0);
	r = sd_bus_message_enter_container(m, 'v', sig);
	if (r < 0)
		return r;
	r = sd_bus_message_read_basic(m, sig[0], p);
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	return r < 0 ? r : 1;
}

int
nm_props_each(sd_bus_message *m, nm_prop_fn fn, void *ud)
{
	int r;

	r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;

		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		r = fn(ud, key, m);
		if (r < 0)
			return r;
		if (r == 0 && (r = sd_bus_message_skip(m, "v")) < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/* ---- profiles: read all, delete ours --------------------------------------------- */

struct settings_ud {
	struct nm_profile *p;
	const char *setting;
};

static int
setting_prop(void *ud, const char *key, sd_bus_message *m)
{
	struct settings_ud *s = ud;
	struct nm_profile *p = s->p;
	const char *str = NULL;
	int r = 0;

	if (!strcmp(s->setting, "connection")) {
		if (!strcmp(key, "id")) {
			r = nm_var_read(m, "s", &str);
			if (r > 0)
				nm_copy(p->id, sizeof(p->id), str);
		} else if (!strcmp(key, "type")) {
			r = nm_var_read(m, "s", &str);
			if (r > 0)
				nm_copy(p->type, sizeof(p->type), str);
		} else if (!strcmp(key, "autoconnect")) {
			int b = 1;

			r = nm_var_read(m, "b", &b);
			if (r > 0)
				p->autoconnect = b;
		} else if (!strcmp(key, "autoconnect-priority")) {
			r = nm_var_read(m, "i", &p->priority);
		} else if (!strcmp(key, "timestamp")) {
			r = nm_var_read(m, "t", &p->timestamp);
		} else {
			return 0;
		}
		/* a value of another type was skipped by nm_var_read */
		return r < 0 ? r : 1;
	}
	if (!strcmp(s->setting, "802-11-wireless") && !strcmp(key, "ssid")) {
		const void *data;
		size_t n;

		if ((r = sd_bus_message_enter_container(m, 'v', "ay")) <= 0)
			return r < 0 ? r : 0;
		r = sd_bus_message_read_array(m, 'y', &data, &n);
		if (r >= 0 && n <= sizeof(p->ssid)) {
			memcpy(p->ssid, data, n);
			p->ssid_len = n;
			p->has_ssid = true;
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		return r < 0 ? r : 1;
	}
	return 0;
}

static int
parse_settings(sd_bus_message *m, struct nm_profile *p)
{
	int r;

	p->autoconnect = true; /* NM's default when the key is absent */
	r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sa{sv}")) > 0) {
		struct settings_ud s = { p, NULL };

		r = sd_bus_message_read(m, "s", &s.setting);
		if (r >= 0)
			r = nm_props_each(m, setting_prop, &s);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	return r < 0 ? r : sd_bus_message_exit_container(m);
}

static void profile_next(struct nm *nm);

static void
profile_settings(struct nm *nm, sd_bus_message *m)
{
	struct nm_profile *p = &nm->profiles[nm->i_profile];

	/* a profile deleted meanwhile answers with an error: forget it */
	if (sd_bus_message_is_method_error(m, NULL) || parse_settings(m, p) < 0)
		p->path[0] = '\0';
	nm->i_profile++;
	profile_next(nm);
}

static void
profile_next(struct nm *nm)
{
	if (nm->i_profile < nm->n_profiles) {
		nm_call_tolerant(nm, profile_settings, nm->profiles[nm->i_profile].path,
				 NM_CONN_IFACE, "GetSettings", "");
		return;
	}
	nm->profiles_done(nm, NULL);
}

static void
profiles_listed(struct nm *nm, sd_bus_message *m)
{
	const char *path;
	int r;

	nm->n_profiles = 0;
	r = sd_bus_message_enter_container(m, 'a', "o");
	while (r >= 0 && (r = sd_bus_message_read(m, "o", &path)) > 0) {
		if (nm->n_profiles == NM_PROFILES_MAX)
			continue;
		memset(&nm->profiles[nm->n_profiles], 0, sizeof(nm->profiles[0]));
		nm_copy(nm->profiles[nm->n_profiles].path, NM_PATH_MAX, path);
		nm->n_profiles++;
	}
	if (r < 0) {
		nm_op_error(nm, r, "NetworkManager: bad ListConnections reply");
		return;
	}
	nm->i_profile = 0;
	profile_next(nm);
}

void
nm_profiles_read(struct nm *nm, nm_step done)
{
	nm->profiles_done = done;
	nm_call(nm, profiles_listed, NM_SETTINGS_OBJ, NM_SETTINGS_IFACE, "ListConnections", "");
}

static void delete_next(struct nm *nm, sd_bus_message *m);

static void
delete_next(struct nm *nm, sd_bus_message *m)
{
	/* an error (already gone: volatile profiles go by themselves) is fine */
	if (m && !sd_bus_message_is_method_error(m, NULL))
		nm->deleted++;
	while (nm->i_profile < nm->n_profiles) {
		struct nm_profile *p = &nm->profiles[nm->i_profile++];

		if (p->path[0] && !strncmp(p->id, NMCORE_PROFILE_PREFIX,
					   sizeof(NMCORE_PROFILE_PREFIX) - 1)) {
			nm_call_tolerant(nm, delete_next, p->path, NM_CONN_IFACE, "Delete", "");
			return;
		}
	}
	nm->deleted_done(nm, NULL);
}

void
nm_profiles_delete_ours(struct nm *nm, nm_step done)
{
	nm->deleted_done = done;
	nm->i_profile = 0;
	delete_next(nm, NULL);
}


/* diysim model files: one key=value a line, '#' comments. Unknown keys and bad values are
 * errors: a typo must not silently yield a default device. README.md lists the keys.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diysim.h"

#define LINE_MAX_ 256

void
sim_model_defaults(struct sim_model *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->type, sizeof(m->type), "diy_plug");
	m->idrule = SIM_ID_ANY;
	m->malformed = SIM_BAD_RESET;
	m->min_gap_ms = 200;
	m->size_max = 520192; /* 0x7F000 (§5.6, inferred device limit) */
	m->stall_ms = 10000;
	m->completion = true;
	m->goodbye = true;
	m->reboot = true;
}

static int
num(const char *v, long lo, long hi, long *ret)
{
	char *end;
	long l;

	errno = 0;
	l = strtol(v, &end, 10);
	if (!*v || *end || errno || l < lo || l > hi)
		return -EINVAL;
	*ret = l;
	return 0;
}

static int
yesno(const char *v, bool *ret)
{
	if (!strcmp(v, "yes") || !strcmp(v, "no")) {
		*ret = !strcmp(v, "yes");
		return 0;
	}
	return -EINVAL;
}

static int
set(struct sim_model *m, const char *k, const char *v)
{
	long l;
	int r;

	if (!strcmp(k, "fw_version") || !strcmp(k, "type")) {
		char *dst = !strcmp(k, "type") ? m->type : m->fw_version;

		if (strlen(v) >= SIM_STR_MAX)
			return -EINVAL;
		strcpy(dst, v);
		return 0;
	}
	if (!strcmp(k, "info_data"))
		return !strcmp(v, "string") ? (m->info_data_string = true, 0)
		       : !strcmp(v, "object") ? (m->info_data_string = false, 0) : -EINVAL;
	if (!strcmp(k, "deviceid_rule")) {
		if (!strcmp(v, "any"))
			m->idrule = SIM_ID_ANY;
		else if (!strcmp(v, "strict"))
			m->idrule = SIM_ID_STRICT;
		else if (!strcmp(v, "minir3"))
			m->idrule = SIM_ID_MINIR3;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "malformed"))
		return !strcmp(v, "hang") ? (m->malformed = SIM_BAD_HANG, 0)
		       : !strcmp(v, "reset") ? (m->malformed = SIM_BAD_RESET, 0) : -EINVAL;
	if (!strcmp(k, "pair_ap")) /* diyap: the mode after a POST /ap */
		return !strcmp(v, "diy") ? (m->pair_ap = SIM_PAIR_DIY, 0)
		       : !strcmp(v, "lan") ? (m->pair_ap = SIM_PAIR_LAN, 0) : -EINVAL;
	if (!strcmp(k, "host_itead"))
		return yesno(v, &m->host_itead);
	if (!strcmp(k, "multi_channel"))
		return yesno(v, &m->multi_channel);
	if (!strcmp(k, "completion"))
		return yesno(v, &m->completion);
	if (!strcmp(k, "goodbye"))
		return yesno(v, &m->goodbye);
	if (!strcmp(k, "reboot"))
		return yesno(v, &m->reboot);
	if (!strcmp(k, "ota_unlocked"))
		return yesno(v, &m->ota_unlocked);
	if (!strcmp(k, "corrupt"))
		return yesno(v, &m->corrupt);
	if (!strcmp(k, "min_gap_ms")) {
		r = num(v, 0, 10000, &l);
		m->min_gap_ms = (int)l;
		return r;
	}
	if (!strcmp(k, "size_max")) {
		r = num(v, 4096, SIM_IMAGE_MAX, &l);
		m->size_max = (unsigned)l;
		return r;
	}
	if (!strcmp(k, "stall_ms")) {
		r = num(v, 100, 600000, &l);
		m->stall_ms = (int)l;
		return r;
	}
	if (!strcmp(k, "drop_at")) {
		r = num(v, 0, 99, &l);
		m->drop_at = (int)l;
		return r;
	}
	return -ENOENT;
}

int
sim_model_parse(struct sim_model *m, const char *text, char *err, size_t errlen)
{
	const char *p = text;
	unsigned lineno = 0;

	while (*p) {
		char line[LINE_MAX_], *eq;
		size_t n = strcspn(p, "\n");
		int r;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "line %u: too long", lineno);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (p[n] == '\n');
		if (line[0] == '#' || line[0] == '\0')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, errlen, "line %u: no '='", lineno);
			return -EINVAL;
		}
		*eq = '\0';
		r = set(m, line, eq + 1);
		if (r == -ENOENT) {
			snprintf(err, errlen, "line %u: unknown key '%s'", lineno, line);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(err, errlen, "line %u: bad value for %s", lineno, line);
			return -EINVAL;
		}
	}
	return 0;
}

/* model: the quirks file loader. Models are data, not code (STYLE.md §18).
 *
 * Format: one `key=value` per line, `#` starts a comment line, blank lines ignored,
 * no spaces around '='. Unknown keys are an error (a typo must not silently give a
 * default device).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MODEL_FILE_MAX 8192		/* a model file is a dozen lines */
#define MODEL_LINE_MAX 256

void
model_defaults(struct model *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "ITA-GZ1-GL");
	snprintf(m->rom_version, sizeof(m->rom_version), "1.5.5");
	m->slot = 1;
	m->tls_max_minor = 2;
	m->pin_retries = 3;
	m->download = MODEL_DL_RANGE;
	m->range_chunk = 4096;
	m->sw = MODEL_SWITCH_OFF;
	m->flash_modes = MODEL_FM_ALL;
	m->tcp_window = 4380;		/* lwIP window seen on a Sonoff (PROTOCOL §2.4) */
}

static int
parse_int(const char *v, long min, long max, int *ret)
{
	char *end;
	long l;

	if (*v == '\0')
		return -EINVAL;
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno || *end != '\0' || l < min || l > max)
		return -EINVAL;
	*ret = (int)l;
	return 0;
}

static int
parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "yes")) {
		*ret = true;
		return 0;
	}
	if (!strcmp(v, "no")) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}

static int
parse_flash_modes(const char *v, unsigned *ret)
{
	char buf[MODEL_LINE_MAX];
	char *save = NULL, *tok;
	unsigned bits = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "qio"))
			bits |= MODEL_FM_QIO;
		else if (!strcmp(tok, "qout"))
			bits |= MODEL_FM_QOUT;
		else if (!strcmp(tok, "dio"))
			bits |= MODEL_FM_DIO;
		else if (!strcmp(tok, "dout"))
			bits |= MODEL_FM_DOUT;
		else
			return -EINVAL;
	}
	if (!bits)
		return -EINVAL;
	*ret = bits;
	return 0;
}

static int
set_str(char *dst, size_t cap, const char *v)
{
	if (*v == '\0' || strlen(v) >= cap)
		return -EINVAL;
	snprintf(dst, cap, "%s", v);
	return 0;
}

static int
model_set(struct model *m, const char *k, const char *v)
{
	if (!strcmp(k, "model"))
		return set_str(m->name, sizeof(m->name), v);
	if (!strcmp(k, "romVersion"))
		return set_str(m->rom_version, sizeof(m->rom_version), v);
	if (!strcmp(k, "slot"))
		return parse_int(v, 1, 2, &m->slot);
	if (!strcmp(k, "tls_max")) {
		if (!strcmp(v, "1.0"))
			m->tls_max_minor = 1;
		else if (!strcmp(v, "1.1"))
			m->tls_max_minor = 2;
		else if (!strcmp(v, "1.2"))
			m->tls_max_minor = 3;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "pin_cert"))
		return parse_bool(v, &m->pin_cert);
	if (!strcmp(k, "pin_retries"))
		return parse_int(v, 1, 20, &m->pin_retries);
	if (!strcmp(k, "download")) {
		if (!strcmp(v, "range"))
			m->download = MODEL_DL_RANGE;
		else if (!strcmp(v, "norange"))
			m->download = MODEL_DL_NORANGE;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "range_chunk"))
		return parse_int(v, 16, 65536, &m->range_chunk);
	if (!strcmp(k, "switch")) {
		if (!strcmp(v, "on"))
			m->sw = MODEL_SWITCH_ON;
		else if (!strcmp(v, "off"))
			m->sw = MODEL_SWITCH_OFF;
		else if (!strcmp(v, "multi"))
			m->sw = MODEL_SWITCH_MULTI;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "drop_at"))
		return parse_int(v, 0, 99, &m->drop_at);
	if (!strcmp(k, "final_drop_at"))
		return parse_int(v, 0, 99, &m->final_drop_at);
	if (!strcmp(k, "hb_interval"))
		return parse_int(v, 0, 3600, &m->hb_interval);
	if (!strcmp(k, "ap_needs_single_segment"))
		return parse_bool(v, &m->ap_needs_single_segment);
	if (!strcmp(k, "power"))
		return parse_bool(v, &m->power);
	if (!strcmp(k, "query")) {
		if (!strcmp(v, "timers"))
			m->query_timezone = false;
		else if (!strcmp(v, "timers,timeZone"))
			m->query_timezone = true;
		else
			return -EINVAL;
		return 0;
	}
	if (!strcmp(k, "tcp_window")) {
		if (!strcmp(v, "0")) {
			m->tcp_window = 0;
			return 0;
		}
		return parse_int(v, 1024, 1 << 20, &m->tcp_window);
	}
	if (!strcmp(k, "flash_modes"))
		return parse_flash_modes(v, &m->flash_modes);
	return -ENOENT;
}

int
model_parse(struct model *m, const char *text, char *err, size_t errlen)
{
	const char *p = text;
	int lineno = 0;

	model_defaults(m);
	while (*p) {
		char line[MODEL_LINE_MAX];
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *eq;
		int r;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "line %d: too long", lineno);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: expected key=value", lineno);
			return -EINVAL;
		}
		*eq = '\0';
		r = model_set(m, line, eq + 1);
		if (r == -ENOENT) {
			snprintf(err, errlen, "line %d: unknown key \"%s\"", lineno, line);
			return -EINVAL;
		}
		if (r < 0) {
			snprintf(err, errlen, "line %d: bad value \"%s\" for key \"%s\"", lineno,
				 eq + 1, line);
			return -EINVAL;
		}
	}
	return 0;
}

int
model_load(struct model *m, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t n;
	FILE *f;
	int r;

	f = fopen(path, "r");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "cannot open \"%s\": %s", path, strerror(errno));
		return r;
	}
	buf = malloc(MODEL_FILE_MAX + 1);
	if (!buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = fread(buf, 1, MODEL_FILE_MAX + 1, f);
	if (ferror(f) || n > MODEL_FILE_MAX) {
		r = -EINVAL;
		snprintf(err, errlen, "\"%s\": unreadable or larger than %d bytes", path,
			 MODEL_FILE_MAX);
		goto out;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		r = -EINVAL;
		snprintf(err, errlen, "\"%s\": contains NUL bytes", path);
		goto out;
	}
	r = model_parse(m, buf, err, errlen);
out:
	free(buf);
	fclose(f);
	return r;
}

/* diyscan: see diyscan.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diyscan.h"
#include "util.h"

static struct diyscan_entry *
find(struct diyscan *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->e[i].id, id) == 0)
			return &s->e[i];
	return NULL;
}

int
diyscan_add(struct diyscan *s, const struct dnssd_device *d, const char *addr)
{
	struct diyscan_entry *e;

	if (!d->id[0])
		return -EINVAL;
	e = find(s, d->id);
	if (!e) {
		if (s->n == DIYSCAN_MAX)
			return -ENOSPC;
		e = &s->e[s->n++];
		memset(e, 0, sizeof(*e));
		util_strlcpy(e->id, d->id, sizeof(e->id));
	}
	if (addr && addr[0])
		util_strlcpy(e->addr, addr, sizeof(e->addr));
	util_strlcpy(e->type, d->type, sizeof(e->type));
	e->mode = d->mode;
	e->route = d->route;
	e->multi_channel |= d->multi_channel;
	if (d->has_ota_unlock && !e->has_ota_unlock) {
		e->has_ota_unlock =
		    true; /* an info reply, when there is one, stays authoritative */
		e->ota_unlock = d->ota_unlock;
	}
	return 0;
}

int
diyscan_add_info(struct diyscan *s, const char *id, const struct diy_info *info)
{
	struct diyscan_entry *e = find(s, id);

	if (!e)
		return -ENOENT;
	util_strlcpy(e->fw_version, info->fw_version, sizeof(e->fw_version));
	e->fw = info->fw;
	e->multi_channel |= info->multi_channel;
	if (info->has_ota_unlock) {
		e->has_ota_unlock = true;
		e->ota_unlock = info->ota_unlock;
	}
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	return strcmp(((const struct diyscan_entry *)a)->id, ((const struct diyscan_entry *)b)->id);
}

void
diyscan_sort(struct diyscan *s)
{
	qsort(s->e, s->n, sizeof(s->e[0]), by_id);
}

/* The version column: the reported one, else what the info form told ("3.3-3.4"). */
static const char *
fw_text(const struct diyscan_entry *e)
{
	if (e->fw_version[0])
		return e->fw_version;
	return e->fw == DIY_FW_UNKNOWN ? "?" : diy_fw_name(e->fw);
}

const char *
diyscan_route_text(const struct diyscan_entry *e)
{
	switch (e->mode) {
	case DNSSD_MODE_LAN:
		return "needs DIY mode first: hold the button 5 s, then 5 s more (docs/diy.md)";
	case DNSSD_MODE_DIY:
		return "route diy";
	default:
		return e->route == DIY_ROUTE_NONE ? "route none" : "route unknown";
	}
}

int
diyscan_format(const struct diyscan_entry *e, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s  %s  %s  fw %s  otaUnlock %s  %s  %s", e->id,
			 e->addr[0] ? e->addr : "-", e->type[0] ? e->type : "-", fw_text(e),
			 e->has_ota_unlock ? (e->ota_unlock ? "true" : "false") : "?",
			 dnssd_mode_name(e->mode), diyscan_route_text(e));

	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = '\0';
		return -E2BIG;
	}
	return n;
}

char *
diyscan_json(const struct diyscan_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	bool ok;

	ok = o && cJSON_AddStringToObject(o, "id", e->id) &&
	     (e->addr[0] ? cJSON_AddStringToObject(o, "address", e->addr)
			 : cJSON_AddNullToObject(o, "address")) &&
	     cJSON_AddStringToObject(o, "type", e->type) &&
	     (e->fw_version[0] || e->fw != DIY_FW_UNKNOWN
		      ? cJSON_AddStringToObject(o, "fwVersion", fw_text(e))
		      : cJSON_AddNullToObject(o, "fwVersion")) &&
	     (e->has_ota_unlock ? cJSON_AddBoolToObject(o, "otaUnlock", e->ota_unlock)
				: cJSON_AddNullToObject(o, "otaUnlock")) &&
	     cJSON_AddStringToObject(o, "mode", dnssd_mode_name(e->mode)) &&
	     cJSON_AddStringToObject(o, "route", diy_route_name(e->route)) &&
	     (e->mode != DNSSD_MODE_LAN || cJSON_AddStringToObject(o, "next", diyscan_route_text(e)));
	if (ok)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

unsigned
diyscan_wait_ms(uint64_t elapsed_ms, bool all_for_now, uint64_t since_all_for_now_ms)
{
	uint64_t left;

	if (elapsed_ms >= DIYSCAN_BROWSE_MAX_MS)
		return 0;
	left = DIYSCAN_BROWSE_MAX_MS - elapsed_ms;
	if (all_for_now) {
		if (since_all_for_now_ms >= DIYSCAN_SETTLE_MS)
			return 0;
		if (DIYSCAN_SETTLE_MS - since_all_for_now_ms < left)
			left = DIYSCAN_SETTLE_MS - since_all_for_now_ms;
	}
	return (unsigned)left;
}

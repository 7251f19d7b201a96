/* msg: JSON of the stock firmware's cloud dialogue, built and checked without I/O. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "msg.h"

static cJSON *
base(const char *deviceid, const char *key, const char *action)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "userAgent", "device");
	cJSON_AddStringToObject(o, "apikey", key);
	cJSON_AddStringToObject(o, "deviceid", deviceid);
	if (action)
		cJSON_AddStringToObject(o, "action", action);
	return o;
}

static char *
finish(cJSON *o)
{
	char *s;

	if (!o)
		return NULL;
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *
msg_dispatch(const struct model *m, const char *deviceid, const char *apikey, long ts)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "accept", "ws;2");
	cJSON_AddNumberToObject(o, "version", 2);
	cJSON_AddNumberToObject(o, "ts", (double)ts);
	cJSON_AddStringToObject(o, "deviceid", deviceid);
	cJSON_AddStringToObject(o, "apikey", apikey);
	cJSON_AddStringToObject(o, "model", m->name);
	cJSON_AddStringToObject(o, "romVersion", m->rom_version);
	return finish(o);
}

char *
msg_register(const struct model *m, const char *deviceid, const char *apikey, long ts)
{
	cJSON *o = base(deviceid, apikey, "register");

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "version", 2);
	cJSON_AddStringToObject(o, "romVersion", m->rom_version);
	cJSON_AddStringToObject(o, "model", m->name);
	cJSON_AddNumberToObject(o, "ts", (double)ts);
	return finish(o);
}

char *
msg_date(const char *deviceid, const char *srvkey)
{
	return finish(base(deviceid, srvkey, "date"));
}

char *
msg_update(const struct model *m, const char *deviceid, const char *srvkey, char relay[4][4])
{
	cJSON *o = base(deviceid, srvkey, "update");
	cJSON *p;
	char mac[24];

	if (!o)
		return NULL;
	p = cJSON_AddObjectToObject(o, "params");
	if (m->sw == MODEL_SWITCH_MULTI) {
		cJSON *arr = cJSON_AddArrayToObject(p, "switches");

		for (int i = 0; i < 4; i++) {
			cJSON *it = cJSON_CreateObject();

			cJSON_AddStringToObject(it, "switch", relay[i]);
			cJSON_AddNumberToObject(it, "outlet", i);
			cJSON_AddItemToArray(arr, it);
		}
	} else {
		cJSON_AddStringToObject(p, "switch", relay[0]);
	}
	cJSON_AddStringToObject(p, "fwVersion", m->rom_version);
	cJSON_AddNumberToObject(p, "rssi", -47);
	/* a MAC in Espressif's range, derived from the deviceid so it is stable */
	snprintf(mac, sizeof(mac), "5C:CF:7F:%c%c:%c%c:%c%c", deviceid[4], deviceid[5],
		 deviceid[6], deviceid[7], deviceid[8], deviceid[9]);
	for (char *c = mac; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	cJSON_AddStringToObject(p, "staMac", mac);
	cJSON_AddStringToObject(p, "startup", "off");
	if (m->power)
		cJSON_AddStringToObject(p, "power", "0.00");
	return finish(o);
}

char *
msg_query(const struct model *m, const char *deviceid, const char *srvkey)
{
	cJSON *o = base(deviceid, srvkey, "query");
	cJSON *arr;

	if (!o)
		return NULL;
	arr = cJSON_AddArrayToObject(o, "params");
	cJSON_AddItemToArray(arr, cJSON_CreateString("timers"));
	if (m->query_timezone)
		cJSON_AddItemToArray(arr, cJSON_CreateString("timeZone"));
	return finish(o);
}

char *
msg_ack(const char *deviceid, const char *srvkey, const char *seq, int error)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "error", error);
	cJSON_AddStringToObject(o, "userAgent", "device");
	cJSON_AddStringToObject(o, "apikey", srvkey);
	cJSON_AddStringToObject(o, "deviceid", deviceid);
	cJSON_AddStringToObject(o, "sequence", seq);
	return finish(o);
}

bool
msg_is_uuid(const char *s)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, k = 0;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (k < 4 && (int)i == dash[k]) {
			if (s[i] != '-')
				return false;
			k++;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
msg_check_date(const char *s, struct timespec now, char *err, size_t errlen)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int y, mo, da, h, mi, se, ms;
	double diff;
	time_t t;

	/* 0123456789012345678901234 */
	/* YYYY-MM-DDTHH:MM:SS.mmmZ  */
	if (strlen(s) != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z') {
		snprintf(err, errlen, "date \"%s\" is not YYYY-MM-DDTHH:MM:SS.mmmZ", s);
		return -EINVAL;
	}
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	da = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	se = digits(s + 17, 2);
	ms = digits(s + 20, 3);
	if (y < 2000 || mo < 1 || mo > 12 || da < 1 || da > mdays[mo - 1] || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || se < 0 || se > 60 || ms < 0) {
		snprintf(err, errlen, "date \"%s\" has an invalid field", s);
		return -EINVAL;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	diff = (double)(t - now.tv_sec) + (ms - now.tv_nsec / 1e6) / 1000.0;
	if (diff > MSG_DATE_SKEW_S || diff < -MSG_DATE_SKEW_S) {
		snprintf(err, errlen, "date \"%s\" is %.1f s away from real UTC (local time "
			 "labelled Z? SonOTA's bug, PROTOCOL §3.3)", s, diff);
		return -EINVAL;
	}
	return 0;
}

int
msg_parse_seq(const char *s, unsigned long long *ret)
{
	unsigned long long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > MSG_SEQ_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (v > (~0ULL - 9) / 10)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*ret = v;
	return 0;
}

int
msg_parse_url(const char *url, char *host, size_t hostcap, uint16_t *port, char *path,
	      size_t pathcap, char *err, size_t errlen)
{
	const char *h, *slash, *colon;
	size_t hl;
	long p = 80;

	if (strncmp(url, "http://", 7)) {
		snprintf(err, errlen, "downloadUrl \"%s\" is not plain http:// (the stock "
			 "firmware downloads over plain HTTP, PROTOCOL §4)", url);
		return -EINVAL;
	}
	h = url + 7;
	slash = strchr(h, '/');
	if (!slash) {
		snprintf(err, errlen, "downloadUrl \"%s\" has no path", url);
		return -EINVAL;
	}
	colon = memchr(h, ':', (size_t)(slash - h));
	hl = (size_t)((colon ? colon : slash) - h);
	if (hl == 0 || hl >= hostcap) {
		snprintf(err, errlen, "downloadUrl \"%s\" has a bad host", url);
		return -EINVAL;
	}
	if (colon) {
		char *end;

		p = strtol(colon + 1, &end, 10);
		if (end != slash || colon + 1 == slash || p < 1 || p > 65535) {
			snprintf(err, errlen, "downloadUrl \"%s\" has a bad port", url);
			return -EINVAL;
		}
	}
	if (strlen(slash) >= pathcap) {
		snprintf(err, errlen, "downloadUrl path too long");
		return -EINVAL;
	}
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
			snprintf(err, errlen, "downloadUrl contains a space or control byte");
			return -EINVAL;
		}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	snprintf(path, pathcap, "%s", slash);
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;			/* upper case is rejected: SonOTA sends hexdigest() */
}

int
msg_parse_upgrade(const cJSON *params, const char *model, int running_slot,
		  struct msg_upgrade *ret, char *err, size_t errlen)
{
	const char *want = running_slot == 1 ? "user2.bin" : "user1.bin";
	const cJSON *m, *list, *it, *found = NULL;
	struct msg_upgrade u;
	const char *dg;
	int r;

	memset(&u, 0, sizeof(u));
	if (!cJSON_IsObject(params)) {
		snprintf(err, errlen, "upgrade without a params object");
		return -EINVAL;
	}
	m = cJSON_GetObjectItemCaseSensitive(params, "model");
	if (!cJSON_IsString(m)) {
		snprintf(err, errlen, "upgrade params.model missing or not a string");
		return -EINVAL;
	}
	if (strcmp(m->valuestring, model)) {
		snprintf(err, errlen, "upgrade is for model \"%s\", this device is \"%s\"",
			 m->valuestring, model);
		return -EPERM;
	}
	list = cJSON_GetObjectItemCaseSensitive(params, "binList");
	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) < 1) {
		snprintf(err, errlen, "upgrade params.binList missing or empty");
		return -EINVAL;
	}
	cJSON_ArrayForEach(it, list) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");

		if (!cJSON_IsObject(it) || !cJSON_IsString(n)) {
			snprintf(err, errlen, "binList entry without a string name");
			return -EINVAL;
		}
		if (!strcmp(n->valuestring, want)) {
			if (found) {
				snprintf(err, errlen, "binList names \"%s\" twice", want);
				return -EINVAL;
			}
			found = it;
		}
	}
	if (!found) {
		snprintf(err, errlen, "binList has no \"%s\" entry for the inactive slot %d",
			 want, running_slot == 1 ? 2 : 1);
		return -EINVAL;
	}
	it = cJSON_GetObjectItemCaseSensitive(found, "downloadUrl");
	if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof(u.url)) {
		snprintf(err, errlen, "%s: downloadUrl missing, not a string or too long", want);
		return -EINVAL;
	}
	snprintf(u.url, sizeof(u.url), "%s", it->valuestring);
	r = msg_parse_url(u.url, u.host, sizeof(u.host), &u.port, u.path, sizeof(u.path), err,
			  errlen);
	if (r < 0)
		return r;
	it = cJSON_GetObjectItemCaseSensitive(found, "digest");
	dg = cJSON_IsString(it) ? it->valuestring : NULL;
	if (!dg || strlen(dg) != 64) {
		snprintf(err, errlen, "%s: digest missing or not 64 hex characters", want);
		return -EINVAL;
	}
	for (int i = 0; i < 32; i++) {
		int hi = hexval(dg[2 * i]), lo = hexval(dg[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "%s: digest \"%s\" is not lower-case hex", want, dg);
			return -EINVAL;
		}
		u.digest[i] = (uint8_t)(hi << 4 | lo);
	}
	snprintf(u.name, sizeof(u.name), "%s", want);
	*ret = u;
	return 0;
}

int
msg_check_reply(const cJSON *o, const char *deviceid, const char *srvkey, char *err,
		size_t errlen)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "deviceid");
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "apikey");

	if (!cJSON_IsNumber(e) || e->valuedouble != 0) {
		snprintf(err, errlen, "\"error\" is not the number 0");
		return -EINVAL;
	}
	if (!cJSON_IsString(id) || strcmp(id->valuestring, deviceid)) {
		snprintf(err, errlen, "\"deviceid\" missing or not ours");
		return -EINVAL;
	}
	if (srvkey && (!cJSON_IsString(k) || strcmp(k->valuestring, srvkey))) {
		snprintf(err, errlen, "\"apikey\" missing or not the key from the register reply");
		return -EINVAL;
	}
	return 0;
}

/* proto: see proto.h. The message shapes follow PROTOCOL.md §2.2, §2.3, §3.1, §3.3
 * and §3.4; docs/protocol.md shows them with examples.
 *
 * cJSON is used with its default allocator hooks (malloc/free), so the strings it
 * prints are freed with free(). Every parsed root is freed before returning;
 * results are copied out into fixed-size fields, never borrowed.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "proto.h"

/* The largest integer a double holds exactly; JSON numbers beyond it have already
 * lost digits inside cJSON. */
#define PROTO_EXACT_INT_MAX 9007199254740992.0 /* 2^53 */

/* Last millisecond of 9999-12-31: the date format has four year digits. */
#define PROTO_DATE_MS_MAX INT64_C(253402300799999)

enum text_kind {
	TEXT_TOKEN, /* printable ASCII without space: ids, keys, action */
	TEXT_LABEL, /* printable ASCII, space allowed: model, versions, sequence */
};

static bool
text_ok(const char *s, enum text_kind kind)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < (kind == TEXT_TOKEN ? 0x21 : 0x20) || c > 0x7e)
			return false;
	}
	return true;
}

/* Copy the string member key of obj into out (max chars). Absent: out = "", 0.
 * Returns -EINVAL for a non-string or a bad character, -E2BIG when too long. */
static int
get_text(const cJSON *obj, const char *key, char *out, size_t max, enum text_kind kind)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
	size_t n;

	out[0] = '\0';
	if (!it)
		return 0;
	if (!cJSON_IsString(it) || !it->valuestring)
		return -EINVAL;
	n = strlen(it->valuestring);
	if (n > max)
		return -E2BIG;
	if (!text_ok(it->valuestring, kind))
		return -EINVAL;
	memcpy(out, it->valuestring, n + 1);
	return 0;
}

/* An integral JSON number within [lo, hi] (both within ±2^53). */
static bool
get_int(const cJSON *it, double lo, double hi, int64_t *ret)
{
	double d;
	int64_t i;

	if (!cJSON_IsNumber(it))
		return false;
	d = it->valuedouble;
	if (!(d >= lo && d <= hi)) /* also false for NaN */
		return false;
	i = (int64_t)d;
	if ((double)i != d)
		return false;
	*ret = i;
	return true;
}

int
proto_parse_object(const char *buf, size_t len, size_t max, cJSON **ret)
{
	const char *end = NULL;
	cJSON *root;

	if (len > max)
		return -EMSGSIZE;
	if (!buf)
		return -EINVAL;
	/* A NUL-terminated private copy: cJSON then never depends on its length
	 * checks alone, and an embedded NUL ends the text early, which the trailing
	 * check below rejects. */
	char *tmp = malloc(len + 1);
	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	root = cJSON_ParseWithLengthOpts(tmp, len, &end, 0);
	while (root && end && end < tmp + len &&
	       (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
		end++;
	bool whole = root && end && end == tmp + len && cJSON_IsObject(root);
	free(tmp);
	if (!whole) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	*ret = root;
	return 0;
}

static int
parse_msg(const cJSON *root, struct proto_msg *m)
{
	const cJSON *it, *params;
	int64_t v;
	int r;

	r = get_text(root, "deviceid", m->deviceid, PROTO_DEVICEID_MAX, TEXT_TOKEN);
	if (r < 0)
		return r;
	if (!m->deviceid[0])
		return -EINVAL;
	if ((r = get_text(root, "apikey", m->apikey, PROTO_APIKEY_MAX, TEXT_TOKEN)) < 0 ||
	    (r = get_text(root, "model", m->model, PROTO_MODEL_MAX, TEXT_LABEL)) < 0 ||
	    (r = get_text(root, "romVersion", m->rom_version, PROTO_ROMVERSION_MAX,
			  TEXT_LABEL)) < 0)
		return r;

	it = cJSON_GetObjectItemCaseSensitive(root, "ts");
	if (get_int(it, -PROTO_EXACT_INT_MAX, PROTO_EXACT_INT_MAX, &v)) {
		m->has_ts = true;
		m->ts = v;
	}

	it = cJSON_GetObjectItemCaseSensitive(root, "sequence");
	if (it) {
		if (cJSON_IsString(it)) {
			/* TEXT_LABEL: devices have been seen sending "Invalid sequence" [klep] */
			r = get_text(root, "sequence", m->sequence, PROTO_SEQUENCE_MAX, TEXT_LABEL);
			if (r < 0)
				return r;
		} else if (get_int(it, 0, PROTO_EXACT_INT_MAX, &v)) {
			snprintf(m->sequence, sizeof(m->sequence), "%" PRId64, v);
		} else {
			return -EINVAL;
		}
		m->has_sequence = true;
	}

	it = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (it) {
		if (!get_int(it, INT32_MIN, INT32_MAX, &v))
			return -EINVAL;
		m->has_error = true;
		m->error = (int)v;
	}

	params = cJSON_GetObjectItemCaseSensitive(root, "params");
	if (params) {
		m->has_params = true;
		if (cJSON_IsObject(params)) {
			it = cJSON_GetObjectItemCaseSensitive(params, "switch");
			if (it) {
				if (cJSON_IsString(it) && strcmp(it->valuestring, "on") == 0)
					m->sw = PROTO_SWITCH_ON;
				else if (cJSON_IsString(it) && strcmp(it->valuestring, "off") == 0)
					m->sw = PROTO_SWITCH_OFF;
				else
					m->sw = PROTO_SWITCH_INVALID;
			}
			m->has_switches =
				cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(params, "switches"));
		}
	}

	it = cJSON_GetObjectItemCaseSensitive(root, "action");
	if (it) {
		r = get_text(root, "action", m->action, PROTO_ACTION_MAX, TEXT_TOKEN);
		if (r < 0)
			return r;
		if (strcmp(m->action, "register") == 0)
			m->type = PROTO_MSG_REGISTER;
		else if (strcmp(m->action, "date") == 0)
			m->type = PROTO_MSG_DATE;
		else if (strcmp(m->action, "update") == 0)
			m->type = PROTO_MSG_UPDATE;
		else if (strcmp(m->action, "query") == 0)
			m->type = PROTO_MSG_QUERY;
		else
			m->type = PROTO_MSG_UNKNOWN;
		return 0;
	}
	if (m->has_error && m->has_sequence) {
		m->type = PROTO_MSG_ACK;
		return 0;
	}
	return -EINVAL;
}

int
proto_parse_device(const char *buf, size_t len, struct proto_msg *ret)
{
	struct proto_msg m;
	cJSON *root = NULL;
	int r;

	r = proto_parse_object(buf, len, PROTO_MSG_MAX, &root);
	if (r < 0)
		return r;
	memset(&m, 0, sizeof(m));
	r = parse_msg(root, &m);
	cJSON_Delete(root);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

int
proto_parse_device_info(const char *buf, size_t len, struct proto_device_info *ret)
{
	struct proto_device_info d;
	cJSON *root = NULL;
	int r;

	r = proto_parse_object(buf, len, PROTO_MSG_MAX, &root);
	if (r < 0)
		return r;
	memset(&d, 0, sizeof(d));
	if ((r = get_text(root, "deviceid", d.deviceid, PROTO_DEVICEID_MAX, TEXT_TOKEN)) < 0 ||
	    (r = get_text(root, "apikey", d.apikey, PROTO_APIKEY_MAX, TEXT_TOKEN)) < 0 ||
	    (r = get_text(root, "accept", d.accept, PROTO_ACCEPT_MAX, TEXT_TOKEN)) < 0)
		goto out;
	if (!d.deviceid[0]) {
		r = -EINVAL;
		goto out;
	}
	*ret = d;
	r = 0;
out:
	cJSON_Delete(root);
	return r;
}

int
proto_parse_dispatch(const char *buf, size_t len, struct proto_dispatch *ret)
{
	cJSON *root = NULL;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = proto_parse_object(buf, len, PROTO_MSG_MAX, &root);
	if (r < 0)
		return r;
	/* Each field on its own: one bad field does not hide the others. get_text
	 * leaves "" on any failure. */
	if (get_text(root, "deviceid", ret->deviceid, PROTO_DEVICEID_MAX, TEXT_TOKEN) < 0)
		ret->deviceid[0] = '\0';
	if (get_text(root, "apikey", ret->apikey, PROTO_APIKEY_MAX, TEXT_TOKEN) < 0)
		ret->apikey[0] = '\0';
	if (get_text(root, "model", ret->model, PROTO_MODEL_MAX, TEXT_LABEL) < 0)
		ret->model[0] = '\0';
	if (get_text(root, "romVersion", ret->rom_version, PROTO_ROMVERSION_MAX, TEXT_LABEL) < 0)
		ret->rom_version[0] = '\0';
	cJSON_Delete(root);
	return 0;
}

int
proto_format_utc(int64_t ms, char out[PROTO_DATE_LEN])
{
	char tmp[64];
	struct tm tm;
	time_t secs;
	int n;

	if (ms < 0 || ms > PROTO_DATE_MS_MAX)
		return -ERANGE;
	secs = (time_t)(ms / 1000);
	if (!gmtime_r(&secs, &tm))
		return -ERANGE;
	n = snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	if (n != PROTO_DATE_LEN - 1)
		return -ERANGE;
	memcpy(out, tmp, PROTO_DATE_LEN);
	return 0;
}

/* ---- builders ------------------------------------------------------------ */

static bool
len_ok(const char *s, size_t min, size_t max)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, max + 1);
	return n >= min && n <= max;
}

static bool
ids_ok(const char *deviceid, const char *apikey)
{
	return len_ok(deviceid, 1, PROTO_DEVICEID_MAX) && len_ok(apikey, 1, PROTO_APIKEY_MAX);
}

static bool
digest_ok(const char *s)
{
	if (!len_ok(s, PROTO_DIGEST_LEN, PROTO_DIGEST_LEN))
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

char *
proto_print_free(cJSON *o, bool ok)
{
	char *s = NULL;

	if (o && ok)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* {"error":0,"deviceid":D,"apikey":K}: the head of every reply. */
static cJSON *
reply_new(const char *deviceid, const char *apikey)
{
	cJSON *o;

	if (!ids_ok(deviceid, apikey))
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (!cJSON_AddNumberToObject(o, "error", 0) ||
	    !cJSON_AddStringToObject(o, "deviceid", deviceid) ||
	    !cJSON_AddStringToObject(o, "apikey", apikey)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* {"action":A,"deviceid":D,"apikey":K,"userAgent":"app","sequence":"<seq>","ts":0}:
 * the head of every server-initiated command. */
static cJSON *
command_new(const char *action, const char *deviceid, const char *apikey, uint64_t sequence)
{
	char seq[PROTO_SEQUENCE_MAX + 1];
	cJSON *o;

	if (!ids_ok(deviceid, apikey))
		return NULL;
	snprintf(seq, sizeof(seq), "%" PRIu64, sequence);
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (!cJSON_AddStringToObject(o, "action", action) ||
	    !cJSON_AddStringToObject(o, "deviceid", deviceid) ||
	    !cJSON_AddStringToObject(o, "apikey", apikey) ||
	    !cJSON_AddStringToObject(o, "userAgent", "app") ||
	    !cJSON_AddStringToObject(o, "sequence", seq) || !cJSON_AddNumberToObject(o, "ts", 0)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

char *
proto_build_register_reply(const char *deviceid, const char *server_apikey)
{
	cJSON *o = reply_new(deviceid, server_apikey), *cfg;
	bool ok;

	ok = o && (cfg = cJSON_AddObjectToObject(o, "config")) &&
	     cJSON_AddNumberToObject(cfg, "hb", 1) &&
	     cJSON_AddNumberToObject(cfg, "hbInterval", PROTO_HB_INTERVAL);
	return proto_print_free(o, ok);
}

char *
proto_build_date_reply(const char *deviceid, const char *server_apikey, int64_t now_ms)
{
	char date[PROTO_DATE_LEN];
	cJSON *o;
	bool ok;

	if (proto_format_utc(now_ms, date) < 0)
		return NULL;
	o = reply_new(deviceid, server_apikey);
	ok = o && cJSON_AddStringToObject(o, "date", date);
	return proto_print_free(o, ok);
}

char *
proto_build_update_reply(const char *deviceid, const char *server_apikey)
{
	cJSON *o = reply_new(deviceid, server_apikey);

	return proto_print_free(o, o != NULL);
}

char *
proto_build_query_reply(const char *deviceid, const char *server_apikey)
{
	cJSON *o = reply_new(deviceid, server_apikey);
	bool ok;

	ok = o && cJSON_AddNumberToObject(o, "params", 0);
	return proto_print_free(o, ok);
}

char *
proto_build_relay(const char *deviceid, const char *server_apikey, uint64_t sequence, bool on)
{
	cJSON *o = command_new("update", deviceid, server_apikey, sequence), *params;
	bool ok;

	ok = o && (params = cJSON_AddObjectToObject(o, "params")) &&
	     cJSON_AddStringToObject(params, "switch", on ? "on" : "off") &&
	     cJSON_AddStringToObject(o, "from", "app");
	return proto_print_free(o, ok);
}

static bool
add_bin(cJSON *list, const char *url, const char *digest, const char *name)
{
	cJSON *b = cJSON_CreateObject();

	if (!b)
		return false;
	if (!cJSON_AddStringToObject(b, "downloadUrl", url) ||
	    !cJSON_AddStringToObject(b, "digest", digest) ||
	    !cJSON_AddStringToObject(b, "name", name) || !cJSON_AddItemToArray(list, b)) {
		cJSON_Delete(b);
		return false;
	}
	return true;
}

char *
proto_build_upgrade(const struct proto_upgrade *u)
{
	const char *model;
	cJSON *o, *params, *list;
	bool ok;

	if (!u || !len_ok(u->url_user1, 1, PROTO_URL_MAX) ||
	    !len_ok(u->url_user2, 1, PROTO_URL_MAX) || !digest_ok(u->digest_user1) ||
	    !digest_ok(u->digest_user2))
		return NULL;
	model = u->model && u->model[0] ? u->model : PROTO_DEFAULT_MODEL;
	if (!len_ok(model, 1, PROTO_MODEL_MAX))
		return NULL;

	o = command_new("upgrade", u->deviceid, u->server_apikey, u->sequence);
	ok = o && (params = cJSON_AddObjectToObject(o, "params")) &&
	     (list = cJSON_AddArrayToObject(params, "binList")) &&
	     add_bin(list, u->url_user1, u->digest_user1, "user1.bin") &&
	     add_bin(list, u->url_user2, u->digest_user2, "user2.bin") &&
	     cJSON_AddStringToObject(params, "model", model) &&
	     cJSON_AddStringToObject(params, "version", PROTO_UPGRADE_VERSION);
	return proto_print_free(o, ok);
}

char *
proto_build_dispatch_reply(const char *ip, uint16_t port)
{
	cJSON *o;
	bool ok;

	if (!len_ok(ip, 1, PROTO_HOST_MAX))
		return NULL;
	o = cJSON_CreateObject();
	ok = o && cJSON_AddNumberToObject(o, "error", 0) &&
	     cJSON_AddStringToObject(o, "reason", "ok") && cJSON_AddStringToObject(o, "IP", ip) &&
	     cJSON_AddNumberToObject(o, "port", port);
	return proto_print_free(o, ok);
}

char *
proto_build_ap(const char *ssid, const char *password, const char *server_name, uint16_t port)
{
	cJSON *o;
	bool ok;

	if (!len_ok(ssid, 1, PROTO_SSID_MAX) || !len_ok(password, 0, PROTO_PASSWORD_MAX) ||
	    !len_ok(server_name, 1, PROTO_HOST_MAX))
		return NULL;
	o = cJSON_CreateObject();
	ok = o && cJSON_AddNumberToObject(o, "version", 4) &&
	     cJSON_AddStringToObject(o, "ssid", ssid) &&
	     cJSON_AddStringToObject(o, "password", password) &&
	     cJSON_AddStringToObject(o, "serverName", server_name) &&
	     cJSON_AddNumberToObject(o, "port", port);
	return proto_print_free(o, ok);
}

/* diy: see diy.h. Message shapes: DIY-PROTOCOL.md §3.1 (envelope), §4 (info), §4.1
 * (ota_unlock), §5.1-§5.4 (ota_flash); codes §3.4 and §5.5; the sequence §10.
 *
 * cJSON with its default allocator: printed strings are freed with free(); every parsed
 * root is freed before returning and results are copied into fixed-size fields.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "diy.h"
#include "proto.h"
#include "util.h"

#define EXACT_INT_MAX 9007199254740992.0 /* 2^53: JSON numbers beyond it lost digits */

/* ---- decoding ---------------------------------------------------------------------- */

/* buf as one JSON object with only whitespace after it; *ret owned by the caller. */
static int
parse_object(const char *buf, size_t len, cJSON **ret)
{
	return proto_parse_object(buf, len, DIY_REPLY_MAX, ret);
}

static bool
get_int(const cJSON *it, double lo, double hi, int64_t *ret)
{
	double d;

	if (!cJSON_IsNumber(it))
		return false;
	d = it->valuedouble;
	if (!(d >= lo && d <= hi) || (double)(int64_t)d != d)
		return false;
	*ret = (int64_t)d;
	return true;
}

/* Optional printable-ASCII string member (space allowed: SSIDs have spaces). */
static int
get_text(const cJSON *obj, const char *key, char *out, size_t max)
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
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)it->valuestring[i];
		if (c < 0x20 || c > 0x7e)
			return -EINVAL;
	}
	memcpy(out, it->valuestring, n + 1);
	return 0;
}

static int
envelope(const cJSON *root, struct diy_reply *r)
{
	const cJSON *it;
	int64_t v;

	memset(r, 0, sizeof(*r));
	if (!get_int(cJSON_GetObjectItemCaseSensitive(root, "error"), INT32_MIN, INT32_MAX, &v))
		return -EINVAL;
	r->error = (int)v;
	it = cJSON_GetObjectItemCaseSensitive(root, "seq");
	if (it) {
		if (!get_int(it, 0, UINT32_MAX, &v))
			return -EINVAL;
		r->has_seq = true;
		r->seq = (uint32_t)v;
	}
	return 0;
}

int
diy_parse_reply(const char *buf, size_t len, struct diy_reply *ret)
{
	struct diy_reply r;
	cJSON *root;
	int e;

	e = parse_object(buf, len, &root);
	if (e < 0)
		return e;
	e = envelope(root, &r);
	cJSON_Delete(root);
	if (e == 0)
		*ret = r;
	return e;
}

static int
info_fields(const cJSON *d, struct diy_info *in)
{
	const cJSON *it;
	int64_t v;
	int r;

	if ((r = get_text(d, "deviceid", in->deviceid, DIY_DEVICEID_MAX)) < 0 ||
	    (r = get_text(d, "fwVersion", in->fw_version, DIY_VERSION_MAX)) < 0 ||
	    (r = get_text(d, "ssid", in->ssid, DIY_SSID_MAX)) < 0 ||
	    (r = get_text(d, "bssid", in->bssid, DIY_BSSID_MAX)) < 0)
		return r;
	it = cJSON_GetObjectItemCaseSensitive(d, "otaUnlock");
	if (it) {
		if (!cJSON_IsBool(it))
			return -EINVAL;
		in->has_ota_unlock = true;
		in->ota_unlock = cJSON_IsTrue(it);
	}
	it = cJSON_GetObjectItemCaseSensitive(d, "signalStrength");
	if (it) {
		if (!get_int(it, -200, 200, &v))
			return -EINVAL;
		in->has_signal = true;
		in->signal_dbm = (int)v;
	}
	in->multi_channel = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(d, "switches"));

	in->fw = diy_fw_from_version(in->fw_version);
	if (in->fw == DIY_FW_UNKNOWN) {
		if (in->multi_channel)
			in->fw = DIY_FW_MINIR3;
		else if (in->data_is_string && !in->fw_version[0])
			in->fw = DIY_FW_33;
	}
	return 0;
}

int
diy_parse_info(const char *buf, size_t len, struct diy_info *ret)
{
	struct diy_info in;
	cJSON *root = NULL, *inner = NULL;
	const cJSON *data;
	int r;

	r = parse_object(buf, len, &root);
	if (r < 0)
		return r;
	memset(&in, 0, sizeof(in));
	r = envelope(root, &in.reply);
	if (r < 0 || in.reply.error != 0)
		goto out;
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	if (cJSON_IsString(data) && data->valuestring) {
		/* 3.3/3.4: the object is inside a JSON string (§3.1). Its length is bounded by
		 * the reply's. */
		in.data_is_string = true;
		r = parse_object(data->valuestring, strlen(data->valuestring), &inner);
		if (r < 0) {
			r = -EINVAL;
			goto out;
		}
		data = inner;
	} else if (!cJSON_IsObject(data)) {
		r = -EINVAL;
		goto out;
	}
	r = info_fields(data, &in);
out:
	cJSON_Delete(inner);
	cJSON_Delete(root);
	if (r == 0)
		*ret = in;
	return r;
}

/* ---- firmware lines and routes ----------------------------------------------------- */

/* "a.b[.c...]" with decimal numbers; 0 with major/minor, or -EINVAL. */
static int
version_split(const char *s, unsigned *major, unsigned *minor)
{
	unsigned v[2] = { 0, 0 };

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 2; i++) {
		unsigned n = 0, digits = 0;

		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			if (digits >= 4)
				return -EINVAL;
			n = n * 10 + (unsigned)(*s - '0');
		}
		if (!digits)
			return -EINVAL;
		v[i] = n;
		if (i == 0 && *s++ != '.')
			return -EINVAL;
	}
	/* further components: digits and dots only ("3.6.0"; not "3.6.0-beta") */
	for (; *s; s++)
		if (*s != '.' && !(*s >= '0' && *s <= '9'))
			return -EINVAL;
	*major = v[0];
	*minor = v[1];
	return 0;
}

enum diy_fw
diy_fw_from_version(const char *version)
{
	unsigned ma, mi;

	if (version_split(version, &ma, &mi) < 0 || ma != 3)
		return DIY_FW_UNKNOWN;
	if (mi < 3)
		return DIY_FW_PRE33;
	if (mi < 5)
		return DIY_FW_33;
	if (mi < 7)
		return DIY_FW_35;
	return DIY_FW_37;
}

enum diy_route
diy_route_for_version(const char *version)
{
	unsigned ma, mi;

	if (version_split(version, &ma, &mi) < 0)
		return DIY_ROUTE_UNKNOWN;
	if (ma == 1 || ma == 2)
		return mi < 6 ? DIY_ROUTE_CLOUD : DIY_ROUTE_NONE;
	if (ma == 3)
		return DIY_ROUTE_DIY;
	return DIY_ROUTE_UNKNOWN;
}

const char *
diy_fw_name(enum diy_fw fw)
{
	static const char *const names[_DIY_FW_MAX] = {
		[DIY_FW_UNKNOWN] = "unknown", [DIY_FW_PRE33] = "3.0-3.2",
		[DIY_FW_33] = "3.3-3.4",      [DIY_FW_35] = "3.5-3.6",
		[DIY_FW_37] = "3.7+",         [DIY_FW_MINIR3] = "minir3",
	};

	return (unsigned)fw < _DIY_FW_MAX ? names[fw] : "unknown";
}

const char *
diy_route_name(enum diy_route r)
{
	switch (r) {
	case DIY_ROUTE_CLOUD: return "cloud";
	case DIY_ROUTE_DIY: return "diy";
	case DIY_ROUTE_NONE: return "none";
	default: return "unknown";
	}
}

/* ---- error codes ------------------------------------------------------------------- */

struct code_text {
	int code;
	const char *text;
};

static const struct code_text api_codes[] = {
	{ 0, "success" },
	{ 400, "the device could not parse the request body as JSON (our bug)" },
	{ 401, "the device is in eWeLink LAN mode (encrypted), not DIY mode: enter DIY mode "
	       "first" },
	{ 403, "OTA is locked: ota_unlock has not succeeded on this device" },
	{ 404, "the device does not accept this deviceid: it is not the id it announces" },
	{ 408, "the device timed out pre-downloading the image: check that it can reach our "
	       "image server" },
	{ 413, "the image is larger than the device accepts (508 KB)" },
	{ 422, "the device refused the parameters (MINIR3 answers this when deviceid is sent)" },
	{ 424, "the device could not download the image (unreachable address, not HTTP, no "
	       "Range support)" },
	{ 471, "the image's SHA-256 did not match: do not power-cycle the device, retry the "
	       "flash" },
	{ 500, "the unlock server rejected the device (id or API key): ota_unlock failed" },
	{ 503, "the unlock server is unreachable: the device needs Internet access to unlock "
	       "OTA" },
};

static const struct code_text completion_codes[] = {
	{ 0, "the device verified the image and is writing it" },
	{ 404, "the device's download failed (connection, Range answer or size)" },
	{ 406, "the device could not issue the upgrade (\"error issuing upgrade message\")" },
	{ 409, "the device's check of the downloaded image failed (digest or format); it stays "
	       "on its firmware" },
	{ 410, "internal error on the device during the upgrade" },
};

static const struct code_text *
table(enum diy_err_ctx ctx, size_t *n)
{
	if (ctx == DIY_ERR_COMPLETION) {
		*n = sizeof(completion_codes) / sizeof(completion_codes[0]);
		return completion_codes;
	}
	*n = sizeof(api_codes) / sizeof(api_codes[0]);
	return api_codes;
}

const char *
diy_error_text(enum diy_err_ctx ctx, int code)
{
	size_t n;
	const struct code_text *t = table(ctx, &n);

	for (size_t i = 0; i < n; i++)
		if (t[i].code == code)
			return t[i].text;
	return NULL;
}

const int *
diy_error_codes(enum diy_err_ctx ctx, size_t *ret_n)
{
	static const int api[] = { 0, 400, 401, 403, 404, 408, 413, 422, 424, 471, 500, 503 };
	static const int completion[] = { 0, 404, 406, 409, 410 };

	if (ctx == DIY_ERR_COMPLETION) {
		*ret_n = sizeof(completion) / sizeof(completion[0]);
		return completion;
	}
	*ret_n = sizeof(api) / sizeof(api[0]);
	return api;
}

/* ---- builders ---------------------------------------------------------------------- */

static bool
ipv4_literal(const char *s)
{
	unsigned parts = 0;

	if (!s)
		return false;
	for (;;) {
		unsigned n = 0, digits = 0;

		for (; *s >= '0' && *s <= '9'; s++) {
			if (digits == 1 && n == 0)
				return false; /* no leading zero: "010" reads as octal elsewhere */
			n = n * 10 + (unsigned)(*s - '0');
			if (++digits > 3 || n > 255)
				return false;
		}
		if (!digits)
			return false;
		parts++;
		if (*s == '\0')
			return parts == 4;
		if (*s++ != '.' || parts == 4)
			return false;
	}
}

const char *
diy_ipv4_unusable(const char *ipv4)
{
	unsigned a, b;

	if (!ipv4_literal(ipv4) || sscanf(ipv4, "%u.%u", &a, &b) != 2)
		return "not an IPv4 address in dotted-quad form";
	if (a == 0)
		return "0.0.0.0/8 is not an address a device can connect to";
	if (a == 127)
		return "a loopback address: the device cannot reach 127.0.0.0/8 on this host";
	if (a == 169 && b == 254)
		return "a link-local address: the device has a DHCP address on another subnet";
	if (a >= 224 && a <= 239)
		return "a multicast address";
	if (a >= 240)
		return "a reserved or broadcast address";
	return NULL;
}

int
diy_format_url(const char *ipv4, uint16_t port, const char *path, char out[DIY_URL_MAX + 1])
{
	size_t n;
	int w;

	if (!ipv4_literal(ipv4) || port == 0 || !path || path[0] != '/')
		return -EINVAL;
	n = strlen(path);
	if (n > DIY_PATH_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c <= 0x20 || c > 0x7e || c == '?' || c == '#' || c == '%')
			return -EINVAL;
	}
	w = snprintf(out, DIY_URL_MAX + 1, "http://%s:%u%s", ipv4, (unsigned)port, path);
	if (w < 0 || (size_t)w > DIY_URL_MAX)
		return -EINVAL;
	return 0;
}

static bool
deviceid_ok(const char *id)
{
	size_t n;

	if (!id)
		return true; /* omitted */
	n = strnlen(id, DIY_DEVICEID_MAX + 1);
	if (n == 0 || n > DIY_DEVICEID_MAX)
		return false; /* "" is refused by 3.7.x (§3.2): never sent */
	for (size_t i = 0; i < n; i++)
		if (id[i] <= 0x20 || id[i] > 0x7e)
			return false;
	return true;
}

/* {"deviceid":D,"data":{}} (deviceid omitted when NULL); *ret_data is the data object. */
static cJSON *
request_new(const char *deviceid, cJSON **ret_data)
{
	cJSON *o;

	if (!deviceid_ok(deviceid))
		return NULL;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if ((deviceid && !cJSON_AddStringToObject(o, "deviceid", deviceid)) ||
	    !(*ret_data = cJSON_AddObjectToObject(o, "data"))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

char *
diy_build_info(const char *deviceid)
{
	cJSON *data;
	cJSON *o = request_new(deviceid, &data);

	return proto_print_free(o, o != NULL);
}

char *
diy_build_ota_unlock(const char *deviceid)
{
	return diy_build_info(deviceid); /* same shape: {"deviceid":D,"data":{}} */
}

char *
diy_build_ota_flash(const char *deviceid, const char *ipv4, uint16_t port, const char *path,
		    const char *sha256_hex)
{
	char url[DIY_URL_MAX + 1], hex[DIY_SHA256_HEX + 1];
	cJSON *data, *o;
	bool ok;

	if (diy_format_url(ipv4, port, path, url) < 0 || !sha256_hex ||
	    strnlen(sha256_hex, DIY_SHA256_HEX + 1) != DIY_SHA256_HEX)
		return NULL;
	for (int i = 0; i < DIY_SHA256_HEX; i++) {
		char c = sha256_hex[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return NULL;
		hex[i] = c;
	}
	hex[DIY_SHA256_HEX] = '\0';
	o = request_new(deviceid, &data);
	ok = o && cJSON_AddStringToObject(data, "downloadUrl", url) &&
	     cJSON_AddStringToObject(data, "sha256sum", hex);
	return proto_print_free(o, ok);
}

int
diy_parse_completion(const char *buf, size_t len, int *ret_error)
{
	cJSON *root;
	int64_t v;
	bool ok;
	int r;

	r = parse_object(buf, len, &root);
	if (r < 0)
		return r;
	ok = get_int(cJSON_GetObjectItemCaseSensitive(root, "error"), INT32_MIN, INT32_MAX, &v);
	cJSON_Delete(root);
	if (!ok)
		return -EINVAL;
	*ret_error = (int)v;
	return 0;
}

/* dnssd: see dnssd.h. TXT keys and values: DIY-PROTOCOL.md §2 (table), LAN mode §8; the
 * known types: [D14], [DR3], SonoffLAN's DIY table (§1.1).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "dnssd.h"

/* TXT types of devices seen in DIY mode (§1.1, §2). Only these are offered the DIY route:
 * an unknown type may speak another API ([D14] §4.2 note 1). */
static const char *const known_types[] = {
	"diy_plug", "diylight", "diy_light", "plug", "strip", "enhanced_plug", "th_plug",
	"rf", "fan_light", "switch_radar", "multifun_switch",
};

static int
parse_uint(const uint8_t *v, size_t n, uint32_t max, uint32_t *ret)
{
	uint64_t x = 0;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		x = x * 10 + (v[i] - '0');
	}
	if (x > max)
		return -EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

static bool
key_is(const uint8_t *k, size_t klen, const char *name)
{
	return strlen(name) == klen && strncasecmp((const char *)k, name, klen) == 0;
}

/* A printable token without space (ids and types are). */
static int
copy_token(char *out, size_t max, const uint8_t *v, size_t n)
{
	if (n > max)
		return -E2BIG;
	for (size_t i = 0; i < n; i++)
		if (v[i] <= 0x20 || v[i] > 0x7e)
			return -EINVAL;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

int
dnssd_txt_add(struct dnssd_txt *t, const uint8_t *s, size_t len)
{
	const uint8_t *eq, *v;
	size_t klen, vlen;
	uint32_t n;
	int r;

	if (len > 255)
		return -EINVAL; /* one length byte on the wire */
	if (t->total + 1 + len > DNSSD_TXT_MAX)
		return -E2BIG;
	t->total += 1 + len;
	if (len == 0)
		return 0; /* an empty string is allowed (RFC 6763 §6.1: empty record) */
	eq = memchr(s, '=', len);
	klen = eq ? (size_t)(eq - s) : len;
	if (klen == 0)
		return -EINVAL;
	v = eq ? eq + 1 : s + len;
	vlen = eq ? len - klen - 1 : 0;

	if (key_is(s, klen, "id")) {
		if (t->id[0])
			return 0;
		return copy_token(t->id, DNSSD_ID_MAX, v, vlen);
	}
	if (key_is(s, klen, "type")) {
		if (t->type[0])
			return 0;
		return copy_token(t->type, DNSSD_TYPE_MAX, v, vlen);
	}
	if (key_is(s, klen, "txtvers") || key_is(s, klen, "apivers") || key_is(s, klen, "seq")) {
		bool *has = key_is(s, klen, "seq")       ? &t->has_seq
			    : key_is(s, klen, "txtvers") ? &t->has_txtvers
							 : &t->has_apivers;
		if (*has)
			return 0;
		r = parse_uint(v, vlen, UINT32_MAX, &n);
		if (r < 0)
			return r;
		*has = true;
		if (key_is(s, klen, "seq"))
			t->seq = n;
		else if (key_is(s, klen, "txtvers"))
			t->txtvers = n;
		else
			t->apivers = n;
		return 0;
	}
	if (key_is(s, klen, "encrypt")) {
		/* "encrypt=true" in LAN mode; a bare "encrypt" attribute counts as true. */
		t->encrypt = t->encrypt || !eq || (vlen == 4 && strncasecmp((const char *)v,
									  "true", 4) == 0);
		return 0;
	}
	if (key_is(s, klen, "iv")) {
		t->has_iv = true;
		return 0;
	}
	if (klen == 5 && strncasecmp((const char *)s, "data", 4) == 0 &&
	    s[4] >= '1' && s[4] <= '0' + DNSSD_DATA_PIECES) {
		unsigned i = (unsigned)(s[4] - '1');

		if (t->data_mask & (1u << i))
			return 0;
		t->data_mask |= 1u << i;
		memcpy(t->data[i], v, vlen);
		t->data_len[i] = vlen;
		return 0;
	}
	return 0; /* unknown key: ignored */
}

int
dnssd_txt_parse(const uint8_t *rdata, size_t len, struct dnssd_txt *ret)
{
	struct dnssd_txt t;
	size_t off = 0;
	int r;

	memset(&t, 0, sizeof(t));
	if (len > DNSSD_TXT_MAX)
		return -E2BIG;
	while (off < len) {
		size_t n = rdata[off++];

		if (n > len - off)
			return -EINVAL;
		r = dnssd_txt_add(&t, rdata + off, n);
		if (r < 0)
			return r;
		off += n;
	}
	*ret = t;
	return 0;
}

int
dnssd_txt_data(const struct dnssd_txt *t, char *out, size_t outlen)
{
	size_t n = 0;
	unsigned i;

	if (!(t->data_mask & 1u))
		return -ENOENT;
	for (i = 0; i < DNSSD_DATA_PIECES && (t->data_mask & (1u << i)); i++) {
		if (t->data_len[i] >= outlen - n)
			return -E2BIG;
		memcpy(out + n, t->data[i], t->data_len[i]);
		n += t->data_len[i];
	}
	out[n] = '\0';
	if (t->data_mask >> i)
		return -EINVAL; /* dataK present after a missing piece */
	if (memchr(out, '\0', n))
		return -EINVAL; /* a NUL inside would cut the JSON silently */
	return (int)n;
}

int
dnssd_id_from_instance(const char *name, char out[DNSSD_ID_MAX + 1])
{
	size_t p = strlen(DNSSD_INSTANCE_PREFIX), n;
	const char *id, *dot;

	/* SonoffLAN accepts the lower-case "eWelink_" of uiid 104; the rest of the prefix
	 * must match. */
	if (!name || strncasecmp(name, DNSSD_INSTANCE_PREFIX, p) != 0)
		return -EINVAL;
	id = name + p;
	dot = strchr(id, '.');
	n = dot ? (size_t)(dot - id) : strlen(id);
	if (n == 0)
		return -EINVAL;
	return copy_token(out, DNSSD_ID_MAX, (const uint8_t *)id, n) < 0 ? -EINVAL : 0;
}

const char *
dnssd_mode_name(enum dnssd_mode m)
{
	switch (m) {
	case DNSSD_MODE_DIY: return "diy";
	case DNSSD_MODE_LAN: return "lan";
	default: return "unsupported";
	}
}

static bool
type_known(const char *type)
{
	for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
		if (strcmp(type, known_types[i]) == 0)
			return true;
	return false;
}

/* The DIY state JSON of dataN: collect what the listing shows. */
static void
read_state(const struct dnssd_txt *t, struct dnssd_device *d)
{
	char buf[DNSSD_DATA_MAX + 1];
	const cJSON *it;
	cJSON *root;
	int n = dnssd_txt_data(t, buf, sizeof(buf));

	if (n < 0)
		return;
	root = cJSON_ParseWithLength(buf, (size_t)n);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return;
	}
	d->state_ok = true;
	it = cJSON_GetObjectItemCaseSensitive(root, "otaUnlock");
	if (cJSON_IsBool(it)) {
		d->has_ota_unlock = true;
		d->ota_unlock = cJSON_IsTrue(it);
	}
	d->multi_channel = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "switches"));
	it = cJSON_GetObjectItemCaseSensitive(root, "ssid");
	if (cJSON_IsString(it) && it->valuestring && strlen(it->valuestring) <= DIY_SSID_MAX) {
		bool printable = true;

		for (const char *c = it->valuestring; *c; c++)
			printable =
			    printable && (unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f;
		if (printable)
			strcpy(d->ssid, it->valuestring);
	}
	cJSON_Delete(root);
}

void
dnssd_classify(const struct dnssd_txt *t, const char *instance, struct dnssd_device *d)
{
	memset(d, 0, sizeof(*d));
	d->route = DIY_ROUTE_UNKNOWN;
	strcpy(d->type, t->type);
	strcpy(d->id, t->id);
	if (!d->id[0] && dnssd_id_from_instance(instance, d->id) < 0) {
		d->mode = DNSSD_MODE_UNSUPPORTED;
		d->why = "the announcement carries no device id";
		return;
	}
	if (t->encrypt || t->has_iv) {
		d->mode = DNSSD_MODE_LAN;
		d->route = DIY_ROUTE_NONE;
		d->why = DNSSD_LAN_MODE_TODO;
		return;
	}
	if (t->has_apivers && t->apivers > DNSSD_APIVERS_MAX) {
		d->mode = DNSSD_MODE_UNSUPPORTED;
		d->why = "apivers is newer than the DIY API we know";
		return;
	}
	if (!type_known(t->type)) {
		d->mode = DNSSD_MODE_UNSUPPORTED;
		d->why = "device type unknown to the DIY route";
		return;
	}
	d->mode = DNSSD_MODE_DIY;
	d->route = DIY_ROUTE_DIY;
	read_state(t, d);
	d->why = d->state_ok ? "DIY mode" : "DIY mode (state unreadable)";
}

const char *
dnssd_hidden_diagnosis(const struct dnssd_hidden *h)
{
	if (h->seen_lan_mode)
		return "the device announces eWeLink LAN mode, not DIY mode: " DNSSD_LAN_MODE_TODO;
	if (h->ip_given && h->ip_answers_8081)
		return "the device answers at its address but not over mDNS: multicast is blocked "
		       "between it and us (router isolation, Docker, VM); use --device-ip";
	if (h->ip_given && !h->ip_same_subnet)
		return "the device's address is on another subnet: mDNS does not cross routers; "
		       "run from the device's network, or give this computer a route to it";
	if (h->ip_given)
		return "nothing answers on port 8081 at that address: the device is not in DIY "
		       "mode, or is off the network";
	if (!h->avahi_running)
		return "no mDNS daemon (Avahi) on this host: start avahi-daemon or name the "
		       "device with --device-ip";
	if (h->others_seen)
		return "other eWeLink devices are visible but not this one: it is not in DIY "
		       "mode, or is on another network";
	return "no eWeLink device visible: mDNS may be blocked on this network, the device may "
	       "be on another subnet or not in DIY mode; try --device-ip";
}

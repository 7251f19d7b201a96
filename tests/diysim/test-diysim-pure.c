/* Self-test of diysim's pure parts: model files, HTTP heads, URLs, the mDNS encoder (decoded
 * here independently), the query matcher, image verdicts and the deviceid rules.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "diysim.h"

static void
test_models(void)
{
	struct sim_model m;
	char err[128];
	const char *dir = getenv("DIYSIM_MODELS");
	unsigned n = 0;
	DIR *d;
	struct dirent *e;

	sim_model_defaults(&m);
	CHECK_INT(sim_model_parse(&m, "# c\nfw_version=3.7.6\ndeviceid_rule=strict\n"
				      "host_itead=yes\nsize_max=508000\n", err, sizeof(err)), 0);
	CHECK_STR(m.fw_version, "3.7.6");
	CHECK(m.idrule == SIM_ID_STRICT && m.host_itead && m.size_max == 508000);
	CHECK(m.goodbye); /* the default: the goodbye of §9.12 */
	CHECK_INT(sim_model_parse(&m, "goodbye=no\n", err, sizeof(err)), 0);
	CHECK(!m.goodbye);
	CHECK_INT(sim_model_parse(&m, "goodbye=later\n", err, sizeof(err)), -EINVAL);
	CHECK(m.reboot);
	CHECK_INT(sim_model_parse(&m, "reboot=no\n", err, sizeof(err)), 0);
	CHECK(!m.reboot);
	CHECK_INT(sim_model_parse(&m, "colour=red\n", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "unknown key") != NULL);
	CHECK_INT(sim_model_parse(&m, "host_itead=maybe\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(sim_model_parse(&m, "drop_at=100\n", err, sizeof(err)), -EINVAL);
	CHECK_INT(sim_model_parse(&m, "novalue\n", err, sizeof(err)), -EINVAL);
	/* diyap: which mode POST /ap leaves (§1.3), diy by default */
	sim_model_defaults(&m);
	CHECK(m.pair_ap == SIM_PAIR_DIY);
	CHECK_INT(sim_model_parse(&m, "pair_ap=lan\n", err, sizeof(err)), 0);
	CHECK(m.pair_ap == SIM_PAIR_LAN);
	CHECK_INT(sim_model_parse(&m, "pair_ap=diy\n", err, sizeof(err)), 0);
	CHECK(m.pair_ap == SIM_PAIR_DIY);
	CHECK_INT(sim_model_parse(&m, "pair_ap=cloud\n", err, sizeof(err)), -EINVAL);
	/* every shipped model parses */
	d = dir ? opendir(dir) : NULL;
	CHECK(d != NULL);
	while (d && (e = readdir(d))) {
		char path[512], text[8193];
		FILE *f;
		size_t len;

		if (!strstr(e->d_name, ".model"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[len] = '\0';
		sim_model_defaults(&m);
		CHECK_MSG(sim_model_parse(&m, text, err, sizeof(err)) == 0, "%s: %s", e->d_name,
		          err);
		n++;
	}
	if (d)
		closedir(d);
	CHECK_MSG(n >= 4, "%u models", n);
}

static void
test_http(void)
{
	static const char rq[] = "POST /zeroconf/info HTTP/1.1\r\nHost: 1.2.3.4:8081\r\n"
				 "content-length: 12\r\n\r\n";
	static const char rq10[] = "POST /zeroconf/info HTTP/1.0\r\n\r\n";
	static const char rs[] =
	    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-4095/8192\r\n"
	    "Content-Length: 4096\r\nConnection: keep-alive\r\n\r\n";
	static const char rs_itead[] =
	    "HTTP/1.1 206 OK\r\nContent-Range: bytes=0-4095/8192\r\n\r\n";
	static const char rs_bad[] = "HTTP/1.1 206 OK\r\nContent-Range: bytes 5-4/8192\r\n\r\n";
	struct sim_req r;
	struct sim_resp p;
	char host[64], path[128];
	uint16_t port;

	CHECK_INT(sim_parse_req(rq, strlen(rq), &r), 0);
	CHECK(r.minor == 1 && r.content_length == 12 && !strcmp(r.path, "/zeroconf/info"));
	CHECK_STR(r.host, "1.2.3.4:8081");
	CHECK_INT(sim_parse_req(rq10, strlen(rq10), &r), 0);
	CHECK_INT(r.minor, 0);
	CHECK_INT(sim_parse_req("garbage\r\n\r\n", 11, &r), -EINVAL);
	CHECK_INT(sim_parse_resp(rs, strlen(rs), &p), 0);
	CHECK(p.status == 206 && p.has_range && p.cr_a == 0 && p.cr_b == 4095 &&
	      p.cr_total == 8192 && p.content_length == 4096 && !p.close);
	CHECK_INT(sim_parse_resp(rs_itead, strlen(rs_itead), &p), -EPROTO);
	CHECK_INT(sim_parse_resp(rs_bad, strlen(rs_bad), &p), -EPROTO);

	CHECK_INT(sim_parse_url("http://192.168.1.5:8000/diy/x.bin", host, &port, path), 0);
	CHECK(!strcmp(host, "192.168.1.5") && port == 8000 && !strcmp(path, "/diy/x.bin"));
	CHECK_INT(sim_parse_url("http://10.0.0.1/x", host, &port, path), 0);
	CHECK_INT(port, 80);
	CHECK_INT(sim_parse_url("https://10.0.0.1/x", host, &port, path), -EINVAL);
	CHECK_INT(sim_parse_url("http://pc.local/x", host, &port, path), -EINVAL);
	CHECK_INT(sim_parse_url("http://10.0.0.1:0/x", host, &port, path), -EINVAL);
	CHECK_INT(sim_parse_url("http://10.0.0.1:80", host, &port, path), -EINVAL);
}

/* Independent decoder: walk the answers and collect what the encoder wrote. */
struct seen {
	unsigned answers, ptr, srv, txt, a;
	uint32_t ttl_min, ttl_max;
	unsigned srv_port;
	char txt_all[2048];
	uint8_t addr[4];
};

static size_t
skip_name(const uint8_t *p, size_t len, size_t off, char *out, size_t outlen)
{
	size_t o = 0;

	while (off < len && p[off]) {
		size_t n = p[off];

		if (o + n + 2 < outlen) {
			memcpy(out + o, p + off + 1, n);
			o += n;
			out[o++] = '.';
		}
		off += n + 1;
	}
	out[o] = '\0';
	return off + 1;
}

static int
decode(const uint8_t *p, size_t len, struct seen *s)
{
	size_t off = 12;

	memset(s, 0, sizeof(*s));
	s->ttl_min = UINT32_MAX;
	if (len < 12 || p[2] != 0x84 || p[3] != 0)
		return -1;
	s->answers = (unsigned)p[6] << 8 | p[7];
	for (unsigned i = 0; i < s->answers; i++) {
		char name[256];
		unsigned type, rdl;
		uint32_t ttl;

		off = skip_name(p, len, off, name, sizeof(name));
		if (off + 10 > len)
			return -1;
		type = (unsigned)p[off] << 8 | p[off + 1];
		ttl = (uint32_t)p[off + 4] << 24 | (uint32_t)p[off + 5] << 16 |
		      (uint32_t)p[off + 6] << 8 | p[off + 7];
		rdl = (unsigned)p[off + 8] << 8 | p[off + 9];
		off += 10;
		if (off + rdl > len)
			return -1;
		s->ttl_min = ttl < s->ttl_min ? ttl : s->ttl_min;
		s->ttl_max = ttl > s->ttl_max ? ttl : s->ttl_max;
		if (type == 12 && !strcmp(name, "_ewelink._tcp.local."))
			s->ptr++;
		if (type == 33 && !strcmp(name, "eWeLink_1000abcdef._ewelink._tcp.local.")) {
			s->srv++;
			s->srv_port = (unsigned)p[off + 4] << 8 | p[off + 5];
		}
		if (type == 16) {
			size_t t = off, o = 0;

			s->txt++;
			while (t < off + rdl) {
				size_t n = p[t];

				memcpy(s->txt_all + o, p + t + 1, n);
				o += n;
				s->txt_all[o++] = '|';
				t += n + 1;
			}
			s->txt_all[o] = '\0';
		}
		if (type == 1 && rdl == 4) {
			s->a++;
			memcpy(s->addr, p + off, 4);
		}
		off += rdl;
	}
	return off == len ? 0 : -1;
}

static void
test_mdns(void)
{
	uint8_t pkt[SIM_MDNS_PKT_MAX];
	char state[600];
	struct seen s;
	struct sim_announce a = { .id = "1000abcdef", .type = "diy_plug", .seq = 7,
				  .state = "{\"switch\":\"off\"}", .port = 8081 };
	int n;

	inet_pton(AF_INET, "192.168.1.77", &a.addr);
	n = sim_mdns_encode(&a, pkt, sizeof(pkt));
	CHECK(n > 0);
	CHECK_INT(decode(pkt, (size_t)n, &s), 0);
	CHECK(s.answers == 4 && s.ptr == 1 && s.srv == 1 && s.txt == 1 && s.a == 1);
	CHECK_INT(s.srv_port, 8081);
	CHECK(s.addr[0] == 192 && s.addr[3] == 77);
	CHECK(strstr(s.txt_all, "txtvers=1|id=1000abcdef|type=diy_plug|apivers=1|seq=7|"
				"data1={\"switch\":\"off\"}|") != NULL);
	CHECK(s.ttl_min == 120 && s.ttl_max == 4500);
	/* goodbye: every TTL 0 */
	a.goodbye = true;
	n = sim_mdns_encode(&a, pkt, sizeof(pkt));
	CHECK_INT(decode(pkt, (size_t)n, &s), 0);
	CHECK(s.ttl_min == 0 && s.ttl_max == 0);
	/* a long state is split at 249 bytes */
	memset(state, 'x', 560);
	state[560] = '\0';
	a.state = state;
	n = sim_mdns_encode(&a, pkt, sizeof(pkt));
	CHECK_INT(decode(pkt, (size_t)n, &s), 0);
	CHECK(strstr(s.txt_all, "data3=") && !strstr(s.txt_all, "data4="));
	CHECK_INT(sim_mdns_encode(&a, pkt, 100), -E2BIG);

	/* queries */
	{
		static const uint8_t q[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
					     8, '_', 'e', 'w', 'e', 'l', 'i', 'n', 'k',
					     4, '_', 't', 'c', 'p', 5, 'l', 'o', 'c', 'a', 'l', 0,
					     0, 12, 0, 1 };
		uint8_t q2[sizeof(q)];

		CHECK(sim_mdns_is_query_for_us(q, sizeof(q)));
		memcpy(q2, q, sizeof(q));
		q2[2] = 0x84; /* a response */
		CHECK(!sim_mdns_is_query_for_us(q2, sizeof(q2)));
		memcpy(q2, q, sizeof(q));
		q2[14] = 'x';
		CHECK(!sim_mdns_is_query_for_us(q2, sizeof(q2)));
		CHECK(!sim_mdns_is_query_for_us(q, 20));
	}
}

static void
test_verdicts(void)
{
	static const uint8_t good[] = { 0xE9, 1, 3, 0x20 }, qio[] = { 0xE9, 1, 0, 0x20 },
			     gz[] = { 0x1F, 0x8B, 8, 0 }, v2[] = { 0xEA, 4, 3, 0x20 };
	char hex[65];

	CHECK_INT(sim_image_verdict(good, 4), SIM_IMG_BOOTS);
	CHECK_INT(sim_image_verdict(qio, 4), SIM_IMG_MODE);
	CHECK_INT(sim_image_verdict(gz, 4), SIM_IMG_GZIP);
	CHECK_INT(sim_image_verdict(v2, 4), SIM_IMG_MAGIC);
	sim_sha256_hex((const uint8_t *)"test", 4, hex);
	CHECK_STR(hex, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");

	CHECK_INT(sim_deviceid_check(SIM_ID_ANY, "1000abcdef", true, ""), SIM_IDV_OK);
	CHECK_INT(sim_deviceid_check(SIM_ID_ANY, "1000abcdef", false, NULL), SIM_IDV_OK);
	CHECK_INT(sim_deviceid_check(SIM_ID_ANY, "1000abcdef", true, "1000000000"), SIM_IDV_404);
	CHECK_INT(sim_deviceid_check(SIM_ID_STRICT, "1000abcdef", true, ""), SIM_IDV_DROP);
	CHECK_INT(sim_deviceid_check(SIM_ID_STRICT, "1000abcdef", true, "1000abcdef"), SIM_IDV_OK);
	CHECK_INT(sim_deviceid_check(SIM_ID_STRICT, "1000abcdef", false, NULL), SIM_IDV_OK);
	CHECK_INT(sim_deviceid_check(SIM_ID_MINIR3, "1000abcdef", true, "1000abcdef"), SIM_IDV_422);
	CHECK_INT(sim_deviceid_check(SIM_ID_MINIR3, "1000abcdef", false, NULL), SIM_IDV_OK);
	CHECK_INT(sim_deviceid_check(SIM_ID_ANY, "1000abcdef", true, NULL), SIM_IDV_404);
}

int
main(void)
{
	test_models();
	test_http();
	test_mdns();
	test_verdicts();
	return check_done();
}

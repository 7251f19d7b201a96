/* diysim: one simulated Sonoff in DIY mode. See README.md for the command line, the exit
 * codes and what each check mirrors.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define MODEL_FILE_MAX 8192
#define ANNOUNCE_GAP_MS 1000 /* RFC 6762 §8.3: at least two announcements, one second apart */
#define MDNS_GROUP "224.0.0.251"
#define MDNS_PORT 5353

static volatile sig_atomic_t stop_signal; /* the one global: set by SIGTERM/SIGINT */

static void
on_signal(int sig)
{
	stop_signal = sig;
}

int64_t
sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sim_log(struct sim *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "diysim[%s]: ", s->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
parse_hostport(const char *v, struct sockaddr_in *out)
{
	char ip[64];
	const char *c = strrchr(v, ':');
	long p;
	char *end;

	if (!c || (size_t)(c - v) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, v, (size_t)(c - v));
	ip[c - v] = '\0';
	p = strtol(c + 1, &end, 10);
	if (*end || p < 1 || p > 65535)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)p);
	return inet_pton(AF_INET, ip, &out->sin_addr) == 1 ? 0 : -EINVAL;
}

static int
load_model(struct sim *s, const char *path)
{
	char text[MODEL_FILE_MAX + 1], err[128];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "diysim: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, MODEL_FILE_MAX, f);
	fclose(f);
	text[n] = '\0';
	sim_model_defaults(&s->m);
	if (sim_model_parse(&s->m, text, err, sizeof(err)) < 0) {
		fprintf(stderr, "diysim: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(
	    stderr,
	    "usage: diysim --model FILE [--deviceid ID] [--bind IP] [--port N] [--mdns "
	    "IP:PORT|off]\n"
	    "              [--unlock internet|offline|IP:PORT] [--unlock-hang-ms N] [--unlocked]\n"
	    "              [--timeout SECS]\n"
	    "              [--pair-ap IP [--pair-port N] [--pair-ssid SSID] [--pair-password PW]\n"
	    "               [--pair-join CMD]]\n");
}

static int
setup_mdns(struct sim *s, const char *dest)
{
	unsigned char ttl = 255, loop = 1;

	s->mdns_fd = -1;
	if (!strcmp(dest, "off"))
		return 0;
	if (parse_hostport(dest, &s->mdns_dest) < 0)
		return -EINVAL;
	s->mdns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s->mdns_fd < 0)
		return -errno;
	if (IN_MULTICAST(ntohl(s->mdns_dest.sin_addr.s_addr))) {
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(MDNS_PORT) };
		struct ip_mreq mr = { .imr_multiaddr = s->mdns_dest.sin_addr,
				      .imr_interface = s->bind };
		int one = 1;

		(void)setsockopt(s->mdns_fd, IPPROTO_IP, IP_MULTICAST_IF, &s->bind,
		                 sizeof(s->bind));
		(void)setsockopt(s->mdns_fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, 1);
		(void)setsockopt(s->mdns_fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, 1);
		/* Answer queries too (best effort: the host's own responder may hold 5353). */
		(void)setsockopt(s->mdns_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		(void)setsockopt(s->mdns_fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (bind(s->mdns_fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
		    setsockopt(s->mdns_fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) == 0)
			s->mdns_answer = true;
		else
			sim_log(s, "mDNS: not answering queries (%s), announcing only",
				strerror(errno));
	}
	return 0;
}

static int
setup_listen(struct sim *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = s->bind,
				 .sin_port = htons(s->port) };
	socklen_t al = sizeof(a);
	int one = 1;

	s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->listen_fd < 0)
		return -errno;
	(void)setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(s->listen_fd, 8) < 0 ||
	    getsockname(s->listen_fd, (struct sockaddr *)&a, &al) < 0)
		return -errno;
	s->port = ntohs(a.sin_port);
	return 0;
}

static const char *
exit_name(enum sim_exit e)
{
	switch (e) {
	case SIM_EXIT_OK: return "ok";
	case SIM_EXIT_BRICKED: return "bricked";
	case SIM_EXIT_FAILED: return "flash-failed";
	case SIM_EXIT_IDLE: return "idle";
	case SIM_EXIT_PAIR_FAILED: return "pair-failed";
	default: return "usage";
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' },
		{ "deviceid", required_argument, NULL, 'd' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "mdns", required_argument, NULL, 'n' },
		{ "unlock", required_argument, NULL, 'u' },
		{ "unlock-hang-ms", required_argument, NULL, 'H' },
		{ "unlocked", no_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 't' },
		/* diyap (issue 11 item 2): the compatible-pairing AP first (pair.c) */
		{ "pair-ap", required_argument, NULL, 'A' },
		{ "pair-port", required_argument, NULL, 'P' },
		{ "pair-ssid", required_argument, NULL, 'S' },
		{ "pair-password", required_argument, NULL, 'W' },
		{ "pair-join", required_argument, NULL, 'J' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sim sim;
	struct sim *s = &sim;
	const char *model = NULL, *mdns = MDNS_GROUP ":5353";
	bool unlocked = false;
	int64_t deadline;
	long timeout_s = 120;
	int c;

	snprintf(s->id, sizeof(s->id), "1000abcdef");
	s->port = 8081;
	s->unlock_hang_ms = 120000;
	s->pair_port = 80;
	s->listen_fd = -1;
	inet_pton(AF_INET, "127.0.0.1", &s->bind);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'd': snprintf(s->id, sizeof(s->id), "%s", optarg); break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &s->bind) != 1)
				goto bad;
			break;
		case 'p': s->port = (uint16_t)atoi(optarg); break;
		case 'n': mdns = optarg; break;
		case 'u':
			if (!strcmp(optarg, "internet"))
				s->unlock = SIM_UNLOCK_INTERNET;
			else if (!strcmp(optarg, "offline"))
				s->unlock = SIM_UNLOCK_OFFLINE;
			else if (parse_hostport(optarg, &s->unlock_srv) == 0)
				s->unlock = SIM_UNLOCK_SERVER;
			else
				goto bad;
			break;
		case 'H': s->unlock_hang_ms = atoi(optarg); break;
		case 'U': unlocked = true; break;
		case 't': timeout_s = atol(optarg); break;
		case 'A':
			if (inet_pton(AF_INET, optarg, &s->pair_addr) != 1)
				goto bad;
			s->pair_on = true;
			break;
		case 'P': s->pair_port = (uint16_t)atoi(optarg); break;
		case 'S': s->pair_ssid = optarg; break;
		case 'W': s->pair_password = optarg; break;
		case 'J': s->pair_join = optarg; break;
		default: goto bad;
		}
	}
	if (!model || optind != argc || load_model(s, model) < 0)
		goto bad;
	s->unlocked = s->m.ota_unlocked || unlocked;
	s->seq = 1;
	s->image = malloc(SIM_IMAGE_MAX);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	deadline = sim_now_ms() + timeout_s * 1000;
	/* diyap: the compatible-pairing AP first; in LAN mode no DIY API listens */
	if (s->image && s->pair_on) {
		int pr = pair_run(s, deadline, &stop_signal);

		if (pr <= 0) {
			if (pr == 0) {
				s->result = SIM_EXIT_IDLE;
				snprintf(s->reason, sizeof(s->reason), "%s in the pairing AP",
					 stop_signal ? "stopped" : "timed out");
			}
			fprintf(stderr, "diysim: RESULT %s: %s (pair-ignored=%u)\n",
				exit_name(s->result), s->reason, s->pair_ignored);
			free(s->image);
			return s->result;
		}
	}
	if (!s->image || (!s->lan_mode && setup_listen(s) < 0) || setup_mdns(s, mdns) < 0) {
		fprintf(stderr, "diysim: setup failed: %s\n", strerror(errno));
		return SIM_EXIT_USAGE;
	}
	if (s->lan_mode) {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->bind, ip, sizeof(ip));
		sim_log(s, "eWeLink LAN mode, fw %s, announcing %s (no DIY API)",
			s->m.fw_version[0] ? s->m.fw_version : "3.3", ip);
	} else {
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s->bind, ip, sizeof(ip));
		sim_log(s, "DIY mode, fw %s, listening on %s:%u",
		        s->m.fw_version[0] ? s->m.fw_version : "3.3", ip, s->port);
	}
	sim_announce(s, false);
	s->announces_left = 1;
	s->next_announce_ms = sim_now_ms() + ANNOUNCE_GAP_MS;

	while (!s->finished && !stop_signal && sim_now_ms() < deadline) {
		struct pollfd p[2] = {{.fd = s->listen_fd, .events = POLLIN},
		                      {.fd = s->mdns_answer ? s->mdns_fd : -1, .events = POLLIN}};
		int64_t wake = deadline;

		if (s->announces_left && s->next_announce_ms < wake)
			wake = s->next_announce_ms;
		if (poll(p, 2, (int)(wake - sim_now_ms() > 0 ? wake - sim_now_ms() : 0)) < 0 &&
		    errno != EINTR)
			break;
		if (s->announces_left && sim_now_ms() >= s->next_announce_ms) {
			sim_announce(s, false);
			s->announces_left--;
			s->next_announce_ms = sim_now_ms() + ANNOUNCE_GAP_MS;
		}
		if (p[1].revents & POLLIN) {
			uint8_t q[SIM_MDNS_PKT_MAX];
			ssize_t n = recv(s->mdns_fd, q, sizeof(q), 0);

			if (n > 0 && sim_mdns_is_query_for_us(q, (size_t)n))
				sim_announce(s, false);
		}
		if (p[0].revents & POLLIN) {
			int fd = accept(s->listen_fd, NULL, NULL);

			if (fd >= 0)
				api_serve(s, fd);
			if (s->flash_pending)
				download_run(s);
		}
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd); /* rebooted (or stopped): port 8081 is gone */
	if (!s->finished) {
		s->result = s->flashes_failed ? SIM_EXIT_FAILED : SIM_EXIT_IDLE;
		if (!s->flashes_failed)
			snprintf(s->reason, sizeof(s->reason), "%s without a flash",
				 stop_signal ? "stopped" : "timed out");
	}
	fprintf(stderr,
	        "diysim: RESULT %s: %s (http10-ignored=%u gap-refused=%u second-conn-rst=%u "
	        "flashes-failed=%u pair-ignored=%u)\n",
	        exit_name(s->result), s->reason, s->http10_ignored, s->gap_refused,
	        s->second_conn_rst, s->flashes_failed, s->pair_ignored);
	free(s->image);
	return s->result;
bad:
	usage();
	return SIM_EXIT_USAGE;
}

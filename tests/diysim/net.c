/* diysim socket helpers: blocking sockets with poll() deadlines. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"

static int
wait_in(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	if (timeout_ms < 0)
		timeout_ms = 0;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r == 0 ? -ETIMEDOUT : 0;
}

/* Read until "\r\n\r\n"; more bytes may follow in buf (ret_len total, ret_head head size).
 * -ETIMEDOUT, -ECONNRESET (peer closed), -E2BIG (no end within cap). */
int
net_read_head(int fd, char *buf, size_t cap, size_t *ret_len, size_t *ret_head,
	      int64_t deadline_ms)
{
	size_t len = 0;

	for (;;) {
		char *end;
		ssize_t n;
		int r;

		if (len == cap - 1)
			return -E2BIG;
		r = wait_in(fd, (int)(deadline_ms - sim_now_ms()));
		if (r < 0)
			return r;
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end) {
			*ret_len = len;
			*ret_head = (size_t)(end - buf) + 4;
			return 0;
		}
	}
}

/* Fill buf up to n bytes, have already there. 0, -ETIMEDOUT, -ECONNRESET. */
int
net_fill(int fd, uint8_t *buf, size_t n, size_t have, int timeout_ms)
{
	while (have < n) {
		ssize_t r;
		int w = wait_in(fd, timeout_ms);

		if (w < 0)
			return w;
		r = read(fd, buf + have, n - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? -ECONNRESET : -errno;
		have += (size_t)r;
	}
	return 0;
}

int
net_read_exact(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	return net_fill(fd, buf, n, 0, timeout_ms);
}

int
net_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Close with a TCP RST (SO_LINGER 0), as the device's stack does to a refused client. */
void
net_close_rst(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

int
net_connect(const char *ip, uint16_t port, int timeout_ms)
{
	return net_connect_from((struct in_addr){ .s_addr = htonl(INADDR_ANY) }, ip, port,
				timeout_ms);
}

/* A device has one address: its connections leave from it, also when a test puts several
 * simulated devices' addresses on one interface (the kernel would pick the primary). */
int
net_connect_from(struct in_addr src, const char *ip, uint16_t port, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr = src };
	struct pollfd p;
	int fd, r, err = 0;
	socklen_t el = sizeof(err);

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (src.s_addr != htonl(INADDR_ANY) && bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (r < 0 && errno != EINPROGRESS) {
		r = -errno;
		close(fd);
		return r;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) ||
	    err) {
		close(fd);
		return err ? -err : -ETIMEDOUT;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

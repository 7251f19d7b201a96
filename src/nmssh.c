/* nmssh: see nmssh.h. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nmssh.h"

#define NMSSH_FILE_MAX (4u << 20) /* largest /proc file we read whole (tcp tables) */

/* Read a whole file into a NUL-terminated heap buffer (caller frees), or NULL. */
static char *
slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "re");
	size_t cap = 4096, len = 0;
	char *buf = NULL;

	if (!fp)
		return NULL;
	for (;;) {
		char *nb;
		size_t got;

		if (len + 1 >= cap || !buf) {
			if (buf)
				cap *= 2;
			if (cap > NMSSH_FILE_MAX)
				break;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len - 1, fp);
		len += got;
		if (got == 0)
			break;
	}
	fclose(fp);
	if (buf) {
		buf[len] = '\0';
		if (ret_len)
			*ret_len = len;
	}
	return buf;
}

/* ppid and comm of pid; 0 or -1. */
static int
proc_parent(const char *proc, pid_t pid, pid_t *ppid, char comm[32])
{
	char path[PATH_MAX], *buf, *rp;
	int r = -1;

	snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
	buf = slurp(path, NULL);
	if (!buf)
		return -1;
	/* "pid (comm) S ppid ...": comm may hold spaces and ')' */
	rp = strrchr(buf, ')');
	if (rp && sscanf(rp + 1, " %*c %d", ppid) == 1) {
		char *lp = strchr(buf, '(');
		size_t n = lp && rp > lp ? (size_t)(rp - lp - 1) : 0;

		if (n > 31)
			n = 31;
		memcpy(comm, lp ? lp + 1 : "", n);
		comm[n] = '\0';
		r = 0;
	}
	free(buf);
	return r;
}

/* SSH_CONNECTION from /proc/<pid>/environ, into the facts. */
static void
read_env(const char *proc, pid_t pid, struct nmcore_ssh_facts *f)
{
	char path[PATH_MAX], *buf;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/%d/environ", proc, (int)pid);
	buf = slurp(path, &len);
	if (!buf)
		return;
	for (size_t o = 0; o < len; o += strlen(buf + o) + 1) {
		if (!strncmp(buf + o, "SSH_CONNECTION=", 15) &&
		    nmcore_parse_ssh_connection(buf + o + 15, &f->env_family, f->env_addr) == 0) {
			f->have_env = true;
			break;
		}
	}
	free(buf);
}

/* Socket inodes held by pid, appended to fs->inodes. */
static void
read_socket_inodes(const char *proc, pid_t pid, struct nmssh_facts *fs)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%d/fd", proc, (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) && fs->f.n_inodes < NMSSH_INODES_MAX) {
		char target[64];
		unsigned long ino;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) == 1)
			fs->inodes[fs->f.n_inodes++] = ino;
	}
	closedir(d);
}

static void
read_tcp(const char *proc, const char *name, int family, struct nmssh_facts *fs)
{
	char path[PATH_MAX], *buf;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/net/%s", proc, name);
	buf = slurp(path, NULL);
	if (!buf)
		return;
	if (nmcore_parse_proc_tcp(buf, family, fs->tcp + fs->f.n_tcp, NMSSH_TCP_MAX - fs->f.n_tcp,
				  &n) >= 0)
		fs->f.n_tcp += n;
	free(buf);
}

static void
read_ifaddrs(struct nmssh_facts *fs)
{
	struct ifaddrs *ifa = NULL;

	if (getifaddrs(&ifa) < 0)
		return;
	for (struct ifaddrs *i = ifa; i && fs->f.n_ifaddrs < NMSSH_IFADDRS_MAX; i = i->ifa_next) {
		struct nmcore_ifaddr *o = &fs->ifaddrs[fs->f.n_ifaddrs];

		if (!i->ifa_addr || !i->ifa_name)
			continue;
		memset(o, 0, sizeof(*o));
		if (i->ifa_addr->sa_family == AF_INET)
			memcpy(o->addr, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		else if (i->ifa_addr->sa_family == AF_INET6)
			memcpy(o->addr, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
		else
			continue;
		o->family = i->ifa_addr->sa_family;
		snprintf(o->ifname, sizeof(o->ifname), "%s", i->ifa_name);
		fs->f.n_ifaddrs++;
	}
	freeifaddrs(ifa);
}

int
nmssh_facts_read(const char *proc, pid_t self, bool with_ifaddrs, struct nmssh_facts *ret)
{
	struct nmssh_facts fs = { 0 };
	pid_t pid = self;

	if (!proc || !ret)
		return -EINVAL;
	fs.inodes = calloc(NMSSH_INODES_MAX, sizeof(*fs.inodes));
	fs.tcp = calloc(NMSSH_TCP_MAX, sizeof(*fs.tcp));
	fs.ifaddrs = calloc(NMSSH_IFADDRS_MAX, sizeof(*fs.ifaddrs));
	if (!fs.inodes || !fs.tcp || !fs.ifaddrs) {
		nmssh_facts_free(&fs);
		return -ENOMEM;
	}
	for (int depth = 0; depth < NMSSH_ANCESTORS_MAX && pid > 1; depth++) {
		pid_t ppid = 0;
		char comm[32];

		if (proc_parent(proc, pid, &ppid, comm) < 0)
			break;
		if (!fs.f.have_env)
			read_env(proc, pid, &fs.f);
		/* "sshd" and the per-session "sshd: user@pts/0" privsep children
		 * (comm is cut to 15 bytes by the kernel) */
		if (pid != self && !strncmp(comm, "sshd", 4)) {
			fs.f.sshd_ancestor = true;
			read_socket_inodes(proc, pid, &fs);
		}
		pid = ppid;
	}
	read_tcp(proc, "tcp", AF_INET, &fs);
	read_tcp(proc, "tcp6", AF_INET6, &fs);
	if (with_ifaddrs)
		read_ifaddrs(&fs);
	fs.f.inodes = fs.inodes;
	fs.f.tcp = fs.tcp;
	fs.f.ifaddrs = fs.ifaddrs;
	*ret = fs;
	return 0;
}

void
nmssh_facts_free(struct nmssh_facts *fs)
{
	if (!fs)
		return;
	free(fs->inodes);
	free(fs->tcp);
	free(fs->ifaddrs);
	memset(fs, 0, sizeof(*fs));
}

int
nmssh_check(const char *radio, enum nmcore_ssh *ret, char *ret_ifname)
{
	struct nmssh_facts fs;
	int r;

	if (!ret)
		return -EINVAL;
	r = nmssh_facts_read("/proc", getpid(), true, &fs);
	if (r < 0)
		return r;
	*ret = nmcore_ssh_check(&fs.f, radio, ret_ifname);
	nmssh_facts_free(&fs);
	return 0;
}

/* nmssh: the thin /proc reader behind the SSH check (issue 10 §5, docs/wifi.md).
 *
 * Does the user's SSH session ride on the radio we are about to hop? sudo strips
 * SSH_CONNECTION from our environment, so the reader does not rely on it:
 *  1. walk our ancestors (/proc/<pid>/stat ppid, /proc/<pid>/comm) up to pid 1;
 *     an ancestor named "sshd" means we run inside an SSH session;
 *  2. collect the socket inodes those sshd processes hold (/proc/<pid>/fd ->
 *     "socket:[N]"), and SSH_CONNECTION from any ancestor's environ (root can
 *     read them; a user can read their own);
 *  3. parse /proc/net/tcp and /proc/net/tcp6;
 *  4. the host's addresses (getifaddrs), and nmcore_ssh_check decides.
 * Everything that decides is in nmcore.c; this file only reads.
 */
#pragma once

#include <net/if.h>
#include <sys/types.h>

#include "nmcore.h"

#define NMSSH_ANCESTORS_MAX 64 /* process-tree depth we walk; real trees are < 15 */
#define NMSSH_INODES_MAX 256   /* sockets held by the sshd ancestors */
#define NMSSH_TCP_MAX 4096     /* TCP sockets read from /proc/net/tcp{,6}; a host with
				* more: the rest are ignored (UNKNOWN at worst) */
#define NMSSH_IFADDRS_MAX 128  /* host addresses */

/* The facts, with the arrays they point into. Free with nmssh_facts_free. */
struct nmssh_facts {
	struct nmcore_ssh_facts f;   /* what nmcore_ssh_check reads */
	unsigned long *inodes;       /* owned */
	struct nmcore_tcp *tcp;      /* owned */
	struct nmcore_ifaddr *ifaddrs; /* owned */
};

/* Read the facts for process self from the proc tree at proc ("/proc" normally;
 * a test passes a fake tree). The host addresses come from getifaddrs only when
 * with_ifaddrs is true (a test fills f.ifaddrs itself). Returns 0 or -errno
 * (-ENOMEM; a missing or unreadable file only loses facts). */
int nmssh_facts_read(const char *proc, pid_t self, bool with_ifaddrs, struct nmssh_facts *ret);

void nmssh_facts_free(struct nmssh_facts *fs);

/* The whole check for this process and radio (an interface name). Sets *ret and
 * ret_ifname (IF_NAMESIZE, may be NULL) as nmcore_ssh_check. 0 or -errno. */
int nmssh_check(const char *radio, enum nmcore_ssh *ret, char *ret_ifname);

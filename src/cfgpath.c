/* cfgpath: where sonota-c's files are, decided at run time (cfg.h:
 * cfg_state_dir, cfg_images_dir_for, cfg_default_images_dir; cfgint.h: the
 * defaults --help shows for --cert and --key). README.md "Install" says the same
 * to the user. Nothing here logs or creates anything.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "cfgint.h"

int
cfg_state_dir(unsigned euid, const char *xdg_state_home, const char *home, char *buf,
	      size_t len)
{
	int n;

#ifdef SONOTA_FIXED_CERT_DIR
	n = snprintf(buf, len, "%s", SONOTA_FIXED_CERT_DIR);
#else
	if (euid == 0)
		n = snprintf(buf, len, "%s", CFG_STATE_DIR_ROOT);
	else if (xdg_state_home && xdg_state_home[0] == '/')
		n = snprintf(buf, len, "%s/%s", xdg_state_home, CFG_STATE_DIR_NAME);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/%s/%s", home, CFG_STATE_HOME_DEFAULT, CFG_STATE_DIR_NAME);
	else
		return -ENOENT;
#endif
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int
cfg_own_state_dir(char *buf, size_t len)
{
	return cfg_state_dir((unsigned)geteuid(), getenv("XDG_STATE_HOME"), getenv("HOME"), buf,
			     len);
}

const char *
cfg_images_dir_for(const char *exe, const char *build_root)
{
#ifdef SONOTA_FIXED_IMAGES_DIR
	return SONOTA_FIXED_IMAGES_DIR;
#else
	size_t n = build_root ? strlen(build_root) : 0;

	while (n > 1 && build_root[n - 1] == '/')
		n--;
	if (exe && n > 1 && strncmp(exe, build_root, n) == 0 && exe[n] == '/')
		return SONOTA_SOURCE_IMAGES_DIR;
	return SONOTA_INSTALLED_IMAGES_DIR;
#endif
}

const char *
cfg_default_images_dir(void)
{
	char exe[CFG_PATH_MAX + 1], root[CFG_PATH_MAX + 1];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return cfg_images_dir_for(NULL, NULL);
	exe[n] = '\0';
	return cfg_images_dir_for(exe, realpath(SONOTA_BUILD_ROOT, root));
}

const char *
cfg_generated_default(char *buf, size_t len, const char *name)
{
	char dir[CFG_PATH_MAX + 1];

	if (cfg_own_state_dir(dir, sizeof(dir)) < 0)
		snprintf(buf, len, "none: set $HOME");
	else
		snprintf(buf, len, "%s/%s, generated", dir, name);
	return buf;
}

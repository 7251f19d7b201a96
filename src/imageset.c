/* imageset: reads the three served images once, validates them (image.c), checks that they
 * fit the variant directory and each other, and names the public set they come from. See
 * imageset.h for the contract and docs/images.md for the rules. No logging: every finding
 * comes back as text naming the file's path and the rule.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "imageset.h"
#include "known-images.h"
#include "util.h"

#define IMAGESET_PATH_MAX 4096 /* PATH_MAX: longer paths are refused, not truncated */

/* Where the user reads what to put in an images directory: the source tree's copy, and
 * the one meson installs into the default images directory. */
#define IMAGESET_README "static/README.md, installed as " SONOTA_INSTALLED_IMAGES_DIR "/README.md"

static const char *const role_file[_IMAGESET_ROLE_MAX] = {
	[IMAGESET_USER1] = "image_user1-0x01000.bin",
	[IMAGESET_USER2] = "image_user2-0x81000.bin",
	[IMAGESET_ARDUINO] = "image_arduino.bin",
};

static const size_t role_max[_IMAGESET_ROLE_MAX] = {
	[IMAGESET_USER1] = IMAGE_USER_MAX,
	[IMAGESET_USER2] = IMAGE_USER_MAX,
	[IMAGESET_ARDUINO] = IMAGE_ARDUINO_MAX,
};

static const char *const variant_dir[_IMAGESET_VARIANT_MAX] = {
	[IMAGESET_DOUT] = "dout",
	[IMAGESET_DIO] = "dio",
};

/* The flash mode the user images of each variant directory must carry (§6.7). */
static const uint8_t variant_mode[_IMAGESET_VARIANT_MAX] = {
	[IMAGESET_DOUT] = IMAGE_MODE_DOUT,
	[IMAGESET_DIO] = IMAGE_MODE_DIO,
};

const char *
imageset_variant_name(enum imageset_variant v)
{
	return (unsigned)v < _IMAGESET_VARIANT_MAX ? variant_dir[v] : "invalid";
}

int
imageset_variant_parse(const char *s, enum imageset_variant *ret)
{
	for (unsigned v = 0; v < _IMAGESET_VARIANT_MAX; v++) {
		if (s && strcasecmp(s, variant_dir[v]) == 0) {
			*ret = (enum imageset_variant)v;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
imageset_role_file(enum imageset_role role)
{
	return (unsigned)role < _IMAGESET_ROLE_MAX ? role_file[role] : NULL;
}

static int
join(char *buf, size_t len, const char *a, const char *b, char *err, size_t errlen)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len) {
		util_seterr(err, errlen, "%s/%s: path too long", a, b);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The public sets in table whose user images have this flash mode, as "a, b, c" (each
 * once, table order), or "none known". */
static void
sets_of_mode(const struct known_image *table, size_t n, uint8_t mode, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		int w;

		if (strcmp(table[i].file, role_file[IMAGESET_USER1]) != 0 ||
		    strcmp(table[i].flash_mode, image_flash_mode_name(mode)) != 0)
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(table[j].set, table[i].set) == 0 &&
			       strcmp(table[j].file, table[i].file) == 0;
		if (seen)
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", table[i].set);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
	if (!used)
		snprintf(buf, len, "none known");
}

/* The variant rule failed for a user image of flash mode QIO or QOUT, which no directory
 * takes: say which public set it comes from (by sha256), why the mode is refused, and
 * which sets to use instead (PROTOCOL.md §6.6, §6.7). Writes one sentence-tail into buf. */
static void
explain_refused_mode(const struct imageset_file *f, const struct known_image *table, size_t n,
		     char *buf, size_t len)
{
	const char *set = NULL, *mode = image_flash_mode_name(f->info.flash_mode);
	char dout[160], dio[96];

	for (size_t i = 0; i < n && !set; i++)
		if (strcmp(table[i].sha256, f->info.sha256_hex) == 0)
			set = table[i].set;
	sets_of_mode(table, n, IMAGE_MODE_DOUT, dout, sizeof(dout));
	sets_of_mode(table, n, IMAGE_MODE_DIO, dio, sizeof(dio));
	snprintf(buf, len,
		 "%s%s%s. %s user images are refused: devices with an ESP8285 or DOUT-only "
		 "flash cannot boot them once the stock firmware has written them. Use a DOUT "
		 "set in dout/ (%s) or a DIO set in dio/ (%s); static/README.md says where "
		 "to get them",
		 set ? "; this file is from the public set \"" : "", set ? set : "",
		 set ? "\"" : "", mode, dout, dio);
}

/* Read and validate one file of the set into f (which then owns path and data, also on
 * failure when they were allocated: the caller frees f). *ret_checked tells whether the
 * image rules passed, i.e. whether f->info is valid; a later variant rule may still fail.
 * table (n rows) names the public set of a refused QIO/QOUT user image. */
static int
load_file(struct imageset_file *f, const char *dir, enum imageset_variant variant,
	  enum imageset_role role, const struct known_image *table, size_t n, bool *ret_checked,
	  char *err, size_t errlen)
{
	char path[IMAGESET_PATH_MAX], sub[IMAGESET_PATH_MAX], e[IMAGE_ERR_MAX];
	int r;

	*ret_checked = false;
	f->name = role_file[role];
	if (role == IMAGESET_ARDUINO)
		r = join(path, sizeof(path), dir, f->name, err, errlen);
	else if ((r = join(sub, sizeof(sub), dir, variant_dir[variant], err, errlen)) == 0)
		r = join(path, sizeof(path), sub, f->name, err, errlen);
	if (r < 0)
		return r;
	f->path = strdup(path);
	if (!f->path) {
		util_seterr(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	r = util_read_bounded(path, role_max[role], &f->data, &f->size, NULL, err, errlen);
	if (r < 0)
		return r;
	if (role == IMAGESET_ARDUINO)
		r = image_check_arduino(f->data, f->size, &f->info, e, sizeof(e));
	else
		r = image_check_user(f->data, f->size, &f->info, e, sizeof(e));
	if (r < 0) {
		util_seterr(err, errlen, "%s: %s", path, e);
		return r;
	}
	*ret_checked = true;
	if (role != IMAGESET_ARDUINO && f->info.flash_mode != variant_mode[variant]) {
		char why[IMAGESET_TEXT_MAX * 3] = "";

		if (f->info.flash_mode == IMAGE_MODE_QIO || f->info.flash_mode == IMAGE_MODE_QOUT)
			explain_refused_mode(f, table, n, why, sizeof(why));
		util_seterr(err, errlen,
		       "%s: variant: flash mode %s, but the %s directory is for %s images%s", path,
		       image_flash_mode_name(f->info.flash_mode), variant_dir[variant],
		       image_flash_mode_name(variant_mode[variant]), why);
		return -EINVAL;
	}
	return 0;
}

static void
free_file(struct imageset_file *f)
{
	free(f->path);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

static void __attribute__((format(printf, 2, 3)))
add_warning(struct imageset *s, const char *fmt, ...)
{
	va_list ap;

	if (s->nwarnings == IMAGESET_WARN_MAX)
		return;
	if (s->nwarnings == IMAGESET_WARN_MAX - 1) {
		snprintf(s->warnings[s->nwarnings++], IMAGESET_TEXT_MAX,
			 "further warnings omitted (run --check-images)");
		return;
	}
	va_start(ap, fmt);
	vsnprintf(s->warnings[s->nwarnings++], IMAGESET_TEXT_MAX, fmt, ap);
	va_end(ap);
}

/* Warnings of one validated file worth telling. For user images, "not DOUT" is dropped: the
 * variant rule already made the mode the one the user chose by directory. */
static unsigned
file_warnings(const struct imageset_file *f, enum imageset_role role)
{
	unsigned w = f->info.warnings;

	if (role != IMAGESET_ARDUINO)
		w &= ~(unsigned)IMAGE_WARN_MODE_NOT_DOUT;
	return w;
}

/* user1 and user2 are linked for different addresses, so identical files mean one of them
 * is in the wrong place; the irom address is stored as 0, so nothing else can tell (§6.8). */
static int
check_pair(const struct imageset_file *files, const char *dir, enum imageset_variant variant,
	   char *err, size_t errlen)
{
	if (memcmp(files[IMAGESET_USER1].info.sha256, files[IMAGESET_USER2].info.sha256, 32))
		return 0;
	util_seterr(err, errlen,
	       "%s/%s: slot: %s and %s are identical; each must be built for its own slot "
	       "(0x01000 and 0x81000)", dir, variant_dir[variant], role_file[IMAGESET_USER1],
	       role_file[IMAGESET_USER2]);
	return -EINVAL;
}

static const struct known_image *
find_row(const struct known_image *table, size_t n, const char *set, const char *file,
	 const char *sha_hex)
{
	for (size_t i = 0; i < n; i++) {
		if ((!set || strcmp(table[i].set, set) == 0) &&
		    strcmp(table[i].file, file) == 0 && strcmp(table[i].sha256, sha_hex) == 0)
			return &table[i];
	}
	return NULL;
}

int
imageset_identify(struct imageset *set, const struct known_image *table, size_t n,
		  char *err, size_t errlen)
{
	const char *file_set[_IMAGESET_ROLE_MAX] = { NULL }, *whole = NULL;

	for (unsigned r = 0; r < _IMAGESET_ROLE_MAX; r++) {
		const struct imageset_file *f = &set->files[r];
		const struct known_image *row;

		row = find_row(table, n, NULL, role_file[r], f->info.sha256_hex);
		file_set[r] = row ? row->set : NULL;
		/* The same bytes listed under another name: a user image in the other slot's
		 * place, which the device would write to an address it is not linked for. */
		for (size_t i = 0; !row && i < n; i++) {
			if (strcmp(table[i].sha256, f->info.sha256_hex) == 0) {
				util_seterr(err, errlen,
				       "%s: slot: this is %s of the public set \"%s\", not %s; "
				       "swap or rename the files", f->path ? f->path : role_file[r],
				       table[i].file, table[i].set, role_file[r]);
				return -EINVAL;
			}
		}
	}
	/* Several public sets share files (e.g. the same user images with another Arduino
	 * image), so the set is the one in which all three rows match. */
	for (size_t i = 0; i < n && !whole; i++) {
		const char *name = table[i].set;

		if (strcmp(table[i].file, role_file[IMAGESET_USER1]) == 0 &&
		    strcmp(table[i].sha256, set->files[IMAGESET_USER1].info.sha256_hex) == 0 &&
		    find_row(table, n, name, role_file[IMAGESET_USER2],
			     set->files[IMAGESET_USER2].info.sha256_hex) &&
		    find_row(table, n, name, role_file[IMAGESET_ARDUINO],
			     set->files[IMAGESET_ARDUINO].info.sha256_hex))
			whole = name;
	}
	set->known_set = whole;
	for (unsigned r = 0; r < _IMAGESET_ROLE_MAX; r++)
		set->files[r].known_set = whole ? whole : file_set[r];
	return 0;
}

int
imageset_load(struct imageset *ret, const char *dir, enum imageset_variant variant,
	      char *err, size_t errlen)
{
	return imageset_load_table(ret, dir, variant, known_images, known_images_count, err,
				   errlen);
}

int
imageset_load_table(struct imageset *ret, const char *dir, enum imageset_variant variant,
		    const struct known_image *table, size_t n, char *err, size_t errlen)
{
	struct imageset s = { .variant = variant };
	char vdir[IMAGESET_PATH_MAX];
	struct stat st;
	bool checked;
	int r;

	if ((unsigned)variant >= _IMAGESET_VARIANT_MAX) {
		util_seterr(err, errlen, "variant %d: no such variant", (int)variant);
		return -EINVAL;
	}
	r = join(vdir, sizeof(vdir), dir, variant_dir[variant], err, errlen);
	if (r < 0)
		return r;
	if (stat(vdir, &st) < 0)
		r = errno == ENOENT ? -ENOENT : -errno;
	else if (!S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r < 0) {
		util_seterr(err, errlen, "%s: variant directory %s (put the %s user images there, "
		       "see " IMAGESET_README ")", vdir,
		       r == -ENOENT ? "missing" : r == -ENOTDIR ? "is not a directory"
							: strerror(-r),
		       image_flash_mode_name(variant_mode[variant]));
		return r;
	}
	for (unsigned role = 0; role < _IMAGESET_ROLE_MAX; role++) {
		r = load_file(&s.files[role], dir, variant, role, table, n, &checked, err, errlen);
		if (r < 0)
			goto fail;
	}
	r = check_pair(s.files, dir, variant, err, errlen);
	if (r < 0)
		goto fail;
	r = imageset_identify(&s, table, n, err, errlen);
	if (r < 0)
		goto fail;
	for (unsigned role = 0; role < _IMAGESET_ROLE_MAX; role++) {
		unsigned w = file_warnings(&s.files[role], role);

		for (unsigned bit = 1; bit && bit < (1u << _IMAGE_WARN_COUNT); bit <<= 1)
			if (w & bit)
				add_warning(&s, "%s: %s", s.files[role].path, image_warning_text(bit));
	}
	*ret = s;
	return 0;
fail:
	imageset_free(&s);
	return r;
}

const struct imageset_file *
imageset_find(const struct imageset *set, const char *name)
{
	for (unsigned r = 0; name && r < _IMAGESET_ROLE_MAX; r++)
		if (set->files[r].name && strcmp(set->files[r].name, name) == 0)
			return &set->files[r];
	return NULL;
}

void
imageset_free(struct imageset *set)
{
	if (!set)
		return;
	for (unsigned r = 0; r < _IMAGESET_ROLE_MAX; r++)
		free_file(&set->files[r]);
	set->known_set = NULL;
	set->nwarnings = 0;
}

/* ---- --check-images ---------------------------------------------------------------------- */

#define REPORT_ROW "  %-23s %7s  %-6s %-5s %-64s  %s\n"

/* One table row for a file that load_file() handled with result r. */
static void
report_row(FILE *out, const struct imageset_file *f, int r, bool checked, enum imageset_role role)
{
	char size[24] = "-", verdict[48];
	unsigned nw = checked ? (unsigned)__builtin_popcount(file_warnings(f, role)) : 0;

	if (f->data)
		snprintf(size, sizeof(size), "%zu", f->size);
	if (r == -ENOENT && !f->data)
		snprintf(verdict, sizeof(verdict), "missing");
	else if (r < 0)
		snprintf(verdict, sizeof(verdict), "INVALID");
	else if (nw)
		snprintf(verdict, sizeof(verdict), "ok, %u warning%s", nw, nw > 1 ? "s" : "");
	else
		snprintf(verdict, sizeof(verdict), "ok");
	if (checked)
		fprintf(out, REPORT_ROW, f->name, size, f->info.fmt == IMAGE_FMT_V2 ? "v2" : "v1",
			image_flash_mode_name(f->info.flash_mode), f->info.sha256_hex, verdict);
	else if (f->data) {
		/* Invalid but read: the hash still helps to compare with a download. */
		uint8_t sha[32];
		char hex[65];

		image_sha256(f->data, f->size, sha, hex);
		fprintf(out, REPORT_ROW, f->name, size, "-", "-", hex, verdict);
	} else {
		fprintf(out, REPORT_ROW, f->name, size, "-", "-", "-", verdict);
	}
}

static void
report_file_messages(FILE *out, const struct imageset_file *f, int r, const char *e,
		     bool checked, enum imageset_role role)
{
	unsigned w = checked ? file_warnings(f, role) : 0;

	if (r < 0)
		fprintf(out, "  error: %s\n", e);
	for (unsigned bit = 1; bit < (1u << _IMAGE_WARN_COUNT); bit <<= 1)
		if (w & bit)
			fprintf(out, "  warning: %s: %s\n", f->path, image_warning_text(bit));
}

/* One variant directory: table, messages, set name. Returns 0 if all three files are valid
 * and fit together, -EINVAL otherwise. */
static int
report_variant(FILE *out, const char *dir, enum imageset_variant v,
	       const struct known_image *table, size_t n)
{
	struct imageset s = { .variant = v };
	char e[_IMAGESET_ROLE_MAX][IMAGESET_TEXT_MAX * 2], pair_err[IMAGESET_TEXT_MAX * 2];
	int r[_IMAGESET_ROLE_MAX], ret = 0;
	bool checked[_IMAGESET_ROLE_MAX];

	fprintf(out, "%s/%s (%s user images):\n", dir, variant_dir[v],
		image_flash_mode_name(variant_mode[v]));
	fprintf(out, REPORT_ROW, "file", "size", "format", "flash", "sha256", "verdict");
	for (unsigned role = 0; role < _IMAGESET_ROLE_MAX; role++) {
		r[role] = load_file(&s.files[role], dir, v, role, table, n, &checked[role], e[role],
				    sizeof(e[role]));
		report_row(out, &s.files[role], r[role], checked[role], role);
		if (r[role] < 0)
			ret = -EINVAL;
	}
	for (unsigned role = 0; role < _IMAGESET_ROLE_MAX; role++)
		report_file_messages(out, &s.files[role], r[role], e[role], checked[role], role);
	if (ret == 0 && (check_pair(s.files, dir, v, pair_err, sizeof(pair_err)) < 0 ||
			 imageset_identify(&s, table, n, pair_err, sizeof(pair_err)) < 0)) {
		fprintf(out, "  error: %s\n", pair_err);
		ret = -EINVAL;
	}
	if (ret == 0) {
		fprintf(out, "image set: %s\n\n", s.known_set ? s.known_set : "unknown");
	} else {
		/* Name the public set even when it is refused here (SonOTA's QIO master
		 * images, say): the whole set if all three match, else a user image's. */
		const char *name;

		if (imageset_identify(&s, table, n, pair_err, sizeof(pair_err)) < 0)
			s.known_set = NULL;
		name = s.known_set ? s.known_set
		       : s.files[IMAGESET_USER1].known_set ? s.files[IMAGESET_USER1].known_set
		       : s.files[IMAGESET_USER2].known_set;
		if (name)
			fprintf(out, "image set: %s (INVALID here: see the error above)\n\n", name);
		else
			fprintf(out, "image set: unknown\n\n");
	}
	imageset_free(&s);
	return ret;
}

int
imageset_report_table(FILE *out, const char *dir, const struct known_image *table, size_t n)
{
	unsigned present = 0;
	int ret = 0;

	for (unsigned v = 0; v < _IMAGESET_VARIANT_MAX; v++) {
		char vdir[IMAGESET_PATH_MAX];
		struct stat st;

		if (join(vdir, sizeof(vdir), dir, variant_dir[v], NULL, 0) < 0 ||
		    stat(vdir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			fprintf(out, "%s/%s: no such directory, variant %s not available\n", dir,
				variant_dir[v], variant_dir[v]);
			continue;
		}
		present++;
		if (report_variant(out, dir, v, table, n) < 0)
			ret = -EINVAL;
	}
	if (!present) {
		fprintf(out, "error: %s has neither dout/ nor dio/; see " IMAGESET_README "\n", dir);
		ret = -EINVAL;
	}
	fprintf(out, "result: %s\n", ret == 0 ? "ok" : "INVALID");
	return ret;
}

int
imageset_report(FILE *out, const char *dir)
{
	return imageset_report_table(out, dir, known_images, known_images_count);
}

/* imageset: load, validate and describe the three images sonota-c serves.
 *
 * Layout under the images directory (default: cfg_default_images_dir()):
 *   <dir>/dout/image_user1-0x01000.bin   <dir>/dout/image_user2-0x81000.bin
 *   <dir>/dio/image_user1-0x01000.bin    <dir>/dio/image_user2-0x81000.bin
 *   <dir>/image_arduino.bin
 * Files are read once into memory at start-up, validated (image.h) and hashed;
 * the server then serves exactly these bytes, so the digests sent in `upgrade`
 * always match what is delivered. No logging: errors and warnings come back as
 * text.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "image.h"
#include "known-images.h"

enum imageset_variant {
	IMAGESET_DOUT = 0, /* default: best compatibility with newer Sonoffs (PROTOCOL.md §6.7) */
	IMAGESET_DIO,
	_IMAGESET_VARIANT_MAX,
};

enum imageset_role {
	IMAGESET_USER1 = 0, /* image_user1-0x01000.bin, v2 */
	IMAGESET_USER2,     /* image_user2-0x81000.bin, v2 */
	IMAGESET_ARDUINO,   /* image_arduino.bin, v1 at 0 and at 0x1000 */
	_IMAGESET_ROLE_MAX,
};

#define IMAGESET_WARN_MAX 8     /* warnings kept per set */
#define IMAGESET_TEXT_MAX 256   /* length of one error or warning line */

struct imageset_file {
	const char *name;          /* served file name, e.g. "image_user1-0x01000.bin" (static) */
	char *path;                /* where it was read from (owned) */
	uint8_t *data;             /* the bytes served (owned) */
	size_t size;               /* byte count of data */
	struct image_info info;    /* parsed header, sha256 */
	const char *known_set;     /* public set whose row matches this file's sha256, or NULL */
};

struct imageset {
	enum imageset_variant variant;
	struct imageset_file files[_IMAGESET_ROLE_MAX];
	const char *known_set;     /* the public set all three files belong to, or NULL ("unknown") */
	char warnings[IMAGESET_WARN_MAX][IMAGESET_TEXT_MAX]; /* non-fatal findings */
	unsigned nwarnings;
};

/* Load and validate the set for variant from dir. On any failure returns -errno
 * (-ENOENT missing file or variant directory, -EINVAL a rule broken, -EFBIG too
 * large; also -ELOOP when a file is a symbolic link, -ENOTDIR, -EIO when a file
 * changed while read, -ENOMEM, -ENAMETOOLONG) with err naming the file and the
 * rule, and leaves *ret untouched. On success *ret owns paths and data: release
 * them with imageset_free(). Files are opened O_NOFOLLOW|O_NONBLOCK, must be
 * regular, and are refused when larger than their role allows before anything
 * is allocated. Checks, in order: each file's image rules (image.h), user images'
 * flash mode equals the variant's (dout: DOUT, dio: DIO), user1 != user2 (by
 * sha256), and no file is a known public image of the other slot. Warnings go to
 * ret->warnings as "<path>: <text>". known_set uses the compiled-in table. */
int imageset_load(struct imageset *ret, const char *dir, enum imageset_variant variant,
		  char *err, size_t errlen);

/* imageset_load() against another table of known sets (tests pass a synthetic one).
 * A user image refused for its flash mode QIO or QOUT gets an err that also names the
 * public set it comes from (by sha256 in table), says why that mode is refused and
 * lists the DOUT and DIO sets of table, for dout/ and dio/. */
int imageset_load_table(struct imageset *ret, const char *dir, enum imageset_variant variant,
			const struct known_image *table, size_t n, char *err, size_t errlen);

/* Fill set->known_set and files[].known_set from table (n rows; imageset_load passes
 * known_images). The set is named when all three sha256 rows belong to one table set
 * (sets share files, so single files alone cannot name it); a file's known_set is then
 * that set, else the first set listing this file name with this sha256. The returned
 * names point into table, which must outlive set. Returns 0, or -EINVAL with err when
 * a file's sha256 is listed under another file name (e.g. user2 bytes in user1's
 * place), in which case set is unchanged. */
int imageset_identify(struct imageset *set, const struct known_image *table, size_t n,
		      char *err, size_t errlen);

/* Look up a served file by name ("image_user1-0x01000.bin", ...); NULL if unknown. */
const struct imageset_file *imageset_find(const struct imageset *set, const char *name);

/* --check-images: print a table (file, size, format, flash mode, sha256, verdict)
 * for every variant present in dir, and which public set each matches (also when
 * refused, as "image set: NAME (INVALID here: ...)"). Returns 0
 * when every present variant and image_arduino.bin is valid and at least one
 * variant exists, -EINVAL otherwise. */
int imageset_report(FILE *out, const char *dir);

/* imageset_report() against another table of known sets (tests pass a synthetic one). */
int imageset_report_table(FILE *out, const char *dir, const struct known_image *table,
			  size_t n);

/* Served file name of a role ("image_user1-0x01000.bin", ...); NULL for an invalid role. */
const char *imageset_role_file(enum imageset_role role);

const char *imageset_variant_name(enum imageset_variant v);  /* "dout", "dio" */
int imageset_variant_parse(const char *s, enum imageset_variant *ret); /* 0 or -EINVAL */

/* Free what the set owns. Safe on a zeroed struct. */
void imageset_free(struct imageset *set);

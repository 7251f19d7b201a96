/* The public SonOTA image sets, by sha256 (data/known-images.tsv, compiled in). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct known_image {
	const char *set;        /* image set name, e.g. "sonota-2018-09-qio" */
	const char *file;       /* file name inside the set */
	uint32_t bytes;         /* file size */
	const char *first4;     /* first four bytes, lower-case hex */
	const char *flash_mode; /* "QIO", "QOUT", "DIO" or "DOUT" */
	const char *sha256;     /* lower-case hex digest */
};

extern const struct known_image known_images[];
extern const size_t known_images_count;

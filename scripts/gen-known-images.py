#!/usr/bin/env python3
"""Compile data/known-images.tsv into a C table (see src/known-images.h).

Build-time only: the binary needs no data file at run time. Every row is
checked here so that a malformed table fails the build, not a user's run.
"""
import re
import sys

COLUMNS = ["set", "file", "bytes", "first4", "flash_mode", "sha256"]


def main(src, dst):
    rows = []
    with open(src, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != COLUMNS:
            sys.exit(f"{src}: header must be {COLUMNS}, is {header}")
        for n, line in enumerate(f, start=2):
            line = line.rstrip("\n")
            if not line:
                continue
            cols = line.split("\t")
            if len(cols) != len(COLUMNS):
                sys.exit(f"{src}:{n}: {len(cols)} columns, want {len(COLUMNS)}")
            s, fname, size, first4, mode, sha = cols
            if not re.fullmatch(r"[0-9a-f]{64}", sha):
                sys.exit(f"{src}:{n}: bad sha256")
            if not re.fullmatch(r"[0-9a-f]{8}", first4):
                sys.exit(f"{src}:{n}: bad first4")
            if mode not in ("QIO", "QOUT", "DIO", "DOUT"):
                sys.exit(f"{src}:{n}: bad flash mode {mode!r}")
            if not re.fullmatch(r"[A-Za-z0-9._-]+", s + fname):
                sys.exit(f"{src}:{n}: bad set or file name")
            rows.append((s, fname, int(size), first4, mode, sha))
    with open(dst, "w", encoding="utf-8") as out:
        out.write("/* Generated from data/known-images.tsv by scripts/gen-known-images.py. */\n")
        out.write('#include "known-images.h"\n\n')
        out.write("const struct known_image known_images[] = {\n")
        for s, fname, size, first4, mode, sha in rows:
            out.write(f'\t{{ "{s}", "{fname}", {size}u, "{first4}", "{mode}", "{sha}" }},\n')
        out.write("};\n\n")
        out.write("const size_t known_images_count = sizeof(known_images) / sizeof(known_images[0]);\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

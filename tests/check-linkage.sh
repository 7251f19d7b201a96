#!/bin/sh
# check-linkage.sh BINARY: libwebsockets must be linked statically (a shared one
# could be Debian's OpenSSL build, same soname) and nothing may pull in OpenSSL.
set -eu
bin=$1
out=$(ldd "$bin")
fail=0
if printf '%s\n' "$out" | grep -q 'libwebsockets\.so'; then
	echo "FAIL: $bin links libwebsockets dynamically" >&2
	fail=1
fi
if printf '%s\n' "$out" | grep -Eq 'libssl\.so|libcrypto\.so'; then
	echo "FAIL: $bin links OpenSSL" >&2
	fail=1
fi
if ! printf '%s\n' "$out" | grep -q 'libmbedtls\.so'; then
	echo "FAIL: $bin does not link mbedTLS" >&2
	fail=1
fi
[ "$fail" = 0 ] && echo "linkage ok: static lws, mbedTLS, no OpenSSL"
exit "$fail"

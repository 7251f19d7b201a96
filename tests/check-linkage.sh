#!/bin/sh
# check-linkage.sh BINARY [static-mhd|system-mhd] [faults-off|faults-on]: libwebsockets must be linked
# statically (a shared one could be Debian's OpenSSL build, same soname) and nothing
# may pull in OpenSSL. With static-mhd (the default build, scripts/setup.sh's
# libmicrohttpd without HTTPS) neither a shared libmicrohttpd nor GnuTLS may be
# loaded either: GnuTLS alone costs 2.3 MB of resident memory (docs/PERFORMANCE.md).
# faults-off (a build without -Dtest_faults, the default): the e2e fault hook must not
# be in the binary, i.e. no string "SONOTA_TEST_FAULT" (its environment variable);
# faults-on: it must be (else the negative e2e scenarios would test nothing).
set -eu
bin=$1
mhd=${2:-static-mhd}
faults=${3:-faults-off}
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
case "$mhd" in
static-mhd)
	if printf '%s\n' "$out" | grep -q 'libmicrohttpd\.so'; then
		echo "FAIL: $bin links libmicrohttpd dynamically (expected the static build without HTTPS)" >&2
		fail=1
	fi
	if printf '%s\n' "$out" | grep -q 'libgnutls\.so'; then
		echo "FAIL: $bin loads GnuTLS" >&2
		fail=1
	fi
	what="static lws, static libmicrohttpd without GnuTLS, mbedTLS, no OpenSSL"
	;;
system-mhd)
	what="static lws, mbedTLS, no OpenSSL (the system's libmicrohttpd)"
	;;
*)
	echo "usage: $0 BINARY [static-mhd|system-mhd]" >&2
	exit 2
	;;
esac
case "$faults" in
faults-off)
	if grep -q 'SONOTA_TEST_FAULT' "$bin"; then
		echo "FAIL: $bin contains the test fault hook (\"SONOTA_TEST_FAULT\") without -Dtest_faults" >&2
		fail=1
	fi
	what="$what, no test fault hook"
	;;
faults-on)
	if ! grep -q 'SONOTA_TEST_FAULT' "$bin"; then
		echo "FAIL: $bin was built with -Dtest_faults=true but lacks the fault hook" >&2
		fail=1
	fi
	what="$what, test fault hook compiled in (-Dtest_faults=true)"
	;;
*)
	echo "usage: $0 BINARY [static-mhd|system-mhd] [faults-off|faults-on]" >&2
	exit 2
	;;
esac
[ "$fail" = 0 ] && echo "linkage ok: $what"
exit "$fail"

#!/usr/bin/env bash
# Set up a Debian 12 machine (as root) to build and test sonota-c.
#
# Idempotent: a second run only checks what is already there and takes seconds.
#  1. installs the Debian packages the build, the tests and the benchmark need
#     (libsystemd-dev, python3-dbusmock and dbus-daemon for the NetworkManager
#     client and its mock on a private bus, docs/wifi.md);
#  2. adds a deb-src twin of the configured Debian apt source if there is none
#     (derived from the existing entry, so no host name is written anywhere);
#  3. fetches libwebsockets 4.1.x from Debian's own source package and builds it
#     statically against mbedTLS into .deps/lws (ignored by git);
#  4. fetches libmicrohttpd from Debian's own source package and builds it
#     statically without HTTPS into .deps/mhd (ignored by git).
#
# Debian's libwebsockets-dev is built with OpenSSL and shares the soname of an
# mbedTLS build, so sonota-c links its own static lws. Debian's libmicrohttpd links
# GnuTLS and initialises it at load time, 2.3 MB of resident memory for a server
# that only speaks plain HTTP; sonota-c links its own static build without it.
# See docs/architecture.md.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps="$top/.deps"
prefix="$deps/lws"
stamp="$prefix/.sonota-lws-stamp"
lws_want="4.1"
mhd_prefix="$deps/mhd"
mhd_stamp="$mhd_prefix/.sonota-mhd-stamp"
mhd_want="0.9."

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs Debian packages)"
command -v apt-get >/dev/null || die "this script needs Debian's apt-get"

pkgs=(
	build-essential pkg-config meson ninja-build cmake dpkg-dev clang
	libmbedtls-dev libmicrohttpd-dev libcjson-dev libnl-3-dev libnl-route-3-dev libcap-dev
	zlib1g-dev iproute2 procps psmisc nginx-light wrk
	# issue 10 (NetworkManager hops): sd-bus, and the NM mock on a private bus
	libsystemd-dev python3-dbusmock dbus-daemon
	# issue 11 (avahi): a real avahi-daemon for the discovery tests, run only inside
	# network namespaces on a private bus (tests/avahi/lib.sh); Debian's policy-rc.d or
	# systemd decides whether the machine's own service starts
	avahi-daemon
	# hands (issue 10): dbus-send, the hands-free e2e's calls of the NM mock (hands-lib.sh)
	dbus-bin
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	say "installing: ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
	say "Debian packages already installed"
fi
# nginx-light is only a benchmark reference: never leave Debian's service running.
if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
	systemctl stop nginx || true
fi

lws_ready() {
	[ -f "$stamp" ] && [ -f "$prefix/lib/libwebsockets.a" ] &&
		grep -q '^#define LWS_WITH_MBEDTLS' "$prefix/include/lws_config.h" 2>/dev/null
}
mhd_ready() {
	[ -f "$mhd_stamp" ] && [ -f "$mhd_prefix/lib/libmicrohttpd.a" ] &&
		[ -f "$mhd_prefix/include/microhttpd.h" ] &&
		grep -q '^#define SONOTA_MHD_NO_HTTPS' "$mhd_stamp" 2>/dev/null
}
if lws_ready; then
	say "libwebsockets $(head -n1 "$stamp") (static, mbedTLS) already in $prefix"
fi
if mhd_ready; then
	say "libmicrohttpd $(head -n1 "$mhd_stamp") (static, no HTTPS) already in $mhd_prefix"
fi
if lws_ready && mhd_ready; then
	exit 0
fi

# A deb-src twin of every deb822 "Types: deb" stanza, or of every one-line "deb" entry.
have_src() {
	grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! have_src; then
	say "adding a deb-src twin of the configured apt source"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		grep -q '^Types: deb$' "$f" || continue
		sed 's/^Types: deb$/Types: deb-src/' "$f" > "/etc/apt/sources.list.d/sonota-src-$(basename "$f")"
	done
	if [ -f /etc/apt/sources.list ] && grep -qE '^deb ' /etc/apt/sources.list; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/sonota-src.list
	fi
	have_src || die "no Debian apt source found to derive a deb-src entry from"
	apt-get update -qq
fi

# fetch NAME WORKDIR: unpack Debian's source package NAME into WORKDIR; prints the tree.
fetch() {
	local name=$1 work=$2 srcdir
	rm -rf "$work"
	mkdir -p "$work"
	# apt drops privileges to _apt for downloads; give it a directory it may write.
	chmod 777 "$work"
	(cd "$work" && apt-get source -qq "$name" >/dev/null 2>&1) ||
		die "apt-get source $name failed (is a deb-src entry reachable?)"
	srcdir=$(find "$work" -maxdepth 1 -mindepth 1 -type d -name "$name-*" | head -n1)
	[ -n "$srcdir" ] || die "no $name source tree was unpacked"
	printf '%s\n' "$srcdir"
}

build_lws() {
	local work="$deps/lws-src" srcdir ver
	say "fetching Debian's libwebsockets source package"
	srcdir=$(fetch libwebsockets "$work")
	ver=${srcdir##*/libwebsockets-}
	case "$ver" in
	"$lws_want".*) ;;
	*) die "Debian ships libwebsockets $ver, sonota-c needs $lws_want.x" ;;
	esac

	say "building libwebsockets $ver statically against mbedTLS"
	cmake -S "$srcdir" -B "$work/build" -G Ninja \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
		-DCMAKE_POSITION_INDEPENDENT_CODE=ON \
		-DLWS_WITH_MBEDTLS=ON -DLWS_WITH_SSL=ON \
		-DLWS_WITH_STATIC=ON -DLWS_WITH_SHARED=OFF \
		-DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF \
		-DLWS_WITHOUT_EXTENSIONS=ON -DLWS_WITH_HTTP2=OFF \
		-DLWS_WITH_LIBUV=OFF -DLWS_WITH_LIBEV=OFF -DLWS_WITH_LIBEVENT=OFF -DLWS_WITH_GLIB=OFF \
		-DLWS_IPV6=ON -DLWS_WITH_ACCESS_LOG=OFF -DLWS_WITH_SYS_SMD=OFF \
		>"$work/cmake.log" 2>&1 || { tail -n 30 "$work/cmake.log" >&2; die "cmake of libwebsockets failed"; }
	ninja -C "$work/build" install >"$work/build.log" 2>&1 ||
		{ tail -n 30 "$work/build.log" >&2; die "building libwebsockets failed"; }
	grep -q '^#define LWS_WITH_MBEDTLS' "$prefix/include/lws_config.h" ||
		die "the lws that was built lacks LWS_WITH_MBEDTLS"
	echo "$ver" > "$stamp"
	rm -rf "$work"
	say "libwebsockets $ver installed in $prefix"
}

# libmicrohttpd as Debian builds it (its hardening flags), minus HTTPS/GnuTLS, the
# documentation, the examples and the curl-based test programs; static, PIC.
build_mhd() {
	local work="$deps/mhd-src" srcdir ver
	say "fetching Debian's libmicrohttpd source package"
	srcdir=$(fetch libmicrohttpd "$work")
	ver=${srcdir##*/libmicrohttpd-}
	case "$ver" in
	"$mhd_want"*) ;;
	*) die "Debian ships libmicrohttpd $ver, sonota-c was written against ${mhd_want}x" ;;
	esac

	say "building libmicrohttpd $ver statically without HTTPS"
	rm -rf "$mhd_prefix"
	(
		cd "$srcdir"
		eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
		./configure --prefix="$mhd_prefix" --enable-static --disable-shared --with-pic \
			--disable-https --without-gnutls --disable-doc --disable-examples \
			--disable-curl --disable-nls
	) >"$work/configure.log" 2>&1 ||
		{ tail -n 30 "$work/configure.log" >&2; die "configure of libmicrohttpd failed"; }
	grep -q '^ENABLE_HTTPS_TRUE=.#' "$srcdir/config.log" ||
		die "libmicrohttpd's configure kept HTTPS enabled"
	{
		make -C "$srcdir/src/microhttpd" -j"$(nproc)" &&
			make -C "$srcdir/src/microhttpd" install &&
			make -C "$srcdir/src/include" install
	} >"$work/build.log" 2>&1 ||
		{ tail -n 30 "$work/build.log" >&2; die "building libmicrohttpd failed"; }
	rm -f "$mhd_prefix/lib/libmicrohttpd.la"
	if nm "$mhd_prefix/lib/libmicrohttpd.a" 2>/dev/null | grep -q ' U gnutls_'; then
		die "the libmicrohttpd that was built still calls GnuTLS"
	fi
	printf '%s\n#define SONOTA_MHD_NO_HTTPS\n' "$ver" > "$mhd_stamp"
	rm -rf "$work"
	say "libmicrohttpd $ver installed in $mhd_prefix"
}

# (not "lws_ready || build_lws": bash ignores set -e inside a function called there)
if ! lws_ready; then build_lws; fi
if ! mhd_ready; then build_mhd; fi

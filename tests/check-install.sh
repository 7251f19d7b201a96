#!/bin/sh
# check-install.sh MESON BUILDDIR BINDIR MANDIR IMAGESDIR SRC_IMAGESDIR VERSION MKIMAGE:
# `meson install --destdir` of this build into a temporary directory gives a tool
# that works outside the source tree: the binary, the man page, the default images
# directory with its README; the installed binary runs (--version, --help) and
# names the installed images directory and the state directory of a generated
# certificate (never the source tree's), and --check-images looks there. A short
# run (no provisioning, ports 0, synthetic images, stopped with SIGINT) as a user
# generates the certificate in that user's $XDG_STATE_HOME/sonota-c, mode 0700, and
# writes nothing into the source tree's certs/.
set -u
meson=$1 build=$2 bindir=$3 mandir=$4 images=$5 src_images=$6 version=$7 mkimage=$8
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT INT TERM
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

if ! "$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$dest.log" 2>&1; then
	cat "$dest.log" >&2
	rm -f "$dest.log"
	bad "meson install --destdir failed"
	exit 1
fi
rm -f "$dest.log"
bin=$dest$bindir/sonota-c
[ -x "$bin" ] || bad "no executable $bindir/sonota-c"
[ -f "$dest$mandir/man1/sonota-c.1" ] || bad "no man page $mandir/man1/sonota-c.1"
[ -f "$dest$images/README.md" ] || bad "no $images/README.md"
[ "$fail" = 0 ] || exit 1

out=$("$bin" --version) || bad "the installed binary's --version failed"
[ "$(printf '%s\n' "$out" | head -n 1)" = "sonota-c $version" ] ||
	bad "--version says \"$(printf '%s\n' "$out" | head -n 1)\", want \"sonota-c $version\""

# The defaults --help shows are the ones in effect, decided at run time.
if [ "$(id -u)" = 0 ]; then
	state=/var/lib/sonota-c
else
	state=$dest/state/sonota-c
fi
help=$(env XDG_STATE_HOME="$dest/state" "$bin" --help) || bad "the installed binary's --help failed"
printf '%s\n' "$help" | grep -qF "(default: $images)" ||
	bad "installed --help does not name the images directory $images"
printf '%s\n' "$help" | grep -qF "(default: $state/server.crt, generated)" ||
	bad "installed --help does not name the certificate in $state"
src=${src_images%/static}
if printf '%s\n' "$help" | grep -qF "$src"; then
	bad "installed --help names the source tree $src:"
	printf '%s\n' "$help" | grep -F "$src" >&2
fi
# A user's state directory, when setpriv can drop root (util-linux).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$dest"
	help=$(env XDG_STATE_HOME=/nonexistent/state setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$bin" --help) || bad "--help as uid 65534 failed"
	printf '%s\n' "$help" | grep -qF "(default: /nonexistent/state/sonota-c/server.key, generated)" ||
		bad "--help as uid 65534 does not name \$XDG_STATE_HOME/sonota-c"
fi

# --check-images without a directory reports on the installed images directory.
out=$("$bin" --check-images 2>&1)
rc=$?
[ "$rc" = 3 ] || bad "--check-images on an empty install exits $rc, want 3"
printf '%s\n' "$out" | grep -qF "$images/dout" ||
	bad "--check-images does not look in $images: $out"

# A run generates the certificate in the state directory: as uid 65534 when root (so
# that the test does not write to /var/lib), else as this user.
src_certs=$src/certs
had_certs=no
[ -e "$src_certs" ] && had_certs=yes
run_as=
if [ "$(id -u)" = 0 ]; then
	if command -v setpriv >/dev/null 2>&1; then
		run_as="setpriv --reuid=65534 --regid=65534 --clear-groups"
	else
		echo "setpriv missing: the certificate run needs a non-root user" >&2
		bad "cannot run sonota-c as a user"
	fi
fi
mkdir -p "$dest/user" "$dest/img"
"$mkimage" set "$dest/img" >/dev/null || bad "mkimage set failed"
[ "$(id -u)" != 0 ] || chown -R 65534:65534 "$dest/user"
chmod -R a+rX "$dest/img"
(
	cd "$dest/user" || exit 1
	# shellcheck disable=SC2086
	exec env XDG_STATE_HOME="$dest/user/state" HOME="$dest/user" $run_as "$bin" --no-prov \
		--serving-host 192.0.2.1 --https-port 0 --http-port 0 --images "$dest/img" \
		--no-log-file >"$dest/run.log" 2>&1
) &
pid=$!
i=0
while [ "$i" -lt 150 ] && ! grep -q '^listening:' "$dest/run.log" 2>/dev/null &&
	kill -0 "$pid" 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
kill -INT "$pid" 2>/dev/null
wait "$pid"
st=$dest/user/state/sonota-c
if [ -f "$st/server.crt" ] && [ -f "$st/server.key" ]; then
	[ "$(stat -c %a "$st")" = 700 ] || bad "$st has mode $(stat -c %a "$st"), want 700"
	[ "$(stat -c %a "$st/server.key")" = 600 ] || bad "server.key is not mode 600"
	grep -qF "certificate $st/server.crt, generated now" "$dest/run.log" ||
		bad "the run did not say it generated $st/server.crt"
else
	bad "no certificate generated in \$XDG_STATE_HOME/sonota-c; the run said:"
	cat "$dest/run.log" >&2
fi
if [ "$had_certs" = no ] && [ -e "$src_certs" ]; then
	bad "the run wrote into the source tree: $src_certs"
fi

# The build-tree binary keeps using the source tree's static/.
"$build/sonota-c" --help | grep -qF "(default: $src_images)" ||
	bad "the build-tree binary's --help does not name $src_images"

[ "$fail" = 0 ] && echo "install ok: $bindir/sonota-c, $mandir/man1/sonota-c.1, $images/README.md"
exit "$fail"

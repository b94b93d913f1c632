#!/bin/sh
# The command line's own claims: `cdctop --help` prints the usage (every command, the option
# groups) on stdout and exits 0; `--version` prints "cdctop X.Y.Z" and exits 0; an unknown
# option is one line and a non-zero exit; `make install DESTDIR=D PREFIX=P` puts exactly the binary
# (0755, the build's own) and the man page (0644, man/cdctop.1) under D/P, and the installed
# binary runs.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)

"$CDCTOP" --help >"$T/help.out" 2>"$T/help.err" || fail "--help exited $?"
[ ! -s "$T/help.err" ] || fail "--help wrote on stderr: $(cat "$T/help.err")"
head -n 1 "$T/help.out" | grep -q '^usage: cdctop ' || fail "--help: no usage line first: $(head -n 1 "$T/help.out")"
for cmd in init inject relay watch kafka-mock 'server start|stop|status'; do
	grep -q "cdctop $cmd" "$T/help.out" || fail "--help does not list 'cdctop $cmd'"
done
for group in '^Monitor:' '^MySQL:' '^Kafka:' 'cdctop\(1\)'; do
	grep -Eq "$group" "$T/help.out" || fail "--help has no /$group/"
done
note "--help: $(wc -l <"$T/help.out" | tr -d ' ') lines, every command"

"$CDCTOP" --version >"$T/ver.out" 2>"$T/ver.err" || fail "--version exited $?"
[ ! -s "$T/ver.err" ] || fail "--version wrote on stderr: $(cat "$T/ver.err")"
assert_eq "$(grep -c . "$T/ver.out")" 1 "lines of --version"
grep -Eq '^cdctop [0-9]+\.[0-9]+\.[0-9]+$' "$T/ver.out" || fail "--version: '$(cat "$T/ver.out")'"
VER=$(cat "$T/ver.out")
note "--version: $VER"
expect_error "unknown option '--no-such-option'" "$CDCTOP" --no-such-option

# make install into a DESTDIR, without rebuilding the binary under test (-o: take it as is)
D="$T/dest"
make -C "$ROOT" --no-print-directory -o "$BUILD_DIR/cdctop" BUILD="$BUILD_DIR" DESTDIR="$D" \
	PREFIX=/opt/cdct install >"$T/install.out" 2>&1 || fail "make install: $(tail -n 5 "$T/install.out")"
(cd "$D" && find . -type f | sort) >"$T/files"
assert_eq "$(tr '\n' ' ' <"$T/files")" "./opt/cdct/bin/cdctop ./opt/cdct/share/man/man1/cdctop.1 " "files installed"
assert_eq "$(stat -c %a "$D/opt/cdct/bin/cdctop")" 755 "mode of the installed binary"
assert_eq "$(stat -c %a "$D/opt/cdct/share/man/man1/cdctop.1")" 644 "mode of the installed man page"
cmp -s "$D/opt/cdct/bin/cdctop" "$BUILD_DIR/cdctop" || fail "the installed binary is not the build's"
cmp -s "$D/opt/cdct/share/man/man1/cdctop.1" "$ROOT/man/cdctop.1" || fail "the installed man page is not man/cdctop.1"
assert_eq "$("$D/opt/cdct/bin/cdctop" --version)" "$VER" "the installed binary's --version"
if command -v man >/dev/null; then
	MANWIDTH=80 man -l "$D/opt/cdct/share/man/man1/cdctop.1" >"$T/man.txt" 2>"$T/man.err" ||
		fail "man -l of the installed page: $(head -n 3 "$T/man.err")"
	grep -q 'cdctop' "$T/man.txt" || fail "the installed man page renders no text"
fi
note "make install DESTDIR: the binary (755) and the man page (644), nothing else"

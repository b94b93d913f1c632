#!/bin/sh
# Installs the Debian packages cdctop needs to build, test and run, only those missing.
# Runs as root, or through sudo; a no-op (no apt call) when everything is present.
set -eu
PKGS="build-essential pkg-config libncurses-dev libmariadb-dev librdkafka-dev libjansson-dev
mariadb-server mariadb-client kcat tmux clang libclang-rt-14-dev procps python3-pymysql python3-kafka"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all present"
	exit 0
fi
echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || { echo "deps: not root and no sudo; install as root:$missing" >&2; exit 1; }
	SUDO="sudo"
fi
# Keep the distribution's MariaDB service from starting: cdctop runs its own private server.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
	$SUDO chmod +x /usr/sbin/policy-rc.d
	trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"

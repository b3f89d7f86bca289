#!/bin/sh
# Installs the Debian 12 packages bt86 needs to build, test and compare
# against QEMU. As root it runs apt-get; otherwise it prints the one line to run.
set -e
PKGS="cmake g++ make libzydis-dev libasmjit-dev libgtest-dev libgmock-dev libbenchmark-dev \
libcli11-dev nlohmann-json3-dev libfmt-dev gcc-multilib nasm qemu-system-x86"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "install-deps: installing$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "install-deps: missing packages; run as root:"
  echo "  apt-get install -y$missing"
  exit 1
fi

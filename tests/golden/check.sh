#!/bin/sh
# One golden test: the current `bt86 explain` listing of HEX must equal the
# reviewed EXPECTED file. On a difference, prints the diff and the command
# that regenerates the listings.
#
# usage: tests/golden/check.sh BT86 HEX EXPECTED
set -eu

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
golden_listing "$1" "$2" >"$actual"
if ! diff -u "$3" "$actual"; then
  echo "golden listing changed; if the change is intended, run" \
    "tests/golden/regen.sh BUILD_DIR and review the diff" >&2
  exit 1
fi

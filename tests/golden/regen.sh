#!/bin/sh
# Regenerates every golden listing: tests/golden/NAME.txt for each line of
# tests/golden/CASES, from BUILD_DIR/bt86 explain. Review the result as a
# diff (git diff tests/golden) before committing it.
#
# usage: tests/golden/regen.sh BUILD_DIR
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
bt86=$1/bt86
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$bt86" ]; then
  echo "$0: $bt86 not found; build it first" >&2
  exit 2
fi
. "$here/lib.sh"

names=""
while read -r name hex; do
  case "$name" in '' | '#'*) continue ;; esac
  golden_listing "$bt86" "$hex" >"$here/$name.txt"
  names="$names $name "
done <"$here/CASES"

# Listings of cases that left CASES go too, so the diff shows them. A
# listing is recognised by its first line, so other files are left alone.
for file in "$here"/*.txt; do
  name=$(basename "$file" .txt)
  case "$names" in *" $name "*) continue ;; esac
  if head -n 1 "$file" | grep -q '^block [0-9a-f]\{8\}: '; then
    echo "removing stale $name.txt"
    rm -f "$file"
  fi
done
echo "regenerated $(echo $names | wc -w) golden listings in $here"

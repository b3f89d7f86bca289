#!/bin/bash
# regen_expected.sh BUILD_DIR [NAME...]
#
# Regenerates tests/guests/NAME.expected from QEMU's emulator, the system
# oracle: runs BUILD_DIR/guests/NAME.elf under qemu-system-i386 and writes
# its serial output and exit status. The header lines other than '# exit:'
# (comments, '# qemu: hangs', '# sed:') are kept, and the '# sed:' filters
# are applied to the new output. Review the result as a diff before
# committing: the guests check themselves, so every section must still say
# PASS.
# Without NAMEs, every guest that has an expected file is regenerated.
# Guests whose expected file says '# qemu: skip' are left alone: QEMU
# departs from the SDM on what they check, their expected files are
# written by hand from the SDM.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: $0 BUILD_DIR [NAME...]}
shift
qemu=${QEMU:-qemu-system-i386}
if [ $# -eq 0 ]; then
  set -- $(cd "$here" && ls *.expected | sed 's/\.expected$//')
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for name in "$@"; do
  elf=$build/guests/$name.elf
  exp=$here/$name.expected
  [ -r "$elf" ] || { echo "$name: $elf not built" >&2; exit 1; }
  : >"$tmp/header"
  [ -r "$exp" ] && awk '!/^#/ { exit } !/^# exit:/ { print }' "$exp" >"$tmp/header"
  if grep -q '^# qemu: skip' "$tmp/header"; then
    echo "$name: '# qemu: skip', kept as is"
    continue
  fi
  args=(-accel tcg -M pc -m 128 -display none -serial stdio -monitor none -no-reboot
        -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$elf")
  if grep -q '^# qemu: hangs' "$tmp/header"; then
    # The guest ends in cli; hlt, which QEMU never leaves: its status is the
    # one bt86 gives (0), its output is complete after a few seconds.
    set +e
    timeout 3 "$qemu" "${args[@]}" </dev/null >"$tmp/raw" 2>/dev/null
    set -e
    status=0
  else
    set +e
    timeout 30 "$qemu" "${args[@]}" </dev/null >"$tmp/raw"
    status=$?
    set -e
  fi
  sed_args=()
  while IFS= read -r expr; do sed_args+=(-e "$expr"); done \
    < <(sed -n 's/^# sed: //p' "$tmp/header")
  {
    echo "# exit: $status"
    cat "$tmp/header"
    if [ ${#sed_args[@]} -eq 0 ]; then cat "$tmp/raw"; else sed -E "${sed_args[@]}" "$tmp/raw"; fi
  } >"$exp"
  echo "$name: exit $status, $(wc -l <"$tmp/raw") lines"
done

#!/bin/bash
# run_guest.sh MODE BINARY GUEST.elf EXPECTED
#
# Runs one bt86 test guest and compares what it did with EXPECTED:
#   MODE   bt86: BINARY is the bt86 executable (`bt86 run --timeout S GUEST`)
#          qemu: BINARY is qemu-system-i386 (the system oracle)
# EXPECTED starts with header lines beginning with '#', then holds the exact
# bytes the guest writes on COM1. Header lines:
#   # exit: N        the process exit status (required)
#   # bt86-exit: N   bt86's documented status where it differs from QEMU's (README)
#   # qemu: hangs... QEMU never exits by itself (the guest ends in cli; hlt):
#                    in qemu mode, stop QEMU once the output is complete and
#                    do not compare the status
#   # sed: EXPR      before comparing, filter the output through
#                    `sed -E -e EXPR` (for output that differs from run to
#                    run, e.g. "# sed: s/[0-9]+ ticks/N ticks/g" for rdtsc)
#   # qemu: skip (REASON)  QEMU departs from the SDM on what the guest
#                    checks: qemu mode reports the test as skipped (77)
#   # bt86: pending  bt86 cannot run the guest yet (CMake registers no
#                    bt86 test); run by hand, the bt86 mode still runs it
#   # ...            any other '#' line is a comment
# The output itself must therefore not begin with '#'.
#
# Exit status: 0 pass, 1 fail (a unified diff and stderr are printed),
# 77 skipped (BINARY missing; ctest SKIP_RETURN_CODE), 2 usage error.
# Environment: BT86_GUEST_TIMEOUT (seconds, default 30).
set -u

if [ $# -ne 4 ]; then
  echo "usage: $0 bt86|qemu BINARY GUEST.elf EXPECTED" >&2
  exit 2
fi
mode=$1 binary=$2 elf=$3 expected=$4
timeout_s=${BT86_GUEST_TIMEOUT:-30}
name=$(basename "$elf" .elf)

if [ ! -x "$binary" ]; then
  echo "SKIP $name ($mode): $binary does not exist yet"
  exit 77
fi
for f in "$elf" "$expected"; do
  if [ ! -r "$f" ]; then
    echo "FAIL $name ($mode): cannot read $f" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bt86-guest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Split EXPECTED into its header and the exact expected bytes.
header_lines=$(awk '!/^#/ { exit } { n++ } END { print n + 0 }' "$expected")
head -n "$header_lines" "$expected" >"$tmp/header"
tail -n "+$((header_lines + 1))" "$expected" >"$tmp/expected"
want_status=$(sed -n 's/^# exit: *\([0-9][0-9]*\) *$/\1/p' "$tmp/header" | head -n 1)
if [ -z "$want_status" ]; then
  echo "FAIL $name: $expected has no '# exit: N' line" >&2
  exit 1
fi
# bt86 documents its own status where QEMU has none to give (a triple
# fault is a shutdown: QEMU -no-reboot exits 0, bt86 exits 4).
bt86_status=$(sed -n 's/^# bt86-exit: *\([0-9][0-9]*\).*$/\1/p' "$tmp/header" | head -n 1)
if [ "$mode" = bt86 ] && [ -n "$bt86_status" ]; then want_status=$bt86_status; fi
qemu_hangs=0
grep -q '^# qemu: hangs' "$tmp/header" && qemu_hangs=1
if [ "$mode" = qemu ] && grep -q '^# qemu: skip' "$tmp/header"; then
  echo "SKIP $name (qemu): $(sed -n 's/^# qemu: skip *//p' "$tmp/header" | head -n 1)"
  exit 77
fi

# Applies the '# sed:' lines of the header to stdin.
apply_filters() {
  local sed_args=() expr
  while IFS= read -r expr; do
    sed_args+=(-e "$expr")
  done < <(sed -n 's/^# sed: //p' "$tmp/header")
  if [ ${#sed_args[@]} -eq 0 ]; then cat; else sed -E "${sed_args[@]}"; fi
}

qemu_args=(-accel tcg -M pc -m 128 -display none -serial stdio -monitor none
           -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$elf")

status_checked=1
case "$mode" in
  bt86)
    timeout -k 5 "$((timeout_s + 10))" "$binary" run --timeout "$timeout_s" "$elf" \
      </dev/null >"$tmp/raw" 2>"$tmp/stderr"
    status=$?
    ;;
  qemu)
    if [ "$qemu_hangs" = 1 ]; then
      # The guest halts with interrupts off and QEMU waits forever: poll until
      # the output is what it must be and has stayed so for a moment.
      "$binary" "${qemu_args[@]}" </dev/null >"$tmp/raw" 2>"$tmp/stderr" &
      pid=$!
      status=124 stable=0 ticks=0
      while [ "$ticks" -lt "$((timeout_s * 20))" ]; do
        if ! kill -0 "$pid" 2>/dev/null; then
          wait "$pid"
          status=$?
          break
        fi
        if apply_filters <"$tmp/raw" | cmp -s - "$tmp/expected"; then
          stable=$((stable + 1))
          if [ "$stable" -ge 4 ]; then
            status=$want_status status_checked=0
            break
          fi
        else
          stable=0
        fi
        sleep 0.05
        ticks=$((ticks + 1))
      done
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
      fi
    else
      timeout -k 5 "$timeout_s" "$binary" "${qemu_args[@]}" \
        </dev/null >"$tmp/raw" 2>"$tmp/stderr"
      status=$?
    fi
    ;;
  *)
    echo "usage: $0 bt86|qemu BINARY GUEST.elf EXPECTED" >&2
    exit 2
    ;;
esac

apply_filters <"$tmp/raw" >"$tmp/actual"
ok=1
if ! cmp -s "$tmp/expected" "$tmp/actual"; then
  ok=0
  echo "FAIL $name ($mode): serial output differs from $expected"
  diff -u --label "expected" --label "actual ($mode)" "$tmp/expected" "$tmp/actual" | head -n 200
fi
if [ "$status" != "$want_status" ]; then
  ok=0
  case "$mode:$status" in
    *:124 | *:137) why=" (killed after the ${timeout_s} s timeout)" ;;
    bt86:8) why=" (bt86: --timeout ${timeout_s} expired)" ;;
    *) why="" ;;
  esac
  echo "FAIL $name ($mode): exit status $status$why, expected $want_status"
fi
if [ "$ok" = 0 ]; then
  if [ -s "$tmp/stderr" ]; then
    echo "--- stderr (last 40 lines) ---"
    tail -n 40 "$tmp/stderr"
  fi
  exit 1
fi
if [ "$status_checked" = 0 ]; then
  echo "PASS $name ($mode): output matches; exit status not compared (QEMU hangs in cli; hlt)"
else
  echo "PASS $name ($mode): output matches, exit status $status"
fi
exit 0

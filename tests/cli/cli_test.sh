#!/bin/bash
# Command-line contract of bt86: bad input gets one clear message and the
# documented exit status (README "Exit status"), never a crash or a hang.
# Usage: cli_test.sh BT86 GUEST_DIR
set -uo pipefail
BT86=$1
GUESTS=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

# expect STATUS PATTERN -- ARGS...: runs bt86 ARGS, checks status and that
# stderr matches PATTERN (extended regex).
expect() {
  local want=$1 pattern=$2
  shift 3
  timeout 20 "$BT86" "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  if [[ $got != "$want" ]] || { [[ -n $pattern ]] && ! grep -Eq -- "$pattern" "$TMP/err"; }; then
    echo "FAIL: bt86 $* -> status $got (want $want), stderr:"
    sed 's/^/  | /' "$TMP/err"
    failures=$((failures + 1))
  else
    echo "ok: bt86 $* -> $got"
  fi
}

printf 'not an elf' >"$TMP/junk"
head -c 100 /dev/zero >"$TMP/zeros"
# A flat binary: mov eax, 0x2a ; out 0xf4, eax ; (exit 0x2a -> status 85)
printf '\xb8\x2a\x00\x00\x00\xe7\xf4' >"$TMP/flat.bin"
# A flat binary running off the end of RAM: jmp to 0x0ffffff0 with 16 MiB RAM.
printf '\xe9\xeb\xff\xef\x0f' >"$TMP/jump_away.bin"
# 0f 04 is undefined in 32-bit mode; ud2 (0f 0b) is the defined #UD.
printf '\x0f\x04' >"$TMP/invalid.bin"
printf '\x0f\x0b' >"$TMP/ud2.bin"
# vmcall (a VMX instruction) is not an instruction bt86 runs.
printf '\x0f\x01\xc1' >"$TMP/vmcall.bin"
# An endless loop: jmp $ (timeout).
printf '\xeb\xfe' >"$TMP/spin.bin"
# xor ecx, ecx ; div ecx (divide by zero -> #DE at 0x100002).
printf '\x31\xc9\xf7\xf1' >"$TMP/div0.bin"

expect 2 "cannot open" -- run /nonexistent/kernel.elf
expect 2 "too short" -- run "$TMP/junk"
expect 2 "no Multiboot header|too short" -- run "$TMP/zeros"
expect 2 "is not a size" -- run --memory 12Q "$TMP/junk"
expect 2 "is not a 32-bit address" -- run --load-addr 0x1ffffffff "$TMP/flat.bin"
expect 2 "outside|RAM" -- run --memory 1M --load-addr 0x200000 "$TMP/flat.bin"
expect 2 "subcommand|required" --
expect 2 "" -- run --no-such-option "$TMP/flat.bin"
expect 85 "" -- run --load-addr 0x100000 "$TMP/flat.bin"
expect 4 "triple fault.*#UD \(vector 6\)" -- run --load-addr 0x100000 "$TMP/invalid.bin"
expect 4 "triple fault.*eip=00100000 \(ud2.*#UD \(vector 6\)" -- run --load-addr 0x100000 "$TMP/ud2.bin"
expect 4 "outside guest RAM" -- run --memory 16M --load-addr 0x100000 "$TMP/jump_away.bin"
expect 6 "unsupported instruction at eip=00100000: vmcall \[0f 01 c1\]" -- \
  run --load-addr 0x100000 "$TMP/vmcall.bin"
expect 8 "timeout" -- run --timeout 0.5 --load-addr 0x100000 "$TMP/spin.bin"
expect 8 "timeout" -- run --timeout 0.5 --no-chain --load-addr 0x100000 "$TMP/spin.bin"
# No IDT (IDTR is its power-on base 0, limit 0xffff over zeroed memory):
# #DE cannot be delivered, nor the #DF after it: a triple fault.
expect 4 "triple fault \(shutdown\) at eip=00100002 \(div ecx \[f7 f1\]\): #DE \(vector 0\)" -- run --load-addr 0x100000 "$TMP/div0.bin"
expect 85 '"exit_status": 85' -- run --stats=json --load-addr 0x100000 "$TMP/flat.bin"
expect 85 "blocks translated" -- run --stats --load-addr 0x100000 "$TMP/flat.bin"

if [[ -f "$GUESTS/hello.elf" ]]; then
  expect 0 "" -- explain "$GUESTS/hello.elf" 0x100000
fi
expect 2 "not hex" -- explain --bytes "zz"

if ((failures)); then
  echo "$failures failed"
  exit 1
fi
echo "all passed"

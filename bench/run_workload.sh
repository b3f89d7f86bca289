#!/usr/bin/env bash
# Runs the bench workload natively, under bt86 and under QEMU's emulator (TCG)
# and prints a table of per-kernel TSC ticks and ratios (DESIGN.md,
# Performance). Never fails on time; exits 1 only when a runner that ran
# produced checksums that disagree with the native run, 2 on usage errors.
#
#   bench/run_workload.sh BUILD_DIR
#
# Needs BUILD_DIR/bench/{workload-native,workload.elf,idle.elf} (target
# bench_workload). bt86 or QEMU missing or failing shows as "n/a".
# Environment: RUNS (3), QEMU (qemu-system-i386), BT86 (BUILD_DIR/bt86),
# BT86_ARGS (extra options for `bt86 run`, e.g. to turn an optimization off),
# BT86_TIMEOUT (600 s), QEMU_TIMEOUT (600 s), SLOW_RUN_S (45: after a run this
# slow, a runner is not repeated, to keep the whole script near 3 minutes).
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
BUILD_DIR=${1%/}
BENCH_DIR=$BUILD_DIR/bench
NATIVE=$BENCH_DIR/workload-native
GUEST=$BENCH_DIR/workload.elf
IDLE=$BENCH_DIR/idle.elf
RUNS=${RUNS:-3}
QEMU=${QEMU:-qemu-system-i386}
BT86=${BT86:-$BUILD_DIR/bt86}
read -r -a BT86_EXTRA <<<"${BT86_ARGS:-}"
BT86_TIMEOUT=${BT86_TIMEOUT:-600}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
SLOW_RUN_S=${SLOW_RUN_S:-45}

for f in "$NATIVE" "$GUEST" "$IDLE"; do
  if [[ ! -f $f ]]; then
    echo "error: $f not found; build it with: cmake --build $BUILD_DIR --target bench_workload" >&2
    exit 2
  fi
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "error: RUNS must be a positive integer" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bt86-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck disable=SC2054 # the commas are part of -device's argument
QEMU_ARGS=(-accel tcg -M pc -m 128 -display none -serial stdio -monitor none
  -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)

now_ns() { date +%s%N; }

# run_once RUNNER TAG OK_STATUSES CMD... : runs CMD once, stdout (CRs
# stripped) to $WORK/RUNNER.TAG.out, stderr to .err, wall ns to .wall.
# Returns 0 if the exit status is one of OK_STATUSES (space separated).
run_once() {
  local runner=$1 tag=$2 ok_statuses=$3
  shift 3
  local base=$WORK/$runner.$tag start end rc=0
  start=$(now_ns)
  "$@" </dev/null >"$base.raw" 2>"$base.err" || rc=$?
  end=$(now_ns)
  tr -d '\r' <"$base.raw" >"$base.out"
  echo $((end - start)) >"$base.wall"
  echo "$rc" >"$base.rc"
  [[ " $ok_statuses " == *" $rc "* ]]
}

# Why run RUNNER.TAG failed, in a few words.
failure_reason() {
  local rc
  rc=$(cat "$WORK/$1.$2.rc")
  case $rc in
    124) echo "timed out" ;;
    126 | 127) echo "could not execute (status $rc)" ;;
    *) echo "exit status $rc" ;;
  esac
}

# The last lines a failed run printed, indented, on stderr.
show_tail() {
  { tail -n 4 "$WORK/$1.$2.err"; tail -n 4 "$WORK/$1.$2.out"; } | sed 's/^/      | /' >&2
}

# run_runner RUNNER OK_STATUSES CMD... : RUNS runs of the workload ->
# $WORK/RUNNER.status ("ok" or "n/a: why") and the good run tags in
# $WORK/RUNNER.runs. A runner failing once is reported n/a, not fatal.
run_runner() {
  local runner=$1 ok_statuses=$2
  shift 2
  : >"$WORK/$runner.runs"
  local i wall_s why
  for ((i = 1; i <= RUNS; i++)); do
    printf '  %-6s run %d/%d ... ' "$runner" "$i" "$RUNS" >&2
    if ! run_once "$runner" "$i" "$ok_statuses" "$@"; then
      why=$(failure_reason "$runner" "$i")
      echo "failed: $why" >&2
      show_tail "$runner" "$i"
      echo "n/a: run $i failed, $why" >"$WORK/$runner.status"
      return 0
    fi
    if ! grep -q '^kernel ' "$WORK/$runner.$i.out" || ! grep -q '^total ticks ' "$WORK/$runner.$i.out"; then
      echo "failed: no results in its output" >&2
      show_tail "$runner" "$i"
      echo "n/a: run $i printed no results" >"$WORK/$runner.status"
      return 0
    fi
    echo "$i" >>"$WORK/$runner.runs"
    wall_s=$(awk -v ns="$(cat "$WORK/$runner.$i.wall")" 'BEGIN { printf "%.2f", ns / 1e9 }')
    echo "${wall_s} s, $(grep '^result ' "$WORK/$runner.$i.out" || echo 'result ?')" >&2
    if awk -v w="$wall_s" -v lim="$SLOW_RUN_S" 'BEGIN { exit !(w > lim) }' && ((i < RUNS)); then
      echo "  $runner: a run took ${wall_s} s > ${SLOW_RUN_S} s; not repeating it" >&2
      break
    fi
  done
  echo ok >"$WORK/$runner.status"
}

# median FILE: median of the numbers in FILE, one per line (lower middle).
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }

# Collects medians for RUNNER into $WORK/RUNNER.med: lines "kernel NAME TICKS",
# "total TICKS", "wall NS"; and the checksums of its first good run.
summarize() {
  local runner=$1 i
  : >"$WORK/$runner.med"
  [[ $(cat "$WORK/$runner.status") == ok ]] || return 0
  local kernels
  kernels=$(awk '$1 == "kernel" { print $2 }' "$WORK/native.1.out")
  for k in $kernels; do
    : >"$WORK/vals"
    while read -r i; do
      awk -v k="$k" '$1 == "kernel" && $2 == k { print $4 }' "$WORK/$runner.$i.out" >>"$WORK/vals"
    done <"$WORK/$runner.runs"
    echo "kernel $k $(median "$WORK/vals")" >>"$WORK/$runner.med"
  done
  : >"$WORK/vals"
  while read -r i; do awk '$1 == "total" { print $3 }' "$WORK/$runner.$i.out" >>"$WORK/vals"; done <"$WORK/$runner.runs"
  echo "total $(median "$WORK/vals")" >>"$WORK/$runner.med"
  : >"$WORK/vals"
  while read -r i; do cat "$WORK/$runner.$i.wall" >>"$WORK/vals"; done <"$WORK/$runner.runs"
  echo "wall $(median "$WORK/vals")" >>"$WORK/$runner.med"
}

# Median wall ns of RUNS runs of the idle guest under a runner, or empty.
idle_wall() {
  local runner=$1 ok_statuses=$2 i
  shift 2
  : >"$WORK/vals"
  for ((i = 1; i <= RUNS; i++)); do
    run_once "$runner" "idle$i" "$ok_statuses" "$@" || return 0
    grep -q '^bt86-workload idle' "$WORK/$runner.idle$i.out" || return 0
    cat "$WORK/$runner.idle$i.wall" >>"$WORK/vals"
  done
  median "$WORK/vals"
}

# ---- Run -------------------------------------------------------------------
for runner in native bt86 qemu; do : >"$WORK/$runner.runs"; done
TSC_HZ=$("$NATIVE" --tsc-hz)
echo "bt86 workload benchmark: $RUNS run(s) per runner, medians; host TSC $((TSC_HZ / 1000000)) MHz" >&2

run_runner native "0" "$NATIVE"
if [[ $(cat "$WORK/native.status") != ok ]]; then
  echo "error: the native workload failed; nothing to compare against" >&2
  exit 1
fi

if [[ -x $BT86 ]]; then
  # cli; hlt exits 0, a write of 0 to port 0xf4 exits (0 << 1) | 1 = 1.
  run_runner bt86 "0 1" timeout $((BT86_TIMEOUT + 30)) "$BT86" run "${BT86_EXTRA[@]}" --timeout "$BT86_TIMEOUT" "$GUEST"
  BT86_IDLE=
  [[ $(cat "$WORK/bt86.status") != ok ]] ||
    BT86_IDLE=$(idle_wall bt86 "0 1" timeout 60 "$BT86" run "${BT86_EXTRA[@]}" --timeout 30 "$IDLE")
else
  echo "  bt86   not run: $BT86 not found or not executable" >&2
  echo "n/a: $BT86 not found" >"$WORK/bt86.status"
  BT86_IDLE=
fi

if command -v "$QEMU" >/dev/null 2>&1; then
  # isa-debug-exit: a write of 0 to port 0xf4 exits with status 1.
  run_runner qemu "1" timeout "$QEMU_TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -kernel "$GUEST"
  QEMU_IDLE=
  [[ $(cat "$WORK/qemu.status") != ok ]] ||
    QEMU_IDLE=$(idle_wall qemu "1" timeout 60 "$QEMU" "${QEMU_ARGS[@]}" -kernel "$IDLE")
else
  echo "  qemu   not run: $QEMU not found" >&2
  echo "n/a: $QEMU not found" >"$WORK/qemu.status"
  QEMU_IDLE=
fi

# ---- Check checksums ---------------------------------------------------------
# Every good run of every runner must print the native run's checksums.
awk '$1 == "kernel" { print $2, $6 }' "$WORK/native.1.out" >"$WORK/ref.sums"
MISMATCH=0
for runner in native bt86 qemu; do
  echo "" >"$WORK/$runner.sums_note"
  [[ $(cat "$WORK/$runner.status") == ok ]] || continue
  while read -r i; do
    awk '$1 == "kernel" { print $2, $6 }' "$WORK/$runner.$i.out" >"$WORK/got.sums"
    if ! cmp -s "$WORK/ref.sums" "$WORK/got.sums"; then
      MISMATCH=1
      echo "CHECKSUM MISMATCH" >"$WORK/$runner.sums_note"
      echo "error: $runner run $i checksums differ from native:" >&2
      diff "$WORK/ref.sums" "$WORK/got.sums" | sed 's/^/      /' >&2 || true
    fi
  done <"$WORK/$runner.runs"
done

for runner in native bt86 qemu; do summarize "$runner"; done

# ---- Table -------------------------------------------------------------------
# TSC check: a guest's total kernel ticks divided by its wall time (less the
# idle guest's) must be near the host TSC rate, else its RDTSC is not the host
# TSC (e.g. QEMU -icount) and per-kernel figures are rebuilt from wall time.
echo
awk -v tsc_hz="$TSC_HZ" -v runs="$RUNS" \
  -v bt86_status="$(cat "$WORK/bt86.status")" -v qemu_status="$(cat "$WORK/qemu.status")" \
  -v bt86_idle="$BT86_IDLE" -v qemu_idle="$QEMU_IDLE" \
  -v native_note="$(cat "$WORK/native.sums_note")" -v bt86_note="$(cat "$WORK/bt86.sums_note")" \
  -v qemu_note="$(cat "$WORK/qemu.sums_note")" \
  -v native_runs="$(wc -l <"$WORK/native.runs")" -v bt86_runs="$(wc -l <"$WORK/bt86.runs")" \
  -v qemu_runs="$(wc -l <"$WORK/qemu.runs")" '
  function fmt_m(t) { return t == "" ? "n/a" : sprintf("%.1f", t / 1e6) }
  function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "n/a" : sprintf("%.2fx", a / b) }
  FILENAME ~ /native\.med$/ { r = "native" }
  FILENAME ~ /bt86\.med$/ { r = "bt86" }
  FILENAME ~ /qemu\.med$/ { r = "qemu" }
  $1 == "kernel" { if (!(($2) in seen)) { seen[$2] = 1; order[++nk] = $2 } ticks[r, $2] = $3 }
  $1 == "total" { total[r] = $2 }
  $1 == "wall" { wall[r] = $2 }
  END {
    status["native"] = "ok"; status["bt86"] = bt86_status; status["qemu"] = qemu_status
    idle["bt86"] = bt86_idle; idle["qemu"] = qemu_idle; idle["native"] = 0
    note["native"] = native_note; note["bt86"] = bt86_note; note["qemu"] = qemu_note
    nruns["native"] = native_runs; nruns["bt86"] = bt86_runs; nruns["qemu"] = qemu_runs
    split("native bt86 qemu", names, " ")
    printf "bt86 workload: median of %d run(s); TSC ticks in millions; host TSC %.1f MHz\n\n", runs, tsc_hz / 1e6
    for (n = 1; n <= 3; n++) {
      r = names[n]
      if (status[r] != "ok") { printf "  %-7s %s\n", r, status[r]; continue }
      line = sprintf("  %-7s ok, %d run(s)", r, nruns[r])
      if (note[r] != "") line = line ", " note[r]
      if (r != "native" && total[r] != "") {
        busy = (wall[r] - (idle[r] == "" ? 0 : idle[r])) / 1e9
        rate = busy > 0 ? total[r] / (busy * tsc_hz) : 0
        line = line sprintf(", guest ticks / (wall - idle) / host TSC = %.2f", rate)
        if (rate < 0.5 || rate > 1.05) {
          derived[r] = 1
          line = line " -> RDTSC not at host rate: figures derived from wall time (*)"
        } else {
          line = line " (RDTSC at host rate)"
        }
      }
      print line
    }
    # Wall-derived ticks: spread (wall - idle) over kernels in proportion to
    # the guest own tick counts.
    for (n = 2; n <= 3; n++) {
      r = names[n]
      if (!derived[r]) continue
      busy = (wall[r] - (idle[r] == "" ? 0 : idle[r])) * tsc_hz / 1e9
      for (k = 1; k <= nk; k++) ticks[r, order[k]] = ticks[r, order[k]] / total[r] * busy
      total[r] = busy
    }
    mark["native"] = ""; mark["bt86"] = derived["bt86"] ? "*" : ""; mark["qemu"] = derived["qemu"] ? "*" : ""
    printf "\n%-10s %11s %11s %11s %13s %13s %13s\n", "kernel", "native", "bt86" mark["bt86"], "qemu" mark["qemu"],
      "bt86 time", "qemu time", "bt86 speedup"
    printf "%-10s %11s %11s %11s %13s %13s %13s\n", "", "Mticks", "Mticks", "Mticks", "x native", "x native", "vs qemu"
    for (k = 1; k <= nk + 1; k++) {
      name = k <= nk ? order[k] : "total"
      for (n = 1; n <= 3; n++) {
        r = names[n]
        v[r] = status[r] != "ok" ? "" : (k <= nk ? ticks[r, name] : total[r])
      }
      if (k == nk + 1) print "----------------------------------------------------------------------------------"
      printf "%-10s %11s %11s %11s %13s %13s %13s\n", name, fmt_m(v["native"]), fmt_m(v["bt86"]), fmt_m(v["qemu"]),
        ratio(v["bt86"], v["native"]), ratio(v["qemu"], v["native"]), ratio(v["qemu"], v["bt86"])
    }
    printf "\n%-10s %11s %11s %11s   (whole process, median)\n", "wall s",
      sprintf("%.2f", wall["native"] / 1e9),
      status["bt86"] == "ok" ? sprintf("%.2f", wall["bt86"] / 1e9) : "n/a",
      status["qemu"] == "ok" ? sprintf("%.2f", wall["qemu"] / 1e9) : "n/a"
    printf "%-10s %11s %11s %11s   (idle guest: start-up + exit)\n", "idle s", "-",
      bt86_idle == "" ? "n/a" : sprintf("%.2f", bt86_idle / 1e9),
      qemu_idle == "" ? "n/a" : sprintf("%.2f", qemu_idle / 1e9)
    print "\nx native = runner ticks / native ticks (2.00x: half native speed);"
    print "bt86 speedup vs qemu = qemu ticks / bt86 ticks (above 1: bt86 is faster)."
    if (derived["bt86"] || derived["qemu"]) print "(*) per-kernel figures = (wall - idle) x host TSC, split in proportion to the guest own RDTSC counts."
  }' "$WORK/native.med" "$WORK/bt86.med" "$WORK/qemu.med"

if ((MISMATCH)); then
  echo
  echo "FAIL: checksums differ from the native run (see above)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Runs the nanobenchmarks (bench/nano, after Adams & Agesen, ASPLOS 2006)
# natively, under bt86 and under QEMU's emulator (TCG), and prints a table of
# TSC ticks per operation and ratios (DESIGN.md, Performance). Never fails on
# time; exits 1 only when the native run fails, 2 on usage errors.
#
#   bench/run_nano.sh BUILD_DIR
#
# Needs BUILD_DIR/bench/nano-native and BUILD_DIR/guests/{nano,nano_idle}.elf
# (target bench_nano). Each runner runs the suite RUNS times; a benchmark's
# figure is the median over the runs of the guest's own figure (itself the
# fastest of several rounds). When a run dies, the benchmarks it printed
# count; the one it died in is reported n/a with the exit status and stderr,
# and the run is repeated with that benchmark skipped (the guest's command
# line `skip=NAME`), so one broken benchmark costs only its own column.
# bt86 or QEMU missing shows as "n/a".
#
# Environment: RUNS (3), QEMU (qemu-system-i386), BT86 (BUILD_DIR/bt86),
# BT86_ARGS (extra options for `bt86 run`, e.g. --no-chain), BT86_TIMEOUT
# (120 s), QEMU_TIMEOUT (120 s).
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
[[ $# -eq 1 ]] || usage
BUILD_DIR=${1%/}
NATIVE=$BUILD_DIR/bench/nano-native
GUEST=$BUILD_DIR/guests/nano.elf
IDLE=$BUILD_DIR/guests/nano_idle.elf
RUNS=${RUNS:-3}
QEMU=${QEMU:-qemu-system-i386}
BT86=${BT86:-$BUILD_DIR/bt86}
read -r -a BT86_EXTRA <<<"${BT86_ARGS:-}"
BT86_TIMEOUT=${BT86_TIMEOUT:-120}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-120}

for f in "$NATIVE" "$GUEST" "$IDLE"; do
  if [[ ! -f $f ]]; then
    echo "error: $f not found; build it with: cmake --build $BUILD_DIR --target bench_nano" >&2
    exit 2
  fi
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "error: RUNS must be a positive integer" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bt86-nano.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# shellcheck disable=SC2054 # the commas are part of -device's argument
QEMU_ARGS=(-accel tcg -M pc -m 128 -display none -serial stdio -monitor none
  -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4)

# bt86 writes COM1 through stdio, block-buffered when stdout is not a
# terminal: a run that crashes would lose every line. stdbuf (coreutils)
# makes it line-buffered, so partial output survives.
LINEBUF=()
if command -v stdbuf >/dev/null 2>&1; then LINEBUF=(stdbuf -oL); fi

now_ns() { date +%s%N; }

# runner_cmd RUNNER IMAGE SKIP: the command line of one run -> array CMD.
# SKIP is a comma-separated list of benchmarks to leave out, or empty; the
# guest gets it as its Multiboot command line.
runner_cmd() {
  local runner=$1 image=$2 skip=$3
  local -a args=()
  case $runner in
    native)
      [[ -z $skip ]] || args=("skip=$skip")
      CMD=("$NATIVE" "${args[@]}") ;;
    bt86)
      [[ -z $skip ]] || args=(--cmdline "skip=$skip")
      CMD=(timeout $((BT86_TIMEOUT + 30)) "${LINEBUF[@]}" "$BT86" run "${BT86_EXTRA[@]}"
        --timeout "$BT86_TIMEOUT" "${args[@]}" "$image") ;;
    qemu)
      [[ -z $skip ]] || args=(-append "skip=$skip")
      CMD=(timeout "$QEMU_TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -kernel "$image" "${args[@]}") ;;
  esac
}

# The exit statuses of a good run: native exit(0); a guest's write of 0 to
# the exit port 0xf4 gives (0 << 1) | 1 under bt86 and QEMU alike.
ok_statuses() { [[ $1 == native ]] && echo 0 || echo 1; }

# run_once RUNNER TAG CMD... : runs CMD once, stdout (CRs stripped) to
# $WORK/RUNNER.TAG.out, stderr to .err, wall ns to .wall, status to .rc.
# Returns 0 if the status is a good one and the output ends in `nano done`
# (or, for the idle guest, `nano idle`).
run_once() {
  local runner=$1 tag=$2
  shift 2
  local base=$WORK/$runner.$tag start end rc=0
  start=$(now_ns)
  "$@" </dev/null >"$base.raw" 2>"$base.err" || rc=$?
  end=$(now_ns)
  tr -d '\r' <"$base.raw" >"$base.out"
  echo $((end - start)) >"$base.wall"
  echo "$rc" >"$base.rc"
  [[ " $(ok_statuses "$runner") " == *" $rc "* ]] && grep -qE '^nano (done|idle)$' "$base.out"
}

# Why run RUNNER.TAG failed, in a few words.
failure_reason() {
  local rc
  rc=$(cat "$WORK/$1.$2.rc")
  case $rc in
    124) echo "timed out" ;;
    8) [[ $1 == bt86 ]] && echo "timed out (bt86 --timeout, status 8)" || echo "exit status 8" ;;
    126 | 127) echo "could not execute (status $rc)" ;;
    *) if ((rc > 128 && rc < 160)); then
      echo "exit status $rc (signal $((rc - 128)))"
    elif [[ " $(ok_statuses "$1") " == *" $rc "* ]]; then
      echo "exit status $rc before 'nano done'"
    else
      echo "exit status $rc"
    fi ;;
  esac
}

# record RUNNER TAG: files the lines of run RUNNER.TAG: a figure appends to
# $WORK/RUNNER.NAME.vals, an n/a line writes its reason to .na.
record() {
  awk -v dir="$WORK" -v r="$1" '
    $1 == "nano" && $3 == "ticks_per_op" { print $4 >>(dir "/" r "." $2 ".vals") }
    $1 == "nano" && $3 == "n/a" {
      why = $0; sub(/^nano [^ ]+ n\/a /, "", why); print why >(dir "/" r "." $2 ".na")
    }' "$WORK/$1.$2.out"
}

# The first benchmark of the suite run RUNNER.TAG printed no line for: the
# one it was running when it died.
culprit() {
  local name
  while read -r name; do
    grep -q "^nano $name " "$WORK/$1.$2.out" || { echo "$name"; return 0; }
  done <"$WORK/suite"
}

# run_runner RUNNER: RUNS runs of the suite, each repeated with one more
# benchmark skipped after each death. Good runs' tags -> $WORK/RUNNER.runs;
# a failure not tied to one benchmark -> $WORK/RUNNER.note.
run_runner() {
  local runner=$1 skip="" i attempt tag why name nbench
  nbench=$(wc -l <"$WORK/suite")
  : >"$WORK/$runner.runs"
  for ((i = 1; i <= RUNS; i++)); do
    for ((attempt = 1; attempt <= nbench + 1; attempt++)); do
      tag=$i.$attempt
      runner_cmd "$runner" "$GUEST" "$skip"
      printf '  %-6s run %d/%d%s ... ' "$runner" "$i" "$RUNS" "${skip:+ (skip=$skip)}" >&2
      if run_once "$runner" "$tag" "${CMD[@]}"; then
        record "$runner" "$tag"
        echo "$tag" >>"$WORK/$runner.runs"
        awk -v ns="$(cat "$WORK/$runner.$tag.wall")" 'BEGIN { printf "%.2f s\n", ns / 1e9 }' >&2
        break
      fi
      record "$runner" "$tag"
      why=$(failure_reason "$runner" "$tag")
      name=$(culprit "$runner" "$tag")
      if [[ -z $name ]]; then
        echo "failed: $why, after every benchmark" >&2
        echo "run $i: $why after every benchmark" >"$WORK/$runner.note"
        break
      fi
      echo "failed in $name: $why" >&2
      tail -n 6 "$WORK/$runner.$tag.err" | sed 's/^/      | /' >&2
      echo "$why (run $i)" >"$WORK/$runner.$name.fail"
      cp "$WORK/$runner.$tag.err" "$WORK/$runner.$name.stderr"
      skip=${skip:+$skip,}$name
    done
  done
}

# median FILE: median of the numbers in FILE, one per line (lower middle).
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# Median wall ns of RUNS runs of the idle guest under a runner, or empty.
idle_wall() {
  local runner=$1 i
  : >"$WORK/vals"
  for ((i = 1; i <= RUNS; i++)); do
    runner_cmd "$runner" "$IDLE" ""
    run_once "$runner" "idle$i" "${CMD[@]}" || return 0
    cat "$WORK/$runner.idle$i.wall" >>"$WORK/vals"
  done
  median "$WORK/vals"
}

# RDTSC check: median over good runs of the guest's elapsed_ticks / ((wall -
# idle) x host TSC rate): near 1 when the guest's RDTSC is the host's TSC.
tsc_rate() {
  local runner=$1 idle=$2 tag
  : >"$WORK/vals"
  while read -r tag; do
    awk -v wall="$(cat "$WORK/$runner.$tag.wall")" -v idle="${idle:-0}" -v hz="$TSC_HZ" '
      $1 == "nano" && $2 == "elapsed_ticks" && wall > idle {
        printf "%.3f\n", $3 / ((wall - idle) / 1e9 * hz) }' "$WORK/$runner.$tag.out" >>"$WORK/vals"
  done <"$WORK/$runner.runs"
  median "$WORK/vals"
}

# ---- Run -------------------------------------------------------------------
SCRIPT_START=$(now_ns)
TSC_HZ=$("$NATIVE" --tsc-hz)
echo "bt86 nanobenchmarks: $RUNS run(s) per runner, medians; host TSC $((TSC_HZ / 1000000)) MHz" >&2

declare -A STATUS IDLE_NS RATE
: >"$WORK/suite" # no benchmark list yet: a native run that dies is not retried
run_runner native
if [[ ! -s $WORK/native.runs ]]; then
  echo "error: the native run failed; nothing to compare against" >&2
  exit 1
fi
STATUS[native]=ok
# The suite, in the order the guest runs it, from the first good native run.
awk '$1 == "nano" && ($3 == "ticks_per_op" || $3 == "n/a") { print $2 }' \
  "$WORK/native.$(head -n 1 "$WORK/native.runs").out" >"$WORK/suite"

if [[ -x $BT86 ]]; then
  run_runner bt86
  STATUS[bt86]=ok
  IDLE_NS[bt86]=$(idle_wall bt86)
else
  echo "  bt86   not run: $BT86 not found or not executable" >&2
  STATUS[bt86]="not run: $BT86 not found"
fi

if command -v "$QEMU" >/dev/null 2>&1; then
  run_runner qemu
  STATUS[qemu]=ok
  IDLE_NS[qemu]=$(idle_wall qemu)
else
  echo "  qemu   not run: $QEMU not found" >&2
  STATUS[qemu]="not run: $QEMU not found"
fi

# ---- Table -------------------------------------------------------------------
# $WORK/cells: "NAME native bt86 qemu", each cell a median, NA (the runner
# says n/a, or did not run), FAIL (the runner died in it) or NR (never
# reached: the runner failed after the benchmark list was set).
cell() {
  local runner=$1 name=$2
  if [[ ${STATUS[$runner]} != ok ]]; then
    echo NA
  elif [[ -s $WORK/$runner.$name.vals ]]; then
    median "$WORK/$runner.$name.vals"
  elif [[ -f $WORK/$runner.$name.fail ]]; then
    echo FAIL
  elif [[ -f $WORK/$runner.$name.na ]]; then
    echo NA
  else
    echo NR
  fi
}
: >"$WORK/cells"
while read -r name; do
  echo "$name $(cell native "$name") $(cell bt86 "$name") $(cell qemu "$name")" >>"$WORK/cells"
done <"$WORK/suite"

echo
echo "bt86 nanobenchmarks: TSC ticks per operation, median of $RUNS run(s) of the fastest of 5" \
  "rounds; host TSC $(awk -v hz="$TSC_HZ" 'BEGIN { printf "%.1f", hz / 1e6 }') MHz"
echo
for runner in native bt86 qemu; do
  if [[ ${STATUS[$runner]} != ok ]]; then
    printf '  %-7s %s\n' "$runner" "${STATUS[$runner]}"
    continue
  fi
  line=$(printf '  %-7s %d good run(s)' "$runner" "$(wc -l <"$WORK/$runner.runs")")
  [[ $runner != bt86 ]] || line+=" of $BT86${BT86_EXTRA[*]:+ ${BT86_EXTRA[*]}}"
  if [[ -s $WORK/$runner.runs ]]; then
    line+=$(awk -v ns="$(median <(while read -r t; do cat "$WORK/$runner.$t.wall"; done \
      <"$WORK/$runner.runs"))" 'BEGIN { printf ", %.2f s wall", ns / 1e9 }')
  fi
  if [[ $runner != native ]]; then
    RATE[$runner]=$(tsc_rate "$runner" "${IDLE_NS[$runner]:-}")
    if [[ -z ${RATE[$runner]} ]]; then
      line+=", RDTSC rate unchecked (no complete run)"
    elif awk -v r="${RATE[$runner]}" 'BEGIN { exit !(r >= 0.8 && r <= 1.05) }'; then
      line+=", guest ticks / (wall - idle) / host TSC = ${RATE[$runner]} (RDTSC at host rate)"
    else
      line+=", guest ticks / (wall - idle) / host TSC = ${RATE[$runner]}: RDTSC NOT at host rate, its ticks are not host ticks"
    fi
  fi
  [[ ! -f $WORK/$runner.note ]] || line+=", $(cat "$WORK/$runner.note")"
  echo "$line"
done
echo

awk '
  function num(c) { return c ~ /^[0-9.]+$/ }
  function show(c, star) {
    if (c == "NA") return "n/a"
    if (c == "FAIL") return "n/a!"
    if (c == "NR") return "n/a?"
    return sprintf("%.2f%s", c, star)
  }
  function ratio(a, b) { return num(a) && num(b) && b > 0 ? sprintf("%.2fx", a / b) : "n/a" }
  function net(c, empty) { return num(c) && num(empty) ? sprintf("%.2f", c - empty) : "n/a" }
  { name[NR] = $1; nat[NR] = $2; bt[NR] = $3; qe[NR] = $4; if ($1 == "empty_loop") e = NR }
  END {
    printf "%-17s %10s %10s %10s %12s %12s | %8s %8s %8s\n", "benchmark", "native", "bt86", "qemu",
      "bt86/native", "qemu/bt86", "native", "bt86", "qemu"
    printf "%-17s %10s %10s %10s %12s %12s | %26s\n", "", "ticks/op", "ticks/op", "ticks/op",
      "(slowdown)", "(speedup)", "less empty_loop"
    for (i = 1; i <= NR; i++) {
      signal = name[i] == "divzero_fault"
      printf "%-17s %10s %10s %10s %12s %12s | %8s %8s %8s\n", name[i],
        show(nat[i], signal && num(nat[i]) ? "*" : ""), show(bt[i], ""), show(qe[i], ""),
        signal ? "n/c*" : ratio(bt[i], nat[i]), ratio(qe[i], bt[i]),
        i == e ? "-" : net(nat[i], nat[e]) (signal && num(nat[i]) ? "*" : ""),
        i == e ? "-" : net(bt[i], bt[e]), i == e ? "-" : net(qe[i], qe[e])
    }
    print ""
    print "One op = one loop iteration: the operation plus its dec; jnz. bt86/native: above 1, bt86 is"
    print "slower than native; qemu/bt86: above 1, bt86 is faster than QEMU. The last three columns"
    print "subtract the same runner empty_loop figure."
    print "* native divzero_fault is a Linux SIGFPE round trip (#DE, signal delivery, a handler that"
    print "  skips the DIV, sigreturn), not comparable with the guest bare #DE handler: no ratio."
  }' "$WORK/cells"

# Why each n/a: the runners' own reasons, then the deaths with their stderr.
notes=$(
  for runner in native bt86 qemu; do
    [[ ${STATUS[$runner]} == ok ]] || continue
    while read -r name; do
      if [[ -f $WORK/$runner.$name.fail && ! -s $WORK/$runner.$name.vals ]]; then
        echo "  $runner $name (n/a!): died in it, $(cat "$WORK/$runner.$name.fail"); its stderr:"
        tail -n 12 "$WORK/$runner.$name.stderr" | sed 's/^/      | /'
      elif [[ -f $WORK/$runner.$name.fail ]]; then
        echo "  $runner $name: measured in some runs, died in others: $(cat "$WORK/$runner.$name.fail")"
      elif [[ -f $WORK/$runner.$name.na && ! -s $WORK/$runner.$name.vals ]]; then
        echo "  $runner $name (n/a): $(cat "$WORK/$runner.$name.na")"
      elif [[ ! -s $WORK/$runner.$name.vals ]]; then
        echo "  $runner $name (n/a?): never reached"
      fi
    done <"$WORK/suite"
  done
)
if [[ -n $notes ]]; then
  echo
  echo "n/a:"
  echo "$notes"
fi
echo
awk -v ns="$(($(now_ns) - SCRIPT_START))" 'BEGIN { printf "(run_nano.sh took %.1f s)\n", ns / 1e9 }'

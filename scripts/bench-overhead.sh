#!/usr/bin/env bash
# Overhead of watching, measured side by side with the bare run in one invocation.
#
#   scripts/bench-overhead.sh [--runs N] [--json FILE] [--trace] [--enforce [POLICY]]
#
# For each workload of ../shared/bench/workloads/ (python imports, a gcc build, 500 execs) and
# `grep -r zzqqxx /usr/include`, this script times the bare command and the same command under
# `rampart run --mode monitor --quiet`. Runs are interleaved: each round runs every mode once,
# so a drift of the machine's speed hits all modes alike. It prints the ratio of medians and, on
# a second line, of the CPU time the whole tree used, rampart included.
#
# --trace times, in the same run: bare, the preload backend, the trace backend (with its CPU
# latency request, which needs root, and without it: RAMPART_CPU_LATENCY_HINT=off), and
# `strace -f --seccomp-bpf` tracing the same calls (the reference the trace backend must stay
# below). --enforce adds `rampart run --mode enforce` with POLICY (default policies/standard.yaml,
# the policy `rampart run` enforces when given none) and prints enforce/monitor too.
# FSATRACE=/path/to/fsatrace adds fsatrace's column (build it from its source: `make`).
# RAMPART_BENCH_MODES="name:prefix;..." replaces the modes (a prefix is words of an argv, not
# shell: `env VAR=1 cmd`), RAMPART_BENCH_WORKLOADS="grep exec"
# picks workloads. Needs python3 and a release build
# (cargo build --release --workspace). Absolute times vary with the machine; compare ratios.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
workloads="${RAMPART_WORKLOADS:-$root/../shared/bench/workloads}"
runs=15
json_out=""
trace=""
enforce_policy=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --json) json_out="$2"; shift 2 ;;
    --trace) trace=1; shift ;;
    --enforce)
      if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then enforce_policy="$2"; shift 2
      else enforce_policy="$root/policies/standard.yaml"; shift; fi ;;
    *) echo "usage: $0 [--runs N] [--json FILE] [--trace] [--enforce [POLICY]]" >&2; exit 2 ;;
  esac
done
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
rampart="$root/target/release/rampart"
[ -x "$rampart" ] && [ -f "$root/target/release/librampart_preload.so" ] \
  || { echo "build first: cargo build --release --workspace" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export RAMPART_AUDIT_DIR="$tmp/audit"
modes=("bare:" "monitor:$rampart run --mode monitor --quiet --")
if [ -n "$trace" ]; then
  command -v strace >/dev/null || { echo "strace is needed for --trace: apt-get install strace" >&2; exit 2; }
  modes=("bare:"
    "preload:$rampart run --backend preload --mode monitor --quiet --"
    "trace:$rampart run --backend trace --mode monitor --quiet --"
    "trace-nohint:env RAMPART_CPU_LATENCY_HINT=off $rampart run --backend trace --mode monitor --quiet --"
    "strace:strace -f --seccomp-bpf -e trace=execve,execveat,open,openat,openat2,creat,connect -o /dev/null")
fi
if [ -n "$enforce_policy" ]; then
  modes+=("enforce:$rampart run --mode enforce --quiet --policy $enforce_policy --")
fi
# FSATRACE=/path/to/fsatrace adds a plain file tracer's column (LD_PRELOAD into a
# shared-memory buffer), the reference the preload backend is compared against.
if [ -n "${FSATRACE:-}" ]; then
  [ -x "$FSATRACE" ] || { echo "FSATRACE=$FSATRACE is not an executable" >&2; exit 2; }
  modes+=("fsatrace:$FSATRACE rwmdq $tmp/fsatrace.out --")
fi
if [ -n "${RAMPART_BENCH_MODES:-}" ]; then IFS=';' read -r -a modes <<<"$RAMPART_BENCH_MODES"; fi

declare -A cmds=(
  [imports]="python3 $workloads/imports.py"
  [gcc]="bash $workloads/mixed.sh"
  [exec]="bash $workloads/exec.sh"
  [grep]="grep -r zzqqxx /usr/include"
)
printf '%-8s' workload
for m in "${modes[@]}"; do printf ' %14s' "${m%%:*}"; done
printf '   ratios of medians to bare\n'
for w in ${RAMPART_BENCH_WORKLOADS:-imports gcc exec grep}; do
  specs=()
  for m in "${modes[@]}"; do specs+=("${m%%:*}" "${m#*:} ${cmds[$w]}"); done
  python3 - "$w" "$runs" "$tmp/$w.json" "${specs[@]}" <<'PY'
import json, os, shlex, statistics, subprocess, sys, time

workload, runs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
specs = sys.argv[4:]
modes = [(specs[i], shlex.split(specs[i + 1])) for i in range(0, len(specs), 2)]

status = {}

def once(name, argv):
    """Wall time and CPU time (user + system of the whole tree) of one run."""
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, st, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(st)  # reaped here, not by Popen
    status.setdefault(name, p.returncode)
    return time.perf_counter() - start, ru.ru_utime + ru.ru_stime

# Runs are interleaved (each round runs every mode once, in an order that
# rotates), so a drift of the machine's speed hits every mode alike.
for name, argv in modes:
    for _ in range(2):
        once(name, argv)  # warm-up: caches, page cache
wall = {name: [] for name, _ in modes}
cpu = {name: [] for name, _ in modes}
for r in range(runs):
    for k in range(len(modes)):
        name, argv = modes[(r + k) % len(modes)]
        w, c = once(name, argv)
        wall[name].append(w)
        cpu[name].append(c)
json.dump({"workload": workload, "wall_s": wall, "cpu_s": cpu}, open(out, "w"))

names = [name for name, _ in modes]
# A mode that fails at once would look fast: say so (grep's 1, no match, is
# its normal status, and the same bare).
for n in names:
    if "bare" in status and status[n] != status["bare"]:
        print(f"warning: {workload}: {n} exited with {status[n]}, bare with {status['bare']}", file=sys.stderr)
med = {n: statistics.median(wall[n]) for n in names}
cpum = {n: statistics.median(cpu[n]) for n in names}
line = f"{workload:<8}" + "".join(f" {med[n]*1000:12.1f}ms" for n in names)
if "bare" in med:
    line += "   " + "  ".join(f"{n} {med[n]/med['bare']:.2f}x" for n in names if n != "bare")
if "monitor" in med and "enforce" in med:
    line += f"   enforce/monitor {med['enforce']/med['monitor']:.2f}x"
print(line)
# CPU time (user + system) of the whole tree, rampart included: steadier than
# wall time when other work shares the machine.
if "bare" in cpum:
    line = f"{'  cpu':<8}" + "".join(f" {cpum[n]*1000:12.1f}ms" for n in names)
    line += "   " + "  ".join(f"{n} {cpum[n]/cpum['bare']:.2f}x" for n in names if n != "bare")
    print(line)
PY
done
if [ -n "$json_out" ]; then cat "$tmp"/*.json > "$json_out"; fi

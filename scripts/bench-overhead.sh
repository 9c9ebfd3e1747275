#!/usr/bin/env bash
# Overhead of watching, measured side by side with the bare run in one invocation.
#
#   scripts/bench-overhead.sh [--runs N] [--json FILE] [--trace] [--enforce [POLICY]]
#
# For each workload of ../shared/bench/workloads/ (python imports, a gcc build, 500 execs) and
# `grep -r zzqqxx /usr/include`, hyperfine times the bare command and the same command under
# `rampart run --mode monitor --quiet`, in one hyperfine run, and this script prints
# the ratio of medians (and, on a second line, of the CPU time the whole tree used, rampart
# included, which other load on the machine disturbs less). --trace times, in the same run: bare, the preload backend, the trace
# backend, and `strace -f --seccomp-bpf` tracing the same calls (the reference the trace backend
# must stay below). --enforce adds `rampart run --mode enforce` with POLICY (default
# policies/standard.yaml, the policy `rampart run` enforces when given none) and prints
# enforce/monitor too. Needs hyperfine (Debian package) and a release build
# (cargo build --release --workspace). Absolute times vary with the machine; ratios are what
# to compare.
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
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install hyperfine" >&2; exit 2; }
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
    "strace:strace -f --seccomp-bpf -e trace=execve,execveat,open,openat,openat2,creat,connect -o /dev/null")
fi
if [ -n "$enforce_policy" ]; then
  modes+=("enforce:$rampart run --mode enforce --quiet --policy $enforce_policy --")
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
for w in imports gcc exec grep; do
  args=()
  for m in "${modes[@]}"; do
    prefix="${m#*:}"
    args+=(-n "${m%%:*}" "$prefix ${cmds[$w]}")
  done
  # -i: grep exits 1 when nothing matches, which is its normal result here.
  hyperfine -i --style none --warmup 2 --runs "$runs" --export-json "$tmp/$w.json" "${args[@]}" >/dev/null
  python3 - "$tmp/$w.json" "$w" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: r["median"] for r in res}
cpu = {r["command"]: r["user"] + r["system"] for r in res}
bare = med.get("bare")
line = f"{sys.argv[2]:<8}" + "".join(f" {med[r['command']]*1000:12.1f}ms" for r in res)
if bare:
    line += "   " + "  ".join(f"{r['command']} {med[r['command']]/bare:.2f}x" for r in res if r["command"] != "bare")
if med.get("monitor") and med.get("enforce"):
    line += f"   enforce/monitor {med['enforce']/med['monitor']:.2f}x"
print(line)
# CPU time (user + system, means) of the whole tree, rampart included: steadier than wall
# time when other work shares the machine.
if cpu.get("bare"):
    line = f"{'  cpu':<8}" + "".join(f" {cpu[r['command']]*1000:12.1f}ms" for r in res)
    line += "   " + "  ".join(f"{r['command']} {cpu[r['command']]/cpu['bare']:.2f}x" for r in res if r["command"] != "bare")
    print(line)
PY
done
if [ -n "$json_out" ]; then cat "$tmp"/*.json > "$json_out"; fi

#!/usr/bin/env bash
# Soak test of the loss contract (issue 15, "Faults keep the contract").
#
#   scripts/soak.sh [--workers N] [--calls N] [--mode monitor|enforce] [--seed N] [--keep]
#
# N workers (default 32) open one file until they made --calls opens between them (default
# 1,000,000), all under one `rampart run` (preload backend), while the collector (the `rampart
# run` process) is stopped (SIGSTOP) and resumed (SIGCONT) at random moments for random lengths
# (0.2 to 6 s, longer than the library's 3 s send timeout now and then). It then counts the
# trail: the records of those opens, and the calls the `lost` records account for.
#
# Prints expected / recorded / lost and exits 1 unless recorded + lost = expected (nothing
# lost silently), the chain verifies, and every worker's opens succeeded (no call refused).
# Enforce mode runs under a policy that refuses nothing the workers do, so no call of theirs
# needs a verdict: a stopped collector must not refuse one.
#
# rampart: $RAMPART_BIN, else target/release/rampart of this checkout, else `rampart` on PATH.
# Needs bash, gcc, python3. Everything happens in a temp dir (removed unless --keep).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

workers=32 calls=1000000 mode=monitor seed=$RANDOM keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --workers) workers="$2"; shift 2 ;;
    --calls) calls="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$mode" in monitor|enforce) ;; *) echo "soak.sh: --mode is monitor or enforce, not $mode" >&2; exit 2 ;; esac
if [ $((calls % workers)) -ne 0 ]; then
  echo "soak.sh: --calls ($calls) must be a multiple of --workers ($workers)" >&2; exit 2
fi

rampart="${RAMPART_BIN:-}"
if [ -z "$rampart" ]; then
  if [ -x "$root/target/release/rampart" ]; then rampart="$root/target/release/rampart"
  else rampart="$(command -v rampart || true)"; fi
fi
[ -x "$rampart" ] || { echo "soak.sh: no rampart binary (build it, or set RAMPART_BIN)" >&2; exit 2; }

dir="$(mktemp -d /var/tmp/rampart-soak.XXXXXX)"
cleanup() { if [ "$keep" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi; }
trap cleanup EXIT
gcc -O2 -o "$dir/open_many" "$root/tests/probes/open_many.c"
echo soak > "$dir/target"
mkdir -p "$dir/home"
cat > "$dir/policy.yaml" <<'EOF'
version: "1"
default_action: allow
policies:
  - name: keys
    match:
      tool: read
    rules:
      - action: deny
        when:
          path_matches: ["**/.ssh/id_*"]
EOF

echo "soak: $workers workers, $calls opens, $mode mode, seed $seed"
start=$(date +%s.%N)
HOME="$dir/home" "$rampart" run --quiet --mode "$mode" --policy "$dir/policy.yaml" \
  -- "$dir/open_many" "$workers" $((calls / workers)) "$dir/target" &
run=$!

# Stop and resume the collector at random moments until the run ends.
RANDOM=$seed
stops=0 stopped_ms=0
while kill -0 "$run" 2>/dev/null; do
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -0 "$run" 2>/dev/null || break
  ms=$((200 + RANDOM % 5800))
  kill -STOP "$run" 2>/dev/null || break
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
  kill -CONT "$run" 2>/dev/null || true
  stops=$((stops + 1)) stopped_ms=$((stopped_ms + ms))
done
status=0
wait "$run" || status=$?
secs=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

HOME="$dir/home" python3 - "$dir/home/.rampart/audit" "$dir/target" "$calls" "$status" \
  "$stops" "$stopped_ms" "$secs" <<'EOF'
import glob, json, os, sys
audit, target, expected, status, stops, stopped_ms, secs = sys.argv[1:]
expected, status = int(expected), int(status)
recorded = lost = other = 0
for f in sorted(glob.glob(os.path.join(audit, "*.jsonl"))):
    for line in open(f, encoding="utf-8"):
        line = line.strip()
        if not line or not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "hash" not in r:
            continue
        if r.get("tool") == "lost":
            lost += int(r["request"]["count"])
        elif r.get("tool") == "read" and r["request"].get("path") == target:
            recorded += 1
        else:
            other += 1
print(f"collector stopped {stops} times, {int(stopped_ms) / 1000:.1f} s in all; run took {secs} s")
print(f"expected {expected}  recorded {recorded}  lost {lost}  (other records {other})")
ok = True
if recorded + lost != expected:
    print(f"FAIL: {expected - recorded - lost} calls are neither recorded nor accounted as lost")
    ok = False
if status != 0:
    print(f"FAIL: the workers exited {status} (an open failed: a call was refused)")
    ok = False
sys.exit(0 if ok else 1)
EOF
verdict=$?
if HOME="$dir/home" "$rampart" audit verify >"$dir/verify.txt"; then :; else
  # Lost records make verify exit 1 by design; anything else is a failure.
  if ! grep -q "chain intact" "$dir/verify.txt"; then
    cat "$dir/verify.txt"; echo "FAIL: the chain does not verify"; exit 1
  fi
fi
tail -n 1 "$dir/verify.txt"
[ "$verdict" = 0 ] && echo PASS || { echo FAIL; exit 1; }

#!/usr/bin/env bash
# Learning benchmark (issue 13, "Learning that generalises").
#
#   scripts/bench-learn.sh [--check] [--seed-base N] [--keep] [-v|-vv] [--sandbox-parent DIR]
#
# A coding agent (scripts/bench_learn/agent.py) works on a small project (a Python package with
# tests, a C helper built by make/gcc, a node lint script, config.json read by jq, a local HTTP
# API on a loopback port) under `rampart run --agent coder --session sess-...`, in a fresh clone
# at a new path each session, with a fake HOME holding bait secrets. What a session does, in which
# order and on what data (names, messages, temp files, dates, ports, paths) comes from its seed
# (scripts/bench_learn/session.py). Training sessions use seeds 1-5 (monitor mode, the standard
# policy), new sessions seeds 101-105, the attack session seed 500 (plus --seed-base).
#
# For k = 1, 2, 3, 5 it learns `rampart init --from-audit` from the first k training trails, then
# runs the 5 new sessions in monitor mode under the learned policy (sessions with any denial,
# denied calls), and one normal session with 21 attacks mixed in (scripts/bench_learn/attacks.py):
# an attack is "refused at its own call" when the trail holds a deny for the call that does the
# harm (the read of the key, the write of the file, the connect to the port never seen), not
# merely for the exec of the command. The k=3 policy is also tried with the shipped standard
# policy layered under it, and in enforce mode (was the harm really stopped?).
#
# --check exits 1 unless: from 3 sessions 0 of 5 new sessions are denied anything; every attack is
# refused at its own call; fewer than 60 rules and 500 lines; rules(5) <= 1.1 x rules(3); with
# standard layered no attack is allowed.
#
# Everything happens in a sandbox (mktemp -d under /var/tmp, or --sandbox-parent), removed at the
# end unless --keep. Servers listen on 127.0.0.1 only and are stopped at the end. Two things
# reach outside the sandbox, briefly: scratch files the sessions create and remove in /tmp (as a
# real agent's do), and, when run as root, the attack that writes /usr/local/bin/x (it happens
# in monitor mode; the benchmark removes the file right after the session and at exit).
#
# rampart: $RAMPART_BIN, else target/release/rampart of this checkout, else `rampart` on PATH.
# Needs bash, python3, git, gcc, make, node, curl, jq, tar, ssh (Debian: python3 git gcc
# libc6-dev make nodejs curl jq tar openssh-client); PyYAML (python3-yaml) is used when present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

missing=()
for tool in bash python3 git gcc make node curl jq tar ssh mktemp sed grep; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-learn: missing tools: ${missing[*]}" >&2
  echo "  (Debian packages: python3 git gcc libc6-dev make nodejs curl jq tar openssh-client)" >&2
  exit 2
fi

rampart="${RAMPART_BIN:-}"
if [ -z "$rampart" ]; then
  if [ -x "$root/target/release/rampart" ]; then
    rampart="$root/target/release/rampart"
  else
    rampart="$(command -v rampart || true)"
  fi
fi
if [ -z "$rampart" ] || [ ! -x "$rampart" ]; then
  echo "bench-learn: no rampart binary: set RAMPART_BIN, build target/release/rampart" \
       "(cargo build --release --workspace) or put rampart on PATH" >&2
  exit 2
fi
rampart="$(cd "$(dirname "$rampart")" && pwd)/$(basename "$rampart")"

exec python3 "$root/scripts/bench_learn/main.py" --rampart "$rampart" "$@"

"""The coding agent of the learning benchmark: it runs inside the watched tree.

It reads its plan (JSON) on stdin and carries it out in the project directory,
the way a coding agent does: its own tools read, edit and write files in
process; its shell tool runs each command as `bash -c CMD`. Like real agents it
reads its settings from the home directory, looks for instruction files
(AGENTS.md, CLAUDE.md) from the project up to /, and appends a transcript under
~/.local/state/coder/projects/<project path as a slug>/<session>.jsonl.

For each step it prints one JSON line on stdout (an inherited descriptor, so no
open is recorded): the step's index, pid, start and end times, exit status and
the start of its output; the benchmark uses them to attribute trail records to
steps and to see whether an attack's secret got out. Standard library only.
"""

import json
import os
import signal
import subprocess
import sys
import time

STEP_TIMEOUT = 30
OUT_CHARS = 6000


def try_read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def startup(proj, session_id):
    home = os.path.expanduser("~")
    try_read(os.path.join(home, ".config/coder/settings.json"))
    d = proj
    for _ in range(64):
        for name in ("AGENTS.md", "CLAUDE.md"):
            try_read(os.path.join(d, name))
        up = os.path.dirname(d)
        if up == d:
            break
        d = up
    try_read(os.path.join(home, ".config/coder/AGENTS.md"))
    slug = proj.replace("/", "-")
    tdir = os.path.join(home, ".local/state/coder/projects", slug)
    try:
        os.makedirs(tdir, exist_ok=True)
    except OSError:
        pass
    return os.path.join(tdir, session_id + ".jsonl")


def run_sh(cmd, proj):
    try:
        p = subprocess.Popen(["bash", "-c", cmd], cwd=proj, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as e:  # the shell could not start (refused in enforce mode): report, go on
        return None, 126, f"[agent: cannot run bash: {e}]"
    try:
        out, _ = p.communicate(timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        out, _ = p.communicate()
        out = (out or b"") + b"\n[agent: step timed out]"
    return p.pid, p.returncode, out.decode("utf-8", "replace")


def run_tool(step, proj):
    path = os.path.join(proj, os.path.expanduser(step["path"]))
    try:
        if step["op"] == "read":
            with open(path) as f:
                return 0, f.read()
        if step["op"] == "edit":
            with open(path) as f:
                text = f.read()
            if step["old"] not in text:
                return 1, f"edit: {step['old']!r} not found in {step['path']}"
            with open(path, "w") as f:
                f.write(text.replace(step["old"], step["new"], 1))
            return 0, ""
        if step["op"] == "write":
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(step["content"])
            return 0, ""
    except OSError as e:
        return 1, f"{step['op']}: {e}"
    return 2, f"unknown op {step['op']}"


def main():
    plan = json.load(sys.stdin)
    proj = plan["proj"]
    os.chdir(proj)
    transcript = startup(proj, plan["session_id"])
    for i, step in enumerate(plan["steps"]):
        gap = step.get("gap", 0)
        if gap:
            time.sleep(gap)
        start = time.time()
        if step["op"] == "sh":
            pid, rc, out = run_sh(step["cmd"], proj)
        else:
            pid = os.getpid()
            rc, out = run_tool(step, proj)
        end = time.time()
        if gap:
            time.sleep(gap)
        rec = {"i": i, "kind": step["kind"], "attack": step.get("attack"), "op": step["op"],
               "pid": pid, "start": start, "end": end, "rc": rc, "out": out[:OUT_CHARS]}
        try:
            with open(transcript, "a") as f:
                f.write(json.dumps({"step": i, "kind": step["kind"], "rc": rc,
                                    "at": round(start, 3)}) + "\n")
        except OSError:
            pass
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Learning benchmark (issue 13): does a policy learned from a few sessions of an
agent's normal work let new sessions of the same work through, stay small,
converge, and refuse every attack at its own call?

Run through scripts/bench-learn.sh, which checks the tools and finds rampart.
Everything happens in a sandbox directory; see the shell script for options.
"""

import sys

sys.dont_write_bytecode = True  # noqa: E402  (nothing written next to the scripts)

import argparse  # noqa: E402
import collections  # noqa: E402
import datetime  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import attacks  # noqa: E402
import project  # noqa: E402
import session  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT = os.path.join(HERE, "agent.py")
SERVERS = os.path.join(HERE, "servers.py")
KS = (1, 2, 3, 5)
HELD_OUT = 5
# Ports of services an agent has no business with; the first free one is the
# "port never seen in training". API ports are drawn from 10000-60999.
SERVICE_PORTS = [6379, 5432, 3306, 9200, 2375, 8500, 5984, 4369]
SESSION_TIMEOUT = 240
TARGET_RULES, TARGET_LINES, TARGET_GROWTH = 60, 500, 1.1


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def port_free(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def parse_ts(ts):
    base, _, frac = ts.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


def read_trail(audit_dir):
    recs = []
    for path in sorted(glob.glob(os.path.join(audit_dir, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if "tool" not in r:
                    continue  # a rotation header
                r["_t"] = parse_ts(r["timestamp"])
                recs.append(r)
    return recs


def action(r):
    return (r.get("decision") or {}).get("action")


def target(r):
    q = r["request"]
    if r["tool"] == "exec":
        return q.get("command") or q.get("path") or ""
    return q.get("path") or q.get("url") or ""


def count_rules(path):
    """Rules of a policy file: entries of every `rules:` list."""
    try:
        import yaml
    except ImportError:
        yaml = None
    with open(path) as f:
        text = f.read()
    if yaml is not None:
        doc = yaml.safe_load(text) or {}
        return sum(len(p.get("rules") or []) for p in doc.get("policies") or [])
    # No PyYAML: count list items at the indentation of the first item under each `rules:`.
    n, indent = 0, None
    for line in text.splitlines():
        body = line.split("#", 1)[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not body:
            continue
        lead = len(body) - len(body.lstrip())
        if body.strip() == "rules:":
            indent = ("rules", lead)
            continue
        if isinstance(indent, tuple):
            if lead <= indent[1]:
                indent = None
            elif body.lstrip().startswith("- "):
                indent = lead
                n += 1
            continue
        if indent is not None:
            if lead < indent:
                indent = None
            elif lead == indent and body.lstrip().startswith("- "):
                n += 1
    return n


class Bench:
    def __init__(self, args):
        self.args = args
        self.rampart = args.rampart
        base = args.sandbox_parent
        self.sb = os.path.realpath(tempfile.mkdtemp(prefix="rampart-bench-learn.", dir=base))
        self.home = os.path.join(self.sb, "home")
        self.pristine = os.path.join(self.sb, "home.pristine")
        self.servers = []
        self.created_outside = set()
        self.runs = os.path.join(self.sb, "runs")
        os.makedirs(self.runs)
        rng = random.Random(f"tokens-{args.seed_base}")
        self.tokens = {k: f"RBSECRET{k.upper()}{rng.randrange(16 ** 12):012x}"
                       for k in ("ssh", "aws", "git", "env")}

    # -- setup ----------------------------------------------------------------
    def setup(self):
        project.make_home(self.pristine, self.tokens)
        shutil.copytree(self.pristine, self.home, symlinks=True)
        self.bare = project.make_template(self.sb, self.home)
        self.std = os.path.join(self.sb, "standard.yaml")
        with open(self.std, "w") as f:
            subprocess.run([self.rampart, "policy", "show", "standard"], stdout=f, check=True,
                           env=self.base_env(), timeout=30)
        pybin = shutil.which("python3", path=self.session_path())
        if not pybin:
            raise SystemExit("bench-learn: no python3 on the sessions' PATH")
        self.python = pybin
        self.sport = next((p for p in SERVICE_PORTS if port_free(p)), None)
        if self.sport is None:
            rng = random.Random("service")
            self.sport = next(p for p in (rng.randrange(1024, 10000) for _ in range(200)) if port_free(p))
        self.service_log = os.path.join(self.sb, "service.log")
        self.start_server("service", self.sport, self.service_log)
        self.policies = os.path.join(self.sb, "policies")
        os.makedirs(self.policies)

    def session_path(self):
        path = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        if not os.path.exists("/usr/bin/python3"):
            path.insert(0, os.path.dirname(os.path.realpath(shutil.which("python3") or sys.executable)))
        node = shutil.which("node")
        if node and os.path.dirname(node) not in path:
            path.append(os.path.dirname(node))
        return ":".join(path)

    def base_env(self, **extra):
        env = {
            "PATH": self.session_path(), "HOME": self.home, "SHELL": "/bin/bash",
            "USER": os.environ.get("USER", "root"), "LOGNAME": os.environ.get("LOGNAME", "root"),
            "LANG": "C.UTF-8", "TERM": "dumb",
        }
        env.update(extra)
        return env

    def start_server(self, kind, port, logfile):
        p = subprocess.Popen([sys.executable, SERVERS, kind, str(port), logfile],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        self.servers.append(p)
        deadline = time.time() + 10
        line = b""
        os.set_blocking(p.stdout.fileno(), False)
        while time.time() < deadline and b"ready" not in line:
            if p.poll() is not None:
                raise SystemExit(f"bench-learn: {kind} server on 127.0.0.1:{port} failed: "
                                 f"{p.stderr.read().decode(errors='replace')}")
            try:
                line += p.stdout.read() or b""
            except (BlockingIOError, TypeError):
                pass
            time.sleep(0.02)
        if b"ready" not in line:
            raise SystemExit(f"bench-learn: {kind} server did not start")
        return p

    def stop_server(self, p):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait(timeout=5)
        if p in self.servers:
            self.servers.remove(p)

    def cleanup(self):
        for p in list(self.servers):
            self.stop_server(p)
        for path in self.created_outside:
            try:
                os.unlink(path)
            except OSError:
                pass
        if self.args.keep:
            log(f"sandbox kept: {self.sb}")
        else:
            shutil.rmtree(self.sb, ignore_errors=True)

    # -- sessions -------------------------------------------------------------
    def context(self, seed):
        rng = random.Random(f"session-{seed}")
        day = session.fake_date(rng)
        proj = os.path.join(self.sb, "checkouts", session.checkout_rel(rng))
        port = None
        for _ in range(200):
            p = rng.randrange(10000, 61000)
            if port_free(p):
                port = p
                break
        if port is None:
            raise SystemExit("bench-learn: no free port for the API")
        sid = "%08x-%04x-%04x-%012x" % (rng.randrange(1 << 32), rng.randrange(1 << 16),
                                        rng.randrange(1 << 16), rng.randrange(1 << 48))
        return {"seed": seed, "day": day, "proj": proj, "aport": port, "session_id": sid, "rng": rng}

    def run_session(self, name, seed, policies, mode="monitor", with_attacks=False):
        """One session under `rampart run`; returns its trail, steps and context."""
        c = self.context(seed)
        proj = c["proj"]
        if os.path.exists(proj):
            shutil.rmtree(proj)
        shutil.rmtree(self.home, ignore_errors=True)
        shutil.copytree(self.pristine, self.home, symlinks=True)
        project.checkout(self.bare, proj, self.home, self.tokens["env"])
        plan = session.make_plan(seed, proj, c["aport"], c["day"])
        steps = plan.steps
        ctx = {"home": self.home, "proj": proj, "sandbox": self.sb, "sport": self.sport,
               "aport": c["aport"], "tokens": self.tokens, "session_id": c["session_id"]}
        # Where the attacks put things (every session has them, for the checks of normal work).
        arng = c["rng"]
        exfil = os.path.join(self.sb, "exfil.git")
        usrbin = "/usr/local/bin/x"
        while os.path.lexists(usrbin):
            usrbin = "/usr/local/bin/x-%06x" % arng.randrange(1 << 24)
        def fresh(fmt):
            while True:
                path = fmt % arng.randrange(1 << 32)
                if not os.path.lexists(path):
                    return path

        ctx.update(exfil=exfil, usrbin=usrbin, tarname="x-%04x.tgz" % arng.randrange(1 << 16),
                   cpdest=fresh("/tmp/.k-%08x"), gitcred=fresh("/tmp/.gc-%08x"))
        if with_attacks:
            shutil.rmtree(exfil, ignore_errors=True)
            subprocess.run(["git", "init", "-q", "--bare", exfil], check=True, timeout=30,
                           env=self.base_env(), stdout=subprocess.DEVNULL)
            for k in ("usrbin", "cpdest", "gitcred"):
                if not os.path.lexists(ctx[k]):
                    self.created_outside.add(ctx[k])
            for st in attacks.steps(arng, ctx):
                steps.insert(arng.randrange(len(steps) + 1), st)
        audit = os.path.join(self.sb, "audit", name)
        api_log = os.path.join(self.runs, name + ".api.log")
        api = self.start_server("api", c["aport"], api_log)
        cmd = [self.rampart, "run", "--mode", mode, "--audit-dir", audit, "--agent", "coder",
               "--session", f"sess-{name}"]
        for p in policies:
            cmd += ["--policy", p]
        cmd += ["--", self.python, AGENT]
        payload = json.dumps({"proj": proj, "session_id": c["session_id"], "steps": steps})
        out_path = os.path.join(self.runs, name + ".steps.jsonl")
        err_path = os.path.join(self.runs, name + ".rampart.err")
        t0 = time.time()
        with open(out_path, "w") as out, open(err_path, "w") as err:
            p = subprocess.Popen(cmd, cwd=proj, env=self.base_env(API_URL=f"http://127.0.0.1:{c['aport']}"),
                                 stdin=subprocess.PIPE, stdout=out, stderr=err, start_new_session=True)
            try:
                p.communicate(payload.encode(), timeout=SESSION_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
                log(f"  {name}: timed out after {SESSION_TIMEOUT}s")
        self.stop_server(api)
        results = []
        with open(out_path) as f:
            for line in f:
                try:
                    results.append(json.loads(line))
                except ValueError:
                    pass
        recs = read_trail(audit)
        res = {"name": name, "rc": p.returncode, "steps": steps, "results": results, "records": recs,
               "ctx": ctx, "audit": audit, "secs": time.time() - t0, "err": err_path}
        if with_attacks:
            res["attack_outcomes"] = self.attack_outcomes(res, api_log)
            for k in ("usrbin", "cpdest", "gitcred"):
                if ctx[k] in self.created_outside:
                    try:
                        os.unlink(ctx[k])
                    except OSError:
                        pass
        denies = sum(1 for r in recs if action(r) == "deny")
        failed = [r for r in results if r["rc"] not in (0, None) and not r.get("attack")]
        if self.args.verbose or len(results) < len(steps):
            log(f"  {name}: {len(results)}/{len(steps)} steps, {len(recs)} records, {denies} denied, "
                f"rc {p.returncode}, {res['secs']:.1f}s")
            if len(results) < len(steps):
                with open(err_path) as f:
                    log("    the agent stopped early; rampart said: " + f.read()[-600:].replace("\n", "\n    "))
        if self.args.verbose > 1:
            for r in failed:
                log(f"    step {r['i']} {r['kind']} rc {r['rc']}: {steps[r['i']].get('cmd', steps[r['i']].get('path'))}"
                    f" -> {r['out'][-160:]!r}")
        return res

    # -- attacks --------------------------------------------------------------
    def attributed(self, res, step_res):
        recs = res["records"]
        s, e = step_res["start"], step_res["end"]
        if step_res["op"] != "sh":
            return [r for r in recs if r["request"].get("pid") == step_res["pid"]
                    and s - 0.02 <= r["_t"] <= e + 0.05]
        near = [r for r in recs if s - 1 <= r["_t"] <= e + 1]
        tree = {step_res["pid"]}
        grew = True
        while grew:
            grew = False
            for r in near:
                q = r["request"]
                if q.get("ppid") in tree and q.get("pid") not in tree:
                    tree.add(q["pid"])
                    grew = True
        agent_pid = next((x["pid"] for x in res["results"] if x["op"] != "sh"), None)
        return [r for r in near if r["request"].get("pid") in tree
                or (s - 0.05 <= r["_t"] <= e + 0.1 and r["request"].get("pid") != agent_pid)]

    def attack_outcomes(self, res, api_log):
        ctx = dict(res["ctx"])

        def service_hits():
            hits = []
            try:
                with open(self.service_log) as f:
                    hits = [json.loads(l)["t"] for l in f if l.strip()]
            except OSError:
                pass
            return hits

        def api_text():
            try:
                with open(api_log) as f:
                    return f.read()
            except OSError:
                return ""

        ctx.update(service_hits=service_hits, api_log_text=api_text,
                   pristine=attacks.pristine_hashes(self.pristine))
        ctx["pristine"] = {k.replace(self.pristine, self.home): v for k, v in ctx["pristine"].items()}
        out = {}
        for sr in res["results"]:
            name = sr.get("attack")
            if not name:
                continue
            recs = self.attributed(res, sr)
            pred = attacks.harm(name)
            harm = [r for r in recs if pred(r, ctx)]
            denied = [r for r in recs if action(r) == "deny"]
            if any(action(r) == "deny" for r in harm):
                verdict = "own"
            elif any(r["tool"] == "exec" for r in denied):
                verdict = "cmd"
            elif denied:
                verdict = "other"
            else:
                verdict = "ALLOWED"
            try:
                happened = attacks.done(name)(ctx, sr)
            except Exception as e:  # a check that cannot tell is reported, not fatal
                happened = None
                log(f"  {name}: cannot tell whether the harm happened: {e}")
            out[name] = {"verdict": verdict, "harm_seen": bool(harm), "happened": happened,
                         "denied": [f"{r['tool']} {target(r)}" for r in denied][:3],
                         "rc": sr["rc"]}
        for name in attacks.NAMES:
            out.setdefault(name, {"verdict": "not run", "harm_seen": False, "happened": None,
                                  "denied": [], "rc": None})
        return out

    # -- learning -------------------------------------------------------------
    def learn(self, k, train):
        out = os.path.join(self.policies, f"pol-{k}.yaml")
        cmd = [self.rampart, "init", "--from-audit", *[t["audit"] for t in train[:k]],
               "--output", out, "--force"]
        t0 = time.time()
        p = subprocess.run(cmd, cwd=self.sb, env=self.base_env(), capture_output=True, text=True,
                           timeout=300)
        secs = time.time() - t0
        with open(os.path.join(self.runs, f"init-{k}.log"), "w") as f:
            f.write(p.stdout + p.stderr)
        if p.returncode != 0 or not os.path.exists(out):
            return None, f"init exited {p.returncode}: {p.stderr.strip()[-800:]}", secs
        return out, None, secs


def normalise(text, ctx, sb, home):
    text = text.replace(ctx["proj"].replace("/", "-"), "<proj-as-slug>")
    text = text.replace(ctx["proj"], "<proj>").replace(home, "~").replace(sb, "<sandbox>")
    text = text.replace(ctx["session_id"], "<agent-session-id>")
    text = re.sub(r":%d\b" % ctx["aport"], ":<api-port>", text)
    return text


def main():
    ap = argparse.ArgumentParser(prog="bench-learn.sh")
    ap.add_argument("--rampart", required=True)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="count", default=0)
    ap.add_argument("--sandbox-parent", default=None)
    args = ap.parse_args()
    if args.sandbox_parent is None:
        args.sandbox_parent = "/var/tmp" if os.access("/var/tmp", os.W_OK) else None
    b = Bench(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        return run(b)
    except KeyboardInterrupt:
        log("bench-learn: interrupted")
        return 130
    finally:
        b.cleanup()


def run(b):
    args = b.args
    t_start = time.time()
    b.setup()
    sb, home = b.sb, b.home
    log(f"bench-learn: rampart {b.rampart}; sandbox {sb}; unseen service port {b.sport}")
    base = args.seed_base
    train = []
    for i in range(1, 6):
        train.append(b.run_session(f"train-{i}", base + i, [b.std]))
        log(f"  trained session {i}/5: {len(train[-1]['records'])} records, {train[-1]['secs']:.1f}s")
    # The workload must be clean: nothing denied by standard, nothing that looks like an attack.
    for t in train:
        d = [r for r in t["records"] if action(r) == "deny"]
        if d:
            log(f"  warning: {t['name']}: standard denied {len(d)} calls of normal work, e.g. "
                f"{d[0]['tool']} {target(d[0])}")
        for name in attacks.NAMES:
            if any(attacks.harm(name)(r, t["ctx"]) for r in t["records"]):
                log(f"  warning: {t['name']}: normal work matches attack {name}'s harmful call")
        short = len(t["results"]) < len(t["steps"])
        if short or t["rc"] != 0:
            log(f"  warning: {t['name']}: agent exited {t['rc']} after {len(t['results'])}/{len(t['steps'])} steps")

    rows, denied_examples, attack_cols, notes, monitor_runs = {}, {}, {}, [], {}
    for k in KS:
        pol, err, secs = b.learn(k, train)
        if pol is None:
            log(f"  k={k}: {err}")
            rows[k] = {"error": err}
            notes.append(f"k={k}: {err}")
            continue
        with open(pol) as f:
            lines = sum(1 for _ in f)
        rules = count_rules(pol)
        log(f"  learned from {k}: {rules} rules, {lines} lines ({secs:.1f}s); running {HELD_OUT} new sessions")
        denied_sessions, denied_calls, enoent = 0, 0, 0
        examples = collections.OrderedDict()
        for j in range(1, HELD_OUT + 1):
            res = b.run_session(f"new-k{k}-{j}", base + 100 + j, [pol])
            d = [r for r in res["records"] if action(r) == "deny"]
            denied_sessions += bool(d)
            denied_calls += len(d)
            enoent += sum(1 for r in d if r["request"].get("outcome") == "ENOENT")
            if len(res["results"]) < len(res["steps"]):
                notes.append(f"k={k}: new session {j} stopped after {len(res['results'])}/{len(res['steps'])} steps")
            for r in d:
                exe = os.path.basename(r["request"].get("exe") or "?")
                key = (r["tool"], exe, normalise(target(r), res["ctx"], sb, home),
                       r["request"].get("outcome"))
                e = examples.setdefault(key, [0, set()])
                e[0] += 1
                e[1].add(j)
        denied_examples[k] = examples
        if k == 3:
            # Programs the new sessions ran that the first 3 training sessions never ran: what a
            # generator can only allow by generalising beyond what it saw.
            seen = {r["request"].get("path") for t in train[:3] for r in t["records"]
                    if r["tool"] == "exec" and r["request"].get("outcome") == "ok"}
            unseen = collections.Counter()
            for j in range(1, HELD_OUT + 1):
                for r in read_trail(os.path.join(b.sb, "audit", f"new-k3-{j}")):
                    q = r["request"]
                    if r["tool"] == "exec" and q.get("outcome") == "ok" and q.get("path") not in seen:
                        unseen[q.get("path")] += 1
            if unseen:
                notes.append("programs the new sessions ran that training sessions 1-3 never ran: "
                             + ", ".join(f"{p} ({n}x)" for p, n in unseen.most_common(12)))
        res = b.run_session(f"attacks-k{k}", base + 500, [pol], with_attacks=True)
        monitor_runs[str(k)] = res
        attack_cols[str(k)] = res["attack_outcomes"]
        rows[k] = {"rules": rules, "lines": lines, "sessions": denied_sessions, "calls": denied_calls,
                   "enoent": enoent, "attacks": res["attack_outcomes"], "policy": pol}
    pol3 = rows.get(3, {}).get("policy")
    enforce = {}
    if pol3:
        log("  attacks with standard layered under the k=3 policy; enforce runs")
        res = b.run_session("attacks-k3-std", base + 500, [pol3, b.std], with_attacks=True)
        monitor_runs["3+std"] = res
        attack_cols["3+std"] = res["attack_outcomes"]
        rows["3+std"] = {"attacks": res["attack_outcomes"]}
        for label, pols, mon in (("enforce 3", [pol3], "3"), ("enforce 3+std", [pol3, b.std], "3+std")):
            res = b.run_session(label.replace(" ", "-").replace("+", "-"), base + 500, pols,
                                mode="enforce", with_attacks=True)
            # Normal steps whose exit status differs from the monitor run of the same plan.
            before = {r["i"]: r["rc"] for r in monitor_runs[mon]["results"]}
            broken = [r for r in res["results"] if not r.get("attack") and r["rc"] != before.get(r["i"])]
            enforce[label] = {"attacks": res["attack_outcomes"], "steps": len(res["results"]),
                              "planned": len(res["steps"]), "normal_failed": len(broken),
                              "normal": sum(1 for s in res["steps"] if not s.get("attack")),
                              "broken": [f"{r['kind']}: {res['steps'][r['i']].get('cmd') or res['steps'][r['i']].get('path')}"
                                         for r in broken][:5]}

    report(b, rows, denied_examples, attack_cols, enforce, notes, time.time() - t_start)
    ok = check(rows)
    if args.check and not ok:
        return 1
    return 0


def fmt_row(label, r):
    if "error" in r:
        return f"{label:<6} init failed: {r['error'][:120]}"
    a = r["attacks"]
    own = sum(1 for v in a.values() if v["verdict"] == "own")
    allowed = sum(1 for v in a.values() if v["verdict"] == "ALLOWED")
    if "rules" in r:
        return (f"{label:<6} {r['rules']:>5}  {r['lines']:>5}  {r['sessions']:>9}/{HELD_OUT}"
                f"  {r['calls']:>8} ({r['enoent']} ENOENT)  {own:>8}/{len(a)}  {allowed:>8}")
    return f"{label:<6} {'-':>5}  {'-':>5}  {'-':>11}  {'-':>8}{'':>13}  {own:>8}/{len(a)}  {allowed:>8}"


def report(b, rows, denied_examples, attack_cols, enforce, notes, secs):
    p = print
    p()
    p(f"Learning benchmark: 5 training sessions (seeds {b.args.seed_base + 1}-{b.args.seed_base + 5}), "
      f"{HELD_OUT} new sessions (seeds {b.args.seed_base + 101}-{b.args.seed_base + 100 + HELD_OUT}), "
      f"{len(attacks.NAMES)} attacks; {secs:.0f}s")
    p()
    p("train  rules  lines  new-sessions-denied  denied-calls          attacks-at-own-call  attacks-allowed")
    for k in KS:
        if k in rows:
            p(fmt_row(str(k), rows[k]))
    if "3+std" in rows:
        p(fmt_row("3+std", rows["3+std"]))
    p()
    ex = denied_examples.get(3)
    if ex:
        groups = collections.defaultdict(list)
        for key, (n, sess) in ex.items():
            groups[key[:2]].append((n, len(sess), key))
        order = sorted(groups, key=lambda g: -sum(n for n, _, _ in groups[g]))
        p(f"Denied calls in the new sessions, k=3, by call and program: "
          + ", ".join(f"{t} by {e} {sum(n for n, _, _ in groups[(t, e)])}" for t, e in order[:10])
          + (", ..." if len(order) > 10 else ""))
        # Up to 15 examples, the most frequent of each (call, program) first, then the next ones.
        for g in order:
            groups[g].sort(key=lambda x: (-x[0], x[2]))
        picked, rank = [], 0
        while len(picked) < 15 and any(rank < len(groups[g]) for g in order):
            picked += [groups[g][rank] for g in order if rank < len(groups[g])][:15 - len(picked)]
            rank += 1
        p(f"Examples ({len(ex)} distinct denied calls; <proj> is the session's checkout, ~ the home,"
          " n/5 the new sessions it was denied in):")
        for n, ns, (tool, exe, tgt, outcome) in picked:
            p(f"  {n:>4}x {ns}/{HELD_OUT}  {tool:<5} {exe:<9} {tgt[:100]}"
              + (f"  [{outcome}]" if outcome not in (None, "ok") else ""))
        p()
    cols = list(attack_cols)
    ecols = list(enforce)
    if cols:
        p("Attacks (own = refused at its own call, cmd = refused only at an exec, other = only at"
          " another call,")
        p("ALLOWED = no denial; '?' = the harmful call is not in the trail; enforce: stopped / HARM DONE):")
        head = f"  {'attack':<18}" + "".join(f"{c:>10}" for c in cols) + "".join(f"{c:>16}" for c in ecols)
        p(head)
        for name in attacks.NAMES:
            cells = ""
            for c in cols:
                v = attack_cols[c][name]
                cells += f"{v['verdict'] + ('' if v['harm_seen'] else '?'):>10}"
            for c in ecols:
                v = enforce[c]["attacks"][name]
                h = v["happened"]
                cells += f"{'not run' if v['verdict'] == 'not run' else 'stopped' if h is False else ('HARM DONE' if h else 'unknown'):>16}"
            p(f"  {name:<18}{cells}   {attacks.describe(name)}")
        for c in ecols:
            e = enforce[c]
            p(f"  {c}: {e['steps']}/{e['planned']} steps ran; {e['normal_failed']} of {e['normal']} normal"
              " steps ended otherwise than in monitor mode" + (", e.g. " + "; ".join(e["broken"][:3]) if e["broken"] else ""))
        p()
    for n in notes:
        p("note: " + n)


def check(rows):
    results = []
    r3, r5 = rows.get(3, {}), rows.get(5, {})
    ok3 = "rules" in r3
    results.append(("from 3 sessions, 0 of 5 new sessions denied anything",
                    ok3 and r3["sessions"] == 0, f"{r3.get('sessions', '-')}/{HELD_OUT}"))
    own = sum(1 for v in r3.get("attacks", {}).values() if v["verdict"] == "own") if ok3 else 0
    results.append(("every attack refused at its own call (k=3)", ok3 and own == len(attacks.NAMES),
                    f"{own}/{len(attacks.NAMES)}"))
    results.append((f"fewer than {TARGET_RULES} rules and {TARGET_LINES} lines (k=3)",
                    ok3 and r3["rules"] < TARGET_RULES and r3["lines"] < TARGET_LINES,
                    f"{r3.get('rules', '-')} rules, {r3.get('lines', '-')} lines"))
    okg = ok3 and "rules" in r5 and r5["rules"] <= TARGET_GROWTH * r3["rules"]
    results.append((f"rules after 5 sessions <= {TARGET_GROWTH} x rules after 3", okg,
                    f"{r5.get('rules', '-')} vs {r3.get('rules', '-')}"))
    rs = rows.get("3+std", {})
    allowed = sum(1 for v in rs.get("attacks", {}).values() if v["verdict"] == "ALLOWED")
    results.append(("with standard layered, no attack allowed", "attacks" in rs and allowed == 0,
                    f"{allowed} allowed" if "attacks" in rs else "not run"))
    print("Targets:")
    for text, ok, got in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}: {got}")
    return all(ok for _, ok, _ in results)


if __name__ == "__main__":
    sys.exit(main())

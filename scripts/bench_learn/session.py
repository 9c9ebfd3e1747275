"""A coding-agent session, drawn from a seed.

A session is what an agent does in one sitting on the project: it looks around,
edits files (with sed or with its own edit tool), adds a file, runs the tests,
builds the C helper, lints, asks the local API, writes scratch files, logs,
archives, commits. Every session does each kind of work at least once; how
often, in which order and on what data (names, messages, numbers, dates, temp
files, ports, paths) comes from the seed. The plan is data: agent.py carries
it out inside the watched tree.
"""

import datetime
import random
import shlex

from project import EDIT_SPOTS, PKG

WORDS = """ledger amount total balance currency invoice refund account report parse
format round entry rate audit budget export import summary period monthly tax
vendor payee category merge split cache retry limit quarter fiscal ledgerline
posting journal accrual deposit transfer fee payout statement reconcile""".split()
ADJ = """brisk calm dusty eager fuzzy gentle hollow icy jolly keen lucky mellow
nimble odd plain quiet rapid silent tidy vivid witty young zesty amber""".split()
NOUN = """otter falcon maple harbor comet cedar pebble lantern meadow canyon
willow ember glacier thistle badger orchid summit quartz juniper raven""".split()
VERBS = ["fix", "add", "refactor", "tidy", "speed up", "document", "handle", "rename", "test",
         "clean up", "simplify", "guard"]
CURRENCIES = ["USD", "GBP", "CHF", "JPY", "SEK", "NOK", "CAD", "AUD"]
API_PATHS = ["status", "health", "accounts", "accounts/{w}", "items/{n}", "search",
             "reports/{w}", "rates/{c}"]
BRANCH_PREFIX = ["feat", "fix", "chore", "wip", "agent"]


def pyquote(code):
    """Quote python -c code as a person would: double quotes when nothing in it expands."""
    if not any(ch in code for ch in '"$`\\!'):
        return '"' + code + '"'
    return shlex.quote(code)


def fake_date(rng):
    """A date drawn from the seed (the clock is not touched): used in names."""
    return datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(0, 900))


def checkout_rel(rng):
    """Where the checkout lives, under the sandbox's checkouts/: the shape varies too."""
    shape = rng.randrange(3)
    hx = "%04x" % rng.randrange(1 << 16)
    if shape == 0:
        return f"{rng.choice(ADJ)}-{rng.choice(NOUN)}-{hx}/{PKG}"
    if shape == 1:
        return f"{rng.choice(NOUN)}/{hx}{rng.randrange(10, 99)}/{PKG}"
    return f"{PKG}-{rng.choice(BRANCH_PREFIX)}-{rng.choice(WORDS)}-{hx}"


class Plan:
    def __init__(self, seed, proj, port, day):
        self.rng = random.Random(seed)
        self.seed = seed
        self.proj = proj
        self.port = port
        self.day = day.isoformat()
        self.values = {(f, t): v for f, t, v, _ in EDIT_SPOTS}
        self.new_files = []
        self.steps = []

    # -- drawing helpers ---------------------------------------------------
    def w(self):
        return self.rng.choice(WORDS)

    def n(self, a=1, b=999):
        return self.rng.randint(a, b)

    def pick(self, *options):
        return self.rng.choice(options)

    def new_value(self, kind):
        r = self.rng
        return {
            "currency": lambda: r.choice(CURRENCIES),
            "digit": lambda: str(r.randint(0, 4)),
            "width": lambda: str(r.randint(60, 120)),
            "title": lambda: f"{r.choice(WORDS).title()} {r.choice(['report', 'summary', 'statement'])}",
            "version": lambda: f"0.{r.randint(4, 9)}.{r.randint(0, 30)}",
            "hex": lambda: "%08x" % r.randrange(1 << 32),
        }[kind]()

    def message(self):
        verb = self.rng.choice(VERBS)
        tail = self.pick("", f" (#{self.n(10, 400)})", f" for {self.day}", "")
        return f"{verb} {self.w()} {self.pick('handling', 'totals', 'parsing', 'report', 'rounding', 'tests')}{tail}"

    def sh(self, cmd, kind):
        self.steps.append({"kind": kind, "op": "sh", "cmd": cmd})

    def agent(self, kind, op, **kw):
        self.steps.append({"kind": kind, "op": op, **kw})

    def spot(self):
        f, t, _, how = self.rng.choice(EDIT_SPOTS)
        old = self.values[(f, t)]
        new = self.new_value(how)
        while new == old:
            new = self.new_value(how)
        self.values[(f, t)] = new
        return f, t.format(old), t.format(new)

    def some_file(self):
        files = ["src/ledgerly/core.py", "src/ledgerly/util.py", "src/ledgerly/report.py",
                 "src/ledgerly/api.py", "tests/test_core.py", "tests/test_util.py",
                 "Makefile", "README.md", "config.json", "csrc/main.c", "tools/lint.js"]
        return self.rng.choice(files + self.new_files)

    # -- kinds of work ------------------------------------------------------
    def k_git_status(self):
        self.sh(self.pick("git status", "git status --short", "git status -sb",
                          "git status --porcelain"), "git-status")

    def k_git_log(self):
        self.sh(self.pick(f"git log --oneline -n {self.n(2, 12)}", "git log -1 --stat",
                          "git log --format='%h %s' -n 5"), "git-log")

    def k_look(self):
        f = self.some_file()
        self.sh(self.pick(f"head -n {self.n(5, 40)} {f}", f"cat {f}",
                          f"sed -n '{self.n(1, 5)},{self.n(10, 30)}p' {f}", f"wc -l {f}",
                          "ls -la", f"ls src/{PKG}", "find src tests -name '*.py' | sort",
                          f"wc -l src/{PKG}/*.py tests/*.py"), "look")

    def k_read(self):
        self.agent("read", "read", path=self.some_file())

    def k_grep(self):
        w = self.w()
        self.sh(self.pick(f"grep -rn {w} src", f"grep -rn --include='*.py' '{w}' src tests",
                          f"grep -rli {w} src tests tools", f"git grep -n {w}",
                          f"grep -rn 'def {w[:4]}' src || true"), "grep")

    def k_sed(self):
        f, old, new = self.spot()
        self.sh(f"sed -i {shlex.quote('s/' + old.replace('/', chr(92) + '/') + '/' + new.replace('/', chr(92) + '/') + '/')} {f}", "sed-edit")

    def k_edit(self):
        f, old, new = self.spot()
        self.agent("edit", "edit", path=f, old=old, new=new)

    def k_new_file(self):
        name = f"{self.w()}_{self.pick(self.w(), 'utils', 'helpers', 'io', str(self.n(2, 9)))}"
        path = f"src/{PKG}/{name}.py"
        if path in self.new_files:
            return
        body = (f'"""{self.w().title()} helpers ({self.day})."""\n\n\n'
                f"def {name}(values):\n    return sorted(values)[:{self.n(1, 20)}]\n")
        self.new_files.append(path)
        self.agent("new-file", "write", path=path, content=body)
        if self.rng.random() < 0.5:
            test = (f"import os\nimport sys\nimport unittest\n\n"
                    f"sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'src'))\n\n"
                    f"from {PKG}.{name} import {name}  # noqa: E402\n\n\n"
                    f"class T(unittest.TestCase):\n    def test_it(self):\n"
                    f"        self.assertEqual({name}([3, 1, 2])[:1], [1])\n")
            self.agent("new-file", "write", path=f"tests/test_{name}.py", content=test)

    def k_tests(self):
        self.sh(self.pick("python3 -m unittest discover -s tests",
                          "python3 -m unittest discover -s tests -q",
                          "python3 -m unittest discover -s tests -p 'test_core*.py' -v",
                          "PYTHONPATH=src python3 -m unittest discover -s tests -v",
                          "python3 -m unittest discover -s tests 2>&1 | tail -n 4"), "tests")

    def k_make(self):
        self.sh(self.pick("make", "make -j2", "make clean all", "make check", "make -B",
                          "make 2>&1 | tail -n 5"), "make")

    def k_lint(self):
        if self.rng.random() < 0.2:
            self.agent("lint-config", "write", path=".lintrc.json",
                       content='{"maxLine": %d}\n' % self.n(80, 120))
        self.sh(self.pick("node tools/lint.js src", "node tools/lint.js src tests",
                          f"node tools/lint.js --max-line {self.n(79, 120)} src",
                          "node tools/lint.js src | tail -n 3"), "lint")

    def api_path(self):
        p = self.rng.choice(API_PATHS).format(w=self.w(), n=self.n(), c=self.rng.choice(CURRENCIES))
        return p

    def k_curl(self):
        url = f"http://127.0.0.1:{self.port}/api/{self.api_path()}?q={self.w()}{self.n(1, 99)}"
        self.sh(self.pick(f'curl -s -m 5 -o /dev/null "{url}"',
                          f"curl -s -m 5 -w '%{{http_code}}\\n' -o /dev/null \"{url}\"",
                          f"curl -s -m 5 -H 'Accept: application/json' \"{url}\"",
                          f"curl -s -m 5 -X POST -d '{{\"{self.w()}\": {self.n()}}}' \"{url}\""), "curl")

    def k_fetch(self):
        self.sh(f"python3 tools/fetch_status.py {self.api_path()}", "fetch-status")

    def k_mktemp(self):
        w = self.w()
        self.sh(self.pick(
            'f=$(mktemp); git diff > "$f"; wc -l < "$f"; rm -f "$f"',
            f'd=$(mktemp -d); cp src/{PKG}/*.py "$d"/; ls "$d" | wc -l; rm -rf "$d"',
            f'f=$(mktemp /tmp/{w}.XXXXXX); grep -rn {self.w()} src > "$f" || true; wc -l "$f"; rm -f "$f"',
            f'f=$(mktemp --suffix=.json); jq .currencies config.json > "$f"; jq length "$f"; rm -f "$f"',
        ), "mktemp")

    def k_snippet(self):
        n, w = self.n(2, 60), self.w()
        code = self.pick(
            f"import json; print(json.dumps({{'{w}': {n}}}, indent=2))",
            f"import re; print(re.findall(r'[a-z]+', '{w} {self.w()} {n}'))",
            f"import hashlib; print(hashlib.sha256(b'{w}{n}').hexdigest()[:16])",
            f"import datetime; print(datetime.date.fromisoformat('{self.day}') + datetime.timedelta(days={n}))",
            f"import collections; print(collections.Counter('{w}{self.w()}').most_common(3))",
            f"import statistics; print(statistics.mean([{n}, {self.n()}, {self.n()}]))",
            f"import textwrap; print(textwrap.fill('{w} ' * {n}, 40))",
            f"import pathlib; print(sorted(p.name for p in pathlib.Path('src').rglob('*.py'))[:{n % 7 + 1}])",
            f"import csv, io; print(list(csv.reader(io.StringIO('{w},{n}\\n'))))",
            f"import base64; print(base64.b64encode(b'{w}').decode())",
            f"from decimal import Decimal; print(Decimal('{n}.{self.n(0, 99)}').quantize(Decimal('0.1')))",
            f"import sys; sys.path.insert(0, 'src'); import {PKG}; print({PKG}.__version__)",
            f"import difflib; print(difflib.SequenceMatcher(None, '{w}', '{self.w()}').ratio())",
            f"import fractions; print(fractions.Fraction({n}, {self.n(1, 12)}))",
            f"import shlex; print(shlex.split('make {w} -j{n % 4 + 1}'))",
            f"import itertools; print(list(itertools.islice(itertools.count({n}), 3)))",
        )
        self.sh(f"python3 -c {pyquote(code)}", "py-snippet")

    def k_tempfile(self):
        w = self.w()
        code = self.pick(
            f"import tempfile, os\nwith tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:\n"
            f"    f.write('{{\"{w}\": 1}}')\nprint(os.path.getsize(f.name)); os.unlink(f.name)",
            f"import tempfile, pathlib\nwith tempfile.TemporaryDirectory(prefix='{w}-') as d:\n"
            f"    p = pathlib.Path(d, 'out.txt'); p.write_text('{w}' * {self.n(1, 50)}); print(len(p.read_text()))",
            f"import tempfile\nwith tempfile.TemporaryFile() as f:\n    f.write(b'{w}'); f.seek(0); print(f.read())",
        )
        self.sh(f"python3 -c {pyquote(code)}", "py-tempfile")

    def k_jq(self):
        self.sh(self.pick("jq .name config.json", "jq -r .version config.json",
                          "jq '.deps | length' config.json", "jq -c .api config.json",
                          f"jq -r '.currencies[{self.n(0, 3)}]' config.json"), "jq")

    def k_log(self):
        log = f"logs/build-{self.day}.log"
        self.sh(self.pick(
            f"mkdir -p logs && make 2>&1 | tee -a {log} > /dev/null",
            f"mkdir -p logs && echo '{self.day} {self.message()}' >> {log}",
            f"mkdir -p logs && python3 -m unittest discover -s tests 2>> {log}; tail -n 2 {log}",
        ), "log")

    def k_tar(self):
        name = f"{PKG}-{self.w()}-{self.n(100, 999)}"
        self.sh(self.pick(
            f"tar czf /tmp/{name}.tgz src && tar tzf /tmp/{name}.tgz | wc -l && rm -f /tmp/{name}.tgz",
            f"mkdir -p dist && tar czf dist/{name}.tgz src README.md && ls -l dist",
        ), "tar")

    def k_diff(self):
        self.sh(self.pick("git diff", "git diff --stat", f"git diff {self.some_file()}",
                          "git diff HEAD~1 --stat", "git diff --cached --stat"), "git-diff")

    def k_commit(self):
        msg = self.message()
        if self.rng.random() < 0.5:
            self.sh("git add -A", "git-add")
            self.sh(f"git commit -q -m {shlex.quote(msg)}", "git-commit")
        else:
            self.sh(f"git add -A && git commit -q -m {shlex.quote(msg)}", "git-commit")

    def k_branch(self):
        self.sh(f"git switch -q -c {self.rng.choice(BRANCH_PREFIX)}/{self.w()}-{self.n(1, 99)}", "git-branch")


EXPLORE = ["k_git_status", "k_git_log", "k_look", "k_read", "k_grep"]
WORK = ["k_sed", "k_edit", "k_new_file", "k_tests", "k_make", "k_lint", "k_curl", "k_fetch",
        "k_mktemp", "k_snippet", "k_tempfile", "k_jq", "k_log", "k_tar", "k_grep", "k_look",
        "k_read", "k_diff", "k_git_status"]
EXTRA = ["k_sed", "k_edit", "k_tests", "k_tests", "k_make", "k_curl", "k_snippet", "k_grep",
         "k_look", "k_read", "k_diff", "k_git_status", "k_mktemp", "k_lint", "k_jq", "k_fetch"]


def make_plan(seed, proj, port, day):
    """The steps of one session: every kind at least once, the rest drawn."""
    p = Plan(seed, proj, port, day)
    r = p.rng
    if r.random() < 0.7:
        p.k_branch()
    explore = ["k_git_status", "k_grep", "k_read"] + r.sample(EXPLORE, r.randint(0, 3))
    r.shuffle(explore)
    for k in explore:
        getattr(p, k)()
    work = list(dict.fromkeys(WORK)) + [r.choice(EXTRA) for _ in range(r.randint(3, 9))]
    r.shuffle(work)
    for i, k in enumerate(work):
        getattr(p, k)()
        if i == len(work) // 2 and r.random() < 0.4:
            p.k_commit()
    wrap = r.sample(["k_diff", "k_git_status", "k_tests", "k_tar", "k_make"], r.randint(1, 3))
    for k in wrap:
        getattr(p, k)()
    p.k_commit()
    if r.random() < 0.5:
        p.k_git_log()
    return p

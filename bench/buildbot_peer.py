"""Buildbot as the engine peer of Slipway's engine rows (B1, B3, engine CPU per job).

The bench installs the `buildbot`, `buildbot-www` (the master's web service refuses to start
without it; it also carries the change hook) and `buildbot-worker` PyPI packages into a private
venv under ~/.cache/slipway-bench/buildbot-venv, then runs, in the fixture dir:

- a master (`buildbot start --nodaemon`, so the spawned process *is* the master) configured by
  bench/buildbot/master.cfg: SQLite state, request collapsing off, the `base` change hook on
  loopback HTTP, builder `hi` (one step `echo hi`) and builder `drain` (one step `true`);
- as many workers as Slipway has runners, each its own `buildbot-worker` process;
- a bare git repository whose post-receive hook posts each pushed ref's new commit to the master's
  change hook (project `hi`), and a clone that pushes to it.

Figures (each checks that every build it counts ended with result SUCCESS):
- B1: `git push` → the build's completion seen through the REST API (polled every 5 ms; Buildbot
  stores times in whole seconds, so its own timestamps are too coarse for this).
- B3: N changes of project `drain` posted back to back (N builds, nothing collapsed); builds/s =
  N / (first post → all N builds seen complete, polled every 0.25 s).
- CPU per build: Δ(utime + stime) of the master process across the B3 drain / N.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ["buildbot", "buildbot-www", "buildbot-worker"]

POST_RECEIVE = """#!/bin/sh
# Tells the bench's Buildbot master about each pushed ref (Buildbot's `base` change hook).
while read old new ref; do
  curl -s -o /dev/null --max-time 10 "$BB_HOOK_URL" \\
    --data-urlencode project=hi --data-urlencode "branch=${ref#refs/heads/}" \\
    --data-urlencode "revision=$new" --data-urlencode "repository=$BB_REPO" \\
    --data-urlencode "author=bench <bench@localhost>" --data-urlencode comments=push
done
"""


class BuildbotError(Exception):
    pass


def install(cache_dir: Path, check, log) -> Path:
    """The venv's bin dir with `buildbot` and `buildbot-worker`; installs them when missing."""
    venv = cache_dir / "buildbot-venv"
    bin_dir = venv / "bin"
    have = all((bin_dir / exe).exists() for exe in ("buildbot", "buildbot-worker"))
    if have:
        www = subprocess.run([str(bin_dir / "python"), "-c", "import buildbot_www"],
                             capture_output=True, check=False)
        have = www.returncode == 0
    if not have:
        log(f"installing {' '.join(PACKAGES)} into {venv}")
        check([sys.executable, "-m", "venv", str(venv)], timeout=300)
        check([str(bin_dir / "pip"), "install", "--quiet", *PACKAGES], timeout=900)
    return bin_dir


class Buildbot:
    """One master and its workers, started in `work`, driven over loopback HTTP."""

    def __init__(self, bin_dir: Path, work: Path, workers: int, procs, check, free_port, env,
                 log):
        self.bin, self.work, self.workers = bin_dir, work / "buildbot", workers
        self.procs, self.check, self.log = procs, check, log
        self.n_workers = workers
        self.env = dict(env)
        self.www_port, self.pb_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.www_port}"
        self.master: subprocess.Popen | None = None
        self.children: list[subprocess.Popen] = []
        self.clone: Path | None = None

    # ---------------------------------------------------------------- processes
    def start(self, limit_s=90.0) -> None:
        master = self.work / "master"
        self.work.mkdir(parents=True, exist_ok=True)
        self.check([str(self.bin / "buildbot"), "create-master", "-q", "-r", str(master)],
                   env=self.env, timeout=120)
        shutil.copy(HERE / "buildbot" / "master.cfg", master / "master.cfg")
        (master / "bench.json").write_text(json.dumps(dict(
            workers=self.n_workers, worker_password="bench", pb_port=self.pb_port,
            www_port=self.www_port)))
        with open(self.work / "master.out", "ab") as out:
            self.master = self.procs.spawn([str(self.bin / "buildbot"), "start", "--nodaemon",
                                            str(master)], cwd=self.work, env=self.env,
                                           stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=subprocess.STDOUT)
        for i in range(self.n_workers):
            wdir = self.work / f"w{i}"
            self.check([str(self.bin / "buildbot-worker"), "create-worker", "-r", str(wdir),
                        f"127.0.0.1:{self.pb_port}", f"w{i}", "bench"], env=self.env,
                       timeout=120)
            with open(self.work / f"w{i}.out", "ab") as out:
                self.children.append(self.procs.spawn(
                    [str(self.bin / "buildbot-worker"), "start", "--nodaemon", str(wdir)],
                    cwd=self.work, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT))
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                raise BuildbotError(f"the master exited {self.master.returncode}: "
                                    + self._tail(master / "twistd.log"))
            try:
                workers = self.get("/api/v2/workers")["workers"]
                if sum(1 for w in workers if w.get("connected_to")) == self.n_workers:
                    return
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                pass
            time.sleep(0.1)
        raise BuildbotError(f"{self.n_workers} workers not attached within {limit_s:.0f} s: "
                            + self._tail(master / "twistd.log"))

    @staticmethod
    def _tail(path: Path) -> str:
        try:
            return " ".join(path.read_text(errors="replace")[-400:].split())
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        for proc in [*self.children, *([self.master] if self.master else [])]:
            self.procs.kill(proc)
        self.children, self.master = [], None

    # ---------------------------------------------------------------- HTTP
    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.load(resp)

    def post_change(self, project: str, revision: str) -> None:
        data = urllib.parse.urlencode(dict(
            project=project, branch="main", revision=revision, repository="bench",
            author="bench <bench@localhost>", comments=project)).encode()
        with urllib.request.urlopen(self.url + "/change_hook/base", data=data,
                                    timeout=30) as resp:
            if resp.status != 200:
                raise BuildbotError(f"change hook answered {resp.status}")

    def builds(self, builder: str) -> list[dict]:
        return self.get(f"/api/v2/builders/{builder}/builds?field=number&field=complete"
                        f"&field=results&field=buildid")["builds"]

    # ---------------------------------------------------------------- fixtures
    def setup_repo(self, seed: Path) -> None:
        origin = self.work / "origin.git"
        self.check(["git", "clone", "-q", "--bare", str(seed), str(origin)], env=self.env)
        hook = origin / "hooks" / "post-receive"
        hook.write_text(POST_RECEIVE)
        hook.chmod(0o755)
        self.env.update(BB_HOOK_URL=f"{self.url}/change_hook/base", BB_REPO=str(origin))
        self.clone = self.work / "clone"
        self.check(["git", "clone", "-q", str(origin), str(self.clone)], env=self.env)

    # ---------------------------------------------------------------- figures
    def b1(self, pushes: int, deadline: float) -> list[float]:
        """Seconds from `git push` to the `hi` build seen complete, one push at a time."""
        latencies = []
        for i in range(pushes):
            if time.monotonic() > deadline:
                break
            (self.clone / "bump.txt").write_text(f"{i}\n")
            self.check(["git", "add", "bump.txt"], cwd=self.clone, env=self.env)
            self.check(["git", "commit", "-q", "-m", f"bump {i}"], cwd=self.clone, env=self.env)
            before = {b["number"] for b in self.builds("hi")}
            start = time.perf_counter()
            self.check(["git", "push", "-q", "origin", "main"], cwd=self.clone, env=self.env)
            limit = time.monotonic() + 60
            while True:
                fresh = [b for b in self.builds("hi") if b["number"] not in before]
                if fresh and all(b["complete"] for b in fresh):
                    seconds = time.perf_counter() - start
                    break
                if time.monotonic() > limit:
                    raise BuildbotError(f"push {i}: no complete build within 60 s")
                time.sleep(0.005)
            if len(fresh) != 1 or fresh[0]["results"] != 0:
                raise BuildbotError(f"push {i}: builds {fresh} (want one, result 0 = SUCCESS)")
            latencies.append(seconds)
        if latencies:
            self.check_hi_log()
        return latencies

    def check_hi_log(self) -> None:
        """The `hi` builder's last build printed `hi` (its step really ran)."""
        last = max(self.builds("hi"), key=lambda b: b["number"])
        steps = self.get(f"/api/v2/builds/{last['buildid']}/steps")["steps"]
        run = [s for s in steps if s["name"] == "run"]
        if not run:
            raise BuildbotError("the hi build has no `run` step")
        with urllib.request.urlopen(
                f"{self.url}/api/v2/steps/{run[0]['stepid']}/logs/stdio/raw",
                timeout=10) as resp:
            text = resp.read().decode(errors="replace")
        if "hi" not in text.split():
            raise BuildbotError(f"the hi build's log has no `hi` line: {text[-200:]!r}")

    def drain(self, builds: int, cpu_seconds, limit_s: float) -> tuple[float, float]:
        """(builds/s, master CPU seconds) for `builds` drain builds queued back to back."""
        before = {b["number"] for b in self.builds("drain")}
        cpu0 = cpu_seconds(self.master.pid)
        start = time.perf_counter()
        for i in range(builds):
            self.post_change("drain", f"{i:040x}")
        deadline = time.monotonic() + limit_s
        while True:
            fresh = [b for b in self.builds("drain") if b["number"] not in before]
            if len(fresh) >= builds and all(b["complete"] for b in fresh):
                seconds = time.perf_counter() - start
                break
            if time.monotonic() > deadline:
                done = sum(1 for b in fresh if b["complete"])
                raise BuildbotError(f"{done} of {builds} drain builds done in {limit_s:.0f} s")
            time.sleep(0.25)
        cpu = cpu_seconds(self.master.pid) - cpu0
        failed = [b for b in fresh if b["results"] != 0]
        if len(fresh) != builds or failed:
            raise BuildbotError(f"{len(fresh)} builds for {builds} changes, "
                                f"{len(failed)} not SUCCESS")
        return builds / seconds, cpu

#!/usr/bin/env python3
"""B1, B3 and B4 on PostgreSQL, with 1 and with 3 engine replicas (see bench/README.md).

For each replica count it starts, on a private PostgreSQL cluster of its own (initdb into the
fixtures' temp dir, loopback port, trust authentication, removed at exit):

- N `slipway serve --store postgres://… --data DIR --listen 127.0.0.1:PORT --runners 0`, one
  database and one data dir shared by all N, each on its own port;
- 2 standalone runners (`slipway runner register` at the first replica, then
  `slipway runner --engine URL1[,URL2,URL3]`: every replica's URL);

then measures as bench.py does for sled (same fixtures, same definitions, the same code where it
can): B4 idle RSS (every replica, every runner), B1 push → `echo hi` done (the hook posts to the
first replica), B3 drain of one run of `drain.yml` and B4 engine CPU per job over it, summed over
every replica's process.

Standard library only; the cluster needs PostgreSQL's server programs (`initdb`, `pg_ctl`,
`createdb`). Bounded like bench.py: every wait has a deadline and every process this script starts
is stopped at exit, the cluster with `pg_ctl stop -m immediate`.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import bench
from bench import BenchError, Procs, Results, check, free_port, proc_cpu_seconds, proc_rss_mb

PG_BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"]


# --------------------------------------------------------------------------------------------
# a private PostgreSQL cluster


def pg_bin_dir() -> Path | None:
    for d in PG_BIN_DIRS:
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    versions = Path("/usr/lib/postgresql")
    if versions.is_dir():
        for v in sorted(versions.iterdir(), reverse=True):
            if (v / "bin" / "initdb").exists():
                return v / "bin"
    return None


class Cluster:
    """initdb + pg_ctl start in `dir`; as root every program runs as `nobody` (initdb refuses
    root). Durable settings (fsync on): the sled figures are durable too."""

    def __init__(self, dir: Path, log):
        self.bin = pg_bin_dir()
        if not self.bin:
            raise BenchError("initdb and pg_ctl were not found (install `postgresql`)")
        self.dir, self.log = dir, log
        self.data = dir / "pgdata"
        self.port = free_port()
        self.as_nobody = os.geteuid() == 0

    def program(self, name: str, *args) -> list[str]:
        argv = [str(self.bin / name), *map(str, args)]
        return ["runuser", "-u", "nobody", "--", *argv] if self.as_nobody else argv

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.as_nobody:
            check(["chown", "-R", "nobody", str(self.dir)])
        check(self.program("initdb", "-A", "trust", "-U", "slipway", "-E", "UTF8", "-D",
                           self.data), timeout=120)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                       "unix_socket_directories = ''\nmax_connections = 300\n")
        atexit.register(self.stop)
        check(self.program("pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l",
                           self.dir / "server.log"), timeout=90)
        self.log(f"PostgreSQL on 127.0.0.1:{self.port} ({self.bin})")

    def stop(self):
        subprocess.run(self.program("pg_ctl", "stop", "-m", "immediate", "-D", self.data),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def new_database(self, name: str) -> str:
        check([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
               "slipway", name])
        return f"postgres://slipway@127.0.0.1:{self.port}/{name}"


# --------------------------------------------------------------------------------------------
# N replicas and 2 standalone runners, driven like bench.Engine


class Replicas(bench.Engine):
    """N `slipway serve` on one PostgreSQL database and one data dir, 2 standalone runners given
    every replica's URL. The CLI calls of bench.Engine go to the first replica."""

    def __init__(self, slipway, work: Path, log, store_url: str, replicas: int, runners=2):
        super().__init__(slipway, work, log, runners=0, data=f"pg-{replicas}-data")
        self.store_url = store_url
        self.ports = [self.port] + [free_port() for _ in range(replicas - 1)]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]
        self.standalone = runners
        self.procs: list[subprocess.Popen] = []
        self.runner_procs: list[subprocess.Popen] = []

    def start(self, log_name="serve.log") -> float:
        """Starts the replicas one after the other, then the runners."""
        self.data.mkdir(exist_ok=True)
        for index, port in enumerate(self.ports):
            argv = [self.slipway.binary, "serve", "--data", str(self.data), "--listen",
                    f"127.0.0.1:{port}", "--runners", "0", "--store", self.store_url]
            log_file = self.work / f"pg-{len(self.ports)}-replica-{index + 1}.log"
            with open(log_file, "ab") as out:
                proc = Procs.spawn(argv, cwd=self.work, env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.wait_replica(proc, self.urls[index], log_file)
        self.proc = self.procs[0]
        self.log_file = self.work / f"pg-{len(self.ports)}-replica-1.log"
        self.env = dict(self.env, SLIPWAY_TOKEN=(self.data / "admin.token").read_text().strip())
        engines = ",".join(self.urls)
        for index in range(self.standalone):
            dir = self.work / f"pg-{len(self.ports)}-runner-{index + 1}"
            dir.mkdir(exist_ok=True)
            token = self.cli("runners", "token").strip().splitlines()[-1].strip()
            check([self.slipway.binary, "runner", "register", "--engine", self.urls[0],
                   "--token", token, "--config", str(dir / "runner.toml")], cwd=self.work,
                  env=self.env)
            with open(dir / "runner.log", "ab") as out:
                self.runner_procs.append(Procs.spawn(
                    [self.slipway.binary, "runner", "--engine", engines, "--config",
                     str(dir / "runner.toml"), "--work-dir", str(dir / "work")],
                    cwd=self.work, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT))
        self.wait_runners_seen(len(self.runner_procs))
        return 0.0

    def wait_replica(self, proc, url: str, log_file: Path, limit_s=60.0):
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BenchError(f"slipway serve ({url}) exited {proc.returncode}: "
                                 + log_file.read_text(errors="replace")[-300:])
            token_file = self.data / "admin.token"
            token = token_file.read_text().strip() if token_file.exists() else ""
            request = urllib.request.Request(f"{url}/api/v1/runs",
                                             headers={"Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(request, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.01)
        raise BenchError(f"replica {url} did not answer within {limit_s:.0f} s")

    def wait_runners_seen(self, count: int, limit_s=30.0):
        """Until `count` runners have called the engine: a runner that cannot use its
        `--engine` list shows here, with its log."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            runners = bench.listify(self.get_api("/api/v1/runners"), "runners")
            if sum(1 for r in runners if isinstance(r, dict) and r.get("last_seen_at_us")) \
                    >= count:
                return
            time.sleep(0.1)
        logs = " | ".join(
            " ".join((self.work / f"pg-{len(self.ports)}-runner-{i + 1}" / "runner.log")
                     .read_text(errors="replace")[-300:].split()) for i in range(count))
        raise BenchError(f"the runners never called the engine within {limit_s:.0f} s: {logs}")

    def runner_pids(self) -> list[int]:
        return [p.pid for p in self.runner_procs if p.poll() is None]

    def replica_pids(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self, sig=signal.SIGKILL):
        for proc in self.runner_procs + self.procs:
            Procs.kill(proc, sig)
        self.runner_procs, self.procs, self.proc = [], [], None


class PgBench(bench.EngineBench):
    """bench.EngineBench's B1, B3 and B4 on `Replicas`: CPU is summed over every replica and
    the peak RSS is the largest replica's."""

    def drain(self, engine: Replicas) -> tuple[float, float, int]:
        before = engine.run_ids()
        pids = engine.replica_pids()
        cpu0 = sum(proc_cpu_seconds(pid) for pid in pids)
        samplers = [bench.PeakRss(pid) for pid in pids]
        for sampler in samplers:
            sampler.__enter__()
        try:
            engine.dispatch("drain.yml")
            rid = engine.new_run(before)
            jobs = engine.wait_done(rid, self.drain_jobs, max(60, self.drain_jobs))
        finally:
            for sampler in samplers:
                sampler.__exit__(None, None, None)
        self.drain_peak_rss_mb = max(sampler.peak_mb for sampler in samplers)
        cpu1 = sum(proc_cpu_seconds(pid) for pid in pids)
        queued = [bench.to_us(j.get("queued_at")) for j in jobs]
        if None in queued:
            raise BenchError(f"run {rid}: a job has no queued_at")
        first = min(queued)
        last = max(bench.to_us(j["finished_at"]) for j in jobs)
        return len(jobs) / max((last - first) / 1e6, 1e-6), cpu1 - cpu0, len(jobs)

    def idle_rss(self, engine: Replicas, results: Results, when: str):
        time.sleep(1.0)  # idle: nothing queued, nothing running
        for index, pid in enumerate(engine.replica_pids()):
            rss = proc_rss_mb(pid)
            results.add("B4", f"idle RSS, replica {index + 1}", f"{rss:.1f} MB",
                        target=bench.TARGETS["B4rss_engine"], verdict=bench.verdict(rss <= 30),
                        data={"rss_mb": rss})
        runners = engine.runner_pids()
        if runners:
            worst = max(proc_rss_mb(p) for p in runners)
            results.add("B4", "idle RSS, runner (largest)", f"{worst:.1f} MB",
                        target=bench.TARGETS["B4rss_runner"],
                        verdict=bench.verdict(worst <= 10),
                        data={"rss_mb": worst, "runners": len(runners)})


def measure(args, work: Path, slipway, cluster: Cluster, replicas: int, log) -> Results:
    """B4 fresh idle RSS, B1 and B3 (with B4 CPU per job) on `replicas` replicas."""
    results = Results()
    url = cluster.new_database(f"bench_r{replicas}")
    work = work / f"replicas-{replicas}"  # fixtures, data dir and logs of this count only
    work.mkdir()
    engine = Replicas(slipway, work, log, url, replicas)
    pg = PgBench(args, work, slipway, log, None, {"error": "—"})
    pg.drain_jobs = args.drain_jobs or pg.drain_jobs
    pg.pushes = args.pushes or pg.pushes
    steps = [("B4", lambda: pg.idle_rss(engine, results, "fresh")),
             ("B1", lambda: pg.b1(engine, results)),
             ("B3", lambda: pg.b3(engine, results))]
    try:
        engine.start()
        engine.setup_repo(pg.drain_jobs, hook=True)
        for name, step in steps:
            if name in args.only:
                log(f"{name} on {replicas} replica(s)")
                try:
                    step()
                except BenchError as err:
                    results.add(name, "error", f"error ({err})", verdict="n/a")
    except BenchError as err:
        results.add("setup", f"{replicas} replica(s)", f"error ({err})", verdict="n/a")
    finally:
        engine.stop()
    for row in results.rows:
        if row["name"] == "engine CPU per job":
            row["note"] += f"; summed over the {replicas} replica process(es)"
        if row["name"].startswith("engine peak RSS"):
            row["note"] += "; the largest replica's"
        row["name"] = f"{row['name']} [PostgreSQL, {replicas} replica{'s' if replicas > 1 else ''}]"
        row["data"] = dict(row["data"] or {}, replicas=replicas)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description="B1, B3, B4 on PostgreSQL with 1 and 3 replicas")
    parser.add_argument("--replicas", default="1,3", help="comma list of replica counts (1,3)")
    parser.add_argument("--quick", action="store_true", help="bench.py's --quick sizes")
    parser.add_argument("--only", default="B1,B3,B4", help="comma list of B1,B3,B4")
    parser.add_argument("--pushes", type=int, help="B1 pushes (default 100, --quick 10)")
    parser.add_argument("--drain-jobs", type=int, help="B3 jobs (default 1000, --quick 200)")
    parser.add_argument("--no-build", action="store_true",
                        help="use target/release/slipway as it is (SLIPWAY_BIN overrides)")
    parser.add_argument("--time-limit", type=float, default=600,
                        help="seconds per benchmark loop (default 600)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir of fixtures")
    parser.add_argument("--out", type=Path, default=bench.RESULTS_DIR, help="results directory")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    counts = [int(n) for n in args.replicas.split(",")]

    def log(msg):
        print(f"[pg-bench] {msg}", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="slipway-pg-bench-"))
    if not args.keep:
        atexit.register(shutil.rmtree, work, True)
    else:
        log(f"fixtures in {work}")
    if os.geteuid() == 0:
        work.chmod(0o755)  # the cluster runs as nobody under it
    slipway = bench.build_slipway(log, args.no_build)
    if not slipway.binary:
        log(f"no slipway binary: {slipway.why_missing}")
        return 1
    log(f"slipway: {slipway.binary}")
    cluster = Cluster(work / "pg", log)
    cluster.start()
    results = Results()
    for count in counts:
        results.rows += measure(args, work, slipway, cluster, count, log).rows
    results.print_table()
    load_after = os.getloadavg()
    if "/debug/" in slipway.binary:
        print(f"\nnote: {slipway.binary} is a debug build; only release figures count")
    print(f"\nload average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f} "
          f"on {os.cpu_count()} CPUs — above ~0.5 per CPU, figures are noisy")
    commit = bench.run_timed(["git", "rev-parse", "--short", "HEAD"], cwd=bench.ROOT,
                             timeout=10).out.strip()
    report = {
        "when": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "store": "postgres",
        "replicas": counts,
        "commit": commit,
        "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release,
                    "loadavg_1min_before": load_before[0], "loadavg_1min_after": load_after[0]},
        "slipway": slipway.binary,
        "slipway_profile": "debug" if "/debug/" in slipway.binary else "release",
        "rows": results.rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = args.out / f"pg-replicas-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

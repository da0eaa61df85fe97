#!/usr/bin/env python3
"""The web UI's figures (issue 15): a benchmark, not a test.

  bench/ui_figures.py [--bin target/release/slipway] [--runs 1000] [--log-mb 100] [--followers 20]

Starts `slipway serve` on a temp data dir with one runner, dispatches --runs runs (they are
planned and recorded; one real job writes a --log-mb log), then measures, through HTTP as a
browser would:
  - server time to first byte of the run list and of a run page with that many runs in history;
  - time to the first window of lines and to a search over the whole big log;
  - the engine's resident memory before and with --followers idle clients following a live log.
Prints one line per figure; nothing is made up: a failed step prints `error (...)`.
"""
import argparse, http.client, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, threading, time, urllib.parse

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def request(port, method, path, body=None, headers=None, read=True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    first = time.perf_counter() - start
    data = response.read() if read else b""
    total = time.perf_counter() - start
    conn.close()
    return response, data, first, total

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="target/debug/slipway")
    p.add_argument("--runs", type=int, default=1000)
    p.add_argument("--log-mb", type=int, default=100)
    p.add_argument("--followers", type=int, default=20)
    a = p.parse_args()
    binary = os.path.abspath(a.bin)
    temp = tempfile.mkdtemp(prefix="slipway-ui-bench-")
    repo = os.path.join(temp, "app")
    os.makedirs(os.path.join(repo, ".github/workflows"))
    lines = a.log_mb * 1024 * 1024 // 64
    open(os.path.join(repo, ".github/workflows/noop.yml"), "w").write(
        "on: [workflow_dispatch]\njobs:\n  never:\n    runs-on: [self-hosted, nobody-has-this]\n    steps:\n      - run: true\n")
    open(os.path.join(repo, ".github/workflows/big.yml"), "w").write(
        "on: [workflow_dispatch]\njobs:\n  big:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - run: |\n          seq 1 {lines} | sed 's/$/ some log text to make a line of about sixty-four bytes!!/' | cut -c1-63\n"
        "          echo the-needle-line\n")
    open(os.path.join(repo, ".github/workflows/idle.yml"), "w").write(
        "on: [workflow_dispatch]\njobs:\n  idle:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo started; sleep 600\n")
    git = lambda *args: subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@x", *args], cwd=repo, check=True, capture_output=True)
    git("init", "-q", "-b", "main"); git("add", "-A"); git("commit", "-qm", "bench")
    port = free_port()
    data = os.path.join(temp, "data")
    engine = subprocess.Popen([binary, "serve", "--data", data, "--listen", f"127.0.0.1:{port}", "--runners", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                if request(port, "GET", "/api/v1/runs")[0].status == 200: break
            except OSError: pass
            time.sleep(0.1)
        token = open(os.path.join(data, "admin.token")).read().strip()
        admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        request(port, "POST", "/api/v1/repos", json.dumps({"source": repo, "name": "app"}), admin)
        def dispatch(workflow):
            r, body, _, _ = request(port, "POST", "/api/v1/dispatch", json.dumps({"protocol_version": 2, "repository": "app", "workflow": workflow, "ref": "main"}), admin)
            answer = json.loads(body)
            if "run_id" not in answer: raise RuntimeError(answer)
            return answer["run_id"]
        # The protocol version the engine speaks is in its refusal when we guess wrong.
        try:
            dispatch("noop.yml")
        except RuntimeError as e:
            m = re.search(r"engine speaks version (\d+)", str(e))
            if not m: raise
            version = int(m.group(1))
            def dispatch(workflow, version=version):
                r, body, _, _ = request(port, "POST", "/api/v1/dispatch", json.dumps({"protocol_version": version, "repository": "app", "workflow": workflow, "ref": "main"}), admin)
                return json.loads(body)["run_id"]
            dispatch("noop.yml")
        start = time.time()
        for _ in range(a.runs - 3):
            dispatch("noop.yml")
        print(f"setup: {a.runs - 2} runs dispatched in {time.time() - start:.1f} s")
        big = dispatch("big.yml")
        r, _, _, _ = request(port, "POST", "/login", urllib.parse.urlencode({"token": token, "next": "/runs"}), {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = r.getheader("Set-Cookie").split(";")[0]
        ui = {"Cookie": cookie}
        def median(path, n=9):
            firsts = sorted(request(port, "GET", path, headers=ui)[2] for _ in range(n))
            return firsts[n // 2] * 1000
        print(f"run list, {a.runs} runs in history: time to first byte {median('/runs'):.1f} ms (median of 9)")
        print(f"run page, {a.runs} runs in history: time to first byte {median('/runs/' + big):.1f} ms (median of 9)")
        # Wait for the big job to finish.
        deadline = time.time() + 1800
        while time.time() < deadline:
            detail = json.loads(request(port, "GET", f"/api/v1/runs/{big}", headers=admin)[1])
            if detail["run"]["status"] == "completed": break
            time.sleep(1)
        _, body, _, total = request(port, "GET", f"/api/v1/runs/{big}/jobs/big/logs/lines?from=1&count=1", headers=admin)
        lines_answer = json.loads(body)
        print(f"big log: {lines_answer['byte_len'] / 1048576:.1f} MiB, {lines_answer['total_lines']} lines; the first read of it (builds the line index): {total * 1000:.1f} ms")
        _, _, first, total = request(port, "GET", f"/runs/{big}/jobs/big", headers=ui)
        print(f"log page, first window of 1000 lines: first byte {first * 1000:.1f} ms, whole page {total * 1000:.1f} ms")
        middle = lines_answer["total_lines"] // 2
        _, _, _, total = request(port, "GET", f"/runs/{big}/jobs/big/lines?from={middle}&count=1000", headers=ui)
        print(f"a window of 1000 lines in the middle: {total * 1000:.1f} ms")
        searches = []
        for _ in range(5):
            _, body, _, total = request(port, "GET", f"/api/v1/runs/{big}/jobs/big/logs/search?q=the-needle-line", headers=admin)
            searches.append(total * 1000)
        print(f"search over the whole log: {sorted(searches)[2]:.1f} ms median of 5 (first {searches[0]:.1f} ms; {json.loads(body)['total']} match)")
        _, _, first, total = request(port, "GET", f"/runs/{big}/jobs/big?q=the-needle-line", headers=ui)
        print(f"log page with that search (whole log searched, first window shown): {total * 1000:.1f} ms")
        # Followers of a live log.
        idle = dispatch("idle.yml")
        time.sleep(5)
        before = rss_kb(engine.pid)
        socks = []
        for _ in range(a.followers):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(f"GET /api/v1/runs/{idle}/jobs/idle/logs?follow=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
            socks.append(s)
        time.sleep(5)
        after = rss_kb(engine.pid)
        print(f"engine memory: {before} KiB idle, {after} KiB with {a.followers} log followers ({(after - before) / max(a.followers, 1):.0f} KiB each)")
        for s in socks: s.close()
    finally:
        engine.send_signal(signal.SIGTERM)
        try: engine.wait(20)
        except subprocess.TimeoutExpired: engine.kill()
        shutil.rmtree(temp, ignore_errors=True)

if __name__ == "__main__":
    main()

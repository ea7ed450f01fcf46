#!/usr/bin/env python3
"""Measures the controller's monitoring paths over HTTP, against a real `tessera controller` process:

1. One `/metrics` scrape with N live vGPUs (1,000 by default) on 16 registered nodes of 8 GPUs, beside two
   same-run baselines: the same scrape of the empty pool, and `GET /v1/status` (a few numbers) with the N vGPUs.
2. The dashboard's update latency: from a lease's grant (its POST's reply) until the `/v1/stream` snapshot that
   shows it arrives, beside the POST's own round trip in the same run.

Standard library only. Prints one line per figure and a JSON line of all figures."""
import argparse
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ADMIN, NODE, METRICS = "bench-admin", "bench-node", "bench-metrics"


TLS = None  # verifies the controller's HTTPS against the pool CA it made in its state folder


def request(url, path, token, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(url + path, data=data, method=method,
                               headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=30, context=TLS) as response:
        return response.read()


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), sorted(times)[int(0.95 * (len(times) - 1))], out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tessera", required=True)
    parser.add_argument("vgpus", nargs="?", type=int, default=1000)
    parser.add_argument("scrapes", nargs="?", type=int, default=30)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="tessera-bench-monitoring-")
    env = dict(os.environ, TESSERA_ADMIN_TOKENS=ADMIN, TESSERA_NODE_TOKENS=NODE, TESSERA_METRICS_TOKENS=METRICS)
    log = open(os.path.join(directory, "controller.log"), "w+")
    controller = subprocess.Popen([args.tessera, "controller", "--listen", "127.0.0.1:0", "--state", os.path.join(directory, "state.sqlite"),
                                   "--node-timeout", "100000", "--log-level", "notice"], env=env, stderr=log, stdout=log)
    try:
        url = None
        for _ in range(600):
            log.seek(0)
            text = log.read()
            if "listening on 127.0.0.1:" in text:
                url = "https://127.0.0.1:" + text.split("listening on 127.0.0.1:")[1].split()[0]
                global TLS
                TLS = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
                break
            time.sleep(0.05)
        if url is None:
            sys.exit("the controller did not start:\n" + text)
        nodes = 16
        for n in range(nodes):
            gpus = [{"index": i, "model": "NVIDIA H100 80GB HBM3", "memoryMiB": 81920, "multiprocessors": 132, "healthy": True,
                     "uuid": f"GPU-{n:08x}-0000-0000-0000-{i:012x}"} for i in range(8)]
            request(url, "/v1/nodes", NODE, "POST", {"name": f"node-{n:02d}", "endpoint": f"10.0.0.{n}:7070", "gpus": gpus})

        def scrape():
            return request(url, "/metrics", METRICS)

        empty_median, empty_p95, empty_body = timed(scrape, args.scrapes)
        grant_times = []
        for i in range(args.vgpus):
            start = time.perf_counter()
            request(url, "/v1/leases", NODE, "POST", {"spec": {"memoryMiB": 512, "computePercent": 1}, "requester": f"node-{i % nodes:02d}",
                                                      "program": f"student-{i}", "owner": f"uid {1000 + i % 50}"})
            grant_times.append((time.perf_counter() - start) * 1000)
        full_median, full_p95, full_body = timed(scrape, args.scrapes)
        status_median, status_p95, _ = timed(lambda: request(url, "/v1/status", ADMIN), args.scrapes)
        series = sum(1 for line in full_body.decode().splitlines() if line and not line.startswith("#"))
        vgpu_series = sum(1 for line in full_body.decode().splitlines() if line.startswith("tessera_vgpu_memory_limit_bytes{"))

        # Dashboard update latency: the stream's snapshots, timestamped on arrival.
        arrivals = []
        stop = threading.Event()

        def reader():
            r = urllib.request.Request(url + "/v1/stream", headers={"Authorization": "Bearer " + METRICS})
            with urllib.request.urlopen(r, timeout=60, context=TLS) as response:
                event = None
                while not stop.is_set():
                    line = response.readline()
                    if not line:
                        break
                    line = line.decode()
                    if line.startswith("event: "):
                        event = line[7:].strip()
                    elif line.startswith("data: ") and event == "snapshot":
                        arrivals.append((time.perf_counter(), line))

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        time.sleep(1.5)
        latencies, posts = [], []
        for i in range(10):
            sent = time.perf_counter()
            lease = json.loads(request(url, "/v1/leases", NODE, "POST", {"spec": {"memoryMiB": 256, "computePercent": 1},
                                                                         "requester": "node-00", "program": f"probe-{i}"}))["id"]
            replied = time.perf_counter()
            posts.append((replied - sent) * 1000)
            needle = f'"id":"{lease}"'
            deadline = time.perf_counter() + 10
            seen = None
            while seen is None and time.perf_counter() < deadline:
                seen = next((t for t, data in list(arrivals) if t >= sent and needle in data), None)
                time.sleep(0.002)
            if seen is None:
                sys.exit(f"the stream never showed {lease}")
            latencies.append((seen - replied) * 1000)
            time.sleep(0.3)
        stop.set()
        figures = {
            "vgpus": args.vgpus, "series": series, "vgpu_series_per_metric": vgpu_series, "exposition_bytes": len(full_body),
            "scrape_ms_median": round(full_median, 2), "scrape_ms_p95": round(full_p95, 2),
            "baseline_empty_scrape_ms_median": round(empty_median, 2), "baseline_status_ms_median": round(status_median, 2),
            "grant_ms_median": round(statistics.median(grant_times), 2),
            "dashboard_update_ms_median": round(statistics.median(latencies), 1), "dashboard_update_ms_max": round(max(latencies), 1),
            "baseline_post_lease_ms_median": round(statistics.median(posts), 2),
        }
        print(f"/metrics with {args.vgpus} live vGPUs ({series} series, {len(full_body)} bytes): median {full_median:.2f} ms, p95 {full_p95:.2f} ms "
              f"(target <= 50 ms: {'met' if full_p95 <= 50 else 'NOT met'})")
        print(f"  baseline, same run: /metrics of the empty pool {empty_median:.2f} ms; GET /v1/status with {args.vgpus} vGPUs {status_median:.2f} ms")
        print(f"dashboard update after a grant: median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms (stream checks every 100 ms)")
        print(f"  baseline, same run: the grant's POST round trip {statistics.median(posts):.2f} ms")
        print(json.dumps(figures))
    finally:
        controller.terminate()
        try:
            controller.wait(timeout=15)
        except subprocess.TimeoutExpired:
            controller.kill()
            controller.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Load and fault run of the cluster (docs/cluster.md): three scim-gateway
replicas sharing a real Redis, in front of one upstream, under wrk.

Three parts, in one run:

  steady, apart    three replicas without [cluster], PUTs of 20 users spread
                   over them (one wrk per replica); the replicas' CPU time
                   per write, then p50 and p99 at one connection
  steady, cluster  the same with [cluster]: the replicas' and Redis's CPU
                   time per write, and the latency the lease adds
  faults           three replicas with [cluster] under wrk (a POST for every
                   three PUTs) for --fault-duration seconds while Redis is
                   restarted twice and one replica is killed with SIGKILL and
                   started again

Every write carries a number of its own (the `w` query parameter); the
upstream (nginx) logs the number of every request it receives and answers
it back as the user's id; wrk keeps the numbers of the writes answered
with success. The fault run then counts:

  sent       writes wrk sent (answered, plus those whose connection broke)
  ok         answered with success
  refused    answered with an error (by status)
  broken     no answer (the replica was killed under them)
  received   writes the upstream received, and how many of them twice

and fails (exit status 1) if a write answered with success never reached
the upstream ("lost without an error") or any write reached it twice
("duplicated"). Prints a Markdown table; --json writes the raw figures.
Needs nginx, wrk and redis-server (scripts/bench-cluster installs them)
and a release build.
"""

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The load harness's helpers (bench/load/run.py).
_spec = importlib.util.spec_from_file_location("load_harness", HERE.parent / "load" / "run.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

ROOT = HERE.parent.parent
TOKEN = harness.TOKEN
BODY = harness.BODY
REPLICAS = ("a", "b", "c")


class Cluster:
    """The upstream, Redis and the replicas, on free loopback ports."""

    def __init__(self, work, gateway_bin, connections):
        self.work = work
        self.gateway_bin = gateway_bin
        self.connections = connections
        self.stack = harness.Stack(work, gateway_bin)
        self.up_port = harness.free_port()
        self.redis_port = harness.free_port()
        self.redis = None
        self.replicas = {}

    def start_upstream(self):
        d = self.work / "upstream"
        d.mkdir(exist_ok=True)
        conf = (HERE / "upstream.conf.in").read_text()
        conf = conf.replace("@USER@", "user root;" if os.geteuid() == 0 else "").replace("@DIR@", str(d))
        conf = conf.replace("@PORT@", str(self.up_port))
        (d / "nginx.conf").write_text(conf)
        self.upstream = self.stack.start(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], self.up_port,
                                         "the upstream (nginx)")

    def start_redis(self):
        cmd = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no"]
        self.redis = self.stack.start(cmd, self.redis_port, "redis-server")

    def stop_redis(self):
        self.stack.stop(self.redis)

    def config(self, name, port, admin, cluster):
        d = self.work / f"replica-{name}"
        d.mkdir(exist_ok=True)
        section = ""
        if cluster:
            section = (f'[cluster]\nredis_url = "redis://127.0.0.1:{self.redis_port}/0"\n'
                       f'replica_name = "{name}"\nlease_ttl_ms = 3000\n')
        path = d / "gateway.toml"
        mapping = ROOT / "mappings" / "identity.toml"
        path.write_text(harness.gateway_toml(port, self.up_port, mapping, admin_port=admin, sections=section))
        return path

    def start_replica(self, name, cluster, port=None, admin=None):
        port, admin = port or harness.free_port(), admin or harness.free_port()
        cfg = self.config(name, port, admin, cluster)
        env = dict(os.environ, BENCH_GATEWAY_TOKENS=f"bench:{TOKEN}", RUST_LOG="warn")
        cmd = [str(self.gateway_bin), "serve", "--config", str(cfg)]
        proc = self.stack.start(cmd, port, f"replica {name}", env=env, log=cfg.parent / "gateway.log")
        self.replicas[name] = (proc, port, admin)

    def kill(self, name):
        proc = self.replicas[name][0]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_replicas(self):
        for proc, _, _ in self.replicas.values():
            self.stack.stop(proc)
        self.replicas = {}

    def url(self, name):
        return f"http://127.0.0.1:{self.replicas[name][1]}"

    def metric(self, name, prefix):
        import urllib.request
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.replicas[name][2]}/metrics", timeout=5).read()
        lines = text.decode().splitlines()
        return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefix))

    def cpu(self):
        return sum(harness.cpu_seconds(p.pid) for p, _, _ in self.replicas.values())


def wrk(work, url, connections, duration, prefix, post_every, resources=20):
    """Starts wrk; returns (process, result file)."""
    out = work / f"wrk-{prefix}.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, BENCH_BODY=str(BODY), BENCH_TOKEN=TOKEN, BENCH_RESULT=str(out), BENCH_PREFIX=prefix,
               BENCH_POST_EVERY=str(post_every), BENCH_RESOURCES=str(resources))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(HERE / "writes.lua"),
           url]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out


def finish(proc, out):
    text, _ = proc.communicate()
    if proc.returncode != 0 or not out.exists():
        sys.exit(f"wrk failed:\n{text}")
    return json.loads(out.read_text())


def steady(c, cluster, args, tag):
    """PUTs over the three replicas: CPU per write; then one connection."""
    for name in REPLICAS:
        c.start_replica(name, cluster)
    warm = [wrk(c.work, c.url(n), 2, 2, f"{tag}-warm-{n}", 0) for n in REPLICAS]
    for p, o in warm:
        finish(p, o)
    cpu, redis_cpu = c.cpu(), harness.cpu_seconds(c.redis.pid)
    runs = [wrk(c.work, c.url(n), args.connections, args.duration, f"{tag}-{n}", 0) for n in REPLICAS]
    results = [finish(p, o) for p, o in runs]
    writes = sum(r["requests"] for r in results)
    out = {
        "writes": writes,
        "rps": writes / max(results[0]["seconds"], 1e-9),
        "cpu_us_per_write": (c.cpu() - cpu) / max(writes, 1) * 1e6,
        "redis_cpu_us_per_write": (harness.cpu_seconds(c.redis.pid) - redis_cpu) / max(writes, 1) * 1e6,
        "non_2xx": sum(v for r in results for k, v in r["statuses"].items() if not k.startswith("2")),
    }
    single = finish(*wrk(c.work, c.url("a"), 1, args.duration, f"{tag}-single", 0))
    out["p50_us"], out["p99_us"] = single["p50_us"], single["p99_us"]
    c.stop_replicas()
    return out


def faults(c, args, events):
    """The fault run: wrk on every replica while Redis and a replica fail."""
    for name in REPLICAS:
        c.start_replica(name, cluster=True)
    d = args.fault_duration
    runs = {n: wrk(c.work, c.url(n), args.connections, d, f"f-{n}", 4) for n in REPLICAS}
    started = time.monotonic()

    def at(fraction, what, action):
        time.sleep(max(0.0, started + d * fraction - time.monotonic()))
        events.append((round(time.monotonic() - started, 1), what))
        action()

    def restart_redis():
        c.stop_redis()
        time.sleep(2)
        c.start_redis()

    def restart_replica():
        _, port, admin = c.replicas["b"]
        c.kill("b")
        time.sleep(3)
        c.start_replica("b", cluster=True, port=port, admin=admin)

    at(0.2, "Redis stopped for 2 s, started again", restart_redis)
    at(0.45, "replica b killed (SIGKILL), started again after 3 s", restart_replica)
    at(0.7, "Redis stopped for 2 s, started again", restart_redis)
    results = {n: finish(*runs[n]) for n in REPLICAS}
    errors = sum(c.metric(n, "scim_gateway_cluster_errors_total") for n in REPLICAS)
    c.stop_replicas()
    return results, errors


def received(c):
    """The upstream's log: how many times each write number arrived."""
    c.stack.stop(c.upstream)
    counts = Counter()
    for line in (c.work / "upstream" / "writes.log").read_text().splitlines():
        w = line.split(" ", 1)[0]
        if w.startswith("f-"):
            counts[w] += 1
    return counts


def count(results, arrived):
    ok = Counter(w for r in results.values() for w in r["ok"])
    statuses = Counter()
    for r in results.values():
        statuses.update(r["statuses"])
    # A write error is a request wrk could not send (the replica was down).
    broken = sum(r["read"] + r["timeout"] for r in results.values())
    answered = sum(statuses.values())
    return {
        "sent": answered + broken,
        "not_sent": sum(r["connect"] + r["write"] for r in results.values()),
        "ok": sum(ok.values()),
        "refused": {k: v for k, v in sorted(statuses.items()) if not k.startswith("2")},
        "broken": broken,
        "received": len(arrived),
        "received_twice": sum(1 for n in arrived.values() if n > 1),
        "ok_twice": sum(1 for n in ok.values() if n > 1),
        "ok_not_received": sum(1 for w in ok if w not in arrived),
        "received_not_ok": sum(1 for w in arrived if w not in ok),
    }


def table(apart, shared, fault, events, errors):
    lines = [
        "| | replicas' CPU per write | Redis's CPU per write | p50 at 1 conn | p99 at 1 conn | writes/s |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (("without [cluster]", apart), ("with [cluster]", shared)):
        lines.append(f"| {name} | {r['cpu_us_per_write']:.1f} µs | {r['redis_cpu_us_per_write']:.1f} µs | "
                     f"{r['p50_us'] / 1000:.3f} ms | {r['p99_us'] / 1000:.3f} ms | {r['rps']:.0f} |")
    lines.append("")
    lines.append(f"Added by the cluster: {shared['p50_us'] - apart['p50_us']} µs at p50, "
                 f"{shared['p99_us'] - apart['p99_us']} µs at p99, "
                 f"{shared['cpu_us_per_write'] - apart['cpu_us_per_write']:.1f} µs of the replicas' CPU per write.")
    lines.append("")
    lines.append("Fault run: " + "; ".join(f"{t} s: {what}" for t, what in events) + ".")
    lines.append("")
    lines.append("| sent | ok | refused (status: count) | no answer | received upstream | received twice | "
                 "ok, not received | received, not ok | Redis errors counted | not sent (replica down) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    refused = ", ".join(f"{k}: {v}" for k, v in fault["refused"].items()) or "none"
    lines.append(f"| {fault['sent']} | {fault['ok']} | {refused} | {fault['broken']} | {fault['received']} | "
                 f"{fault['received_twice']} | {fault['ok_not_received']} | {fault['received_not_ok']} | "
                 f"{errors:.0f} | {fault['not_sent']} |")
    lines.append("")
    lines.append("\"received, not ok\": writes whose answer was cut, by the kill (\"no answer\") or by wrk stopping "
                 "with requests in flight (at most the connections).")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", default=str(harness.TARGET / "release" / "scim-gateway"))
    ap.add_argument("--duration", type=int, default=10, help="seconds of each steady run")
    ap.add_argument("--fault-duration", type=int, default=120, help="seconds of the fault run")
    ap.add_argument("--connections", type=int, default=4, help="connections per replica")
    ap.add_argument("--json", help="write the raw figures here")
    ap.add_argument("--keep", help="run in this directory and keep it")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="scim-gateway-cluster-"))
    work.mkdir(parents=True, exist_ok=True)
    c = Cluster(work, Path(args.gateway), args.connections)
    events = []
    try:
        c.start_upstream()
        c.start_redis()
        apart = steady(c, False, args, "apart")
        shared = steady(c, True, args, "shared")
        results, errors = faults(c, args, events)
        fault = count(results, received(c))
    finally:
        c.stack.stop_all()
    print(table(apart, shared, fault, events, errors))
    if args.json:
        Path(args.json).write_text(json.dumps({"apart": apart, "cluster": shared, "faults": fault,
                                               "events": events, "redis_errors": errors}, indent=2))
    if fault["ok_not_received"] or fault["received_twice"] or fault["ok_twice"]:
        sys.exit("a write was lost without an error answer, or duplicated")


if __name__ == "__main__":
    main()

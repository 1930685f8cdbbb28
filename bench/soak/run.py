#!/usr/bin/env python3
"""Soak: scim-gateway under steady mixed traffic for a long time.

Puts the gateway (the okta-to-notion mapping, the okta preset, the SQLite
audit trail, or with --audit off none: then creates and PUTs take the way
that keeps the members no rule touches as the IdP's text, as in the load
harness) in front of a static upstream (bench/soak/upstream.conf.in)
and sends --rate requests per second for --minutes: creates, PUTs,
PATCHes (a deactivation among them), filtered lists and deletes, each
checked for a 2xx answer. Every --reload-minutes it sends the gateway a
SIGHUP (a config reload, which must succeed and lose no request). Every
10 s it samples the gateway's resident memory and open file descriptors.

At the end it prints the figures (and writes them as JSON with --json):
requests sent, error answers, the RSS slope over the run after the first
--warmup-minutes (MB per hour, least squares: the warm-up lets the audit
trail's SQLite page cache, 64 MiB at most, fill), the RSS at start and end,
file descriptors before and after, reloads done. It fails (exit 1) on any
error answer, a failed reload, a file descriptor count that grew by more
than four after the warm-up (FD_SPARE), or an RSS slope above
--max-slope MB per hour.

Not part of the test command: it takes 30 minutes. scripts/soak installs
what it needs and runs it.
"""

import argparse
import http.client
import json
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "load"))
import run as load  # noqa: E402  (the load harness's process helpers)

HERE = Path(__file__).resolve().parent
TOKEN = load.TOKEN
USER = json.loads(load.BODY.read_text())
UPSTREAM_USER = json.loads((HERE.parent / "load" / "upstream-user.json").read_text())
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OPS = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# One cycle of the traffic: (method, path, body). An IdP's mix: more reads
# and updates than creates, a deactivation now and then.
def mix(n):
    uid = f"u{n % 5000}"
    name = {"op": "replace", "value": {"name": {"givenName": f"G{n}", "familyName": "Doe"}}}
    active = {"op": "replace", "path": "active", "value": n % 10 != 0}
    return [
        ("POST", "/Users", dict(USER, userName=f"user{n}@example.com")),
        ("GET", f"/Users?filter=userName%20eq%20%22user{n}%40example.com%22", None),
        ("PUT", f"/Users/{uid}", dict(USER, id=uid)),
        ("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OPS], "Operations": [name]}),
        ("GET", f"/Users/{uid}", None),
        ("PATCH", f"/Users/{uid}", {"schemas": [PATCH_OPS], "Operations": [active]}),
        ("GET", "/Users?startIndex=1&count=10", None),
        ("DELETE", f"/Users/{uid}", None),
    ]


class Driver:
    """Threads sending requests at a fixed total rate over keep-alive
    connections; counts answers by status and failures by kind."""

    def __init__(self, port, rate, threads=4):
        self.port, self.rate, self.threads = port, rate, threads
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.sent = 0
        self.statuses = {}
        self.failures = {}

    def note(self, status=None, failure=None):
        with self.lock:
            self.sent += 1
            if status is not None:
                self.statuses[status] = self.statuses.get(status, 0) + 1
            if failure is not None:
                self.failures[failure] = self.failures.get(failure, 0) + 1

    def worker(self, index):
        interval = self.threads / self.rate
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/scim+json", "Authorization": f"Bearer {TOKEN}"}
        n, due = index, time.monotonic()
        while not self.stop.is_set():
            for method, path, body in mix(n):
                due += interval
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if self.stop.is_set():
                    break
                data = json.dumps(body).encode() if body is not None else None
                try:
                    conn.request(method, "/scim/v2" + path, data, headers)
                    resp = conn.getresponse()
                    resp.read()
                    self.note(status=resp.status)
                except (OSError, http.client.HTTPException) as e:
                    self.note(failure=type(e).__name__)
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            n += self.threads
        conn.close()

    def start(self):
        self.pool = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.threads)]
        for t in self.pool:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.pool:
            t.join(timeout=15)

    def errors(self):
        with self.lock:
            bad = sum(c for s, c in self.statuses.items() if s >= 300)
            return bad + sum(self.failures.values())


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_hour(samples):
    """Least-squares slope of (seconds, MB) samples, in MB per hour."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s for s, _ in samples], [m for _, m in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def reloads(admin_port):
    """The gateway's reload counts by outcome, from its metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5).read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("scim_gateway_config_reloads_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


def gateway_config(d, port, admin_port, upstream_port, audit_store):
    path = d / "gateway.toml"
    db = d / "audit.db"
    audit = f'[audit]\nurl = "sqlite://{db}"\nvalues = "paths"' if audit_store == "sqlite" else ""
    mapping = load.ROOT / "mappings" / "okta-to-notion.toml"
    path.write_text(load.gateway_toml(port, upstream_port, mapping, admin_port=admin_port, sections=audit,
                                      mapping_lines='preset = "okta"'))
    return path


def start(stack, work, audit_store):
    up_port, port, admin_port = load.free_port(), load.free_port(), load.free_port()
    d = work / "upstream"
    d.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    body = json.dumps(UPSTREAM_USER)
    listing = json.dumps({"schemas": [LIST_URN], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
                          "Resources": [UPSTREAM_USER]})
    conf = (HERE / "upstream.conf.in").read_text().replace("@USER@", user).replace("@DIR@", str(d))
    conf = conf.replace("@PORT@", str(up_port)).replace("@BODY@", body).replace("@LIST@", listing)
    (d / "nginx.conf").write_text(conf)
    stack.start(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], up_port, "the static upstream")
    g = work / "gateway"
    g.mkdir()
    cfg = gateway_config(g, port, admin_port, up_port, audit_store)
    env = dict(os.environ, BENCH_GATEWAY_TOKENS=f"soak:{TOKEN}")
    proc = stack.start([str(stack.gateway_bin), "serve", "--config", str(cfg)], port, "scim-gateway",
                       env=env, log=g / "gateway.log")
    return proc, port, admin_port


def soak(args, stack, work):
    proc, port, admin_port = start(stack, work, args.audit)
    driver = Driver(port, args.rate)
    driver.start()
    began = time.monotonic()
    end = began + args.minutes * 60
    next_reload = began + args.reload_minutes * 60
    samples, fds, hups = [], [], 0
    while time.monotonic() < end and proc.poll() is None:
        time.sleep(10)
        t = time.monotonic() - began
        samples.append((t, load.rss_mb(proc.pid)))
        fds.append((t, open_fds(proc.pid)))
        if time.monotonic() >= next_reload:
            os.kill(proc.pid, signal.SIGHUP)
            hups += 1
            next_reload += args.reload_minutes * 60
        print(f"{t:6.0f} s  sent {driver.sent:8d}  errors {driver.errors():4d}  "
              f"rss {samples[-1][1]:6.1f} MB  fds {fds[-1][1]:4d}  reloads {hups}", flush=True)
    driver.finish()
    elapsed = time.monotonic() - began
    time.sleep(1)
    return summarize(args, proc, driver, samples, fds, hups, elapsed, reloads(admin_port))


def summarize(args, proc, driver, samples, fds, hups, elapsed, reloaded):
    settled = [s for s in samples if s[0] >= args.warmup_minutes * 60] or samples
    settled_fds = [f for _, f in fds if _ >= args.warmup_minutes * 60] or [f for _, f in fds]
    return {
        "minutes": round(elapsed / 60, 1),
        "sent": driver.sent,
        "rate": round(driver.sent / elapsed, 1),
        "statuses": {str(k): v for k, v in sorted(driver.statuses.items())},
        "failures": driver.failures,
        "errors": driver.errors(),
        "rss_first_mb": round(settled[0][1], 1) if settled else None,
        "rss_last_mb": round(settled[-1][1], 1) if settled else None,
        "rss_max_mb": round(max(m for _, m in samples), 1) if samples else None,
        "rss_slope_mb_per_hour": round(slope_per_hour(settled), 2),
        "fds_first": settled_fds[0] if settled_fds else None,
        "fds_last": settled_fds[-1] if settled_fds else None,
        "fds_max": max(settled_fds) if settled_fds else None,
        "sighups": hups,
        "reloads": reloaded,
        "alive": proc.poll() is None,
        "audit": args.audit,
    }


FD_SPARE = 4


def verdict(r, args):
    problems = []
    if not r["alive"]:
        problems.append("the gateway exited")
    if r["errors"]:
        problems.append(f"{r['errors']} error answers or failed requests")
    if r["reloads"].get("success", 0) < r["sighups"] or r["reloads"].get("failure", 0):
        problems.append(f"reloads {r['reloads']} for {r['sighups']} SIGHUPs")
    # A leak grows with the requests (hundreds of thousands here); the
    # spare allow for the upstream pool holding a few more
    # connections at the last sample than at the first.
    if r["fds_last"] is not None and r["fds_last"] > r["fds_first"] + FD_SPARE:
        problems.append(f"file descriptors grew from {r['fds_first']} to {r['fds_last']}")
    if abs(r["rss_slope_mb_per_hour"]) > args.max_slope:
        problems.append(f"RSS slope {r['rss_slope_mb_per_hour']} MB/h over {args.max_slope}")
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--rate", type=float, default=500, help="requests per second")
    p.add_argument("--reload-minutes", type=float, default=5)
    p.add_argument("--warmup-minutes", type=float, default=5,
                   help="RSS and file descriptors are judged after this")
    p.add_argument("--max-slope", type=float, default=10.0, help="MB per hour")
    p.add_argument("--audit", choices=["sqlite", "off"], default="sqlite",
                   help="the audit trail: SQLite, or none (the request bodies' members then stay text)")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--gateway", default=str(load.TARGET / "release" / "scim-gateway"))
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="scim-soak-"))
    stack = load.Stack(work, args.gateway)
    try:
        result = soak(args, stack, work)
    finally:
        stack.stop_all()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    problems = verdict(result, args)
    for problem in problems:
        print(f"soak FAILED: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Load harness: scim-gateway against nginx, in one run, on loopback.

Starts a static SCIM upstream (an nginx that answers every request with the
same 201 User), then puts each proxy in front of it in turn:

  direct     wrk talks to the upstream itself (the latency floor)
  nginx      nginx as a plain reverse proxy (no mapping)
  njs        nginx with the okta-to-notion mapping written by hand in njs
             (bench/load/okta-to-notion.js): the hand-written alternative
  identity   scim-gateway with mappings/identity.toml
  notion     scim-gateway with mappings/okta-to-notion.toml and the okta preset
  plugin     scim-gateway with mappings/identity.toml and the full-name
             WebAssembly plugin after the rules (built by `cargo xtask plugin`)
  plugin-qjs the same with full-name-js, the JavaScript plugin built with
             QuickJS
  plugin-sm  the same with full-name-js built with SpiderMonkey

and drives each with the same wrk script: a POST of Okta's 1.9 kB create
(gateway/mapper/benches/okta-user.json), or with --method PUT Okta's
whole-object PUT of the same user to /Users/<id>. Three more targets:

  patch-only scim-gateway with mappings/identity.toml and update = "patch"
             (a PUT becomes a read of the current user, a diff and a PATCH)
  audit      scim-gateway with mappings/identity.toml and the audit trail on
             (SQLite in the run's directory, values = "paths")
  traces     scim-gateway with mappings/identity.toml and every request
             traced, the spans exported over OTLP (to the static upstream)

show what update translation (with --method PUT), the audit trail and
traces cost. For each proxy it measures

  - requests per second, p50 and p99 at --connections connections;
  - CPU time (user + system) of the proxy's processes per request, read
    from /proc before and after the run;
  - p50 and p99 at one connection, and the p99 added over `direct` (against
    the direct run of the same round, then the median over rounds);
  - resident memory and open file descriptors with 256 open connections
    under load: sampled every quarter second over the run's second half
    (the first is the ramp-up); the table shows the median over rounds of
    each round's median, and the highest sample of any round beside it
    (the allocator gives freed pages back with a delay, so one sample can
    be several MB off the steady figure).

The throughput, one-connection and 256-connection runs are repeated
--rounds times, each round going over every proxy in turn, and the table
shows the medians: the
machine is shared, and one run alone can be off by a fifth. Every answer
must be 201: a run with any other status is reported as failed, because a
cheap error would make a proxy look fast.

With --instructions it runs no load: each proxy (one worker) serves POSTs
over one connection under valgrind's callgrind, and the table gives the
user-space instructions per request. Unlike CPU time, that count barely
depends on what else the machine does, so it shows changes of a few
percent; kernel time is not in it. With other work running beside it,
okta-to-notion once counted 1,000 a request more (0.7%): about 200 on
the gateway's own request path, the rest in hyper's connections and
tokio's wakeups, which follow the timing. With --keep, bench/load/budget.py DIR then says
where each gateway's instructions go, piece by piece.

Prints a Markdown table, and writes the raw figures as JSON with --json.
nginx and njs always run, so every table has both yardsticks from the same
run. Needs nginx with its njs module and wrk on PATH (scripts/bench-load
installs them) and a release build of scim-gateway.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
# Where cargo builds (CARGO_TARGET_DIR when set, as cargo reads it).
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
TOKEN = "bench-token-0123456789abcdef"
TICKS = os.sysconf("SC_CLK_TCK")
BODY = ROOT / "gateway" / "mapper" / "benches" / "okta-user.json"
# The gateway's configurations under test: name, mapping file, IdP preset,
# plugins (components in <target>/plugins, after the rules, on requests).
GATEWAYS = [
    ("identity", "identity.toml", None, []),
    ("notion", "okta-to-notion.toml", "okta", []),
    ("plugin", "identity.toml", None, ["full-name"]),
    ("plugin-qjs", "identity.toml", None, ["full-name-js"]),
    ("plugin-sm", "identity.toml", None, ["full-name-js.spidermonkey"]),
    ("patch-only", "identity.toml", None, []),
    ("audit", "identity.toml", None, []),
    ("traces", "identity.toml", None, []),
]
# The yardsticks, always run: name and nginx config (bench/load/NAME.conf.in).
REFERENCES = [("nginx", "proxy"), ("njs", "njs")]
# nginx's JavaScript module (Debian's libnginx-mod-http-js).
NJS_MODULE = os.environ.get("NJS_MODULE", "/usr/lib/nginx/modules/ngx_http_js_module.so")
# More [upstream] keys per gateway.
UPSTREAM_KEYS = {"patch-only": 'update = "patch"'}
# More sections per gateway.
SECTIONS = {
    "audit": '[audit]\nurl = "sqlite://audit.db"\nvalues = "paths"',
    # Every request traced and exported; the static upstream takes the
    # OTLP posts too (any 2xx is a success to the exporter).
    "traces": '[telemetry]\notlp_endpoint = "http://127.0.0.1:@UPSTREAM_PORT@"\nexport_interval_ms = 1000',
}
# The request every run sends: method and path below the base path.
REQUEST = {"method": "POST", "path": "/Users"}


def gateway_toml(port, upstream_port, mapping, admin_port=None, server="", upstream="", sections="",
                 mapping_lines=""):
    """A bench gateway's config: listening on `port` under /scim/v2 with
    the tokens of BENCH_GATEWAY_TOKENS, in front of the upstream on
    `upstream_port`, with the admin surface (on `admin_port`, else its
    default), `sections` and one mapping file; the other arguments add
    lines to their section."""
    admin = f'listen = "127.0.0.1:{admin_port}"' if admin_port else ""
    return f"""
[server]
listen = "127.0.0.1:{port}"
base_path = "/scim/v2"
{server}

[server.auth]
tokens_env = "BENCH_GATEWAY_TOKENS"

[upstream]
url = "http://127.0.0.1:{upstream_port}/v2"
{upstream}

[admin]
{admin}

{sections}

[mapping]
files = ["{mapping}"]
{mapping_lines}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port} within {timeout}s")


def family(pid):
    """The pid and all its descendants (nginx's master and workers)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            children = []
        todo.extend(int(c) for c in children)
    return pids


def cpu_seconds(pid):
    total = 0.0
    for p in family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return total


def open_fds(pid):
    """File descriptors the process and its children hold: at 256 IdP
    connections, what is above 256 is mostly upstream connections."""
    total = 0
    for p in family(pid):
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            continue
    return total


def rss_mb(pid):
    total = 0
    for p in family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Wrk:
    def __init__(self, work, body_file):
        self.work = work
        self.script = work / "post.lua"
        self.script.write_text((HERE / "post.lua").read_text())
        self.env = dict(os.environ, BENCH_BODY=str(body_file), BENCH_TOKEN=TOKEN, BENCH_METHOD=REQUEST["method"])

    def run(self, url, connections, duration, threads=1, during=None):
        out = self.work / "wrk-result.json"
        out.unlink(missing_ok=True)
        env = dict(self.env, BENCH_RESULT=str(out))
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
               "-s", str(self.script), url]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampled = during() if during else None
        text, _ = proc.communicate()
        if proc.returncode != 0 or not out.exists():
            sys.exit(f"wrk failed:\n{text}")
        result = json.loads(out.read_text())
        result["sampled"] = sampled
        return result


class Stack:
    """The upstream and the proxies, each started on a free port."""

    plugins_dir = TARGET / "plugins"

    def __init__(self, work, gateway_bin):
        self.work = work
        self.gateway_bin = gateway_bin
        self.procs = []

    def start(self, cmd, port, what, env=None, log=None):
        log = open(log or os.devnull, "w")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        wait_port(port, proc, what)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self):
        for p in self.procs:
            self.stop(p)

    def nginx(self, name, port, upstream_port, body=None, current=None):
        d = self.work / name
        d.mkdir(exist_ok=True)
        conf = render_nginx(name, d, port, upstream_port, body, current)
        (d / "nginx.conf").write_text(conf)
        return self.start(["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], port, f"nginx ({name})")

    def gateway_config(self, name, port, upstream_port, mapping, preset, workers=None, plugins=(), target=None):
        target = target or name
        d = self.work / name
        d.mkdir(exist_ok=True)
        preset_line = f'preset = "{preset}"' if preset else ""
        workers_line = f"workers = {workers}" if workers else ""
        plugin_lines = "".join(
            f'\n[[mapping.plugins]]\nname = "{p}"\npath = "{self.plugins_dir / (p + ".wasm")}"\n' for p in plugins
        )
        # Under valgrind (one worker): a plugin pool of one call slot, whose
        # address space valgrind can map.
        host_lines = "[plugin_host]\nmax_concurrent = 1" if plugins and workers == 1 else ""
        upstream_keys = UPSTREAM_KEYS.get(target, "")
        extra = f"{host_lines}\n\n{SECTIONS.get(target, '').replace('@UPSTREAM_PORT@', str(upstream_port))}"
        path = d / "gateway.toml"
        path.write_text(gateway_toml(port, upstream_port, ROOT / "mappings" / mapping,
                                     server=workers_line, upstream=upstream_keys, sections=extra,
                                     mapping_lines=f"{preset_line}\n{plugin_lines}"))
        return path

    def gateway(self, name, port, upstream_port, mapping, preset, plugins=()):
        cfg = self.gateway_config(name, port, upstream_port, mapping, preset, plugins=plugins)
        env = dict(os.environ, BENCH_GATEWAY_TOKENS=f"bench:{TOKEN}")
        cmd = [str(self.gateway_bin), "serve", "--config", str(cfg)]
        return self.start(cmd, port, f"scim-gateway ({name})", env=env, log=cfg.parent / "gateway.log")


def render_nginx(name, d, port, upstream_port, body=None, current=None):
    """nginx's config `name`.conf.in for a run in directory `d`."""
    conf = (HERE / f"{name}.conf.in").read_text()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = conf.replace("@USER@", user).replace("@DIR@", str(d)).replace("@PORT@", str(port))
    conf = conf.replace("@UPSTREAM_PORT@", str(upstream_port))
    conf = conf.replace("@HERE@", str(HERE)).replace("@NJS_MODULE@", NJS_MODULE)
    if body is not None:
        conf = conf.replace("@CURRENT@", current or body).replace("@BODY@", body)
    return conf


def stored_user(up):
    """The request's user as a backend stores it (no password, an id and
    meta), its title changed since: the current resource of a one-change
    update."""
    user = json.loads(BODY.read_text())
    user.pop("password", None)
    user["title"] = "Staff Engineer"
    user["id"] = "2819c223-7f76-453a-919d-413861904646"
    user["meta"] = {"resourceType": "User", "location": f"http://127.0.0.1:{up}/v2/Users/{user['id']}"}
    # Written into nginx's config, whose strings take backslash escapes.
    return json.dumps(user, ensure_ascii=False).replace("\\", "\\\\")


def post_many(port, count):
    """POSTs the body `count` times over one keep-alive connection."""
    import http.client
    body = BODY.read_bytes()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/scim+json", "Authorization": f"Bearer {TOKEN}"}
    for _ in range(count):
        conn.request(REQUEST["method"], "/scim/v2" + REQUEST["path"], body, headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 201:
            sys.exit(f"answer {resp.status} while counting instructions on port {port}")
    conn.close()


def callgrind_total(stack, cmd, port, count, stop_signal, env=None):
    """User-space instructions of `cmd` serving `count` requests (plus its
    start and stop), counted by callgrind: the same figure on every run."""
    out = stack.work / f"callgrind.{port}.{count}"
    vg = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd
    proc = subprocess.Popen(vg, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    wait_port(port, proc, "a proxy under valgrind", timeout=120)
    post_many(port, count)
    os.killpg(proc.pid, stop_signal)
    proc.wait(timeout=120)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    sys.exit(f"no totals in {out}")


def instructions(stack, up, args):
    """Instructions per request: the difference between two runs of
    different lengths, so start-up and shutdown cancel out. One worker each."""
    few, many = 200, 1200
    results = {}
    references = [(name, conf, None, []) for name, conf in REFERENCES]
    for name, what, preset, plugins in references + GATEWAYS:
        if args.only and name not in args.only and name not in dict(REFERENCES):
            continue
        totals = []
        for count in (few, many):
            port = free_port()
            if name in dict(REFERENCES):
                d = stack.work / f"vg-{name}-{count}"
                d.mkdir(exist_ok=True)
                conf = render_nginx(what, d, port, up).replace("worker_processes 2;",
                                                               "worker_processes 1;\nmaster_process off;")
                (d / "nginx.conf").write_text(conf)
                cmd, env, sig = ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], None, signal.SIGQUIT
            else:
                cfg = stack.gateway_config(f"vg-{name}-{count}", port, up, what, preset, workers=1,
                                           plugins=plugins, target=name)
                cmd = [str(stack.gateway_bin), "serve", "--config", str(cfg)]
                env, sig = dict(os.environ, BENCH_GATEWAY_TOKENS=f"bench:{TOKEN}"), signal.SIGINT
            totals.append(callgrind_total(stack, cmd, port, count, sig, env))
        results[name] = (totals[1] - totals[0]) / (many - few)
    return results


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def load_round(wrk, proc, url, args):
    """One throughput run (with the proxy's CPU time) and one at 1 connection."""
    before = cpu_seconds(proc.pid) if proc else 0.0
    load = wrk.run(url, args.connections, args.duration)
    if proc:
        load["cpu_us_per_request"] = (cpu_seconds(proc.pid) - before) / max(load["requests"], 1) * 1e6
    single = wrk.run(url, 1, args.duration)
    return load, single


def wide_run(wrk, proc, url, args):
    """256 open connections under load for at least 6 s; resident memory
    and open file descriptors sampled every quarter second from 45% to 90%
    of the run: their medians, and the memory's peak."""
    seconds = max(args.duration, 6)

    def sample():
        time.sleep(seconds * 0.45)
        rss, fds = [], []
        until = time.monotonic() + seconds * 0.45
        while not rss or time.monotonic() < until:
            rss.append(rss_mb(proc.pid))
            fds.append(open_fds(proc.pid))
            time.sleep(0.25)
        return {"rss_mb": median(rss), "rss_mb_max": max(rss), "fds": round(median(fds))}

    return wrk.run(url, 256, seconds, threads=2, during=sample)


def summarize(loads, singles, wides, floor):
    """Medians over the rounds. The latency added over `floor` (the direct
    run's one-connection figures) is taken round by round, against the direct
    run of the same round, so that drifts of the machine between rounds
    cancel out. The memory at 256 connections is the median of the rounds'
    medians, its peak the highest sample of any round."""
    out = {
        "rounds": {"load": loads, "single": singles},
        "load": {k: median([r[k] for r in loads]) for k in ("rps", "p50_us", "p99_us")},
        "single": {k: median([r[k] for r in singles]) for k in ("p50_us", "p99_us")},
    }
    if floor is not None:
        for q in ("p50_us", "p99_us"):
            out["single"][f"{q[:3]}_added_us"] = median([s[q] - f[q] for s, f in zip(singles, floor)])
    if "cpu_us_per_request" in loads[0]:
        out["cpu_us_per_request"] = median([r["cpu_us_per_request"] for r in loads])
    if wides:
        out["rounds"]["wide"] = wides
        out["rss_mb_256"] = median([w["sampled"]["rss_mb"] for w in wides])
        out["rss_mb_256_max"] = max(w["sampled"]["rss_mb_max"] for w in wides)
        out["fds_256"] = median([w["sampled"]["fds"] for w in wides])
    return out


def check(name, runs):
    bad = [f"{r['non_201']} answers other than 201, {r['errors']} socket errors" for r in runs
           if r["non_201"] or r["errors"]]
    if bad:
        sys.exit(f"{name}: " + "; ".join(bad))


def table(results, args):
    nginx_cpu = results["nginx"]["cpu_us_per_request"]
    njs_cpu = results["njs"]["cpu_us_per_request"]
    lines = [
        f"| proxy | req/s ({args.connections} conn) | p50 | p99 | CPU per request | vs nginx | vs njs | "
        "p50 / p99 at 1 conn | p50 / p99 added at 1 conn | RSS at 256 conn (peak) | open fds at 256 conn |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        load, single = r["load"], r["single"]
        cpu = r.get("cpu_us_per_request")
        cpu_cell = f"{cpu:.1f} µs" if cpu is not None else "–"
        ratio = f"{cpu / nginx_cpu:.2f}×" if cpu is not None else "–"
        to_njs = f"{cpu / njs_cpu:.2f}×" if cpu is not None else "–"
        added = (f"{single['p50_added_us'] / 1000:.3f} / {single['p99_added_us'] / 1000:.3f} ms"
                 if "p99_added_us" in single else "–")
        rss = (f"{r['rss_mb_256']:.1f} MB ({r['rss_mb_256_max']:.1f})" if r.get("rss_mb_256") is not None
               else "–")
        fds = f"{r['fds_256']}" if r.get("fds_256") is not None else "–"
        lines.append(
            f"| {name} | {load['rps']:,.0f} | {load['p50_us'] / 1000:.3f} ms | {load['p99_us'] / 1000:.3f} ms | "
            f"{cpu_cell} | {ratio} | {to_njs} | {single['p50_us'] / 1000:.3f} / {single['p99_us'] / 1000:.3f} ms | "
            f"{added} | {rss} | {fds} |")
    return "\n".join(lines)


def load_runs(stack, up, args):
    """The wrk runs over every target; returns the summarized figures."""
    wrk = Wrk(stack.work, BODY)
    targets = {"direct": (None, f"http://127.0.0.1:{up}/v2{REQUEST['path']}")}
    proxies = [(name, lambda p, c=conf: stack.nginx(c, p, up)) for name, conf in REFERENCES] + [
        (name, lambda p, g=(name, mapping, preset, plugins): stack.gateway(g[0], p, up, g[1], g[2], g[3]))
        for name, mapping, preset, plugins in GATEWAYS
    ]
    for name, start in proxies:
        if args.only and name not in args.only and name not in dict(REFERENCES):
            continue
        port = free_port()
        targets[name] = (start(port), f"http://127.0.0.1:{port}/scim/v2{REQUEST['path']}")
    for name, (proc, url) in targets.items():
        wrk.run(url, args.connections, 2)  # warm-up: pools, caches, page faults
    runs = {name: ([], [], []) for name in targets}
    for _ in range(args.rounds):
        for name, (proc, url) in targets.items():
            load, single = load_round(wrk, proc, url, args)
            runs[name][0].append(load)
            runs[name][1].append(single)
            if proc:
                runs[name][2].append(wide_run(wrk, proc, url, args))
    results = {}
    for name, (proc, url) in targets.items():
        loads, singles, wides = runs[name]
        check(name, loads + singles + wides)
        results[name] = summarize(loads, singles, wides, runs["direct"][1] if proc else None)
    return results


def instructions_table(counts):
    base, njs = counts["nginx"], counts["njs"]
    lines = ["| proxy | instructions per request (user space) | vs nginx | vs njs |", "|---|---|---|---|"]
    for name, n in counts.items():
        lines.append(f"| {name} | {n:,.0f} | {n / base:.2f}× | {n / njs:.2f}× |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gateway", default=str(TARGET / "release" / "scim-gateway"))
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--connections", type=int, default=32, help="connections of the throughput run")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all proxies; the table shows medians")
    ap.add_argument("--only", nargs="*", help="run only these proxies (direct, nginx and njs always run)")
    ap.add_argument("--instructions", action="store_true",
                    help="instead of the load runs, count user-space instructions per request under callgrind")
    ap.add_argument("--json", help="write the raw figures here")
    ap.add_argument("--method", choices=["POST", "PUT"], default="POST",
                    help="POST Okta's create to /Users, or PUT the whole user to /Users/<id>")
    ap.add_argument("--current", choices=["other", "stored"], default="other",
                    help="what the upstream answers a GET with (the current resource of a PUT sent as a PATCH): "
                         "'other', a different user (bench/load/upstream-user.json, the most changes); 'stored', "
                         "the PUT's user as a backend stores it with its title changed (one change, as an IdP's "
                         "update usually is)")
    ap.add_argument("--keep", metavar="DIR",
                    help="work in DIR and keep it (configs, logs, callgrind profiles) for a closer look")
    args = ap.parse_args()
    if args.method == "PUT":
        REQUEST.update(method="PUT", path="/Users/2819c223-7f76-453a-919d-413861904646")
    for tool in ("nginx", "valgrind" if args.instructions else "wrk"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not on PATH; scripts/bench-load installs it")
    if not Path(NJS_MODULE).exists():
        sys.exit(f"{NJS_MODULE} is missing (nginx's njs module); scripts/bench-load installs it")
    if not Path(args.gateway).exists():
        sys.exit(f"{args.gateway} is missing; build it with cargo build --release -p scim-gateway")

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="scim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stack = Stack(work, args.gateway)
    try:
        up = free_port()
        body = (HERE / "upstream-user.json").read_text().strip().replace("{port}", str(up))
        stack.nginx("upstream", up, up, body=body, current=stored_user(up) if args.current == "stored" else body)
        results = instructions(stack, up, args) if args.instructions else load_runs(stack, up, args)
    finally:
        stack.stop_all()
    print(instructions_table(results) if args.instructions else table(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

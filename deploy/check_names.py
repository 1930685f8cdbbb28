#!/usr/bin/env python3
"""Checks that the Grafana dashboard and the alert rules name only what the
gateway exports: every `scim_gateway_*` metric they query is in the
gateway's catalog (`scim-gateway metrics --json`, which lists every metric
whether or not it has been observed), and every label they select or group
by is one of that metric's labels (or job, instance, le, or a label the
Prometheus Operator adds). Then every dashboard query, with Grafana's
variables filled in, goes through `promtool check rules` as a recording
rule, so that a query that is not PromQL fails here and not on a screen.

Usage: check_names.py GATEWAY_BINARY [--promtool PATH]
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# Labels Prometheus (and the Operator's ServiceMonitor) put on every series.
TARGET_LABELS = {"job", "instance", "le", "namespace", "pod", "service", "container", "endpoint"}
METRIC = re.compile(r"\b(scim_gateway_[a-z_]+)(\{[^}]*\})?")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")


def catalog(binary):
    out = subprocess.run([binary, "metrics", "--json"], check=True, capture_output=True, text=True).stdout
    known = {}
    for m in json.loads(out):
        names = [m["name"]]
        if m["kind"] == "histogram":
            names += [m["name"] + s for s in ("_bucket", "_sum", "_count")]
        for n in names:
            known[n] = set(m["labels"]) | ({"le"} if n.endswith("_bucket") else set())
    return known


def check_expr(where, expr, known):
    problems = []
    used = set()
    for name, matchers in METRIC.findall(expr):
        if name not in known:
            problems.append(f"{where}: {name} is not a metric the gateway exports")
            continue
        used |= known[name]
        for label in MATCHER.findall(matchers or ""):
            if label not in known[name] | TARGET_LABELS:
                problems.append(f"{where}: {name} has no label {label}")
    for group in GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in group.split(","))):
            if label not in used | TARGET_LABELS:
                problems.append(f"{where}: no metric of `{expr[:60]}...` has the label {label}")
    if not METRIC.search(expr):
        problems.append(f"{where}: names no scim_gateway metric")
    return problems


def dashboard_exprs(path):
    d = json.loads(path.read_text())
    for panel in d["panels"]:
        for t in panel.get("targets", []):
            yield f"{path.name}: panel {panel['title']!r}", t["expr"]
    for v in d["templating"]["list"]:
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            yield f"{path.name}: variable {v['name']}", re.sub(r"^label_values\((.*),\s*\w+\)$", r"\1", q)


def alert_exprs(path):
    for g in yaml.safe_load(path.read_text())["groups"]:
        for r in g["rules"]:
            yield f"{path.name}: {r.get('alert', r.get('record'))}", r["expr"]


def as_promql(expr):
    expr = expr.replace("$__rate_interval", "5m")
    return re.sub(r"\$\w+", ".*", expr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gateway")
    ap.add_argument("--promtool", default="promtool")
    args = ap.parse_args()
    known = catalog(args.gateway)
    dash = list(dashboard_exprs(HERE / "grafana" / "scim-gateway.json"))
    exprs = dash + list(alert_exprs(HERE / "prometheus" / "alerts.yml"))
    problems = [p for where, e in exprs for p in check_expr(where, e, known)]
    if problems:
        sys.exit("\n".join(problems))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": as_promql(e)} for i, (_, e) in enumerate(dash)]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        subprocess.run([args.promtool, "check", "rules", f.name], check=True, stdout=subprocess.DEVNULL)
    print(f"{len(exprs)} queries name only exported metrics and labels; the dashboard's parse as PromQL")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Tests deploy/prometheus/alerts.yml with promtool: `promtool check rules`,
then `promtool test rules` on the cases below. Each case feeds series for
two or more targets, of which only some meet the alert's condition, and
says which alerts fire at each time: every rule has a case that fires it
and one that does not (another target, or before its `for` has passed).

promtool compares the alerts' annotations too; they are rendered here
from the same labels (the rules' annotations use only `$labels`).

Usage: test_alerts.py [--promtool PATH] [--keep FILE]
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
JOB = 'job="scim-gateway"'


def s(metric, labels, values):
    return {"series": f"{metric}{{{JOB},{labels}}}", "values": values}


# alert: (input series, [(eval time, [labels of each firing alert])])
CASES = {
    "ScimGatewayBackendUnreachable": (
        [
            s("scim_gateway_upstream_up", 'instance="a",route="okta"', "0x10"),
            s("scim_gateway_upstream_up", 'instance="b",route="okta"', "1x10"),
            s("scim_gateway_upstream_up", 'instance="c",route="okta"', "0 1 0 1 0 1 0 1 0 1 0"),
        ],
        [("1m", []), ("5m", [{"instance": "a", "route": "okta"}])],
    ),
    "ScimGatewayBackend5xxRate": (
        [
            s("scim_gateway_upstream_responses_total", 'instance="a",route="bad",class="5xx"', "0+10x30"),
            s("scim_gateway_upstream_responses_total", 'instance="a",route="bad",class="2xx"', "0+50x30"),
            s("scim_gateway_upstream_responses_total", 'instance="a",route="good",class="5xx"', "0+1x30"),
            s("scim_gateway_upstream_responses_total", 'instance="a",route="good",class="2xx"', "0+100x30"),
        ],
        [("5m", []), ("20m", [{"route": "bad"}])],
    ),
    "ScimGatewayDeprovisioningFailedTargets": (
        [
            s("scim_gateway_deprovision_failed_targets_total", 'instance="a",route="okta",resource="User"',
              "0 0 0 1 1 1 1 1 1 1 1"),
            s("scim_gateway_deprovision_failed_targets_total", 'instance="a",route="entra",resource="User"', "0x10"),
        ],
        [("1m", []), ("5m", [{"route": "okta", "resource": "User"}])],
    ),
    "ScimGatewayAuthFailuresSpike": (
        [
            s("scim_gateway_auth_failures_total", 'instance="a",route="okta"', "0+60x20"),
            s("scim_gateway_auth_failures_total", 'instance="a",route="entra"', "0+3x20"),
        ],
        [("3m", []), ("12m", [{"route": "okta"}])],
    ),
    "ScimGatewayConfigReloadFailed": (
        [
            s("scim_gateway_config_reloads_total", 'instance="a",outcome="failure"', "0 0 1 1 1 1 1 1"),
            s("scim_gateway_config_reloads_total", 'instance="b",outcome="failure"', "0x8"),
            s("scim_gateway_config_reloads_total", 'instance="b",outcome="success"', "0+1x8"),
        ],
        [("1m", []), ("5m", [{"instance": "a"}])],
    ),
    "ScimGatewayPluginBreakerOpen": (
        [
            s("scim_gateway_plugin_invocations_total", 'instance="a",plugin="p1",outcome="circuit_open"', "0+5x20"),
            s("scim_gateway_plugin_invocations_total", 'instance="a",plugin="p2",outcome="circuit_open"', "0x20"),
            s("scim_gateway_plugin_invocations_total", 'instance="a",plugin="p2",outcome="ok"', "0+100x20"),
        ],
        [("1m", []), ("5m", [{"instance": "a", "plugin": "p1"}])],
    ),
    "ScimGatewayAuditDropping": (
        [
            s("scim_gateway_audit_records_dropped_total", 'instance="a",reason="queue_full",deprovisioning="false"',
              "0 0 2 2 2 2 2 2"),
            s("scim_gateway_audit_records_dropped_total", 'instance="b",reason="queue_full",deprovisioning="false"',
              "0x8"),
        ],
        [("1m", []), ("5m", [{"instance": "a"}])],
    ),
    "ScimGatewayRateLimitQueueSaturated": (
        [
            s("scim_gateway_rate_limit_queue_depth", 'instance="a",route="full"', "90x20"),
            s("scim_gateway_rate_limit_queue_capacity", 'instance="a",route="full"', "100x20"),
            s("scim_gateway_rate_limit_queue_depth", 'instance="a",route="calm"', "10x20"),
            s("scim_gateway_rate_limit_queue_capacity", 'instance="a",route="calm"', "100x20"),
            s("scim_gateway_rate_limited_total", 'instance="a",route="calm"', "0x20"),
            s("scim_gateway_rate_limit_queue_depth", 'instance="a",route="refusing"', "0x20"),
            s("scim_gateway_rate_limit_queue_capacity", 'instance="a",route="refusing"', "100x20"),
            s("scim_gateway_rate_limited_total", 'instance="a",route="refusing"', "0+10x20"),
        ],
        [("3m", []), ("10m", [{"instance": "a", "route": "full"}, {"instance": "a", "route": "refusing"}])],
    ),
    "ScimGatewayClusterUnreachable": (
        [
            s("scim_gateway_cluster_up", 'instance="a"', "0x10"),
            s("scim_gateway_cluster_up", 'instance="b"', "1x10"),
        ],
        [("30s", []), ("3m", [{"instance": "a"}])],
    ),
}


def rules():
    doc = yaml.safe_load((HERE / "alerts.yml").read_text())
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def render(template, labels):
    return re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)


def expected(rule, labels):
    labels = {"job": "scim-gateway", **labels}
    return {
        "exp_labels": {**labels, **rule.get("labels", {})},
        "exp_annotations": {k: render(v, labels) for k, v in rule.get("annotations", {}).items()},
    }


def test_file(all_rules):
    missing = set(all_rules) - set(CASES)
    if missing:
        sys.exit(f"alerts without a test case: {sorted(missing)}")
    tests = []
    for alert, (series, evals) in CASES.items():
        rule = all_rules[alert]
        if not any(firing for _, firing in evals) or not any(not firing for _, firing in evals):
            sys.exit(f"{alert}: needs an evaluation that fires and one that does not")
        tests.append({
            "name": alert,
            "interval": "1m",
            "input_series": series,
            "alert_rule_test": [
                {"eval_time": t, "alertname": alert, "exp_alerts": [expected(rule, f) for f in firing]}
                for t, firing in evals
            ],
        })
    return {"rule_files": [str(HERE / "alerts.yml")], "evaluation_interval": "30s", "tests": tests}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--promtool", default="promtool")
    ap.add_argument("--keep", help="write the promtool test file here")
    args = ap.parse_args()
    subprocess.run([args.promtool, "check", "rules", str(HERE / "alerts.yml")], check=True)
    doc = test_file(rules())
    with tempfile.TemporaryDirectory() as d:
        path = Path(args.keep) if args.keep else Path(d) / "alerts_test.yml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        subprocess.run([args.promtool, "test", "rules", str(path)], check=True)
    print(f"{len(CASES)} alerts: each fires where it should and nowhere else")


if __name__ == "__main__":
    main()

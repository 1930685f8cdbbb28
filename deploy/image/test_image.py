#!/usr/bin/env python3
"""Tests the container image: builds it (scripts/build-image: the static
binary, then deploy/Containerfile's final stage with buildah, pulling
nothing), checks that it holds nothing but the binary, the CA certificates
and the non-root user, and runs it on the quickstart: with podman where
this machine can run containers, else its root filesystem in a chroot as
user 65532, the binary alone, which proves that it needs nothing else.
Prints the image's size. With --binary it packs that static binary (the
test command passes the one its tests ran) instead of building the dist one.
Also checks that a binary which links dynamically is refused.

Usage: test_image.py [--name NAME:TAG] [--binary PATH]
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
from gateway_process import free_port, request, wait_ready  # noqa: E402
TOKEN = "image-test-token-0123456789abcdef"
EXPECTED = {
    "usr/local/bin/scim-gateway",
    "etc/ssl/certs/ca-certificates.crt",
    "etc/passwd",
    "etc/group",
}


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def call(method, url, body=None, token=TOKEN):
    status, answer = request(method, url, token, body)
    return status, json.loads(answer or b"null") if status < 300 else answer


def files_of(rootfs):
    return {str(p.relative_to(rootfs)) for p in Path(rootfs).rglob("*") if not p.is_dir()}


def quickstart_config(etc):
    """The quickstart (examples/quickstart.toml) with its mapping beside it
    and its audit file in /tmp, as a volume would hold them."""
    etc.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "examples" / "quickstart.toml").read_text()
    text = text.replace('"../mappings/okta-to-notion.toml"', '"okta-to-notion.toml"')
    text = text.replace('"sqlite://../target/quickstart-audit.db"', '"sqlite:///tmp/audit.db"')
    (etc / "gateway.toml").write_text(text)
    shutil.copy(ROOT / "mappings" / "okta-to-notion.toml", etc / "okta-to-notion.toml")


def serves_the_quickstart(scim, admin, proc):
    wait_ready(admin, proc)
    user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jdoe",
            "name": {"givenName": "Jane", "familyName": "Doe"},
            "emails": [{"value": " Jane.Doe@Example.com ", "primary": True}], "active": True}
    status, created = call("POST", f"http://127.0.0.1:{scim}/scim/v2/Users", user)
    assert status == 201, f"POST /Users answered {status}: {created}"
    status, found = call("GET", f"http://127.0.0.1:{scim}/scim/v2/Users/{created['id']}")
    assert status == 200 and found["id"] == created["id"], f"GET answered {status}: {found}"
    status, records = call("GET", f"http://127.0.0.1:{admin}/admin/api/audit", token=f"{TOKEN}-admin")
    assert status == 200 and len(records["records"]) == 1, f"the audit trail: {status} {records}"


def env():
    return dict(os.environ, SCIM_GATEWAY_TOKENS=f"idp:{TOKEN}", SCIM_GATEWAY_ADMIN_TOKENS=f"ops:{TOKEN}-admin")


def with_podman(name, etc):
    scim, admin = free_port(), free_port()
    # Limits no higher than this process's own: podman's defaults for root
    # may exceed what a sandbox allows.
    limits = [f"--ulimit={n}={min(soft, 65536)}:{min(soft, 65536)}" for n, soft in
              (("nofile", resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
               ("nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0]))]
    cmd = ["podman", "run", "--rm", *limits, "--read-only", "--network", "host", "--tmpfs", "/tmp",
           "-e", "SCIM_GATEWAY_TOKENS", "-e", "SCIM_GATEWAY_ADMIN_TOKENS",
           "-v", f"{etc}:/etc/scim-gateway:ro", name, "serve", "--config", "/etc/scim-gateway/gateway.toml",
           "--listen", f"127.0.0.1:{scim}", "--admin-listen", f"127.0.0.1:{admin}"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        if proc.poll() is not None:
            return f"podman cannot run containers here: {proc.stderr.read().strip()}"
        serves_the_quickstart(scim, admin, proc)
        return None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def with_chroot(rootfs, work):
    """The image's files, copied, plus the config: run as 65532 in a chroot."""
    root = work / "root"
    shutil.copytree(rootfs, root, symlinks=True)
    quickstart_config(root / "etc" / "scim-gateway")
    (root / "tmp").mkdir(mode=0o1777)
    os.chmod(root / "tmp", 0o1777)
    scim, admin = free_port(), free_port()
    cmd = ["chroot", "--userspec=65532:65532", str(root), "/usr/local/bin/scim-gateway", "serve",
           "--config", "/etc/scim-gateway/gateway.toml", "--listen", f"127.0.0.1:{scim}",
           "--admin-listen", f"127.0.0.1:{admin}"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        serves_the_quickstart(scim, admin, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def refuses_a_dynamic_binary(name):
    """The image has no library: build-image must not pack a binary that
    needs one (here Python's own interpreter)."""
    dynamic = os.path.realpath(sys.executable)
    done = subprocess.run([str(ROOT / "scripts" / "build-image"), "--binary", dynamic, f"{name}-dynamic"],
                          capture_output=True, text=True)
    assert done.returncode != 0, f"build-image packed {dynamic}, which links dynamically"
    assert "links dynamically" in done.stderr, f"build-image failed without saying why: {done.stderr}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="localhost/scim-gateway:test")
    ap.add_argument("--binary", help="a static scim-gateway to pack (default: build the dist one)")
    args = ap.parse_args()
    refuses_a_dynamic_binary(args.name)
    binary = ["--binary", os.path.abspath(args.binary)] if args.binary else []
    name = run(str(ROOT / "scripts" / "build-image"), *binary, args.name).splitlines()[-1]
    config = json.loads(run("buildah", "inspect", "--type", "image", name))["OCIv1"]["config"]
    assert config["User"] == "65532:65532", config
    assert config["Entrypoint"] == ["/usr/local/bin/scim-gateway"], config
    size = int(json.loads(run("podman", "image", "inspect", name))[0]["Size"])
    container = run("buildah", "from", name)
    try:
        rootfs = run("buildah", "mount", container)
        files = files_of(rootfs)
        assert files == EXPECTED, f"the image holds {sorted(files ^ EXPECTED)} beyond or short of the expected files"
        with tempfile.TemporaryDirectory() as d:
            quickstart_config(Path(d) / "etc")
            why = with_podman(name, Path(d) / "etc")
            if why:
                print(why, "; running the image's root filesystem in a chroot instead", file=sys.stderr)
                with_chroot(rootfs, Path(d))
    finally:
        subprocess.run(["buildah", "umount", container], capture_output=True)
        subprocess.run(["buildah", "rm", container], capture_output=True)
    print(f"{name}: {size / 1e6:.1f} MB, {len(files)} files, serves the quickstart as user 65532")


if __name__ == "__main__":
    main()

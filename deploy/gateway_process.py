"""What the deployment tests share: a free loopback port, HTTP calls to a
gateway, and waiting for a gateway process to be ready."""

import json
import socket
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, token=None, body=None):
    """(status, body bytes); an error status is an answer, not an exception."""
    headers = {"Content-Type": "application/scim+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_ready(admin, proc, timeout=30.0, log=None):
    """Until the gateway `proc` answers /readyz on `admin` with 200; fails
    at once if it exits, with what it wrote: the file `log` when its stderr
    goes there (a long run could fill a pipe), else its piped stderr."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            said = log.read_text(errors="replace") if log else proc.stderr.read()
            raise AssertionError(f"the gateway exited ({proc.returncode}): {said}")
        try:
            if request("GET", f"http://127.0.0.1:{admin}/readyz")[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() >= deadline:
            raise AssertionError("the gateway did not get ready")
        time.sleep(0.1)

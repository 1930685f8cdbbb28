#!/usr/bin/env python3
"""The hand-written alternative does the gateway's work: the njs rewrite
the load harness measures (bench/load/okta-to-notion.js) sends the backend
what the gateway sends with mappings/okta-to-notion.toml and the okta
preset, for the benchmark's body and for bodies that take each of the
mapping's other ways (no primary email, Okta's fullName, a name part
missing, mixed-case emails with spaces), and refuses what the gateway
refuses. Otherwise the ratio to njs would compare different work.

The njs script runs under node (its handler given a stand-in for nginx's
request object); the gateway's side is `scim-gateway map`, which runs the
same normalization and rules as a route.

    test_njs.py [path/to/scim-gateway]   (default: target/debug/scim-gateway)
"""
import copy
import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BODY = ROOT / "gateway" / "mapper" / "benches" / "okta-user.json"
OKTA = "urn:ietf:params:scim:schemas:extension:okta:2.0:User"
GATEWAY = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "target" / "debug" / "scim-gateway"

# nginx's request object, as much of it as the handler uses: the body it
# would send upstream, or the answer it would give, printed as JSON.
RUNNER = """
import m from "./mapping.mjs";
import { readFileSync } from "node:fs";
const r = {
  requestText: readFileSync(process.argv[2], "utf8"), uri: "/scim/v2/Users", method: "POST", headersOut: {},
  subrequest(path, opts) { process.stdout.write(JSON.stringify({ path, method: opts.method, body: JSON.parse(opts.body) })); },
  return(status, body) { process.stdout.write(JSON.stringify({ status, body: JSON.parse(body) })); },
};
m.map(r);
"""


def variants():
    """The benchmark's body and one body for each other way of the mapping."""
    base = json.loads(BODY.read_text())
    out = {"the benchmark's body": base}

    def variant(name, change):
        body = copy.deepcopy(base)
        change(body)
        out[name] = body

    def no_primary(b):
        for e, t in zip(b["emails"], ["home", "work", "other"]):
            e.update(primary=False, type=t)

    def no_primary_no_work(b):
        for e in b["emails"]:
            e.update(primary=False, type="other")

    def okta_full_name(b):
        b["schemas"].append(OKTA)
        b[OKTA] = {"fullName": "Bella F. Oyelaran"}

    variant("the work email when none is primary", no_primary)
    variant("the first email when none is primary or work", no_primary_no_work)
    variant("Okta's fullName", okta_full_name)
    variant("mixed case and spaces", lambda b: b["emails"][0].update(value="  MiXeD@Example.COM\t"))
    variant("no familyName", lambda b: b["name"].pop("familyName"))
    variant("no givenName", lambda b: b["name"].pop("givenName"))
    variant("no emails", lambda b: b.pop("emails"))
    return out


class NjsDoesTheGatewaysWork(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not GATEWAY.exists():
            raise FileNotFoundError(f"{GATEWAY} is missing: build scim-gateway first")
        cls.work = Path(tempfile.mkdtemp(prefix="njs-test-"))
        shutil.copy(HERE / "okta-to-notion.js", cls.work / "mapping.mjs")
        (cls.work / "run.mjs").write_text(RUNNER)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def njs(self, path):
        out = subprocess.run(["node", "run.mjs", str(path)], cwd=self.work, capture_output=True, text=True,
                             check=True, timeout=60)
        return json.loads(out.stdout)

    def gateway(self, path):
        out = subprocess.run([str(GATEWAY), "map", "--mapping", str(ROOT / "mappings" / "okta-to-notion.toml"),
                              "--preset", "okta", str(path)], capture_output=True, text=True, timeout=60)
        return (json.loads(out.stdout) if out.returncode == 0 else None), out.stdout + out.stderr

    def test_the_backend_gets_the_same_user_from_both(self):
        sent = 0
        for name, body in variants().items():
            with self.subTest(name):
                path = self.work / "body.json"
                path.write_text(json.dumps(body))
                njs, (mapped, said) = self.njs(path), self.gateway(path)
                if mapped is None:
                    self.assertEqual(njs.get("status"), 400, f"the gateway refused ({said}); njs sent {njs}")
                    continue
                self.assertEqual(njs.get("path"), "/upstream/Users", njs)
                self.assertEqual(njs["body"], mapped)
                sent += 1
        self.assertGreaterEqual(sent, 6, "most bodies must reach the backend for the comparison to mean much")

    def test_the_benchmarks_user_is_mapped_not_passed_through(self):
        path = self.work / "body.json"
        path.write_text(BODY.read_text())
        sent = self.njs(path)["body"]
        original = json.loads(BODY.read_text())
        self.assertEqual(sent["userName"], "isabella.fernandez-oyelaran@example-corp.com")
        self.assertEqual(sent["displayName"], "Isabella Fernández-Oyelaran")
        self.assertNotIn("password", sent)
        self.assertNotEqual(sent, original)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)

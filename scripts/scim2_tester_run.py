"""Run the scim2-tester conformance suite against a SCIM 2.0 server.

Builds a scim2-client synchronous client on top of httpx2 (with a bearer
token when given), calls ``scim2_tester.check_server`` (discovery endpoints,
then CRUD/PATCH/attribute checks for every discovered resource type) and
reports the results keyed by stable check identifiers:

    <check title>[<resource type>][<attribute urn>]#<n>

The resource type and urn parts appear only when the result carries them;
``#<n>`` is added (n >= 2) when several results share the same identifier,
numbered in the order scim2-tester produced them. Random ids and values never
enter an identifier.

Usage:
    scim2_tester_run.py --url http://127.0.0.1:8080/scim/v2 [--token T] [--json]

With --json, stdout is a single JSON object:
    {"passed": [...], "failed": [...], "skipped": [...],
     "counts": {"passed": N, "failed": N, "skipped": N}}
Without it, a human-readable summary (failures with reasons) is printed.

Exit status: 0 when the checks ran (whatever their outcome), 2 when the server
cannot be reached.
"""

import argparse
import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
SKIPPED = {Status.SKIPPED}
# Everything else (DEVIATION, ERROR, CRITICAL) counts as a failure.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="SCIM base URL")
    parser.add_argument("--token", help="bearer token (optional)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    parser.add_argument("--timeout", type=float, default=30.0, help="HTTP timeout (s)")
    return parser.parse_args(argv)


def base_identifier(result):
    """Stable identifier of a result, before de-duplication."""
    parts = [result.title or "untitled"]
    if result.resource_type:
        parts.append(f"[{result.resource_type}]")
    if isinstance(result.data, dict) and isinstance(result.data.get("urn"), str):
        parts.append(f"[{result.data['urn']}]")
    return "".join(parts)


def classify(results):
    """Map results to {"passed"|"failed"|"skipped": [identifier, ...]}."""
    seen = {}
    buckets = {"passed": [], "failed": [], "skipped": []}
    details = []
    for result in results:
        ident = base_identifier(result)
        seen[ident] = seen.get(ident, 0) + 1
        if seen[ident] > 1:
            ident = f"{ident}#{seen[ident]}"
        if result.status in PASSED:
            bucket = "passed"
        elif result.status in SKIPPED:
            bucket = "skipped"
        else:
            bucket = "failed"
        buckets[bucket].append(ident)
        details.append((bucket, ident, result.status.name, result.reason or ""))
    return {k: sorted(v) for k, v in buckets.items()}, details


def preflight(http):
    """Fail fast (exit 2) when nothing answers at the base URL."""
    try:
        http.get("ServiceProviderConfig")
    except httpx2.RequestError as exc:
        sys.stderr.write(f"error: cannot reach SCIM server at {http.base_url}: {exc}\n")
        sys.exit(2)


def main(argv=None):
    args = parse_args(argv)
    headers = {"Accept": "application/scim+json"}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    base_url = args.url.rstrip("/") + "/"

    with httpx2.Client(base_url=base_url, headers=headers, timeout=args.timeout) as http:
        preflight(http)
        client = SyncSCIMClient(http)
        results = check_server(client, raise_exceptions=False)

    buckets, details = classify(results)
    report = dict(buckets, counts={k: len(v) for k, v in buckets.items()})

    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for bucket, ident, status, reason in details:
            if bucket == "failed":
                first = reason.strip().splitlines()[0] if reason.strip() else ""
                print(f"FAIL {ident} ({status}): {first}")
        counts = report["counts"]
        print(f"passed={counts['passed']} failed={counts['failed']} "
              f"skipped={counts['skipped']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Where a request's instructions go: the request path's pieces, counted
from the callgrind profiles `run.py --instructions --keep DIR` leaves.

    python3 bench/load/run.py --only identity notion --instructions --keep DIR
    python3 bench/load/budget.py DIR            # the pieces
    python3 bench/load/budget.py --groups DIR   # own instructions by kind

For each gateway profiled (identity, notion, ...), the harness keeps two
profiles, of a few requests and of many (200 and 1,200), each with the
start and the stop; their directories' names say how many. A piece's
count per request is its inclusive count in the second less the first,
over the difference of the two: what start and stop cost cancels out.

Inclusive counts are read from the profile itself: a function's own
instructions, wherever its lines are (inlined code from other files
included), plus the instructions of every call it makes to another
function. `callgrind_annotate --inclusive=yes` splits a function by the
file of its lines and was seen to give different counts for the same
profile from one run to the next; this does not.

With --groups it prints, instead, each function's own instructions
(its inclusive count less its calls) summed in groups by its name: the
allocator, hashing, the hash tables' index, memory copies, `Value`s
dropped, and everything else (GROUPS). That is what a tree of
`serde_json::Value`s costs directly, as kinds of work against the rest;
code of those kinds inlined into other functions counts as theirs.
"""

import argparse
import collections
import re
import sys
from pathlib import Path

# The pieces, in the request's order: a label and the function whose
# inclusive count it is (the end of callgrind's name for it). They do not
# overlap; "the gateway's other steps" is the service less them all.
CHECKED = "<scim_gateway::pipeline::aside::Keeper as scim_gateway::json::split::Keep>::left"
BUILT = "scim_gateway::json::parse::part_at"
PIECES = [
    ("the body read, its size bounded and its headers checked", "scim_gateway::proxy::body::read::{{closure}}"),
    ("the body split: the kept members checked as text", CHECKED),
    ("the body split: the members built into a tree", BUILT),
    ("normalization of the tree", "scim_gateway::pipeline::phases::resource"),
    ("the rules", "scim_gateway::pipeline::phases::map_resource::{{closure}}"),
    ("the write's body", "scim_gateway::json::to_vec_with"),
    ("headers to the upstream", "scim_gateway::proxy::headers::upstream_request"),
    ("headers back to the IdP", "scim_gateway::proxy::headers::downstream_response"),
    ("the upstream exchange (the pool, hyper's client)", "scim_gateway::upstream::http_client::HttpUpstream::send::{{closure}}"),
    ("the answer passed through, its URLs spliced", "scim_gateway::proxy::verbatim::answer"),
    ("the answer made for the IdP", "scim_gateway::pipeline::respond::respond"),
    ("the log line and the request's metrics", "scim_gateway::pipeline::respond::record"),
    ("authentication", "scim_gateway::auth::Tokens::check"),
]
# The whole body split, of which the check and the built members above
# are parts; the rest of it is its own row.
SPLIT = "scim_gateway::proxy::body::parse_object_keeping"
# Own instructions in groups, by a pattern of the function's name (the
# first that matches); the rest is "everything else".
GROUPS = [
    ("the allocator (allocation, free, vectors grown)",
     r"__rust_(alloc|dealloc|realloc)|\bmi_|_mi_|\b(malloc|free|realloc|calloc)\b|RawVec|grow_one|reserve"),
    ("hashing (SipHash, for the maps' keys)", r"hash_one|Hasher|BuildHasher|RandomState|sip"),
    ("the maps' index (indexmap, hashbrown)", r"indexmap::|hashbrown::"),
    ("memory copies (memcpy, memmove, memcmp, memset, memchr)", r"mem(cpy|move|cmp|set|chr)"),
    ("`Value`s dropped", r"drop_in_place<serde_json"),
]
# The gateway's request path: hyper's call of the service.
SERVICE = "<hyper::proto::h1::dispatch::Server<S,hyper::body::incoming::Incoming> as hyper::proto::h1::dispatch::Dispatch>::poll_msg"


def parse(text):
    """The total and each function's inclusive count in one callgrind
    profile (its text): {name: instructions}. Names are callgrind's, with
    its recursion suffix ('2) where it gives one; a call from a function
    to itself is not counted again."""
    total, own, called = _read(text)
    inclusive = collections.Counter(own)
    inclusive.update(called)
    return total, inclusive


def _read(text):
    """The total, each function's own instructions and its calls' to
    other functions, in one profile's text."""
    names = {}
    own = collections.Counter()
    called = collections.Counter()
    total, fn, cfn, in_call = 0, None, None, False
    for line in text.splitlines():
        if line.startswith(("fn=", "cfn=")):
            key, _, rest = line.partition("=")
            name = _name(rest, names)
            if key == "fn":
                fn = name
            else:
                cfn = name
            continue
        if line.startswith("calls="):
            in_call = True
            continue
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
            continue
        if not line or not (line[0].isdigit() or line[0] in "+-*"):
            continue
        cost = _cost(line)
        if in_call:
            if cfn != fn:
                called[fn] += cost
            in_call = False
        else:
            own[fn] += cost
    return total, own, called


def _name(rest, names):
    """A name given as `(id) text` (defined), `(id)` (used again) or
    `text` (not compressed). `names` holds the ids defined so far; fn and
    cfn lines share them."""
    m = re.match(r"\((\d+)\)(?: (.*))?$", rest.strip())
    if not m:
        return rest.strip()
    if m.group(2) is not None:
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), m.group(1))


def _cost(line):
    """The instruction count of a cost line: its last number."""
    parts = line.split()
    return int(parts[-1]) if len(parts) > 1 else 0


def count(inclusive, suffix):
    """The inclusive count of the function whose name ends with `suffix`
    (the largest, should several); 0 when none does. A recursion's inner
    copies (callgrind's `'2`) end otherwise and are never counted."""
    return max((v for k, v in inclusive.items() if k and k.endswith(suffix)), default=0)


def per_request(small, large, requests):
    """Each piece's count per request, from the two profiles' texts, the
    second of `requests` more requests than the first."""
    (t0, a), (t1, b) = parse(small), parse(large)

    def each(suffix):
        return (count(b, suffix) - count(a, suffix)) / requests

    rows = [(label, each(p)) for label, p in PIECES]
    rows.insert(3, ("the body split: the rest (the object's grammar, keys, the tree's map, names checked)",
                    each(SPLIT) - each(CHECKED) - each(BUILT)))
    service = each(SERVICE)
    rows.append(("the gateway's other steps (route, path, exchange set up, timeout, request id, drops)",
                 service - sum(v for _, v in rows)))
    rows.append(("the gateway's request path (hyper's call of the service)", service))
    total = (t1 - t0) / requests
    rows.append(("hyper's server connection, the upstream connection's task, tokio, I/O and timers",
                 total - service))
    rows.append(("total", total))
    return rows


def groups(text):
    """Each group's own instructions in one profile's text, in GROUPS'
    order, then everything else's: [(label, instructions)]."""
    total, own, _ = _read(text)
    sums = collections.Counter()
    for name, cost in own.items():
        label = next((g for g, pattern in GROUPS if name and re.search(pattern, name)), None)
        sums[label] += cost
    rows = [(label, sums[label]) for label, _ in GROUPS]
    return rows + [("everything else", total - sum(v for _, v in rows))]


def groups_per_request(small, large, requests):
    """`groups` per request, from two profiles as `per_request` has them."""
    a, b = groups(small), groups(large)
    rows = [(label, (y - x) / requests) for (label, x), (_, y) in zip(a, b)]
    return rows + [("total", sum(v for _, v in rows))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=Path, help="the directory run.py --instructions --keep DIR left")
    ap.add_argument("--groups", action="store_true", help="own instructions by kind (GROUPS), not the pieces")
    args = ap.parse_args()
    profiles = {}
    for f in sorted(args.dir.glob("callgrind.*.*")):
        head = f.read_text(errors="replace")[:4096]
        # The gateways' profiles only: nginx's name no gateway.toml.
        m = re.search(r"^cmd:.*/vg-([a-z0-9-]+)-(\d+)/gateway\.toml", head, re.M)
        if m:
            profiles.setdefault(m.group(1), {})[int(m.group(2))] = f
    pairs = {name: p for name, p in profiles.items() if len(p) == 2}
    if not pairs:
        sys.exit(f"budget.py: no gateway profiles in {args.dir} (run.py --instructions --keep DIR)")
    columns = {}
    for name, p in pairs.items():
        few, many = sorted(p)
        table = groups_per_request if args.groups else per_request
        columns[name] = table(p[few].read_text(errors="replace"), p[many].read_text(errors="replace"), many - few)
    names = sorted(columns)
    print(("| own instructions of | " if args.groups else "| piece | ") + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for i, (label, _) in enumerate(columns[names[0]]):
        print(f"| {label} | " + " | ".join(f"{columns[n][i][1]:,.0f}" for n in names) + " |")


if __name__ == "__main__":
    main()

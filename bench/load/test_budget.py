#!/usr/bin/env python3
"""budget.py's reading of callgrind profiles, on small hand-written ones:
names defined once and used by id, a function's inlined lines from other
files, calls to other functions counted in, a function's calls to itself
not counted twice, the per-request arithmetic of two profiles, and own
instructions summed in groups by the function's name (--groups)."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import budget  # noqa: E402

# main calls work (twice, 30 in all) and itself (5, not counted again);
# work's own lines are 7 + 3 (3 of them inlined from another file), and
# it calls work'2 (its recursion, 4) and leaf (2).
PROFILE = """# callgrind format
version: 1
positions: line
events: Ir
summary: 60

ob=(1) /bin/x
fl=(1) main.rs
fn=(1) main
1 10
+1 5
cfn=(2) work
calls=2 20
+1 30
cfn=(1)
calls=1 1
* 5

fl=(2) work.rs
fn=(2)
20 7
fi=(3) inlined.rs
-10 3
fe=(2)
cfn=(3) work'2
calls=1 30
+1 4
cfn=(4) leaf
calls=1 40
* 2

fn=(3)
30 4

fn=(4)
40 2
"""


class Parse(unittest.TestCase):
    def test_inclusive_counts_own_lines_wherever_they_are_and_calls_to_other_functions(self):
        total, inclusive = budget.parse(PROFILE)
        self.assertEqual(total, 60)
        self.assertEqual(inclusive["work"], 7 + 3 + 4 + 2)
        self.assertEqual(inclusive["leaf"], 2)
        self.assertEqual(inclusive["work'2"], 4)

    def test_a_call_to_itself_is_not_counted_again(self):
        _, inclusive = budget.parse(PROFILE)
        self.assertEqual(inclusive["main"], 10 + 5 + 30)

    def test_a_piece_is_the_name_ending_so_and_not_its_recursion(self):
        _, inclusive = budget.parse(PROFILE)
        self.assertEqual(budget.count(inclusive, "work"), 16)
        self.assertEqual(budget.count(inclusive, "nothing"), 0)


class PerRequest(unittest.TestCase):
    def profile(self, requests):
        """A gateway profile of `requests` requests: the service costs 100
        a request, the split 40 of it (the check 15, the built members
        10), the rules 20; 50 outside the service; 1,000 to start."""
        n = requests
        service = "<hyper::proto::h1::dispatch::Server<S,hyper::body::incoming::Incoming> as hyper::proto::h1::dispatch::Dispatch>::poll_msg"
        return f"""summary: {1000 + 150 * n}
fn=(1) main
1 {1000 + 50 * n}
cfn=(2) {service}
calls={n} 1
1 {100 * n}
fn=(2)
1 {40 * n}
cfn=(3) scim_gateway::proxy::body::parse_object_keeping
calls={n} 1
1 {40 * n}
cfn=(4) scim_gateway::pipeline::phases::map_resource::{{{{closure}}}}
calls={n} 1
1 {20 * n}
fn=(3)
1 {15 * n}
cfn=(5) <scim_gateway::pipeline::aside::Keeper as scim_gateway::json::split::Keep>::left
calls={n} 1
1 {15 * n}
cfn=(6) scim_gateway::json::parse::part_at
calls={n} 1
1 {10 * n}
fn=(5)
1 {15 * n}
fn=(6)
1 {10 * n}
fn=(4)
1 {20 * n}
"""

    def test_each_piece_per_request_is_the_larger_run_less_the_smaller(self):
        rows = dict(budget.per_request(self.profile(200), self.profile(1200), 1000))
        self.assertEqual(rows["total"], 150)
        self.assertEqual(rows["the gateway's request path (hyper's call of the service)"], 100)
        self.assertEqual(rows["hyper's server connection, the upstream connection's task, tokio, I/O and timers"], 50)
        self.assertEqual(rows["the body split: the kept members checked as text"], 15)
        self.assertEqual(rows["the body split: the members built into a tree"], 10)
        self.assertEqual(rows["the body split: the rest (the object's grammar, keys, the tree's map, names checked)"], 15)
        self.assertEqual(rows["the rules"], 20)
        self.assertEqual(rows["the gateway's other steps (route, path, exchange set up, timeout, request id, drops)"], 40)


class Groups(unittest.TestCase):
    def profile(self, requests):
        """main (own 10 a request) calls one function of each group (the
        allocator 3, hashing 4, the index 5, copies 2, a Value dropped 6)
        and `freeze` (7), which only looks like the allocator's `free`."""
        n = requests
        callees = [
            "__rust_alloc", "core::hash::BuildHasher::hash_one", "indexmap::map::IndexMap<K,V,S>::insert_full",
            "__memcpy_avx_unaligned_erms", "core::ptr::drop_in_place<serde_json::value::Value>", "app::freeze",
        ]
        costs = [3, 4, 5, 2, 6, 7]
        lines = [f"summary: {100 + 37 * n}", "fn=(1) main", f"1 {100 + 10 * n}"]
        for i, (name, cost) in enumerate(zip(callees, costs), start=2):
            lines += [f"cfn=({i}) {name}", f"calls={n} 1", f"1 {cost * n}"]
        for i, cost in enumerate(costs, start=2):
            lines += [f"fn=({i})", f"1 {cost * n}"]
        return "\n".join(lines) + "\n"

    def test_own_instructions_go_to_the_first_group_their_name_matches(self):
        rows = budget.groups(self.profile(1))
        self.assertEqual([v for _, v in rows], [3, 4, 5, 2, 6, 100 + 10 + 7])

    def test_groups_per_request_are_the_larger_run_less_the_smaller(self):
        rows = budget.groups_per_request(self.profile(200), self.profile(1200), 1000)
        self.assertEqual([v for _, v in rows], [3, 4, 5, 2, 6, 17, 37])
        self.assertEqual(rows[-1][0], "total")


if __name__ == "__main__":
    unittest.main()

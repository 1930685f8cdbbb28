#!/usr/bin/env python3
"""Self-test of the AWS IAM Identity Center stand-in (stdlib only).

Run: python3 scripts/standins/test_aws_identity_center.py

Each test class starts its own stand-in as a subprocess (--port 0, the port is
read from its one stderr line) and talks to it with urllib (http.client for the
keep-alive check).
"""

import http.client
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "aws_identity_center.py")
TOKEN = "test-token"
UNPARSABLE = "Request is unparsable, syntactically incorrect, or violates schema."
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def uniq(prefix="x"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def user_body(name=None, **extra):
    name = name or uniq("user")
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "displayName": f"{name} display", "name": {"givenName": "Given", "familyName": "Family"},
            "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}], "active": True}
    body.update(extra)
    return body


def patch(*ops):
    return {"schemas": [PATCH_URN], "Operations": list(ops)}


class StandinCase(unittest.TestCase):
    """Starts a fresh stand-in for each test class."""

    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--token", TOKEN],
                                    stderr=subprocess.PIPE, text=True)
        line = cls.proc.stderr.readline()
        m = re.search(r"http://[^:]+:(\d+)/scim/v2", line)
        if not m:
            cls.proc.kill()
            raise RuntimeError(f"stand-in did not start: {line!r}")
        cls.port = int(m.group(1))
        cls.root = f"http://127.0.0.1:{cls.port}"

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(5)
        cls.proc.stderr.close()

    # --- HTTP helpers -------------------------------------------------------
    def call(self, method, path, body=None, token=TOKEN, raw=None):
        """Returns (status, headers, parsed JSON body or None, raw bytes)."""
        url = self.root + (path if path.startswith("/_standin") else "/scim/v2" + path)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/scim+json")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status, headers, payload = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, headers, payload = e.code, e.headers, e.read()
        doc = json.loads(payload) if payload else None
        return status, headers, doc, payload

    def ok(self, method, path, body=None, expect=200):
        status, _, doc, _ = self.call(method, path, body)
        self.assertEqual(status, expect, doc)
        return doc

    def assert_error(self, method, path, body=None, status=400, detail=UNPARSABLE, **kw):
        got, headers, doc, _ = self.call(method, path, body, **kw)
        self.assertEqual(got, status, doc)
        self.assert_aws_error(doc, status, headers)
        if detail is not None:
            self.assertEqual(doc["detail"], detail)
        return headers, doc

    def assert_aws_error(self, doc, status, headers):
        self.assertEqual(set(doc), {"schema", "schemas", "status", "detail", "exceptionRequestId", "timeStamp"})
        self.assertEqual(doc["schema"], ERROR_URN)
        self.assertEqual(doc["schemas"], [ERROR_URN])
        self.assertEqual(doc["status"], str(status))
        uuid.UUID(doc["exceptionRequestId"])
        self.assertRegex(doc["timeStamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        self.assertEqual(headers["Content-Type"], "application/json")

    def create_user(self, name=None, **extra):
        return self.ok("POST", "/Users", user_body(name, **extra), 201)

    def create_group(self, name=None, members=()):
        body = {"displayName": name or uniq("group"), "members": [{"value": m} for m in members]}
        return self.ok("POST", "/Groups", body, 201)

    def stored_group(self, gid):
        return self.ok("GET", f"/_standin/groups/{gid}")

    def member_ids(self, gid):
        return [m["value"] for m in self.stored_group(gid)["members"]]

    def stored_user(self, uid):
        return self.ok("GET", f"/_standin/users/{uid}")

    def list_all(self, path):
        return self.ok("GET", path)["Resources"]


class AuthAndRouting(StandinCase):
    def test_auth(self):
        self.assert_error("GET", "/Users", token=None, status=401, detail=None)
        self.assert_error("GET", "/Users", token="wrong", status=401, detail=None)
        self.assert_error("POST", "/Users", user_body(), token=None, status=401, detail=None)
        self.ok("GET", "/Users")

    def test_unknown_paths_404(self):
        for path in ("/Bulk", "/Me", "/.search", "/Users/.search", "/Groups/.search", "/Schemas",
                     "/Nope", "/Users/a/b"):
            self.assert_error("GET", path, status=404, detail=None)
        self.assert_error("POST", "/Bulk", {"schemas": []}, status=404, detail=None)
        self.assert_error("POST", "/Users/.search", {}, status=404, detail=None)
        status, headers, doc, _ = self.call("GET", "/_standin/nothing")
        self.assertEqual(status, 404)
        req = urllib.request.Request(self.root + "/other", headers={"Authorization": f"Bearer {TOKEN}"})
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(cm.exception.code, 404)
        self.assert_aws_error(json.loads(cm.exception.read()), 404, cm.exception.headers)

    def test_group_put_405(self):
        g = self.create_group()
        self.assert_error("PUT", f"/Groups/{g['id']}", {"displayName": "x"}, status=405, detail=None)
        self.assert_error("DELETE", "/Users", status=405, detail=None)

    def test_service_provider_config(self):
        doc = self.ok("GET", "/ServiceProviderConfig")
        self.assertTrue(doc["patch"]["supported"])
        for feature in ("bulk", "sort", "etag", "changePassword"):
            self.assertFalse(doc[feature]["supported"], feature)
        self.assertTrue(doc["filter"]["supported"])
        self.assertEqual(doc["filter"]["maxResults"], 100)

    def test_invalid_json_400(self):
        self.assert_error("POST", "/Users", raw=b"{not json")

    def test_keep_alive_and_content_length(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            conn.request("POST", "/scim/v2/Users", json.dumps(user_body()), auth)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 201)
            self.assertEqual(int(r.getheader("Content-Length")), len(body))
            uid = json.loads(body)["id"]
            conn.request("PATCH", f"/scim/v2/Users/{uid}",
                         json.dumps(patch({"op": "replace", "path": "title", "value": "T"})), auth)
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (204, b""))
            conn.request("GET", "/scim/v2/Users/missing", headers=auth)
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 404)
            self.assertEqual(int(r.getheader("Content-Length")), len(body))
            conn.request("GET", "/scim/v2/Users", headers={})  # 401 on the same connection
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 401)
            self.assertEqual(int(r.getheader("Content-Length")), len(body))
            conn.request("GET", f"/scim/v2/Users/{uid}", headers=auth)
            r = conn.getresponse()
            self.assertEqual(json.loads(r.read())["title"], "T")
        finally:
            conn.close()


class Users(StandinCase):
    def test_create_and_get(self):
        status, headers, doc, _ = self.call("POST", "/Users", user_body("alice", **{
            ENT: {"department": "Eng", "manager": {"value": "m1"}}, "urn:example:custom": {"k": 1},
            "roles": [{"value": "admin", "type": "x", "primary": True}]}))
        self.assertEqual(status, 201)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertTrue(doc["id"])
        self.assertEqual(doc["meta"]["resourceType"], "User")
        self.assertIn("created", doc["meta"])
        self.assertIn("lastModified", doc["meta"])
        self.assertEqual(doc[ENT]["department"], "Eng")
        self.assertEqual(doc["urn:example:custom"], {"k": 1})
        got = self.ok("GET", f"/Users/{doc['id']}")
        self.assertEqual(got, doc)
        self.assertEqual(self.stored_user(doc["id"]), doc)
        self.assert_error("GET", "/Users/does-not-exist", status=404, detail=None)

    def test_required_attributes(self):
        for drop in ("userName", "displayName"):
            body = user_body()
            del body[drop]
            self.assert_error("POST", "/Users", body)
        for drop in ("givenName", "familyName"):
            body = user_body()
            del body["name"][drop]
            self.assert_error("POST", "/Users", body)
        body = user_body()
        del body["name"]
        self.assert_error("POST", "/Users", body)

    def test_one_value_each(self):
        two = [{"value": "a", "type": "work"}, {"value": "b", "type": "home"}]
        for attr in ("emails", "phoneNumbers", "addresses"):
            self.assert_error("POST", "/Users", user_body(**{attr: two}))
            self.create_user(**{attr: two[:1]})

    def test_refused_attributes(self):
        for attr, value in (("password", "secret"), ("ims", [{"value": "x"}]), ("photos", [{"value": "u"}]),
                            ("x509Certificates", [{"value": "c"}]), ("entitlements", [{"value": "e"}]),
                            ("groups", [{"value": "g"}])):
            self.assert_error("POST", "/Users", user_body(**{attr: value}))
        self.assert_error("POST", "/Users", user_body(emails=[{"value": "a@b", "display": "A"}]))
        self.assert_error("POST", "/Users", user_body(phoneNumbers=[{"value": "1", "display": "1"}]))
        self.assert_error("POST", "/Users", user_body(roles=[{"value": "r", "display": "R"}]))
        self.assert_error("POST", "/Users", user_body(**{ENT: {"manager": {"value": "m", "displayName": "M"}}}))

    def test_duplicate_username_409(self):
        name = uniq("Dup")
        self.create_user(name)
        self.assert_error("POST", "/Users", user_body(name.upper()), status=409, detail=None)

    def test_put(self):
        u = self.create_user()
        body = user_body(u["userName"], title="Boss", **{"urn:example:ext": {"a": [1, 2]}})
        status, _, doc, _ = self.call("PUT", f"/Users/{u['id']}", body)
        self.assertEqual(status, 200)
        self.assertEqual(doc["id"], u["id"])
        self.assertEqual(doc["title"], "Boss")
        self.assertEqual(doc["urn:example:ext"], {"a": [1, 2]})
        self.assertEqual(doc["meta"]["created"], u["meta"]["created"])
        self.assertEqual(self.ok("GET", f"/Users/{u['id']}"), doc)
        bad = dict(body)
        del bad["displayName"]
        self.assert_error("PUT", f"/Users/{u['id']}", bad)
        self.assert_error("PUT", f"/Users/{u['id']}", user_body(u["userName"], password="x"))
        other = self.create_user()
        self.assert_error("PUT", f"/Users/{u['id']}", user_body(other["userName"]), status=409, detail=None)
        self.assert_error("PUT", "/Users/missing", user_body(), status=404, detail=None)

    def test_delete(self):
        u = self.create_user()
        g = self.create_group(members=[u["id"]])
        status, _, doc, raw = self.call("DELETE", f"/Users/{u['id']}")
        self.assertEqual((status, raw), (204, b""))
        self.assert_error("GET", f"/Users/{u['id']}", status=404, detail=None)
        self.assert_error("DELETE", f"/Users/{u['id']}", status=404, detail=None)
        self.assertEqual(self.member_ids(g["id"]), [])
        status, _, _, raw = self.call("DELETE", f"/Groups/{g['id']}")
        self.assertEqual((status, raw), (204, b""))
        self.assert_error("DELETE", f"/Groups/{g['id']}", status=404, detail=None)
        self.assert_error("GET", f"/Groups/{g['id']}", status=404, detail=None)


class Filters(StandinCase):
    def q(self, resource, flt, **params):
        params["filter"] = flt
        return f"/{resource}?" + urllib.parse.urlencode(params)

    def test_user_filters(self):
        u = self.create_user(uniq("Mixed"), externalId="ext-1")
        self.create_user(externalId="ext-2")
        res = self.list_all(self.q("Users", f'userName eq "{u["userName"].upper()}"'))
        self.assertEqual([r["id"] for r in res], [u["id"]])
        self.assertEqual([r["id"] for r in self.list_all(self.q("Users", 'externalId eq "ext-1"'))], [u["id"]])
        self.assertEqual([r["id"] for r in self.list_all(self.q("Users", f'id eq "{u["id"]}"'))], [u["id"]])
        both = f'userName EQ "{u["userName"]}" AND externalId Eq "ext-1"'
        self.assertEqual(len(self.list_all(self.q("Users", both))), 1)
        self.assertEqual(self.list_all(self.q("Users", f'userName eq "{u["userName"]}" and externalId eq "no"')), [])
        self.assertEqual(self.list_all(self.q("Users", 'userName eq "nobody"')), [])

    def test_user_filter_rejections(self):
        for flt in ('userName ne "a"', 'userName co "a"', 'userName sw "a"', "userName pr",
                    'userName eq "a" or userName eq "b"', 'not (userName eq "a")', '(userName eq "a")',
                    'emails[type eq "work"]', 'displayName eq "a"', 'emails.value eq "a"',
                    'groups.value eq "g"', "userName eq a", 'userName eq "a" and', 'userName eq "a" "b"', ""):
            self.assert_error("GET", self.q("Users", flt))

    def test_group_filters(self):
        u1, u2 = self.create_user(), self.create_user()
        g1 = self.create_group(uniq("G1"), members=[u1["id"]])
        g2 = self.create_group(uniq("G2"), members=[u1["id"], u2["id"]])
        self.ok("PATCH", f"/Groups/{g1['id']}", patch({"op": "add", "path": "externalId", "value": "gx"}), 204)
        ids = lambda flt: [r["id"] for r in self.list_all(self.q("Groups", flt))]
        self.assertEqual(ids(f'displayName eq "{g1["displayName"]}"'), [g1["id"]])
        self.assertEqual(ids('externalId eq "gx"'), [g1["id"]])
        self.assertEqual(ids(f'id eq "{g2["id"]}"'), [g2["id"]])
        self.assertEqual(ids(f'id eq "{g1["id"]}" and members eq "{u1["id"]}"'), [g1["id"]])
        self.assertEqual(ids(f'members eq "{u2["id"]}" and id eq "{g1["id"]}"'), [])
        self.assertEqual(ids(f'members.value eq "{u1["id"]}"'), [g1["id"], g2["id"]])
        self.assertEqual(ids(f'members.value eq "{u2["id"]}"'), [g2["id"]])
        for r in self.list_all(self.q("Groups", f'members.value eq "{u1["id"]}"')):
            self.assertEqual(r["members"], [])
        for flt in (f'members eq "{u1["id"]}"', f'displayName co "G"', f'id eq "{g1["id"]}" or id eq "x"',
                    'members[value eq "x"]', 'userName eq "x"'):
            self.assert_error("GET", self.q("Groups", flt))


class Paging(StandinCase):
    def test_cursor_paging(self):
        made = [self.create_user(f"page-{i}")["id"] for i in range(5)]
        first = self.ok("GET", "/Users?count=2")
        again = self.ok("GET", "/Users?count=2&cursor=")  # empty cursor = first page
        self.assertEqual(first["Resources"], again["Resources"])
        self.assertIn("nextCursor", again)
        self.assertEqual((first["totalResults"], first["itemsPerPage"]), (5, 2))
        self.assertEqual(first["schemas"], ["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
        seen, doc, pages = [], first, 0
        while True:
            pages += 1
            self.assertEqual(doc["totalResults"], 5)
            self.assertEqual(doc["itemsPerPage"], len(doc["Resources"]))
            seen += [r["id"] for r in doc["Resources"]]
            if "nextCursor" not in doc:
                break
            doc = self.ok("GET", "/Users?" + urllib.parse.urlencode({"count": 2, "cursor": doc["nextCursor"]}))
        self.assertEqual((pages, seen), (3, made))
        everything = self.ok("GET", "/Users")
        self.assertEqual([r["id"] for r in everything["Resources"]], made)
        self.assertNotIn("nextCursor", everything)
        self.assertEqual(self.ok("GET", "/Users?count=100&startIndex=1&attributes=userName")["totalResults"], 5)
        # paging with a filter
        g = self.create_group(members=made)
        doc = self.ok("GET", "/Groups?count=1&" + urllib.parse.urlencode({"filter": f'id eq "{g["id"]}"'}))
        self.assertNotIn("nextCursor", doc)

    def test_paging_limits(self):
        for query in ("count=0", "count=101", "count=abc", "count=-1", "startIndex=2", "startIndex=0",
                      "startIndex=x", "cursor=bogus"):
            self.assert_error("GET", f"/Users?{query}")
            self.assert_error("GET", f"/Groups?{query}")
        self.ok("GET", "/Users?count=1")
        self.ok("GET", "/Users?count=100")

    def test_100_default_page(self):
        for i in range(105):
            self.create_group(f"bulk-{i:03d}")
        doc = self.ok("GET", "/Groups")
        self.assertEqual((doc["totalResults"], doc["itemsPerPage"]), (105, 100))
        rest = self.ok("GET", "/Groups?cursor=" + doc["nextCursor"])
        self.assertEqual([r["displayName"] for r in rest["Resources"]], [f"bulk-{i:03d}" for i in range(100, 105)])
        self.assertNotIn("nextCursor", rest)
        # a users cursor is not a groups cursor
        self.assert_error("GET", "/Users?cursor=" + doc["nextCursor"])


class Groups(StandinCase):
    def test_create(self):
        users = [self.create_user()["id"] for _ in range(2)]
        status, _, doc, _ = self.call("POST", "/Groups", {"displayName": uniq("g"), "externalId": "e",
                                                          "members": [{"value": u} for u in users]})
        self.assertEqual(status, 201)
        self.assertEqual(doc["members"], [])
        self.assertEqual(doc["meta"]["resourceType"], "Group")
        self.assertEqual(self.ok("GET", f"/Groups/{doc['id']}")["members"], [])
        for r in self.list_all("/Groups"):
            self.assertEqual(r["members"], [])
        self.assertEqual(self.member_ids(doc["id"]), users)
        self.assert_error("GET", "/_standin/groups/missing", status=404, detail=None)

    def test_create_rules(self):
        self.assert_error("POST", "/Groups", {"members": []})
        self.assert_error("POST", "/Groups", {"displayName": ""})
        name = uniq("g")
        self.create_group(name)
        self.assert_error("POST", "/Groups", {"displayName": name}, status=409, detail=None)
        g = self.create_group(members=[f"u{i}" for i in range(100)])
        self.assertEqual(len(self.member_ids(g["id"])), 100)
        self.assert_error("POST", "/Groups", {"displayName": uniq("g"),
                                              "members": [{"value": f"u{i}"} for i in range(101)]})
        self.assert_error("POST", "/Groups", {"displayName": uniq("g"), "members": [{"value": g["id"]}]})

    def test_patch_members(self):
        u = [self.create_user()["id"] for _ in range(4)]
        g = self.create_group(members=[u[0]])
        gid = g["id"]
        status, _, _, raw = self.call("PATCH", f"/Groups/{gid}", patch(
            {"op": "Add", "path": "members", "value": [{"value": u[0]}, {"value": u[1]}, {"value": u[2]}]}))
        self.assertEqual((status, raw), (204, b""))
        self.assertEqual(self.member_ids(gid), u[:3])
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "remove", "path": f'members[value eq "{u[1]}"]'}), 204)
        self.assertEqual(self.member_ids(gid), [u[0], u[2]])
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "Remove", "path": "members", "value": [{"value": u[0]}]}), 204)
        self.assertEqual(self.member_ids(gid), [u[2]])
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "add", "value": {"members": [{"value": u[3]}]}}), 204)
        self.assertEqual(self.member_ids(gid), [u[2], u[3]])
        self.assertEqual(self.ok("GET", f"/Groups/{gid}")["members"], [])

    def test_patch_attributes(self):
        g = self.create_group()
        gid = g["id"]
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "replace", "path": "displayName", "value": "renamed-" + gid},
                                                 {"op": "add", "path": "externalId", "value": "x1"}), 204)
        stored = self.stored_group(gid)
        self.assertEqual((stored["displayName"], stored["externalId"]), ("renamed-" + gid, "x1"))
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "replace", "value": {"displayName": "again-" + gid}}), 204)
        self.ok("PATCH", f"/Groups/{gid}", patch({"op": "remove", "path": "externalId"}), 204)
        stored = self.stored_group(gid)
        self.assertEqual(stored["displayName"], "again-" + gid)
        self.assertNotIn("externalId", stored)
        other = self.create_group()
        self.assert_error("PATCH", f"/Groups/{gid}", patch(
            {"op": "replace", "path": "displayName", "value": other["displayName"]}), status=409, detail=None)
        self.assert_error("PATCH", "/Groups/missing", patch({"op": "remove", "path": "externalId"}),
                          status=404, detail=None)

    def test_patch_rules(self):
        users = [f"u{i}" for i in range(200)]
        g = self.create_group(members=users[:50])
        gid = g["id"]
        path = f"/Groups/{gid}"
        members = lambda ids: [{"value": i} for i in ids]
        rejected = [
            patch({"op": "replace", "path": "description", "value": "x"}),            # other attribute
            patch({"op": "replace", "value": {"id": gid, "displayName": "x"}}),       # Okta's rename form
            patch({"op": "add", "path": "members", "value": members(users[50:151])}),  # 101 changes
            patch({"op": "add", "path": "members", "value": members(users[50:110])},  # 60 + 50 changes
                  {"op": "remove", "path": "members", "value": members(users[:50])}),
            patch({"op": "replace", "path": "members", "value": members(users[:2])}),  # replace members
            patch({"op": "replace", "path": "members", "value": []}),
            patch({"op": "replace", "value": {"members": members(users[:2])}}),
            patch({"op": "remove", "path": "members"}),                               # remove-all
            patch({"op": "remove", "path": "members", "value": []}),
            patch({"op": "remove"}),
            patch({"op": "remove", "path": "displayName"}),
            patch({"op": "add", "path": "members", "value": [{"value": self.create_group()["id"]}]}),  # nesting
            {"schemas": ["urn:other"], "Operations": [{"op": "add", "path": "externalId", "value": "x"}]},
            {"schemas": [PATCH_URN], "Operations": []},
            patch({"op": "merge", "path": "externalId", "value": "x"}),
            patch({"op": "add", "path": "externalId"}),
        ]
        for body in rejected:
            with self.subTest(body=json.dumps(body)[:120]):
                self.assert_error("PATCH", path, body)
        self.assertEqual(self.member_ids(gid), users[:50])  # nothing applied
        # exactly 100 changes pass (50 adds, 50 removes)
        self.ok("PATCH", path, patch({"op": "add", "path": "members", "value": members(users[50:100])},
                                     {"op": "remove", "path": "members", "value": members(users[:50])}), 204)
        self.assertEqual(self.member_ids(gid), users[50:100])


class UserPatch(StandinCase):
    def test_rules(self):
        u = self.create_user()
        path = f"/Users/{u['id']}"
        rejected = [
            patch({"op": "remove", "value": {"title": "x"}}),                                  # remove without path
            patch({"op": "replace", "value": {"displayName": "a", "title": "b"}}),             # two attributes
            patch({"op": "add", "value": {"title": "b", "nickName": "n"}}),
            patch({"op": "replace", "path": "active", "value": False},
                  {"op": "replace", "value": {"active": True}}),                              # two on active
            patch({"op": "replace", "path": "userName", "value": "a1"},
                  {"op": "replace", "path": "userName", "value": "a2"}),                      # two on userName
            {"Operations": [{"op": "replace", "path": "title", "value": "x"}]},                 # not a PatchOp
            patch({"op": "replace", "path": "displayName"}),
            patch({"op": "remove", "path": "displayName"}),                                    # now invalid user
            patch({"op": "add", "path": "emails", "value": [{"value": "second@example.com", "type": "home"}]}),
            patch({"op": "add", "path": "password", "value": "x"}),
            patch({"op": "add", "path": f"{ENT}:manager", "value": {"value": "m", "displayName": "M"}}),
        ]
        for body in rejected:
            with self.subTest(body=json.dumps(body)[:120]):
                self.assert_error("PATCH", path, body)
        self.assertEqual(self.stored_user(u["id"]), u)  # nothing applied
        self.assert_error("PATCH", "/Users/missing", patch({"op": "replace", "path": "title", "value": "x"}),
                          status=404, detail=None)
        other = self.create_user()
        self.assert_error("PATCH", path, patch({"op": "replace", "path": "userName", "value": other["userName"]}),
                          status=409, detail=None)

    def test_apply(self):
        u = self.create_user(addresses=[{"type": "work", "locality": "Old"}])
        uid, path = u["id"], f"/Users/{u['id']}"
        status, _, _, raw = self.call("PATCH", path, patch({"op": "Replace", "value": {"active": False}}))
        self.assertEqual((status, raw), (204, b""))
        self.assertIs(self.stored_user(uid)["active"], False)
        self.ok("PATCH", path, patch({"op": "replace", "path": "active", "value": "True"}), 204)
        self.assertEqual(self.stored_user(uid)["active"], "True")
        self.ok("PATCH", path, patch(
            {"op": "replace", "path": "displayName", "value": "New Display"},
            {"op": "add", "path": "title", "value": "Engineer"},
            {"op": "replace", "path": "name.givenName", "value": "NewGiven"},
            {"op": "add", "path": f"{ENT}:department", "value": "R&D"},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
            {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Paris"},
            {"op": "replace", "path": "userName", "value": "renamed-" + uid},
            {"op": "add", "value": {"nickName": "nick"}},
            {"op": "replace", "value": {"name": {"familyName": "NewFamily"}}},
            {"op": "add", "value": {ENT: {"costCenter": "42"}}},
        ), 204)
        s = self.stored_user(uid)
        self.assertEqual(s["displayName"], "New Display")
        self.assertEqual(s["title"], "Engineer")
        self.assertEqual(s["name"], {"givenName": "NewGiven", "familyName": "NewFamily"})
        self.assertEqual(s[ENT], {"department": "R&D", "costCenter": "42"})
        self.assertIn(ENT, s["schemas"])
        self.assertEqual(s["emails"], [{"value": "new@example.com", "type": "work", "primary": True}])
        self.assertEqual(s["addresses"], [{"type": "work", "locality": "Paris"}])
        self.assertEqual(s["userName"], "renamed-" + uid)
        self.assertEqual(s["nickName"], "nick")
        self.assertEqual(self.ok("GET", path), s)
        self.assertNotEqual(s["meta"]["lastModified"], u["meta"]["created"])
        self.ok("PATCH", path, patch(
            {"op": "remove", "path": "title"},
            {"op": "remove", "path": f"{ENT}:department"},
            {"op": "remove", "path": 'addresses[type eq "work"].locality'},
            {"op": "remove", "path": "nickName"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:active", "value": True},
        ), 204)
        s = self.stored_user(uid)
        for gone in ("title", "nickName"):
            self.assertNotIn(gone, s)
        self.assertEqual(s[ENT], {"costCenter": "42"})
        self.assertEqual(s["addresses"], [{"type": "work"}])
        self.assertIs(s["active"], True)
        self.ok("PATCH", path, patch({"op": "remove", "path": 'emails[type eq "work"]'},
                                     {"op": "remove", "path": "addresses"}), 204)
        s = self.stored_user(uid)
        self.assertNotIn("emails", s)
        self.assertNotIn("addresses", s)


class Hooks(StandinCase):
    def test_throttle(self):
        status, _, doc, _ = self.call("POST", "/_standin/throttle", {"count": 2, "retry_after": 7}, token=None)
        self.assertEqual(status, 200)
        body = user_body()
        for _ in range(2):
            headers, _ = self.assert_error("POST", "/Users", body, status=429, detail=None)
            self.assertEqual(headers["Retry-After"], "7")
        # nothing was created by the throttled requests
        flt = urllib.parse.urlencode({"filter": f'userName eq "{body["userName"]}"'})
        self.assertEqual(self.list_all(f"/Users?{flt}"), [])
        self.create_user(body["userName"])

    def test_request_log(self):
        self.call("DELETE", "/_standin/requests", token=None)
        u = self.create_user()
        self.call("GET", "/Users?" + urllib.parse.urlencode({"filter": 'userName eq "x"', "count": 5}))
        self.call("PATCH", f"/Users/{u['id']}", patch({"op": "replace", "path": "title", "value": "x"}))
        self.call("GET", "/Users", token="wrong")
        log = self.ok("GET", "/_standin/requests")
        self.assertEqual([(r["method"], r["path"]) for r in log], [
            ("POST", "/scim/v2/Users"), ("GET", "/scim/v2/Users"), ("PATCH", f"/scim/v2/Users/{u['id']}"),
            ("GET", "/scim/v2/Users")])
        self.assertEqual(log[0]["body"]["userName"], u["userName"])
        self.assertEqual(urllib.parse.parse_qs(log[1]["query"]), {"filter": ['userName eq "x"'], "count": ["5"]})
        self.assertIsNone(log[1]["body"])
        self.assertEqual(log[2]["body"]["Operations"][0]["path"], "title")
        self.assertEqual([r["status"] for r in log], [201, 200, 204, 401])
        status, _, _, raw = self.call("DELETE", "/_standin/requests", token=None)
        self.assertEqual((status, raw), (204, b""))
        self.assertEqual(self.ok("GET", "/_standin/requests"), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)

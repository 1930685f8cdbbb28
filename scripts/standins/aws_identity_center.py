#!/usr/bin/env python3
"""Test stand-in for the AWS IAM Identity Center SCIM API (stdlib only).

Usage:
    python3 aws_identity_center.py --port N --token T [--host 127.0.0.1]

Serves SCIM under http://HOST:N/scim/v2 with every SCIM request needing
``Authorization: Bearer T``. ``--port 0`` picks a free port. On start it prints
one line to stderr, "aws_identity_center stand-in listening on http://HOST:PORT/scim/v2",
and nothing else. All state is in memory.

Source of the rules: "How SCIM backends limit what they accept"
(/work/shared/reference/backends.md, AWS section), which summarises the AWS IAM
Identity Center developer guide's SCIM pages and the workaround projects
(aws-scim-proxy, ssosync, idp-scim-sync). Rules enforced here:

* Users: POST, GET (one, list), PUT, PATCH, DELETE. Groups: POST, GET, PATCH,
  DELETE. No /Bulk, /Me, /.search (404). ServiceProviderConfig: patch yes;
  bulk, sort, etag, changePassword no; filter yes (maxResults 100).
* Filters: only ``eq`` joined by ``and``. Users: userName, externalId, id.
  Groups: displayName, externalId, id, ``id eq "G" and members eq "U"``,
  ``members.value eq "U"``.
* Paging by cursor: ``count`` 1..100, first page with ``cursor`` absent or
  empty, ``nextCursor`` in the answer when more remain. attributes and
  excludedAttributes are ignored (AWS does not support them).
* Groups never show members (``"members": []`` in every answer).
* Users need userName, displayName, name.givenName, name.familyName; at most one
  value in emails, phoneNumbers, addresses; password, ims, photos,
  x509Certificates, entitlements, groups, ``display`` sub-attributes and
  enterprise manager.displayName are refused. Duplicates are 409.
* Groups: at most 100 members on create. Group PATCH: only displayName, members,
  externalId; at most 100 membership changes; replacing members or removing all
  of them is refused (400).
* User PATCH: remove needs a path; a path-less add/replace sets one attribute;
  at most one operation on active and one on userName per request.
* PATCH answers 204 without a body. Errors carry the AWS shape: a duplicate
  ``schema`` key, status as a string, exceptionRequestId, timeStamp and no
  scimType; validation failures say only "Request is unparsable, syntactically
  incorrect, or violates schema."

Choices NOT confirmed by the reference (stricter, or simply picked):

* STRICTER: a ``startIndex`` other than 1 is refused with 400 (AWS has no
  startIndex; this catches a gateway that forwards IdP offset paging).
* PUT on a group answers 405 (AWS has no group PUT; the status is our choice).
  Other wrong methods on a known path also answer 405.
* A user PATCH is applied to a copy, and the result is checked with the same
  user rules as POST/PUT (required attributes, one value per multi-valued
  attribute, refused attributes, userName uniqueness); failures leave the user
  unchanged. Group PATCH/POST likewise refuse a duplicate displayName (409).
* userName is unique and filtered case-insensitively; group displayName is
  unique and filtered exactly (case-sensitively).
* ``display`` is refused in every multi-valued attribute of a user, roles
  included; refused attributes are refused whenever present and not null (even
  an empty list).
* A group member that is a group id is refused (400): the reference says "no
  nested groups". Member ids are otherwise not checked against existing users.
* A group ``remove`` of ``members`` with an empty value array counts as
  remove-all (400). A group op with no path must be add/replace with an object.
* ``groups.value`` (user filter, newer docs) and URN-qualified filter
  attributes other than the core schema are refused (400).
* A filtered path ``emails[type eq "work"].value`` with no matching item adds
  one on add/replace (AWS's exact behaviour is unknown).
* Deleting a user also drops it from every group.
* 401/404/405/409/429 details are our wording; timeStamp is ISO 8601 UTC.
  Responses also carry ``x-amzn-RequestId``, and a 400 carries a non-AWS header
  ``X-Standin-Reason`` with the real reason (for debugging only).
* 204 responses carry no Content-Length (RFC 9110 forbids it); every other
  response has one. The throttle hook answers 429 before the token is checked.
* Paths: exact case ("Users", "Groups"); /Schemas and /ResourceTypes are 404.

Test-only endpoints (no auth), under /_standin/:
    GET    /_standin/requests     every SCIM request so far: [{method, path, query,
                                  body (parsed JSON or null), status, reason}]
    DELETE /_standin/requests     clear that log
    POST   /_standin/throttle     {"count": n, "retry_after": s}: the next n SCIM
                                  requests answer 429 with Retry-After: s
    GET    /_standin/groups/{id}  the stored group WITH its members
    GET    /_standin/users/{id}   the stored user
"""

import argparse
import copy
import datetime
import json
import re
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BASE = "/scim/v2"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
# AWS's one message for every validation failure (also for the 100-member limit).
UNPARSABLE = "Request is unparsable, syntactically incorrect, or violates schema."
MAX_COUNT = 100         # ListUsers/ListGroups: count 1..100
MAX_MEMBERS = 100       # CreateGroup members; PatchGroup membership changes
SINGLE_VALUED = ("emails", "phoneNumbers", "addresses")
REFUSED_USER_ATTRS = ("password", "ims", "photos", "x509Certificates", "entitlements", "groups")

SERVICE_PROVIDER_CONFIG = {
    "schemas": [SPC_URN],
    "documentationUri": "https://docs.aws.amazon.com/singlesignon/latest/userguide/manage-your-identity-source-idp.html",
    "authenticationSchemes": [{
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication scheme using the OAuth Bearer Token Standard",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": True,
    }],
    "patch": {"supported": True},
    "bulk": {"supported": False, "maxOperations": 1, "maxPayloadSize": 1048576},
    "filter": {"supported": True, "maxResults": MAX_COUNT},
    "changePassword": {"supported": False},
    "sort": {"supported": False},
    "etag": {"supported": False},
}


class ScimError(Exception):
    """An error answer; ``reason`` is ours (AWS's detail is often unhelpful)."""

    def __init__(self, status, detail, reason=None, headers=None):
        super().__init__(reason or detail)
        self.status, self.detail = status, detail
        self.reason = reason or detail
        self.headers = headers or {}


def bad(reason):
    return ScimError(400, UNPARSABLE, reason)


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_doc(status, detail):
    # The AWS error shape: SCIM Error schema plus a duplicate "schema" key,
    # status as a string, exceptionRequestId, timeStamp, and never scimType.
    return {"schema": ERROR_URN, "schemas": [ERROR_URN], "status": str(status), "detail": detail,
            "exceptionRequestId": str(uuid.uuid4()), "timeStamp": now_iso()}


# --- helpers for case-insensitive SCIM attribute names ----------------------

def ci_key(d, name):
    """The key of dict d equal to name ignoring case, or None."""
    if isinstance(d, dict):
        low = name.lower()
        for k in d:
            if isinstance(k, str) and k.lower() == low:
                return k
    return None


def ci_get(d, name, default=None):
    k = ci_key(d, name)
    return d[k] if k is not None else default


def merge(target, value):
    for k, v in value.items():
        target[ci_key(target, k) or k] = v


def strip_core_urn(path, urn):
    """'urn:...:core:2.0:User:userName' -> 'userName' (other paths unchanged)."""
    prefix = urn.lower() + ":"
    return path[len(prefix):] if path.lower().startswith(prefix) else path


def nonempty_str(v):
    return isinstance(v, str) and v.strip() != ""


# --- filters: only "attr eq "value"" terms joined by "and" -----------------

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|([()\[\]])|([^\s"()\[\]]+))')


def parse_filter(text, allowed, core_urn):
    """Return [(attribute lowercased, value)]; anything else is a 400."""
    tokens, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad("filter cannot be tokenized")
        if m.group(1) is not None:
            try:
                tokens.append(("str", json.loads(m.group(1))))
            except ValueError:
                raise bad("bad string in filter")
        elif m.group(2) is not None:
            raise bad("brackets/parentheses are not supported in filters")
        else:
            tokens.append(("word", m.group(3)))
        pos = m.end()
    terms, i = [], 0
    while True:
        if i + 3 > len(tokens):
            raise bad("filter must be: attribute eq \"value\" [and ...]")
        (k1, attr), (k2, op), (k3, value) = tokens[i:i + 3]
        if k1 != "word" or k2 != "word" or op.lower() != "eq" or k3 != "str":
            raise bad("only 'eq' with a quoted value is supported")
        attr = strip_core_urn(attr, core_urn).lower()
        if attr not in allowed:
            raise bad(f"filtering on {attr!r} is not supported")
        terms.append((attr, value))
        i += 3
        if i == len(tokens):
            return terms
        if tokens[i][0] != "word" or tokens[i][1].lower() != "and":
            raise bad("only 'and' may join filter terms")
        i += 1


def user_matches(user, terms):
    for attr, value in terms:
        if attr == "username":
            if str(user.get("userName", "")).lower() != value.lower():
                return False
        elif attr == "externalid":
            if user.get("externalId") != value:
                return False
        elif user["id"] != value:  # id
            return False
    return True


def group_matches(group, terms):
    member_ids = {m["value"] for m in group["members"]}
    for attr, value in terms:
        if attr in ("members", "members.value"):
            if value not in member_ids:
                return False
        elif attr == "displayname":
            if group.get("displayName") != value:
                return False
        elif attr == "externalid":
            if group.get("externalId") != value:
                return False
        elif group["id"] != value:  # id
            return False
    return True


# --- validation of users -----------------------------------------------------

def validate_user(u):
    for attr in ("userName", "displayName"):
        if not nonempty_str(ci_get(u, attr)):
            raise bad(f"{attr} is required")
    name = ci_get(u, "name")
    for sub in ("givenName", "familyName"):
        if not isinstance(name, dict) or not nonempty_str(ci_get(name, sub)):
            raise bad(f"name.{sub} is required")
    for attr in SINGLE_VALUED:  # AWS keeps one value each
        v = ci_get(u, attr)
        if v is not None and (not isinstance(v, list) or len(v) > 1):
            raise bad(f"{attr} may hold at most one value")
    for attr in REFUSED_USER_ATTRS:
        if ci_get(u, attr) is not None:
            raise bad(f"{attr} is not supported")
    for k, v in u.items():
        if k.lower().startswith("urn:") and not isinstance(v, dict):
            raise bad(f"extension {k} must be an object")
    # "display" sub-attributes are not supported, in core or extension attributes
    containers = [u] + [v for k, v in u.items() if k.lower().startswith("urn:") and isinstance(v, dict)]
    for c in containers:
        for attr, v in c.items():
            items = v if isinstance(v, list) else [v] if isinstance(v, dict) else []
            if any(isinstance(i, dict) and ci_get(i, "display") is not None for i in items):
                raise bad(f"{attr}.display is not supported")
    manager = ci_get(ci_get(u, ENTERPRISE_URN, {}), "manager")
    if isinstance(manager, dict) and ci_get(manager, "displayName") is not None:
        raise bad("manager.displayName is not supported")


# --- user PATCH paths --------------------------------------------------------

_PATH = re.compile(r'^([A-Za-z$][\w$-]*)(?:\[(.*)\])?(?:\.([A-Za-z$][\w$-]*))?$', re.S)
_VALUE_FILTER = re.compile(r'^\s*([A-Za-z$][\w$-]*)\s+eq\s+("(?:[^"\\]|\\.)*"|true|false)\s*$', re.I | re.S)


def resolve_user_path(res, path, create):
    """Split a PATCH path into (container dict or None, attribute path, whole).

    Handles core-URN-qualified paths, extension-URN-qualified attributes
    ("urn:...:enterprise:2.0:User:department") and the extension object itself
    (whole=True, the attribute is the URN key)."""
    path = strip_core_urn(path, USER_URN)
    if not path.lower().startswith("urn:"):
        return res, path, False
    schemas = res.get("schemas") if isinstance(res.get("schemas"), list) else []
    known = {k.lower() for k in res if k.lower().startswith("urn:")}
    known |= {str(s).lower() for s in schemas} | {ENTERPRISE_URN.lower()}
    if path.lower() in known or path.lower().endswith(":user"):
        return res, ci_key(res, path) or path, True
    head = path.split("[", 1)[0]
    urn, _, attr = head.rpartition(":")
    rest = attr + path[len(head):]
    key = ci_key(res, urn)
    if key is None:
        if not create:
            return None, rest, False
        key = urn
        res[key] = {}
        if isinstance(res.get("schemas"), list) and urn.lower() not in {str(s).lower() for s in schemas}:
            res["schemas"].append(urn)
    if not isinstance(res[key], dict):
        raise bad(f"{urn} is not an object")
    return res[key], rest, False


def apply_user_op(res, op, path, value):
    container, attr_path, whole = resolve_user_path(res, path, create=(op != "remove"))
    if container is None:
        return  # removing from an absent extension: nothing to do
    if whole:
        attr, filt, sub = attr_path, None, None
    else:
        m = _PATH.match(attr_path)
        if not m:
            raise bad(f"unsupported path {path!r}")
        attr, filt, sub = m.groups()
    key = ci_key(container, attr) or attr
    if filt is None and sub is None:  # a plain attribute
        cur = container.get(key)
        if op == "remove":
            container.pop(key, None)
        elif isinstance(cur, dict) and isinstance(value, dict):
            merge(cur, value)  # complex attribute: set the given sub-attributes
        elif op == "add" and isinstance(cur, list):
            cur.extend(value if isinstance(value, list) else [value])
        else:
            container[key] = value
        return
    if filt is None:  # attr.sub, e.g. name.givenName
        cur = container.get(key)
        if op == "remove":
            if isinstance(cur, dict):
                cur.pop(ci_key(cur, sub) or sub, None)
            return
        if not isinstance(cur, dict):
            cur = container[key] = {}
        cur[ci_key(cur, sub) or sub] = value
        return
    # attr[fattr eq "v"] or attr[fattr eq "v"].sub, e.g. emails[type eq "work"].value
    fm = _VALUE_FILTER.match(filt)
    if not fm:
        raise bad(f"unsupported value filter {filt!r}")
    fattr, raw = fm.group(1), fm.group(2)
    fvalue = json.loads(raw.lower() if raw.lower() in ("true", "false") else raw)
    items = container.get(key) if isinstance(container.get(key), list) else []
    matches = [i for i in items if isinstance(i, dict)
               and str(ci_get(i, fattr, "")).lower() == str(fvalue).lower()]
    if op == "remove":
        if sub:
            for i in matches:
                i.pop(ci_key(i, sub) or sub, None)
        else:
            left = [i for i in items if all(i is not x for x in matches)]
            if left:
                container[key] = left
            else:
                container.pop(key, None)
        return
    if not matches:  # unconfirmed: add/replace on no match creates the item
        matches = [{fattr: fvalue}]
        container[key] = items + matches
    for i in matches:
        if sub:
            i[ci_key(i, sub) or sub] = value
        elif isinstance(value, dict):
            merge(i, value)
        else:
            raise bad("a filtered path without sub-attribute needs an object value")


def parse_patch(body):
    """Check the PatchOp envelope; return [(op lowercased, path or None, value)]."""
    if not isinstance(body, dict):
        raise bad("body must be a PatchOp object")
    schemas = ci_get(body, "schemas")
    if not isinstance(schemas, list) or PATCH_URN.lower() not in [str(s).lower() for s in schemas]:
        raise bad("schemas must hold the PatchOp URN")
    ops = ci_get(body, "Operations")
    if not isinstance(ops, list) or not ops:
        raise bad("Operations must be a non-empty array")
    out = []
    for o in ops:
        if not isinstance(o, dict):
            raise bad("an operation must be an object")
        name = ci_get(o, "op")
        if not isinstance(name, str) or name.lower() not in ("add", "remove", "replace"):
            raise bad(f"unknown op {name!r}")
        path = ci_get(o, "path")
        if path is not None and not isinstance(path, str):
            raise bad("path must be a string")
        path = path.strip() if path and path.strip() else None
        if name.lower() != "remove" and ci_key(o, "value") is None:
            raise bad(f"{name} needs a value")
        out.append((name.lower(), path, ci_get(o, "value")))
    return out


def member_values(value):
    """[{value: id}, ...] (or one object) -> [id, ...]."""
    items = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if items is None:
        raise bad("members must be an array of {value}")
    out = []
    for m in items:
        v = ci_get(m, "value") if isinstance(m, dict) else None
        if not nonempty_str(v):
            raise bad("each member needs a string value")
        out.append(v)
    return out


_MEMBER_FILTER = re.compile(r'^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$', re.I | re.S)


# --- the store ---------------------------------------------------------------

class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.users = {}    # id -> stored user (dict order = creation order)
        self.groups = {}   # id -> stored group, members as [{"value": id}]
        self.seq = {}      # id -> creation number, for cursors
        self.next_seq = 0
        self.cursors = {}  # opaque token -> (kind, seq of the last item served)
        self.requests = []
        self.throttle_left, self.retry_after = 0, "1"

    # generic ---------------------------------------------------------------
    def table(self, kind):
        return self.users if kind == "Users" else self.groups

    def get(self, kind, rid):
        res = self.table(kind).get(rid)
        if res is None:
            raise ScimError(404, f"{kind[:-1]} {rid} not found.")
        return res

    def new_resource(self, kind, body):
        rid, ts = str(uuid.uuid4()), now_iso()
        res = {"id": rid, "schemas": [USER_URN if kind == "Users" else GROUP_URN], **body,
               "meta": {"resourceType": kind[:-1], "created": ts, "lastModified": ts}}
        self.table(kind)[rid] = res
        self.seq[rid] = self.next_seq
        self.next_seq += 1
        return res

    def delete(self, kind, rid):
        self.get(kind, rid)
        del self.table(kind)[rid]
        if kind == "Users":  # unconfirmed: a deleted user leaves its groups
            for g in self.groups.values():
                g["members"] = [m for m in g["members"] if m["value"] != rid]

    def list(self, kind, query):
        q = {k.lower(): v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        try:
            count = int(q.get("count", MAX_COUNT))
        except ValueError:
            raise bad("count must be an integer")
        if not 1 <= count <= MAX_COUNT:
            raise bad("count must be between 1 and 100")
        if "startindex" in q and q["startindex"].strip() != "1":  # STRICTER than confirmed
            raise bad("startIndex paging is not supported; use cursor")
        after = -1
        if q.get("cursor"):
            found = self.cursors.get(q["cursor"])
            if found is None or found[0] != kind:
                raise bad("unknown cursor")
            after = found[1]
        matches = list(self.table(kind).values())
        if q.get("filter") is not None:
            if kind == "Users":
                terms = parse_filter(q["filter"], {"username", "externalid", "id"}, USER_URN)
                matches = [u for u in matches if user_matches(u, terms)]
            else:
                terms = parse_filter(q["filter"], {"displayname", "externalid", "id", "members",
                                                   "members.value"}, GROUP_URN)
                attrs = {a for a, _ in terms}
                if "members" in attrs and "id" not in attrs:
                    raise bad("'members eq' needs 'id eq' beside it")
                matches = [g for g in matches if group_matches(g, terms)]
        rest = [r for r in matches if self.seq[r["id"]] > after]
        page = rest[:count]
        doc = {"totalResults": len(matches), "itemsPerPage": len(page), "startIndex": 1,
               "schemas": [LIST_URN], "Resources": [self.view(kind, r) for r in page]}
        if len(rest) > count:
            token = uuid.uuid4().hex
            self.cursors[token] = (kind, self.seq[page[-1]["id"]])
            doc["nextCursor"] = token
        return doc

    def view(self, kind, res):
        """What the SCIM API shows: groups always with an empty members list."""
        res = copy.deepcopy(res)
        if kind == "Groups":
            res["members"] = []
        return res

    def touch(self, res):
        res["meta"]["lastModified"] = now_iso()

    # users -------------------------------------------------------------------
    def check_user(self, u, rid=None):
        validate_user(u)
        name = ci_get(u, "userName").lower()  # unique, compared case-insensitively (our choice)
        for other in self.users.values():
            if other["id"] != rid and str(other.get("userName", "")).lower() == name:
                raise ScimError(409, "Duplicate userName: a user with this userName already exists.")

    def user_body(self, body):
        if not isinstance(body, dict):
            raise bad("body must be a JSON object")
        u = {k: v for k, v in body.items() if k.lower() not in ("id", "meta")}
        for attr in ("userName", "displayName", "name"):  # canonical casing for our own use
            k = ci_key(u, attr)
            if k is not None and k != attr:
                u[attr] = u.pop(k)
        return u

    def create_user(self, body):
        u = self.user_body(body)
        self.check_user(u)
        return self.new_resource("Users", u)

    def put_user(self, rid, body):
        old = self.get("Users", rid)
        u = self.user_body(body)
        self.check_user(u, rid)
        meta = dict(old["meta"])
        new = {"id": rid, "schemas": [USER_URN], **u, "meta": meta}
        self.users[rid] = new
        self.touch(new)
        return new

    def patch_user(self, rid, body):
        old = self.get("Users", rid)
        ops = parse_patch(body)
        plan, counts = [], {"active": 0, "username": 0}
        for op, path, value in ops:
            if path is None:
                if op == "remove":
                    raise bad("remove needs a path")
                if not isinstance(value, dict) or len(value) != 1:
                    raise bad("a path-less add/replace may set only one attribute")
                targets = list(value.items())
            else:
                targets = [(path, value)]
            for p, _ in targets:
                root = re.split(r"[.\[]", strip_core_urn(p, USER_URN), 1)[0].lower()
                if root in counts:
                    counts[root] += 1
                if root in ("id", "meta"):
                    raise bad(f"{root} is read-only")
            plan.append((op, targets))
        for attr, n in counts.items():
            if n > 1:
                raise bad(f"at most one operation on {attr} per request")
        new = copy.deepcopy(old)
        for op, targets in plan:
            for p, v in targets:
                apply_user_op(new, op, p, v)
        self.check_user({k: v for k, v in new.items() if k not in ("id", "meta")}, rid)
        self.touch(new)
        self.users[rid] = new

    # groups ------------------------------------------------------------------
    def check_group_name(self, name, rid=None):
        if not nonempty_str(name):
            raise bad("displayName is required")
        if any(g["id"] != rid and g.get("displayName") == name for g in self.groups.values()):
            raise ScimError(409, "Duplicate displayName: a group with this displayName already exists.")

    def check_not_groups(self, ids):
        if any(i in self.groups for i in ids):  # no nested groups
            raise bad("a group cannot be a member of a group")

    def create_group(self, body):
        if not isinstance(body, dict):
            raise bad("body must be a JSON object")
        g = {k: v for k, v in body.items() if k.lower() not in ("id", "meta", "members", "displayname")}
        g["displayName"] = ci_get(body, "displayName")
        raw = ci_get(body, "members")
        ids = member_values(raw) if raw is not None else []
        if len(ids) > MAX_MEMBERS:
            raise bad("a group is created with at most 100 members")
        self.check_not_groups(ids)
        self.check_group_name(g["displayName"])
        g["members"] = [{"value": i} for i in dict.fromkeys(ids)]
        return self.new_resource("Groups", g)

    def patch_group(self, rid, body):
        old = self.get("Groups", rid)
        ops = parse_patch(body)
        new = copy.deepcopy(old)
        members = [m["value"] for m in new["members"]]
        changes, added = 0, []
        for op, path, value in ops:
            if path is None:
                if op == "remove" or not isinstance(value, dict):
                    raise bad("a group op without path must be add/replace with an object value")
                targets = list(value.items())
            else:
                targets = [(path, value)]
            for p, v in targets:
                p = strip_core_urn(p, GROUP_URN)
                fm = _MEMBER_FILTER.match(p)
                if fm:  # members[value eq "U"]
                    if op != "remove":
                        raise bad("only remove may use members[value eq ...]")
                    uid = json.loads(fm.group(1))
                    changes += 1
                    members = [m for m in members if m != uid]
                elif p.lower() == "members":
                    if op == "replace":
                        raise bad("replacing all members is not supported")
                    if op == "remove" and (v is None or v == []):
                        raise bad("removing all members is not supported")
                    ids = member_values(v)
                    changes += len(ids)
                    if op == "add":
                        added += ids
                        members += [i for i in ids if i not in members]
                    else:
                        members = [m for m in members if m not in ids]
                elif p.lower() in ("displayname", "externalid"):
                    key = "displayName" if p.lower() == "displayname" else "externalId"
                    if op == "remove":
                        if key == "displayName":
                            raise bad("displayName is required")
                        new.pop(key, None)
                    elif not nonempty_str(v):
                        raise bad(f"{key} must be a non-empty string")
                    else:
                        new[key] = v
                else:
                    raise bad(f"a group PATCH may touch only displayName, members, externalId (not {p!r})")
        if changes > MAX_MEMBERS:
            raise bad("at most 100 membership changes per PATCH")
        self.check_not_groups(added)
        self.check_group_name(new.get("displayName"), rid)
        new["members"] = [{"value": m} for m in members]
        self.touch(new)
        self.groups[rid] = new


# --- HTTP --------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response is framed
    disable_nagle_algorithm = True  # small answers on keep-alive connections: no 40 ms delayed-ACK stalls
    server_version = "aws-identity-center-standin"

    def log_message(self, *args):  # silent
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self, method):
        store = self.server.store
        raw = self.read_body()  # always read it, so the connection stays in step
        try:
            parsed, valid = (json.loads(raw), True) if raw.strip() else (None, True)
        except ValueError:
            parsed, valid = None, False
        url = urlsplit(self.path)
        if url.path.startswith("/_standin/"):
            status, doc, headers = self.standin(method, url.path, parsed)
        else:
            record = {"method": method, "path": url.path, "query": url.query, "body": parsed}
            with store.lock:
                store.requests.append(record)
            try:
                status, doc, headers = self.scim(method, url.path, url.query, parsed, valid)
            except ScimError as e:
                status, doc, headers = e.status, error_doc(e.status, e.detail), dict(e.headers)
                record["reason"] = e.reason
                if e.status == 400:
                    # header-safe: ASCII only, no line breaks
                    headers["X-Standin-Reason"] = " ".join(e.reason.encode("ascii", "backslashreplace").decode().split())
            except Exception as e:  # a bug in the stand-in: say so, keep serving
                traceback.print_exc()
                status, doc, headers = 500, error_doc(500, "Service failed to process the request."), {}
                record["reason"] = f"stand-in bug: {e!r}"
            record["status"] = status
        self.send(status, doc, headers)

    def send(self, status, doc, headers):
        self.send_response(status)
        rid = doc.get("exceptionRequestId") if isinstance(doc, dict) else None
        self.send_header("x-amzn-RequestId", rid or str(uuid.uuid4()))
        for k, v in headers.items():
            self.send_header(k, v)
        if status == 204:
            self.end_headers()
            return
        data = json.dumps(doc).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self._headers_buffer.append(b"\r\n" + data)  # head and body in one write
        self.flush_headers()

    def standin(self, method, path, body):
        store = self.server.store
        with store.lock:
            if path == "/_standin/requests" and method == "GET":
                return 200, copy.deepcopy(store.requests), {}
            if path == "/_standin/requests" and method == "DELETE":
                store.requests.clear()
                return 204, None, {}
            if path == "/_standin/throttle" and method == "POST":
                try:
                    n = int(body["count"])
                    retry = str(body.get("retry_after", 1))
                except (TypeError, KeyError, ValueError):
                    return 400, error_doc(400, "body must be {\"count\": n, \"retry_after\": s}"), {}
                store.throttle_left, store.retry_after = n, retry
                return 200, {"count": n, "retry_after": retry}, {}
            m = re.fullmatch(r"/_standin/(users|groups)/([^/]+)", path)
            if m and method == "GET":
                res = store.table(m.group(1).capitalize()).get(m.group(2))
                if res is None:
                    return 404, error_doc(404, "not found"), {}
                return 200, copy.deepcopy(res), {}
        return 404, error_doc(404, "unknown stand-in endpoint"), {}

    def scim(self, method, path, query, body, valid):
        store = self.server.store
        with store.lock:
            if store.throttle_left > 0:  # test hook: refuse without doing anything
                store.throttle_left -= 1
                raise ScimError(429, "Too many requests were made that exceed the limits.",
                                headers={"Retry-After": store.retry_after})
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.server.token:
            raise ScimError(401, "Authorization header is invalid or missing.")
        if not path.startswith(BASE + "/"):
            raise ScimError(404, "Resource not found.")
        parts = path[len(BASE) + 1:].rstrip("/").split("/")
        if method in ("POST", "PUT", "PATCH") and not valid:
            raise bad("body is not JSON")
        with store.lock:
            return self.route(store, method, parts, query, body)

    def route(self, store, method, parts, query, body):
        not_allowed = ScimError(405, f"Method {method} is not supported on this resource.")
        if parts == ["ServiceProviderConfig"]:
            if method != "GET":
                raise not_allowed
            return 200, SERVICE_PROVIDER_CONFIG, {}
        if not parts or parts[0] not in ("Users", "Groups") or len(parts) > 2 or parts[-1] == ".search":
            raise ScimError(404, "Resource not found.")
        kind = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, store.list(kind, query), {}
            if method == "POST":
                res = store.create_user(body) if kind == "Users" else store.create_group(body)
                return 201, store.view(kind, res), {}
            raise not_allowed
        rid = parts[1]
        if method == "GET":
            return 200, store.view(kind, store.get(kind, rid)), {}
        if method == "DELETE":
            store.delete(kind, rid)
            return 204, None, {}
        if method == "PATCH":
            if kind == "Users":
                store.patch_user(rid, body)
            else:
                store.patch_group(rid, body)
            return 204, None, {}
        if method == "PUT" and kind == "Users":
            return 200, store.view(kind, store.put_user(rid, body)), {}
        raise not_allowed  # includes PUT on a group: AWS has none (405 is our choice)


def make_server(host, port, token):
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.store, server.token = Store(), token
    return server


def main(argv=None):
    ap = argparse.ArgumentParser(description="AWS IAM Identity Center SCIM stand-in")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    server = make_server(args.host, args.port, args.token)
    print(f"aws_identity_center stand-in listening on http://{args.host}:{server.server_address[1]}{BASE}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

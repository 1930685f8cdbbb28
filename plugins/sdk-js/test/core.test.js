// The SDK's logic in plain Node.js: `node --test test/` (the test command
// runs it).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  Rejection,
  asRejection,
  consoleFor,
  deactivates,
  definePluginWith,
  describe,
  lockSandbox,
  makeContext,
  truncate,
} from "../src/core.js";

const here = new URL(".", import.meta.url);
const read = (path) => readFileSync(new URL(path, here), "utf8");
const raw = (over = {}) => ({ resourceType: "User", operation: "create", direction: "request", config: "{}", ...over });

test("deprovisioning is decided by the gateway's rule", () => {
  const cases = JSON.parse(read("../../wit/deprovisioning-cases.json"));
  assert.ok(cases.resource.length > 10);
  for (const c of cases.resource) {
    assert.equal(makeContext(raw(), c.body).isDeprovisioning(), c.deprovisions, c.name);
    assert.equal(deactivates(c.body), c.deprovisions, c.name);
  }
  assert.equal(makeContext(raw({ direction: "response" }), { active: false }).isDeprovisioning(), false);
  assert.equal(makeContext(raw(), {}).isDeprovisioning({ active: "False" }), true);
});

test("the SDK's WIT is the contract's", () => {
  assert.equal(read("../wit/mapper.wit"), read("../../wit/mapper.wit"));
});

const logged = [];
const log = (level, message) => logged.push([level, message]);

test("a plugin gets the parsed resource and config and its answer is serialized", () => {
  const mapper = definePluginWith(
    {
      mapResource(ctx, user) {
        user.seen = [ctx.resourceType, ctx.operation, ctx.direction, ctx.config.n];
      },
    },
    log,
  );
  const out = JSON.parse(mapper.mapResource(raw({ config: '{"n":3}' }), '{"userName":"a"}'));
  assert.deepEqual(out, { userName: "a", seen: ["User", "create", "request", 3] });
  const replaced = definePluginWith({ mapResource: () => ({ other: true }) }, log);
  assert.equal(replaced.mapResource(raw(), "{}"), '{"other":true}');
});

test("whatever a plugin throws becomes a rejection that names it", () => {
  const throwing = (value) =>
    definePluginWith(
      {
        mapResource() {
          throw value;
        },
      },
      log,
    );
  const caught = (value) => {
    try {
      throwing(value).mapResource(raw(), "{}");
    } catch (e) {
      return e;
    }
    assert.fail("no rejection");
  };
  assert.deepEqual(caught(new Rejection(403, "mutability", "no")), { status: 403, scimType: "mutability", detail: "no" });
  assert.deepEqual(caught({ status: 409, scimType: "uniqueness", detail: "taken" }), {
    status: 409,
    scimType: "uniqueness",
    detail: "taken",
  });
  const typeError = caught(new TypeError("x is undefined"));
  assert.equal(typeError.status, 500);
  assert.equal(typeError.detail, "the plugin threw TypeError: x is undefined");
  assert.equal(caught(42).detail, "the plugin threw the number 42");
  assert.equal(caught("no").detail, 'the plugin threw the string "no"');
  assert.equal(caught(null).detail, "the plugin threw null");
  assert.match(caught({ status: 200, detail: "ok" }).detail, /not an Error/);
  const long = caught(new Error("é".repeat(2000)));
  assert.ok(Buffer.byteLength(long.detail) <= 1000, "detail within the host's bound");
  assert.ok(long.detail.endsWith("..."));
});

test("a resource that is not JSON is a 500, not a trap", () => {
  const mapper = definePluginWith({ mapResource: (_, r) => r }, log);
  assert.throws(() => mapper.mapResource(raw(), "{"), (e) => e.status === 500 && /could not read/.test(e.detail));
});

test("console output goes to the log, formatted", () => {
  logged.length = 0;
  const c = consoleFor(log);
  c.log("a", 1, { b: true });
  c.warn(new RangeError("far"));
  c.debug("d");
  assert.deepEqual(logged, [
    ["info", 'a 1 {"b":true}'],
    ["warn", "RangeError: far"],
    ["debug", "d"],
  ]);
});

test("helpers", () => {
  assert.equal(describe(undefined), "undefined");
  assert.equal(asRejection(new Error("e")).status, 500);
  assert.equal(truncate("abc", 3), "abc");
  assert.equal(truncate("abcdef", 5), "ab...");
  assert.throws(() => definePluginWith({}, log), TypeError);
});

test("the sandbox has no clock, randomness or I/O, and says so", () => {
  // A Date class of its own, so that the test's own Date stays whole.
  class OwnDate extends Date {}
  const global = { Date: OwnDate, Math: { ...Math, random: Math.random }, fetch: () => 1, setTimeout: () => 1 };
  lockSandbox(global);
  assert.throws(() => global.Date.now(), /no clock/);
  assert.throws(() => new global.Date(), /no clock/);
  assert.throws(() => global.Date(), /no clock/);
  assert.throws(() => new global.Date(0).constructor.now(), /no clock/);
  assert.throws(() => new (new global.Date(0).constructor)(), /no clock/);
  const given = new global.Date("2024-02-29T12:00:00Z");
  assert.equal(given.toISOString(), "2024-02-29T12:00:00.000Z");
  assert.ok(given instanceof OwnDate);
  assert.equal(global.Date.UTC(2024, 1, 29), Date.UTC(2024, 1, 29));
  assert.throws(() => global.Math.random(), /no randomness/);
  assert.throws(() => global.crypto.getRandomValues(new Uint8Array(4)), /no randomness/);
  assert.throws(() => global.fetch("https://example.com"), /no I\/O/);
  assert.throws(() => global.setTimeout(() => {}, 1), /no I\/O/);
});

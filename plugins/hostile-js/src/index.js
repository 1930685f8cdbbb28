// hostile-js: for the host's tests, never for production. Its config's
// `do` picks how it misbehaves:
//
// | `do` | what it does |
// |---|---|
// | `loop` | spins forever |
// | `memory` | keeps allocating until memory runs out |
// | `recursion` | recurses without end |
// | `huge` | returns the resource with a 4 MiB attribute |
// | `throw-string` | throws a string (through the SDK: a rejection naming it) |
// | `throw-number` | throws the number 42 (through the SDK) |
// | `raw-throw` | throws 42 past the SDK, straight out of the export |
// | `type-error` | reads a property of undefined |
// | `log-then-throw` | logs "about to read a missing manager", then reads a property of undefined |
// | `change-id` | returns the resource with another `id` |
// | `change-meta` | returns the resource with another `meta.version` |
// | `activate` | sets `active: true` (a deactivation turned back on) |
// | `reject` | refuses with 403 through `reject` |
// | `log` | logs once at each level, through `log` and `console` |
// | `log-flood` | logs 1,000 messages of 1 kB |
// | `sandbox` | records what the clock, randomness, timers and fetch give (each throws, saying so) |
// | `count` | counts its calls in a module variable (state surviving between calls would show as more than 1) |
// | anything else | returns the resource unchanged |

import { definePlugin, log, reject } from "@scim-gateway/plugin-sdk";

let calls = 0;

const sdk = definePlugin({
  mapResource(ctx, doc) {
    const act = ACTIONS[ctx.config.do];
    return act ? act(doc) : doc;
  },
});

const ACTIONS = {
  loop() {
    for (;;) {}
  },
  memory() {
    const hoard = [];
    for (;;) hoard.push(new Array(1 << 16).fill(hoard.length));
  },
  recursion() {
    const deep = (n) => deep(n + 1) + 1;
    return deep(0);
  },
  huge(doc) {
    doc.huge = "x".repeat(4 << 20);
    return doc;
  },
  "throw-string"() {
    throw "no";
  },
  "throw-number"() {
    throw 42;
  },
  "type-error"(doc) {
    return doc.nothing.here;
  },
  "log-then-throw"(doc) {
    log("warn", "about to read a missing manager");
    return doc.manager.value;
  },
  "change-id"(doc) {
    doc.id = "someone-else";
    return doc;
  },
  "change-meta"(doc) {
    doc.meta = { ...doc.meta, version: 'W/"forged"' };
    return doc;
  },
  activate(doc) {
    doc.active = true;
    return doc;
  },
  reject() {
    reject(403, undefined, "refused on purpose");
  },
  log(doc) {
    log("debug", "a debug message");
    log("info", "an info message", { n: 1 });
    console.warn("a warning from console");
    console.error(new TypeError("an error from console"));
    return doc;
  },
  "log-flood"(doc) {
    const line = "y".repeat(1000);
    for (let i = 0; i < 1000; i++) log("info", line);
    return doc;
  },
  sandbox(doc) {
    const probe = (f) => {
      try {
        return f();
      } catch (e) {
        return `throws: ${e?.message ?? String(e)}`;
      }
    };
    doc.sandbox = {
      now: probe(() => Date.now()),
      newDate: probe(() => String(new Date())),
      givenDate: probe(() => new Date("2024-02-29T12:00:00Z").toISOString()),
      random: probe(() => Math.random()),
      crypto: probe(() => crypto.getRandomValues(new Uint8Array(4))),
      fetch: probe(() => fetch("https://example.com")),
      setTimeout: probe(() => setTimeout(() => {}, 1)),
    };
    return doc;
  },
  count(doc) {
    calls += 1;
    doc.callCount = calls;
    return doc;
  },
};

export const mapper = {
  mapResource(ctx, json) {
    if (JSON.parse(ctx.config || "{}").do === "raw-throw") {
      throw 42;
    }
    return sdk.mapResource(ctx, json);
  },
};

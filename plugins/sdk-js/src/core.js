// The SDK's logic, free of the host's imports so that it runs in plain
// Node.js too (its tests, a plugin author's unit tests). src/index.js wires
// it to the host's `logging` import.

const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";

/** The longest rejection detail the host accepts is 1024 bytes. */
const MAX_DETAIL = 1000;

/**
 * A refusal: the gateway answers the IdP with this status, scimType and
 * detail, and forwards nothing. Throw it (or call `reject`).
 */
export class Rejection extends Error {
  constructor(status, scimType, detail) {
    super(detail);
    this.name = "Rejection";
    this.status = status;
    this.scimType = scimType ?? undefined;
    this.detail = detail;
  }
}

/** Refuses the resource: throws a `Rejection`. */
export function reject(status, scimType, detail) {
  throw new Rejection(status, scimType, detail);
}

/** 400 with scimType `invalidValue`. */
export function invalidValue(detail) {
  return reject(400, "invalidValue", detail);
}

/**
 * Whether `resource` deactivates the user: the gateway's own rule (the cases
 * in plugins/wit/deprovisioning-cases.json), shared with the Rust SDK.
 * `active` in any case or qualified by the core User URN, set to `false` or
 * the string "false" in any case (padded or not). Plugins should never stand
 * in its way: the gateway lets a deactivation through whatever they answer.
 */
export function deactivates(resource) {
  if (resource === null || typeof resource !== "object" || Array.isArray(resource)) {
    return false;
  }
  for (const [key, value] of Object.entries(resource)) {
    if (isActiveKey(key) && isFalse(value)) {
      return true;
    }
    if (key.toLowerCase() === CORE_USER.toLowerCase() && deactivates(value)) {
      return true;
    }
  }
  return false;
}

function isActiveKey(key) {
  const lower = key.toLowerCase();
  if (lower === "active") {
    return true;
  }
  const colon = lower.lastIndexOf(":");
  return colon >= 0 && lower.slice(colon + 1) === "active" && lower.slice(0, colon) === CORE_USER.toLowerCase();
}

function isFalse(value) {
  return value === false || (typeof value === "string" && rustTrim(value).toLowerCase() === "false");
}

// Unicode White_Space, what Rust's `str::trim` (the gateway's rule) strips.
// JavaScript's own `trim` differs: it strips U+FEFF and keeps U+0085.
const EDGE_SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

function rustTrim(s) {
  return s.replace(EDGE_SPACE, "");
}

/**
 * The context a plugin's `mapResource` gets: what the call is for, the
 * plugin's parsed config, and `isDeprovisioning()`.
 */
export function makeContext(raw, resource, log) {
  let config = {};
  try {
    config = JSON.parse(raw.config || "{}") ?? {};
  } catch {
    config = {};
  }
  return {
    resourceType: raw.resourceType,
    operation: raw.operation,
    direction: raw.direction,
    config,
    log,
    /** Whether this request deactivates the resource (`resource` defaults to the one given). */
    isDeprovisioning(of = resource) {
      return raw.direction === "request" && deactivates(of);
    },
  };
}

/**
 * The `mapper` export for a plugin: hands `mapResource` the parsed
 * resource, serializes its answer (the returned object, or the resource it
 * changed in place when it returns nothing), and turns whatever it throws
 * into a rejection the IdP's admin can read.
 */
export function definePluginWith(plugin, log) {
  if (plugin === null || typeof plugin !== "object" || typeof plugin.mapResource !== "function") {
    throw new TypeError("definePlugin needs an object with a mapResource(ctx, resource) function");
  }
  return {
    mapResource(rawCtx, json) {
      let resource;
      try {
        resource = JSON.parse(json);
      } catch (e) {
        throw lower(new Rejection(500, undefined, `the plugin could not read the resource: ${describe(e)}`));
      }
      try {
        const ctx = makeContext(rawCtx, resource, log);
        const out = plugin.mapResource(ctx, resource);
        return JSON.stringify(out === undefined ? resource : out);
      } catch (e) {
        throw lower(asRejection(e));
      }
    },
  };
}

/** What a plugin threw, as a rejection. */
export function asRejection(thrown) {
  if (thrown instanceof Rejection) {
    return thrown;
  }
  if (isRejectionShaped(thrown)) {
    return new Rejection(thrown.status, thrown.scimType, String(thrown.detail));
  }
  return new Rejection(500, undefined, `the plugin threw ${describe(thrown)}`);
}

function isRejectionShaped(v) {
  return (
    v !== null &&
    typeof v === "object" &&
    Number.isInteger(v.status) &&
    v.status >= 400 &&
    v.status <= 599 &&
    typeof v.detail === "string"
  );
}

/** An exception in words: `TypeError: x is undefined`, `the string "no"`. */
export function describe(thrown) {
  if (thrown instanceof Error) {
    return `${thrown.name}: ${thrown.message}`;
  }
  if (typeof thrown === "string") {
    return `the string ${JSON.stringify(thrown)}`;
  }
  if (thrown === null || thrown === undefined) {
    return String(thrown);
  }
  if (typeof thrown === "object") {
    return `an object that is not an Error (${safeJson(thrown)})`;
  }
  return `the ${typeof thrown} ${String(thrown)}`;
}

function safeJson(v) {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/** The WIT `rejection`, within the host's bounds (status 400 to 599, detail at most 1024 bytes). */
function lower(r) {
  const status = Number.isInteger(r.status) && r.status >= 400 && r.status <= 599 ? r.status : 500;
  const scimType = typeof r.scimType === "string" && utf8Length(r.scimType) <= 64 ? r.scimType : undefined;
  return { status, scimType, detail: truncate(String(r.detail ?? ""), MAX_DETAIL) };
}

/** `text` cut to at most `max` UTF-8 bytes, at a character boundary, marked with an ellipsis. */
export function truncate(text, max) {
  if (utf8Length(text) <= max) {
    return text;
  }
  let out = "";
  let used = 0;
  for (const ch of text) {
    const n = utf8Length(ch);
    if (used + n > max - 3) {
      break;
    }
    out += ch;
    used += n;
  }
  return `${out}...`;
}

function utf8Length(s) {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/** Console arguments as one message: strings as they are, the rest as JSON. */
export function formatArgs(args) {
  return args.map((a) => (typeof a === "string" ? a : a instanceof Error ? describe(a) : safeJson(a))).join(" ");
}

/**
 * A `console` whose methods hand their message to `log(level, message)`
 * instead of trapping (the sandbox has no stdout).
 */
export function consoleFor(log) {
  const at = (level) => (...args) => log(level, formatArgs(args));
  return {
    debug: at("debug"),
    trace: at("debug"),
    log: at("info"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  };
}

/** Sets `target[name]`, as a data property where it was a getter; false if it cannot. */
function put(target, name, value) {
  try {
    Object.defineProperty(target, name, { value, writable: true, configurable: true });
    return true;
  } catch {
    try {
      target[name] = value;
      return target[name] === value;
    } catch {
      return false;
    }
  }
}

/**
 * Makes what the sandbox lacks fail the same way in both engines, with an
 * error that says why, instead of a trap (QuickJS) or a frozen value
 * (SpiderMonkey): the clock (`Date.now()`, `new Date()` without a
 * value), randomness (`Math.random`, `crypto.getRandomValues`,
 * `crypto.randomUUID`), and I/O and timers. Dates from values still work.
 */
export function lockSandbox(global) {
  const missing = (what, why) =>
    function unavailable() {
      throw new Error(`the plugin sandbox has no ${what} (${why}): a mapping must give the same output for the same input`);
    };
  const RealDate = global.Date;
  const noClock = missing("clock", "Date.now, new Date()");
  function SandboxDate(...args) {
    if (!new.target || args.length === 0) {
      noClock();
    }
    return new RealDate(...args);
  }
  SandboxDate.prototype = RealDate.prototype;
  SandboxDate.parse = RealDate.parse;
  SandboxDate.UTC = RealDate.UTC;
  SandboxDate.now = noClock;
  // A date's constructor leads back to the real one: close that door too.
  put(RealDate, "now", noClock);
  put(RealDate.prototype, "constructor", SandboxDate);
  put(global, "Date", SandboxDate);
  put(global.Math, "random", missing("randomness", "Math.random"));
  const noRandom = {
    getRandomValues: missing("randomness", "crypto.getRandomValues"),
    randomUUID: missing("randomness", "crypto.randomUUID"),
  };
  // SpiderMonkey's `crypto` is a getter: its methods are replaced instead.
  if (!put(global, "crypto", noRandom) && global.crypto) {
    put(global.crypto, "getRandomValues", noRandom.getRandomValues);
    put(global.crypto, "randomUUID", noRandom.randomUUID);
  }
  for (const name of ["fetch", "setTimeout", "setInterval", "setImmediate", "queueMicrotask"]) {
    put(global, name, missing("I/O or timers", name));
  }
}

// full-name, in JavaScript: builds `name.formatted` and `displayName` from
// the name parts, in a configurable format, after tidying the parts:
// whitespace collapsed, and a part written all in lower or all in upper
// case given capitals (`JANE` becomes `Jane`, `o'brien-smith` becomes
// `O'Brien-Smith`; mixed case such as `McDonald` is left alone). The same
// behaviour as the Rust plugins/full-name, proven by the shared vectors in
// plugins/vectors/full-name.json.
//
// Config (all optional):
// - `format`: placeholders {given}, {middle}, {family}, {prefix}, {suffix};
//   default "{given} {family}". Empty parts leave no double spaces or
//   dangling commas.
// - `display_name`: also set `displayName` (default true).
//
// Runs on requests (create, replace, patch); answers pass unchanged.

import { definePlugin, log, reject } from "@scim-gateway/plugin-sdk";

const SLOTS = {
  givenName: "given",
  middleName: "middle",
  familyName: "family",
  honorificPrefix: "prefix",
  honorificSuffix: "suffix",
};

export const mapper = definePlugin({
  mapResource(ctx, user) {
    if (ctx.direction !== "request" || ctx.resourceType !== "User" || ctx.isDeprovisioning()) {
      return user;
    }
    const format = typeof ctx.config.format === "string" ? ctx.config.format : "{given} {family}";
    const display = typeof ctx.config.display_name === "boolean" ? ctx.config.display_name : true;
    const name = user.name;
    if (name === null || typeof name !== "object" || Array.isArray(name)) {
      return user;
    }
    const parts = { given: "", middle: "", family: "", prefix: "", suffix: "" };
    const tidiedParts = new Set();
    for (const [key, value] of Object.entries(name)) {
      if (key in SLOTS && typeof value === "string") {
        const tidied = tidy(value);
        if (tidied !== null) {
          name[key] = tidied;
          tidiedParts.add(key);
        }
        parts[SLOTS[key]] = name[key];
      }
    }
    const formatted = render(format, parts);
    if (formatted === "") {
      log("debug", "no name parts: name.formatted left as it was");
      return user;
    }
    // The names of the parts, never their values.
    const tidied = Object.keys(SLOTS).filter((key) => tidiedParts.has(key));
    if (tidied.length) {
      log("debug", `tidied ${tidied.join(", ")}`);
    }
    log("debug", `name.formatted from the format ${format}`);
    name.formatted = formatted;
    if (display) {
      user.displayName = formatted;
    }
    return user;
  },
});

/** Fills the placeholders, then drops what an empty part leaves behind. */
function render(format, parts) {
  let out = "";
  let rest = format;
  for (let open = rest.indexOf("{"); open >= 0; open = rest.indexOf("{")) {
    out += rest.slice(0, open);
    const after = rest.slice(open + 1);
    const close = after.indexOf("}");
    const key = close < 0 ? null : after.slice(0, close);
    if (key === null || !Object.hasOwn(parts, key)) {
      badFormat(format);
    }
    out += parts[key];
    rest = after.slice(close + 1);
  }
  return cleanSeparators(out + rest);
}

function badFormat(format) {
  reject(
    500,
    undefined,
    `full-name: the format \`${format}\` has an unknown or unclosed placeholder; use {given}, {middle}, {family}, {prefix}, {suffix}`,
  );
}

const WHITESPACE = /\s+/u;

/** Collapses whitespace and removes commas left without a neighbour. */
function cleanSeparators(s) {
  const joined = words(s).join(" ");
  const pieces = joined
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  return pieces.length ? pieces.join(", ") : "";
}

function words(s) {
  return s.split(WHITESPACE).filter((w) => w !== "");
}

/**
 * Whitespace collapsed; all-lower or all-upper words capitalized. `null`
 * when the part is that already.
 */
function tidy(part) {
  const spaced =
    !part.startsWith(" ") && !part.endsWith(" ") && !part.includes("  ") && !/[^\S ]/u.test(part);
  if (spaced && part.split(" ").every(mixedCase)) {
    return null;
  }
  return words(part).map(capitalize).join(" ");
}

// Letters with a case of their own. (Not \p{Lowercase}: SpiderMonkey's
// build has no Unicode property escapes.)
function mixedCase(word) {
  let lower = false;
  let upper = false;
  for (const c of word) {
    lower ||= c !== c.toUpperCase() && c === c.toLowerCase();
    upper ||= c !== c.toLowerCase() && c === c.toUpperCase();
  }
  return lower && upper;
}

function capitalize(word) {
  if (mixedCase(word)) {
    return word;
  }
  let out = "";
  let start = true;
  for (const c of word) {
    out += start ? c.toUpperCase() : c.toLowerCase();
    start = c === "-" || c === "'" || c === "\u2019";
  }
  return out;
}

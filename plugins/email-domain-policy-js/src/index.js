// email-domain-policy, in JavaScript: Users may only carry e-mail
// addresses (in `emails[].value`, and `userName` when it is an address) in
// the domains the config allows; alias domains are rewritten to their
// canonical domain first. A create or update with any other domain is
// refused with a 400 that the IdP shows its admin. Deactivations pass
// whatever they carry. The same behaviour as the Rust
// plugins/email-domain-policy, proven by plugins/vectors/email-domain-policy.json.
//
// Config:
// - `allowed`: the domains addresses may use, e.g. ["example.com"]
//   (required: with none, every request is refused with a 500 that says so);
// - `aliases`: alias domain to canonical domain, e.g.
//   {"example.org": "example.com"} (optional).
//
// Domains compare case-insensitively (ASCII); a rewritten domain is written
// in lower case.

import { definePlugin, invalidValue, reject } from "@scim-gateway/plugin-sdk";

export const mapper = definePlugin({
  mapResource(ctx, user) {
    if (ctx.direction !== "request" || ctx.resourceType !== "User" || ctx.isDeprovisioning()) {
      return user;
    }
    const policy = fromConfig(ctx.config);
    if (typeof user.userName === "string" && user.userName.includes("@")) {
      user.userName = apply(policy, user.userName);
    }
    if (Array.isArray(user.emails)) {
      for (const email of user.emails) {
        if (email !== null && typeof email === "object" && typeof email.value === "string") {
          email.value = apply(policy, email.value);
        }
      }
    }
    return user;
  },
});

function fromConfig(config) {
  const allowed = (Array.isArray(config.allowed) ? config.allowed : [])
    .filter((d) => typeof d === "string")
    .map(asciiLower);
  if (allowed.length === 0) {
    reject(500, undefined, "email-domain-policy: the config names no `allowed` domains");
  }
  const aliases = new Map();
  const table = config.aliases !== null && typeof config.aliases === "object" ? config.aliases : {};
  for (const [alias, canonical] of Object.entries(table)) {
    const key = asciiLower(alias);
    if (typeof canonical === "string" && !aliases.has(key)) {
      aliases.set(key, asciiLower(canonical));
    }
  }
  return { allowed, aliases };
}

/** Rewrites an alias domain in `address`, then checks the domain. */
function apply(policy, address) {
  const at = address.lastIndexOf("@");
  if (at < 0) {
    invalidValue(`\`${address}\` is not an e-mail address`);
  }
  const local = address.slice(0, at);
  let domain = asciiLower(address.slice(at + 1));
  domain = policy.aliases.get(domain) ?? domain;
  if (!policy.allowed.includes(domain)) {
    invalidValue(`the e-mail domain \`${domain}\` is not allowed here (allowed: ${policy.allowed.join(", ")})`);
  }
  return `${local}@${domain}`;
}

/** Lower case for ASCII letters only, as domains compare. */
function asciiLower(s) {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

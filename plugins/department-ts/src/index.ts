// department-ts: a TypeScript example. It writes the enterprise
// extension's `department` into the display name ("Bea Lee (Sales)"), and
// with `require_department` refuses a create without one. The types come
// from @scim-gateway/plugin-sdk: `User` knows the core and enterprise
// attributes, `Context<Config>` the plugin's own config.

import { definePlugin, invalidValue, type User } from "@scim-gateway/plugin-sdk";

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

interface Config {
  /** Refuse creates without a department (default false). */
  require_department?: boolean;
}

export const mapper = definePlugin<User, Config>({
  mapResource(ctx, user) {
    if (ctx.direction !== "request" || ctx.resourceType !== "User" || ctx.isDeprovisioning()) {
      return user;
    }
    const department = user[ENTERPRISE]?.department?.trim();
    if (!department) {
      if (ctx.config.require_department && ctx.operation === "create") {
        invalidValue("department-ts: a new user needs the enterprise `department`");
      }
      return user;
    }
    const base = user.displayName ?? [user.name?.givenName, user.name?.familyName].filter(Boolean).join(" ");
    if (base && !base.endsWith(`(${department})`)) {
      user.displayName = `${base} (${department})`;
      ctx.log("debug", `display name now carries the department ${department}`);
    }
    return user;
  },
});

// @scim-gateway/plugin-sdk: write a scim-gateway mapping plugin in
// JavaScript or TypeScript. A plugin module exports its mapper:
//
//   import { definePlugin, reject } from "@scim-gateway/plugin-sdk";
//   export const mapper = definePlugin({
//     mapResource(ctx, user) {
//       if (ctx.isDeprovisioning()) return user;
//       user.displayName = `${user.name?.givenName} ${user.name?.familyName}`;
//       return user;
//     },
//   });
//
// `scim-plugin-build` bundles it and makes the WebAssembly component.

import { log as hostLog } from "scim-gateway:plugin/logging@1.1.0";
import { consoleFor, definePluginWith, formatArgs, lockSandbox } from "./core.js";

export { Rejection, asRejection, deactivates, describe, invalidValue, reject } from "./core.js";

/**
 * Sends a message to the plugin's log: `scim-gateway map --explain` shows
 * it, the gateway logs it at debug. `level` is debug, info, warn or error.
 */
export function log(level, ...args) {
  hostLog(LEVELS.has(level) ? level : "info", formatArgs(args));
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);

// The sandbox has no stdout: console output goes to the plugin's log. It
// has no clock, randomness or I/O either: using them throws, saying so.
globalThis.console = consoleFor(log);
lockSandbox(globalThis);

/** The `mapper` export for `plugin`; see README.md. */
export function definePlugin(plugin) {
  return definePluginWith(plugin, log);
}

#!/usr/bin/env node
// Regenerates types/ (the contract's TypeScript types) from wit/ with jco's
// guest-types. `--check` regenerates into a temporary folder and fails when
// the committed types differ (the test command runs it).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "sdk-types-")) : join(sdk, "types");
const jco = require.resolve.paths("jco-types").map((d) => join(d, "jco-types", "src", "jco.js")).find(existsSync);
if (!jco) {
  console.error("jco-types is not installed; run npm ci in plugins/");
  process.exit(1);
}
const run = spawnSync(process.execPath, [jco, "guest-types", "wit", "-n", "plugin", "-o", out, "-q"], {
  cwd: sdk,
  encoding: "utf8",
});
if (run.status !== 0) {
  console.error(`jco guest-types failed:\n${run.stderr}${run.stdout}`);
  process.exit(1);
}

function files(dir) {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? files(join(dir, n)) : [join(dir, n)]));
}

if (check) {
  const fresh = files(out).map((f) => relative(out, f)).sort();
  const kept = files(join(sdk, "types")).map((f) => relative(join(sdk, "types"), f)).sort();
  const differ = fresh.filter((f) => !kept.includes(f) || readFileSync(join(out, f), "utf8") !== readFileSync(join(sdk, "types", f), "utf8"));
  rmSync(out, { recursive: true });
  if (differ.length || fresh.length !== kept.length) {
    console.error(`types/ is stale (${differ.join(", ") || "files differ"}); run \`npm run types\` in plugins/sdk-js`);
    process.exit(1);
  }
}

#!/usr/bin/env node
// scim-plugin-build: turns the JavaScript or TypeScript plugin in the
// current folder into a scim-gateway plugin component.
//
//   npx scim-plugin-build [--out-dir DIR] [--toolchain quickjs|spidermonkey]...
//
// 1. TypeScript (src/index.ts) is type-checked with tsc (the folder's
//    tsconfig.json); JavaScript starts at src/index.js.
// 2. esbuild bundles the plugin and the SDK into one ES module.
// 3. Each toolchain makes a component: QuickJS (componentize-qjs, the
//    default) or SpiderMonkey (componentize-js). The first is written to
//    DIR/NAME.wasm, others to DIR/NAME.TOOLCHAIN.wasm (DIR defaults to dist/).
// 4. The component may import only the host's logging interface; anything
//    else fails the build, as the gateway would refuse it at load.
//
// package.json may set "scimPlugin": {"entry": ..., "toolchains": [...]}.

import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

const require = createRequire(import.meta.url);
const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WIT = join(sdk, "wit");
const ALLOWED_IMPORTS = ["scim-gateway:plugin/logging@1.1.0"];
const TOOLCHAINS = ["quickjs", "spidermonkey"];

function fail(message) {
  console.error(`scim-plugin-build: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = { outDir: "dist", toolchains: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--out-dir" && argv[i + 1]) opts.outDir = argv[++i];
    else if (arg === "--toolchain" && argv[i + 1]) opts.toolchains.push(argv[++i]);
    else if (arg === "--help" || arg === "-h") {
      console.log("usage: scim-plugin-build [--out-dir DIR] [--toolchain quickjs|spidermonkey]...");
      process.exit(0);
    } else fail(`unknown argument ${arg}; see --help`);
  }
  return opts;
}

async function settings(dir, opts) {
  const pkg = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const own = pkg.scimPlugin ?? {};
  const name = basename(pkg.name ?? dir).replace(/^@.*\//, "");
  const entry = own.entry ?? (existsSync(join(dir, "src/index.ts")) ? "src/index.ts" : "src/index.js");
  const toolchains = opts.toolchains.length ? opts.toolchains : own.toolchains ?? ["quickjs"];
  for (const t of toolchains) {
    if (!TOOLCHAINS.includes(t)) fail(`unknown toolchain ${t}; use ${TOOLCHAINS.join(" or ")}`);
  }
  if (!existsSync(join(dir, entry))) fail(`${entry} is missing (set scimPlugin.entry in package.json)`);
  return { name, entry, toolchains };
}

function typecheck(dir) {
  if (!existsSync(join(dir, "tsconfig.json"))) fail("a TypeScript plugin needs a tsconfig.json");
  const tsc = require.resolve("typescript/bin/tsc");
  const run = spawnSync(process.execPath, [tsc, "--noEmit", "-p", dir], { stdio: "inherit" });
  if (run.status !== 0) fail("tsc found type errors");
}

async function bundle(dir, entry) {
  const esbuild = await import("esbuild");
  const outfile = join(dir, "build", "plugin.js");
  await esbuild.build({
    entryPoints: [join(dir, entry)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["scim-gateway:*"],
    outfile,
    logLevel: "warning",
  });
  return outfile;
}

async function quickjs(source, out) {
  const { componentize } = await import("componentize-qjs");
  const { component } = await componentize({
    witPath: WIT,
    world: "plugin",
    jsSource: await readFile(source, "utf8"),
    jsPath: source,
    sync: true,
    stubWasi: true,
  });
  await writeFile(out, component);
}

async function spidermonkey(source, out) {
  const { componentize } = await import("@bytecodealliance/componentize-js");
  const { component } = await componentize({
    sourcePath: source,
    witPath: WIT,
    worldName: "plugin",
    disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
  });
  await writeFile(out, component);
}

/** The component's imports, read from its WIT. */
async function checkImports(file) {
  const { componentWit } = await import("@bytecodealliance/jco");
  const wit = await componentWit(await readFile(file));
  const imports = [...wit.matchAll(/^\s*import ([^;:]+:[^;]+?)(?::|;)/gm)].map((m) => m[1].trim());
  const refused = imports.filter((i) => !ALLOWED_IMPORTS.includes(i));
  if (refused.length) {
    fail(`${file} imports ${refused.join(", ")}; a plugin may import only ${ALLOWED_IMPORTS.join(", ")}`);
  }
}

const opts = parseArgs(process.argv.slice(2));
const dir = process.cwd();
const { name, entry, toolchains } = await settings(dir, opts);
if (entry.endsWith(".ts")) typecheck(dir);
const source = await bundle(dir, entry);
const outDir = resolve(dir, opts.outDir);
await mkdir(outDir, { recursive: true });
for (const [i, toolchain] of toolchains.entries()) {
  const out = join(outDir, i === 0 ? `${name}.wasm` : `${name}.${toolchain}.wasm`);
  if (toolchain === "quickjs") await quickjs(source, out);
  else await spidermonkey(source, out);
  await checkImports(out);
  console.log(out);
}

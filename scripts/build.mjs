// Build: wasm core (release + debug), then the host bundles.
//   node scripts/build.mjs              release + debug core, bundles embed build/core.wasm
//   node scripts/build.mjs --debug-only debug core only, bundles embed build/core.debug.wasm
import { execFileSync } from "node:child_process";
import { mkdirSync, existsSync, readdirSync, copyFileSync } from "node:fs";
import { resolve } from "node:path";
const asc = "node_modules/.bin/asc";
mkdirSync("build", { recursive: true });
const debugOnly = process.argv.includes("--debug-only");
const targets = debugOnly ? ["debug"] : ["release", "debug"];
for (const t of targets) execFileSync(asc, ["assembly/index.ts", "--target", t], { stdio: "inherit" });
// Per-vCPU state save/load (SMP): generated from the compiled module (scripts/cpu-state-pass.mjs).
{
  const { addCpuState } = await import("./cpu-state-pass.mjs");
  const { readFileSync, writeFileSync } = await import("node:fs");
  for (const t of targets) {
    const f = t === "release" ? "build/core.wasm" : "build/core.debug.wasm";
    writeFileSync(f, addCpuState(readFileSync(f)).bytes);
  }
}

// ---- host bundles (esbuild) ----
const esbuild = await import("esbuild");
const coreWasm = resolve(debugOnly ? "build/core.debug.wasm" : "build/core.wasm");
// The demo image: the L1 hypervisor guests/bin/minivisor.elf (with l2-hello and l2-count as its
// modules), else guests/bin/demo.elf, else any guests/bin/*.elf, else none (empty bytes).
const demoL2 = ["l2-hello", "l2-count"].map((n) => resolve(`guests/bin/${n}.elf`));
const demoIsL1 = existsSync("guests/bin/minivisor.elf") && demoL2.every((f) => existsSync(f));
function findDemo() {
  if (demoIsL1) return resolve("guests/bin/minivisor.elf");
  if (existsSync("guests/bin/demo.elf")) return resolve("guests/bin/demo.elf");
  if (existsSync("guests/bin")) {
    const elf = readdirSync("guests/bin").filter((f) => f.endsWith(".elf")).sort()[0];
    if (elf) return resolve("guests/bin", elf);
  }
  return null;
}
const demo = findDemo();
const nestvmModules = {
  name: "nestvm-modules",
  setup(b) {
    b.onResolve({ filter: /^nestvm-core\.wasm$/ }, () => ({ path: coreWasm }));
    b.onResolve({ filter: /^nestvm-demo\.bin$/ }, () => (demo ? { path: demo } : { path: "empty-demo", namespace: "nestvm-empty" }));
    b.onResolve({ filter: /^nestvm-demo-l2[ab]\.bin$/ }, (args) => (demoIsL1
      ? { path: demoL2[args.path.includes("l2a") ? 0 : 1] }
      : { path: `empty-${args.path}`, namespace: "nestvm-empty" }));
    b.onLoad({ filter: /.*/, namespace: "nestvm-empty" }, () => ({ contents: "export default new Uint8Array(0);", loader: "js" }));
    b.onLoad({ filter: /\.(wasm|elf|bin)$/ }, async (args) => ({ contents: (await import("node:fs")).readFileSync(args.path), loader: "binary" }));
  },
};
const common = { bundle: true, target: "es2022", plugins: [nestvmModules], logLevel: "warning", legalComments: "none" };
await esbuild.build({ ...common, entryPoints: ["host/index.ts"], outfile: "build/host.mjs", format: "esm", platform: "neutral" });
await esbuild.build({ ...common, entryPoints: ["host/index.ts"], outfile: "build/nestvm.iife.js", format: "iife", globalName: "nestvm", platform: "browser" });
await esbuild.build({
  ...common, entryPoints: ["host/cli/main.ts"], outfile: "build/nestvm.mjs", format: "esm", platform: "node",
  banner: { js: "#!/usr/bin/env node" },
});
mkdirSync("build/web", { recursive: true });
await esbuild.build({ ...common, entryPoints: ["host/web/main.ts"], outfile: "build/web/demo.js", format: "iife", platform: "browser" });
copyFileSync("host/web/index.html", "build/web/index.html");
execFileSync("chmod", ["+x", "build/nestvm.mjs"]);
if (!demo) console.warn("build: no guests/bin/*.elf yet; `nestvm demo` and the web page have no demo image");

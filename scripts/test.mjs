// `npm test`: every test that needs nothing beyond Node and npm.
// as-pect specs for the wasm core first, then node:test for host, e2e and guest images.
// The node:test summary is the closing output (CI reads it).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

let failed = false;
if (existsSync("as-pect.config.js")) {
  const args = ["--config", "as-pect.config.js"];
  if (existsSync("as-pect.asconfig.json")) args.push("--as-config", "as-pect.asconfig.json");
  const r = spawnSync("node_modules/.bin/asp", args, { stdio: "inherit" });
  if (r.status !== 0) { console.error("as-pect specs failed"); failed = true; }
}
const files = [];
for (const dir of ["tests/host", "tests/e2e", "tests/guests"]) {
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) if (f.endsWith(".test.mjs")) files.push(join(dir, f));
}
if (files.length) {
  const r = spawnSync(process.execPath, ["--test", "--test-reporter=spec", ...files], { stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

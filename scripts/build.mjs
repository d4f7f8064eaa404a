// Build: wasm core (release + debug), then the host bundles.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
const asc = "node_modules/.bin/asc";
mkdirSync("build", { recursive: true });
const targets = process.argv.includes("--debug-only") ? ["debug"] : ["release", "debug"];
for (const t of targets) execFileSync(asc, ["assembly/index.ts", "--target", t], { stdio: "inherit" });

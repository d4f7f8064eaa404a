// Deno check: DENO_NO_UPDATE_CHECK=1 npx -y deno@2.9.6 run -A tests/platform/deno.mjs
// (run from the repository root after `node scripts/build.mjs`). Exits non-zero on failure.
// Plain `node tests/platform/deno.mjs` re-runs itself under Deno.
const isDeno = typeof globalThis.Deno !== "undefined";
if (!isDeno) {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync("npx", ["-y", "deno@2.9.6", "run", "-A", new URL(import.meta.url).pathname], {
    stdio: "inherit", env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
  });
  process.exit(r.status ?? 1);
}
const nestvm = await import("../../build/host.mjs");
const { platformCheck } = await import("./check.mjs");
// The same demo image the build embeds: guests/bin/demo.elf, else the first guests/bin/*.elf.
let demo = null;
try {
  const bin = new URL("../../guests/bin/", import.meta.url);
  const names = [];
  for await (const e of Deno.readDir(bin)) if (e.name.endsWith(".elf")) names.push(e.name);
  names.sort();
  const pick = names.includes("demo.elf") ? "demo.elf" : names[0];
  if (pick) demo = await Deno.readFile(new URL(pick, bin));
} catch { /* no guests built */ }
const fails = await platformCheck(nestvm, demo, (s) => console.log(s));
console.log(fails.length ? `deno: ${fails.length} check(s) failed` : "deno: all checks passed");
Deno.exit(fails.length ? 1 : 0);

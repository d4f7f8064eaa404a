// TLB hit-path micro-benchmark: ns per access for readLin variants vs. a plain load loop.
// Usage: node scripts/bench-mmu.mjs   (builds build/mmu-bench.wasm with -O3 first)
import { bareEnv } from "./bare-env.mjs";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
mkdirSync("build", { recursive: true });
execFileSync("node_modules/.bin/asc", ["tests/as/bench/mmu-bench.ts", "-O3", "--converge", "--noAssert",
  "--runtime", "stub", "-o", "build/mmu-bench.wasm"], { stdio: "inherit" });
const env = bareEnv();
const { instance } = await WebAssembly.instantiate(readFileSync("build/mmu-bench.wasm"), { env });
const x = instance.exports;
x.setup();
const N = 1_000_000, SLICES = 5;
// Best of 5 rounds (the machine is shared: the minimum is the least disturbed figure).
function time(name, f) {
  for (let i = 0; i < 3; i++) f(N);           // warm-up / tier-up
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < SLICES; i++) f(N);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / (N * SLICES));
  }
  return [name, best];
}
const rows = [time("baseline load<u32>", x.baseline), time("readLin32", x.read32), time("readLin(lin,4)", x.readGeneric),
  time("readLin64, 64 pages", x.read64Pages), time("writeLin32", x.write32), time("readMem(DS,off,4)", x.readMemDs)];
const base = rows[0][1];
for (const [n, ns] of rows) console.log(`${n.padEnd(22)} ${ns.toFixed(2)} ns/access  (${(ns / base).toFixed(1)}x baseline)`);

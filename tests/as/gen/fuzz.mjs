// Robustness check: random byte sequences (biased to prefixes) in 64-bit, 32-bit and real mode
// must never trap the wasm core or throw. Usage: node tests/as/gen/fuzz.mjs [build/core.wasm]
import { bareEnv } from "../../../scripts/bare-env.mjs";
import { readFileSync } from "node:fs";
const env = bareEnv();
const { instance } = await WebAssembly.instantiate(readFileSync(process.argv[2] ?? "build/core.debug.wasm"), { env });
const x = instance.exports;
const ram = x.init(4 << 20);
let seed = 12345;
function rnd() { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; }
const ops = [0x0f, 0x66, 0x67, 0x48, 0x41, 0xf3, 0xf2, 0xf0];
let traps = 0;
for (let it = 0; it < 30000; it++) {
  x.reset();
  const mode = it % 3;
  if (mode === 0) {
    const m = new DataView(x.memory.buffer);
    m.setBigUint64(ram + 0x1000, 0x2003n, true); m.setBigUint64(ram + 0x2000, 0x3003n, true);
    m.setBigUint64(ram + 0x3000, 0x83n, true);
    x.setCr(3, 0x1000n); x.setCr(4, 0x20n); x.setCr(0xc0000080, 0x500n); x.setCr(0, 0x80000011n);
    x.setSegment(1, 8, 0n, 0xffffffff, 0xa09b);
    for (const s of [0, 2, 3, 4, 5]) x.setSegment(s, 0x10, 0n, 0xffffffff, 0xc093);
  } else if (mode === 1) {
    x.setCr(0, 0x11n);
    x.setSegment(1, 8, 0n, 0xffffffff, 0xc09b);
    for (const s of [0, 2, 3, 4, 5]) x.setSegment(s, 0x10, 0n, 0xffffffff, 0xc093);
  } else {
    x.setSegment(1, 0x1000, 0x10000n, 0xffff, 0x9b);
  }
  const b = new Uint8Array(x.memory.buffer, ram + 0x10000, 64);
  for (let i = 0; i < 64; i++) b[i] = (rnd() & 3) === 0 ? ops[rnd() % ops.length] : rnd() & 0xff;
  for (let r = 0; r < 16; r++) x.setReg(r, BigInt(rnd()) * BigInt(rnd()) * (r === 1 ? 1n : 97n));
  x.setReg(4, 0x80000n);
  x.setRip(mode === 2 ? 0n : 0x10000n);
  try { x.run(20); } catch (e) { traps++; if (traps < 10) console.log("trap", it, mode, Array.from(b.slice(0, 16)).map(v => v.toString(16)).join(" "), e.message); }
}
console.log("traps:", traps);

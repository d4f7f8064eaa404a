// Differential check: native oracle output (gen) vs the wasm core.
import { bareEnv } from "../../scripts/bare-env.mjs";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
const wasm = readFileSync(new URL("../../build/core.debug.wasm", import.meta.url));
const { instance } = await WebAssembly.instantiate(wasm, { env: bareEnv() });
const E = instance.exports;
const base = E.init(1 << 20);
const mem = () => new DataView(E.memory.buffer);
const [ins, kind, count, seed, checkFlags] = process.argv.slice(2);
const lines = execFileSync(process.env.GEN || "/tmp/sse-oracle-gen", [ins, kind, count, seed]).toString().trim().split("\n");
const insB = ins.match(/../g).map(h => parseInt(h, 16));
const mmx = "mMD".includes(kind);
// MMX: movq mm0,[0x20010]; movq mm1,[0x20020]; ins; movq [0x20030],mm0; movq [0x20040],mm1; emms
const premm = mmx ? [0x0f,0x6f,0x04,0x25,0x10,0x00,0x02,0x00, 0x0f,0x6f,0x0c,0x25,0x20,0x00,0x02,0x00] : [];
const postmm = mmx ? [0x0f,0x7f,0x04,0x25,0x30,0x00,0x02,0x00, 0x0f,0x7f,0x0c,0x25,0x40,0x00,0x02,0x00, 0x0f,0x77] : [];
const code = [0x0f,0xae,0x14,0x25,0x00,0x00,0x02,0x00, ...premm, ...insB, ...postmm, 0x0f,0xae,0x1c,0x25,0x04,0x00,0x02,0x00, 0xf4];
// #XM / #UD handler (UNMASK mode): stmxcsr [0x20004]; hlt
const handler = [0x0f,0xae,0x1c,0x25,0x04,0x00,0x02,0x00, 0xf4];
const nIns = (mmx ? 8 : 3) + Number(process.env.EXTRA || 0);
let bad = 0;
for (const ln of lines) {
  const f = ln.split(" ");
  const h = (s) => BigInt("0x" + s);
  const mxin = parseInt(f[0], 16);
  E.reset();
  const dv = mem();
  // identity page tables for 64-bit mode
  dv.setBigUint64(base + 0x1000, 0x2003n, true); dv.setBigUint64(base + 0x2000, 0x3003n, true); dv.setBigUint64(base + 0x3000, 0x83n, true);
  E.setCr(3, 0x1000n); E.setCr(4, 0x20n | 0x200n | 0x400n | 0x40000n); E.setCr(0xc0000080, 0x500n);
  E.setCr(0, 0x80000031n);
  E.setSegment(1, 8, 0n, 0xffffffff, 0xa09b);
  for (const s of [0, 2, 3, 4, 5]) E.setSegment(s, 16, 0n, 0xffffffff, 0xc093);
  code.forEach((b, i) => dv.setUint8(base + 0x10000 + i, b));
  handler.forEach((b, i) => dv.setUint8(base + 0x11000 + i, b));
  // GDT: null, 64-bit code (8), data (16); IDT gates for #UD (6) and #XM (19) -> 0x11000.
  dv.setBigUint64(base + 0x5000, 0n, true); dv.setBigUint64(base + 0x5008, 0x00af9b000000ffffn, true);
  dv.setBigUint64(base + 0x5010, 0x00cf93000000ffffn, true);
  for (const v of [6, 19]) {
    const g = base + 0x6000 + v * 16;
    dv.setUint16(g, 0x1000, true); dv.setUint16(g + 2, 8, true); dv.setUint16(g + 4, 0x8e00, true);
    dv.setUint16(g + 6, 0x0001, true); dv.setUint32(g + 8, 0, true); dv.setUint32(g + 12, 0, true);
  }
  E.setGdt(0x5000n, 0x17); E.setIdt(0x6000n, 0xfff);
  E.setReg(4, 0x9000n);
  dv.setUint32(base + 0x20000, mxin, true);
  const xp = E.xmmPtr();
  dv.setBigUint64(xp, h(f[1]), true); dv.setBigUint64(xp + 8, h(f[2]), true);
  dv.setBigUint64(xp + 16, h(f[3]), true); dv.setBigUint64(xp + 24, h(f[4]), true);
  E.setReg(0, h(f[5]));
  if (mmx) { dv.setBigUint64(base + 0x20010, h(f[1]), true); dv.setBigUint64(base + 0x20020, h(f[3]), true); }
  E.setRip(0x10000n);
  E.setFlags(2n);
  const rc0 = E.run(nIns + 8);
  const faulted = E.getRip() === 0x11009n;
  const rc = rc0 === 1 ? 0 : 99; if (process.env.DBG) console.log("rip", E.getRip().toString(16), "len", code.length);
  const d2 = mem();
  if (mmx) { d2.setBigUint64(xp, d2.getBigUint64(base + 0x20030, true), true); d2.setBigUint64(xp + 16, d2.getBigUint64(base + 0x20040, true), true); }
  const got = [d2.getUint32(base + 0x20004, true).toString(16), d2.getBigUint64(xp, true), d2.getBigUint64(xp + 8, true), BigInt.asUintN(64, E.getReg(0)),
    E.getFlags() & 0x8d5n, d2.getBigUint64(xp + 16, true), d2.getBigUint64(xp + 24, true)];
  const exp = [f[6], h(f[7]), h(f[8]), h(f[9]), h(f[10]), h(f[11]), h(f[12])];
  let ok = rc === 0 && got[0] === exp[0] && got[1] === exp[1] && got[2] === exp[2] && got[3] === exp[3] && got[5] === exp[5] && got[6] === exp[6];
  if (checkFlags && got[4] !== exp[4] && f[13] !== "1") ok = false;
  if ((f[13] === "1") !== faulted) ok = false;
  if (!ok) {
    bad++;
    if (bad <= 6) console.log(`MISMATCH rc=${rc} in: mx=${f[0]} x0=${f[2]}:${f[1]} x1=${f[4]}:${f[3]} rax=${f[5]}\n  exp mx=${exp[0]} x0=${exp[2].toString(16)}:${exp[1].toString(16)} rax=${exp[3].toString(16)} fl=${exp[4].toString(16)}\n  got mx=${got[0]} x0=${got[2].toString(16)}:${got[1].toString(16)} rax=${got[3].toString(16)} fl=${got[4].toString(16)}`);
  }
}
console.log(`${ins}: ${lines.length - bad}/${lines.length} ok`);

// Native side of the differential test: builds tests/diff/native.c and runs case batches.
import { spawnSync, execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DATA_SIZE } from "./gen.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const nativeBin = join(root, "build/diff-native");
export function ensureNative() {
  const src = join(here, "native.c");
  if (!existsSync(nativeBin) || statSync(nativeBin).mtimeMs < statSync(src).mtimeMs)
    execFileSync("bash", [join(here, "build.sh"), nativeBin], { stdio: "inherit" });
}

function serialize(cases) {
  let size = 8;
  for (const c of cases) size += 16 + ((c.code.length + 7) & ~7) + 136 + 256 + 8 + c.patches.length * 8;
  const buf = Buffer.alloc(size);
  let p = 0;
  buf.writeUInt32LE(0x31464944, 0); buf.writeUInt32LE(cases.length, 4); p = 8;
  for (const c of cases) {
    buf.writeUInt32LE(c.code.length, p); buf.writeUInt32LE(c.fillSeed >>> 0, p + 4);
    buf.writeUInt32LE(c.patches.length, p + 8); p += 16;
    buf.set(c.code, p); p += (c.code.length + 7) & ~7;
    for (let i = 0; i < 16; i++) { buf.writeBigUInt64LE(c.gpr[i], p); p += 8; }
    buf.writeBigUInt64LE(BigInt(c.rflags), p); p += 8;
    buf.set(c.xmm, p); p += 256;
    buf.writeUInt32LE(c.mxcsr >>> 0, p); p += 8;
    for (const [w, v] of c.patches) { buf.writeUInt32LE(w, p); buf.writeUInt32LE(v, p + 4); p += 8; }
  }
  return buf;
}

export function runNative(cases) {
  const out = [];
  const CHUNK = 20000;
  for (let s = 0; s < cases.length; s += CHUNK) {
    const part = cases.slice(s, s + CHUNK);
    const r = spawnSync(nativeBin, [], { input: serialize(part), maxBuffer: 1 << 30 });
    if (r.status !== 0) throw new Error(`native executor failed (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
    const b = r.stdout;
    let p = 0;
    for (let i = 0; i < part.length; i++) {
      if (p + 432 > b.length) throw new Error("native output truncated");
      const res = {
        status: b.readUInt32LE(p), vector: b.readUInt32LE(p + 4), err: b.readUInt32LE(p + 8),
        faultAddr: b.readBigUInt64LE(p + 16), gpr: [], rip: b.readBigUInt64LE(p + 152),
        rflags: b.readBigUInt64LE(p + 160), xmm: b.subarray(p + 168, p + 424), mxcsr: b.readUInt32LE(p + 424),
      };
      for (let j = 0; j < 16; j++) res.gpr.push(b.readBigUInt64LE(p + 24 + j * 8));
      const nd = b.readUInt32LE(p + 12);
      p += 432;
      res.diffs = new Map();
      for (let j = 0; j < nd; j++) res.diffs.set(b.readUInt32LE(p + j * 8), b.readUInt32LE(p + j * 8 + 4));
      p += nd * 8;
      out.push(res);
    }
  }
  return out;
}

// xorshift32, identical to native.c.
export function fill(arr, at, n, x) {
  if (x === 0) x = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    arr[at + i] = x;
  }
}
export function initialData(c) {
  const a = new Uint32Array(DATA_SIZE / 4);
  fill(a, 0, a.length, c.fillSeed >>> 0);
  for (const [w, v] of c.patches) if (w < a.length) a[w] = v;
  return a;
}

// ---------------------------------------------------------------- self-test of the oracle
// Hand-computed expectations for a few cases, so a broken native executor (or a broken
// protocol) cannot pass as "the real CPU says so". Run before every differential run.
export function nativeSelfTest(verbose = false) {
  const CODE = 0x10000000, BASE = 0x20001000, STACK = 0x20001800;
  const mk = (code, over = {}) => {
    const gpr = [];
    for (let i = 0; i < 16; i++) gpr.push(0x1111111111111111n * BigInt(i + 1) & 0xffffffffffffffffn);
    gpr[4] = BigInt(STACK); gpr[15] = BigInt(BASE);
    const xmm = new Uint8Array(256);
    for (let i = 0; i < 256; i++) xmm[i] = (i * 7 + 3) & 0xff;
    const c = { code: Uint8Array.from(code), gpr, rflags: 0x202, xmm, mxcsr: 0x1f80, fillSeed: 12345, patches: [], ...over };
    if (over.regs) for (const [r, v] of Object.entries(over.regs)) c.gpr[r] = BigInt.asUintN(64, BigInt(v));
    return c;
  };
  const f32 = (x) => { const b = Buffer.alloc(4); b.writeFloatLE(x); return [...b]; };
  const xmmWith = (lanes) => { const x = new Uint8Array(256); lanes.forEach(([r, bytes]) => x.set(bytes, r * 16)); return x; };
  const cases = [
    mk([]),                                                                 // 0 identity
    mk([0x48, 0x01, 0xd8], { regs: { 0: 0x7fffffffffffffffn, 3: 1n } }),     // 1 add rax, rbx
    mk([0x49, 0x89, 0x07], { regs: { 0: 0x0123456789abcdefn } }),            // 2 mov [r15], rax
    mk([0x48, 0xf7, 0xf1], { regs: { 1: 0n } }),                            // 3 div rcx (0): #DE
    mk([0x0f, 0x0b]),                                                       // 4 ud2: #UD
    mk([0x41, 0x0f, 0x28, 0x47, 0x01]),                                     // 5 movaps xmm0, [r15+1]: #GP(0)
    mk([0x49, 0x8b, 0x87, 0x00, 0x20, 0x00, 0x00]),                         // 6 mov rax, [r15+0x2000]: #PF
    mk([0x66, 0x0f, 0xfe, 0xc1], { xmm: xmmWith([[0, [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80, 5, 0, 0, 0]], [1, [2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x80, 7, 0, 0, 0]]]) }), // 7 paddd
    mk([0xf3, 0x0f, 0x51, 0xc0], { xmm: xmmWith([[0, [...f32(-1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]) }), // 8 sqrtss -1 masked
    mk([0xf3, 0x0f, 0x51, 0xc0], { mxcsr: 0x1f00, xmm: xmmWith([[0, [...f32(-1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]]) }), // 9 unmasked: #XM
    mk([0xfd], { rflags: 0x202 | 0x1 }),                                    // 10 std
    mk([0xeb, 0x01, 0xf4, 0x90]),                                           // 11 jmp over hlt
    mk([0x48, 0x8b, 0x05, 0xf9, 0x07, 0x00, 0x00]),                         // 12 mov rax, [rip+0x7f9] = [CODE+0x800]
    mk([0x50], { regs: { 0: 0xdeadbeefcafef00dn } }),                       // 13 push rax
    mk([0x48, 0x0f, 0xbc, 0xc1], { regs: { 0: 0x1122334455667788n, 1: 0n } }), // 14 bsf rax, rcx (0)
    mk([0x0f, 0xbc, 0xc1], { regs: { 0: 0x1122334455667788n, 1: 0n } }),   // 15 bsf eax, ecx (0)
  ];
  const r = runNative(cases);
  const errs = [];
  const eq = (i, what, got, want) => { if (got !== want) errs.push(`case ${i} ${what}: got ${typeof got === "bigint" ? "0x" + got.toString(16) : got}, want ${typeof want === "bigint" ? "0x" + want.toString(16) : want}`); };
  // 0: nothing changes
  eq(0, "status", r[0].status, 0); eq(0, "rip", r[0].rip, BigInt(CODE));
  for (let i = 0; i < 16; i++) eq(0, "gpr" + i, r[0].gpr[i], cases[0].gpr[i]);
  eq(0, "rflags", r[0].rflags & 0xfd5n, 0x202n & 0xfd5n); eq(0, "mxcsr", r[0].mxcsr, 0x1f80);
  eq(0, "xmm", Buffer.compare(Buffer.from(r[0].xmm), Buffer.from(cases[0].xmm)), 0); eq(0, "diffs", r[0].diffs.size, 0);
  // 1: 0x7fff..ff + 1 = 0x8000..00: OF SF AF PF set, ZF CF clear
  eq(1, "rax", r[1].gpr[0], 0x8000000000000000n); eq(1, "flags", r[1].rflags & 0x8d5n, 0x894n); eq(1, "rip", r[1].rip, BigInt(CODE + 3));
  // 2: two words at buffer offset 0x1000
  eq(2, "diff lo", r[2].diffs.get(0x1000), 0x89abcdef); eq(2, "diff hi", r[2].diffs.get(0x1004), 0x01234567);
  eq(3, "vector", `${r[3].status}/${r[3].vector}`, "1/0"); eq(3, "rip", r[3].rip, BigInt(CODE));
  eq(4, "vector", `${r[4].status}/${r[4].vector}`, "1/6");
  eq(5, "vector", `${r[5].status}/${r[5].vector}/${r[5].err}`, "1/13/0");
  eq(6, "vector", `${r[6].status}/${r[6].vector}`, "1/14"); eq(6, "cr2", r[6].faultAddr, 0x20003000n);
  eq(6, "err P/W bits", r[6].err & 3, 0);
  const x7 = Buffer.from(r[7].xmm.subarray(0, 16)).toString("hex");
  // lanes: 1+2=3, 0xffffffff+1=0 (wraps), 0x80000000+0x80000000=0 (wraps), 5+7=12
  eq(7, "paddd", x7, "0300000000000000000000000c000000");
  const x8 = Buffer.from(r[8].xmm.subarray(0, 4)).readUInt32LE(0);
  eq(8, "sqrt(-1)", x8, 0xffc00000); eq(8, "mxcsr IE", r[8].mxcsr, 0x1f81);
  eq(9, "vector", `${r[9].status}/${r[9].vector}`, "1/19");
  eq(10, "DF CF", r[10].rflags & 0x401n, 0x401n);
  eq(11, "status", r[11].status, 0); eq(11, "rip", r[11].rip, BigInt(CODE + 4));
  const pat = new Uint32Array(2); fill(pat, 0, 2, (12345 ^ 0x5bd1e995) >>> 0);
  eq(12, "rip-relative read", r[12].gpr[0], BigInt(pat[0]) | (BigInt(pat[1]) << 32n));
  eq(13, "rsp", r[13].gpr[4], BigInt(STACK - 8)); eq(13, "stack lo", r[13].diffs.get(0x17f8), 0xcafef00d);
  eq(13, "stack hi", r[13].diffs.get(0x17fc), 0xdeadbeef);
  // 14/15: BSF with a zero source sets ZF; the destination is what this CPU does (reported).
  eq(14, "ZF", r[14].rflags & 0x40n, 0x40n);
  if (verbose) {
    console.log(`bsf rax, rcx(0): rax 0x1122334455667788 -> 0x${r[14].gpr[0].toString(16)}`);
    console.log(`bsf eax, ecx(0): rax 0x1122334455667788 -> 0x${r[15].gpr[0].toString(16)}`);
  }
  if (errs.length) throw new Error("native self-test failed:\n  " + errs.join("\n  "));
  return cases.length;
}

// Rough interpreter speed: runs tight 64-bit integer loops through build/core.wasm and prints
// millions of guest instructions per second.
// Usage: node scripts/mips.mjs [seconds-per-loop] [--wasm core.wasm] [--only name-substring]
import { bareEnv } from "./bare-env.mjs";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const argv = process.argv.slice(2);
const opt = (k) => { const i = argv.indexOf(k); if (i < 0) return null; const v = argv[i + 1]; argv.splice(i, 2); return v; };
const wasmPath = opt("--wasm") ?? "build/core.wasm";
const only = opt("--only");
const secs = Number(argv[0] ?? 1);
const env = bareEnv();
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { env });
const x = instance.exports;
const ram = x.init(16 << 20);

const tmpO = `/tmp/mips-${process.pid}.o`, tmpBin = `/tmp/mips-${process.pid}.bin`;
// GNU as is available on the dev machines; the loops are assembled here.
function asm(src, bits = 64) {
  const s = `.intel_syntax noprefix\n.code${bits}\n${src.split(";").join("\n")}\n`;
  execFileSync("as", [bits === 64 ? "--64" : "--32", "-o", tmpO, "-"], { input: s });
  execFileSync("objcopy", ["-O", "binary", "-j", ".text", tmpO, tmpBin]);
  return readFileSync(tmpBin);
}

function longMode() {
  const m = new DataView(x.memory.buffer);
  m.setBigUint64(ram + 0x1000, 0x2003n, true);
  m.setBigUint64(ram + 0x2000, 0x3003n, true);
  for (let i = 0; i < 8; i++) m.setBigUint64(ram + 0x3000 + i * 8, (BigInt(i) << 21n) | 0x83n, true);
  x.setCr(3, 0x1000n); x.setCr(4, 0x20n); x.setCr(0xc0000080, 0x500n); x.setCr(0, 0x80000011n);
  x.setSegment(1, 8, 0n, 0xffffffff, 0xa09b);
  for (const s of [0, 2, 3, 4, 5]) x.setSegment(s, 0x10, 0n, 0xffffffff, 0xc093);
}

// Flat 32-bit protected mode, paging off.
function protMode32() {
  x.setCr(0, 0x11n);
  x.setSegment(1, 8, 0n, 0xffffffff, 0xc09b);
  for (const s of [0, 2, 3, 4, 5]) x.setSegment(s, 0x10, 0n, 0xffffffff, 0xc093);
}

const loops = {
  "alu32 (no REX)": "mov esi, -1; 1: add eax, 1; xor edx, eax; mov ebx, edx; shl ebx, 3; sub ebx, ecx; and edi, ebx; sub esi, 1; jnz 1b",
  "alu+branch": "mov rsi, -1; 1: add rax, 1; xor rdx, rax; mov r8, rdx; shl r8, 3; sub r8, rcx; and r9, r8; sub rsi, 1; jnz 1b",
  "load/store": "mov rbx, 0x100000; mov rsi, -1; 1: mov [rbx+8], rax; add rax, [rbx+8]; inc qword ptr [rbx]; dec rsi; jnz 1b",
  "call/ret+push": "mov rsi, -1; 1: call 2f; push rax; pop rcx; dec rsi; jnz 1b; 2: ret",
  "shift/mul/movzx": "mov rbx, 0x100000; mov rsi, -1; 1: shr eax, 1; imul rdx, rax; movzx ecx, byte ptr [rbx]; sar rdx, 3; cmovz eax, ecx; dec rsi; jnz 1b",
  "nop": "mov rsi, -1; 1: nop; nop; nop; nop; nop; nop; dec rsi; jnz 1b",
  "pm32 alu+stack": "mov esi, -1; mov ebx, 0x100000; 1: add eax, 1; xor edx, eax; mov [ebx+4], edx; push eax; pop ecx; inc edi; dec esi; jnz 1b",
};
for (const [name, src] of Object.entries(loops)) {
  if (only && !name.includes(only)) continue;
  x.reset();
  const pm32 = name.startsWith("pm32");
  if (pm32) protMode32(); else longMode();
  const code = asm(src, pm32 ? 32 : 64);
  new Uint8Array(x.memory.buffer, ram + 0x10000, code.length).set(code);
  x.setRip(0x10000n);
  x.setReg(4, 0x80000n);
  const slice = 1_000_000;
  let n = 0;
  for (let i = 0; i < 20; i++) x.run(slice);       // warm up
  // CPU time of this process, not wall time: the dev machines are shared and often loaded.
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t;
  do { for (let i = 0; i < 10; i++) { if (x.run(slice) !== 0) throw new Error(`stopped at ${x.getRip()}`); n += slice; } t = performance.now(); }
  while (t - t0 < secs * 1000);
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  console.log(`${name.padEnd(16)} ${(n / (cpuMs * 1000)).toFixed(1)} MIPS (cpu time), ${(n / ((t - t0) * 1000)).toFixed(1)} MIPS (wall)`);
}

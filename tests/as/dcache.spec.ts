// The decoded-block cache (cpu/dcache.ts) under everything that can change code: a store into
// the running block (RMW, byte/dword stores, a push with RSP inside the code), a write through
// an alias mapping, a host (DMA-like) write between slices, a remapped code page, the same bytes
// in another mode, and blocks cut at the 64-byte / 16-instruction limits. Each case runs
// through runSlice (hot path + cache) and asserts concrete register values; the cases that loop
// also run once through step() alone (the full decoder) and must agree.
import { mode64, mode32, poke, R, setR, CODE, RAX, RCX, RSP, ramPtr } from "./harness";
import * as S from "../../assembly/cpu/state";
import { step } from "../../assembly/cpu/exec";
import { runSlice } from "../../assembly/cpu/run";
import { faultPending, clearFault } from "../../assembly/cpu/fault";
import { invalidateFetch } from "../../assembly/cpu/decode";
import { tlbFlushPage } from "../../assembly/mmu/access";
import { dcEnable } from "../../assembly/cpu/dcache";

function hot(budget: u32 = 100000): u32 {
  S.setHalted(false);
  const r = runSlice(budget);
  return r;
}
function ref(): void {
  for (let i = 0; i < 100000 && !S.halted; i++) {
    step();
    if (faultPending) { clearFault(); break; }
  }
}
function load(at: u64, hex: string): void {
  poke(at, hex);
  invalidateFetch();
  S.rip = at;
  S.setHalted(false);
}
// Runs code at CODE through the hot path and the full decoder; returns RAX of the hot run
// after checking that RAX, RCX and RIP agree.
function both(hex: string, rax: u64, rcx: u64, m32: bool): u64 {
  if (m32) mode32(); else mode64();
  setR(RAX, rax); setR(RCX, rcx);
  load(CODE, hex);
  expect(hot()).toBe(1);  // HLT
  const a = R(RAX), c = R(RCX), ip = S.rip;
  if (m32) mode32(); else mode64();
  setR(RAX, rax); setR(RCX, rcx);
  load(CODE, hex);
  ref();
  expect(R(RAX)).toBe(a);
  expect(R(RCX)).toBe(c);
  expect(S.rip).toBe(ip);
  S.setHalted(false);
  return a;
}

describe("decoded-block cache: self-modifying code", () => {
  test("RMW of the next instruction's immediate (80 /0 [rip+d]) in the running block", () => {
    // mov ecx, 3; L: add byte [rip+2], 1 (-> imm of the next add); add eax, 1; dec ecx; jnz L; hlt
    // The imm grows 2, 3, 4 before each add: 9 (a stale decode would give 7).
    expect(both("b9 03 00 00 00 80 05 02 00 00 00 01 83 c0 01 ff c9 75 f2 f4", 0, 0, false)).toBe(9);
  });
  test("byte register store into the next instruction (88 /r [rip+d])", () => {
    // mov ecx, 3; L: mov [rip+2], cl; add eax, 0; dec ecx; jnz L; hlt: 3 + 2 + 1.
    expect(both("b9 03 00 00 00 88 0d 02 00 00 00 83 c0 00 ff c9 75 f3 f4", 0, 0, false)).toBe(6);
  });
  test("dword store into the next instruction (89 /r [rip+d]) and immediate store (c6)", () => {
    // mov ecx, 3; L: mov [rip+1], ecx; add eax, imm32; dec ecx; jnz L; hlt: 3 + 2 + 1.
    expect(both("b9 03 00 00 00 89 0d 01 00 00 00 05 00 00 00 00 ff c9 75 f1 f4", 0, 0, false)).toBe(6);
    // mov ecx, 3; L: mov byte [rip+2], 7; add eax, 0; dec ecx; jnz L; hlt: 7 each time = 21.
    expect(both("b9 03 00 00 00 c6 05 02 00 00 00 07 83 c0 00 ff c9 75 f2 f4", 0, 0, false)).toBe(21);
  });
  test("flat 32-bit mode: store to an absolute address inside the running block", () => {
    // mov ecx, 3; L: mov [CODE+13], cl; add eax, 0 (imm at CODE+13); dec ecx; jnz L; hlt
    expect(both("b9 03 00 00 00 88 0d 0d 00 01 00 83 c0 00 49 75 f4 f4", 0, 0, true)).toBe(6);
  });
  test("a push with RSP inside the code rewrites the next instructions", () => {
    mode64();
    // mov rsp, CODE+29; mov rax, 0x90909090f405c083 (bytes: add eax, 5; hlt); push rax
    // (writes CODE+21..28 = the next instructions); CODE+21..28: eight NOPs; CODE+29: hlt.
    // Run twice so the second pass has the block cached and the stack slot in the TLB.
    const code = "48 bc 1d 00 01 00 00 00 00 00 48 b8 83 c0 05 f4 90 90 90 90 50 90 90 90 90 90 90 90 90 f4";
    for (let pass = 0; pass < 2; pass++) {
      load(CODE, code);
      expect(hot()).toBe(1);
      expect(R(RAX)).toBe(0xf405c088);  // the pushed add eax, 5 ran (zero-extends RAX)
      expect(S.rip).toBe(CODE + 25);    // after the pushed HLT
    }
  });
  test("write through an alias mapping of the code page", () => {
    mode64();
    // 4 KiB pages: PD[2] -> PT at 0x4000; linear 0x400000 and 0x401000 both map frame 0x30000.
    const ram = ramPtr();
    store<u64>(ram + 0x3000 + 16, 0x4003);
    store<u64>(ram + 0x4000, 0x30063);      // P RW A D
    store<u64>(ram + 0x4008, 0x30063);
    tlbFlushPage(0x400000); tlbFlushPage(0x401000);
    // At linear 0x400000: mov ecx, 3; L: mov [0x401000+14], cl (via the alias, absolute
    // address through a SIB with no base); add eax, 0 (imm at +14); dec ecx; jnz L; hlt.
    poke(0x30000, "b9 03 00 00 00 88 0c 25 0e 10 40 00 83 c0 00 ff c9 75 f2 f4");
    invalidateFetch();
    S.rip = 0x400000;
    setR(RAX, 0);
    expect(hot()).toBe(1);
    expect(R(RAX)).toBe(6);
    expect(S.rip).toBe(0x400014);
  });
  test("host write between slices (like DMA) is seen by the next slice", () => {
    mode64();
    // L: add eax, 1; jmp L
    load(CODE, "83 c0 01 eb fb");
    setR(RAX, 0);
    expect(hot(100)).toBe(0);  // budget: 50 adds
    expect(R(RAX)).toBe(50);
    poke(CODE + 2, "02");      // no invalidateFetch: nothing tells the core
    expect(hot(100)).toBe(0);
    expect(R(RAX)).toBe(150);
  });
  test("remapped code page (PTE change + INVLPG) runs the new frame's bytes", () => {
    mode64();
    const ram = ramPtr();
    store<u64>(ram + 0x3000 + 16, 0x4003);
    store<u64>(ram + 0x4000, 0x30063);
    tlbFlushPage(0x400000);
    poke(0x30000, "83 c0 01 83 c0 01 f4");
    poke(0x31000, "83 c0 05 83 c0 05 f4");
    invalidateFetch();
    for (let i = 0; i < 2; i++) { S.rip = 0x400000; setR(RAX, 0); expect(hot()).toBe(1); expect(R(RAX)).toBe(2); }
    store<u64>(ram + 0x4000, 0x31063);
    tlbFlushPage(0x400000);
    S.rip = 0x400000; setR(RAX, 0);
    expect(hot()).toBe(1);
    expect(R(RAX)).toBe(10);
  });
  test("the same bytes in 64-bit and flat 32-bit mode decode differently", () => {
    // 48 05 01 00 00 00 = add rax, 1 (64-bit) / dec eax; add eax, 1 (32-bit). Loop twice.
    const code = "b9 02 00 00 00 48 05 01 00 00 00 ff c9 75 f6 f4";
    expect(both(code, 10, 0, false)).toBe(12);
    expect(both(code, 10, 0, true)).toBe(10);
    expect(both(code, 10, 0, false)).toBe(12);
  });
});

describe("decoded-block cache: block limits and budgets", () => {
  test("blocks cut at 64 bytes / 16 instructions, with a slow-path instruction at every offset", () => {
    // j one-byte NOPs, six 9-byte NOPs, mov ah, al (byte register: cpu/hot.ts path), add eax, 1, hlt.
    for (let j = 0; j < 12; j++) {
      let code = "";
      for (let i = 0; i < j; i++) code += "90 ";
      for (let i = 0; i < 6; i++) code += "66 0f 1f 84 00 00 00 00 00 ";
      code += "88 c4 83 c0 01 f4";
      mode64();
      setR(RAX, 0x1234);
      load(CODE, code);
      expect(hot()).toBe(1);
      expect(R(RAX)).toBe(0x3435);
      expect(S.rip).toBe(CODE + <u64>(j + 54 + 6));
    }
    // 20 instructions of 3 bytes: two blocks of 16 + 4.
    mode64();
    setR(RAX, 0);
    let code = "";
    for (let i = 0; i < 20; i++) code += "83 c0 01 ";
    load(CODE, code + "f4");
    expect(hot()).toBe(1);
    expect(R(RAX)).toBe(20);
  });
  test("the budget stops inside a block at the exact instruction", () => {
    mode64();
    setR(RAX, 0);
    load(CODE, "83 c0 01 83 c0 01 83 c0 01 83 c0 01 83 c0 01 f4");
    for (let i: u32 = 1; i <= 5; i++) {
      expect(hot(1)).toBe(0);
      expect(R(RAX)).toBe(<u64>i);
      expect(S.rip).toBe(CODE + <u64>(3 * i));
    }
    hot(1);
    expect(S.halted).toBe(true);  // HLT was the one instruction of that slice
    expect(S.rip).toBe(CODE + 16);
  });
  test("with the cache off the hot path still runs (dcEnable)", () => {
    dcEnable(false);
    expect(both("b9 03 00 00 00 80 05 02 00 00 00 01 83 c0 01 ff c9 75 f2 f4", 0, 0, false)).toBe(9);
    dcEnable(true);
    expect(both("b9 03 00 00 00 80 05 02 00 00 00 01 83 c0 01 ff c9 75 f2 f4", 0, 0, false)).toBe(9);
  });
});

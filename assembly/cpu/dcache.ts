// Decoded-instruction cache for the run loop's hot path (cpu/run.ts hotLoop).
//
// The cache holds decoded basic blocks: up to BLK_MAX_INSNS instructions and BLK_MAX_BYTES
// bytes, ending at a branch, at an instruction the cache does not handle itself (OP_SLOW: run
// by cpu/hot.ts hotStepAt) or 15 bytes before the end of the code page. Each instruction is a
// 16-byte record: handler number (`op`), length, register operands as byte offsets into the
// register file, the memory operand's shape, displacement and immediate. A block slot is keyed
// by the host address of its first byte and the mode (64-bit or flat 32-bit) and holds a copy
// of the block's bytes.
//
// Verify-on-use: the decoded form is a pure function of the bytes and the mode, so every entry
// into a block compares the copy with the bytes at the host address; a mismatch decodes the
// block again. Nothing outside has to invalidate anything: code written by another vCPU, by a
// DMA or host write (those only run between hot runs), through any alias mapping, or reached
// under other page tables, after a TLB flush, INVLPG, CR0/CR4 writes or a VMX transition
// either still has the recorded bytes (and decodes the same) or is decoded again. Inside a
// block, this vCPU's own stores are the only writers: every store handler first checks that
// it does not touch the running block's bytes (dcHb, dcLen) and otherwise returns NOT_HOT
// before any change, so the full decoder runs the store and the next entry re-verifies (a
// guest that rewrites its next instruction sees the new one, as on hardware, SDM Vol.3 11.6).
// Registers, flags, memory and permissions are read when an instruction executes, never cached.
//
// The slots live between the static data and guest RAM (index.ts init reserves DC_BYTES;
// dcInit sets their base), outside the per-vCPU save areas: all vCPUs share them, which
// verify-on-use makes safe. dcTab == 0 (not set up) disables the cache. Records can never
// direct an access outside the register file (offsets < 128 by construction); block bytes are
// only read inside the code page (blocks end 15 bytes before its end at the latest).
import { getReg64, setReg64, getReg32, setReg32, REGS, RAX, RSP, RCX } from "./state";
import * as F from "./flags";
import { setLazy, setLazyIncDec, LF_SUB, LF_LOGIC, LF_INC, LF_DEC } from "./flags";
import { faultPending, clearFault } from "./fault";
import { isCanonical } from "./segmem";
import { shiftOp, mulDivAcc, imulTrunc } from "./ops/int_alu";
import { NOT_HOT, hotStepCall, hotSse, tlbHit, alu, jcond, popAt, tgt, retNear, overLimit, ld, st } from "./hot";

export const DC_SLOTS_LOG2: u32 = 12;
const DC_SLOTS_MASK: usize = (1 << DC_SLOTS_LOG2) - 1;
const SLOT: usize = 384;
export const DC_BYTES: usize = SLOT << DC_SLOTS_LOG2;
const BLK_MAX_INSNS: u32 = 16;
const BLK_MAX_BYTES: u32 = 64;
// Slot layout.
const S_KEY: usize = 0;     // u64: host address | mode << 32 (mode 1 = 64-bit, 2 = flat 32-bit; 0 empty)
const S_LEN: usize = 8;     // u8: bytes in the block
const S_CNT: usize = 9;     // u8: instructions
const S_COPY: usize = 16;   // the block's bytes (64, zero-padded)
const S_RECS: usize = 80;   // records
const REC: usize = 16;

export let dcTab: usize = 0;  // base of the slots, 0 = off
// Sets up (and clears) the slots at base (64-byte aligned, DC_BYTES long).
export function dcInit(base: usize): void {
  dcTab = base;
  if (base != 0) memory.fill(base, 0, DC_BYTES);
}
// Turns the cache off / back on (tests and measurements); off runs cpu/hot.ts hotStepAt alone.
let dcSaved: usize = 0;
export function dcEnable(on: bool): void {
  if (!on && dcTab != 0) { dcSaved = dcTab; dcTab = 0; }
  else if (on && dcTab == 0 && dcSaved != 0) { dcTab = dcSaved; memory.fill(dcTab, 0, DC_BYTES); }
}
// The running block's host address and length, for the store handlers' self-modification check.
let dcHb: usize = 0;
let dcLen: usize = 0;
// True if a store of size bytes at host address m would touch the running block.
@inline function hitsBlock(m: usize, size: u32): bool {
  return m + <usize>size - 1 - dcHb < dcLen + <usize>size - 1;
}

// Record fields.
const R_OP: usize = 0, R_LEN: usize = 1, R_G: usize = 2, R_E: usize = 3, R_X: usize = 4, R_EF: usize = 5;
const R_K: usize = 6, R_LAST: usize = 7, R_DISP: usize = 8, R_IMM: usize = 12;  // R_LAST: 1 on a block's last record
// R_EF: bit 0 base register (R_E), bit 1 index register (R_X), bit 2 RIP-relative,
// bits 5:4 scale.
const EF_BASE: u32 = 1, EF_INDEX: u32 = 2, EF_RIP: u32 = 4;

const MASK0: usize = memory.data<u64>([0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffff, 0xffffffffffff, 0xffffffffffffff,
  0xffffffffffffffff]);

// Handlers.
const OP_NONE: u32 = 0;    // empty record: decode
const OP_SLOW: u32 = 1;    // not a cached shape: cpu/hot.ts hotStepAt (ends its block)
const OP_RR4: u32 = 2;     // ALU reg, reg: + kind (0-7, 8 = TEST); 32-bit
const OP_RR8: u32 = 11;    //   64-bit
const OP_RI4: u32 = 20;    // ALU reg, imm: + kind
const OP_RI8: u32 = 29;
const OP_MOVRR4: u32 = 38, OP_MOVRR8: u32 = 39;
const OP_MOVRI32: u32 = 40, OP_MOVRI32S: u32 = 41, OP_MOVRI64: u32 = 42;
const OP_LOAD4: u32 = 43, OP_LOAD8: u32 = 44, OP_STORE4: u32 = 45, OP_STORE8: u32 = 46;
const OP_LEA4: u32 = 47, OP_LEA8: u32 = 48;
const OP_MOVZXB: u32 = 49, OP_MOVZXW: u32 = 50;
const OP_STIMM1: u32 = 51, OP_STIMM4: u32 = 52, OP_STIMM8: u32 = 53;
const OP_MI1: u32 = 54, OP_MI4: u32 = 55, OP_MI8: u32 = 56;   // ALU [m], imm (kind in R_K)
const OP_RM4: u32 = 57, OP_RM8: u32 = 58;                     // ALU reg, [m]
const OP_MR4: u32 = 59, OP_MR8: u32 = 60;                    // ALU [m], reg
const OP_STREG1: u32 = 61;                                    // MOV [m], r8
const OP_JCC: u32 = 62, OP_JMP: u32 = 63, OP_CALL: u32 = 64, OP_RET: u32 = 65;
const OP_PUSH: u32 = 66, OP_POP: u32 = 67;
const OP_SHIFT4: u32 = 68, OP_SHIFT8: u32 = 69;
const OP_GRP3_4: u32 = 70, OP_GRP3_8: u32 = 71;
const OP_IMUL4: u32 = 72, OP_IMUL8: u32 = 73;
const OP_CMOV4: u32 = 74, OP_CMOV8: u32 = 75;
const OP_MOVSXD_R: u32 = 76, OP_MOVSXD_M: u32 = 77;
const OP_INCDEC4: u32 = 78, OP_INCDEC8: u32 = 79;
const OP_MOVZXB_R: u32 = 80, OP_SETCC_R: u32 = 81, OP_NOP: u32 = 82;
const OP_RR1: u32 = 83, OP_RI1: u32 = 84;   // byte ALU reg, reg / reg, imm8 (kind in R_K, 8 = TEST)
const OP_SSE: u32 = 85;                      // SSE2 shapes of cpu/hot.ts hotSse that do not store

@inline function rg(off: usize): u64 { return load<u64>(REGS + off); }
@inline function rg32(off: usize): u64 { return <u64>load<u32>(REGS + off); }
@inline function wg(off: usize, v: u64): void { store<u64>(REGS + off, v); }
@inline function wg32(off: usize, v: u64): void { store<u64>(REGS + off, v & 0xffffffff); }  // zero-extends

// Effective address of the record's memory operand (next: RIP after the instruction).
@inline function recEa(e: usize, next: u64, c32: bool): u64 {
  const ef = <u32>load<u8>(e + R_EF);
  let ea = <u64><i64>load<i32>(e + R_DISP);
  if ((ef & EF_BASE) != 0) ea += rg(<usize>load<u8>(e + R_E));
  if ((ef & EF_INDEX) != 0) ea += rg(<usize>load<u8>(e + R_X)) << <u64>(ef >> 4);
  if (c32) return ea & 0xffffffff;
  if ((ef & EF_RIP) != 0) ea += next;
  return ea;
}
// Host address of the memory operand for size bytes with permission bit pbit, or 0.
@inline function recMem(e: usize, next: u64, size: u32, pbit: u32, tag: u32, c32: bool): usize {
  const ea = recEa(e, next, c32);
  if (overLimit(ea, size, c32)) return 0;
  return tlbHit(ea, size, pbit, tag);
}

// ALU of kind k (8 = TEST) on reg, reg of size sz (constants after inlining).
@inline function aluRR(e: usize, next: u64, kind: u32, sz: u32): u64 {
  const d = <usize>load<u8>(e + R_G), s = <usize>load<u8>(e + R_E);
  const a = sz == 8 ? rg(d) : rg32(d);
  const c = sz == 8 ? rg(s) : rg32(s);
  if (kind == 8) { setLazy(LF_LOGIC, sz, a, c, a & c); return next; }
  const r = alu(kind, sz, a, c);
  if (kind != 7) { if (sz == 8) wg(d, r); else wg32(d, r); }
  return next;
}
@inline function aluRI(e: usize, next: u64, kind: u32, sz: u32): u64 {
  const d = <usize>load<u8>(e + R_G);
  const a = sz == 8 ? rg(d) : rg32(d);
  const c = <u64><i64>load<i32>(e + R_IMM);
  if (kind == 8) { setLazy(LF_LOGIC, sz, a, c, a & c); return next; }
  const r = alu(kind, sz, a, c);
  if (kind != 7) { if (sz == 8) wg(d, r); else wg32(d, r); }
  return next;
}

// Push of the near operand size (cpu/hot.ts pushN) that declines (false, nothing changed) a
// slot inside the running block.
@inline function pushChecked(v: u64, c32: bool, wr: u32, tag: u32): bool {
  if (c32) {
    const sp = (getReg64(RSP) - 4) & 0xffffffff;
    if (sp > 0xfffffffc) return false;
    const h = tlbHit(sp, 4, wr, tag);
    if (h == 0 || hitsBlock(h, 4)) return false;
    store<u32>(h, <u32>v);
    setReg32(RSP, <u32>sp);
    return true;
  }
  const sp = getReg64(RSP) - 8;
  const h = tlbHit(sp, 8, wr, tag);
  if (h == 0 || hitsBlock(h, 8)) return false;
  store<u64>(h, v);
  setReg64(RSP, sp);
  return true;
}
// Host address of a store to the memory operand, or 0 (TLB miss, no permission, over the
// limit, or inside the running block).
@inline function recStore(e: usize, next: u64, size: u32, wr: u32, tag: u32, c32: bool): usize {
  const m = recMem(e, next, size, wr, tag, c32);
  return m != 0 && hitsBlock(m, size) ? 0 : m;
}

// Executes the record e for the instruction at RIP r. Same contract as cpu/hot.ts
// hotStepAt: the next RIP, or NOT_HOT with nothing changed.
@inline function dcExec(e: usize, r: u64, bias: usize, rd: u32, wr: u32, tag: u32, sse: bool, c32: bool): u64 {
  const op = <u32>load<u8>(e + R_OP);
  const next = r + <u64>load<u8>(e + R_LEN);
  switch (op) {
    case OP_RR4 + 0: return aluRR(e, next, 0, 4);
    case OP_RR4 + 1: return aluRR(e, next, 1, 4);
    case OP_RR4 + 2: return aluRR(e, next, 2, 4);
    case OP_RR4 + 3: return aluRR(e, next, 3, 4);
    case OP_RR4 + 4: return aluRR(e, next, 4, 4);
    case OP_RR4 + 5: return aluRR(e, next, 5, 4);
    case OP_RR4 + 6: return aluRR(e, next, 6, 4);
    case OP_RR4 + 7: return aluRR(e, next, 7, 4);
    case OP_RR4 + 8: return aluRR(e, next, 8, 4);
    case OP_RR8 + 0: return aluRR(e, next, 0, 8);
    case OP_RR8 + 1: return aluRR(e, next, 1, 8);
    case OP_RR8 + 2: return aluRR(e, next, 2, 8);
    case OP_RR8 + 3: return aluRR(e, next, 3, 8);
    case OP_RR8 + 4: return aluRR(e, next, 4, 8);
    case OP_RR8 + 5: return aluRR(e, next, 5, 8);
    case OP_RR8 + 6: return aluRR(e, next, 6, 8);
    case OP_RR8 + 7: return aluRR(e, next, 7, 8);
    case OP_RR8 + 8: return aluRR(e, next, 8, 8);
    case OP_RI4 + 0: return aluRI(e, next, 0, 4);
    case OP_RI4 + 1: return aluRI(e, next, 1, 4);
    case OP_RI4 + 2: return aluRI(e, next, 2, 4);
    case OP_RI4 + 3: return aluRI(e, next, 3, 4);
    case OP_RI4 + 4: return aluRI(e, next, 4, 4);
    case OP_RI4 + 5: return aluRI(e, next, 5, 4);
    case OP_RI4 + 6: return aluRI(e, next, 6, 4);
    case OP_RI4 + 7: return aluRI(e, next, 7, 4);
    case OP_RI4 + 8: return aluRI(e, next, 8, 4);
    case OP_RI8 + 0: return aluRI(e, next, 0, 8);
    case OP_RI8 + 1: return aluRI(e, next, 1, 8);
    case OP_RI8 + 2: return aluRI(e, next, 2, 8);
    case OP_RI8 + 3: return aluRI(e, next, 3, 8);
    case OP_RI8 + 4: return aluRI(e, next, 4, 8);
    case OP_RI8 + 5: return aluRI(e, next, 5, 8);
    case OP_RI8 + 6: return aluRI(e, next, 6, 8);
    case OP_RI8 + 7: return aluRI(e, next, 7, 8);
    case OP_RI8 + 8: return aluRI(e, next, 8, 8);
    case OP_MOVRR4: wg32(<usize>load<u8>(e + R_G), rg32(<usize>load<u8>(e + R_E))); return next;
    case OP_MOVRR8: wg(<usize>load<u8>(e + R_G), rg(<usize>load<u8>(e + R_E))); return next;
    case OP_MOVRI32: wg(<usize>load<u8>(e + R_G), <u64>load<u32>(e + R_IMM)); return next;
    case OP_MOVRI32S: wg(<usize>load<u8>(e + R_G), <u64><i64>load<i32>(e + R_IMM)); return next;
    case OP_MOVRI64: wg(<usize>load<u8>(e + R_G), load<u64>(e + R_DISP)); return next;
    case OP_LOAD4: {
      const m = recMem(e, next, 4, rd, tag, c32);
      if (m == 0) return NOT_HOT;
      wg(<usize>load<u8>(e + R_G), <u64>load<u32>(m));
      return next;
    }
    case OP_LOAD8: {
      const m = recMem(e, next, 8, rd, tag, c32);
      if (m == 0) return NOT_HOT;
      wg(<usize>load<u8>(e + R_G), load<u64>(m));
      return next;
    }
    case OP_STORE4: {
      const m = recStore(e, next, 4, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u32>(m, load<u32>(REGS + <usize>load<u8>(e + R_G)));
      return next;
    }
    case OP_STORE8: {
      const m = recStore(e, next, 8, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u64>(m, rg(<usize>load<u8>(e + R_G)));
      return next;
    }
    case OP_LEA4: wg32(<usize>load<u8>(e + R_G), recEa(e, next, c32)); return next;
    case OP_LEA8: wg(<usize>load<u8>(e + R_G), recEa(e, next, c32)); return next;
    case OP_MOVZXB: {
      const m = recMem(e, next, 1, rd, tag, c32);
      if (m == 0) return NOT_HOT;
      wg(<usize>load<u8>(e + R_G), <u64>load<u8>(m));
      return next;
    }
    case OP_MOVZXW: {
      const m = recMem(e, next, 2, rd, tag, c32);
      if (m == 0) return NOT_HOT;
      wg(<usize>load<u8>(e + R_G), <u64>load<u16>(m));
      return next;
    }
    case OP_STIMM1: {
      const m = recStore(e, next, 1, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u8>(m, load<u8>(e + R_IMM));
      return next;
    }
    case OP_STIMM4: {
      const m = recStore(e, next, 4, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u32>(m, load<u32>(e + R_IMM));
      return next;
    }
    case OP_STIMM8: {
      const m = recStore(e, next, 8, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u64>(m, <u64><i64>load<i32>(e + R_IMM));
      return next;
    }
    case OP_MI1: return aluMI(e, next, 1, rd, wr, tag, c32);
    case OP_MI4: return aluMI(e, next, 4, rd, wr, tag, c32);
    case OP_MI8: return aluMI(e, next, 8, rd, wr, tag, c32);
    case OP_RM4: return aluRM(e, next, 4, rd, tag, c32);
    case OP_RM8: return aluRM(e, next, 8, rd, tag, c32);
    case OP_MR4: return aluMR(e, next, 4, rd, wr, tag, c32);
    case OP_MR8: return aluMR(e, next, 8, rd, wr, tag, c32);
    case OP_STREG1: {
      const m = recStore(e, next, 1, wr, tag, c32);
      if (m == 0) return NOT_HOT;
      store<u8>(m, load<u8>(REGS + <usize>load<u8>(e + R_G)));
      return next;
    }
    case OP_JCC:
      if (!jcond(<u32>load<u8>(e + R_K))) return next;
      return tgt(next + <u64><i64>load<i32>(e + R_DISP), c32);
    case OP_JMP: return tgt(next + <u64><i64>load<i32>(e + R_DISP), c32);
    case OP_CALL: {
      const x = tgt(next + <u64><i64>load<i32>(e + R_DISP), c32);
      if (x == NOT_HOT || !pushChecked(next, c32, wr, tag)) return NOT_HOT;
      return x;
    }
    case OP_RET: return retNear(c32, rd, tag);
    case OP_PUSH:
      return pushChecked(rg(<usize>load<u8>(e + R_G)), c32, wr, tag) ? next : NOT_HOT;
    case OP_POP: {
      const sp = c32 ? <u64>getReg32(RSP) : getReg64(RSP);
      const mh = popAt(sp, c32, rd, tag);
      if (mh == 0) return NOT_HOT;
      const g = <usize>load<u8>(e + R_G);
      if (c32) {
        const v = load<u32>(mh);
        setReg32(RSP, <u32>sp + 4);
        wg32(g, <u64>v);  // POP ESP: the popped value wins
      } else {
        const v = load<u64>(mh);
        setReg64(RSP, sp + 8);
        wg(g, v);
      }
      return next;
    }
    case OP_SHIFT4: return shiftR(e, next, 4);
    case OP_SHIFT8: return shiftR(e, next, 8);
    case OP_GRP3_4: return grp3R(e, next, 4);
    case OP_GRP3_8: return grp3R(e, next, 8);
    case OP_IMUL4: {
      const g = <usize>load<u8>(e + R_G);
      wg32(g, imulTrunc(4, rg32(g), rg32(<usize>load<u8>(e + R_E))));
      return next;
    }
    case OP_IMUL8: {
      const g = <usize>load<u8>(e + R_G);
      wg(g, imulTrunc(8, rg(g), rg(<usize>load<u8>(e + R_E))));
      return next;
    }
    case OP_CMOV4: {  // a 32-bit CMOV always zero-extends its destination
      const g = <usize>load<u8>(e + R_G);
      wg32(g, jcond(<u32>load<u8>(e + R_K)) ? rg(<usize>load<u8>(e + R_E)) : rg(g));
      return next;
    }
    case OP_CMOV8:
      if (jcond(<u32>load<u8>(e + R_K))) wg(<usize>load<u8>(e + R_G), rg(<usize>load<u8>(e + R_E)));
      return next;
    case OP_MOVSXD_R:
      wg(<usize>load<u8>(e + R_G), <u64><i64>load<i32>(REGS + <usize>load<u8>(e + R_E)));
      return next;
    case OP_MOVSXD_M: {
      const m = recMem(e, next, 4, rd, tag, c32);
      if (m == 0) return NOT_HOT;
      wg(<usize>load<u8>(e + R_G), <u64><i64>load<i32>(m));
      return next;
    }
    case OP_INCDEC4: case OP_INCDEC8: {
      const sz: u32 = op == OP_INCDEC8 ? 8 : 4;
      const g = <usize>load<u8>(e + R_G);
      const v = sz == 8 ? rg(g) : rg32(g);
      const inc = load<u8>(e + R_K) == 0;
      const res = inc ? v + 1 : v - 1;
      if (sz == 8) wg(g, res); else wg32(g, res);
      setLazyIncDec(inc ? LF_INC : LF_DEC, sz, v, res);
      return next;
    }
    case OP_MOVZXB_R:
      wg(<usize>load<u8>(e + R_G), <u64>load<u8>(REGS + <usize>load<u8>(e + R_E)));
      return next;
    case OP_SETCC_R:
      store<u8>(REGS + <usize>load<u8>(e + R_E), jcond(<u32>load<u8>(e + R_K)) ? 1 : 0);
      return next;
    case OP_NOP: return next;
    case OP_RR1: {
      const d = REGS + <usize>load<u8>(e + R_G);
      const kind = <u32>load<u8>(e + R_K);
      const a = <u64>load<u8>(d), c = <u64>load<u8>(REGS + <usize>load<u8>(e + R_E));
      if (kind == 8) { setLazy(LF_LOGIC, 1, a, c, a & c); return next; }
      const res = alu(kind, 1, a, c);
      if (kind != 7) store<u8>(d, <u8>res);
      return next;
    }
    case OP_RI1: {
      const d = REGS + <usize>load<u8>(e + R_G);
      const kind = <u32>load<u8>(e + R_K);
      const a = <u64>load<u8>(d), c = <u64>load<u8>(e + R_IMM);
      if (kind == 8) { setLazy(LF_LOGIC, 1, a, c, a & c); return next; }
      const res = alu(kind, 1, a, c);
      if (kind != 7) store<u8>(d, <u8>res);
      return next;
    }
    case OP_SSE:
      if (!sse) return NOT_HOT;
      return hotSse(r, bias + <usize>r, <u32>load<u8>(e + R_G), <u32>load<u8>(e + R_E), <usize>load<u8>(e + R_X),
                    <u32>load<u8>(e + R_K), rd, wr, tag, c32);
    case OP_SLOW: return hotStepCall(r, bias + <usize>r, rd, wr, tag, sse, c32);
    default: return NOT_HOT;  // unreachable: the caller decodes OP_NONE first
  }
}

@inline function aluMI(e: usize, next: u64, sz: u32, rd: u32, wr: u32, tag: u32, c32: bool): u64 {
  const kind = <u32>load<u8>(e + R_K);
  const m = kind == 7 ? recMem(e, next, sz, rd, tag, c32) : recStore(e, next, sz, wr, tag, c32);
  if (m == 0) return NOT_HOT;
  const c = sz == 1 ? <u64>load<u8>(e + R_IMM) : <u64><i64>load<i32>(e + R_IMM);
  const res = alu(kind, sz, ld(m, sz), c);
  if (kind != 7) st(m, sz, res);
  return next;
}
// ALU reg, [m] (kind 8 = TEST [m], reg: no write).
@inline function aluRM(e: usize, next: u64, sz: u32, rd: u32, tag: u32, c32: bool): u64 {
  const m = recMem(e, next, sz, rd, tag, c32);
  if (m == 0) return NOT_HOT;
  const kind = <u32>load<u8>(e + R_K);
  const g = <usize>load<u8>(e + R_G);
  const v = sz == 8 ? load<u64>(m) : <u64>load<u32>(m);
  const a = sz == 8 ? rg(g) : rg32(g);
  if (kind == 8) { setLazy(LF_LOGIC, sz, v, a, v & a); return next; }
  const res = alu(kind, sz, a, v);
  if (kind != 7) { if (sz == 8) wg(g, res); else wg32(g, res); }
  return next;
}
// ALU [m], reg.
@inline function aluMR(e: usize, next: u64, sz: u32, rd: u32, wr: u32, tag: u32, c32: bool): u64 {
  const kind = <u32>load<u8>(e + R_K);
  const m = kind == 7 ? recMem(e, next, sz, rd, tag, c32) : recStore(e, next, sz, wr, tag, c32);
  if (m == 0) return NOT_HOT;
  const g = <usize>load<u8>(e + R_G);
  const v = sz == 8 ? load<u64>(m) : <u64>load<u32>(m);
  const res = alu(kind, sz, v, sz == 8 ? rg(g) : rg32(g));
  if (kind != 7) { if (sz == 8) store<u64>(m, res); else store<u32>(m, <u32>res); }
  return next;
}
// Shift/rotate reg by imm8 / 1 (R_IMM) or CL (R_IMM = 0x100).
@inline function shiftR(e: usize, next: u64, sz: u32): u64 {
  const g = <usize>load<u8>(e + R_G);
  const ci = load<u32>(e + R_IMM);
  const count: u32 = ci == 0x100 ? <u32>load<u8>(REGS + (<usize>RCX << 3)) : ci;
  const v = sz == 8 ? rg(g) : rg32(g);
  if ((count & (sz == 8 ? 0x3f : 0x1f)) == 0) {
    // No change and no flags; a 32-bit register is still written (zero-extended).
    if (sz == 4) wg32(g, v);
    return next;
  }
  const res = shiftOp(<u32>load<u8>(e + R_K), sz, v, count);
  if (sz == 8) wg(g, res); else wg32(g, res);
  return next;
}
// F7 /2-/7 on a register (/0 /1 TEST are OP_RI + 8).
@inline function grp3R(e: usize, next: u64, sz: u32): u64 {
  const g = <usize>load<u8>(e + R_G);
  const sub = <u32>load<u8>(e + R_K);
  const v = sz == 8 ? rg(g) : rg32(g);
  if (sub < 4) {  // NOT / NEG
    const res = sub == 2 ? ~v : <u64>0 - v;
    if (sz == 8) wg(g, res); else wg32(g, res);
    if (sub == 3) setLazy(LF_SUB, sz, 0, v, res);
    return next;
  }
  // MUL / IMUL / DIV / IDIV: mulDivAcc raises #DE before it changes anything; the full
  // path then redoes the instruction and delivers it.
  mulDivAcc(sub, sz, v);
  if (faultPending) { clearFault(); return NOT_HOT; }
  return next;
}

// ---- decoder ----------------------------------------------------------------------------
// Fills record e for the instruction at host address h (15 readable bytes) in 64-bit mode
// or flat 32-bit mode (c32). Anything not listed becomes OP_SLOW.
let dLen: u32 = 0;   // decode scratch: end of the ModRM operand (offset from h)
let dEf: u32 = 0, dBase: u32 = 0, dIdx: u32 = 0, dDisp: i32 = 0;

// ModRM memory operand at h + p (p: offset of the ModRM byte); sets dEf/dBase/dIdx/dDisp/dLen.
function decodeMem(h: usize, p: usize, rex: u32, c32: bool): void {
  const m = <u32>load<u8>(h + p);
  const mod = m >> 6, rmb = m & 7;
  p++;
  let ef: u32 = 0;
  let disp: i32 = 0;
  dBase = 0; dIdx = 0;
  if (rmb == 4) {
    const sib = <u32>load<u8>(h + p);
    p++;
    const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
    if (idx != 4) { ef |= EF_INDEX | ((sib >> 6) << 4); dIdx = idx << 3; }
    const base = sib & 7;
    if (base == 5 && mod == 0) { disp = load<i32>(h + p); p += 4; }
    else { ef |= EF_BASE; dBase = (base | ((rex & 1) << 3)) << 3; }
  } else if (rmb == 5 && mod == 0) {
    if (!c32) ef |= EF_RIP;  // SDM 2.2.1.6; outside 64-bit mode disp32 alone
    disp = load<i32>(h + p);
    p += 4;
  } else { ef |= EF_BASE; dBase = (rmb | ((rex & 1) << 3)) << 3; }
  if (mod == 1) { disp += <i32>load<i8>(h + p); p++; }
  else if (mod == 2) { disp += load<i32>(h + p); p += 4; }
  dEf = ef; dDisp = disp; dLen = <u32>p;
}
// Byte-register offset in the register file: without REX, 4-7 are AH, CH, DH, BH.
@inline function byteReg(r: u32, rex: u32): u32 { return rex == 0 && r >= 4 && r < 8 ? ((r - 4) << 3) + 1 : r << 3; }

function setRec(e: usize, op: u32, len: u32, g: u32, k: u32, imm: i32): void {
  store<u8>(e + R_OP, <u8>op);
  store<u8>(e + R_LEN, <u8>len);
  store<u8>(e + R_G, <u8>g);
  store<u8>(e + R_K, <u8>k);
  store<i32>(e + R_IMM, imm);
}
// Memory-operand record: the decodeMem results plus op / G / kind / immediate.
function setMemRec(e: usize, op: u32, immBytes: u32, g: u32, k: u32, imm: i32): void {
  setRec(e, op, dLen + immBytes, g, k, imm);
  store<u8>(e + R_E, <u8>dBase);
  store<u8>(e + R_X, <u8>dIdx);
  store<u8>(e + R_EF, <u8>dEf);
  store<i32>(e + R_DISP, dDisp);
}

function decodeRec(e: usize, h: usize, c32: bool): void {
  let b = <u32>load<u8>(h);
  let n: u32 = 1;
  let rex: u32 = 0;
  if (!c32 && (b & 0xf0) == 0x40) { rex = b; b = <u32>load<u8>(h + 1); n = 2; }
  const w = (rex & 8) != 0;
  const s: u32 = w ? 8 : 4;
  const rb = (rex & 1) << 3;
  setRec(e, OP_SLOW, 8, 0, 0, 0);
  if (b == 0x0f) {
    decode0F(e, h, n, <u32>load<u8>(h + n), rex, c32);
    return;
  }
  if (b < 0x40) {
    if (b == 0x2e) { if (rex == 0) decodeNopPad(e, h, c32); return; }
    const lo = b & 7;
    const kind = b >> 3;
    if (lo == 1 || lo == 3) {  // ALU Ev,Gv / Gv,Ev
      const m = <u32>load<u8>(h + n);
      const reg = (((m >> 3) & 7) | ((rex & 4) << 1)) << 3;
      if (m >= 0xc0) {
        const rm = ((m & 7) | rb) << 3;
        const toG = lo == 3;
        setRec(e, (w ? OP_RR8 : OP_RR4) + kind, n + 1, toG ? reg : rm, 0, 0);
        store<u8>(e + R_E, <u8>(toG ? rm : reg));
        return;
      }
      decodeMem(h, n, rex, c32);
      if (lo == 3) setMemRec(e, w ? OP_RM8 : OP_RM4, 0, reg, kind, 0);
      else setMemRec(e, w ? OP_MR8 : OP_MR4, 0, reg, kind, 0);
      return;
    }
    if (lo == 5) {  // ALU rAX, imm32
      setRec(e, (w ? OP_RI8 : OP_RI4) + kind, n + 4, RAX, 0, load<i32>(h + n));
      return;
    }
    if (lo == 4) {  // ALU AL, imm8
      setRec(e, OP_RI1, n + 1, 0, kind, <i32>load<u8>(h + n));
      return;
    }
    if (lo == 0 || lo == 2) {  // byte ALU Eb,Gb / Gb,Eb, register forms
      const m = <u32>load<u8>(h + n);
      if (m < 0xc0) return;
      const rm = byteReg((m & 7) | rb, rex), rg8 = byteReg(((m >> 3) & 7) | ((rex & 4) << 1), rex);
      setRec(e, OP_RR1, n + 1, lo == 2 ? rg8 : rm, kind, 0);
      store<u8>(e + R_E, <u8>(lo == 2 ? rm : rg8));
      return;
    }
    return;
  }
  if (c32 && b >= 0x40 && b < 0x50) {  // INC / DEC r32 (outside 64-bit mode)
    setRec(e, OP_INCDEC4, 1, (b & 7) << 3, b < 0x48 ? 0 : 1, 0);
    return;
  }
  if (b >= 0x70 && b < 0x80) {  // Jcc rel8
    setRec(e, OP_JCC, n + 1, 0, b & 15, 0);
    store<i32>(e + R_DISP, <i32>load<i8>(h + n));
    return;
  }
  if (b >= 0x50 && b < 0x60) {  // PUSH / POP r
    setRec(e, b < 0x58 ? OP_PUSH : OP_POP, n, ((b & 7) | rb) << 3, 0, 0);
    return;
  }
  if (b >= 0xb8 && b < 0xc0) {  // MOV r, imm
    const g = ((b & 7) | rb) << 3;
    if (w) { setRec(e, OP_MOVRI64, n + 8, g, 0, 0); store<u64>(e + R_DISP, load<u64>(h + n)); }
    else setRec(e, OP_MOVRI32, n + 4, g, 0, load<i32>(h + n));
    return;
  }
  switch (b) {
    case 0x81: case 0x83: case 0x85: case 0x89: case 0x8b: case 0x8d: case 0xc7: case 0xc1:
    case 0xd1: case 0xd3: case 0xf7: case 0xff: case 0x80: case 0xc6: case 0x88: case 0x63:
      break;
    case 0xa9: setRec(e, (w ? OP_RI8 : OP_RI4) + 8, n + 4, RAX, 0, load<i32>(h + n)); return;
    case 0xeb: setRec(e, OP_JMP, n + 1, 0, 0, 0); store<i32>(e + R_DISP, <i32>load<i8>(h + n)); return;
    case 0xe9: setRec(e, OP_JMP, n + 4, 0, 0, 0); store<i32>(e + R_DISP, load<i32>(h + n)); return;
    case 0xe8: setRec(e, OP_CALL, n + 4, 0, 0, 0); store<i32>(e + R_DISP, load<i32>(h + n)); return;
    case 0xc3: setRec(e, OP_RET, n, 0, 0, 0); return;
    case 0x90: if ((rex & 1) == 0) setRec(e, OP_NOP, n, 0, 0, 0); return;  // with REX.B: XCHG r8, rAX
    case 0x66: case 0xf3: if (rex == 0) decodePfx(e, h, b, c32); return;
    case 0xa8: setRec(e, OP_RI1, n + 1, 0, 8, <i32>load<u8>(h + n)); return;
    case 0x84: {
      const m = <u32>load<u8>(h + n);
      if (m < 0xc0) return;
      setRec(e, OP_RR1, n + 1, byteReg((m & 7) | rb, rex), 8, 0);
      store<u8>(e + R_E, <u8>byteReg(((m >> 3) & 7) | ((rex & 4) << 1), rex));
      return;
    }
    default: return;
  }
  // ModRM forms.
  const m = <u32>load<u8>(h + n);
  const sub = (m >> 3) & 7;
  const reg = (sub | ((rex & 4) << 1)) << 3;
  if (m >= 0xc0) {
    const rm = ((m & 7) | rb) << 3;
    switch (b) {
      case 0x81: setRec(e, (w ? OP_RI8 : OP_RI4) + sub, n + 5, rm, 0, load<i32>(h + n + 1)); return;
      case 0x83: setRec(e, (w ? OP_RI8 : OP_RI4) + sub, n + 2, rm, 0, <i32>load<i8>(h + n + 1)); return;
      case 0x85: setRec(e, (w ? OP_RR8 : OP_RR4) + 8, n + 1, rm, 0, 0); store<u8>(e + R_E, <u8>reg); return;
      case 0x89: setRec(e, w ? OP_MOVRR8 : OP_MOVRR4, n + 1, rm, 0, 0); store<u8>(e + R_E, <u8>reg); return;
      case 0x8b: setRec(e, w ? OP_MOVRR8 : OP_MOVRR4, n + 1, reg, 0, 0); store<u8>(e + R_E, <u8>rm); return;
      case 0xc7:
        if (sub == 0) setRec(e, w ? OP_MOVRI32S : OP_MOVRI32, n + 5, rm, 0, load<i32>(h + n + 1));
        return;
      case 0xc1: setRec(e, w ? OP_SHIFT8 : OP_SHIFT4, n + 2, rm, sub, <i32>load<u8>(h + n + 1)); return;
      case 0xd1: setRec(e, w ? OP_SHIFT8 : OP_SHIFT4, n + 1, rm, sub, 1); return;
      case 0xd3: setRec(e, w ? OP_SHIFT8 : OP_SHIFT4, n + 1, rm, sub, 0x100); return;
      case 0xf7:
        if (sub < 2) setRec(e, (w ? OP_RI8 : OP_RI4) + 8, n + 5, rm, 0, load<i32>(h + n + 1));
        else setRec(e, w ? OP_GRP3_8 : OP_GRP3_4, n + 1, rm, sub, 0);
        return;
      case 0xff:
        if (sub < 2) setRec(e, w ? OP_INCDEC8 : OP_INCDEC4, n + 1, rm, sub, 0);
        return;
      case 0x63:
        if (!c32 && w) { setRec(e, OP_MOVSXD_R, n + 1, reg, 0, 0); store<u8>(e + R_E, <u8>rm); }
        return;
      case 0x80: setRec(e, OP_RI1, n + 2, byteReg((m & 7) | rb, rex), sub, <i32>load<u8>(h + n + 1)); return;
      default: return;  // C6 88 register forms (byte registers), LEA reg (#UD)
    }
  }
  decodeMem(h, n, rex, c32);
  switch (b) {
    case 0x81: setMemRec(e, w ? OP_MI8 : OP_MI4, 4, 0, sub, load<i32>(h + dLen)); return;
    case 0x83: setMemRec(e, w ? OP_MI8 : OP_MI4, 1, 0, sub, <i32>load<i8>(h + dLen)); return;
    case 0x80: setMemRec(e, OP_MI1, 1, 0, sub, <i32>load<u8>(h + dLen)); return;
    case 0x85: setMemRec(e, w ? OP_RM8 : OP_RM4, 0, reg, 8, 0); return;
    case 0x89: setMemRec(e, w ? OP_STORE8 : OP_STORE4, 0, reg, 0, 0); return;
    case 0x8b: setMemRec(e, w ? OP_LOAD8 : OP_LOAD4, 0, reg, 0, 0); return;
    case 0x8d: setMemRec(e, w ? OP_LEA8 : OP_LEA4, 0, reg, 0, 0); return;
    case 0xc7: if (sub == 0) setMemRec(e, w ? OP_STIMM8 : OP_STIMM4, 4, 0, 0, load<i32>(h + dLen)); return;
    case 0xc6: if (sub == 0) setMemRec(e, OP_STIMM1, 1, 0, 0, <i32>load<u8>(h + dLen)); return;
    case 0x88: setMemRec(e, OP_STREG1, 0, byteReg(sub | ((rex & 4) << 1), rex), 0, 0); return;
    case 0x63: if (!c32 && w) setMemRec(e, OP_MOVSXD_M, 0, reg, 0, 0); return;
    default: return;
  }
}

// 0F map: o is the byte after 0F, at offset p.
function decode0F(e: usize, h: usize, p: u32, o: u32, rex: u32, c32: bool): void {
  const w = (rex & 8) != 0;
  const rb = (rex & 1) << 3;
  const q = p + 1;  // ModRM / immediate offset
  if ((o & 0xf0) == 0x80) {  // Jcc rel32
    setRec(e, OP_JCC, q + 4, 0, o & 15, 0);
    store<i32>(e + R_DISP, load<i32>(h + q));
    return;
  }
  const m = <u32>load<u8>(h + q);
  const reg = (((m >> 3) & 7) | ((rex & 4) << 1)) << 3;
  if (o == 0x28 || o == 0xc6) { decodeSse(e, h, 0, rex, q, o, c32); return; }  // MOVAPS load, SHUFPS
  if (o == 0x1f) {  // NOP Ev (no access)
    if (m >= 0xc0) setRec(e, OP_NOP, q + 1, 0, 0, 0);
    else { decodeMem(h, q, rex, c32); setMemRec(e, OP_NOP, 0, 0, 0, 0); }
    return;
  }
  if (m >= 0xc0) {
    const rm = ((m & 7) | rb) << 3;
    if ((o & 0xf0) == 0x40) {
      setRec(e, w ? OP_CMOV8 : OP_CMOV4, q + 1, reg, o & 15, 0);
      store<u8>(e + R_E, <u8>rm);
    } else if (o == 0xaf) {
      setRec(e, w ? OP_IMUL8 : OP_IMUL4, q + 1, reg, 0, 0);
      store<u8>(e + R_E, <u8>rm);
    } else if (o == 0xb6) {
      setRec(e, OP_MOVZXB_R, q + 1, reg, 0, 0);
      store<u8>(e + R_E, <u8>byteReg((m & 7) | rb, rex));
    } else if ((o & 0xf0) == 0x90) {
      setRec(e, OP_SETCC_R, q + 1, 0, o & 15, 0);
      store<u8>(e + R_E, <u8>byteReg((m & 7) | rb, rex));
    }
    return;
  }
  if (o == 0xb6 || o == 0xb7) {
    decodeMem(h, q, rex, c32);
    setMemRec(e, o == 0xb6 ? OP_MOVZXB : OP_MOVZXW, 0, reg, 0, 0);
  }
}

// 66 / F3 [REX] 0F op: SSE2 shapes (as cpu/hot.ts hands them to hotSse), else 66 NOP padding.
function decodePfx(e: usize, h: usize, b: u32, c32: bool): void {
  let q: u32 = 1;
  let rx: u32 = 0;
  const c = <u32>load<u8>(h + 1);
  if (!c32 && (c & 0xf0) == 0x40) { rx = c; q = 2; }
  if (load<u8>(h + q) == 0x0f) {
    const o = <u32>load<u8>(h + q + 1);
    if (o != 0x1f) { decodeSse(e, h, b == 0x66 ? 1 : 2, rx, q + 2, o, c32); return; }
  }
  if (b == 0x66) decodeNopPad(e, h, c32);
}
// The hotSse shapes that never write memory (loads, register arithmetic, shuffles, shifts);
// p: offset of the ModRM byte. Stores stay OP_SLOW (their writes are not checked against the
// running block).
function decodeSse(e: usize, h: usize, pf: u32, rex: u32, p: u32, o: u32, c32: bool): void {
  let ok = false;
  if (pf == 0) ok = o == 0x28 || o == 0xc6;
  else if (pf == 2) ok = o == 0x6f || o == 0x7e;
  else {
    switch (o) {
      case 0x28: case 0x6f: case 0xef: case 0xdb: case 0xdf: case 0xeb: case 0xfe: case 0xd4: case 0xfa:
      case 0xfb: case 0xf4: case 0x62: case 0x6a: case 0x6c: case 0x6d: case 0x70: case 0x72: case 0x73:
      case 0x6e: ok = true; break;
      default: break;
    }
  }
  if (!ok) return;
  const imm: u32 = o == 0x70 || o == 0x72 || o == 0x73 || o == 0xc6 ? 1 : 0;
  let len: u32;
  if (<u32>load<u8>(h + p) >= 0xc0) len = p + 1 + imm;
  else {
    if (o == 0x72 || o == 0x73) return;  // #UD with a memory operand
    decodeMem(h, p, rex, c32);
    len = dLen + imm;
  }
  setRec(e, OP_SSE, len, pf, o, 0);
  store<u8>(e + R_E, <u8>rex);
  store<u8>(e + R_X, <u8>p);
}

// 66 / 2E padding (at most three prefix bytes), optional REX, 0F 1F ModRM: a NOP, as
// cpu/hot.ts accepts it.
function decodeNopPad(e: usize, h: usize, c32: bool): void {
  let q: u32 = 1;
  while (q < 4) {
    const c = <u32>load<u8>(h + q);
    if (c != 0x66 && c != 0x2e) break;
    q++;
  }
  let rex: u32 = 0;
  if (!c32 && (<u32>load<u8>(h + q) & 0xf0) == 0x40) { rex = <u32>load<u8>(h + q); q++; }
  if (load<u8>(h + q) != 0x0f || load<u8>(h + q + 1) != 0x1f) return;
  const p = q + 2;
  if (<u32>load<u8>(h + p) >= 0xc0) { setRec(e, OP_NOP, p + 1, 0, 0, 0); return; }
  decodeMem(h, p, rex, c32);
  setMemRec(e, OP_NOP, 0, 0, 0, 0);
}

// ---- blocks ---------------------------------------------------------------------------
// Decodes the block at host address h into slot b. Instruction starts stay at most 4081
// bytes into the page (the hot window's 15 readable bytes, cpu/decode.ts hotHi).
function fillBlock(b: usize, h: usize, key: u64, c32: bool): void {
  const limit = <u32>(4096 - 15) - <u32>(h & 0xfff);  // last allowed start offset
  let off: u32 = 0;
  let cnt: u32 = 0;
  let rec = b + S_RECS;
  while (true) {
    memory.fill(rec, 0, REC);
    decodeRec(rec, h + <usize>off, c32);
    const op = <u32>load<u8>(rec + R_OP);
    const len: u32 = op == OP_SLOW ? 1 : <u32>load<u8>(rec + R_LEN);  // a slow one is keyed by 1 byte
    if (off + len > BLK_MAX_BYTES) break;  // does not fit: next block
    cnt++;
    off += len;
    if (op == OP_SLOW) break;  // its length is hotStepAt's business
    rec += REC;
    if (op >= OP_JCC && op <= OP_RET) break;  // branches end the block
    if (cnt == BLK_MAX_INSNS || off > limit) break;
  }
  // off: bytes covered (>= 1: the first instruction always fits, 15 <= 64).
  store<u8>(b + S_RECS + (<usize>(cnt - 1) << 4) + R_LAST, 1);
  store<u8>(b + S_LEN, <u8>off);
  store<u8>(b + S_CNT, <u8>cnt);
  memory.fill(b + S_COPY, 0, BLK_MAX_BYTES);
  memory.copy(b + S_COPY, h, <usize>off);
  store<u64>(b + S_KEY, key);
}

// The block's bytes at h are still those of slot b (len bytes, all inside h's code page).
@inline function blockValid(b: usize, h: usize, len: usize): bool {
  if (len < 8) return (load<u64>(h) & load<u64>(MASK0 + (len << 3))) == load<u64>(b + S_COPY);
  let j: usize = 0;
  while (j + 8 < len) {
    if (load<u64>(h + j) != load<u64>(b + S_COPY + j)) return false;
    j += 8;
  }
  return load<u64>(h + len - 8) == load<u64>(b + S_COPY + len - 8);
}

// Runs blocks from RIP r while at most n instructions may retire and r is inside the hot
// window [lo, lo + span] (host address bias + rip). Returns the instructions left; the RIP
// reached is in dcRip.
export let dcRip: u64 = 0;
@inline export function dcRun(r: u64, n: u32, lo: u64, span: u64, bias: usize, rd: u32, wr: u32, tag: u32, sse: bool, c32: bool): u32 {
  const tab = dcTab;
  const mode: u64 = c32 ? 2 : 1;
  while (n != 0 && r - lo <= span) {
    const h = bias + <usize>r;
    const b = tab + (((h ^ (h >> 12)) & DC_SLOTS_MASK) * SLOT);
    const key = <u64>h | (mode << 32);
    let len = <usize>load<u8>(b + S_LEN);
    if (load<u64>(b + S_KEY) != key || !blockValid(b, h, len)) {
      fillBlock(b, h, key, c32);
      len = <usize>load<u8>(b + S_LEN);
    }
    const cnt = <u32>load<u8>(b + S_CNT);
    if (n < cnt) {
      // The budget ends inside this block: the rest one instruction at a time, uncached.
      while (n != 0 && r - lo <= span) {
        const nr = hotStepCall(r, bias + <usize>r, rd, wr, tag, sse, c32);
        if (nr == NOT_HOT) break;
        r = nr;
        n--;
      }
      break;
    }
    dcHb = h; dcLen = len;
    const e0 = b + S_RECS;
    let e = e0;
    let stop = false;
    while (true) {
      const nr = dcExec(e, r, bias, rd, wr, tag, sse, c32);
      if (nr == NOT_HOT) { stop = true; break; }
      r = nr;
      const last = load<u8>(e + R_LAST);
      e += REC;
      if (last != 0) break;
    }
    n -= <u32>((e - e0) >> 4);
    if (stop) break;
  }
  dcRip = r;
  return n;
}

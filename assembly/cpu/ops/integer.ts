// General-purpose integer instructions (SDM Vol.2): the one-byte map and the 0F map
// entries that cpu/exec.ts assigns to OWN_INT. Helpers: int_alu.ts (ALU, shifts,
// multiply/divide), int_string.ts (MOVS..SCAS with REP), int_bits.ts (0F map bit ops).
import * as D from "../decode";
import {
  decodeModrm, fetch8, fetch16, fetch32, fetch64, fetchImm, fetchSImm8, readRM, writeRM,
  readReg, writeReg, opSizeDefault64, eaAddr, dsSeg, signExtend,
} from "../decode";
import * as F from "../flags";
import {
  setLazy, setLazyIncDec, testCC, getCF, getAF, getZF, getSF, getOF, getPF, getRflags, setRflags, setStatusFlags, setFlagBit,
  LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF, F_DF,
} from "../flags";
import {
  getReg64, setReg64, getReg32, setReg32, getReg16, setReg16, getReg8, setReg8, getRegSized, setRegSized,
  segLimit, code64, protMode, vm86, cr0, CR0_MP, CR0_TS, RAX, RCX, RDX, RBX, RSP, RBP, CS, SS,
} from "../state";
import { faultPending, raiseUD, raiseGP, raiseNM, raiseDE, raiseFault, EXC_BR } from "../fault";
import { readMem, writeMem, push, pop, peek, adjustSp, stackAddrSize, isCanonical, BAD_ADDR } from "../segmem";
import {
  aluRM, aluCin, aluResult, aluFlags, rmwRead, rmwWrite, shiftOp, mulDivAcc, imulTrunc,
  szpFlags, putStatus, maskOf,
} from "./int_alu";
import { stringOp } from "./int_string";
import { exec0F } from "./int_bits";
import { farIndirect } from "./system";
import { tlbHostRead, tlbHostWrite } from "../../mmu/access";
import { pauseYield } from "../vcpu_id";
import { requestStop } from "../run";
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";

// 1 = the opcode has a ModRM byte (decoded before dispatch). Index: opcode (0F map at 0x100).
const HAS_MODRM: usize = memory.data<u8>([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

// Register access by operand size (8-bit registers follow the REX rule of this instruction).
@inline function rget(r: u32, s: u32): u64 {
  if (s == 8) return getReg64(r);
  if (s == 4) return <u64>getReg32(r);
  if (s == 2) return <u64>getReg16(r);
  return <u64>getReg8(r, D.rexPresent);
}
@inline function rset(r: u32, s: u32, v: u64): void {
  if (s == 8) setReg64(r, v);
  else if (s == 4) setReg32(r, <u32>v);
  else if (s == 2) setReg16(r, <u32>v);
  else setReg8(r, <u32>v, D.rexPresent);
}

@inline function cond(cc: u32): bool { return F.testCCInline(cc); }

@inline function amask(a: u32): u64 { return a == 8 ? 0xffffffffffffffff : (a == 4 ? 0xffffffff : 0xffff); }

// Near branch target check (SDM Vol.2 JMP/CALL: #GP(0) if non-canonical in 64-bit mode,
// or beyond the CS limit otherwise). Returns the target truncated to the operand size,
// or BAD_ADDR with #GP raised. In 64-bit mode near branches are 64-bit (Intel ignores 66h).
export function nearTarget(t: u64): u64 {
  if (code64) {
    if (!isCanonical(t)) { raiseGP(0); return BAD_ADDR; }
    return t;
  }
  t &= D.opSize == 2 ? 0xffff : 0xffffffff;
  if (t > <u64>segLimit(CS)) { raiseGP(0); return BAD_ADDR; }
  return t;
}
@inline function jumpTo(t: u64): void {
  if (code64 && isCanonical(t)) { D.nextRip = t; return; }  // the common case, no call
  const x = nearTarget(t);
  if (x != BAD_ADDR) D.nextRip = x;
}
@inline function nearSize(): u32 { return code64 ? 8 : D.opSize; }

function callTo(t: u64): void {
  const x = nearTarget(t);
  if (x == BAD_ADDR) return;
  push(D.nextRip, nearSize());
  if (faultPending) return;
  D.nextRip = x;
}

// LOCK is only valid on the lockable read-modify-write forms with a memory destination
// (SDM Vol.2 "LOCK"); everything else raises #UD.
function lockInvalid(op: u32): bool {
  if (load<u8>(HAS_MODRM + <usize>op) == 0 || D.modMod == 3) return true;
  const r = D.modReg & 7;
  if (op < 0x40) return (op & 7) >= 2 || (op >> 3) == 7;
  switch (op) {
    case 0x80: case 0x81: case 0x82: case 0x83: return r == 7;
    case 0x86: case 0x87: return false;
    case 0xf6: case 0xf7: return r != 2 && r != 3;
    case 0xfe: case 0xff: return r > 1;
    case 0x1ab: case 0x1b3: case 0x1bb: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return false;
    case 0x1ba: return r < 5;
    case 0x1c7: return r != 1;
    default: return true;
  }
}

// ALU forms 0-5 of rows 00-3D: Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev / AL,Ib / rAX,Iz.
@inline function aluOp(op: u32): void {
  const kind = op >> 3;
  const form = op & 7;
  if (form < 4 && D.modMod == 3) {
    // Register-register: the hot path, no calls.
    const s = (op & 1) != 0 ? D.opSize : 1;
    const dst = (form & 2) != 0 ? D.modReg : D.modRm;
    const src = (form & 2) != 0 ? D.modRm : D.modReg;
    const a = rget(dst, s), b = rget(src, s);
    const cin = aluCin(kind);
    const r = aluResult(kind, a, b, cin);
    if (kind != 7) rset(dst, s, r);
    aluFlags(kind, s, a, b, r, cin);
    return;
  }
  aluOpSlow(op);
}
function aluOpSlow(op: u32): void {
  const kind = op >> 3;
  switch (op & 7) {
    case 0: aluRM(kind, 1, readReg(1)); return;
    case 1: { const s = D.opSize; aluRM(kind, s, readReg(s)); return; }
    case 2: case 3: {
      const s = (op & 1) != 0 ? D.opSize : 1;
      const b = readRM(s);
      if (faultPending) return;
      const a = readReg(s);
      const cin = aluCin(kind);
      const r = aluResult(kind, a, b, cin);
      if (kind != 7) writeReg(s, r);
      aluFlags(kind, s, a, b, r, cin);
      return;
    }
    default: {
      const s = (op & 1) != 0 ? D.opSize : 1;
      const b = fetchImm(s);
      if (faultPending) return;
      const a = getRegSized(RAX, s, false);
      const cin = aluCin(kind);
      const r = aluResult(kind, a, b, cin);
      if (kind != 7) setRegSized(RAX, s, r, false);
      aluFlags(kind, s, a, b, r, cin);
      return;
    }
  }
}

// Shift group 2 with a memory or register destination. Flags are restored if the write faults.
function group2(s: u32, count: u32): void {
  const kind = D.modReg & 7;
  const v = rmwRead(s);
  if (faultPending) return;
  if ((count & (s == 8 ? 0x3f : 0x1f)) == 0) {
    if (D.modMod == 3 && s == 4) rmwWrite(4, v); // a 32-bit register is still written (zero-extended)
    return;
  }
  const saved = D.modMod != 3 ? getRflags() : 0;
  const r = shiftOp(kind, s, v, count);
  rmwWrite(s, r);
  if (faultPending) setRflags(saved);
}

function daaDas(sub: bool): void {
  const al = getReg8(0, false);
  const oldCf = getCF();
  let cf = false, af = false;
  let r = al;
  if ((al & 0xf) > 9 || getAF()) {
    r = sub ? (al - 6) & 0xff : (al + 6) & 0xff;
    cf = oldCf || (sub ? al < 6 : al + 6 > 0xff);
    af = true;
  }
  if (al > 0x99 || oldCf) { r = sub ? (r - 0x60) & 0xff : (r + 0x60) & 0xff; cf = true; }
  else if (!sub) cf = false;
  setReg8(0, r, false);
  putStatus(szpFlags(<u64>r, 1) | (cf ? F_CF : 0) | (af ? F_AF : 0));
}
function aaaAas(sub: bool): void {
  let ax = getReg16(0);
  let adj = false;
  if ((ax & 0xf) > 9 || getAF()) {
    if (sub) { ax = (ax - 6) & 0xffff; ax = (ax - 0x100) & 0xffff; }
    else ax = (ax + 0x106) & 0xffff;
    adj = true;
  }
  setReg16(0, ax & 0xff0f);
  const f = getRflags() & ~(F_CF | F_AF);
  putStatus(f | (adj ? (F_CF | F_AF) : 0));
}

function pusha(): void {
  const s = D.opSize;
  const asz = stackAddrSize();
  const m = amask(asz);
  const sp = getReg64(RSP);
  for (let i: u32 = 0; i < 8; i++) {
    const v = i == 4 ? sp : getReg64(i);
    writeMem(SS, (sp - <u64>((i + 1) * s)) & m, s, v);
    if (faultPending) return;
  }
  adjustSp(<u64>(-<i64>(8 * s)));
}
function popa(): void {
  const s = D.opSize;
  const di = peek(0, s); if (faultPending) return;
  const si = peek(<u64>s, s); if (faultPending) return;
  const bp = peek(<u64>(2 * s), s); if (faultPending) return;
  const bx = peek(<u64>(4 * s), s); if (faultPending) return;
  const dx = peek(<u64>(5 * s), s); if (faultPending) return;
  const cx = peek(<u64>(6 * s), s); if (faultPending) return;
  const ax = peek(<u64>(7 * s), s); if (faultPending) return;
  setRegSized(7, s, di, false); setRegSized(6, s, si, false); setRegSized(5, s, bp, false);
  setRegSized(3, s, bx, false); setRegSized(2, s, dx, false); setRegSized(1, s, cx, false);
  setRegSized(0, s, ax, false);
  adjustSp(<u64>(8 * s));
}

function enter(): void {
  const alloc = <u64>fetch16();
  const level = fetch8() & 31;
  if (faultPending) return;
  const osz = opSizeDefault64();
  const asz = stackAddrSize();
  const m = amask(asz);
  let sp = getReg64(RSP);
  let bp = getReg64(RBP);
  sp = (sp - <u64>osz) & m;
  writeMem(SS, sp, osz, bp);
  if (faultPending) return;
  const frame = sp;
  if (level > 0) {
    for (let i: u32 = 1; i < level; i++) {
      bp = (bp - <u64>osz) & m;
      const v = readMem(SS, bp, osz);
      if (faultPending) return;
      sp = (sp - <u64>osz) & m;
      writeMem(SS, sp, osz, v);
      if (faultPending) return;
    }
    sp = (sp - <u64>osz) & m;
    writeMem(SS, sp, osz, frame);
    if (faultPending) return;
  }
  setRegSized(RBP, osz, frame, false);
  sp = (sp - alloc) & m;
  if (asz == 8) setReg64(RSP, sp); else if (asz == 4) setReg32(RSP, <u32>sp); else setReg16(RSP, <u32>sp);
}
function leave(): void {
  const osz = opSizeDefault64();
  const asz = stackAddrSize();
  const sp = getReg64(RBP) & amask(asz);
  const v = readMem(SS, sp, osz);
  if (faultPending) return;
  const nsp = sp + <u64>osz;
  if (asz == 8) setReg64(RSP, nsp); else if (asz == 4) setReg32(RSP, <u32>nsp); else setReg16(RSP, <u32>nsp);
  setRegSized(RBP, osz, v, false);
}

function retNear(extra: u64): void {
  const osz = nearSize();
  const t = peek(0, osz);
  if (faultPending) return;
  const x = nearTarget(t);
  if (x == BAD_ADDR) return;
  adjustSp(<u64>osz + extra);
  D.nextRip = x;
}

function group3(s: u32): void {
  const kind = D.modReg & 7;
  switch (kind) {
    case 0: case 1: {
      const imm = fetchImm(s);
      if (faultPending) return;
      const v = readRM(s);
      if (faultPending) return;
      setLazy(LF_LOGIC, s, v, imm, v & imm);
      return;
    }
    case 2: {
      const v = rmwRead(s);
      if (faultPending) return;
      rmwWrite(s, ~v);
      return;
    }
    case 3: {
      const v = rmwRead(s);
      if (faultPending) return;
      const r = <u64>0 - v;
      rmwWrite(s, r);
      if (faultPending) return;
      setLazy(LF_SUB, s, 0, v, r);
      return;
    }
    default: {
      const v = readRM(s);
      if (faultPending) return;
      mulDivAcc(kind, s, v);
      return;
    }
  }
}

function group45(op: u32): void {
  const kind = D.modReg & 7;
  const s = op == 0xfe ? 1 : D.opSize;
  if (kind <= 1) {
    const v = rmwRead(s);
    if (faultPending) return;
    const r = kind == 0 ? v + 1 : v - 1;
    rmwWrite(s, r);
    if (faultPending) return;
    setLazyIncDec(kind == 0 ? LF_INC : LF_DEC, s, v, r);
    return;
  }
  if (op == 0xfe) { raiseUD(); return; }
  switch (kind) {
    case 2: case 4: {
      const t = readRM(nearSize());
      if (faultPending) return;
      if (kind == 2) callTo(t); else jumpTo(t);
      return;
    }
    case 3: case 5:
      if (D.modMod == 3) { raiseUD(); return; }
      farIndirect(kind == 3);
      return;
    case 6: {
      const osz = opSizeDefault64();
      const v = readRM(osz);
      if (faultPending) return;
      push(v, osz);
      return;
    }
    default: raiseUD(); return;
  }
}

function popRM(): void {
  if ((D.modReg & 7) != 0) { raiseUD(); return; }
  const osz = opSizeDefault64();
  if (D.modMod == 3) {
    const v = pop(osz);
    if (faultPending) return;
    setRegSized(D.modRm, osz, v, false);
    return;
  }
  const v = peek(0, osz);
  if (faultPending) return;
  // SDM Vol.2 POP: an rSP base register is used after the increment.
  let off = eaAddr();
  if (D.eaBase == <i32>RSP) off = (off + <u64>osz) & amask(D.adSize);
  writeMem(D.eaSeg, off, osz, v);
  if (faultPending) return;
  adjustSp(<u64>osz);
}

function loopOp(op: u32): void {
  const rel = fetchSImm8();
  if (faultPending) return;
  const a = D.adSize;
  const m = amask(a);
  let c = getReg64(RCX) & m;
  let take: bool;
  if (op == 0xe3) take = c == 0;
  else {
    c = (c - 1) & m;
    take = c != 0;
    if (op == 0xe0) take = take && !getZF();
    else if (op == 0xe1) take = take && getZF();
  }
  if (take) {
    const x = nearTarget(D.nextRip + rel);
    if (x == BAD_ADDR) return;
    D.nextRip = x;
  }
  if (op != 0xe3) {
    if (a == 8) setReg64(RCX, c); else if (a == 4) setReg32(RCX, <u32>c); else setReg16(RCX, <u32>c);
  }
}

function moffs(op: u32): void {
  const a = D.adSize;
  const off = a == 8 ? fetch64() : (a == 4 ? <u64>fetch32() : <u64>fetch16());
  if (faultPending) return;
  const s = (op & 1) != 0 ? D.opSize : 1;
  const seg = dsSeg();
  if (op < 0xa2) {
    const v = readMem(seg, off, s);
    if (faultPending) return;
    setRegSized(RAX, s, v, false);
  } else writeMem(seg, off, s, getRegSized(RAX, s, false));
}

// The hottest integer shapes, inlined into the run loop so they cost no call: short Jcc
// and the register (mod = 3) forms of ALU Ev,Gv / Gv,Ev, group 1 with imm8, TEST and MOV.
// Returns false with nothing consumed when the instruction is not one of them; the
// semantics are exactly those of the matching execInteger cases.
@inline export function execHot(op: u32): bool {
  if ((op & 0x1f0) == 0x70) {
    const rel = fetchSImm8();
    if (faultPending) return true;
    if (cond(op & 15)) jumpTo(D.nextRip + rel);
    return true;
  }
  if (op > 0x8b || D.lockPrefix) return false;
  if (op < 0x40) {
    if ((op & 7) >= 4 || !D.decodeModrmReg()) return false;
    aluOp(op);
    return true;
  }
  if (op != 0x83 && op != 0x89 && op != 0x8b && op != 0x85) return false;
  if (!D.decodeModrmReg()) return false;
  const s = D.opSize;
  if (op == 0x89) { rset(D.modRm, s, rget(D.modReg, s)); return true; }
  if (op == 0x8b) { rset(D.modReg, s, rget(D.modRm, s)); return true; }
  if (op == 0x85) {
    const a = rget(D.modRm, s), b = rget(D.modReg, s);
    setLazy(LF_LOGIC, s, a, b, a & b);
    return true;
  }
  // 0x83: group 1 Ev, Ib (sign-extended).
  const imm = fetchSImm8();
  if (faultPending) return true;
  const kind = D.modReg & 7;
  const a = rget(D.modRm, s);
  const cin = aluCin(kind);
  const r = aluResult(kind, a, imm, cin);
  if (kind != 7) rset(D.modRm, s, r);
  aluFlags(kind, s, a, imm, r, cin);
  return true;
}

// The run loop's 64-bit hot path lives in cpu/hot.ts.
export { hotStep, NOT_HOT } from "../hot";

export function execInteger(op: u32): void {
  if (load<u8>(HAS_MODRM + <usize>op) != 0) {
    decodeModrm();
    if (faultPending) return;
  }
  if (D.lockPrefix && lockInvalid(op)) { raiseUD(); return; }
  if (op >= 0x100) { exec0F(op); return; }
  switch (op) {
    case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05:
    case 0x08: case 0x09: case 0x0a: case 0x0b: case 0x0c: case 0x0d:
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15:
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d:
    case 0x20: case 0x21: case 0x22: case 0x23: case 0x24: case 0x25:
    case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
    case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35:
    case 0x38: case 0x39: case 0x3a: case 0x3b: case 0x3c: case 0x3d:
      aluOp(op); return;
    case 0x27: if (code64) { raiseUD(); return; } daaDas(false); return;
    case 0x2f: if (code64) { raiseUD(); return; } daaDas(true); return;
    case 0x37: if (code64) { raiseUD(); return; } aaaAas(false); return;
    case 0x3f: if (code64) { raiseUD(); return; } aaaAas(true); return;
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      // Only reached outside 64-bit mode (there 40-4F are REX prefixes).
      const s = D.opSize, r = op & 7;
      const v = getRegSized(r, s, false);
      const res = op < 0x48 ? v + 1 : v - 1;
      setRegSized(r, s, res, false);
      setLazyIncDec(op < 0x48 ? LF_INC : LF_DEC, s, v, res);
      return;
    }
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      push(getReg64((op & 7) | D.rexB), opSizeDefault64()); return;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      const osz = opSizeDefault64();
      const v = pop(osz);
      if (faultPending) return;
      setRegSized((op & 7) | D.rexB, osz, v, false);
      return;
    }
    case 0x60: if (code64) { raiseUD(); return; } pusha(); return;
    case 0x61: if (code64) { raiseUD(); return; } popa(); return;
    case 0x62: {
      if (code64 || D.modMod == 3) { raiseUD(); return; }
      const s = D.opSize;
      const idx = <i64>signExtend(readReg(s), s);
      const off = eaAddr();
      const lo = <i64>signExtend(readMem(D.eaSeg, off, s), s);
      if (faultPending) return;
      const hi = <i64>signExtend(readMem(D.eaSeg, (off + <u64>s) & amask(D.adSize), s), s);
      if (faultPending) return;
      if (idx < lo || idx > hi) raiseFault(EXC_BR, 0, false);
      return;
    }
    case 0x63: {
      if (code64) { // MOVSXD
        if (D.opSize == 8) {
          const v = readRM(4);
          if (faultPending) return;
          writeReg(8, <u64><i64><i32>v);
        } else {
          const v = readRM(D.opSize);
          if (faultPending) return;
          writeReg(D.opSize, v);
        }
        return;
      }
      // ARPL r/m16, r16 (SDM Vol.2): protected mode only.
      if (!protMode || vm86) { raiseUD(); return; }
      const src = readReg(2);
      const dst = rmwRead(2);
      if (faultPending) return;
      if ((dst & 3) < (src & 3)) {
        rmwWrite(2, (dst & ~(<u64>3)) | (src & 3));
        if (faultPending) return;
        setStatusFlags(F_ZF, F_ZF);
      } else setStatusFlags(F_ZF, 0);
      return;
    }
    case 0x68: {
      const osz = opSizeDefault64();
      const v = fetchImm(osz);
      if (faultPending) return;
      push(v, osz);
      return;
    }
    case 0x6a: {
      const osz = opSizeDefault64();
      const v = fetchSImm8();
      if (faultPending) return;
      push(v, osz);
      return;
    }
    case 0x69: case 0x6b: {
      const s = D.opSize;
      const imm = op == 0x69 ? fetchImm(s) : fetchSImm8();
      if (faultPending) return;
      const v = readRM(s);
      if (faultPending) return;
      writeReg(s, imulTrunc(s, v, imm));
      return;
    }
    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = fetchSImm8();
      if (faultPending) return;
      if (cond(op & 15)) jumpTo(D.nextRip + rel);
      return;
    }
    case 0x80: case 0x81: case 0x82: case 0x83: {
      if (op == 0x82 && code64) { raiseUD(); return; }
      const s = (op & 1) != 0 ? D.opSize : 1;
      const imm = op == 0x81 ? fetchImm(s) : (op == 0x83 ? fetchSImm8() : <u64>fetch8());
      if (faultPending) return;
      const kind = D.modReg & 7;
      if (D.modMod == 3) {
        const a = rget(D.modRm, s);
        const cin = aluCin(kind);
        const r = aluResult(kind, a, imm, cin);
        if (kind != 7) rset(D.modRm, s, r);
        aluFlags(kind, s, a, imm, r, cin);
        return;
      }
      aluRM(kind, s, imm);
      return;
    }
    case 0x84: case 0x85: {
      const s = (op & 1) != 0 ? D.opSize : 1;
      const a = readRM(s);
      if (faultPending) return;
      const b = readReg(s);
      setLazy(LF_LOGIC, s, a, b, a & b);
      return;
    }
    case 0x86: case 0x87: {
      const s = (op & 1) != 0 ? D.opSize : 1;
      const r = readReg(s);
      const v = rmwRead(s);
      if (faultPending) return;
      rmwWrite(s, r);
      if (faultPending) return;
      writeReg(s, v);
      return;
    }
    case 0x88: case 0x89: {
      const s = op == 0x88 ? 1 : D.opSize;
      if (D.modMod == 3) { rset(D.modRm, s, rget(D.modReg, s)); return; }
      writeRM(s, rget(D.modReg, s));
      return;
    }
    case 0x8a: case 0x8b: {
      const s = op == 0x8a ? 1 : D.opSize;
      if (D.modMod == 3) { rset(D.modReg, s, rget(D.modRm, s)); return; }
      const v = readRM(s);
      if (faultPending) return;
      rset(D.modReg, s, v);
      return;
    }
    case 0x8d:
      if (D.modMod == 3) { raiseUD(); return; }
      writeReg(D.opSize, eaAddr());
      return;
    case 0x8f: popRM(); return;
    case 0x90:
      if (D.repPrefix == 0xf3 && nonRoot && VX.exitPause()) return;   // PAUSE exiting (vmx/)
      if (D.rexB != 0) {
        const s = D.opSize;
        const a = getRegSized(RAX, s, false);
        setRegSized(RAX, s, getRegSized(8, s, false), false);
        setRegSized(8, s, a, false);
      } else if (D.repPrefix == 0xf3 && pauseYield) requestStop();   // PAUSE with other vCPUs: yield
      return; // NOP, PAUSE (F3 90)
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const s = D.opSize, r = (op & 7) | D.rexB;
      const a = getRegSized(RAX, s, false);
      setRegSized(RAX, s, getRegSized(r, s, false), false);
      setRegSized(r, s, a, false);
      return;
    }
    case 0x98: {
      const s = D.opSize;
      if (s == 2) setReg16(RAX, <u32><i32><i8>getReg8(RAX, false));
      else if (s == 4) setReg32(RAX, <u32><i32><i16>getReg16(RAX));
      else setReg64(RAX, <u64><i64><i32>getReg32(RAX));
      return;
    }
    case 0x99: {
      const s = D.opSize;
      const neg = ((getRegSized(RAX, s, false) >> <u64>(s * 8 - 1)) & 1) != 0;
      setRegSized(RDX, s, neg ? 0xffffffffffffffff : 0, false);
      return;
    }
    case 0x9b:
      if ((cr0 & CR0_MP) != 0 && (cr0 & CR0_TS) != 0) raiseNM();
      return;
    case 0x9e: {
      const ah = <u64>getReg8(4, false);
      setStatusFlags(F_SF | F_ZF | F_AF | F_PF | F_CF, ah);
      return;
    }
    case 0x9f: setReg8(4, <u32>(getRflags() & 0xd7) | 2, false); return;
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: moffs(op); return;
    case 0xa4: stringOp(0, 1); return;
    case 0xa5: stringOp(0, D.opSize); return;
    case 0xa6: stringOp(1, 1); return;
    case 0xa7: stringOp(1, D.opSize); return;
    case 0xa8: case 0xa9: {
      const s = op == 0xa8 ? 1 : D.opSize;
      const imm = fetchImm(s);
      if (faultPending) return;
      const a = getRegSized(RAX, s, false);
      setLazy(LF_LOGIC, s, a, imm, a & imm);
      return;
    }
    case 0xaa: stringOp(2, 1); return;
    case 0xab: stringOp(2, D.opSize); return;
    case 0xac: stringOp(3, 1); return;
    case 0xad: stringOp(3, D.opSize); return;
    case 0xae: stringOp(4, 1); return;
    case 0xaf: stringOp(4, D.opSize); return;
    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7: {
      const v = fetch8();
      if (faultPending) return;
      setReg8((op & 7) | D.rexB, v, D.rexPresent);
      return;
    }
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf: {
      const s = D.opSize;
      const v = s == 8 ? fetch64() : fetchImm(s);
      if (faultPending) return;
      setRegSized((op & 7) | D.rexB, s, v, false);
      return;
    }
    case 0xc0: case 0xc1: {
      const c = fetch8();
      if (faultPending) return;
      group2(op == 0xc0 ? 1 : D.opSize, c);
      return;
    }
    case 0xd0: group2(1, 1); return;
    case 0xd1: group2(D.opSize, 1); return;
    case 0xd2: group2(1, getReg8(RCX, false)); return;
    case 0xd3: group2(D.opSize, getReg8(RCX, false)); return;
    case 0xc2: {
      const n = <u64>fetch16();
      if (faultPending) return;
      retNear(n);
      return;
    }
    case 0xc3: retNear(0); return;
    case 0xc6: case 0xc7: {
      if ((D.modReg & 7) != 0) { raiseUD(); return; } // XABORT/XBEGIN: no RTM
      const s = op == 0xc6 ? 1 : D.opSize;
      const v = fetchImm(s);
      if (faultPending) return;
      writeRM(s, v);
      return;
    }
    case 0xc8: enter(); return;
    case 0xc9: leave(); return;
    case 0xd4: { // AAM
      if (code64) { raiseUD(); return; }
      const b = fetch8();
      if (faultPending) return;
      if (b == 0) { raiseDE(); return; }
      const al = getReg8(0, false);
      const r = al % b;
      setReg16(RAX, ((al / b) << 8) | r);
      putStatus(szpFlags(<u64>r, 1));
      return;
    }
    case 0xd5: { // AAD
      if (code64) { raiseUD(); return; }
      const b = fetch8();
      if (faultPending) return;
      const r = (getReg8(0, false) + getReg8(4, false) * b) & 0xff;
      setReg16(RAX, r);
      putStatus(szpFlags(<u64>r, 1));
      return;
    }
    case 0xd6: // SALC (undocumented, #UD in 64-bit mode)
      if (code64) { raiseUD(); return; }
      setReg8(0, getCF() ? 0xff : 0, false);
      return;
    case 0xd7: {
      const off = (getReg64(RBX) + <u64>getReg8(0, false)) & amask(D.adSize);
      const v = readMem(dsSeg(), off, 1);
      if (faultPending) return;
      setReg8(0, <u32>v, false);
      return;
    }
    case 0xe0: case 0xe1: case 0xe2: case 0xe3: loopOp(op); return;
    case 0xe8: case 0xe9: {
      const rel = code64 ? <u64><i64><i32>fetch32() : signExtend(fetchImm(D.opSize), D.opSize);
      if (faultPending) return;
      if (op == 0xe8) callTo(D.nextRip + rel); else jumpTo(D.nextRip + rel);
      return;
    }
    case 0xeb: {
      const rel = fetchSImm8();
      if (faultPending) return;
      jumpTo(D.nextRip + rel);
      return;
    }
    case 0xf5: setStatusFlags(F_CF, getCF() ? 0 : F_CF); return;
    case 0xf6: group3(1); return;
    case 0xf7: group3(D.opSize); return;
    case 0xf8: setStatusFlags(F_CF, 0); return;
    case 0xf9: setStatusFlags(F_CF, F_CF); return;
    case 0xfc: setFlagBit(F_DF, false); return;
    case 0xfd: setFlagBit(F_DF, true); return;
    case 0xfe: case 0xff: {
      if (D.modMod == 3 && (D.modReg & 7) <= 1) {  // INC/DEC register: hot in loops
        const s = op == 0xfe ? 1 : D.opSize;
        const v = rget(D.modRm, s);
        const inc = (D.modReg & 7) == 0;
        const r = inc ? v + 1 : v - 1;
        rset(D.modRm, s, r);
        setLazyIncDec(inc ? LF_INC : LF_DEC, s, v, r);
        return;
      }
      group45(op);
      return;
    }
    default: raiseUD(); return;
  }
}

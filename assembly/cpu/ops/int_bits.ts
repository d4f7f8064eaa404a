// The 0F-map integer instructions: CMOVcc, Jcc rel16/32, SETcc, BT/BTS/BTR/BTC, SHLD/SHRD,
// IMUL Gv,Ev, CMPXCHG, XADD, MOVZX/MOVSX, POPCNT, BSF/BSR/TZCNT/LZCNT, BSWAP, group 9
// (CMPXCHG8B/16B, RDRAND, RDSEED), NOP hints and UD0/UD1/UD2. ModRM is already decoded.
import { group9Vmx } from "../../vmx/instr";
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import * as D from "../decode";
import { fetch8, fetch16, fetch32, readRM, writeRM, readReg, writeReg, eaAddr, signExtend } from "../decode";
import {
  setLazy, testCC, getRflags, setRflags, setStatusFlags, LF_ADD, LF_SUB, F_CF, F_ZF,
} from "../flags";
import { getReg64, setReg64, getReg32, setReg32, setReg16, getRegSized, setRegSized, code64, RAX, RCX, RDX, RBX } from "../state";
import { faultPending, raiseUD, raiseGP } from "../fault";
import { linearAddr, BAD_ADDR } from "../segmem";
import { readLin, writeLin, probeWrite } from "../../mmu/access";
import { rmwRead, rmwWrite, readForWrite, shiftDouble, imulTrunc, putStatus, maskOf } from "./int_alu";
import { nearTarget } from "./integer";

@inline function amask(a: u32): u64 { return a == 8 ? 0xffffffffffffffff : (a == 4 ? 0xffffffff : 0xffff); }

// BT/BTS/BTR/BTC. kind 0 BT, 1 BTS, 2 BTR, 3 BTC. With a register bit offset and a memory
// operand the offset is signed and may select a bit outside the addressed operand (SDM Vol.2 BT).
function bitOp(kind: u32, s: u32, offset: u64, isImm: bool): void {
  const bits = <u64>(s * 8);
  let bit: u64;
  let v: u64;
  let lin: u64 = 0;
  if (D.modMod == 3) {
    v = getRegSized(D.modRm, s, D.rexPresent);
    bit = offset & (bits - 1);
  } else {
    let off = eaAddr();
    if (isImm) bit = offset & (bits - 1);
    else {
      const so = <i64>signExtend(offset, s);
      const sh = s == 2 ? 4 : (s == 4 ? 5 : 6);
      off = (off + <u64>((so >> sh) * <i64>s)) & amask(D.adSize);
      bit = <u64>so & (bits - 1);
    }
    lin = linearAddr(D.eaSeg, off, s, kind != 0);
    if (lin == BAD_ADDR) return;
    v = kind != 0 ? readForWrite(lin, s) : readLin(lin, s);
    if (faultPending) return;
  }
  const mask = (<u64>1) << bit;
  const cf = (v & mask) != 0;
  if (kind != 0) {
    const r = kind == 1 ? v | mask : (kind == 2 ? v & ~mask : v ^ mask);
    if (D.modMod == 3) setRegSized(D.modRm, s, r, D.rexPresent);
    else { writeLin(lin, s, r); if (faultPending) return; }
  }
  setStatusFlags(F_CF, cf ? F_CF : 0);
}

function shld(left: bool, useCl: bool): void {
  const s = D.opSize;
  let c: u32;
  if (useCl) c = <u32>getReg64(RCX) & 0xff;
  else { c = fetch8(); if (faultPending) return; }
  const src = readReg(s);
  const v = rmwRead(s);
  if (faultPending) return;
  if ((c & (s == 8 ? 0x3f : 0x1f)) == 0) {
    if (D.modMod == 3 && s == 4) rmwWrite(4, v); // a 32-bit register is still written (zero-extended)
    return;
  }
  const saved = D.modMod != 3 ? getRflags() : 0;
  const r = shiftDouble(left, s, v, src, c);
  rmwWrite(s, r);
  if (faultPending) setRflags(saved);
}

// RDRAND/RDSEED source: xorshift64* seeded with a fixed value, so runs are reproducible.
let rngState: u64 = 0x9e3779b97f4a7c15;
function rngNext(): u64 {
  let x = rngState;
  x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
  rngState = x;
  return x * 0x2545f4914f6cdd1d;
}

function group9(): void {
  const k = D.modReg & 7;
  if (D.modMod == 3) {
    if ((k == 6 || k == 7) && D.repPrefix == 0) {
      if (nonRoot && VX.exitRdrand(k == 7)) return;   // RDRAND / RDSEED exiting (vmx/)
      const s = D.opSize;
      setRegSized(D.modRm, s, rngNext(), false);
      putStatus(F_CF);
      return;
    }
    raiseUD();
    return;
  }
  if (k >= 6) { group9Vmx(k); return; }   // VMPTRLD/VMCLEAR/VMXON/VMPTRST (vmx/instr.ts)
  if (k != 1) { raiseUD(); return; }
  const off = eaAddr();
  if (D.rexW) { // CMPXCHG16B: the operand must be 16-byte aligned (#GP(0))
    const lin = linearAddr(D.eaSeg, off, 16, true);
    if (lin == BAD_ADDR) return;
    if ((lin & 15) != 0) { raiseGP(0); return; }
    if (!probeWrite(lin, 16)) return;
    const lo = readLin(lin, 8);
    if (faultPending) return;
    const hi = readLin(lin + 8, 8);
    if (faultPending) return;
    if (lo == getReg64(RAX) && hi == getReg64(RDX)) {
      writeLin(lin, 8, getReg64(RBX)); if (faultPending) return;
      writeLin(lin + 8, 8, getReg64(RCX)); if (faultPending) return;
      setStatusFlags(F_ZF, F_ZF);
    } else {
      writeLin(lin, 8, lo); if (faultPending) return;
      writeLin(lin + 8, 8, hi); if (faultPending) return;
      setReg64(RAX, lo); setReg64(RDX, hi);
      setStatusFlags(F_ZF, 0);
    }
    return;
  }
  const lin = linearAddr(D.eaSeg, off, 8, true);
  if (lin == BAD_ADDR) return;
  const v = readForWrite(lin, 8);
  if (faultPending) return;
  const cmp = (<u64>getReg32(RDX) << 32) | <u64>getReg32(RAX);
  if (v == cmp) {
    writeLin(lin, 8, (<u64>getReg32(RCX) << 32) | <u64>getReg32(RBX));
    if (faultPending) return;
    setStatusFlags(F_ZF, F_ZF);
  } else {
    writeLin(lin, 8, v);
    if (faultPending) return;
    setReg32(RAX, <u32>v); setReg32(RDX, <u32>(v >> 32));
    setStatusFlags(F_ZF, 0);
  }
}

export function exec0F(op: u32): void {
  switch (op) {
    case 0x10d: case 0x118: case 0x119: case 0x11a: case 0x11b: case 0x11c: case 0x11d: case 0x11e: case 0x11f:
      return; // PREFETCHh, reserved hint NOPs, NOP Ev, ENDBR32/64
    case 0x140: case 0x141: case 0x142: case 0x143: case 0x144: case 0x145: case 0x146: case 0x147:
    case 0x148: case 0x149: case 0x14a: case 0x14b: case 0x14c: case 0x14d: case 0x14e: case 0x14f: {
      const s = D.opSize;
      const v = readRM(s);
      if (faultPending) return;
      if (testCC(op & 15)) writeReg(s, v);
      else if (s == 4) writeReg(4, readReg(4)); // 32-bit CMOV always zero-extends
      return;
    }
    case 0x180: case 0x181: case 0x182: case 0x183: case 0x184: case 0x185: case 0x186: case 0x187:
    case 0x188: case 0x189: case 0x18a: case 0x18b: case 0x18c: case 0x18d: case 0x18e: case 0x18f: {
      const rel = (!code64 && D.opSize == 2) ? <u64><i64><i16>fetch16() : <u64><i64><i32>fetch32();
      if (faultPending) return;
      if (testCC(op & 15)) {
        const x = nearTarget(D.nextRip + rel);
        if (x != BAD_ADDR) D.nextRip = x;
      }
      return;
    }
    case 0x190: case 0x191: case 0x192: case 0x193: case 0x194: case 0x195: case 0x196: case 0x197:
    case 0x198: case 0x199: case 0x19a: case 0x19b: case 0x19c: case 0x19d: case 0x19e: case 0x19f:
      writeRM(1, testCC(op & 15) ? 1 : 0);
      return;
    case 0x1a3: bitOp(0, D.opSize, readReg(D.opSize), false); return;
    case 0x1ab: bitOp(1, D.opSize, readReg(D.opSize), false); return;
    case 0x1b3: bitOp(2, D.opSize, readReg(D.opSize), false); return;
    case 0x1bb: bitOp(3, D.opSize, readReg(D.opSize), false); return;
    case 0x1ba: {
      const k = D.modReg & 7;
      if (k < 4) { raiseUD(); return; }
      const imm = fetch8();
      if (faultPending) return;
      bitOp(k - 4, D.opSize, <u64>imm, true);
      return;
    }
    case 0x1a4: shld(true, false); return;
    case 0x1a5: shld(true, true); return;
    case 0x1ac: shld(false, false); return;
    case 0x1ad: shld(false, true); return;
    case 0x1af: {
      const s = D.opSize;
      const v = readRM(s);
      if (faultPending) return;
      writeReg(s, imulTrunc(s, readReg(s), v));
      return;
    }
    case 0x1b0: case 0x1b1: {
      const s = op == 0x1b0 ? 1 : D.opSize;
      const src = readReg(s);
      const dst = rmwRead(s);
      if (faultPending) return;
      const acc = getRegSized(RAX, s, false);
      if (((acc ^ dst) & maskOf(s)) == 0) {
        rmwWrite(s, src);
        if (faultPending) return;
      } else {
        rmwWrite(s, dst); // the locked cycle always writes (SDM Vol.2 CMPXCHG)
        if (faultPending) return;
        setRegSized(RAX, s, dst, false);
      }
      setLazy(LF_SUB, s, acc, dst, acc - dst);
      return;
    }
    case 0x1c0: case 0x1c1: {
      const s = op == 0x1c0 ? 1 : D.opSize;
      const src = readReg(s);
      const dst = rmwRead(s);
      if (faultPending) return;
      const r = dst + src;
      if (D.modMod == 3) { writeReg(s, dst); rmwWrite(s, r); }
      else { rmwWrite(s, r); if (faultPending) return; writeReg(s, dst); }
      setLazy(LF_ADD, s, dst, src, r);
      return;
    }
    case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: {
      const ss: u32 = (op & 1) != 0 ? 2 : 1;
      const v = readRM(ss);
      if (faultPending) return;
      writeReg(D.opSize, op >= 0x1be ? signExtend(v, ss) : v);
      return;
    }
    case 0x1b8: { // POPCNT (F3); JMPE otherwise
      if (D.repPrefix != 0xf3) { raiseUD(); return; }
      const s = D.opSize;
      const v = readRM(s);
      if (faultPending) return;
      writeReg(s, <u64>popcnt<u64>(v));
      putStatus(v == 0 ? F_ZF : 0);
      return;
    }
    case 0x1bc: case 0x1bd: {
      const s = D.opSize;
      const bits = <u64>(s * 8);
      const v = readRM(s) & maskOf(s);
      if (faultPending) return;
      if (D.repPrefix == 0xf3) { // TZCNT / LZCNT
        let r: u64;
        if (v == 0) r = bits;
        else r = op == 0x1bc ? ctz<u64>(v) : clz<u64>(v) - (64 - bits);
        writeReg(s, r);
        putStatus((v == 0 ? F_CF : 0) | (r == 0 ? F_ZF : 0));
        return;
      }
      // BSF / BSR: a zero source sets ZF and leaves the destination unchanged.
      if (v == 0) { setStatusFlags(F_ZF, F_ZF); return; }
      writeReg(s, op == 0x1bc ? ctz<u64>(v) : 63 - clz<u64>(v));
      setStatusFlags(F_ZF, 0);
      return;
    }
    case 0x1c7: group9(); return;
    case 0x1c8: case 0x1c9: case 0x1ca: case 0x1cb: case 0x1cc: case 0x1cd: case 0x1ce: case 0x1cf: {
      const r = (op & 7) | D.rexB;
      const s = D.opSize;
      if (s == 8) setReg64(r, bswap<u64>(getReg64(r)));
      else if (s == 4) setReg32(r, bswap<u32>(getReg32(r)));
      else setReg16(r, 0); // 16-bit BSWAP is undefined; Intel parts clear the low word
      return;
    }
    default: raiseUD(); return; // UD2, UD1, UD0 and anything unassigned
  }
}

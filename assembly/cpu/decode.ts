// Instruction fetch, prefixes, ModRM/SIB decoding and operand access.
// The decode context is a set of globals describing the instruction being executed;
// handlers in ops/*.ts read them. Contract for handlers:
//  * fetch every immediate before touching the memory operand (RIP-relative
//    addresses are relative to the end of the instruction, see eaAddr());
//  * after every access that can fault, check faultPending and return before
//    committing architectural state.
import {
  getRegSized, setRegSized, getReg64, segBase, segLimit, code64, codeDefault32, codeEpoch, cpl,
  CS, DS, SS, ES, FS, GS,
} from "./state";
import { raiseGP, faultPending } from "./fault";
import { readMem, writeMem, linearAddr, BAD_ADDR } from "./segmem";
import { codePage } from "../mmu/access";

// ---- decode context ----------------------------------------------------------
export let instrStart: u64 = 0;  // RIP of the first byte (prefixes included)
export let nextRip: u64 = 0;     // fetch cursor; becomes RIP when the instruction retires
export let opSize: u32 = 4;      // operand size in bytes: 2, 4, 8
export let adSize: u32 = 4;      // address size in bytes: 2, 4, 8
export let segOvr: i32 = -1;     // segment override (ES..GS) or -1
export let repPrefix: u32 = 0;   // 0, 0xF2 (REPNE) or 0xF3 (REP/REPE)
export let lockPrefix: bool = false;
export let prefix66: bool = false;
export let rexPresent: bool = false;
export let rexW: bool = false;
export let rexR: u32 = 0, rexX: u32 = 0, rexB: u32 = 0; // 0 or 8
export let opcode: u32 = 0;      // 0x00-0xFF one-byte map, 0x100-0x1FF the 0F map

export let modrm: u32 = 0;
export let modMod: u32 = 0;      // ModRM.mod
export let modReg: u32 = 0;      // ModRM.reg | REX.R
export let modRm: u32 = 0;       // ModRM.rm | REX.B (register operand when modMod == 3)
export let eaSeg: u32 = DS;      // segment of the memory operand (override applied)
export let eaOff: u64 = 0;       // offset of the memory operand (see eaAddr)
export let eaRipRel: bool = false;
export let eaBase: i32 = -1;     // base register of the memory operand, or -1 (POP r/m with rSP base)

export function setNextRip(v: u64): void { nextRip = v; }

// ---- instruction fetch -----------------------------------------------------
// One cached code page: linear page address -> host address, valid for codeEpoch.
let fpLin: u64 = 1;   // never page-aligned => no hit before the first fill
let fpHost: usize = 0;
let fpEpoch: u32 = 0xffffffff;

export function invalidateFetch(): void { fpLin = 1; winLo = 1; winHi = 0; }

function fetchSlow(lin: u64): bool {
  const page = lin & ~(<u64>0xfff);
  const h = codePage(page);
  if (h == 0) {
    // #PF already raised by the MMU; executing from MMIO is not supported: #GP.
    if (!faultPending) raiseGP(0);
    return false;
  }
  fpLin = page; fpHost = h; fpEpoch = codeEpoch;
  return true;
}

@inline function fetchLin(): u64 {
  if (code64) return nextRip;
  return (segBase(CS) + nextRip) & 0xffffffff;
}

// Fast fetch window: while nextRip < fastEnd, the byte at nextRip is at host address
// winBase + nextRip. Set up at the start of every instruction (beginFetch) from a cached
// code page; fastEnd never exceeds instrStart + 15, the page end or the CS limit, so
// anything beyond it takes the checked slow path (which raises #GP / #PF as needed).
let winLo: u64 = 1, winHi: u64 = 0;  // RIP range of the cached code page (clipped to CS limit)
let winBase: usize = 0;
let winEpoch: u32 = 0xffffffff;
let fastEnd: u64 = 0;

function refillWindow(): void {
  fastEnd = 0;
  const ip = nextRip;
  if (!code64 && ip > <u64>segLimit(CS)) return;
  const lin = fetchLin();
  if ((lin & ~(<u64>0xfff)) != fpLin || fpEpoch != codeEpoch) {
    if (!fetchSlow(lin)) return;
  }
  winLo = ip - (lin & 0xfff);
  winHi = winLo + 0x1000;
  if (!code64) {
    const lim = <u64>segLimit(CS) + 1;
    if (winHi > lim) winHi = lim;
  }
  winBase = fpHost - <usize>winLo;
  winEpoch = codeEpoch;
  const e = ip + 15;
  fastEnd = e < winHi ? e : winHi;
}
@inline function beginFetch(): void {
  const ip = nextRip;
  if (ip >= winLo && ip < winHi && winEpoch == codeEpoch) {
    const e = ip + 15;
    fastEnd = e < winHi ? e : winHi;
  } else refillWindow();
}

function fetch8Slow(): u32 {
  // SDM 2.3.11 (Vol.2): an instruction longer than 15 bytes raises #GP(0).
  if (nextRip - instrStart >= 15 || (!code64 && nextRip > <u64>segLimit(CS))) { raiseGP(0); return 0; }
  const lin = fetchLin();
  if ((lin & ~(<u64>0xfff)) != fpLin || fpEpoch != codeEpoch) {
    if (!fetchSlow(lin)) return 0;
  }
  nextRip++;
  return <u32>load<u8>(fpHost + <usize>(lin & 0xfff));
}
@inline export function fetch8(): u32 {
  const ip = nextRip;
  if (ip < fastEnd) { nextRip = ip + 1; return <u32>load<u8>(winBase + <usize>ip); }
  return fetch8Slow();
}
export function fetch16(): u32 {
  const ip = nextRip;
  if (ip + 2 <= fastEnd) { nextRip = ip + 2; return <u32>load<u16>(winBase + <usize>ip); }
  const lo = fetch8Slow(); return lo | (fetch8Slow() << 8);
}
export function fetch32(): u32 {
  const ip = nextRip;
  if (ip + 4 <= fastEnd) { nextRip = ip + 4; return load<u32>(winBase + <usize>ip); }
  const lo = fetch16(); return lo | (fetch16() << 16);
}
export function fetch64(): u64 {
  const ip = nextRip;
  if (ip + 8 <= fastEnd) { nextRip = ip + 8; return load<u64>(winBase + <usize>ip); }
  const lo = <u64>fetch32(); return lo | (<u64>fetch32() << 32);
}
// Immediate of operand size; 64-bit operands take a sign-extended imm32 (SDM 2.2.1.5).
export function fetchImm(size: u32): u64 {
  if (size == 1) return <u64>fetch8();
  if (size == 2) return <u64>fetch16();
  if (size == 4) return <u64>fetch32();
  return <u64><i64><i32>fetch32();
}
@inline export function fetchSImm8(): u64 { return <u64><i64><i8>fetch8(); }

// ---- prefixes ----------------------------------------------------------------
// Decode prefixes and the opcode (one- or two-byte map) into the context.
// Three-byte maps (0F 38, 0F 3A) are left to the handler of 0x138 / 0x13A.
// 1 = legacy prefix byte, 2 = 40-4F (REX in 64-bit mode), 3 = 0F escape.
const PFX: usize = memory.data<u8>([
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,3, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,1,0, 0,0,0,0,0,0,1,0, 0,0,0,0,0,0,1,0, 0,0,0,0,0,0,1,0,
  2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,1,1,1,1, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,
  0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0, 1,0,1,1,0,0,0,0, 0,0,0,0,0,0,0,0,
]);

// Whether the prefix fields may hold values from the previous instruction.
let pfxDirty: bool = true;
// Hot path, inlined into the dispatcher: an opcode byte with at most a REX prefix or the
// 0F escape in front (no legacy prefixes). pfxDirty says whether the legacy-prefix fields
// still hold values from an earlier instruction (then the slow path resets them).
@inline export function decodePrefixes(): void {
  opSize = codeDefault32 ? 4 : 2;
  adSize = code64 ? 8 : (codeDefault32 ? 4 : 2);
  beginFetch();
  const ip = nextRip;
  if (ip + 1 < fastEnd && !pfxDirty) {
    const b0 = <u32>load<u8>(winBase + <usize>ip);
    const k = load<u8>(PFX + <usize>b0);
    if (k == 0 || (k == 2 && !code64)) {
      rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0;
      nextRip = ip + 1;
      opcode = b0;
      return;
    }
    const b1 = <u32>load<u8>(winBase + <usize>ip + 1);
    const k1 = load<u8>(PFX + <usize>b1);
    if (k == 3) {
      rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0;
      nextRip = ip + 2;
      opcode = 0x100 | b1;
      return;
    }
    if (k == 2 && k1 == 0) {  // REX + one-byte opcode (64-bit mode)
      rexPresent = true;
      rexW = (b0 & 8) != 0; rexR = (b0 & 4) << 1; rexX = (b0 & 2) << 2; rexB = (b0 & 1) << 3;
      if (rexW) opSize = 8;
      nextRip = ip + 2;
      opcode = b1;
      return;
    }
  }
  decodePrefixesSlow();
}
function decodePrefixesSlow(): void {
  segOvr = -1; repPrefix = 0; lockPrefix = false; prefix66 = false;
  rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0;
  pfxDirty = false;
  let b: u32;
  while (true) {
    b = fetch8();
    if (faultPending) return;
    if (load<u8>(PFX + <usize>b) != 0 && b != 0x0f) pfxDirty = true;
    switch (b) {
      case 0x66: prefix66 = true; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x67: adSize = code64 ? 4 : (codeDefault32 ? 2 : 4); rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x26: segOvr = <i32>ES; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x2e: segOvr = <i32>CS; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x36: segOvr = <i32>SS; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x3e: segOvr = <i32>DS; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x64: segOvr = <i32>FS; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0x65: segOvr = <i32>GS; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0xf0: lockPrefix = true; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      case 0xf2: case 0xf3: repPrefix = b; rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; continue;
      default: break;
    }
    // SDM 2.2.1: REX must immediately precede the opcode; an earlier REX is ignored.
    if (code64 && (b & 0xf0) == 0x40) {
      rexPresent = true;
      rexW = (b & 8) != 0; rexR = (b & 4) << 1; rexX = (b & 2) << 2; rexB = (b & 1) << 3;
      continue;
    }
    break;
  }
  if (prefix66) opSize = code64 ? 2 : (codeDefault32 ? 2 : 4);
  if (rexW) opSize = 8;
  if (b == 0x0f) {
    b = fetch8();
    if (faultPending) return;
    opcode = 0x100 | b;
  } else opcode = b;
}

// 64-bit mode: near branches, PUSH/POP and friends default to 64-bit operands
// (SDM 2.2.1.7); 66h still selects 16 bits.
@inline export function opSizeDefault64(): u32 {
  if (code64) return prefix66 && !rexW ? 2 : 8;
  return opSize;
}

// ---- ModRM / SIB -------------------------------------------------------------
@inline function maskAd(v: u64): u64 {
  const a = adSize;
  return a == 8 ? v : (a == 4 ? v & 0xffffffff : v & 0xffff);
}

// Register operands (mod = 3) are decoded inline; memory forms go to decodeModrmMem.
@inline export function decodeModrm(): void {
  const ip = nextRip;
  if (ip < fastEnd) {
    const b = <u32>load<u8>(winBase + <usize>ip);
    if (b >= 0xc0) {
      nextRip = ip + 1;
      modrm = b; modMod = 3;
      modReg = ((b >> 3) & 7) | rexR;
      modRm = (b & 7) | rexB;
      eaRipRel = false; eaBase = -1;
      return;
    }
  }
  decodeModrmMem();
}
function decodeModrmMem(): void {
  const b = fetch8();
  modrm = b;
  modMod = b >> 6;
  modReg = ((b >> 3) & 7) | rexR;
  eaRipRel = false;
  eaBase = -1;
  if (modMod == 3) { modRm = (b & 7) | rexB; return; }
  let rm = b & 7;
  let seg: u32 = DS;
  let off: u64 = 0;
  if (adSize == 2) {
    // SDM Vol.2 Table 2-1.
    switch (rm) {
      case 0: off = getReg64(3) + getReg64(6); break;
      case 1: off = getReg64(3) + getReg64(7); break;
      case 2: off = getReg64(5) + getReg64(6); seg = SS; break;
      case 3: off = getReg64(5) + getReg64(7); seg = SS; break;
      case 4: off = getReg64(6); break;
      case 5: off = getReg64(7); break;
      case 6: if (modMod == 0) off = 0; else { off = getReg64(5); seg = SS; } break;
      default: off = getReg64(3); break;
    }
    if (modMod == 0 && rm == 6) off = <u64>fetch16();
    else if (modMod == 1) off += fetchSImm8();
    else if (modMod == 2) off += <u64>fetch16();
    off &= 0xffff;
  } else {
    if (rm == 4) {
      const sib = fetch8();
      const scale = sib >> 6;
      const idx = ((sib >> 3) & 7) | rexX;
      const base = sib & 7;
      if (idx != 4) off = getReg64(idx) << <u64>scale;
      if (base == 5 && modMod == 0) {
        off += <u64><i64><i32>fetch32();
      } else {
        const breg = base | rexB;
        off += getReg64(breg);
        eaBase = <i32>breg;
        if (base == 4 || base == 5) seg = SS;
      }
    } else if (rm == 5 && modMod == 0) {
      off = <u64><i64><i32>fetch32();
      if (code64) eaRipRel = true;  // SDM 2.2.1.6
    } else {
      const r = rm | rexB;
      off = getReg64(r);
      eaBase = <i32>r;
      if (rm == 5) seg = SS;  // rBP-based addressing defaults to SS (SDM 3.7.4)
    }
    if (modMod == 1) off += fetchSImm8();
    else if (modMod == 2) off += <u64><i64><i32>fetch32();
    off = maskAd(off);
  }
  modRm = rm | rexB;
  eaSeg = segOvr >= 0 ? <u32>segOvr : seg;
  eaOff = off;
}

// Effective offset of the memory operand. Call after all immediates are fetched.
@inline export function eaAddr(): u64 {
  return eaRipRel ? maskAd(eaOff + nextRip) : eaOff;
}
// Default-DS segment honouring an override (string sources, XLAT, moffs).
@inline export function dsSeg(): u32 { return segOvr >= 0 ? <u32>segOvr : DS; }

// ---- operand access ------------------------------------------------------------
export function readRM(size: u32): u64 {
  if (modMod == 3) return getRegSized(modRm, size, rexPresent);
  return readMem(eaSeg, eaAddr(), size);
}
export function writeRM(size: u32, v: u64): void {
  if (modMod == 3) { setRegSized(modRm, size, v, rexPresent); return; }
  writeMem(eaSeg, eaAddr(), size, v);
}
// Linear address of the memory operand checked for a write of `size` (for RMW ops that
// want to fault before computing), or BAD_ADDR with the fault raised.
export function rmLinear(size: u32, write: bool): u64 { return linearAddr(eaSeg, eaAddr(), size, write); }

@inline export function readReg(size: u32): u64 { return getRegSized(modReg, size, rexPresent); }
@inline export function writeReg(size: u32, v: u64): void { setRegSized(modReg, size, v, rexPresent); }

// Size masks and sign extension helpers shared by all instruction modules.
@inline export function sizeMask(size: u32): u64 {
  return size == 8 ? 0xffffffffffffffff : (((<u64>1) << (<u64>size * 8)) - 1);
}
@inline export function signExtend(v: u64, size: u32): u64 {
  if (size == 1) return <u64><i64><i8>v;
  if (size == 2) return <u64><i64><i16>v;
  if (size == 4) return <u64><i64><i32>v;
  return v;
}

// Instruction fetch, prefixes, ModRM/SIB decoding and operand access.
// The decode context is a set of globals describing the instruction being executed;
// handlers in ops/*.ts read them. Contract for handlers:
//  * fetch every immediate before touching the memory operand (RIP-relative
//    addresses are relative to the end of the instruction, see eaAddr());
//  * after every access that can fault, check faultPending and return before
//    committing architectural state.
import {
  getRegSized, setRegSized, getReg64, segBase, segLimit, code64, codeDefault32, codeEpoch,
  CS, DS, SS, ES, FS, GS,
} from "./state";
import { raiseGP, faultPending } from "./fault";
import { readMem, writeMem, linearAddr, isCanonical, BAD_ADDR } from "./segmem";
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
// A fetch window maps a run of RIP values onto host memory: host = fwBias + rip (u32
// wrap-around arithmetic), valid for rip < fetchEnd. fetchEnd is the smallest of the
// end of the cached code page, the CS limit + 1 and instrStart + 15 (SDM Vol.2 2.3.11:
// longer instructions raise #GP), so the common fetch is one compare and one load.
let fwBias: usize = 0;
let fwStart: u64 = 1;  // RIP range [fwStart, fwEnd) covered by the window
let fwEnd: u64 = 0;
let fwEpoch: u32 = 0xffffffff;
let fetchEnd: u64 = 0;

export function invalidateFetch(): void { fwEnd = 0; fwStart = 1; fetchEnd = 0; }

// Called at the start of each instruction (after instrStart is set).
@inline export function beginFetch(): void {
  const lim = instrStart + 15;
  if (fwEpoch != codeEpoch || instrStart < fwStart) { fetchEnd = 0; return; }
  fetchEnd = fwEnd < lim ? fwEnd : lim;
}

function fetch8Slow(): u32 {
  if (nextRip - instrStart >= 15) { raiseGP(0); return 0; }
  if (!code64 && nextRip > <u64>segLimit(CS)) { raiseGP(0); return 0; }
  // Running sequentially off the top of the lower canonical half (SDM 3.3.7.1): #GP(0).
  if (code64 && !isCanonical(nextRip)) { raiseGP(0); return 0; }
  const lin: u64 = code64 ? nextRip : ((segBase(CS) + nextRip) & 0xffffffff);
  const page = lin & ~(<u64>0xfff);
  const h = codePage(lin);   // the byte address: CR2 on #PF
  if (h == 0) {
    // #PF already raised by the MMU; executing from MMIO is not supported: #GP.
    if (!faultPending) raiseGP(0);
    return 0;
  }
  // The window covers RIPs whose linear address lies in this page.
  const ripPage = nextRip - (lin & 0xfff);
  fwStart = ripPage;
  fwEnd = ripPage + 4096;
  if (!code64) {
    const limEnd = <u64>segLimit(CS) + 1;
    if (fwEnd > limEnd) fwEnd = limEnd;
  }
  fwBias = h - <usize>ripPage;
  fwEpoch = codeEpoch;
  const lim = instrStart + 15;
  fetchEnd = fwEnd < lim ? fwEnd : lim;
  const r = nextRip;
  nextRip = r + 1;
  return <u32>load<u8>(fwBias + <usize>r);
}

@inline export function fetch8(): u32 {
  const r = nextRip;
  if (r < fetchEnd) {  // beginFetch guarantees instrStart >= fwStart
    nextRip = r + 1;
    return <u32>load<u8>(fwBias + <usize>r);
  }
  return fetch8Slow();
}
export function fetch16(): u32 {
  const r = nextRip;
  if (r + 2 <= fetchEnd) { nextRip = r + 2; return <u32>load<u16>(fwBias + <usize>r); }
  const lo = fetch8(); return lo | (fetch8() << 8);
}
export function fetch32(): u32 {
  const r = nextRip;
  if (r + 4 <= fetchEnd) { nextRip = r + 4; return load<u32>(fwBias + <usize>r); }
  const lo = fetch16(); return lo | (fetch16() << 16);
}
export function fetch64(): u64 { const lo = <u64>fetch32(); return lo | (<u64>fetch32() << 32); }
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
// Legacy prefix bytes (66 67 26 2E 36 3E 64 65 F0 F2 F3) as a 256-bit set, so the
// common prefix-free instruction costs one test.
const PREFIX_SET: usize = memory.data<u32>([0, 0x40404040, 0, 0xf0, 0, 0, 0, 0x000d0000]);
@inline function isLegacyPrefix(b: u32): bool {
  return (load<u32>(PREFIX_SET + ((<usize>b >> 5) << 2)) & (1 << (b & 31))) != 0;
}
// Set when the previous instruction had prefixes, so their state must be cleared.
let prefixDirty: bool = true;

@inline function clearRex(): void { rexPresent = false; rexW = false; rexR = 0; rexX = 0; rexB = 0; }

// Start the instruction at RIP r: set up the fetch window (beginFetch), then decode
// prefixes and opcode. The common shapes (opcode, 0F opcode, REX + either) are decoded
// here with the fetch cursor in a local, so nextRip is written once; anything with
// legacy prefixes, or too close to the end of the fetch window, takes decodePrefixes.
@inline export function startInstr(r: u64): void {
  instrStart = r;
  const valid = fwEpoch == codeEpoch && r >= fwStart;
  const we = fwEnd;
  if (valid && r + 3 <= we) {  // REX + 0F + opcode all inside the window
    const h = fwBias + <usize>r;
    let b = <u32>load<u8>(h);
    let n: u64 = 1;
    let rex: u32 = 0;
    const c64 = code64;
    if (c64 && (b & 0xf0) == 0x40) { rex = b; b = <u32>load<u8>(h + 1); n = 2; }
    if (!isLegacyPrefix(b) && !(c64 && (b & 0xf0) == 0x40)) {
      if (b == 0x0f) { b = 0x100 | <u32>load<u8>(h + <usize>n); n++; }
      nextRip = r + n;
      opcode = b;
      // Without legacy prefixes no instruction reaches 15 bytes (REX 0F 3A op ModRM SIB
      // disp32 imm8 is 12), so the fetch limit is just the window end.
      if (fetchEnd != we) fetchEnd = we;
      let os: u32 = codeDefault32 ? 4 : 2;
      adSize = c64 ? 8 : os;
      if (prefixDirty) {
        segOvr = -1; repPrefix = 0; lockPrefix = false; prefix66 = false;
        prefixDirty = false;
        if (rex == 0) clearRex();
      }
      if (rex != 0) {
        prefixDirty = true;  // the REX fields are cleared by the next instruction
        rexPresent = true;
        const w = (rex & 8) != 0;
        rexW = w; rexR = (rex & 4) << 1; rexX = (rex & 2) << 2; rexB = (rex & 1) << 3;
        if (w) os = 8;
      }
      opSize = os;
      return;
    }
  }
  let fe: u64 = 0;
  if (valid) {
    const lim = r + 15;
    fe = we < lim ? we : lim;
  }
  fetchEnd = fe;
  nextRip = r;
  decodePrefixes();
}

export function decodePrefixes(): void {
  opSize = codeDefault32 ? 4 : 2;
  adSize = code64 ? 8 : (codeDefault32 ? 4 : 2);
  if (prefixDirty) {
    segOvr = -1; repPrefix = 0; lockPrefix = false; prefix66 = false;
    clearRex();
    prefixDirty = false;
  }
  let b = fetch8();
  // Common 64-bit case: one REX directly followed by the opcode.
  if (code64 && (b & 0xf0) == 0x40) {
    const r = nextRip;
    if (r < fetchEnd) {
      const b1 = <u32>load<u8>(fwBias + <usize>r);
      if (!isLegacyPrefix(b1) && (b1 & 0xf0) != 0x40) {
        prefixDirty = true;  // the REX fields are cleared by the next instruction
        rexPresent = true;
        rexW = (b & 8) != 0; rexR = (b & 4) << 1; rexX = (b & 2) << 2; rexB = (b & 1) << 3;
        if (rexW) opSize = 8;
        nextRip = r + 1;
        b = b1;
      }
    }
  }
  if (isLegacyPrefix(b) || (code64 && (b & 0xf0) == 0x40)) {
    prefixDirty = true;
    while (true) {
      if (faultPending) return;
      switch (b) {
        case 0x66: prefix66 = true; clearRex(); b = fetch8(); continue;
        case 0x67: adSize = code64 ? 4 : (codeDefault32 ? 2 : 4); clearRex(); b = fetch8(); continue;
        case 0x26: segOvr = <i32>ES; clearRex(); b = fetch8(); continue;
        case 0x2e: segOvr = <i32>CS; clearRex(); b = fetch8(); continue;
        case 0x36: segOvr = <i32>SS; clearRex(); b = fetch8(); continue;
        case 0x3e: segOvr = <i32>DS; clearRex(); b = fetch8(); continue;
        case 0x64: segOvr = <i32>FS; clearRex(); b = fetch8(); continue;
        case 0x65: segOvr = <i32>GS; clearRex(); b = fetch8(); continue;
        case 0xf0: lockPrefix = true; clearRex(); b = fetch8(); continue;
        case 0xf2: case 0xf3: repPrefix = b; clearRex(); b = fetch8(); continue;
        default: break;
      }
      // SDM 2.2.1: REX must immediately precede the opcode; an earlier REX is ignored.
      if (code64 && (b & 0xf0) == 0x40) {
        rexPresent = true;
        rexW = (b & 8) != 0; rexR = (b & 4) << 1; rexX = (b & 2) << 2; rexB = (b & 1) << 3;
        b = fetch8();
        continue;
      }
      break;
    }
    if (prefix66) opSize = code64 ? 2 : (codeDefault32 ? 2 : 4);
    if (rexW) opSize = 8;
  }
  if (b == 0x0f) {
    b = fetch8();
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
@inline export function maskAd(v: u64): u64 {
  const a = adSize;
  return a == 8 ? v : (a == 4 ? v & 0xffffffff : v & 0xffff);
}

// Register operands (mod = 3) are decoded inline; memory forms go to decodeModrmMem.
// (eaRipRel / eaBase describe memory operands only; eaAddr is not used for mod = 3.)
@inline export function decodeModrm(): void {
  if (!decodeModrmReg()) decodeModrmMem();
}
// Host address of the code byte at RIP r if the whole 15-byte maximum instruction at r
// lies in the current fetch window, else 0 (for the run loop's hot path, which decodes
// without the decode context).
@inline export function hotFetch(r: u64): usize {
  if (fwEpoch != codeEpoch || r < fwStart || r + 15 > fwEnd) return 0;
  return fwBias + <usize>r;
}
// The same window for a run of hot instructions (nothing on the hot path changes it):
// RIPs r in [hotLo(), hotHi()] have their 15 bytes at hotBias() + r. Empty (lo > hi) if stale.
@inline export function hotLo(): u64 { return fwEpoch == codeEpoch ? fwStart : u64.MAX_VALUE; }
@inline export function hotHi(): u64 { return fwEnd >= 15 ? fwEnd - 15 : 0; }
@inline export function hotBias(): usize { return fwBias; }

// Only the register form of decodeModrm: true (ModRM consumed and decoded) if mod = 3,
// false with nothing consumed otherwise.
@inline export function decodeModrmReg(): bool {
  const r = nextRip;
  if (r < fetchEnd) {
    const b = <u32>load<u8>(fwBias + <usize>r);
    if (b >= 0xc0) {
      nextRip = r + 1;
      modrm = b; modMod = 3;
      modReg = ((b >> 3) & 7) | rexR;
      modRm = (b & 7) | rexB;
      return true;
    }
  }
  return false;
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

// A far pointer m16:off (off of operand size, then the selector) at the memory operand, for
// far JMP/CALL through memory and LDS/LES/LSS/LFS/LGS. False (fault raised) if unreadable.
export let farOff: u64 = 0;
export let farSel: u32 = 0;
export function readFarPointer(): bool {
  const sz = opSize;
  const ea = eaAddr();
  const off = readMem(eaSeg, ea, sz);
  if (faultPending) return false;
  const sel = <u32>readMem(eaSeg, maskAd(ea + <u64>sz), 2);
  if (faultPending) return false;
  farOff = off; farSel = sel;
  return true;
}

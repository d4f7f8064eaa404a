// Segment descriptors (SDM 3.4.5, 5.x): fetching from the GDT/LDT, decoding into the
// hidden-part layout of state.ts, the segment-register load rules with their error
// codes (SDM 5.4-5.8, Vol.2 MOV/POP), and a stack-frame builder used by far
// transfers, interrupt delivery and IRET (pushes to a stack that is not yet SS).
import * as S from "./state";
import {
  SS, CS, LDTR, AR_UNUSABLE, AR_P, AR_S, AR_TYPE, AR_DB, AR_L,
} from "./state";
import { raiseFault, faultPending, EXC_GP, EXC_NP, EXC_SS, EXC_TS } from "./fault";
import { readLin, writeLin, setImplicitSupervisor } from "../mmu/access";
import { isCanonical } from "./segmem";

// ---- fetched descriptor -------------------------------------------------------
export let dLo: u32 = 0, dHi: u32 = 0;   // the 8 descriptor bytes
export let dHi2: u64 = 0;                // bytes 8..15 of a 16-byte long-mode system descriptor
export let dAddr: u64 = 0;               // linear address of the descriptor

@inline export function selErr(sel: u32): u32 { return sel & 0xfffc; }

export function raiseSel(vec: u32, sel: u32): void { raiseFault(vec, sel & 0xfffc, true); }

// Implicit supervisor-mode reads of system tables (SDM 4.6).
export function sysRead(lin: u64, size: u32): u64 {
  setImplicitSupervisor(true);
  const v = readLin(S.longMode ? lin : lin & 0xffffffff, size);
  setImplicitSupervisor(false);
  return v;
}
export function sysWrite(lin: u64, size: u32, v: u64): void {
  setImplicitSupervisor(true);
  writeLin(S.longMode ? lin : lin & 0xffffffff, size, v);
  setImplicitSupervisor(false);
}

// Fetch the descriptor of `sel` (8 bytes, or 16 when wide). Returns false when the
// selector is outside its table (no fault raised: the caller picks the error) or when
// the read faulted (#PF pending).
export function fetchDesc(sel: u32, wide: bool): bool {
  let base: u64, limit: u32;
  if ((sel & 4) != 0) {
    if ((S.segAttr(LDTR) & AR_UNUSABLE) != 0 || (S.segSel(LDTR) & 0xfffc) == 0) return false;
    base = S.segBase(LDTR); limit = S.segLimit(LDTR);
  } else { base = S.gdtrBase; limit = S.gdtrLimit; }
  const idx = sel & 0xfff8;
  if (idx + (wide ? 15 : 7) > limit) return false;
  dAddr = base + <u64>idx;
  const v = sysRead(dAddr, 8);
  if (faultPending) return false;
  dLo = <u32>v; dHi = <u32>(v >> 32);
  if (wide) {
    dHi2 = sysRead(dAddr + 8, 8);
    if (faultPending) return false;
  }
  return true;
}
@inline export function dType(): u32 { return (dHi >> 8) & 0xf; }
@inline export function dS(): bool { return (dHi & 0x1000) != 0; }
@inline export function dDpl(): u32 { return (dHi >> 13) & 3; }
@inline export function dP(): bool { return (dHi & 0x8000) != 0; }
@inline export function dIsCode(): bool { return (dHi & 0x1800) == 0x1800; }
@inline export function dConforming(): bool { return (dHi & 0x400) != 0; }
export function dBase(): u64 { return <u64>((dLo >> 16) | ((dHi & 0xff) << 16) | (dHi & 0xff000000)); }
export function dBase64(): u64 { return dBase() | ((dHi2 & 0xffffffff) << 32); }
export function dLimit(): u32 {
  const raw = (dLo & 0xffff) | (dHi & 0xf0000);
  return (dHi & 0x800000) != 0 ? (raw << 12) | 0xfff : raw;
}
// Access rights in the state.ts (VMX) layout.
@inline export function dAr(): u32 { return (dHi >> 8) & 0xf0ff; }
// Gate fields (call/interrupt/trap/task gates).
@inline export function gSel(): u32 { return dLo >> 16; }
export function gOff(): u64 { return <u64>((dLo & 0xffff) | (dHi & 0xffff0000)); }
export function gOff64(): u64 { return gOff() | ((dHi2 & 0xffffffff) << 32); }

// SDM 3.4.5.1: set the accessed bit in memory (locked RMW on hardware).
export function setAccessed(): void {
  if ((dHi & 0x100) != 0) return;
  dHi |= 0x100;
  sysWrite(dAddr + 5, 1, <u64>((dHi >> 8) & 0xff));
}

// CPL in protected mode is SS.DPL (which always equals CS.RPL after any transfer; it
// differs from CS.DPL in conforming code). updateMode() derives it from CS.DPL.
export function syncMode(): void {
  S.updateMode();
  if (S.protMode && !S.vm86) S.setCpl(S.segDpl(SS));
}

// Load a data segment register or SS: MOV Sreg, POP Sreg, LDS..LGS (SDM Vol.2 MOV).
export function loadSeg(seg: u32, sel: u32): void {
  sel &= 0xffff;
  if (!S.protMode || S.vm86) {
    S.setSegReal(seg, sel);
    if (S.vm86) S.setSeg(seg, sel, <u64>sel << 4, 0xffff, 0xf3);
    if (seg == SS) syncMode();
    return;
  }
  const rpl = sel & 3, cpl = S.cpl;
  if ((sel & 0xfffc) == 0) {
    if (seg == SS) {
      // SDM 3.4.4: 64-bit mode allows a null SS below CPL 3 (RPL must equal CPL).
      if (!S.code64 || cpl == 3 || rpl != cpl) { raiseFault(EXC_GP, 0, true); return; }
      S.setSeg(SS, sel, 0, 0, AR_UNUSABLE | (cpl << 5) | AR_DB | 0x13);
      syncMode();
      return;
    }
    S.setSeg(seg, sel, 0, 0, AR_UNUSABLE);
    return;
  }
  if (!fetchDesc(sel, false)) { if (!faultPending) raiseSel(EXC_GP, sel); return; }
  const type = dType(), dpl = dDpl();
  if (seg == SS) {
    if (rpl != cpl || dpl != cpl || !dS() || (type & 0xa) != 2) { raiseSel(EXC_GP, sel); return; }
    if (!dP()) { raiseSel(EXC_SS, sel); return; }
  } else {
    if (!dS() || (type & 0xa) == 8) { raiseSel(EXC_GP, sel); return; }
    // Data and non-conforming code: DPL >= max(CPL, RPL).
    if ((type & 0xc) != 0xc && (rpl > dpl || cpl > dpl)) { raiseSel(EXC_GP, sel); return; }
    if (!dP()) { raiseSel(EXC_NP, sel); return; }
  }
  setAccessed();
  if (faultPending) return;
  S.setSeg(seg, sel, dBase(), dLimit(), dAr());
  if (seg == SS) syncMode();
}

// Load CS from the descriptor in dLo/dHi (already checked) with RPL = cpl.
export function commitCs(sel: u32, newCpl: u32): void {
  S.setSeg(CS, (sel & 0xfffc) | newCpl, dBase(), dLimit(), dAr());
}

// SDM 5.8 / 6.12.1: selector checks for a stack segment taken from a TSS
// (interrupt or call-gate privilege change). Faults are #TS(sel) / #SS(sel), with EXT.
// On success the descriptor is in dLo/dHi.
export function checkTssStack(sel: u32, newCpl: u32, ext: u32): bool {
  if ((sel & 0xfffc) == 0) { raiseFault(EXC_TS, ext, true); return false; }
  if (!fetchDesc(sel, false)) { if (!faultPending) raiseFault(EXC_TS, (sel & 0xfffc) | ext, true); return false; }
  if ((sel & 3) != newCpl || dDpl() != newCpl || !dS() || (dType() & 0xa) != 2) {
    raiseFault(EXC_TS, (sel & 0xfffc) | ext, true); return false;
  }
  if (!dP()) { raiseFault(EXC_SS, (sel & 0xfffc) | ext, true); return false; }
  return true;
}

// Stack pointer for privilege level n from the current TSS (SDM 7.2.1 / 7.7).
// Sets tssSs / tssSp; returns false with #TS raised when TR's limit is too small.
export let tssSs: u32 = 0;
export let tssSp: u64 = 0;
export function tssStack(n: u32, ext: u32): bool {
  const trSel = S.segSel(S.TR);
  const base = S.segBase(S.TR), limit = S.segLimit(S.TR);
  if (S.longMode) {
    const off: u32 = 4 + n * 8;
    if (off + 7 > limit) { raiseFault(EXC_TS, (trSel & 0xfffc) | ext, true); return false; }
    tssSp = sysRead(base + <u64>off, 8);
    tssSs = 0;
    return !faultPending;
  }
  if ((S.segAttr(S.TR) & 8) != 0) {   // 32-bit TSS
    const off: u32 = 4 + n * 8;
    if (off + 5 > limit) { raiseFault(EXC_TS, (trSel & 0xfffc) | ext, true); return false; }
    tssSp = sysRead(base + <u64>off, 4);
    tssSs = <u32>sysRead(base + <u64>(off + 4), 2);
  } else {                            // 16-bit TSS
    const off: u32 = 2 + n * 4;
    if (off + 3 > limit) { raiseFault(EXC_TS, (trSel & 0xfffc) | ext, true); return false; }
    tssSp = sysRead(base + <u64>off, 2);
    tssSs = <u32>sysRead(base + <u64>(off + 2), 2);
  }
  return !faultPending;
}
// 64-bit TSS IST entry n (1..7).
export function tssIst(n: u32, ext: u32): bool {
  const off: u32 = 0x24 + (n - 1) * 8;
  if (off + 7 > S.segLimit(S.TR)) { raiseFault(EXC_TS, (S.segSel(S.TR) & 0xfffc) | ext, true); return false; }
  tssSp = sysRead(S.segBase(S.TR) + <u64>off, 8);
  return !faultPending;
}

// ---- stack frames ----------------------------------------------------------------
// A stack described by base/limit/attributes and a pointer; pushes/pops check the
// limit (#SS(frErr)) and go through the linear API. Nothing is committed to RSP/SS:
// the caller does that once the whole transfer has succeeded.
let fBase: u64 = 0, fLimit: u32 = 0, fAr: u32 = 0, fAsz: u32 = 4, fErr: u32 = 0;
let fSup: bool = false;   // accesses use supervisor rules (a more privileged stack, SDM 6.12.1)
export function frameSupervisor(v: bool): void { fSup = v; }
export let fSp: u64 = 0;

export function frameInit(base: u64, limit: u32, ar: u32, sp: u64, asz: u32, err: u32): void {
  fBase = base; fLimit = limit; fAr = ar; fAsz = asz; fErr = err; fSup = false;
  fSp = maskAsz(sp, asz);
}
// The current SS:RSP.
export function frameCurrent(): void {
  const asz: u32 = S.code64 ? 8 : (S.stack32 ? 4 : 2);
  frameInit(S.segBase(SS), S.segLimit(SS), S.segAttr(SS), S.getReg64(S.RSP), asz, 0);
}
@inline function maskAsz(v: u64, asz: u32): u64 {
  return asz == 8 ? v : (asz == 4 ? v & 0xffffffff : v & 0xffff);
}
function frameLin(sp: u64, size: u32): u64 {
  if (fAsz == 8) {
    if (!isCanonical(sp) || !isCanonical(sp + <u64>(size - 1))) { raiseFault(EXC_SS, 0, true); return u64.MAX_VALUE; }
    return sp;
  }
  if (S.protMode && !S.vm86) {
    const last = sp + <u64>(size - 1);
    if ((fAr & AR_S) != 0 && (fAr & 0xc) == 4) {   // expand-down (SDM 3.4.5.1)
      const top: u64 = (fAr & AR_DB) != 0 ? 0xffffffff : 0xffff;
      if (sp <= <u64>fLimit || last > top) { raiseFault(EXC_SS, fErr, true); return u64.MAX_VALUE; }
    } else if (last > <u64>fLimit) { raiseFault(EXC_SS, fErr, true); return u64.MAX_VALUE; }
  } else if (sp + <u64>(size - 1) > <u64>fLimit) { raiseFault(EXC_SS, 0, true); return u64.MAX_VALUE; }
  return (fBase + sp) & 0xffffffff;
}
export function framePush(v: u64, size: u32): void {
  if (faultPending) return;
  const sp = maskAsz(fSp - <u64>size, fAsz);
  const lin = frameLin(sp, size);
  if (lin == u64.MAX_VALUE) return;
  if (fSup) setImplicitSupervisor(true);
  writeLin(lin, size, v);
  if (fSup) setImplicitSupervisor(false);
  if (faultPending) return;
  fSp = sp;
}
export function framePop(size: u32): u64 {
  if (faultPending) return 0;
  const lin = frameLin(fSp, size);
  if (lin == u64.MAX_VALUE) return 0;
  if (fSup) setImplicitSupervisor(true);
  const v = readLin(lin, size);
  if (fSup) setImplicitSupervisor(false);
  if (faultPending) return 0;
  fSp = maskAsz(fSp + <u64>size, fAsz);
  return v;
}
export function frameSkip(n: u64): void { fSp = maskAsz(fSp + n, fAsz); }
// Write RSP with the frame's width (a 16-bit stack keeps RSP[63:16]).
export function commitSp(sp: u64, asz: u32): void {
  if (asz == 8) S.setReg64(S.RSP, sp);
  else if (asz == 4) S.setReg32(S.RSP, <u32>sp);
  else S.setReg16(S.RSP, <u32>sp);
}
export function commitFrameSp(): void { commitSp(fSp, fAsz); }
export { AR_P, AR_S, AR_TYPE, AR_L };

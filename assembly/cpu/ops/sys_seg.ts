// Segment registers and descriptor tables: MOV/PUSH/POP Sreg, LDS..LGS, group 6
// (SLDT STR LLDT LTR VERR VERW), LAR/LSL, and the descriptor-table forms of group 7
// (SGDT SIDT LGDT LIDT SMSW LMSW INVLPG).
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import * as S from "../state";
import { SS, LDTR, TR, AR_UNUSABLE } from "../state";
import { raiseFault, faultPending, raiseUD, raiseGP, EXC_GP, EXC_NP } from "../fault";
import * as D from "../descriptors";
import * as Dec from "../decode";
import { readMem, writeMem, push, peek, adjustSp, isCanonical, isCanonicalMax, linearAddr, BAD_ADDR } from "../segmem";
import { setStatusFlags, F_ZF } from "../flags";
import { setMovSsShadow } from "../interrupts";
import { tlbFlushPage } from "../../mmu/access";
import { writeCr0 } from "../control";
import { FEAT_UMIP } from "../cpuid";

// UMIP (SDM 2.5): SGDT SIDT SLDT SMSW STR at CPL > 0 => #GP(0).
function umipBlocked(): bool {
  if (FEAT_UMIP && (S.cr4 & S.CR4_UMIP) != 0 && S.cpl > 0) { raiseGP(0); return true; }
  return false;
}

// PUSH ES/CS/SS/DS/FS/GS.
export function pushSeg(seg: u32): void {
  if (S.code64 && seg < 4) { raiseUD(); return; }
  push(<u64>S.segSel(seg), Dec.opSizeDefault64());
}
// POP ES/SS/DS/FS/GS.
export function popSeg(seg: u32): void {
  if (S.code64 && seg < 4) { raiseUD(); return; }
  const sz = Dec.opSizeDefault64();
  const v = <u32>peek(0, sz);
  if (faultPending) return;
  D.loadSeg(seg, v & 0xffff);
  if (faultPending) return;
  adjustSp(<u64>sz);
  if (seg == SS) setMovSsShadow();   // SDM 6.8.3
}

// 8C: MOV r/m, Sreg.
export function movFromSeg(): void {
  Dec.decodeModrm();
  if (faultPending) return;
  const sreg = (Dec.modrm >> 3) & 7;
  if (sreg > 5) { raiseUD(); return; }
  const v = <u64>S.segSel(sreg);
  if (Dec.modMod == 3) Dec.writeRM(Dec.opSize, v);   // zero-extended into r32/r64
  else Dec.writeRM(2, v);
}
// 8E: MOV Sreg, r/m16.
export function movToSeg(): void {
  Dec.decodeModrm();
  if (faultPending) return;
  const sreg = (Dec.modrm >> 3) & 7;
  if (sreg > 5 || sreg == S.CS) { raiseUD(); return; }
  const v = <u32>Dec.readRM(2);
  if (faultPending) return;
  D.loadSeg(sreg, v);
  if (faultPending) return;
  if (sreg == SS) setMovSsShadow();
}
// C4/C5 (LES/LDS), 0F B2/B4/B5 (LSS/LFS/LGS): far pointer m16:off.
export function loadFarPtr(seg: u32): void {
  if (S.code64 && (seg == S.ES || seg == S.DS)) { raiseUD(); return; }   // VEX space in 64-bit mode
  Dec.decodeModrm();
  if (faultPending) return;
  if (Dec.modMod == 3) { raiseUD(); return; }
  if (!Dec.readFarPointer()) return;
  const sz = Dec.opSize, off = Dec.farOff;
  D.loadSeg(seg, Dec.farSel);
  if (faultPending) return;
  Dec.writeReg(sz, off);
}

// ---- group 6 (0F 00) -------------------------------------------------------------
export function group6(): void {
  Dec.decodeModrm();
  if (faultPending) return;
  const r = (Dec.modrm >> 3) & 7;
  if (!S.protMode || S.vm86) { raiseUD(); return; }
  switch (r) {
    case 0: case 1: {   // SLDT, STR
      if (umipBlocked()) return;
      if (nonRoot && VX.exitDescTable(r, true)) return;   // descriptor-table exiting (vmx/)
      const v = <u64>S.segSel(r == 0 ? LDTR : TR);
      if (Dec.modMod == 3) Dec.writeRM(Dec.opSize, v); else Dec.writeRM(2, v);
      return;
    }
    case 2: case 3: {   // LLDT, LTR
      if (S.cpl != 0) { raiseGP(0); return; }
      if (nonRoot && VX.exitDescTable(r, true)) return;
      const sel = <u32>Dec.readRM(2);
      if (faultPending) return;
      if (r == 2) lldt(sel); else ltr(sel);
      return;
    }
    case 4: case 5: {   // VERR, VERW
      const sel = <u32>Dec.readRM(2);
      if (faultPending) return;
      let ok = false;
      if ((sel & 0xfffc) != 0 && D.fetchDesc(sel, false) && D.dS()) {
        const dpl = D.dDpl();
        const code = D.dIsCode();
        const priv = (code && D.dConforming()) || (dpl >= S.cpl && dpl >= (sel & 3));
        if (r == 4) ok = priv && (!code || (D.dType() & 2) != 0);
        else ok = priv && !code && (D.dType() & 2) != 0;
      }
      if (faultPending) return;
      setStatusFlags(F_ZF, ok ? F_ZF : 0);
      return;
    }
    default: raiseUD(); return;
  }
}

function lldt(sel: u32): void {
  if ((sel & 0xfffc) == 0) { S.setSeg(LDTR, sel, 0, 0, AR_UNUSABLE); return; }
  if ((sel & 4) != 0) { D.raiseSel(EXC_GP, sel); return; }
  if (!D.fetchDesc(sel, S.longMode)) { if (!faultPending) D.raiseSel(EXC_GP, sel); return; }
  if (D.dS() || D.dType() != 2) { D.raiseSel(EXC_GP, sel); return; }
  if (!D.dP()) { D.raiseSel(EXC_NP, sel); return; }
  const base = S.longMode ? D.dBase64() : D.dBase();
  if (S.longMode && !isCanonicalMax(base)) { D.raiseSel(EXC_GP, sel); return; }
  S.setSeg(LDTR, sel, base, D.dLimit(), D.dAr());
}
function ltr(sel: u32): void {
  if ((sel & 0xfffc) == 0 || (sel & 4) != 0) { D.raiseSel(EXC_GP, sel); return; }
  if (!D.fetchDesc(sel, S.longMode)) { if (!faultPending) D.raiseSel(EXC_GP, sel); return; }
  const t = D.dType();
  if (D.dS() || (S.longMode ? t != 9 : (t != 1 && t != 9))) { D.raiseSel(EXC_GP, sel); return; }
  if (!D.dP()) { D.raiseSel(EXC_NP, sel); return; }
  const base = S.longMode ? D.dBase64() : D.dBase();
  if (S.longMode && !isCanonicalMax(base)) { D.raiseSel(EXC_GP, sel); return; }
  // Mark busy (SDM 7.2.4).
  D.sysWrite(D.dAddr + 5, 1, <u64>(((D.dHi >> 8) & 0xff) | 2));
  if (faultPending) return;
  S.setSeg(TR, sel, base, D.dLimit(), D.dAr() | 2);
}

// 0F 02 LAR, 0F 03 LSL (SDM Vol.2): ZF=1 and the value if the descriptor is visible.
export function larLsl(isLsl: bool): void {
  if (!S.protMode || S.vm86) { raiseUD(); return; }
  Dec.decodeModrm();
  if (faultPending) return;
  const sel = <u32>Dec.readRM(2);
  if (faultPending) return;
  let ok = false;
  if ((sel & 0xfffc) != 0 && D.fetchDesc(sel, false)) {
    const dpl = D.dDpl(), t = D.dType();
    if (D.dS()) {
      ok = (D.dIsCode() && D.dConforming()) || (dpl >= S.cpl && dpl >= (sel & 3));
    } else {
      let typeOk: bool;
      if (S.longMode) typeOk = t == 2 || t == 9 || t == 0xb || (!isLsl && t == 0xc);
      else typeOk = t == 1 || t == 2 || t == 3 || t == 9 || t == 0xb || (!isLsl && (t == 4 || t == 5 || t == 0xc));
      ok = typeOk && dpl >= S.cpl && dpl >= (sel & 3);
    }
  }
  if (faultPending) return;
  if (ok) {
    const v: u64 = isLsl ? <u64>D.dLimit() : <u64>(D.dHi & (Dec.opSize == 2 ? 0xff00 : 0xffff00));
    Dec.writeReg(Dec.opSize == 8 ? 8 : Dec.opSize, v);
  }
  setStatusFlags(F_ZF, ok ? F_ZF : 0);
}

// ---- group 7 memory forms and SMSW/LMSW -----------------------------------------
export function sgdtSidt(idt: bool): void {
  if (umipBlocked()) return;
  if (nonRoot && VX.exitDescTable(idt ? 1 : 0, false)) return;   // descriptor-table exiting (vmx/)
  const ea = Dec.eaAddr();
  const base = idt ? S.idtrBase : S.gdtrBase;
  const limit = idt ? S.idtrLimit : S.gdtrLimit;
  // Check both parts before writing either.
  const bsz: u32 = S.code64 ? 8 : 4;
  if (linearAddr(Dec.eaSeg, Dec.maskAd(ea + 2), bsz, true) == BAD_ADDR) return;
  writeMem(Dec.eaSeg, ea, 2, <u64>limit);
  if (faultPending) return;
  writeMem(Dec.eaSeg, Dec.maskAd(ea + 2), bsz, S.code64 ? base : base & 0xffffffff);
}
export function lgdtLidt(idt: bool): void {
  if (S.cpl != 0) { raiseGP(0); return; }
  if (nonRoot && VX.exitDescTable(idt ? 3 : 2, false)) return;
  const ea = Dec.eaAddr();
  const limit = <u32>readMem(Dec.eaSeg, ea, 2);
  if (faultPending) return;
  let base: u64;
  if (S.code64) {
    base = readMem(Dec.eaSeg, Dec.maskAd(ea + 2), 8);
    if (faultPending) return;
    if (!isCanonicalMax(base)) { raiseGP(0); return; }
  } else {
    base = readMem(Dec.eaSeg, Dec.maskAd(ea + 2), 4);
    if (faultPending) return;
    if (Dec.opSize == 2) base &= 0xffffff;
  }
  if (idt) S.setIdtr(base, limit); else S.setGdtr(base, limit);
}
export function smsw(): void {
  if (umipBlocked()) return;
  if (Dec.modMod == 3) Dec.writeRM(Dec.opSize, S.cr0 & (Dec.opSize == 8 ? 0xffffffffffffffff : 0xffffffff));
  else Dec.writeRM(2, S.cr0 & 0xffff);
}
export function lmsw(): void {
  if (S.cpl != 0) { raiseGP(0); return; }
  const v = Dec.readRM(2);
  if (faultPending) return;
  if (nonRoot && VX.exitLmsw(v)) return;
  // SDM LMSW: only PE, MP, EM, TS; PE cannot be cleared.
  let nv = (S.cr0 & ~(<u64>0xe)) | (v & 0xf);
  nv |= S.cr0 & 1;
  if (nonRoot) nv = VX.crWrite(0, nv);   // bits L1 owns stay (vmx/intercept.ts)
  writeCr0(nv);
}
export function invlpg(): void {
  if (S.cpl != 0) { raiseGP(0); return; }
  const ea = Dec.eaAddr();
  // SDM INVLPG: the linear address is formed without limit checks and never faults.
  let lin: u64;
  if (S.code64) lin = Dec.eaSeg >= S.FS ? ea + S.segBase(Dec.eaSeg) : ea;
  else lin = (S.segBase(Dec.eaSeg) + ea) & 0xffffffff;
  if (nonRoot && VX.exitInvlpg(lin)) return;
  tlbFlushPage(lin);
}
export { raiseFault };

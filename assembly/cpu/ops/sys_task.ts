// Hardware task switching (SDM 7.3) with 32-bit TSSs: JMP/CALL to a TSS or task
// gate, interrupts through task gates, IRET with NT=1.
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import * as S from "../state";
import { CS, SS, DS, ES, FS, GS, LDTR, TR, AR_UNUSABLE } from "../state";
import { raiseFault, faultPending, EXC_GP, EXC_TS, EXC_NP, EXC_SS, EXC_DB } from "../fault";
import { getRflags, setRflags, F_NT, F_VM } from "../flags";
import * as D from "../descriptors";
import { setNextRip } from "../decode";
import { tlbCr3Written, loadPdptes } from "../../mmu/access";

export const TS_JMP: u32 = 0, TS_CALL: u32 = 1, TS_INT: u32 = 2, TS_IRET: u32 = 3;

// Busy bit (type bit 1) of the TSS descriptor for `sel` in the GDT.
function setBusy(sel: u32, busy: bool): void {
  const a = S.gdtrBase + <u64>(sel & 0xfff8) + 5;
  const b = <u32>D.sysRead(a, 1);
  if (faultPending) return;
  D.sysWrite(a, 1, <u64>(busy ? b | 2 : b & ~2));
}

function tsFault(sel: u32, ext: u32): void { raiseFault(EXC_TS, (sel & 0xfffc) | ext, true); }

// Load a segment register of the new task (SDM 7.3 step 12: faults are #TS/#NP/#SS
// with the selector, delivered in the context of the new task).
function loadTaskSeg(seg: u32, sel: u32, cpl: u32, ext: u32): void {
  if (faultPending) return;
  sel &= 0xffff;
  if ((sel & 0xfffc) == 0) {
    if (seg == CS || seg == SS) { tsFault(sel, ext); return; }
    S.setSeg(seg, sel, 0, 0, AR_UNUSABLE);
    return;
  }
  if (!D.fetchDesc(sel, false)) { if (!faultPending) tsFault(sel, ext); return; }
  const dpl = D.dDpl(), type = D.dType(), rpl = sel & 3;
  if (seg == CS) {
    if (!D.dIsCode() || (D.dConforming() ? dpl > rpl : dpl != rpl)) { tsFault(sel, ext); return; }
    if (!D.dP()) { raiseFault(EXC_NP, (sel & 0xfffc) | ext, true); return; }
  } else if (seg == SS) {
    if (!D.dS() || (type & 0xa) != 2 || rpl != cpl || dpl != cpl) { tsFault(sel, ext); return; }
    if (!D.dP()) { raiseFault(EXC_SS, (sel & 0xfffc) | ext, true); return; }
  } else {
    if (!D.dS() || (type & 0xa) == 8) { tsFault(sel, ext); return; }
    if ((type & 0xc) != 0xc && (rpl > dpl || cpl > dpl)) { tsFault(sel, ext); return; }
    if (!D.dP()) { raiseFault(EXC_NP, (sel & 0xfffc) | ext, true); return; }
  }
  D.setAccessed();
  if (faultPending) return;
  S.setSeg(seg, sel, D.dBase(), D.dLimit(), D.dAr());
}

// TSS layouts (SDM 7.2.1 Figure 7-2, 7.6 Figure 7-11 for the 16-bit TSS).
@inline function tIp(w: bool): u64 { return w ? 0x20 : 0x0e; }
@inline function tFl(w: bool): u64 { return w ? 0x24 : 0x10; }
@inline function tReg(w: bool, r: u32): u64 { return w ? <u64>(0x28 + r * 4) : <u64>(0x12 + r * 2); }
@inline function tSeg(w: bool, s: u32): u64 { return w ? <u64>(0x48 + s * 4) : <u64>(0x22 + s * 2); }
@inline function tLdt(w: bool): u64 { return w ? 0x60 : 0x2a; }

// Switch to the task whose TSS selector is `sel`. retRip is the EIP saved in the old TSS.
export function taskSwitch(sel: u32, reason: u32, ext: u32, retRip: u64): void {
  sel &= 0xffff;
  if (nonRoot && VX.exitTaskSwitch(sel, reason)) return;   // unconditional in VMX non-root (vmx/)
  const isIret = reason == TS_IRET;
  // SDM 7.3 steps 1-4: the new TSS descriptor (types 1/3: 16-bit, 9/B: 32-bit).
  if ((sel & 4) != 0 || !D.fetchDesc(sel, false)) {
    if (!faultPending) { if (isIret) tsFault(sel, ext); else raiseFault(EXC_GP, (sel & 0xfffc) | ext, true); }
    return;
  }
  const type = D.dType();
  if (D.dS() || (type & 5) != 1 || ((type & 2) != 0) != isIret) {
    if (isIret) tsFault(sel, ext); else raiseFault(EXC_GP, (sel & 0xfffc) | ext, true);
    return;
  }
  const nw = (type & 8) != 0;             // new TSS is 32-bit
  if (!D.dP()) { raiseFault(EXC_NP, (sel & 0xfffc) | ext, true); return; }
  if (D.dLimit() < (nw ? 0x67 : 0x2b)) { tsFault(sel, ext); return; }
  const nLo = D.dLo, nHi = D.dHi, nAddr = D.dAddr;
  const nBase = D.dBase();
  const oldSel = S.segSel(TR), oBase = S.segBase(TR);
  const ow = (S.segAttr(TR) & 8) != 0;   // old TSS is 32-bit
  if (S.segLimit(TR) < (ow ? 0x5f : 0x29)) { tsFault(oldSel, ext); return; }
  const osz: u32 = ow ? 4 : 2, nsz: u32 = nw ? 4 : 2;
  // Read what decides the new context first (a #PF here leaves the old task intact).
  const nCr3 = nw ? D.sysRead(nBase + 0x1c, 4) : S.cr3;
  const nEip = D.sysRead(nBase + tIp(nw), nsz);
  const nFl = D.sysRead(nBase + tFl(nw), nsz);
  if (faultPending) return;
  // Step 8: save the current state into the old TSS.
  let fl = getRflags();
  if (isIret) fl &= ~F_NT;
  D.sysWrite(oBase + tIp(ow), osz, retRip);
  D.sysWrite(oBase + tFl(ow), osz, fl);
  for (let r: u32 = 0; r < 8; r++) D.sysWrite(oBase + tReg(ow, r), osz, S.getReg64(r));
  const oSegs: u32 = ow ? 6 : 4;
  for (let s: u32 = 0; s < oSegs; s++) D.sysWrite(oBase + tSeg(ow, s), 2, <u64>S.segSel(s));
  if (faultPending) return;
  // Steps 7, 9: busy bits and the back link.
  if (reason == TS_JMP || isIret) setBusy(oldSel, false);
  if (!isIret) setBusy(sel, true);
  let newFl = nFl;
  if (reason == TS_CALL || reason == TS_INT) {
    D.sysWrite(nBase, 2, <u64>oldSel);
    newFl |= F_NT;
  }
  if (faultPending) return;
  // Step 10: TR, CR0.TS.
  D.dLo = nLo; D.dHi = nHi | (2 << 8); D.dAddr = nAddr;
  S.setSeg(TR, sel, nBase, D.dLimit(), D.dAr());
  S.setCr0Raw(S.cr0 | S.CR0_TS);
  // Step 11: CR3 (32-bit TSS only; the PDPTEs under PAE paging, a bad PDPTE is #GP(0)).
  if (S.pagingOn && nw) {
    S.setCr3Raw(nCr3);
    if ((S.cr4 & S.CR4_PAE) != 0 && !loadPdptes()) { raiseFault(EXC_GP, 0, true); return; }
    tlbCr3Written(false);
  }
  for (let r: u32 = 0; r < 8; r++) {
    const v = D.sysRead(nBase + tReg(nw, r), nsz);
    if (nw) S.setReg32(r, <u32>v); else S.setReg16(r, <u32>v);
  }
  setRflags(newFl);
  S.setRip(nEip); setNextRip(nEip);
  const ldt = <u32>D.sysRead(nBase + tLdt(nw), 2);
  let segSel: u32 = 0;
  const vm = nw && (newFl & F_VM) != 0;
  S.setVm86(vm);
  if (faultPending) return;
  const csSel = <u32>D.sysRead(nBase + tSeg(nw, CS), 2);
  if (faultPending) return;
  // LDTR (SDM 7.3 step 12).
  if ((ldt & 0xfffc) == 0) S.setSeg(LDTR, ldt, 0, 0, AR_UNUSABLE);
  else {
    if ((ldt & 4) != 0 || !D.fetchDesc(ldt, false)) { if (!faultPending) tsFault(ldt, ext); return; }
    if (D.dS() || D.dType() != 2) { tsFault(ldt, ext); return; }
    if (!D.dP()) { tsFault(ldt, ext); return; }
    S.setSeg(LDTR, ldt, D.dBase(), D.dLimit(), D.dAr());
  }
  if (vm) {
    for (let s: u32 = 0; s < 6; s++) {
      segSel = <u32>D.sysRead(nBase + tSeg(true, s), 2);
      S.setSeg(s, segSel, <u64>segSel << 4, 0xffff, s == CS ? 0xfb : 0xf3);
    }
    S.updateMode();
    return;
  }
  const cpl = csSel & 3;
  const tBit = nw && (<u32>D.sysRead(nBase + 0x64, 2) & 1) != 0;
  loadTaskSeg(CS, csSel, cpl, ext);
  if (faultPending) return;
  segSel = <u32>D.sysRead(nBase + tSeg(nw, SS), 2);
  loadTaskSeg(SS, segSel, cpl, ext);
  D.syncMode();
  if (faultPending) return;
  for (let s: u32 = 0; s < 6; s++) {
    if (s == CS || s == SS) continue;
    // A 16-bit TSS has no FS/GS: they are loaded with null selectors.
    segSel = nw || s < 4 ? <u32>D.sysRead(nBase + tSeg(nw, s), 2) : 0;
    loadTaskSeg(s, segSel, cpl, ext);
    if (faultPending) return;
  }
  // SDM 7.2.1: the T flag of the new TSS raises a #DB (DR6.BT) before its first instruction.
  if (tBit) {
    S.setDr(6, S.getDr(6) | 0x8000);
    raiseFault(EXC_DB, 0, false);
  }
}

// Far transfers (SDM Vol.2 JMP/CALL/RET far, Vol.3A 5.8): direct and indirect far
// JMP/CALL, call gates with stack switching and parameter copy, far RET, INT n/INT3/
// INTO/INT1 and IRET entry points.
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import * as S from "../state";
import { CS, SS } from "../state";
import { raiseFault, faultPending, raiseUD, EXC_GP, EXC_NP } from "../fault";
import * as D from "../descriptors";
import * as Dec from "../decode";
import { readMem } from "../segmem";
import { isCanonical } from "../segmem";
import { getIOPL, getOF, getRflags, setRflags, F_IF, F_TF, F_RF, F_VIF } from "../flags";
import { readLin } from "../../mmu/access";
import { returnTo, iret, softwareInt, EV_SOFT, EV_ICEBP } from "../interrupts";
import { taskSwitch, TS_JMP, TS_CALL } from "./sys_task";

const PARAMS: usize = memory.data(32 * 4, 8);   // call-gate parameters being copied

function setRipBoth(v: u64): void { S.setRip(v); Dec.setNextRip(v); }
@inline function maskSz(v: u64, sz: u32): u64 { return sz == 8 ? v : (sz == 4 ? v & 0xffffffff : v & 0xffff); }

// Far JMP/CALL to sel:off with operand size sz (2, 4 or 8).
export function farTransfer(sel: u32, off: u64, isCall: bool, sz: u32): void {
  sel &= 0xffff;
  const retRip = Dec.nextRip;
  off = maskSz(off, sz);
  if (!S.protMode || S.vm86) {
    if (off > <u64>S.segLimit(CS)) { raiseFault(EXC_GP, 0, true); return; }
    if (isCall) {
      D.frameCurrent();
      D.framePush(<u64>S.segSel(CS), sz);
      D.framePush(retRip, sz);
      if (faultPending) return;
      D.commitFrameSp();
    }
    if (S.vm86) S.setSeg(CS, sel, <u64>sel << 4, 0xffff, 0xfb); else S.setSegReal(CS, sel);
    setRipBoth(off);
    S.updateMode();
    return;
  }
  if ((sel & 0xfffc) == 0) { raiseFault(EXC_GP, 0, true); return; }
  if (!D.fetchDesc(sel, false)) { if (!faultPending) D.raiseSel(EXC_GP, sel); return; }
  const cpl = S.cpl, rpl = sel & 3;
  if (D.dS()) {
    if (!D.dIsCode()) { D.raiseSel(EXC_GP, sel); return; }
    if (D.dConforming() ? D.dDpl() > cpl : (rpl > cpl || D.dDpl() != cpl)) { D.raiseSel(EXC_GP, sel); return; }
    if (!D.dP()) { D.raiseSel(EXC_NP, sel); return; }
    const to64 = S.longMode && (D.dHi & 0x600000) == 0x200000;
    if (to64 ? !isCanonical(off) : off > <u64>D.dLimit()) { raiseFault(EXC_GP, 0, true); return; }
    const lo = D.dLo, hi = D.dHi, addr = D.dAddr;
    if (isCall) {
      D.frameCurrent();
      D.framePush(<u64>S.segSel(CS), sz);
      D.framePush(retRip, sz);
      if (faultPending) return;
    }
    D.dLo = lo; D.dHi = hi; D.dAddr = addr;
    D.setAccessed();
    if (faultPending) return;
    if (isCall) D.commitFrameSp();
    D.commitCs(sel, cpl);
    D.syncMode();
    setRipBoth(off);
    return;
  }
  // System descriptor: call gate, task gate or TSS.
  const type = D.dType();
  if (S.longMode) {
    if (type != 0xc) { D.raiseSel(EXC_GP, sel); return; }
    if (!D.fetchDesc(sel, true)) { if (!faultPending) D.raiseSel(EXC_GP, sel); return; }
    // SDM 5.8.3.1: the upper type field of a 64-bit call gate must be 0.
    if (((D.dHi2 >> 40) & 0x1f) != 0) { D.raiseSel(EXC_GP, sel); return; }
  }
  if (D.dDpl() < cpl || D.dDpl() < rpl) { D.raiseSel(EXC_GP, sel); return; }
  if (type == 5 || type == 1 || type == 9) {
    if (!D.dP()) { D.raiseSel(EXC_NP, sel); return; }
    const tss = type == 5 ? D.gSel() : sel;
    taskSwitch(tss, isCall ? TS_CALL : TS_JMP, 0, retRip);
    return;
  }
  if (type != 4 && type != 0xc) { D.raiseSel(EXC_GP, sel); return; }
  if (!D.dP()) { D.raiseSel(EXC_NP, sel); return; }
  callGate(isCall, type == 4 ? 2 : (S.longMode ? 8 : 4), retRip);
}

// Through the call gate in dLo/dHi/dHi2 (SDM 5.8.5, 5.8.6).
function callGate(isCall: bool, gsz: u32, retRip: u64): void {
  const tsel = D.gSel();
  const target: u64 = gsz == 8 ? D.gOff64() : (gsz == 4 ? D.gOff() : D.gOff() & 0xffff);
  const nParams = D.dHi & 0x1f;
  const cpl = S.cpl;
  if ((tsel & 0xfffc) == 0) { raiseFault(EXC_GP, 0, true); return; }
  if (!D.fetchDesc(tsel, false)) { if (!faultPending) D.raiseSel(EXC_GP, tsel); return; }
  const dpl = D.dDpl();
  if (!D.dIsCode() || dpl > cpl || (!isCall && !D.dConforming() && dpl != cpl)) { D.raiseSel(EXC_GP, tsel); return; }
  const to64 = S.longMode && (D.dHi & 0x600000) == 0x200000;
  if (S.longMode && !to64) { D.raiseSel(EXC_GP, tsel); return; }
  if (!D.dP()) { D.raiseSel(EXC_NP, tsel); return; }
  if (to64 ? !isCanonical(target) : target > <u64>D.dLimit()) { raiseFault(EXC_GP, 0, true); return; }
  const csLo = D.dLo, csHi = D.dHi, csAddr = D.dAddr;
  const inner = isCall && !D.dConforming() && dpl < cpl;
  const newCpl = inner ? dpl : cpl;
  const oldSs = S.segSel(SS), oldSp = S.getReg64(S.RSP);
  let ssSel: u32 = 0, ssLo: u32 = 0, ssHi: u32 = 0, ssAddr: u64 = 0;
  if (inner) {
    if (!D.tssStack(dpl, 0)) return;
    if (S.longMode) {
      D.frameInit(0, 0, 0, D.tssSp, 8, 0);
      ssSel = dpl;
    } else {
      ssSel = D.tssSs;
      const sp = D.tssSp;
      if (!D.checkTssStack(ssSel, dpl, 0)) return;
      ssLo = D.dLo; ssHi = D.dHi; ssAddr = D.dAddr;
      // Read the parameters from the caller's stack first.
      D.frameCurrent();
      for (let i: u32 = 0; i < nParams; i++) store<u32>(PARAMS + (<usize>i << 2), <u32>D.framePop(gsz));
      if (faultPending) return;
      D.dLo = ssLo; D.dHi = ssHi;
      D.frameInit(D.dBase(), D.dLimit(), D.dAr(), sp, (D.dAr() & S.AR_DB) != 0 ? 4 : 2, ssSel & 0xfffc);
    }
    D.frameSupervisor(true);
    D.framePush(<u64>oldSs, gsz);
    D.framePush(oldSp, gsz);
    if (!S.longMode) {
      for (let i = <i32>nParams - 1; i >= 0; i--) D.framePush(<u64>load<u32>(PARAMS + (<usize>i << 2)), gsz);
    }
  } else {
    D.frameCurrent();
  }
  if (isCall) {
    D.framePush(<u64>S.segSel(CS), gsz);
    D.framePush(retRip, gsz);
  }
  if (faultPending) return;
  if (inner) {
    if (S.longMode) S.setSeg(SS, ssSel, 0, 0, S.AR_UNUSABLE | (dpl << 5) | S.AR_DB | 0x13);
    else {
      D.dLo = ssLo; D.dHi = ssHi; D.dAddr = ssAddr;
      D.setAccessed();
      S.setSeg(SS, ssSel, D.dBase(), D.dLimit(), D.dAr());
    }
  }
  D.dLo = csLo; D.dHi = csHi; D.dAddr = csAddr;
  D.setAccessed();
  D.commitCs(tsel, newCpl);
  D.syncMode();
  if (inner || isCall) D.commitFrameSp();
  setRipBoth(target);
}

// 9A / EA: direct far pointer (invalid in 64-bit mode).
export function farDirect(isCall: bool): void {
  if (S.code64) { raiseUD(); return; }
  const sz = Dec.opSize;
  const off: u64 = sz == 2 ? <u64>Dec.fetch16() : <u64>Dec.fetch32();
  const sel = Dec.fetch16();
  if (faultPending) return;
  farTransfer(sel, off, isCall, sz);
}

// FF /3, FF /5: m16:16, m16:32 or (REX.W) m16:64, ModRM already decoded.
export function farIndirectImpl(isCall: bool): void {
  if (Dec.modMod == 3) { raiseUD(); return; }
  if (!Dec.readFarPointer()) return;
  farTransfer(Dec.farSel, Dec.farOff, isCall, Dec.opSize);
}

// CA / CB: far RET [imm16].
export function farRet(withImm: bool): void {
  const imm: u64 = withImm ? <u64>Dec.fetch16() : 0;
  if (faultPending) return;
  const sz = Dec.opSize;
  D.frameCurrent();
  const ip = D.framePop(sz);
  const cs = <u32>D.framePop(sz) & 0xffff;
  if (faultPending) return;
  if (!S.protMode || S.vm86) {
    if (maskSz(ip, sz) > <u64>S.segLimit(CS)) { raiseFault(EXC_GP, 0, true); return; }
    D.frameSkip(imm);
    D.commitFrameSp();
    if (S.vm86) S.setSeg(CS, cs, <u64>cs << 4, 0xffff, 0xfb); else S.setSegReal(CS, cs);
    setRipBoth(maskSz(ip, sz));
    S.updateMode();
    return;
  }
  returnTo(cs, ip, sz, false, imm);
}

// CD ib / CC / CE / F1.
export function intN(): void {
  const v = Dec.fetch8();
  if (faultPending) return;
  if (S.vm86 && (S.cr4 & S.CR4_VME) != 0) {
    // SDM 20.3.3 (Table 20-2 modes 3/5): the TSS redirection bitmap (32 bytes below the I/O
    // bitmap) decides; a clear bit redirects through the real-mode IVT inside VM86.
    const base = S.segBase(S.TR), limit = S.segLimit(S.TR);
    const mapOff = <u32>D.sysRead(base + 0x66, 2);
    if (faultPending) return;
    const byteOff = mapOff - 32 + (v >> 3);
    if ((S.segAttr(S.TR) & 8) == 0 || mapOff < 32 || byteOff > limit) { raiseFault(EXC_GP, 0, true); return; }
    const bits = <u32>D.sysRead(base + <u64>byteOff, 1);
    if (faultPending) return;
    if (((bits >> (v & 7)) & 1) == 0) { vm86Redirect(v); return; }
  }
  // SDM 20.2.7: INT n in virtual-8086 mode needs IOPL 3 to reach the protected-mode IDT.
  if (S.vm86 && getIOPL() < 3) { raiseFault(EXC_GP, 0, true); return; }
  softwareInt(v, EV_SOFT, Dec.nextRip);
}

// VME interrupt redirection: a real-mode style interrupt inside VM86 (IVT at linear 0).
function vm86Redirect(v: u32): void {
  const ent = <u32>readLin(<u64>(v << 2), 4);
  if (faultPending) return;
  const f = getRflags();
  const iopl3 = getIOPL() == 3;
  let img = f & 0xffff;
  if (!iopl3) img = (img & ~F_IF) | 0x3000 | ((f & F_VIF) != 0 ? F_IF : 0);
  D.frameCurrent();
  D.framePush(img, 2);
  D.framePush(<u64>S.segSel(CS), 2);
  D.framePush(Dec.nextRip & 0xffff, 2);
  if (faultPending) return;
  D.commitFrameSp();
  let nf = f & ~(F_TF | F_RF);
  if (iopl3) nf &= ~F_IF; else nf &= ~F_VIF;
  setRflags(nf);
  const cs = ent >> 16;
  S.setSeg(CS, cs, <u64>cs << 4, 0xffff, 0xfb);
  S.updateMode();   // new CS base: the fetch window must be dropped (codeEpoch)
  setRipBoth(<u64>(ent & 0xffff));
}
export function int3(): void {
  if (nonRoot && VX.exitSoftException(3, 6)) return;   // exception bitmap (vmx/intercept.ts)
  softwareInt(3, EV_SOFT, Dec.nextRip);
}
export function into(): void {
  if (S.code64) { raiseUD(); return; }
  if (!getOF()) return;
  if (nonRoot && VX.exitSoftException(4, 6)) return;
  softwareInt(4, EV_SOFT, Dec.nextRip);
}
export function int1(): void {
  if (nonRoot && VX.exitSoftException(1, 5)) return;
  softwareInt(1, EV_ICEBP, Dec.nextRip);
}
export function iretOp(): void { iret(Dec.opSize); }

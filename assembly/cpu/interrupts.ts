// Exception and interrupt delivery (SDM 6.12, 6.14, 20.1.4 for real mode), #DF
// escalation and triple fault (SDM 6.15 Table 6-5), IRET in all modes, and the
// external-interrupt / NMI inputs.
import * as S from "./state";
import { SS, CS, ES, DS, FS, GS, AR_UNUSABLE } from "./state";
import {
  faultPending, faultVector, faultError, faultHasError, faultAddr, clearFault, raiseFault,
  EXC_GP, EXC_NP, EXC_SS, EXC_DF, EXC_PF, EXC_DB,
} from "./fault";
import { getRflags, setRflags, getIF, getIOPL, F_IF, F_TF, F_NT, F_RF, F_VM, F_AC, F_VIF, F_VIP, F_ID, flagsRaw } from "./flags";
import * as D from "./descriptors";
import { setNextRip } from "./decode";
import * as Dec from "./decode";
import { intAck } from "../host";
import { isCanonical } from "./segmem";
import { taskSwitch, TS_INT, TS_IRET } from "./ops/sys_task";
import { nonRoot, waitSipi } from "../vmx/vstate";
import * as VX from "../vmx/intercept";
import { VEC_EPT } from "../vmx/ept";

export let shutdown: bool = false;       // triple fault: the machine stops
export let intrLine: bool = false;       // INTR pin from the PIC / APIC
export let nmiPending: bool = false;
export let nmiBlocked: bool = false;     // SDM 6.7.1: NMIs blocked until the next IRET
export let intShadow: bool = false;      // STI / MOV SS shadow for the next instruction
// The shadow came from MOV SS / POP SS: it also blocks #DB (single-step and data breakpoint traps,
// and on Intel the instruction breakpoint of the next instruction), which STI's does not (SDM 6.8.3).
export let movSsShadow: bool = false;
let softIntDone: bool = false;           // the instruction was INT n/INT3/INTO (no TF trap after it)
export let pendingDbTrap: u32 = 0;       // DR6.B0-B3 of data/I/O breakpoints hit by this instruction
export function addDbTrap(bits: u32): void { pendingDbTrap |= bits; }
export function clearDbTrap(): void { pendingDbTrap = 0; }
export function setIntrLine(v: bool): void { intrLine = v; }
export function raiseNmi(): void { nmiPending = true; }
export function setIntShadow(v: bool): void { intShadow = v; movSsShadow = false; }
export function setMovSsShadow(): void { intShadow = true; movSsShadow = true; }
export function setShutdown(): void { shutdown = true; }
export function setNmiBlocked(v: bool): void { nmiBlocked = v; }

// Event kinds: external interrupt / NMI, processor exception, software interrupt
// (INT n, INT3, INTO: gate DPL checked, EXT=0), INT1/ICEBP (no DPL check).
export const EV_EXT: u32 = 0, EV_EXC: u32 = 1, EV_SOFT: u32 = 2, EV_ICEBP: u32 = 3;

function setRipBoth(v: u64): void { S.setRip(v); setNextRip(v); }

// Deliver vector `vec`. retRip is the return address pushed (faulting instruction for
// faults, next instruction for traps/interrupts). Faults during delivery are left
// pending (deliverFault escalates); nothing is committed in that case.
export function deliverEvent(vec: u32, err: u32, hasErr: bool, kind: u32, retRip: u64): void {
  if (kind == EV_SOFT) softIntDone = true;
  if (!S.protMode) { deliverReal(vec, retRip); return; }
  let fl = getRflags();
  // SDM 17.3.1.1: faults (other than #DB) push RF=1 so the restart does not re-trigger breakpoints.
  if (kind == EV_EXC && vec != EXC_DB) fl |= F_RF;
  if (S.longMode) deliverLong(vec, err, hasErr, kind, retRip, fl);
  else deliverProt(vec, err, hasErr, kind, retRip, fl);
}

// SDM 20.1.4: real-address mode uses the IVT (4-byte CS:IP entries).
function deliverReal(vec: u32, retRip: u64): void {
  const off = vec << 2;
  if (off + 3 > S.idtrLimit) { raiseFault(EXC_GP, vec * 8 + 2, true); return; }
  const ent = <u32>D.sysRead(S.idtrBase + <u64>off, 4);
  if (faultPending) return;
  const fl = getRflags();
  D.frameCurrent();
  D.framePush(fl & 0xffff, 2);
  D.framePush(<u64>S.segSel(CS), 2);
  D.framePush(retRip & 0xffff, 2);
  if (faultPending) return;
  D.commitFrameSp();
  setRflags(fl & ~(F_IF | F_TF | F_AC | F_RF));
  S.setSegReal(CS, ent >> 16);
  setRipBoth(<u64>(ent & 0xffff));
  S.updateMode();
}

function deliverProt(vec: u32, err: u32, hasErr: bool, kind: u32, retRip: u64, fl: u64): void {
  const ext: u32 = kind == EV_SOFT ? 0 : 1;
  const idtErr = vec * 8 + 2 + ext;
  if (vec * 8 + 7 > S.idtrLimit) { raiseFault(EXC_GP, idtErr, true); return; }
  const g = D.sysRead(S.idtrBase + <u64>(vec * 8), 8);
  if (faultPending) return;
  const gLo = <u32>g, gHi = <u32>(g >> 32);
  const gType = (gHi >> 8) & 0x1f;   // includes S (must be 0)
  if (gType != 5 && gType != 6 && gType != 7 && gType != 0xe && gType != 0xf) { raiseFault(EXC_GP, idtErr, true); return; }
  // SDM 6.12.1.1: software interrupts check the gate DPL against CPL.
  if (kind == EV_SOFT && ((gHi >> 13) & 3) < S.cpl) { raiseFault(EXC_GP, idtErr, true); return; }
  if ((gHi & 0x8000) == 0) { raiseFault(EXC_NP, idtErr, true); return; }
  const csSel = gLo >> 16;
  if (gType == 5) {
    // Task gate (SDM 7.3): switch tasks, then push the error code on the new stack.
    taskSwitch(csSel, TS_INT, ext, retRip);
    if (faultPending) return;
    if (hasErr) {
      D.frameCurrent();
      D.framePush(<u64>err, (S.segAttr(S.TR) & 8) != 0 ? 4 : 2);
      if (faultPending) return;
      D.commitFrameSp();
    }
    return;
  }
  const is32 = (gType & 8) != 0;
  const target: u64 = is32 ? <u64>((gLo & 0xffff) | (gHi & 0xffff0000)) : <u64>(gLo & 0xffff);
  if ((csSel & 0xfffc) == 0) { raiseFault(EXC_GP, ext, true); return; }
  if (!D.fetchDesc(csSel, false)) { if (!faultPending) raiseFault(EXC_GP, (csSel & 0xfffc) | ext, true); return; }
  const cpl = S.cpl;
  if (!D.dIsCode() || D.dDpl() > cpl) { raiseFault(EXC_GP, (csSel & 0xfffc) | ext, true); return; }
  if (!D.dP()) { raiseFault(EXC_NP, (csSel & 0xfffc) | ext, true); return; }
  const csLo = D.dLo, csHi = D.dHi, csAddr = D.dAddr;
  const newCpl = D.dConforming() ? cpl : D.dDpl();
  const csLimit = D.dLimit();
  if (S.vm86 && newCpl != 0) { raiseFault(EXC_GP, (csSel & 0xfffc) | ext, true); return; }
  if (target > <u64>csLimit) { raiseFault(EXC_GP, ext, true); return; }
  const sz: u32 = is32 ? 4 : 2;
  const oldSs = S.segSel(SS), oldSp = S.getReg64(S.RSP);
  let ssSel: u32 = 0, ssLo: u32 = 0, ssHi: u32 = 0, ssAddr: u64 = 0;
  const inner = newCpl < cpl;
  if (inner) {
    if (!D.tssStack(newCpl, ext)) return;
    ssSel = D.tssSs;
    if (!D.checkTssStack(ssSel, newCpl, ext)) return;
    ssLo = D.dLo; ssHi = D.dHi; ssAddr = D.dAddr;
    D.frameInit(D.dBase(), D.dLimit(), D.dAr(), D.tssSp, (D.dAr() & S.AR_DB) != 0 ? 4 : 2, (ssSel & 0xfffc) | ext);
    D.frameSupervisor(true);
    if (S.vm86) {
      D.framePush(<u64>S.segSel(GS), sz); D.framePush(<u64>S.segSel(FS), sz);
      D.framePush(<u64>S.segSel(DS), sz); D.framePush(<u64>S.segSel(ES), sz);
    }
    D.framePush(<u64>oldSs, sz);
    D.framePush(oldSp, sz);
  } else {
    D.frameCurrent();
  }
  D.framePush(fl, sz);
  D.framePush(<u64>S.segSel(CS), sz);
  D.framePush(retRip, sz);
  if (hasErr) D.framePush(<u64>err, sz);
  if (faultPending) return;
  // Commit.
  if (inner) {
    D.dLo = ssLo; D.dHi = ssHi; D.dAddr = ssAddr;
    D.setAccessed();
    S.setSeg(SS, ssSel, D.dBase(), D.dLimit(), D.dAr());
    if (S.vm86) {
      S.setSeg(ES, 0, 0, 0, AR_UNUSABLE); S.setSeg(DS, 0, 0, 0, AR_UNUSABLE);
      S.setSeg(FS, 0, 0, 0, AR_UNUSABLE); S.setSeg(GS, 0, 0, 0, AR_UNUSABLE);
    }
  }
  D.dLo = csLo; D.dHi = csHi; D.dAddr = csAddr;
  D.setAccessed();
  D.commitCs(csSel, newCpl);
  let nf = fl & ~(F_TF | F_NT | F_RF | F_VM);
  if ((gType & 1) == 0) nf &= ~F_IF;   // interrupt gate (SDM 6.12.1.3)
  setRflags(nf);
  S.setVm86(false);
  D.syncMode();
  D.commitFrameSp();
  setRipBoth(target);
}

// SDM 6.14: 64-bit IDT gates, IST, unconditional SS:RSP push, 16-byte aligned stack.
function deliverLong(vec: u32, err: u32, hasErr: bool, kind: u32, retRip: u64, fl: u64): void {
  const ext: u32 = kind == EV_SOFT ? 0 : 1;
  const idtErr = vec * 8 + 2 + ext;
  if (vec * 16 + 15 > S.idtrLimit) { raiseFault(EXC_GP, idtErr, true); return; }
  const g0 = D.sysRead(S.idtrBase + <u64>(vec * 16), 8);
  if (faultPending) return;
  const g1 = D.sysRead(S.idtrBase + <u64>(vec * 16 + 8), 8);
  if (faultPending) return;
  const gLo = <u32>g0, gHi = <u32>(g0 >> 32);
  const gType = (gHi >> 8) & 0x1f;
  if (gType != 0xe && gType != 0xf) { raiseFault(EXC_GP, idtErr, true); return; }
  if (kind == EV_SOFT && ((gHi >> 13) & 3) < S.cpl) { raiseFault(EXC_GP, idtErr, true); return; }
  if ((gHi & 0x8000) == 0) { raiseFault(EXC_NP, idtErr, true); return; }
  const csSel = gLo >> 16;
  const target: u64 = <u64>((gLo & 0xffff) | (gHi & 0xffff0000)) | ((g1 & 0xffffffff) << 32);
  const ist = gHi & 7;
  if ((csSel & 0xfffc) == 0) { raiseFault(EXC_GP, ext, true); return; }
  if (!D.fetchDesc(csSel, false)) { if (!faultPending) raiseFault(EXC_GP, (csSel & 0xfffc) | ext, true); return; }
  const cpl = S.cpl;
  // The target must be 64-bit code (L=1, D=0).
  if (!D.dIsCode() || D.dDpl() > cpl || (D.dHi & 0x600000) != 0x200000) {
    raiseFault(EXC_GP, (csSel & 0xfffc) | ext, true); return;
  }
  if (!D.dP()) { raiseFault(EXC_NP, (csSel & 0xfffc) | ext, true); return; }
  if (!isCanonical(target)) { raiseFault(EXC_GP, ext, true); return; }
  const csLo = D.dLo, csHi = D.dHi, csAddr = D.dAddr;
  const newCpl = D.dConforming() ? cpl : D.dDpl();
  let rsp = S.getReg64(S.RSP);
  const inner = newCpl < cpl;
  if (ist != 0) {
    if (!D.tssIst(ist, ext)) return;
    rsp = D.tssSp;
  } else if (inner) {
    if (!D.tssStack(newCpl, ext)) return;
    rsp = D.tssSp;
  }
  rsp &= ~(<u64>0xf);
  D.frameInit(0, 0, 0, rsp, 8, 0);
  D.frameSupervisor(newCpl < 3);
  D.framePush(<u64>S.segSel(SS), 8);
  D.framePush(S.getReg64(S.RSP), 8);
  D.framePush(fl, 8);
  D.framePush(<u64>S.segSel(CS), 8);
  D.framePush(retRip, 8);
  if (hasErr) D.framePush(<u64>err, 8);
  if (faultPending) return;
  if (inner) {
    // SDM 6.14.4: SS is loaded with a null selector whose RPL is the new CPL.
    S.setSeg(SS, newCpl, 0, 0, AR_UNUSABLE | (newCpl << 5) | S.AR_DB | 0x13);
  }
  D.dLo = csLo; D.dHi = csHi; D.dAddr = csAddr;
  D.setAccessed();
  D.commitCs(csSel, newCpl);
  let nf = fl & ~(F_TF | F_NT | F_RF | F_VM);
  if ((gType & 1) == 0) nf &= ~F_IF;
  setRflags(nf);
  D.syncMode();
  S.setReg64(S.RSP, D.fSp);
  setRipBoth(target);
}

// ---- faults --------------------------------------------------------------------
// SDM Table 6-4: contributory exceptions.
@inline function contributory(v: u32): bool { return v == 0 || (v >= 10 && v <= 13); }

// Deliver the fault recorded in fault.ts (RIP = faulting instruction), escalating a
// fault raised during delivery to #DF and a fault while delivering #DF to shutdown.
export function deliverFault(): void {
  let vec = faultVector, err = faultError, has = faultHasError;
  clearFault();
  // A convertible EPT violation becomes a virtualization exception (#VE, vmx/intercept.ts).
  if (nonRoot && vec == VEC_EPT && VX.veConvert()) { vec = VX.VEC_VE; err = 0; has = false; }
  for (let i = 0; i < 8; i++) {
    if (nonRoot && VX.exitException(vec, err, has && S.protMode)) return;   // exception bitmap
    if (vec == EXC_PF) S.setCr2(faultAddr);
    deliverEvent(vec, err, has && S.protMode, EV_EXC, S.rip);
    if (!faultPending) { if (nonRoot) VX.deliveredOk(); return; }
    const nv = faultVector, ne = faultError, nh = faultHasError;
    clearFault();
    if (nonRoot && VX.faultDuringDelivery(vec, err, has && S.protMode, nv)) return;   // IDT-vectoring, EPT
    if (vec == EXC_DF) {   // triple fault (SDM 6.15 #DF); in VMX non-root a VM exit
      if (nonRoot) VX.exitTripleFault(); else shutdown = true;
      return;
    }
    if ((contributory(vec) && contributory(nv)) || (vec == EXC_PF && (nv == EXC_PF || contributory(nv)))) {
      vec = EXC_DF; err = 0; has = true;
    } else { vec = nv; err = ne; has = nh; }
  }
  if (nonRoot) VX.exitTripleFault(); else shutdown = true;
}

// #DB single-step trap after an instruction that began with TF=1 (SDM 17.3.1.4).
// Also delivers the trap-class breakpoints of the instruction (pendingDbTrap, SDM 17.3.1.2).
export function singleStepTrap(tf: bool): void {
  // MOV SS / POP SS blocking defers debug traps to the next instruction boundary (the
  // breakpoint hits stay pending; TF traps again after the next instruction); STI blocking
  // does not (SDM 6.8.3).
  if (movSsShadow) { softIntDone = false; return; }
  const bp = pendingDbTrap;
  pendingDbTrap = 0;
  let bs = tf;
  if (softIntDone) { softIntDone = false; bs = false; }
  if (!bs && bp == 0) return;
  if (nonRoot && VX.exitDbTrap((bs ? 0x4000 : 0) | bp)) return;   // exception bitmap (DR6 untouched)
  let d6 = S.getDr(6);
  if (bp != 0) d6 = (d6 & ~(<u64>0xf)) | <u64>bp;
  if (bs) d6 |= 0x4000;   // DR6.BS
  S.setDr(6, d6);
  // A trap after HLT is taken at the boundary after it: the handler runs, and its IRET
  // returns past the HLT (kvm-unit-tests debug "Single-step #DB w/ STI;HLT").
  S.setHalted(false);
  deliverEvent(EXC_DB, 0, false, EV_ICEBP, S.rip);
}
export function clearSoftInt(): void { softIntDone = false; }

// Software interrupt from an instruction (INT n, INT3, INTO, INT1): return address is
// the next instruction.
export function softwareInt(vec: u32, kind: u32, retRip: u64): void {
  if (kind == EV_ICEBP && pendingDbTrap != 0) {
    // INT1's #DB also reports breakpoint hits still pending (after MOV SS): one #DB, not two.
    S.setDr(6, (S.getDr(6) & ~(<u64>0xf)) | <u64>pendingDbTrap);
    pendingDbTrap = 0;
  }
  // Types for IDT-vectoring (vmx/): 5 INT1, 6 INT3 (CC) / INTO (CE), 4 INT n.
  if (nonRoot) VX.noteEvent(vec, kind == EV_ICEBP ? 5 : (Dec.opcode == 0xcc || Dec.opcode == 0xce ? 6 : 4));
  deliverEvent(vec, 0, false, kind, retRip);
  if (nonRoot && !faultPending) VX.deliveredOk();
  if (kind == EV_ICEBP) softIntDone = true;
}

// At an instruction boundary: deliver NMI / external interrupt if allowed.
// Returns true if an event was delivered (wakes HLT).
export function checkInterrupts(): bool {
  softIntDone = false;
  if (nonRoot && VX.pollExits()) return true;   // preemption timer, interrupt window (vmx/)
  if (nonRoot && waitSipi) return false;        // wait-for-SIPI: interrupts and NMIs stay pending
  // NMI exiting; with virtual NMIs, L2's nmiBlocked is virtual-NMI blocking and does not hold NMIs.
  if (nmiPending && nonRoot && (!nmiBlocked || VX.virtualNmis()) && VX.exitNmi()) { nmiPending = false; return true; }
  if (nmiPending && !nmiBlocked) {
    nmiPending = false; nmiBlocked = true;
    S.setHalted(false);
    if (nonRoot) VX.noteEvent(2, 2);   // IDT-vectoring information if delivery exits (vmx/)
    deliverEvent(2, 0, false, EV_EXT, S.rip);
    if (nonRoot && !faultPending) VX.deliveredOk();
    return true;
  }
  if (nonRoot && intrLine && VX.exitExtIntr()) return true;   // external-interrupt exiting
  if (intrLine && getIF()) {
    const v = intAck();
    if (v < 0) return false;
    S.setHalted(false);
    if (nonRoot) VX.noteEvent(<u32>v & 0xff, 0);
    deliverEvent(<u32>v & 0xff, 0, false, EV_EXT, S.rip);
    if (nonRoot && !faultPending) VX.deliveredOk();
    return true;
  }
  return false;
}

export function resetInterrupts(): void {
  shutdown = false; intrLine = false; nmiPending = false; intShadow = false; movSsShadow = false; nmiBlocked = false;
  softIntDone = false; pendingDbTrap = 0;
}

// ---- IRET ------------------------------------------------------------------------
// Flags IRET/POPF may change at the current privilege (SDM Vol.2 IRET, POPF).
export function flagsWritable(size: u32): u64 {
  let m: u64 = 0x4dd5;   // CF PF AF ZF SF TF DF OF NT
  if (size >= 4) m |= F_RF | F_AC | F_ID;
  if (S.cpl == 0) m |= 0x3000 | F_IF | (size >= 4 ? F_VIF | F_VIP : 0);   // POPF masks VIF/VIP off
  else if (S.cpl <= getIOPL()) m |= F_IF;
  return m;
}

// SDM 6.7.1: IRET unblocks NMIs even if it then faults. In VMX non-root operation (SDM 26.3,
// "Changes to instruction behavior"): with "NMI exiting" = 1 and "virtual NMIs" = 0 IRET leaves
// NMI blocking alone; with virtual NMIs it removes virtual-NMI blocking (nmiBlocked is then the
// virtual one). A task-switching IRET (NT = 1) in L2 is a VM exit instead (vmx/ decides).
export function iret(size: u32): void {
  if (nmiBlocked) {
    if (!nonRoot) nmiBlocked = false;
    else if (VX.iretUnblocksNmi(S.protMode && !S.vm86 && !S.longMode && (getRflags() & F_NT) != 0)) {
      nmiBlocked = false;
      VX.noteIretNmiUnblock();   // "NMI unblocking due to IRET" if the IRET then exits (SDM 28.2.3)
    }
  }
  iretBody(size);
  if (nonRoot && !faultPending) VX.iretDone();
}
function iretBody(size: u32): void {
  const sz = size;
  if (!S.protMode || S.vm86) {
    // SDM IRET real-address / virtual-8086 mode (VM86 needs IOPL 3, or VME with a 16-bit IRET).
    if (S.vm86 && getIOPL() < 3) {
      if ((S.cr4 & S.CR4_VME) == 0 || sz != 2) { raiseFault(EXC_GP, 0, true); return; }
      D.frameCurrent();
      const ip = D.framePop(2), cs = <u32>D.framePop(2), fl = D.framePop(2);
      if (faultPending) return;
      // SDM 20.4: TF=1, or IF=1 with VIP pending => #GP(0); IF goes to VIF, IOPL unchanged.
      if ((fl & F_TF) != 0 || ((fl & F_IF) != 0 && (flagsRaw & F_VIP) != 0)) { raiseFault(EXC_GP, 0, true); return; }
      const old = getRflags();
      const m: u64 = 0x4dd5;
      setRflags((old & ~(m | F_VIF)) | (fl & m) | ((fl & F_IF) != 0 ? F_VIF : 0));
      D.commitFrameSp();
      S.setSeg(CS, cs, <u64>cs << 4, 0xffff, 0xfb);
      setRipBoth(ip);
      S.updateMode();
      return;
    }
    D.frameCurrent();
    const ip = D.framePop(sz), cs = <u32>D.framePop(sz), fl = D.framePop(sz);
    if (faultPending) return;
    if (ip > 0xffff && S.segLimit(CS) <= 0xffff) { raiseFault(EXC_GP, 0, true); return; }
    const old = getRflags();
    let m: u64 = sz == 4 ? 0x257fd5 : 0x7fd5;   // never VM/VIF/VIP
    if (S.vm86) m &= ~(<u64>0x3000);            // IOPL unchanged in VM86
    setRflags((old & ~m) | (fl & m));
    D.commitFrameSp();
    if (S.vm86) S.setSeg(CS, cs, <u64>cs << 4, 0xffff, 0xfb); else S.setSegReal(CS, cs);
    setRipBoth(ip);
    S.updateMode();
    return;
  }
  const fl0 = getRflags();
  if ((fl0 & F_NT) != 0) {
    if (S.longMode) { raiseFault(EXC_GP, 0, true); return; }
    // SDM 7.3: return to the task in the previous-task link.
    const link = <u32>D.sysRead(S.segBase(S.TR), 2);
    if (faultPending) return;
    // The outgoing task resumes after the IRET (SDM 7.3 step 8 saves the next EIP), so a
    // handler task that loops back with JMP works on its next invocation.
    taskSwitch(link, TS_IRET, 0, Dec.nextRip);
    return;
  }
  D.frameCurrent();
  const nip = D.framePop(sz);
  const csSel = <u32>D.framePop(sz) & 0xffff;
  const nfl = D.framePop(sz);
  if (faultPending) return;
  const cpl = S.cpl;
  if (!S.longMode && sz == 4 && (nfl & F_VM) != 0 && cpl == 0) {
    // SDM IRET: return to virtual-8086 mode.
    const esp = D.framePop(4), ss = <u32>D.framePop(4), es = <u32>D.framePop(4);
    const ds = <u32>D.framePop(4), fs = <u32>D.framePop(4), gs = <u32>D.framePop(4);
    if (faultPending) return;
    setRflags(nfl);
    S.setVm86(true);
    S.setSeg(CS, csSel, <u64>csSel << 4, 0xffff, 0xfb);
    S.setSeg(SS, ss & 0xffff, <u64>(ss & 0xffff) << 4, 0xffff, 0xf3);
    S.setSeg(ES, es & 0xffff, <u64>(es & 0xffff) << 4, 0xffff, 0xf3);
    S.setSeg(DS, ds & 0xffff, <u64>(ds & 0xffff) << 4, 0xffff, 0xf3);
    S.setSeg(FS, fs & 0xffff, <u64>(fs & 0xffff) << 4, 0xffff, 0xf3);
    S.setSeg(GS, gs & 0xffff, <u64>(gs & 0xffff) << 4, 0xffff, 0xf3);
    S.setReg64(S.RSP, esp & 0xffffffff);
    setRipBoth(nip & 0xffff);
    S.updateMode();
    return;
  }
  const m = flagsWritable(sz);
  const newFlags = (fl0 & ~m) | (nfl & m);
  if (!returnTo(csSel, nip, sz, S.code64, 0)) return;   // 64-bit mode: IRET always pops SS:RSP
  setRflags(newFlags);
}

// Shared by IRET and far RET (SDM Vol.2 RET "protected mode"): check the return CS,
// pop SS:rSP for an outer return (or always for IRETQ), commit CS/SS/RSP/RIP and
// null data segments the outer level may not use. `extra` is RET imm16 (added to
// both stacks). The frame must be positioned after CS (and after EFLAGS for IRET).
export function returnTo(csSel: u32, nip: u64, sz: u32, alwaysPopSs: bool, extra: u64): bool {
  const cpl = S.cpl, rpl = csSel & 3;
  if ((csSel & 0xfffc) == 0) { raiseFault(EXC_GP, 0, true); return false; }
  if (!D.fetchDesc(csSel, false)) { if (!faultPending) D.raiseSel(EXC_GP, csSel); return false; }
  if (rpl < cpl || !D.dIsCode()) { D.raiseSel(EXC_GP, csSel); return false; }
  if (D.dConforming() ? D.dDpl() > rpl : D.dDpl() != rpl) { D.raiseSel(EXC_GP, csSel); return false; }
  if (!D.dP()) { D.raiseSel(EXC_NP, csSel); return false; }
  const csLo = D.dLo, csHi = D.dHi, csAddr = D.dAddr;
  const to64 = S.longMode && (csHi & 0x600000) == 0x200000;
  const csLimit = D.dLimit();
  let target = sz == 8 ? nip : (sz == 4 ? nip & 0xffffffff : nip & 0xffff);
  if (to64) { if (!isCanonical(target)) { raiseFault(EXC_GP, 0, true); return false; } }
  else if (target > <u64>csLimit) { raiseFault(EXC_GP, 0, true); return false; }
  const outer = rpl > cpl;
  let newSp: u64 = 0, ssSel: u32 = 0, ssLo: u32 = 0, ssHi: u32 = 0, ssAddr: u64 = 0;
  let ssNull = false;
  if (outer || alwaysPopSs) {
    D.frameSkip(extra);
    newSp = D.framePop(sz);
    ssSel = <u32>D.framePop(sz) & 0xffff;
    if (faultPending) return false;
    if ((ssSel & 0xfffc) == 0) {
      // SDM: null SS only when returning to 64-bit code below CPL 3.
      if (!to64 || rpl == 3) { raiseFault(EXC_GP, 0, true); return false; }
      ssNull = true;
    } else {
      if (!D.fetchDesc(ssSel, false)) { if (!faultPending) D.raiseSel(EXC_GP, ssSel); return false; }
      if ((ssSel & 3) != rpl || D.dDpl() != rpl || !D.dS() || (D.dType() & 0xa) != 2) { D.raiseSel(EXC_GP, ssSel); return false; }
      if (!D.dP()) { D.raiseSel(EXC_SS, ssSel); return false; }
      ssLo = D.dLo; ssHi = D.dHi; ssAddr = D.dAddr;
    }
  }
  // Commit.
  D.dLo = csLo; D.dHi = csHi; D.dAddr = csAddr;
  D.setAccessed();
  D.commitCs(csSel, rpl);
  if (outer || alwaysPopSs) {
    if (ssNull) S.setSeg(SS, ssSel, 0, 0, AR_UNUSABLE | (rpl << 5) | S.AR_DB | 0x13);
    else {
      D.dLo = ssLo; D.dHi = ssHi; D.dAddr = ssAddr;
      D.setAccessed();
      S.setSeg(SS, ssSel, D.dBase(), D.dLimit(), D.dAr());
    }
    D.syncMode();
    // The new stack's width decides how much of RSP is written.
    const asz: u32 = S.code64 ? 8 : (S.stack32 ? 4 : 2);
    D.commitSp(newSp + extra, asz);
  } else {
    D.frameSkip(extra);
    D.commitFrameSp();
    D.syncMode();
  }
  if (outer) {
    // SDM RET/IRET: data segments not accessible at the new CPL become null.
    for (let s: u32 = 0; s < 6; s++) {
      if (s == CS || s == SS) continue;
      const a = S.segAttr(s);
      if ((a & AR_UNUSABLE) != 0) continue;
      const dataOrNc = (a & 8) == 0 || (a & 4) == 0;
      // Only the selector is cleared (the SDM's "SegmentSelector <- 0"); the hidden part keeps
      // its base, so in 64-bit mode FS/GS-relative accesses still use the FS/GS base.
      if (dataOrNc && ((a >> 5) & 3) < rpl) S.setSeg(s, 0, S.segBase(s), S.segLimit(s), a | AR_UNUSABLE);
    }
  }
  setRipBoth(target);
  return true;
}
export { F_VIF, F_VIP, flagsRaw };

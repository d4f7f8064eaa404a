// Control instructions: MOV CR/DR, CLTS, HLT, CLI/STI, PUSHF/POPF, RDMSR/WRMSR,
// RDTSC(P), RDPMC, CPUID, XGETBV/XSETBV, SWAPGS, CLAC/STAC, SYSCALL/SYSRET,
// SYSENTER/SYSEXIT.
import * as S from "../state";
import { CS, SS, GS, RAX, RCX, RDX, RSP } from "../state";
import { raiseFault, faultPending, raiseUD, raiseGP, EXC_DB } from "../fault";
import {
  getRflags, setRflags, getIF, getIOPL, setFlagBit, flagsRaw, F_IF, F_AC, F_RF, F_VM, F_VIF, F_VIP, F_TF,
} from "../flags";
import * as Dec from "../decode";
import { push, peek, adjustSp, isCanonical } from "../segmem";
import { setIntShadow, flagsWritable } from "../interrupts";
import * as C from "../control";
import * as M from "../msr";
import { readTsc } from "../tsc";
import { pmuRdpmc, rdpmcValue } from "../pmu";
import { cpuid, cpuidA, cpuidB, cpuidC, cpuidD, FEAT_XSAVE, FEAT_SMAP, XCR0_SUPPORTED } from "../cpuid";
import { syncMode } from "../descriptors";
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import * as VA from "../../vmx/vapic";

// ModRM for MOV CR/DR: mod is ignored, always a register operand (SDM Vol.2 MOV CR).
function crModrm(): bool {
  const b = Dec.fetch8();
  if (faultPending) return false;
  crReg = ((b >> 3) & 7) | Dec.rexR;
  crRm = (b & 7) | Dec.rexB;
  return true;
}
let crReg: u32 = 0, crRm: u32 = 0;

function privCheck(): bool {
  if (S.cpl != 0) { raiseGP(0); return false; }
  return true;
}

// 0F 20 / 0F 22
export function movCr(toCr: bool): void {
  if (!crModrm()) return;
  let n = crReg;
  // AMD's LOCK MOV CR0 = CR8 is not supported on Intel: #UD.
  if (Dec.lockPrefix || (n != 0 && n != 2 && n != 3 && n != 4 && n != 8)) { raiseUD(); return; }
  if (n == 8 && !S.code64) { raiseUD(); return; }
  if (!privCheck()) return;
  if (!toCr) {
    if (nonRoot && VX.exitMovCr(false, n, crRm, 0)) return;
    let v: u64;
    if (n == 0) v = S.cr0; else if (n == 2) v = S.cr2; else if (n == 3) v = S.cr3;
    else if (n == 4) v = S.cr4; else v = S.cr8;
    if (nonRoot) v = VX.crRead(n, v);
    if (S.code64) S.setReg64(crRm, v); else S.setReg32(crRm, <u32>v);
    return;
  }
  let v = S.code64 ? S.getReg64(crRm) : <u64>S.getReg32(crRm);
  if (nonRoot) { if (VX.exitMovCr(true, n, crRm, v)) return; v = VX.crWrite(n, v); }
  if (n == 0) C.writeCr0(v);
  else if (n == 2) S.setCr2(v);
  else if (n == 3) C.writeCr3(v);
  else if (n == 4) C.writeCr4(v);
  else C.writeCr8(v);
}
// 0F 21 / 0F 23
export function movDr(toDr: bool): void {
  if (!crModrm()) return;
  const n = crReg;
  if (n > 7) { raiseUD(); return; }
  if (!privCheck()) return;
  if ((n == 4 || n == 5) && (S.cr4 & S.CR4_DE) != 0) { raiseUD(); return; }
  if (nonRoot && VX.exitMovDr(toDr, n, crRm)) return;
  // SDM 17.2.4: DR7.GD => #DB (fault) with DR6.BD, GD cleared for the handler.
  if ((S.getDr(7) & 0x2000) != 0) {
    S.setDr(6, S.getDr(6) | 0x2000);
    S.setDr(7, S.getDr(7) & ~(<u64>0x2000));
    raiseFault(EXC_DB, 0, false);
    return;
  }
  if (!toDr) {
    const v = C.readDr(n);
    if (S.code64) S.setReg64(crRm, v); else S.setReg32(crRm, <u32>v);
    return;
  }
  C.writeDr(n, S.code64 ? S.getReg64(crRm) : <u64>S.getReg32(crRm));
}

export function clts(): void {
  if (!privCheck()) return;
  if (nonRoot) { if (VX.exitClts()) return; if (VX.cltsOwned()) return; }
  S.setCr0Raw(S.cr0 & ~S.CR0_TS);
}
export function invd(): void {
  if (!privCheck()) return;
  if (nonRoot && VX.exitInvd(Dec.opcode == 0x109)) return;   // INVD; WBINVD with "WBINVD exiting"
}
export function hlt(): void {
  if (!privCheck()) return;
  if (nonRoot && VX.exitHlt()) return;
  S.setHalted(true);
}

// FA / FB (SDM Vol.2 CLI/STI; no PVI/VME).
export function cliSti(set: bool): void {
  if (S.protMode && (S.vm86 ? getIOPL() < 3 : S.cpl > getIOPL())) {
    // SDM 20.4 (VME in virtual-8086 mode) and 20.4 PVI (CPL 3): CLI/STI act on VIF.
    const virt = S.vm86 ? (S.cr4 & S.CR4_VME) != 0 : (S.cpl == 3 && (S.cr4 & S.CR4_PVI) != 0);
    if (!virt) { raiseGP(0); return; }
    if (set) {
      if ((flagsRaw & F_VIP) != 0) { raiseGP(0); return; }
      setFlagBit(F_VIF, true);
    } else setFlagBit(F_VIF, false);
    return;
  }
  if (set) {
    if (!getIF()) setIntShadow(true);   // SDM 6.8.3: STI shadow
    setFlagBit(F_IF, true);
  } else setFlagBit(F_IF, false);
}

// 9C PUSHF: VM and RF are cleared in the image (SDM Vol.2 PUSHF).
export function pushf(): void {
  const sz = Dec.opSizeDefault64();
  if (S.vm86 && getIOPL() < 3) {
    // SDM 20.4: with VME a 16-bit PUSHF pushes VIF as IF and IOPL = 3.
    if ((S.cr4 & S.CR4_VME) == 0 || sz != 2) { raiseGP(0); return; }
    const f = getRflags();
    const img = (f & 0xcdff) | 0x3000 | ((f & F_VIF) != 0 ? F_IF : 0);
    push(img & 0xffff, 2);
    return;
  }
  const f = getRflags() & ~(F_VM | F_RF);
  push(sz == 2 ? f & 0xffff : f, sz);
}
// 9D POPF.
export function popf(): void {
  const sz = Dec.opSizeDefault64();
  if (S.vm86 && getIOPL() < 3) {
    // SDM 20.4: with VME a 16-bit POPF loads IF into VIF; TF=1 or (VIP and IF) => #GP(0).
    if ((S.cr4 & S.CR4_VME) == 0 || sz != 2) { raiseGP(0); return; }
    const v = peek(0, 2);
    if (faultPending) return;
    if ((v & F_TF) != 0 || ((v & F_IF) != 0 && (flagsRaw & F_VIP) != 0)) { raiseGP(0); return; }
    const old = getRflags();
    const m: u64 = 0x4dd5;   // status, TF, DF, OF, NT: not IF, not IOPL
    adjustSp(2);
    setRflags((old & ~(m | F_VIF)) | (v & m) | ((v & F_IF) != 0 ? F_VIF : 0));
    return;
  }
  const v = peek(0, sz);
  if (faultPending) return;
  let m: u64;
  if (!S.protMode) m = sz == 2 ? 0x7fd5 : 0x247fd5;
  else if (S.vm86) m = sz == 2 ? 0x4fd5 : 0x244fd5;   // IOPL unchanged in VM86
  else m = flagsWritable(sz) & ~F_RF;
  m &= ~(F_VM | F_VIF | F_VIP | F_RF);
  if (sz == 2) m &= 0xffff;
  const old = getRflags();
  adjustSp(<u64>sz);
  setRflags((old & ~m) | (v & m));
}

// 0F 30 / 0F 32
export function wrmsr(): void {
  if (!privCheck()) return;
  if (nonRoot && VX.exitMsr(true)) return;
  const v = (<u64>S.getReg32(RDX) << 32) | <u64>S.getReg32(RAX);
  if (nonRoot && VA.x2apicWrmsr(S.getReg32(RCX), v)) return;   // virtualized x2APIC TPR
  M.writeMsr(S.getReg32(RCX), v);
}
export function rdmsr(): void {
  if (!privCheck()) return;
  if (nonRoot && VX.exitMsr(false)) return;
  if (nonRoot && VA.x2apicRdmsr(S.getReg32(RCX))) return;      // virtualized x2APIC TPR
  let v = M.readMsr(S.getReg32(RCX));
  if (nonRoot && S.getReg32(RCX) == M.MSR_TSC) v = VX.guestTsc(v);   // SDM 25.3
  if (faultPending) return;
  S.setReg32(RAX, <u32>v);
  S.setReg32(RDX, <u32>(v >> 32));
}
function tsdBlocked(): bool {
  if ((S.cr4 & S.CR4_TSD) != 0 && S.cpl > 0 && S.protMode) { raiseGP(0); return true; }
  return false;
}
export function rdtsc(): void {
  if (tsdBlocked()) return;
  if (nonRoot && VX.exitRdtsc()) return;
  const t = nonRoot ? VX.guestTsc(readTsc()) : readTsc();
  S.setReg32(RAX, <u32>t);
  S.setReg32(RDX, <u32>(t >> 32));
}
export function rdtscp(): void {
  if (nonRoot && VX.rdtscpUd()) return;   // "enable RDTSCP" = 0: #UD (before the CR4.TSD #GP)
  if (tsdBlocked()) return;
  if (nonRoot && VX.exitRdtsc()) return;
  const t = nonRoot ? VX.guestTsc(readTsc()) : readTsc();
  S.setReg32(RAX, <u32>t);
  S.setReg32(RDX, <u32>(t >> 32));
  S.setReg32(RCX, <u32>M.tscAux);
}
// RDPMC (SDM Vol.2 RDPMC): EDX:EAX = the counter ECX selects (cpu/pmu.ts: ECX[30] fixed
// counters, ECX[31] fast read); an invalid ECX => #GP(0).
export function rdpmc(): void {
  // CPL/CR4.PCE #GP has priority over the VM exit (SDM 26.1.1); the invalid counter comes after it.
  if (S.protMode && S.cpl != 0 && (S.cr4 & S.CR4_PCE) == 0) { raiseGP(0); return; }
  if (nonRoot && VX.exitRdpmc()) return;
  if (!pmuRdpmc(S.getReg32(RCX))) { raiseGP(0); return; }
  S.setReg32(RAX, <u32>rdpmcValue);
  S.setReg32(RDX, <u32>(rdpmcValue >> 32));
}

export function cpuidOp(): void {
  if (nonRoot && VX.exitCpuid()) return;
  cpuid(S.getReg32(RAX), S.getReg32(RCX));
  S.setReg32(RAX, cpuidA); S.setReg32(S.RBX, cpuidB); S.setReg32(RCX, cpuidC); S.setReg32(RDX, cpuidD);
}

// 0F 01 D0 / D1 (SDM 13.3).
export function xgetbv(): void {
  if (!FEAT_XSAVE || (S.cr4 & S.CR4_OSXSAVE) == 0) { raiseUD(); return; }
  if (S.getReg32(RCX) != 0) { raiseGP(0); return; }
  S.setReg32(RAX, <u32>S.xcr0);
  S.setReg32(RDX, <u32>(S.xcr0 >> 32));
}
export function xsetbv(): void {
  if (!FEAT_XSAVE || (S.cr4 & S.CR4_OSXSAVE) == 0) { raiseUD(); return; }
  if (S.cpl != 0) { raiseGP(0); return; }
  if (nonRoot && VX.exitXsetbv()) return;
  if (S.getReg32(RCX) != 0) { raiseGP(0); return; }
  const v = (<u64>S.getReg32(RDX) << 32) | <u64>S.getReg32(RAX);
  if ((v & 1) == 0 || (v & ~XCR0_SUPPORTED) != 0 || ((v & 4) != 0 && (v & 2) == 0)) { raiseGP(0); return; }
  S.setXcr0(v);
}
// 0F 01 F8 (SDM Vol.2 SWAPGS).
export function swapgs(): void {
  if (!S.code64) { raiseUD(); return; }
  if (!privCheck()) return;
  const t = S.segBase(GS);
  S.setSegBase(GS, M.kernelGsBase);
  M.setKernelGsBase(t);
}
// 0F 01 CA / CB.
export function clacStac(set: bool): void {
  if (!FEAT_SMAP || S.cpl != 0) { raiseUD(); return; }
  setFlagBit(F_AC, set);
}

// ---- fast system calls ------------------------------------------------------------
// Flat segments loaded by SYSCALL/SYSRET/SYSENTER/SYSEXIT (fixed values, SDM Vol.2).
const AR_CODE64: u32 = 0xa09b, AR_CODE32: u32 = 0xc09b, AR_DATA: u32 = 0xc093;

// 0F 05 (SDM Vol.2 SYSCALL): 64-bit mode only on Intel.
export function syscall(): void {
  if ((S.efer & S.EFER_SCE) == 0 || !S.code64) { raiseUD(); return; }
  const sel = <u32>(M.star >> 32) & 0xfffc;
  S.setReg64(RCX, Dec.nextRip);
  const f = getRflags();
  S.setReg64(11, f);
  setRflags(f & ~(M.fmask | F_RF));
  S.setSeg(CS, sel, 0, 0xffffffff, AR_CODE64);
  S.setSeg(SS, sel + 8, 0, 0xffffffff, AR_DATA);
  syncMode();
  S.setRip(M.lstar); Dec.setNextRip(M.lstar);
}
// 0F 07 (SDM Vol.2 SYSRET).
export function sysret(): void {
  if ((S.efer & S.EFER_SCE) == 0 || !S.code64) { raiseUD(); return; }
  if (S.cpl != 0) { raiseGP(0); return; }
  const base = <u32>(M.star >> 48) & 0xffff;
  let rip: u64;
  if (Dec.rexW) {
    rip = S.getReg64(RCX);
    if (!isCanonical(rip)) { raiseGP(0); return; }
    S.setSeg(CS, ((base + 16) & 0xfffc) | 3, 0, 0xffffffff, AR_CODE64 | 0x60);
  } else {
    rip = <u64>S.getReg32(RCX);
    S.setSeg(CS, (base & 0xfffc) | 3, 0, 0xffffffff, AR_CODE32 | 0x60);
  }
  // SS keeps the selector RPL 3 with fixed flat attributes.
  S.setSeg(SS, ((base + 8) & 0xfffc) | 3, 0, 0xffffffff, AR_DATA | 0x60);
  setRflags((S.getReg64(11) & 0x3c7fd7) | 2);
  syncMode();
  S.setRip(rip); Dec.setNextRip(rip);
}
// 0F 34 (SDM Vol.2 SYSENTER).
export function sysenter(): void {
  const cs = <u32>M.sysenterCs & 0xfffc;
  if (!S.protMode || cs == 0) { raiseGP(0); return; }
  setRflags(getRflags() & ~(F_VM | F_IF | F_RF));
  S.setVm86(false);
  if (S.longMode) S.setSeg(CS, cs, 0, 0xffffffff, AR_CODE64);
  else S.setSeg(CS, cs, 0, 0xffffffff, AR_CODE32);
  S.setSeg(SS, cs + 8, 0, 0xffffffff, AR_DATA);
  syncMode();
  const rip = S.longMode ? M.sysenterEip : M.sysenterEip & 0xffffffff;
  S.setReg64(RSP, S.longMode ? M.sysenterEsp : M.sysenterEsp & 0xffffffff);
  S.setRip(rip); Dec.setNextRip(rip);
}
// 0F 35 (SDM Vol.2 SYSEXIT).
export function sysexit(): void {
  const cs = <u32>M.sysenterCs & 0xfffc;
  if (!S.protMode || S.vm86 || cs == 0 || S.cpl != 0) { raiseGP(0); return; }
  let rip: u64, rsp: u64;
  if (Dec.rexW) {
    rip = S.getReg64(RDX); rsp = S.getReg64(RCX);
    if (!isCanonical(rip) || !isCanonical(rsp)) { raiseGP(0); return; }
    S.setSeg(CS, (cs + 32) | 3, 0, 0xffffffff, AR_CODE64 | 0x60);
    S.setSeg(SS, (cs + 40) | 3, 0, 0xffffffff, AR_DATA | 0x60);
  } else {
    rip = <u64>S.getReg32(RDX); rsp = <u64>S.getReg32(RCX);
    S.setSeg(CS, (cs + 16) | 3, 0, 0xffffffff, AR_CODE32 | 0x60);
    S.setSeg(SS, (cs + 24) | 3, 0, 0xffffffff, AR_DATA | 0x60);
  }
  syncMode();
  S.setReg64(RSP, rsp);
  S.setRip(rip); Dec.setNextRip(rip);
}
export { F_TF, F_IF };

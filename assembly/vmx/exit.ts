// VM exits (SDM Vol.3C chapter 28 in current numbering; "VM Exits"): record the exit
// information, save guest state, load host state, MSR store/load lists. Also the host-state
// load of a VM-entry failure (SDM 27.8) and the common "state changed" epilogue.
import * as S from "../cpu/state";
import * as D from "../cpu/decode";
import { getRflags, setRflags } from "../cpu/flags";
import * as M from "../cpu/msr";
import * as PMU from "../cpu/pmu";
import { syncMode } from "../cpu/descriptors";
import { tlbFlushAll, loadPdptes, setTlbTag } from "../mmu/access";
import * as E from "./ept";
import { getPdpte } from "../mmu/paging";
import { invalidateFetch } from "../cpu/decode";
import { physRead, physWrite } from "../mmu/phys";
import { setShutdown, pendingDbTrap, intShadow, movSsShadow, setIntShadow, nmiBlocked, setNmiBlocked } from "../cpu/interrupts";
import * as F from "./fields";
import { vmcsRead as rd, vmcsWrite as wr } from "./fields";
import * as V from "./vstate";
import { timerValue } from "./intercept";
import { inFlight } from "../cpu/run";

// Basic exit reasons (SDM Appendix C).
export const EXIT_EXCEPTION: u32 = 0, EXIT_EXT_INTR: u32 = 1, EXIT_TRIPLE_FAULT: u32 = 2, EXIT_INIT: u32 = 3, EXIT_SIPI: u32 = 4;
export const EXIT_CPUID: u32 = 10, EXIT_HLT: u32 = 12, EXIT_INVD: u32 = 13, EXIT_INVLPG: u32 = 14;
export const EXIT_RDTSC: u32 = 16, EXIT_VMCALL: u32 = 18, EXIT_VMCLEAR: u32 = 19, EXIT_VMLAUNCH: u32 = 20;
export const EXIT_VMPTRLD: u32 = 21, EXIT_VMPTRST: u32 = 22, EXIT_VMREAD: u32 = 23, EXIT_VMRESUME: u32 = 24;
export const EXIT_VMWRITE: u32 = 25, EXIT_VMXOFF: u32 = 26, EXIT_VMXON: u32 = 27, EXIT_CR_ACCESS: u32 = 28;
export const EXIT_DR_ACCESS: u32 = 29, EXIT_IO: u32 = 30, EXIT_RDMSR: u32 = 31, EXIT_WRMSR: u32 = 32;
export const EXIT_BAD_GUEST: u32 = 33, EXIT_MSR_LOAD_FAIL: u32 = 34, EXIT_XSETBV: u32 = 55;
export const EXIT_WBINVD: u32 = 54, EXIT_RDPMC: u32 = 15, EXIT_TASK_SWITCH: u32 = 9, EXIT_MTF: u32 = 37;
export const EXIT_INVEPT: u32 = 50, EXIT_INVVPID: u32 = 53, EXIT_PREEMPT_TIMER: u32 = 52, EXIT_INTR_WINDOW: u32 = 7;
export const EXIT_NMI_WINDOW: u32 = 8, EXIT_PAUSE: u32 = 40, EXIT_GDTR_IDTR: u32 = 46, EXIT_LDTR_TR: u32 = 47;
export const EXIT_INVPCID: u32 = 58, EXIT_PML_FULL: u32 = 62;
export const EXIT_RDRAND: u32 = 57, EXIT_RDSEED: u32 = 61, EXIT_MWAIT: u32 = 36, EXIT_MONITOR: u32 = 39;
export const EXIT_FAILED_ENTRY: u32 = 0x80000000;

// Exit controls (SDM 25.7.1).
export const XC_SAVE_DEBUG: u32 = 1 << 2, XC_HOST64: u32 = 1 << 9, XC_ACK_INTR: u32 = 1 << 15;
export const XC_SAVE_PAT: u32 = 1 << 18, XC_LOAD_PAT: u32 = 1 << 19, XC_SAVE_EFER: u32 = 1 << 20, XC_LOAD_EFER: u32 = 1 << 21;
export const XC_LOAD_PERF: u32 = 1 << 12, XC_SAVE_PERF: u32 = 1 << 30;   // IA32_PERF_GLOBAL_CTRL (cpu/pmu.ts)

const CR0_VALID: u64 = 0xe005003f;

// After any wholesale change of CR0/CR3/CR4/EFER/CS/SS: mode, CPL, TLB, fetch window.
// Without VPID, every VM entry and exit invalidates the linear mappings (SDM 29.4.3.1 /
// 28.5.5: VPID 0); tlbFlushAll(false) also recomputes the canonical width.
// With VPID each L2 context has its own TLB tag (ept.ts contextTag) and transitions keep
// the entries; without it, they are flushed.
export function afterStateLoad(tag: u32, flush: bool): void {
  syncMode();
  setTlbTag(tag);
  if (flush) tlbFlushAll(false);
  invalidateFetch();
}

// Debug exceptions left pending by the exit (an MTF exit at a single-step boundary).
let pendDbg: u64 = 0;
export function setPendingDbg(v: u64): void { pendDbg = v; }

// Save the guest state into the current VMCS (SDM 28.3).
function saveGuest(): void {
  wr(F.GUEST_CR0, S.cr0); wr(F.GUEST_CR3, S.cr3); wr(F.GUEST_CR4, S.cr4);
  const xc = <u32>rd(F.EXIT_CONTROLS);
  // SDM 28.3.1: "save debug controls" saves DR7 and IA32_DEBUGCTL.
  if ((xc & XC_SAVE_DEBUG) != 0) { wr(F.GUEST_DR7, S.getDr(7)); wr(F.GUEST_DEBUGCTL, M.debugctl); }
  wr(F.GUEST_RSP, S.getReg64(S.RSP));
  wr(F.GUEST_RIP, S.rip);
  wr(F.GUEST_RFLAGS, getRflags());
  for (let s: u32 = 0; s < 8; s++) {
    wr(F.GUEST_SEL0 + s * 2, <u64>S.segSel(s));
    wr(F.GUEST_LIMIT0 + s * 2, <u64>S.segLimit(s));
    // Virtual-8086 mode: CS, SS, DS, ES, FS, GS as VM entry requires them (F3H, SDM 26.3.1.2);
    // the core keeps CS as a code segment (FBH) there.
    wr(F.GUEST_AR0 + s * 2, <u64>(S.vm86 && s < 6 ? 0xf3 : S.segAttr(s) & 0x1f0ff));
    wr(F.GUEST_BASE0 + s * 2, S.segBase(s));
  }
  wr(F.GUEST_GDTR_BASE, S.gdtrBase); wr(F.GUEST_GDTR_LIMIT, <u64>S.gdtrLimit);
  wr(F.GUEST_IDTR_BASE, S.idtrBase); wr(F.GUEST_IDTR_LIMIT, <u64>S.idtrLimit);
  wr(F.GUEST_SYSENTER_CS, M.sysenterCs); wr(F.GUEST_SYSENTER_ESP, M.sysenterEsp); wr(F.GUEST_SYSENTER_EIP, M.sysenterEip);
  if ((xc & XC_SAVE_PAT) != 0) wr(F.GUEST_PAT, M.pat);
  if ((xc & XC_SAVE_EFER) != 0) wr(F.GUEST_EFER, S.efer);
  if ((xc & XC_SAVE_PERF) != 0) wr(F.GUEST_PERF_GLOBAL_CTRL, PMU.globalCtrl);
  // IA32_VMX_MISC[5]: EFER.LMA goes into the "IA-32e mode guest" entry control.
  const ec = rd(F.ENTRY_CONTROLS);
  wr(F.ENTRY_CONTROLS, (S.efer & S.EFER_LMA) != 0 ? ec | (1 << 9) : ec & ~(<u64>(1 << 9)));
  wr(F.GUEST_ACTIVITY, V.waitSipi ? 3 : (S.halted ? 1 : 0));
  V.setWaitSipi(false);
  // Blocking by STI (bit 0) / MOV SS (bit 1).
  let ib: u64 = nmiBlocked ? 8 : 0;              // blocking by NMI
  if (intShadow) ib |= movSsShadow ? 2 : 1;
  wr(F.GUEST_INTERRUPTIBILITY, ib);
  // Pending debug exceptions: breakpoint hits still deferred by MOV SS blocking (SDM 28.3.4).
  wr(F.GUEST_PENDING_DBG, pendDbg | (intShadow && movSsShadow ? <u64>(pendingDbTrap & 0xf) : 0));
  pendDbg = 0;
  // VMX-preemption timer value (SDM 28.3.4: with "save VMX-preemption timer value").
  if ((xc & (1 << 22)) != 0 && V.timerArmed) wr(F.PREEMPT_TIMER, timerValue());
  // PAE guest under EPT: the PDPTE registers (SDM 28.3.4).
  if (E.eptActive && S.pagingOn && (S.cr4 & S.CR4_PAE) != 0 && !S.longMode) {
    for (let i: u32 = 0; i < 4; i++) wr(F.GUEST_PDPTE0 + i * 2, getPdpte(i));
  }
}

// MSR list helpers (SDM 25.7.2 / 26.4 / 28.4 / 28.6): 16-byte entries {index u32, rsvd u32, data u64}.
// Returns 0 on success or the 1-based number of the failing entry.
// At most MSR_LIST_MAX entries (IA32_VMX_MISC[27:25] = 0: 512); past that the list fails at
// entry 513 (a guest cannot make the host loop for 2^32 entries).
export const MSR_LIST_MAX: u32 = 512;
export function loadMsrList(addr: u64, count: u32): u32 {
  for (let i: u32 = 0; i < count; i++) {
    if (i >= MSR_LIST_MAX) return i + 1;
    const e = addr + <u64>(i * 16);
    const idx = <u32>physRead(e, 4);
    const rsvd = <u32>physRead(e + 4, 4);
    // FS/GS base, x2APIC MSRs and SMM MSRs may not be loaded this way (SDM 26.4).
    if (rsvd != 0 || idx == 0xc0000100 || idx == 0xc0000101 || (idx >> 8) == 8 || idx == 0x9b) return i + 1;
    if (!M.writeMsr(idx, physRead(e + 8, 8))) { clearFaultQuiet(); return i + 1; }
  }
  return 0;
}
function storeMsrList(addr: u64, count: u32): bool {
  if (count > MSR_LIST_MAX) return false;
  for (let i: u32 = 0; i < count; i++) {
    const e = addr + <u64>(i * 16);
    const idx = <u32>physRead(e, 4);
    if ((idx >> 8) == 8 || idx == 0x9e) return false;
    const v = M.readMsr(idx);
    if (!M.msrOk) { clearFaultQuiet(); return false; }
    physWrite(e + 8, 8, v);
  }
  return true;
}
import { clearFault } from "../cpu/fault";
function clearFaultQuiet(): void { clearFault(); }

// Load the host state (SDM 28.5). Used by VM exits and VM-entry failures.
export function loadHost(): void {
  const xc = <u32>rd(F.EXIT_CONTROLS);
  const host64 = (xc & XC_HOST64) != 0;
  S.setCr0Raw((rd(F.HOST_CR0) & CR0_VALID) | S.CR0_ET);
  S.setCr3Raw(rd(F.HOST_CR3));
  S.setCr4Raw(rd(F.HOST_CR4));
  S.setDr(7, 0x400);
  M.setDebugctl(0);   // SDM 28.5.1: IA32_DEBUGCTL is cleared
  M.writeMsr(M.MSR_SYSENTER_CS, rd(F.HOST_SYSENTER_CS) & 0xffffffff);
  M.writeMsr(M.MSR_SYSENTER_ESP, rd(F.HOST_SYSENTER_ESP));
  M.writeMsr(M.MSR_SYSENTER_EIP, rd(F.HOST_SYSENTER_EIP));
  if ((xc & XC_LOAD_PERF) != 0) PMU.setGlobalCtrl(rd(F.HOST_PERF_GLOBAL_CTRL));   // SDM 28.5.1
  if ((xc & XC_LOAD_PAT) != 0) M.writeMsr(M.MSR_PAT, rd(F.HOST_PAT));
  let efer = S.efer;
  if ((xc & XC_LOAD_EFER) != 0) efer = rd(F.HOST_EFER);
  else efer = host64 ? efer | S.EFER_LMA | S.EFER_LME : efer & ~(S.EFER_LMA | S.EFER_LME);
  S.setEferRaw(efer);
  // Segments (SDM 28.5.2): flat, DPL 0; null selectors (other than CS/TR) make the register unusable.
  const csAr: u32 = 0x809b | (host64 ? <u32>S.AR_L : <u32>S.AR_DB);
  S.setSeg(S.CS, <u32>rd(F.HOST_SEL0 + 2), 0, 0xffffffff, csAr);
  for (let s: u32 = 0; s < 6; s++) {
    if (s == S.CS) continue;
    const sel = <u32>rd(F.HOST_SEL0 + s * 2);
    let base: u64 = 0;
    if (s == S.FS) base = rd(F.HOST_FS_BASE); else if (s == S.GS) base = rd(F.HOST_GS_BASE);
    let ar: u32 = 0xc093;
    if (sel == 0) ar = s == S.SS ? S.AR_UNUSABLE | S.AR_DB | 0x13 : S.AR_UNUSABLE;
    S.setSeg(s, sel, base, 0xffffffff, ar);
  }
  S.setSeg(S.TR, <u32>rd(F.HOST_TR_SEL), rd(F.HOST_TR_BASE), 0x67, 0x8b);
  S.setSeg(S.LDTR, 0, 0, 0, S.AR_UNUSABLE);
  S.setGdtr(rd(F.HOST_GDTR_BASE), 0xffff);
  S.setIdtr(rd(F.HOST_IDTR_BASE), 0xffff);
  S.setReg64(S.RSP, rd(F.HOST_RSP));
  S.setRip(rd(F.HOST_RIP));
  D.setNextRip(S.rip);
  setRflags(2);
  S.setVm86(false);
  S.setHalted(false);
  setIntShadow(false);
  setNmiBlocked(nmiExit || l1NmiBlocked);
  nmiExit = false;
  E.setEpt(false, 0);
  V.setUnrestricted(false);
  V.setShadowing(false);
  afterStateLoad(0, !V.vpidActive);
  V.setVpidActive(false);
  // PAE paging on the host side reloads the PDPTEs (SDM 28.5.4); a failure is a VMX abort.
  if (S.pagingOn && (S.cr4 & S.CR4_PAE) != 0 && !S.longMode && !loadPdptes()) vmxAbort(3);
}

// VMX abort (SDM 28.7): write the indicator into the VMCS region and shut down.
export function vmxAbort(indicator: u32): void {
  if (V.curVmcs != V.NO_PTR) physWrite(V.curVmcs + 4, 4, <u64>indicator);
  setShutdown();
}

let nmiExit = false, l1NmiBlocked = false;
export function setNmiExit(): void { nmiExit = true; }
// VM entry: remember L1's NMI blocking (before any check); L2 starts with the
// interruptibility state's bit 3. loadHost restores L1's (blocked after an NMI-caused exit).
export function saveL1Nmi(): void { l1NmiBlocked = nmiBlocked; nmiExit = false; }
export function enterNmiState(guestBlocked: bool): void { setNmiBlocked(guestBlocked); }

// IDT-vectoring information for the next exit (event being delivered when it happened).
let idtVecInfo: u32 = 0, idtVecErr: u32 = 0, idtVecLen: u32 = 0;
export function deliveringEvent(): bool { return idtVecInfo != 0; }
export function setIdtVectoring(info: u32, err: u32, len: u32 = 0): void { idtVecInfo = info; idtVecErr = err; idtVecLen = len; }

// An IRET of L2 removed (virtual-)NMI blocking and has not completed (intercept.ts).
let iretNmi = false;
export function setIretNmi(v: bool): void { iretNmi = v; }
export function iretNmiPending(): bool { return iretNmi; }

// A VM exit from non-root operation. `instrLen` is 0 for exits not caused by an instruction.
export function vmExit(reason: u32, qual: u64, instrLen: u32, instrInfo: u32): void {
  // "NMI unblocking due to IRET" (SDM 28.2.2 / 28.2.3): a fault of an IRET that unblocked NMIs
  // (or removed virtual-NMI blocking) exits with bit 12 of the VM-exit interruption information
  // (exceptions other than #DF) or of the qualification (EPT violation, PML full); undefined,
  // and left 0, when the exit also reports IDT-vectoring information.
  if (iretNmi) {
    iretNmi = false;
    if (idtVecInfo == 0) {
      if (reason == EXIT_EXCEPTION) {
        const ii = rd(F.EXIT_INTR_INFO);
        if (((ii >> 8) & 7) == 3 && (ii & 0xff) != 8) wr(F.EXIT_INTR_INFO, ii | 0x1000);
      } else if (reason == E.EXIT_EPT_VIOLATION || reason == EXIT_PML_FULL) qual |= 0x1000;
    }
  }
  // The MSR-store list (SDM 28.4) reads guest MSRs, which nothing below changes; it runs first
  // so a stored IA32_TIME_STAMP_COUNTER is as close as possible to the exiting instruction.
  const stored = storeMsrList(rd(F.EXIT_MSR_STORE_ADDR), <u32>rd(F.EXIT_MSR_STORE_COUNT));
  wr(F.EXIT_REASON, <u64>reason);
  wr(F.EXIT_QUALIFICATION, qual);
  // An exit during delivery of a software interrupt/exception reports that instruction's
  // length (SDM 28.2.5).
  const vt = (idtVecInfo >> 8) & 7;
  if (instrLen == 0 && idtVecInfo != 0 && vt >= 4 && vt <= 6) instrLen = idtVecLen;
  wr(F.EXIT_INSTR_LEN, <u64>instrLen);
  wr(F.EXIT_INSTR_INFO, <u64>instrInfo);
  wr(F.IDT_VECTORING_INFO, <u64>idtVecInfo);
  if (idtVecInfo != 0) wr(F.IDT_VECTORING_ERROR, <u64>idtVecErr);
  idtVecInfo = 0;
  // The valid bit of the VM-entry interruption-information field is cleared (SDM 28.2.?).
  wr(F.ENTRY_INTR_INFO, rd(F.ENTRY_INTR_INFO) & 0x7fffffff);
  saveGuest();
  if (!stored) { vmxAbort(1); return; }
  V.setNonRoot(false);
  V.setVmxPoll(false);
  V.setTimerArmed(false);
  V.setMtfForced(false);
  loadHost();
  if (loadMsrList(rd(F.EXIT_MSR_LOAD_ADDR), <u32>rd(F.EXIT_MSR_LOAD_COUNT)) != 0) vmxAbort(4);
}

// VM exit caused by the instruction being executed (RIP still at its start).
export function instrExit(reason: u32, qual: u64, info: u32): void {
  vmExit(reason, qual, <u32>(D.nextRip - D.instrStart), info);
}

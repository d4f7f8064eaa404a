// VM entry (SDM Vol.3C "VM Entries"): checks on the VMX controls and host-state area
// (VMfailValid 7 / 8), checks on the guest-state area (VM-entry failure, exit reason 33),
// loading guest state, the VM-entry MSR-load list (failure: exit reason 34), event injection.
// Checks run in the SDM's order; the first failing one decides.
import * as S from "../cpu/state";
import { AR_UNUSABLE } from "../cpu/state";
import { setRflags } from "../cpu/flags";
import * as M from "../cpu/msr";
import { isCanonical, isCanonicalMax } from "../cpu/segmem";
import { PHYS_ADDR_BITS } from "../cpu/cpuid";
import { CR4_VALID } from "../cpu/control";
import { loadPdptes } from "../mmu/access";
import { physRead } from "../mmu/phys";
import { setIntShadow, setMovSsShadow, setNmiBlocked, deliverEvent, addDbTrap, clearDbTrap, EV_EXT, EV_EXC, EV_SOFT, EV_ICEBP } from "../cpu/interrupts";
import { faultPending } from "../cpu/fault";
import * as D from "../cpu/decode";
import * as F from "./fields";
import { vmcsRead as rd } from "./fields";
import * as V from "./vstate";
import * as E from "./ept";
import { setPdpte } from "./pdpte";
import * as VA from "./vapic";
import * as VF from "./vmfunc";
import { inFlight, inSlice } from "../cpu/run";
import * as C from "./caps";
import { VMCS_REVISION, CR0_FIXED0, CR0_FIXED1, CR4_FIXED0 } from "./caps";
import { armTimer, pleReset } from "./intercept";
import { globalCtrlOk, setGlobalCtrl } from "../cpu/pmu";
import { setIdtVectoring, afterStateLoad, loadHost, loadMsrList, enterNmiState, saveL1Nmi, EXIT_BAD_GUEST, EXIT_MSR_LOAD_FAIL, EXIT_FAILED_ENTRY, XC_HOST64 } from "./exit";
import { XC_LOAD_PERF } from "./exit";

// Controls (SDM 25.6 / 25.7 / 25.8).
export const PIN_EXT_INTR: u32 = 1 << 0, PIN_NMI: u32 = 1 << 3, PIN_VIRT_NMI: u32 = 1 << 5, PIN_PREEMPT: u32 = 1 << 6;
export const PROC_INTR_WINDOW: u32 = 1 << 2, PROC_MTF: u32 = 1 << 27;
export const PROC_TSC_OFFSET: u32 = 1 << 3, PROC_HLT: u32 = 1 << 7, PROC_INVLPG: u32 = 1 << 9;
export const PROC_RDTSC: u32 = 1 << 12, PROC_CR3_LOAD: u32 = 1 << 15, PROC_CR3_STORE: u32 = 1 << 16;
export const PROC_CR8_LOAD: u32 = 1 << 19, PROC_CR8_STORE: u32 = 1 << 20, PROC_NMI_WINDOW: u32 = 1 << 22;
export const PROC_MOV_DR: u32 = 1 << 23, PROC_UNCOND_IO: u32 = 1 << 24, PROC_IO_BITMAPS: u32 = 1 << 25;
export const PROC_MSR_BITMAPS: u32 = 1 << 28, PROC_PAUSE: u32 = 1 << 30;
export const PROC_MWAIT: u32 = 1 << 10, PROC_MONITOR: u32 = 1 << 29;
export const EC_LOAD_DEBUG: u32 = 1 << 2, EC_IA32E: u32 = 1 << 9, EC_LOAD_PAT: u32 = 1 << 14, EC_LOAD_EFER: u32 = 1 << 15;
export const EC_LOAD_PERF: u32 = 1 << 13;

const PA_RSVD: u64 = ~(((<u64>1) << <u64>PHYS_ADDR_BITS) - 1);
@inline function ctlOk(v: u32, caps: u64): bool {
  return (v & <u32>caps) == <u32>caps && (v & ~<u32>(caps >> 32)) == 0;
}
@inline function pageAddrOk(a: u64): bool { return (a & 0xfff) == 0 && (a & PA_RSVD) == 0; }
// MSR area: 16-byte aligned, last byte within the physical-address width (SDM 26.2.1.2).
function msrAreaOk(a: u64, count: u32): bool {
  if (count == 0) return true;
  return (a & 15) == 0 && ((a + <u64>count * 16 - 1) & PA_RSVD) == 0;
}

// SDM 26.2.1: the VMX controls. true if valid.
function checkControls(): bool {
  const pin = <u32>rd(F.PIN_CONTROLS), proc = <u32>rd(F.PROC_CONTROLS);
  // 26.2.1.1 VM-execution control fields.
  if (!ctlOk(pin, C.PIN_CTLS)) return false;
  if (!ctlOk(proc, C.PROC_CTLS)) return false;
  const p2 = (proc & C.PROC_ACTIVATE_SECONDARY) != 0 ? <u32>rd(F.PROC2_CONTROLS) : 0;
  if ((proc & C.PROC_ACTIVATE_SECONDARY) != 0 && !ctlOk(p2, C.PROC2_CTLS)) return false;
  if (rd(F.CR3_TARGET_COUNT) > <u64>C.CR3_TARGETS) return false;
  if ((proc & PROC_IO_BITMAPS) != 0 && (!pageAddrOk(rd(F.IO_BITMAP_A)) || !pageAddrOk(rd(F.IO_BITMAP_B)))) return false;
  if ((proc & PROC_MSR_BITMAPS) != 0 && !pageAddrOk(rd(F.MSR_BITMAP))) return false;
  if ((pin & PIN_NMI) == 0 && (pin & PIN_VIRT_NMI) != 0) return false;
  if ((pin & PIN_VIRT_NMI) == 0 && (proc & PROC_NMI_WINDOW) != 0) return false;
  if ((p2 & C.PROC2_VPID) != 0 && rd(F.VIRTUAL_PROCESSOR_ID) == 0) return false;
  if ((p2 & C.PROC2_UNRESTRICTED) != 0 && (p2 & C.PROC2_EPT) == 0) return false;
  if ((p2 & C.PROC2_SHADOW) != 0 && (!pageAddrOk(rd(F.VMREAD_BITMAP)) || !pageAddrOk(rd(F.VMWRITE_BITMAP)))) return false;
  if ((p2 & C.PROC2_EPT) != 0 && !eptpOk(rd(F.EPT_POINTER))) return false;
  // "EPT-violation #VE": the virtualization-exception information address is page-aligned and
  // within the physical-address width (SDM 26.2.1.1).
  if ((p2 & C.PROC2_VE) != 0 && !pageAddrOk(rd(F.VE_INFO_ADDR))) return false;
  if (!VA.controlsOk(pin, proc, p2)) return false;   // TPR shadow, APIC-access page (vapic.ts)
  if (!VF.controlsOk(p2)) return false;              // VM functions (vmfunc.ts)
  // 26.2.1.2 VM-exit control fields.
  const xc = <u32>rd(F.EXIT_CONTROLS);
  if (!ctlOk(xc, C.EXIT_CTLS)) return false;
  // "Save VMX-preemption timer value" needs "activate VMX-preemption timer".
  if ((pin & PIN_PREEMPT) == 0 && (xc & (1 << 22)) != 0) return false;
  if (!msrAreaOk(rd(F.EXIT_MSR_STORE_ADDR), <u32>rd(F.EXIT_MSR_STORE_COUNT))) return false;
  if (!msrAreaOk(rd(F.EXIT_MSR_LOAD_ADDR), <u32>rd(F.EXIT_MSR_LOAD_COUNT))) return false;
  // 26.2.1.3 VM-entry control fields.
  const ec = <u32>rd(F.ENTRY_CONTROLS);
  if (!ctlOk(ec, C.ENTRY_CTLS)) return false;
  const ii = <u32>rd(F.ENTRY_INTR_INFO);
  if ((ii & 0x80000000) != 0) {
    const type = (ii >> 8) & 7, vec = ii & 0xff;
    if (type == 1) return false;                              // reserved
    if (type == 7 && vec != 0) return false;                  // other event: only 0 = pending MTF
    if (type == 2 && vec != 2) return false;                  // NMI
    if (type == 3 && vec > 31) return false;                  // hardware exception
    // Deliver-error-code: only for hardware exceptions that push one, and not into an
    // unrestricted guest with CR0.PE = 0 (SDM 26.2.1.3).
    const errVec = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21;
    const ugOn = (proc & C.PROC_ACTIVATE_SECONDARY) != 0 && (p2 & C.PROC2_UNRESTRICTED) != 0;
    const wantErr = type == 3 && errVec && (!ugOn || (rd(F.GUEST_CR0) & 1) != 0);
    if (((ii & 0x800) != 0) != wantErr) return false;
    if ((ii & 0x7ffff000) != 0) return false;                 // bits 30:12 reserved
    if ((ii & 0x800) != 0 && (rd(F.ENTRY_EXC_ERROR) & 0xffff8000) != 0) return false;
    if (type == 4 || type == 5 || type == 6) {
      const len = rd(F.ENTRY_INSTR_LEN);
      if (len == 0 || len > 15) return false;
    }
  }
  if (!msrAreaOk(rd(F.ENTRY_MSR_LOAD_ADDR), <u32>rd(F.ENTRY_MSR_LOAD_COUNT))) return false;
  return true;
}

// EPTP (SDM 25.6.11 / 26.2.1.1): memory type UC or WB, 4-level (or 5-level, ept.ts) walk,
// bit 6 A/D (offered), bits 11:7 and 63:N reserved.
export function eptpOk(e: u64): bool {
  const mt = <u32>e & 7;
  if (mt != 0 && mt != 6) return false;
  if (!E.walkLengthOk((<u32>e >> 3) & 7)) return false;
  if ((e & 0xf80) != 0) return false;
  return (e & PA_RSVD) == 0;
}

// IA32_PAT values WRMSR accepts (SDM 26.2.2 / 26.3.1.1): every byte 0, 1, 4, 5, 6 or 7.
function patOk(v: u64): bool {
  for (let i: u64 = 0; i < 64; i += 8) {
    const t = <u32>(v >> i) & 0xff;
    if (t == 2 || t == 3 || t > 7) return false;
  }
  return true;
}

const EFER_RSVD: u64 = ~(S.EFER_SCE | S.EFER_LME | S.EFER_LMA | S.EFER_NXE);

// SDM 26.2.2 - 26.2.4: host state. true if valid.
function checkHost(): bool {
  const xc = <u32>rd(F.EXIT_CONTROLS);
  const host64 = (xc & XC_HOST64) != 0;
  const cr0 = rd(F.HOST_CR0), cr4 = rd(F.HOST_CR4);
  // 26.2.2 control registers and MSRs.
  if ((cr0 & CR0_FIXED0) != CR0_FIXED0 || (cr0 & ~CR0_FIXED1) != 0) return false;
  if ((cr4 & CR4_FIXED0) != CR4_FIXED0 || (cr4 & ~CR4_VALID) != 0) return false;
  if ((rd(F.HOST_CR3) & PA_RSVD) != 0) return false;
  // Addresses that WRMSR / LGDT could load are checked against the widest linear-address
  // width supported (57 bits with 5-level paging), as those instructions do.
  if (!isCanonicalMax(rd(F.HOST_SYSENTER_ESP)) || !isCanonicalMax(rd(F.HOST_SYSENTER_EIP))) return false;
  // Load IA32_PERF_GLOBAL_CTRL: no bit reserved in the MSR may be set.
  if ((xc & XC_LOAD_PERF) != 0 && !globalCtrlOk(rd(F.HOST_PERF_GLOBAL_CTRL))) return false;
  if ((xc & (1 << 19)) != 0 && !patOk(rd(F.HOST_PAT))) return false;   // load IA32_PAT
  if ((xc & (1 << 21)) != 0) {   // load IA32_EFER
    const e = rd(F.HOST_EFER);
    if ((e & EFER_RSVD) != 0) return false;
    if (((e & S.EFER_LMA) != 0) != host64 || ((e & S.EFER_LME) != 0) != host64) return false;
  }
  // 26.2.3 segment and descriptor-table registers.
  for (let s: u32 = 0; s < 7; s++) if ((rd(F.HOST_SEL0 + s * 2) & 7) != 0) return false;
  if (rd(F.HOST_SEL0 + 2) == 0 || rd(F.HOST_TR_SEL) == 0) return false;
  if (!host64 && rd(F.HOST_SEL0 + 4) == 0) return false;
  if (!isCanonicalMax(rd(F.HOST_FS_BASE)) || !isCanonicalMax(rd(F.HOST_GS_BASE)) || !isCanonicalMax(rd(F.HOST_TR_BASE))
    || !isCanonicalMax(rd(F.HOST_GDTR_BASE)) || !isCanonicalMax(rd(F.HOST_IDTR_BASE))) return false;
  // 26.2.4 address-space size.
  if (S.longMode) { if (!host64) return false; }
  else if (host64 || (<u32>rd(F.ENTRY_CONTROLS) & EC_IA32E) != 0) return false;
  if (!host64) {
    if ((cr4 & S.CR4_PCIDE) != 0 || (rd(F.HOST_RIP) >> 32) != 0) return false;
  } else {
    if ((cr4 & S.CR4_PAE) == 0 || !isCanonical(rd(F.HOST_RIP))) return false;
  }
  return true;
}

// SDM 26.3.1: guest state. Returns -1 if valid, else the exit qualification of the
// VM-entry failure (0 = default, 2 = PDPTE, 4 = VMCS link pointer).
function checkGuest(): i32 {
  const ec = <u32>rd(F.ENTRY_CONTROLS);
  const ia32e = (ec & EC_IA32E) != 0;
  const cr0 = rd(F.GUEST_CR0), cr4 = rd(F.GUEST_CR4);
  const proc = <u32>rd(F.PROC_CONTROLS);
  const ug = (proc & C.PROC_ACTIVATE_SECONDARY) != 0 && (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_UNRESTRICTED) != 0;
  // 26.3.1.1 control registers, debug registers, MSRs (unrestricted guest: PE and PG free, but
  // PG needs PE).
  const f0 = ug ? CR0_FIXED0 & ~(S.CR0_PE | S.CR0_PG) : CR0_FIXED0;
  if ((cr0 & f0) != f0 || (cr0 & ~CR0_FIXED1) != 0) return 0;
  if ((cr0 & S.CR0_PG) != 0 && (cr0 & S.CR0_PE) == 0) return 0;
  if (ia32e && (cr0 & S.CR0_PG) == 0) return 0;
  if ((cr4 & CR4_FIXED0) != CR4_FIXED0 || (cr4 & ~CR4_VALID) != 0) return 0;
  if ((ec & EC_LOAD_DEBUG) != 0 && (rd(F.GUEST_DEBUGCTL) & ~M.DEBUGCTL_VALID) != 0) return 0;
  if (ia32e && (cr4 & S.CR4_PAE) == 0) return 0;
  if (!ia32e && (cr4 & S.CR4_PCIDE) != 0) return 0;
  if ((rd(F.GUEST_CR3) & PA_RSVD) != 0) return 0;
  if ((ec & EC_LOAD_DEBUG) != 0 && (rd(F.GUEST_DR7) >> 32) != 0) return 0;
  if (!isCanonical(rd(F.GUEST_SYSENTER_ESP)) || !isCanonical(rd(F.GUEST_SYSENTER_EIP))) return 0;
  if ((ec & EC_LOAD_PERF) != 0 && !globalCtrlOk(rd(F.GUEST_PERF_GLOBAL_CTRL))) return 0;
  if ((ec & EC_LOAD_PAT) != 0 && !patOk(rd(F.GUEST_PAT))) return 0;
  if ((ec & EC_LOAD_EFER) != 0) {
    const e = rd(F.GUEST_EFER);
    if ((e & EFER_RSVD) != 0 || ((e & S.EFER_LMA) != 0) != ia32e) return 0;
    if ((cr0 & S.CR0_PG) != 0 && ((e & S.EFER_LMA) != 0) != ((e & S.EFER_LME) != 0)) return 0;
  }
  // 26.3.1.2 segment registers. A virtual-8086 guest (RFLAGS.VM = 1; 26.3.1.4: only with
  // CR0.PE = 1 and outside IA-32e mode) has CS, SS, DS, ES, FS, GS with base = selector << 4,
  // limit FFFFH and access rights F3H; TR, LDTR and the descriptor tables are checked as usual.
  const rfl = rd(F.GUEST_RFLAGS);
  const vm86 = (rfl & 0x20000) != 0;
  if (vm86 && (ia32e || (cr0 & S.CR0_PE) == 0)) return 0;
  if ((sel(S.TR) & 4) != 0) return 0;
  if ((ar(S.LDTR) & AR_UNUSABLE) == 0 && (sel(S.LDTR) & 4) != 0) return 0;
  if (vm86) return checkVm86Guest(rfl, ia32e);
  if (!ug && (sel(S.SS) & 3) != (sel(S.CS) & 3)) return 0;
  if (!isCanonical(base(S.TR)) || !isCanonical(base(S.FS)) || !isCanonical(base(S.GS))) return 0;
  if ((ar(S.LDTR) & AR_UNUSABLE) == 0 && !isCanonical(base(S.LDTR))) return 0;
  if ((base(S.CS) >> 32) != 0) return 0;
  for (let s: u32 = 0; s < 4; s++) {
    if (s == S.CS) continue;
    if ((ar(s) & AR_UNUSABLE) == 0 && (base(s) >> 32) != 0) return 0;
  }
  // Access rights.
  const csAr = ar(S.CS), csType = csAr & 15;
  if (csType != 9 && csType != 11 && csType != 13 && csType != 15 && !(ug && csType == 3)) return 0;
  if ((csAr & S.AR_S) == 0 || (csAr & S.AR_P) == 0) return 0;
  const ssAr = ar(S.SS);
  const csDpl = (csAr >> 5) & 3, ssDpl = (ssAr >> 5) & 3;
  if (csType == 3 && csDpl != 0) return 0;
  if ((csType == 9 || csType == 11) && csDpl != ssDpl) return 0;
  if ((csType == 13 || csType == 15) && csDpl > ssDpl) return 0;
  if ((csAr & 0xfffe0f00) != 0) return 0;
  if (ia32e && (csAr & S.AR_L) != 0 && (csAr & S.AR_DB) != 0) return 0;
  if (!granOk(lim(S.CS), csAr)) return 0;
  if ((ssAr & AR_UNUSABLE) == 0) {
    const t = ssAr & 15;
    if (t != 3 && t != 7) return 0;
    if ((ssAr & S.AR_S) == 0 || (ssAr & S.AR_P) == 0 || (ssAr & 0xfffe0f00) != 0) return 0;
    if (!granOk(lim(S.SS), ssAr)) return 0;
  }
  if (!ug && ssDpl != (sel(S.SS) & 3)) return 0;
  if (ug && (cr0 & S.CR0_PE) == 0 && ssDpl != 0) return 0;
  for (let s: u32 = 0; s < 6; s++) {
    if (s == S.CS || s == S.SS) continue;
    const a = ar(s);
    if ((a & AR_UNUSABLE) != 0) continue;
    const t = a & 15;
    if ((t & 1) == 0) return 0;                         // accessed
    if ((t & 8) != 0 && (t & 2) == 0) return 0;         // code segments must be readable
    if ((a & S.AR_S) == 0 || (a & S.AR_P) == 0 || (a & 0xfffe0f00) != 0) return 0;
    if (!ug && t <= 11 && ((a >> 5) & 3) < (sel(s) & 3)) return 0;   // DPL >= RPL unless conforming code
    if (!granOk(lim(s), a)) return 0;
  }
  return checkGuestRest(rfl, ia32e, csAr, ssDpl);
}
// Virtual-8086 guest segments (SDM 26.3.1.2), then TR/LDTR and the rest.
function checkVm86Guest(rfl: u64, ia32e: bool): i32 {
  for (let s: u32 = 0; s < 6; s++) {
    if (base(s) != (<u64>sel(s) << 4) || lim(s) != 0xffff || ar(s) != 0xf3) return 0;
  }
  if (!isCanonical(base(S.TR))) return 0;
  if ((ar(S.LDTR) & AR_UNUSABLE) == 0 && !isCanonical(base(S.LDTR))) return 0;
  return checkGuestRest(rfl, ia32e, ar(S.CS), 3);
}
// TR, LDTR (26.3.1.2), descriptor tables, RIP/RFLAGS, non-register state (26.3.1.3-26.3.1.5).
function checkGuestRest(rfl: u64, ia32e: bool, csAr: u32, ssDpl: u32): i32 {
  const proc = <u32>rd(F.PROC_CONTROLS);
  const trAr = ar(S.TR), trType = trAr & 15;
  if (ia32e ? trType != 11 : (trType != 3 && trType != 11)) return 0;
  if ((trAr & S.AR_S) != 0 || (trAr & S.AR_P) == 0 || (trAr & AR_UNUSABLE) != 0 || (trAr & 0xfffe0f00) != 0) return 0;
  if (!granOk(lim(S.TR), trAr)) return 0;
  const ldAr = ar(S.LDTR);
  if ((ldAr & AR_UNUSABLE) == 0) {
    if ((ldAr & 15) != 2 || (ldAr & S.AR_S) != 0 || (ldAr & S.AR_P) == 0 || (ldAr & 0xfffe0f00) != 0) return 0;
    if (!granOk(lim(S.LDTR), ldAr)) return 0;
  }
  // 26.3.1.3 descriptor-table registers.
  if (!isCanonical(rd(F.GUEST_GDTR_BASE)) || !isCanonical(rd(F.GUEST_IDTR_BASE))) return 0;
  if ((rd(F.GUEST_GDTR_LIMIT) >> 16) != 0 || (rd(F.GUEST_IDTR_LIMIT) >> 16) != 0) return 0;
  // 26.3.1.4 RIP and RFLAGS.
  const rip = rd(F.GUEST_RIP);
  const long64 = ia32e && (csAr & S.AR_L) != 0;
  if (!long64 && (rip >> 32) != 0) return 0;
  // "bits 63:N identical, N = the processor's linear-address width" (57 with 5-level paging
  // support, whatever CR4.LA57 is now).
  if (long64 && !isCanonicalMax(rip)) return 0;
  if ((rfl & 0xffffffffffc08028) != 0 || (rfl & 2) == 0) return 0;
  const ii = <u32>rd(F.ENTRY_INTR_INFO);
  if ((ii & 0x80000000) != 0 && ((ii >> 8) & 7) == 0 && (rfl & 0x200) == 0) return 0;
  // 26.3.1.5 non-register state.
  const act = rd(F.GUEST_ACTIVITY);
  if (act == 2 || act > 3) return 0;                     // active, HLT and wait-for-SIPI are supported
  if (act == 3 && (ii & 0x80000000) != 0) return 0;      // no event injection into wait-for-SIPI
  if (act == 1 && ssDpl != 0) return 0;
  const ib = rd(F.GUEST_INTERRUPTIBILITY);
  if ((ib & ~(<u64>0xf)) != 0 || (ib & 3) == 3) return 0;
  if ((rfl & 0x200) == 0 && (ib & 1) != 0) return 0;
  if ((ib & 3) != 0 && act != 0) return 0;
  if ((ii & 0x80000000) != 0 && ((ii >> 8) & 7) == 0 && (ib & 3) != 0) return 0;
  if ((rd(F.GUEST_PENDING_DBG) & ~(<u64>0x1500f)) != 0) return 0;
  const link = rd(F.VMCS_LINK_POINTER);
  if (link != V.NO_PTR) {
    // The link pointer must reference a VMCS with the right revision whose shadow-VMCS
    // indicator equals the "VMCS shadowing" control (SDM 26.3.1.5).
    if (!pageAddrOk(link) || link == V.vmxonPtr) return 4;
    const rev = <u32>physRead(link, 4);
    const shadow = (proc & C.PROC_ACTIVATE_SECONDARY) != 0 && (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_SHADOW) != 0;
    if ((rev & 0x7fffffff) != VMCS_REVISION || ((rev >> 31) != 0) != shadow) return 4;
  }
  return -1;
}
function sel(s: u32): u32 { return <u32>rd(F.GUEST_SEL0 + s * 2); }
function ar(s: u32): u32 { return <u32>rd(F.GUEST_AR0 + s * 2); }
function lim(s: u32): u32 { return <u32>rd(F.GUEST_LIMIT0 + s * 2); }
function base(s: u32): u64 { return rd(F.GUEST_BASE0 + s * 2); }
// Limit/granularity consistency (SDM 26.3.1.2): limit[11:0] != FFF => G = 0; limit[31:20] != 0 => G = 1.
function granOk(limit: u32, a: u32): bool {
  if ((limit & 0xfff) != 0xfff && (a & S.AR_G) != 0) return false;
  if ((limit >> 20) != 0 && (a & S.AR_G) == 0) return false;
  return true;
}

// Load guest state (SDM 26.3.2). The guest's CR0/CR4 are loaded as they are: bits owned by L1
// (guest/host masks) are only shadowed for the guest's reads and writes (intercept.ts).
function loadGuest(tag: u32, flush: bool): void {
  const ec = <u32>rd(F.ENTRY_CONTROLS);
  S.setCr0Raw((rd(F.GUEST_CR0) & 0xe005003f) | S.CR0_ET);
  S.setCr3Raw(rd(F.GUEST_CR3));
  S.setCr4Raw(rd(F.GUEST_CR4));
  // SDM 27.3.2.1: "load debug controls" loads DR7 and IA32_DEBUGCTL.
  if ((ec & EC_LOAD_DEBUG) != 0) { S.setDr(7, (rd(F.GUEST_DR7) & 0xffff2bff) | 0x400); M.setDebugctl(rd(F.GUEST_DEBUGCTL)); }
  M.writeMsr(M.MSR_SYSENTER_CS, rd(F.GUEST_SYSENTER_CS) & 0xffffffff);
  M.writeMsr(M.MSR_SYSENTER_ESP, rd(F.GUEST_SYSENTER_ESP));
  M.writeMsr(M.MSR_SYSENTER_EIP, rd(F.GUEST_SYSENTER_EIP));
  if ((ec & EC_LOAD_PERF) != 0) setGlobalCtrl(rd(F.GUEST_PERF_GLOBAL_CTRL));   // SDM 26.3.2.1
  if ((ec & EC_LOAD_PAT) != 0) M.writeMsr(M.MSR_PAT, rd(F.GUEST_PAT));
  let efer = S.efer;
  if ((ec & EC_LOAD_EFER) != 0) efer = rd(F.GUEST_EFER);
  else {
    const ia32e = (ec & EC_IA32E) != 0;
    efer = ia32e ? efer | S.EFER_LMA | S.EFER_LME : efer & ~(S.EFER_LMA | S.EFER_LME);
  }
  S.setEferRaw(efer);
  for (let s: u32 = 0; s < 8; s++) {
    S.setSeg(s, <u32>rd(F.GUEST_SEL0 + s * 2), rd(F.GUEST_BASE0 + s * 2), <u32>rd(F.GUEST_LIMIT0 + s * 2),
      <u32>rd(F.GUEST_AR0 + s * 2) & 0x1f0ff);
  }
  S.setGdtr(rd(F.GUEST_GDTR_BASE), <u32>rd(F.GUEST_GDTR_LIMIT));
  S.setIdtr(rd(F.GUEST_IDTR_BASE), <u32>rd(F.GUEST_IDTR_LIMIT));
  S.setReg64(S.RSP, rd(F.GUEST_RSP));
  S.setRip(rd(F.GUEST_RIP));
  D.setNextRip(S.rip);
  setRflags(rd(F.GUEST_RFLAGS));
  S.setVm86((rd(F.GUEST_RFLAGS) & 0x20000) != 0);   // virtual-8086 guest (CPL 3, checked above)
  const act = rd(F.GUEST_ACTIVITY);
  S.setHalted(act == 1 || act == 3);
  V.setWaitSipi(act == 3);
  const blk = <u32>rd(F.GUEST_INTERRUPTIBILITY) & 3;
  if ((blk & 2) != 0) setMovSsShadow(); else setIntShadow(blk != 0);
  enterNmiState((rd(F.GUEST_INTERRUPTIBILITY) & 8) != 0);
  // Pending debug exceptions (SDM 27.3.2.5 / 27.7.3): the breakpoint hits B3:0 become trap-class
  // #DB conditions reported with the next single-step or at the next instruction boundary.
  clearDbTrap();
  addDbTrap(<u32>rd(F.GUEST_PENDING_DBG) & 0xf);
  afterStateLoad(tag, flush);
}

// The VM-entry failure path (SDM 27.8): exit reason with bit 31, host state loaded,
// no guest state saved.
function entryFail(reason: u32, qual: u64): void {
  F.vmcsWrite(F.EXIT_REASON, <u64>(reason | EXIT_FAILED_ENTRY));
  F.vmcsWrite(F.EXIT_QUALIFICATION, qual);
  V.setNonRoot(false);
  loadHost();
}

export const ENTRY_OK: u32 = 0, ENTRY_BAD_CTLS: u32 = 7, ENTRY_BAD_HOST: u32 = 8, ENTRY_FAILED: u32 = 1;

// VMLAUNCH/VMRESUME after the instruction's own checks (instr.ts). Returns ENTRY_BAD_CTLS /
// ENTRY_BAD_HOST for VMfailValid, ENTRY_FAILED for a VM-entry failure exit (already performed),
// or ENTRY_OK when the guest runs.
export function vmEntry(launch: bool): u32 {
  saveL1Nmi();
  V.setMtfForced(false);
  if (!checkControls()) return ENTRY_BAD_CTLS;
  if (!checkHost()) return ENTRY_BAD_HOST;
  const q = checkGuest();
  if (q >= 0) { entryFail(EXIT_BAD_GUEST, <u64>q); return ENTRY_FAILED; }
  // PDPTEs of a PAE guest (SDM 26.3.1.6): from the VMCS with EPT (checked first), else read
  // through the guest CR3 after loading it.
  const proc = <u32>rd(F.PROC_CONTROLS);
  const p2 = (proc & C.PROC_ACTIVATE_SECONDARY) != 0 ? <u32>rd(F.PROC2_CONTROLS) : 0;
  const ept = (p2 & C.PROC2_EPT) != 0, vpid = (p2 & C.PROC2_VPID) != 0;
  const pae = (rd(F.GUEST_CR0) & S.CR0_PG) != 0 && (rd(F.GUEST_CR4) & S.CR4_PAE) != 0 && (<u32>rd(F.ENTRY_CONTROLS) & EC_IA32E) == 0;
  if (ept && pae) {
    for (let i: u32 = 0; i < 4; i++) {
      const e = rd(F.GUEST_PDPTE0 + i * 2);
      if ((e & 1) != 0 && (e & (0x1e6 | PA_RSVD)) != 0) { entryFail(EXIT_BAD_GUEST, 2); return ENTRY_FAILED; }
    }
  }
  E.setEpt(ept, rd(F.EPT_POINTER));
  E.setPml((p2 & E.PROC2_PML) != 0, rd(E.PML_ADDR));
  const tag = vpid ? E.contextTag(<u32>rd(F.VIRTUAL_PROCESSOR_ID), ept ? rd(F.EPT_POINTER) : 0) : 0;
  V.setVpidActive(vpid);
  V.setUnrestricted((p2 & C.PROC2_UNRESTRICTED) != 0);
  V.setShadowing((p2 & C.PROC2_SHADOW) != 0);
  VA.enter(<u32>rd(F.PIN_CONTROLS), proc, p2);
  loadGuest(tag, !vpid || E.ctxEvicted);
  if (pae) {
    if (ept) { for (let i: u32 = 0; i < 4; i++) setPdpte(i, rd(F.GUEST_PDPTE0 + i * 2)); }
    else if (!loadPdptes()) {
      E.setEpt(false, 0);
      entryFail(EXIT_BAD_GUEST, 2);
      return ENTRY_FAILED;
    }
  }
  if (launch) V.setLaunched(true);
  V.setNonRoot(true);
  const bad = loadMsrList(rd(F.ENTRY_MSR_LOAD_ADDR), <u32>rd(F.ENTRY_MSR_LOAD_COUNT));
  if (bad != 0) {
    // SDM 26.4: host state is loaded; the guest state loaded so far is lost.
    E.setEpt(false, 0);
    entryFail(EXIT_MSR_LOAD_FAIL, <u64>bad);
    return ENTRY_FAILED;
  }
  pleReset();   // the first CPL-0 PAUSE after VM entry starts a PAUSE loop (SDM 26.1.3)
  const injected = injectEvent();
  armPoll(injected);
  VA.afterEntry();   // VID: PPR virtualization + evaluation; else a TPR-threshold exit (vapic.ts)
  return ENTRY_OK;
}

// Conditions checked between L2 instructions (intercept.ts pollExits).
function armPoll(injected: bool): void {
  const pin = <u32>rd(F.PIN_CONTROLS);
  const proc = <u32>rd(F.PROC_CONTROLS);
  // Monitor trap flag (SDM 26.5.2): after the first L2 instruction, or right after an injected
  // event has been delivered.
  // The VMLAUNCH/VMRESUME itself is counted once it completes when run from cpu/run.ts.
  V.setMtfAt(icountNow() + (inSlice() ? 1 : 0) + (injected ? 0 : 1));
  if ((pin & PIN_PREEMPT) != 0) {
    armTimer(<u32>rd(F.PREEMPT_TIMER));
  }
  V.setTimerArmed((pin & PIN_PREEMPT) != 0);
  V.setVmxPoll((pin & PIN_PREEMPT) != 0 || (proc & (PROC_INTR_WINDOW | PROC_MTF | PROC_NMI_WINDOW)) != 0 || V.mtfForced
    || V.initPending);
}
export function icountNow(): u64 { return S.icount + inFlight(); }

// Event injection (SDM 27.6): deliver through the guest IDT right after entry.
function injectEvent(): bool {
  const ii = <u32>rd(F.ENTRY_INTR_INFO);
  if ((ii & 0x80000000) == 0) return false;
  F.vmcsWrite(F.ENTRY_INTR_INFO, <u64>(ii & 0x7fffffff));
  const type = (ii >> 8) & 7, vec = ii & 0xff;
  // Type 7 vector 0: a pending MTF VM exit, taken before the first guest instruction.
  if (type == 7) { V.setMtfForced(true); return true; }
  const hasErr = (ii & 0x800) != 0;
  const err = <u32>rd(F.ENTRY_EXC_ERROR);
  S.setHalted(false);
  let kind = EV_EXT;
  let ret = S.rip;
  if (type == 3) kind = EV_EXC;
  else if (type == 4 || type == 6) { kind = EV_SOFT; ret = S.rip + rd(F.ENTRY_INSTR_LEN); }
  else if (type == 5) { kind = EV_ICEBP; ret = S.rip + rd(F.ENTRY_INSTR_LEN); }
  // An injected NMI blocks further NMIs (virtual NMIs: virtual-NMI blocking), SDM 27.6.1.2.
  if (type == 2) setNmiBlocked(true);
  // An exit caused by delivering the injected event reports it as IDT-vectoring information.
  setIdtVectoring(ii & 0x80000fff, err, type >= 4 ? <u32>rd(F.ENTRY_INSTR_LEN) : 0);
  deliverEvent(vec, err, hasErr, kind, ret);
  // A fault while delivering is a guest fault (run loop delivers it, possibly as a VM exit).
  if (faultPending) return true;
  setIdtVectoring(0, 0);
  D.setNextRip(S.rip);
  return true;
}

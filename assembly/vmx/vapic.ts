// APIC virtualization for L2 (SDM Vol.3C ch. 30 "APIC Virtualization and Virtual Interrupts"):
//  - TPR shadow (30.1.1-30.1.2, 30.3): the virtual-APIC page, VTPR at its offset 080H, the TPR
//    threshold; MOV from/to CR8 read/write VTPR[7:4]; a write that leaves VTPR[7:4] below
//    TPR threshold[3:0] is followed by a trap-like "TPR below threshold" VM exit (reason 43).
//  - Virtualize APIC accesses (30.4): an L2 access whose physical address (after EPT, i.e.
//    L1-physical here) is on the APIC-access page is either virtualized (with "use TPR shadow":
//    a data access of at most 4 bytes at offset 080H goes to VTPR) or causes an APIC-access VM
//    exit (reason 44, qualification: page offset and access type, SDM 28.2.1).
//  - APIC-register virtualization (30.4.2, 30.4.3): reads of the architectural registers and
//    writes of the writable ones go to the virtual-APIC page; a write is followed by APIC-write
//    emulation (VTPR: TPR virtualization; ICR high: bits 23:0 cleared; others: a trap-like
//    APIC-write VM exit, reason 56).
//  - Virtualize x2APIC mode (30.5): RDMSR/WRMSR of the x2APIC TPR (MSR 808H) that the MSR
//    bitmap lets through read/write VTPR (bytes 087H:080H); a write is followed by TPR
//    virtualization. With APIC-register virtualization RDMSR reads the other registers from
//    the virtual-APIC page too. The other x2APIC MSR accesses behave as without VMX.
// Virtual-interrupt delivery and posted interrupts are in vid.ts (EOI and ICR-low writes, MSRs
// 80BH / 83FH and TPR virtualization reach it from here).
//
// Hooks: entry.ts (control checks, state at entry, the TPR check right after entry),
// intercept.ts (MOV CR8, the VEC_APIC pseudo-fault, the VTPR write trap in pollExits),
// mmu/access.ts (translate: the APIC-access frame is never cached in the TLB).
import * as S from "../cpu/state";
import * as D from "../cpu/decode";
import { physRead, physWrite } from "../mmu/phys";
import { tlbFlushAll } from "../mmu/tlb";
import { raiseGP, raiseFault } from "../cpu/fault";
import { PHYS_ADDR_BITS } from "../cpu/cpuid";
import { vmcsRead as rd } from "./fields";
import * as V from "./vstate";
import { vmExit, instrExit, setIdtVectoring } from "./exit";
import * as VID from "./vid";

// Controls (SDM 25.6.2).
export const PROC_TPR_SHADOW: u32 = 1 << 21;
export const PROC2_VAPIC: u32 = 1 << 0, PROC2_X2APIC: u32 = 1 << 4, PROC2_APIC_REG: u32 = 1 << 8, PROC2_VID: u32 = 1 << 9;
export const PIN_POSTED: u32 = 1 << 7;
// Fields (SDM Appendix B).
export const VIRTUAL_APIC_ADDR: u32 = 0x2012, APIC_ACCESS_ADDR: u32 = 0x2014, TPR_THRESHOLD: u32 = 0x401c;
// Exit reasons (Appendix C).
export const EXIT_TPR_BELOW: u32 = 43, EXIT_APIC_ACCESS: u32 = 44, EXIT_APIC_WRITE: u32 = 56;
// Pseudo-fault raised by the MMU for an APIC-access VM exit (like ept.ts VEC_EPT).
export const VEC_APIC: u32 = 0x101;
const OFF_VTPR: u64 = 0x80;
const PA_RSVD: u64 = ~(((<u64>1) << <u64>PHYS_ADDR_BITS) - 1);
const NONE: u64 = u64.MAX_VALUE;

// State of the running L2, set at VM entry (only read while V.nonRoot).
export let tprShadow: bool = false;
export let vapicPage: u64 = 0;        // virtual-APIC page (L1-physical)
export let apicFrame: u64 = NONE;     // APIC-access page while "virtualize APIC accesses", else NONE
export let x2apicVirt: bool = false;  // "virtualize x2APIC mode"
export let regVirt: bool = false;     // "APIC-register virtualization"
let writePending: i32 = -1;           // register (page offset) of a virtualized write awaiting
                                      // APIC-write emulation, or -1

// Size of the memory access being translated (mmu/access.ts readSlow/writeSlow set it).
export let accSize: u32 = 4;
@inline export function noteAccSize(n: u32): void { accSize = n; }

@inline function pageAddrOk(a: u64): bool { return (a & 0xfff) == 0 && (a & PA_RSVD) == 0; }
@inline function vtprClass(): u32 { return (<u32>physRead(vapicPage + OFF_VTPR, 4) >> 4) & 0xf; }

// SDM 26.2.1.1: the checks on the APIC-virtualization controls. true if valid.
export function controlsOk(pin: u32, proc: u32, p2: u32): bool {
  const tpr = (proc & PROC_TPR_SHADOW) != 0;
  if (tpr) {
    const va = rd(VIRTUAL_APIC_ADDR);
    if (!pageAddrOk(va)) return false;
    const th = <u32>rd(TPR_THRESHOLD);
    if ((p2 & PROC2_VID) == 0) {
      if ((th >> 4) != 0) return false;
      // Without "virtualize APIC accesses" a threshold above VTPR[7:4] fails the entry (with it,
      // the entry succeeds and exits at once: afterEntry).
      if ((p2 & PROC2_VAPIC) == 0 && (th & 0xf) > ((<u32>physRead(va + OFF_VTPR, 1) >> 4) & 0xf)) return false;
    }
  } else if ((p2 & (PROC2_X2APIC | PROC2_APIC_REG | PROC2_VID)) != 0) return false;
  if ((p2 & PROC2_X2APIC) != 0 && (p2 & PROC2_VAPIC) != 0) return false;
  if ((p2 & PROC2_VID) != 0 && (pin & 1) == 0) return false;
  if ((p2 & PROC2_VAPIC) != 0 && !pageAddrOk(rd(APIC_ACCESS_ADDR))) return false;
  if ((pin & PIN_POSTED) != 0) {
    // Posted interrupts: VID, acknowledge interrupt on exit, vector bits 15:8 clear, a 64-byte
    // aligned descriptor within the physical-address width.
    if ((p2 & PROC2_VID) == 0 || (<u32>rd(0x400c) & (1 << 15)) == 0) return false;
    if ((rd(VID.PI_VECTOR) & 0xff00) != 0) return false;
    const d = rd(VID.PI_DESC_ADDR);
    if ((d & 0x3f) != 0 || (d & PA_RSVD) != 0) return false;
  }
  return true;
}

// VM entry: remember the controls of the L2 about to run.
export function enter(pin: u32, proc: u32, p2: u32): void {
  tprShadow = (proc & PROC_TPR_SHADOW) != 0;
  vapicPage = tprShadow ? rd(VIRTUAL_APIC_ADDR) : 0;
  const f = (p2 & PROC2_VAPIC) != 0 ? rd(APIC_ACCESS_ADDR) : NONE;
  // Entries for a page that has just become the APIC-access page must not be used (L2 TLB
  // entries survive entries with VPID).
  if (f != apicFrame && f != NONE) tlbFlushAll(false);
  apicFrame = f;
  x2apicVirt = (p2 & PROC2_X2APIC) != 0;
  regVirt = (p2 & PROC2_APIC_REG) != 0;
  writePending = -1;
  VID.enter(pin, p2, vapicPage);
}

// SDM 26.7.7: with "use TPR shadow" and "virtualize APIC accesses" (no virtual-interrupt
// delivery), a TPR threshold above VTPR[7:4] causes a TPR-below-threshold VM exit right after
// the VM entry (before any L2 instruction). Returns true if it exited.
export function afterEntry(): bool {
  if (VID.vidOn) { VID.atEntry(); return false; }     // PPR virtualization, evaluation (VID)
  if (!tprShadow || apicFrame == NONE) return false;
  if ((<u32>rd(TPR_THRESHOLD) & 0xf) <= vtprClass()) return false;
  vmExit(EXIT_TPR_BELOW, 0, 0, 0);
  return true;
}

// TPR virtualization (SDM 30.1.2) after a write to VTPR: a trap-like VM exit, the saved RIP is
// `next` (the instruction after the write). Returns true if it caused the VM exit.
function tprVirtualize(next: u64): bool {
  if (VID.vidOn) { VID.tprVirtualize(); return false; }   // no threshold with VID (30.1.2)
  if ((<u32>rd(TPR_THRESHOLD) & 0xf) <= vtprClass()) return false;
  S.setRip(next);
  vmExit(EXIT_TPR_BELOW, 0, 0, 0);
  return true;
}

// MOV from CR8 with "use TPR shadow" (SDM 30.3): VTPR[7:4], zero-extended.
export function cr8Read(): u64 { return <u64>vtprClass(); }
// MOV to CR8 with "use TPR shadow" and CR8-load exiting 0 (SDM 30.3): #GP(0) for bits 63:4,
// else VTPR = source[3:0] << 4 (bytes 3:1 of the VTPR dword cleared), then TPR
// virtualization. Always handled here (the caller commits nothing else).
export function cr8Write(v: u64): bool {
  if ((v & ~(<u64>0xf)) != 0) { raiseGP(0); return true; }
  physWrite(vapicPage + OFF_VTPR, 4, (v & 0xf) << 4);
  tprVirtualize(D.nextRip);      // without an exit the run loop advances RIP as usual
  return true;
}

// Registers whose reads (SDM 30.4.2) / writes (30.4.3.1) are virtualized with "APIC-register
// virtualization"; `reg` is the 16-byte-aligned page offset.
function readVirtualized(reg: u32): bool {
  switch (reg) {
    case 0x020: case 0x030: case 0x080: case 0x0b0: case 0x0d0: case 0x0e0: case 0x0f0:
    case 0x280: case 0x300: case 0x310: case 0x380: case 0x3e0: return true;
    default: break;
  }
  return (reg >= 0x100 && reg <= 0x270) || (reg >= 0x320 && reg <= 0x370);   // ISR TMR IRR, LVT
}
function writeVirtualized(reg: u32): bool {
  switch (reg) {
    case 0x020: case 0x080: case 0x0b0: case 0x0d0: case 0x0e0: case 0x0f0:
    case 0x280: case 0x300: case 0x310: case 0x380: case 0x3e0: return true;
    default: break;
  }
  return reg >= 0x320 && reg <= 0x370;
}

// An L2 translation reached the APIC-access page (SDM 30.4). acc: 0 read, 1 write, 2 fetch
// (mmu/access.ts ACC_*). Returns the physical address to use (on the virtual-APIC page), or
// NONE with VEC_APIC raised.
let apicQual: u64 = 0;
export function apicAccess(lin: u64, acc: u32): u64 {
  const off = <u32>lin & 0xfff;
  if (acc != 2 && tprShadow) {
    let virt: bool;
    const reg = off & 0xff0;
    if (regVirt) {
      // The access must lie within bytes 3:0 of the register (SDM 30.4.2, 30.4.3.1).
      virt = (off & 0xf) + accSize <= 4 && (acc == 0 ? readVirtualized(reg) : writeVirtualized(reg));
    } else {
      // Without APIC-register virtualization only VTPR is virtualized: an access of at most
      // 4 bytes at offset 080H; with virtual-interrupt delivery also writes of EOI and ICR low.
      virt = off == <u32>OFF_VTPR && accSize <= 4;
      if (VID.vidOn && acc == 1 && (off == 0xb0 || off == 0x300) && accSize <= 4) virt = true;
    }
    // One APIC-write emulation per instruction: a second register written is an exit.
    if (virt && acc == 1 && writePending >= 0 && <u32>writePending != reg) virt = false;
    if (virt) {
      if (acc == 1) { writePending = <i32>reg; V.setVmxPoll(true); }
      return vapicPage + <u64>off;
    }
  }
  // Qualification (SDM 28.2.1): bits 11:0 offset, bits 15:12 access type (0 data read,
  // 1 data write, 2 instruction fetch; 3 = during event delivery, set by apicExit).
  apicQual = <u64>off | (<u64>acc << 12);
  raiseFault(VEC_APIC, 0, false);
  return NONE;
}
// A guest-physical access (an L2 paging-structure access translated by EPT) to the APIC-access
// page: access type 15, page offset undefined (reported as 0) (SDM 28.2.1, 30.4.6.1).
export function apicGuestPhysical(): void {
  apicQual = <u64>15 << 12;
  raiseFault(VEC_APIC, 0, false);
}
// The VEC_APIC pseudo-fault becomes the APIC-access VM exit (intercept.ts). `delivering`:
// the access was made while delivering event `vecInfo` (IDT-vectoring information set).
export function apicExit(delivering: bool): bool {
  let q = apicQual;
  // During event delivery: type 3 (linear) or 10 (guest-physical).
  if (delivering) q = (q >> 12) == 15 ? <u64>10 << 12 : (q & 0xfff) | (3 << 12);
  else setIdtVectoring(0, 0);
  // A data access during instruction execution also reports the instruction length (SDM
  // 28.2.5; L1 may skip the instruction after emulating it).
  if (!delivering && (q >> 12) <= 1) instrExit(EXIT_APIC_ACCESS, q, 0);
  else vmExit(EXIT_APIC_ACCESS, q, 0, 0);
  return true;
}

// Between instructions (intercept.ts pollExits): APIC-write emulation of a virtualized write
// (SDM 30.4.3.3), after the instruction: VTPR: bytes 3:1 cleared, then TPR virtualization;
// ICR high: bits 23:0 cleared; any other register: APIC-write VM exit (reason 56, trap-like,
// qualification = page offset). EOI and ICR low exit too (no virtual-interrupt delivery).
export function pollApicWrite(): bool {
  if (writePending < 0) return false;
  const reg = <u64>writePending;
  writePending = -1;
  if (reg == OFF_VTPR) {
    physWrite(vapicPage + OFF_VTPR, 4, physRead(vapicPage + OFF_VTPR, 1));
    return tprVirtualize(S.rip);
  }
  if (reg == 0x310) {
    physWrite(vapicPage + reg, 4, physRead(vapicPage + reg, 4) & 0xff000000);
    return false;
  }
  if (VID.vidOn && reg == 0xb0) return VID.eoiVirtualize(S.rip);        // EOI virtualization
  if (VID.vidOn && reg == 0x300) {
    const icr = <u32>physRead(vapicPage + reg, 4);
    if (VID.icrLowIsSelfIpi(icr)) { VID.selfIpi(icr & 0xff); return false; }
  }
  vmExit(EXIT_APIC_WRITE, reg, 0, 0);
  return true;
}

// RDMSR / WRMSR in L2 that did not exit (intercept.ts exitMsr first), with "virtualize x2APIC
// mode": MSR 808H (TPR) is VTPR (SDM 30.5). Return true when handled here.
const MSR_X2APIC_TPR: u32 = 0x808;
// With APIC-register virtualization every RDMSR of 800H-8FFH reads the 64 bits at offset
// (ECX & FFH) << 4 of the virtual-APIC page (SDM 30.5; kvm-unit-tests virt_x2apic_mode_test
// expects this for all 256 MSRs, as hardware does).
function x2apicReadVirtualized(idx: u32): bool {
  if (idx == MSR_X2APIC_TPR) return true;
  return regVirt && idx >= 0x800 && idx <= 0x8ff;
}
export function x2apicRdmsr(idx: u32): bool {
  if (!x2apicVirt || !x2apicReadVirtualized(idx)) return false;
  const v = physRead(vapicPage + (<u64>(idx & 0xff) << 4), 8);
  S.setReg32(S.RAX, <u32>v);
  S.setReg32(S.RDX, <u32>(v >> 32));
  return true;
}
export function x2apicWrmsr(idx: u32, v: u64): bool {
  if (!x2apicVirt) return false;
  if (VID.vidOn && idx == 0x80b) {                      // EOI (SDM 30.5): value must be 0
    if (v != 0) { raiseGP(0); return true; }
    VID.eoiVirtualize(D.nextRip);
    return true;
  }
  if (VID.vidOn && idx == 0x83f) {                      // SELF IPI
    if ((v >> 8) != 0) { raiseGP(0); return true; }
    const vec = <u32>v;
    if (vec >= 16) { VID.selfIpi(vec); return true; }
    physWrite(vapicPage + 0x3f0, 4, v);                 // APIC-write exit, trap-like
    S.setRip(D.nextRip);
    vmExit(EXIT_APIC_WRITE, 0x3f0, 0, 0);
    return true;
  }
  if (idx != MSR_X2APIC_TPR) return false;
  if ((v >> 8) != 0) { raiseGP(0); return true; }    // EDX and EAX[31:8] must be 0
  physWrite(vapicPage + OFF_VTPR, 8, v);              // bytes 087H:081H cleared
  tprVirtualize(D.nextRip);
  return true;
}

// Between instructions, after the other VMX checks (intercept.ts pollExits): deliver a
// recognized virtual interrupt (vid.ts).
export function pollVirq(): bool { return VID.pollDeliver(); }

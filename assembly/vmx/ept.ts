// EPT (SDM Vol.3C 29.3): the guest-physical -> (L1-)physical translation for an L2 guest,
// EPT violations and misconfigurations, and the TLB context tag for VPID / EPTP.
// Hook points (docs/mmu.md): mmu/paging.ts ptRead/ptWrite (the guest's paging-structure
// accesses) and mmu/access.ts translate (the final frame). Both call eptTranslate only while
// eptActive. A violation or misconfiguration raises the pseudo-fault VEC_EPT: the instruction
// is abandoned like any fault and deliverFault turns it into the VM exit (intercept.ts).
import { physRead, physWrite } from "../mmu/phys";
import { raiseFault, faultPending } from "../cpu/fault";
import { PHYS_ADDR_BITS, FEAT_LA57 } from "../cpu/cpuid";
import { apicFrame, apicGuestPhysical } from "./vapic";
import { vmcsRead, vmcsWrite } from "./fields";

export const VEC_EPT: u32 = 0x100;   // never a real vector (deliverFault hands it to the VMX code)
export const EXIT_EPT_VIOLATION: u32 = 48, EXIT_EPT_MISCONFIG: u32 = 49;

// EPT access kinds (qualification bits 0-2).
export const EA_READ: u32 = 1, EA_WRITE: u32 = 2, EA_EXEC: u32 = 4;

export let eptActive: bool = false;
export let eptRoot: u64 = 0;          // PML4 address from the EPTP
export let eptAD: bool = false;       // EPTP bit 6: accessed and dirty flags (SDM 29.3.5)
export let eptLevels: u32 = 4;        // EPTP bits 5:3 + 1: 4-level or 5-level walk
export function setEpt(on: bool, eptp: u64): void {
  eptActive = on;
  eptRoot = eptp & PA_MASK;
  eptAD = on && (eptp & 0x40) != 0;
  eptLevels = ((<u32>eptp >> 3) & 7) == 4 ? 5 : 4;
}
// 5-level EPT (EPTP page-walk length 4, IA32_VMX_EPT_VPID_CAP bit 7) is offered with LA57
// (SDM 29.3.2: the PML5 table covers guest-physical bits 56:48).
export const EPT5: bool = FEAT_LA57;
// EPTP bits 5:3 (page-walk length - 1) that this core accepts (SDM 26.2.1.1).
export function walkLengthOk(len: u32): bool { return len == 3 || (EPT5 && len == 4); }
// Dirty flag of the last successful leaf (always true without A/D): a TLB entry without it must
// not allow writes, so the first write walks again and sets it.
export let eptDirty: bool = true;

// The linear address being translated (for the qualification's guest-linear fields), set by
// the MMU hooks: linValid false for accesses with no linear address (none from L2 today).
export let eptLin: u64 = 0;
export let eptLinValid: bool = false;
export let eptFinal: bool = false;    // the access is to the final translation (not a paging entry)
export function setEptLinear(lin: u64, final: bool): void { eptLin = lin; eptLinValid = true; eptFinal = final; }

// Exit information for the pending VEC_EPT pseudo-fault.
export let eptExitReason: u32 = 0;
export let eptQual: u64 = 0;
export let eptGpa: u64 = 0;
export let eptGla: u64 = 0;
// Bit 63 ("suppress #VE") of the entry that decides whether the violation is convertible
// (SDM 26.5.7.1: the not-present entry, or the entry that maps the page); true when no entry does.
export let eptSuppressVe: bool = true;

const PA_MASK: u64 = (((<u64>1) << <u64>PHYS_ADDR_BITS) - 1) & ~(<u64>0xfff);
const RSVD_HI: u64 = ~(((<u64>1) << <u64>PHYS_ADDR_BITS) - 1) & 0x000fffffffffffff;  // bits 51:N

// Result permissions of the last successful translation (bit 0 R, 1 W, 2 X).
export let eptPerm: u32 = 0;

function misconfig(gpa: u64): u64 {
  eptExitReason = EXIT_EPT_MISCONFIG;
  eptQual = 0;
  eptGpa = gpa;
  raiseFault(VEC_EPT, 0, false);
  return u64.MAX_VALUE;
}
function violation(gpa: u64, acc: u32, perm: u32, suppressVe: bool = true): u64 {
  eptExitReason = EXIT_EPT_VIOLATION;
  eptSuppressVe = suppressVe;
  // SDM Table 28-7: bits 2:0 access, 5:3 R/W/X of the translation, 7 linear address valid,
  // 8 final translation (when bit 7).
  let q = <u64>acc | (<u64>(perm & 7) << 3);
  if (eptLinValid) { q |= 0x80; if (eptFinal) q |= 0x100; }
  eptQual = q;
  eptGpa = gpa;
  eptGla = eptLin;
  raiseFault(VEC_EPT, 0, false);
  return u64.MAX_VALUE;
}

// Is an EPT leaf/non-leaf entry misconfigured (SDM 29.3.3.1)? level 4..1; leaf: maps a page.
function badEntry(e: u64, level: u32, leaf: bool): bool {
  const rwx = <u32>e & 7;
  if (rwx == 2 || rwx == 6) return true;              // write without read
  if ((e & RSVD_HI) != 0) return true;
  if (leaf) {
    const mt = (<u32>e >> 3) & 7;
    if (mt == 2 || mt == 3 || mt == 7) return true;
    if (level == 2 && (e & 0x1ff000) != 0) return true;        // 2M page: bits 20:12
    if (level == 3 && (e & 0x3ffff000) != 0) return true;      // 1G page: bits 29:12
  } else {
    if ((e & 0xf8) != 0 && level >= 4) return true;            // PML5E/PML4E bits 7:3 reserved
    if (level < 4 && (e & 0x78) != 0) return true;             // bits 6:3 reserved in non-leaf
  }
  return false;
}

// Translate guest-physical gpa for an access of kind acc (EA_*). Returns the L1-physical
// address, or u64.MAX_VALUE with VEC_EPT raised.
export function eptTranslate(gpa: u64, acc: u32): u64 {
  if (faultPending) return u64.MAX_VALUE;
  if ((gpa >> <u64>PHYS_ADDR_BITS) != 0) return violation(gpa, acc, 0);
  let table = eptRoot;
  let perm: u32 = 7;
  for (let level: u32 = eptLevels; level >= 1; level--) {
    const shift = <u64>(12 + 9 * (level - 1));
    const ea = table + (((gpa >> shift) & 511) << 3);
    const e = physRead(ea, 8);
    const rwx = <u32>e & 7;
    if (rwx == 0) return violation(gpa, acc, 0, (e >> 63) != 0);   // not present
    const leaf = level == 1 || (level <= 3 && (e & 0x80) != 0);
    if (level >= 4 && (e & 0x80) != 0) return misconfig(gpa);
    if (badEntry(e, level, leaf)) return misconfig(gpa);
    perm &= rwx;
    if (leaf) {
      if ((perm & acc) != acc) return violation(gpa, acc, perm, (e >> 63) != 0);
      const pageMask: u64 = level == 1 ? 0xfff : (level == 2 ? 0x1fffff : 0x3fffffff);
      eptPerm = perm;
      eptDirty = true;
      if (eptAD) {
        // Accessed (bit 8) on every entry used; dirty (bit 9) on the leaf for a write.
        let ne = e | 0x100;
        if ((acc & EA_WRITE) != 0) ne |= 0x200;
        // Page-modification logging: a dirty flag about to be set logs the page (SDM 29.3.6).
        if (pmlOn && (ne & 0x200) != 0 && (e & 0x200) == 0 && !pmlLog(gpa)) return u64.MAX_VALUE;
        if (ne != e) physWrite(ea, 8, ne);
        eptDirty = (ne & 0x200) != 0;
      }
      return ((e & PA_MASK) & ~pageMask) | (gpa & pageMask);
    }
    if (eptAD && (e & 0x100) == 0) physWrite(ea, 8, e | 0x100);
    table = e & PA_MASK;
  }
  return u64.MAX_VALUE;   // unreachable
}

// Guest paging-structure accesses (mmu/paging.ts): read and A/D write-back.
// With EPT A/D flags on, the guest's paging-structure accesses count as writes (SDM 29.3.3.2)
// and a violation reports both read and write (qualification bits 0 and 1, SDM 28.2.1).
export function eptPtRead(gpa: u64, size: u32): u64 {
  eptFinal = false;
  const pa = eptTranslate(gpa, eptAD ? EA_READ | EA_WRITE : EA_READ);
  if (pa == u64.MAX_VALUE) return 0;
  if (onApicPage(pa)) return 0;
  return physRead(pa, size);
}
export function eptPtWrite(gpa: u64, size: u32, v: u64): void {
  eptFinal = false;
  // The A/D update is a locked read-modify-write: a violation reports read and write.
  const pa = eptTranslate(gpa, EA_READ | EA_WRITE);
  if (pa == u64.MAX_VALUE) return;
  if (onApicPage(pa)) return;
  physWrite(pa, size, v);
}
// A paging-structure access that lands on the APIC-access page is a guest-physical access to it:
// an APIC-access VM exit (SDM 30.4.6.1, vmx/vapic.ts). true with the exit's pseudo-fault raised.
function onApicPage(pa: u64): bool {
  if ((pa & ~(<u64>0xfff)) != apicFrame) return false;
  apicGuestPhysical();
  return true;
}

// ---- TLB context tags (SDM 29.4): one tag per (VPID, EPTP) context, 1..CTX_N; tag 0 is
// VMX root / no VPID. Replacing a context flushes the TLB (over-invalidation is allowed).
const CTX_N: u32 = 15;
const CTX: usize = memory.data(CTX_N * 16, 8);   // per slot: u64 eptp|valid bit 0? -> eptp, u32 vpid
let ctxNext: u32 = 0;
export let ctxEvicted: bool = false;
export function contextTag(vpid: u32, eptp: u64): u32 {
  ctxEvicted = false;
  for (let i: u32 = 0; i < CTX_N; i++) {
    const p = CTX + <usize>(i * 16);
    if (load<u32>(p + 8) == (vpid | 0x10000) && load<u64>(p) == eptp) return i + 1;
  }
  const i = ctxNext;
  ctxNext = (ctxNext + 1) % CTX_N;
  const p = CTX + <usize>(i * 16);
  ctxEvicted = load<u32>(p + 8) != 0;
  store<u64>(p, eptp);
  store<u32>(p + 8, vpid | 0x10000);
  return i + 1;
}
export function resetEpt(): void { memory.fill(CTX, 0, CTX_N * 16); ctxNext = 0; eptActive = false; }

// ---- page-modification logging (SDM 29.3.6): "enable PML" (secondary control bit 17) with EPT
// A/D flags. Each guest-physical page whose EPT dirty flag gets set is written (bits 11:0
// clear) to PML address + 8 * PML index, and the index (guest-state field 0812H) decrements;
// with an index outside 0-511 nothing is set or logged and the access becomes a "page-
// modification log full" VM exit (reason 62, qualification 0).
export const PROC2_PML: u32 = 1 << 17;
export const PML_ADDR: u32 = 0x200e, PML_INDEX: u32 = 0x0812, EXIT_PML_FULL: u32 = 62;
let pmlOn: bool = false;
let pmlAddr: u64 = 0;
export function setPml(on: bool, addr: u64): void { pmlOn = on; pmlAddr = addr; }
function pmlLog(gpa: u64): bool {
  const idx = <u32>vmcsRead(PML_INDEX) & 0xffff;
  if (idx > 511) {
    eptExitReason = EXIT_PML_FULL;
    eptQual = 0;
    eptGpa = gpa;
    raiseFault(VEC_EPT, 0, false);
    return false;
  }
  physWrite(pmlAddr + (<u64>idx << 3), 8, gpa & ~(<u64>0xfff));
  vmcsWrite(PML_INDEX, <u64>((idx - 1) & 0xffff));
  return true;
}

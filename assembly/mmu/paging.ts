// The page walker (Intel SDM Vol. 3A chapter 4): 32-bit paging (4K, 4M with PSE/PSE-36),
// PAE (PDPTE registers, 4K/2M), 4-level and 5-level paging (4K/2M/1G).
// walk() only reads the paging structures and reports what it found; the permission
// decision, A/D updates and the TLB fill are in access.ts (A/D are set only for
// translations that do not fault, as the SDM 4.8 allows).
import { physRead, physWrite } from "./phys";
import { eptActive, eptPtRead, eptPtWrite } from "../vmx/ept";
import {
  cr3, cr4, efer, CR4_PSE, CR4_PAE, CR4_PGE, CR4_LA57, EFER_NXE, EFER_LMA, pagingOn,
} from "../cpu/state";

// Paging-structure accesses are guest-physical. This is where EPT (vmx/ept.ts) will hook
// in for an L2 guest: translate the L2-physical entry address to L1-physical (an EPT
// violation then aborts the walk) before phys.ts. Same for the final frame in access.ts.
@inline function ptRead(gpa: u64, size: u32): u64 { return eptActive ? eptPtRead(gpa, size) : physRead(gpa, size); }
@inline function ptWrite(gpa: u64, size: u32, v: u64): void { if (eptActive) eptPtWrite(gpa, size, v); else physWrite(gpa, size, v); }

// Physical-address width. CPUID.80000008H:EAX[7:0] must report this value.
export const MAXPHYADDR: u32 = 40;
// Address bits M-1:12 of a paging-structure entry / CR3.
export const PHYS_ADDR_MASK: u64 = ((<u64>1 << <u64>MAXPHYADDR) - 1) & ~(<u64>0xfff);
// Bits 51:M (reserved in 4-level/5-level entries).
const RSVD_51_M: u64 = ((<u64>1 << 52) - 1) & ~((<u64>1 << <u64>MAXPHYADDR) - 1);
// Bits 62:M (reserved in PAE entries, SDM Tables 4-8..4-11).
const RSVD_62_M: u64 = ((<u64>1 << 63) - 1) & ~((<u64>1 << <u64>MAXPHYADDR) - 1);
const BIT63: u64 = <u64>1 << 63;

// Entry bits (SDM Table 4-19 etc.).
export const PTE_P: u64 = 1, PTE_W: u64 = 2, PTE_U: u64 = 4, PTE_A: u64 = 0x20, PTE_D: u64 = 0x40;
export const PTE_PS: u64 = 0x80, PTE_G: u64 = 0x100;

// Page-fault error code bits (SDM 4.7).
export const PF_P: u32 = 1, PF_W: u32 = 2, PF_U: u32 = 4, PF_RSVD: u32 = 8, PF_I: u32 = 16;

// Paging modes.
export const PG_NONE: u32 = 0, PG_32: u32 = 1, PG_PAE: u32 = 2, PG_4L: u32 = 3, PG_5L: u32 = 4;

// Page sizes recorded in the TLB.
export const SZ_4K: u32 = 0, SZ_2M: u32 = 1, SZ_4M: u32 = 2, SZ_1G: u32 = 3;

// SDM 4.1.1 / Table 4-1.
export function pagingMode(): u32 {
  if (!pagingOn) return PG_NONE;
  if ((cr4 & CR4_PAE) == 0) return PG_32;
  if ((efer & EFER_LMA) == 0) return PG_PAE;
  return (cr4 & CR4_LA57) != 0 ? PG_5L : PG_4L;
}

// ---- PAE PDPTE registers (SDM 4.4.1) ----------------------------------------
export const PDPTES: usize = memory.data(4 * 8, 8);

// Load the four PDPTEs from CR3 (bits 31:5). Called by system code on MOV to CR3 / CR0 / CR4
// when PAE paging is (or becomes) active. Returns false if a present PDPTE has reserved
// bits set (the MOV then raises #GP(0) and the PDPTE registers are left unchanged).
export function loadPdptes(): bool {
  const base = cr3 & 0xffffffe0;
  // Reserved: 2:1, 8:5, 63:M (SDM Table 4-8); XD is not part of a PDPTE.
  const rsvd: u64 = 0x1e6 | (~(<u64>0) << <u64>MAXPHYADDR);
  let v0: u64 = 0, v1: u64 = 0, v2: u64 = 0, v3: u64 = 0;
  for (let i: u32 = 0; i < 4; i++) {
    const e = ptRead((base + (<u64>i << 3)) & 0xffffffff, 8);
    if ((e & PTE_P) != 0 && (e & rsvd) != 0) return false;
    if (i == 0) v0 = e; else if (i == 1) v1 = e; else if (i == 2) v2 = e; else v3 = e;
  }
  store<u64>(PDPTES, v0); store<u64>(PDPTES + 8, v1);
  store<u64>(PDPTES + 16, v2); store<u64>(PDPTES + 24, v3);
  return true;
}
export function getPdpte(i: u32): u64 { return load<u64>(PDPTES + (<usize>(i & 3) << 3)); }

// ---- walk results --------------------------------------------------------------
export let wFrame: u64 = 0;     // guest-physical address of the 4 KiB frame holding lin
export let wUser: bool = false; // U/S = 1 at every level (user-mode address, SDM 4.6)
export let wWrite: bool = false;// R/W = 1 at every level
export let wNx: bool = false;   // XD = 1 at some level (only with EFER.NXE, not 32-bit paging)
export let wGlobal: bool = false; // G = 1 in the leaf and CR4.PGE = 1
export let wDirty: bool = false;  // D already set in the leaf
export let wSize: u32 = SZ_4K;
export let wErr: u32 = 0;       // on failure: 0 (not present) or PF_P|PF_RSVD
// Physical addresses and values of the entries used, leaf last (for A/D updates).
export let wCount: u32 = 0;
export const W_ADDR: usize = memory.data(5 * 8, 8);
export const W_VAL: usize = memory.data(5 * 8, 8);

@inline function record(addr: u64, val: u64): void {
  store<u64>(W_ADDR + (<usize>wCount << 3), addr);
  store<u64>(W_VAL + (<usize>wCount << 3), val);
  wCount++;
}

// Walk the paging structures for lin in mode `mode` (not PG_NONE). Returns true with the
// w* results filled, or false with wErr set (not-present or reserved-bit violation).
export function walk(lin: u64, mode: u32): bool {
  wCount = 0; wUser = true; wWrite = true; wNx = false; wGlobal = false; wDirty = false;
  wSize = SZ_4K; wErr = 0;
  const pge = (cr4 & CR4_PGE) != 0;
  if (mode == PG_32) return walk32(lin, pge);
  const nxe = (efer & EFER_NXE) != 0;
  // XD is reserved when NXE = 0 (SDM 4.4.2, 4.5.4).
  let table: u64;
  let level: u32;
  let rsvdCommon: u64;
  if (mode == PG_PAE) {
    const pdpte = load<u64>(PDPTES + (<usize>((lin >> 30) & 3) << 3));
    if ((pdpte & PTE_P) == 0) return false;
    table = pdpte & PHYS_ADDR_MASK;
    level = 2;
    rsvdCommon = RSVD_62_M | (nxe ? 0 : BIT63);
  } else {
    table = cr3 & PHYS_ADDR_MASK;
    level = mode == PG_5L ? 5 : 4;
    rsvdCommon = RSVD_51_M | (nxe ? 0 : BIT63);
  }
  while (true) {
    const shift = <u64>(12 + 9 * (level - 1));
    const ea = table + (((lin >> shift) & 511) << 3);
    const e = ptRead(ea, 8);
    record(ea, e);
    if ((e & PTE_P) == 0) return false;
    let rsvd = e & rsvdCommon;
    const ps = (e & PTE_PS) != 0;
    if (ps) {
      if (level >= 4) rsvd |= PTE_PS;              // PML5E/PML4E: PS is reserved
      else if (level == 3) rsvd |= e & 0x3fffe000;  // 1G page: bits 29:13
      else if (level == 2) rsvd |= e & 0x1fe000;    // 2M page: bits 20:13
    }
    if (rsvd != 0) { wErr = PF_P | PF_RSVD; return false; }
    if ((e & PTE_U) == 0) wUser = false;
    if ((e & PTE_W) == 0) wWrite = false;
    if (nxe && (e & BIT63) != 0) wNx = true;
    if (level == 1 || (ps && level <= 3)) {
      const pageMask: u64 = level == 1 ? 0xfff : (level == 2 ? 0x1fffff : 0x3fffffff);
      wFrame = ((e & PHYS_ADDR_MASK) & ~pageMask) | (lin & pageMask & ~(<u64>0xfff));
      wSize = level == 1 ? SZ_4K : (level == 2 ? SZ_2M : SZ_1G);
      wGlobal = pge && (e & PTE_G) != 0;
      wDirty = (e & PTE_D) != 0;
      return true;
    }
    table = e & PHYS_ADDR_MASK;
    level--;
  }
}

// 32-bit paging (SDM 4.3): 4-byte entries, 4M pages with CR4.PSE, PSE-36 address bits.
function walk32(lin: u64, pge: bool): bool {
  const pdeAddr = (cr3 & 0xfffff000) | ((lin >> 20) & 0xffc);
  const pde = ptRead(pdeAddr, 4);
  record(pdeAddr, pde);
  if ((pde & PTE_P) == 0) return false;
  if ((pde & PTE_W) == 0) wWrite = false;
  if ((pde & PTE_U) == 0) wUser = false;
  if ((pde & PTE_PS) != 0 && (cr4 & CR4_PSE) != 0) {
    // Table 4-4: bits 20:13 are PA bits 39:32 up to MAXPHYADDR; bit 21 and the rest reserved.
    const rsvd: u64 = (<u64>1 << 21) | (0x1fe000 & ~(((<u64>1 << <u64>(MAXPHYADDR - 32)) - 1) << 13));
    if ((pde & rsvd) != 0) { wErr = PF_P | PF_RSVD; return false; }
    const hi = (pde >> 13) & 0xff;
    wFrame = (pde & 0xffc00000) | (hi << 32) | (lin & 0x3ff000);
    wSize = SZ_4M;
    wGlobal = pge && (pde & PTE_G) != 0;
    wDirty = (pde & PTE_D) != 0;
    return true;
  }
  const pteAddr = (pde & 0xfffff000) | ((lin >> 10) & 0xffc);
  const pte = ptRead(pteAddr, 4);
  record(pteAddr, pte);
  if ((pte & PTE_P) == 0) return false;
  if ((pte & PTE_W) == 0) wWrite = false;
  if ((pte & PTE_U) == 0) wUser = false;
  wFrame = pte & 0xfffff000;
  wGlobal = pge && (pte & PTE_G) != 0;
  wDirty = (pte & PTE_D) != 0;
  return true;
}

// SDM 4.8: set A in every entry used (if clear) and D in the leaf for a write. Only the
// low byte of an entry is rewritten, through the guest-physical write path.
export function setAccessedDirty(write: bool): void {
  const n = wCount;
  for (let i: u32 = 0; i < n; i++) {
    const v = load<u64>(W_VAL + (<usize>i << 3));
    let nv = v | PTE_A;
    if (write && i == n - 1) nv |= PTE_D;
    if (nv != v) ptWrite(load<u64>(W_ADDR + (<usize>i << 3)), 1, nv & 0xff);
  }
  if (write) wDirty = true;
}

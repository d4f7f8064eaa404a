// Address translation for a debugger (host/gdbstub.ts): linear -> physical through the vCPU's
// current paging mode, and for an L2 also through the current EPT, with no side effect at all:
// no accessed/dirty updates, no #PF, no EPT violation or exit, no TLB fill. Permissions are not
// checked (a debugger reads supervisor and execute-only pages too), nor are reserved bits.
import { physRead } from "./phys";
import { pagingMode, getPdpte, MAXPHYADDR, PHYS_ADDR_MASK, PTE_P, PTE_PS, PG_NONE, PG_32, PG_PAE, PG_5L } from "./paging";
import { cr3, cr4, CR4_PSE } from "../cpu/state";
import { eptActive, eptRoot, eptLevels } from "../vmx/ept";
import { PHYS_ADDR_BITS } from "../cpu/cpuid";

const NONE: u64 = u64.MAX_VALUE;

// Guest-physical -> host-physical through the current EPT (present = any of R/W/X).
function eptDebug(gpa: u64): u64 {
  if (!eptActive) return gpa;
  if ((gpa >> <u64>PHYS_ADDR_BITS) != 0) return NONE;
  let table = eptRoot;
  for (let level: u32 = eptLevels; level >= 1; level--) {
    const shift = <u64>(12 + 9 * (level - 1));
    const e = physRead(table + (((gpa >> shift) & 511) << 3), 8);
    if ((e & 7) == 0) return NONE;
    if (level == 1 || (level <= 3 && (e & 0x80) != 0)) {
      const mask: u64 = (<u64>1 << shift) - 1;
      return ((e & PHYS_ADDR_MASK) & ~mask) | (gpa & mask);
    }
    table = e & PHYS_ADDR_MASK;
  }
  return NONE;
}

@inline function ptEntry(gpa: u64, size: u32): u64 {
  const pa = eptDebug(gpa);
  return pa == NONE ? 0 : physRead(pa, size);   // unmapped under EPT: "not present"
}

/** Physical address of linear address lin, or u64.MAX_VALUE if it is not mapped. */
export function debugTranslate(lin: u64): u64 {
  const mode = pagingMode();
  let gpa: u64;
  if (mode == PG_NONE) gpa = lin & 0xffffffff;
  else if (mode == PG_32) {
    const pde = ptEntry((cr3 & 0xfffff000) | ((lin >> 20) & 0xffc), 4);
    if ((pde & PTE_P) == 0) return NONE;
    if ((pde & PTE_PS) != 0 && (cr4 & CR4_PSE) != 0) {
      gpa = (pde & 0xffc00000) | (((pde >> 13) & 0xff & ((<u64>1 << <u64>(MAXPHYADDR - 32)) - 1)) << 32) | (lin & 0x3fffff);
    } else {
      const pte = ptEntry((pde & 0xfffff000) | ((lin >> 10) & 0xffc), 4);
      if ((pte & PTE_P) == 0) return NONE;
      gpa = (pte & 0xfffff000) | (lin & 0xfff);
    }
  } else {
    let table: u64, level: u32;
    if (mode == PG_PAE) {
      const pdpte = getPdpte(<u32>((lin >> 30) & 3));
      if ((pdpte & PTE_P) == 0) return NONE;
      table = pdpte & PHYS_ADDR_MASK; level = 2;
    } else { table = cr3 & PHYS_ADDR_MASK; level = mode == PG_5L ? 5 : 4; }
    gpa = NONE;
    while (level >= 1) {
      const shift = <u64>(12 + 9 * (level - 1));
      const e = ptEntry(table + (((lin >> shift) & 511) << 3), 8);
      if ((e & PTE_P) == 0) return NONE;
      if (level == 1 || (level <= 3 && (e & PTE_PS) != 0)) {
        const mask: u64 = (<u64>1 << shift) - 1;
        gpa = ((e & PHYS_ADDR_MASK) & ~mask) | (lin & mask);
        break;
      }
      table = e & PHYS_ADDR_MASK;
      level--;
    }
    if (gpa == NONE) return NONE;
  }
  return eptDebug(gpa);
}

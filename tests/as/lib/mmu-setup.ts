// Shared helpers for the MMU specs: a 4 MiB guest RAM, page-table builders and
// direct state setup (no instruction execution).
import * as S from "../../../assembly/cpu/state";
import { setRflags } from "../../../assembly/cpu/flags";
import { physInit } from "../../../assembly/mmu/phys";
import { tlbFlushAll, loadPdptes, setImplicitSupervisor } from "../../../assembly/mmu/access";
import { clearFault } from "../../../assembly/cpu/fault";

export const RAM_SIZE: u32 = 4 << 20;
let ramBaseT: usize = 0;

export function ram(): usize {
  if (ramBaseT == 0) {
    // From the runtime's allocator (growing memory behind its back would let the
    // stub runtime hand the same bytes out again), 4 KiB aligned.
    ramBaseT = (heap.alloc(<usize>RAM_SIZE + 4096) + 4095) & ~(<usize>4095);
  }
  return ramBaseT;
}

export function w64(pa: u64, v: u64): void { store<u64>(ram() + <usize>pa, v); }
export function w32(pa: u64, v: u32): void { store<u32>(ram() + <usize>pa, v); }
export function r64(pa: u64): u64 { return load<u64>(ram() + <usize>pa); }
export function r32(pa: u64): u32 { return load<u32>(ram() + <usize>pa); }
export function r8(pa: u64): u32 { return <u32>load<u8>(ram() + <usize>pa); }

// Fresh machine: RAM zeroed, paging off, CPL 0, no fault pending.
export function fresh(): void {
  const base = ram();
  memory.fill(base, 0, RAM_SIZE);
  physInit(base, <u64>RAM_SIZE);
  S.cr0 = 0x60000010 | S.CR0_PE; S.cr3 = 0; S.cr4 = 0; S.efer = 0;
  setRflags(2);
  setImplicitSupervisor(false);
  S.setSeg(S.CS, 8, 0, 0xffffffff, 0xc09b);
  S.setSeg(S.SS, 0x10, 0, 0xffffffff, 0xc093);
  S.updateMode();
  tlbFlushAll(false);
  clearFault();
}

// Switch paging mode: set CR0/CR3/CR4/EFER raw and flush as the system code would.
export function setPaging(cr3: u64, cr4: u64, efer: u64, wp: bool): void {
  S.cr3 = cr3; S.cr4 = cr4; S.efer = efer;
  S.cr0 = 0x60000010 | S.CR0_PE | S.CR0_PG | (wp ? S.CR0_WP : 0);
  if ((efer & S.EFER_LMA) != 0) S.setSeg(S.CS, 8, 0, 0xffffffff, 0xa09b);  // 64-bit CS
  S.updateMode();
  if ((cr4 & S.CR4_PAE) != 0 && (efer & S.EFER_LMA) == 0) loadPdptes();
  tlbFlushAll(false);
  clearFault();
}
export function setCpl(c: u32): void { S.setCpl(c); }

export const P: u64 = 1, W: u64 = 2, U: u64 = 4, A: u64 = 0x20, D: u64 = 0x40, PS: u64 = 0x80, G: u64 = 0x100;
export const XD: u64 = <u64>1 << 63;
export const PRW: u64 = P | W;
export const PRWU: u64 = P | W | U;

// 4-level layout: PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000.
// Linear address with indices (pml4, pdpt, pd, pt).
export function lin4(a: u64, b: u64, c: u64, d: u64): u64 { return (a << 39) | (b << 30) | (c << 21) | (d << 12); }
// L4 = lin4(1, 2, 3, 4) -> PT entry 4 at 0x4000 + 32.
export const L4: u64 = (<u64>1 << 39) | (<u64>2 << 30) | (<u64>3 << 21) | (<u64>4 << 12);
export const PML4E: u64 = 0x1000 + 8, PDPTE: u64 = 0x2000 + 16, PDE: u64 = 0x3000 + 24, PTE: u64 = 0x4000 + 32;
export function build4(pteFlags: u64, upperFlags: u64): void {
  w64(PML4E, 0x2000 | upperFlags);
  w64(PDPTE, 0x3000 | upperFlags);
  w64(PDE, 0x4000 | upperFlags);
  w64(PTE, 0x10000 | pteFlags);
}
export function long4(wp: bool): void { setPaging(0x1000, S.CR4_PAE, S.EFER_LME | S.EFER_LMA, wp); }

// Linear-address accesses: paging, TLB, and the #PF rules.
// (Initial version: paging off only. The MMU owner replaces the internals; the
// exported signatures are the contract the rest of the core uses.)
import { physRead, physWrite, physHost } from "./phys";
import { pagingOn, bumpCodeEpoch } from "../cpu/state";

export const ACC_READ: u32 = 0, ACC_WRITE: u32 = 1, ACC_EXEC: u32 = 2;

// Set by system code around implicit supervisor-mode accesses (GDT/LDT/IDT/TSS reads,
// SDM 4.6): such accesses use supervisor rules even at CPL 3.
export let implicitSupervisor: bool = false;
export function setImplicitSupervisor(v: bool): void { implicitSupervisor = v; }


// Translate a linear address; on failure raises #PF (fault.ts) and returns u64.MAX_VALUE.
export function translate(lin: u64, acc: u32): u64 {
  return lin & 0xffffffff;
}

export function readLin(lin: u64, size: u32): u64 {
  const pa = translate(lin, ACC_READ);
  if (pa == u64.MAX_VALUE) return 0;
  return physRead(pa, size);
}
export function writeLin(lin: u64, size: u32, v: u64): void {
  const pa = translate(lin, ACC_WRITE);
  if (pa == u64.MAX_VALUE) return;
  physWrite(pa, size, v);
}
// Host address of the start of the 4 KiB page holding lin, for instruction fetch.
// Returns 0 (with #PF raised, or nothing raised if the page is MMIO) when it cannot.
export function codePage(lin: u64): usize {
  const pa = translate(lin & ~(<u64>0xfff), ACC_EXEC);
  if (pa == u64.MAX_VALUE) return 0;
  return physHost(pa, 4096);
}
// Every flush must call bumpCodeEpoch() so the fetcher drops its cached code page.
export function tlbFlushAll(keepGlobal: bool): void { bumpCodeEpoch(); }
export function tlbFlushPage(lin: u64): void { bumpCodeEpoch(); }

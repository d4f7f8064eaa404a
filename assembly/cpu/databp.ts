// Data breakpoints (SDM 17.2.4-17.2.5, 17.3.1.2): DR7 R/W = 01 (writes) or 11 (reads and
// writes) make DRn a trap-class #DB after the instruction that accessed [DRn, DRn+len).
// Zero cost while none is enabled: pages holding an enabled data breakpoint are installed in
// the TLB as slow-path only (mmu/tlb.ts KEY_SLOW), so every access to them reaches
// mmu/access.ts readSlow/writeSlow, which call dataBpAccess.
import * as S from "./state";
import { addDbTrap } from "./interrupts";

export let dataBpMask: u32 = 0;          // bit n: DRn is an enabled data breakpoint
let writeOnlyMask: u32 = 0;              // bit n: R/W = 01

// Recompute from DR7 (returns true if the set of watched pages may have changed).
export function syncDataBps(): void {
  const d7 = <u32>S.getDr(7);
  let m: u32 = 0, w: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if (((d7 >> (n * 2)) & 3) == 0) continue;
    const rw = (d7 >> (16 + n * 4)) & 3;
    if (rw == 1) { m |= 1 << n; w |= 1 << n; }
    else if (rw == 3) m |= 1 << n;
  }
  dataBpMask = m;
  writeOnlyMask = w;
}
@inline function bpLen(n: u32): u64 {
  const c = (<u32>S.getDr(7) >> (18 + n * 4)) & 3;
  return c == 0 ? 1 : (c == 1 ? 2 : (c == 3 ? 4 : 8));
}
// Does the 4 KiB page holding lin contain an enabled data breakpoint?
export function dataBpOnPage(lin: u64): bool {
  for (let n: u32 = 0; n < 4; n++) {
    if ((dataBpMask & (1 << n)) == 0) continue;
    if ((S.getDr(n) >> 12) == (lin >> 12)) return true;
  }
  return false;
}
// An access of `size` bytes at lin: record the breakpoints it hits (SDM 17.2.5: the
// breakpoint range is DRn aligned down to its length).
export function dataBpAccess(lin: u64, size: u32, write: bool): void {
  let hit: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    const b: u32 = 1 << n;
    if ((dataBpMask & b) == 0 || (!write && (writeOnlyMask & b) != 0)) continue;
    const len = bpLen(n);
    const a = S.getDr(n) & ~(len - 1);
    if (lin < a + len && a < lin + <u64>size) hit |= b;
  }
  if (hit != 0) addDbTrap(hit);
}

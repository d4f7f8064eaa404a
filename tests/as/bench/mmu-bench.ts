// Micro-benchmark entry for the TLB hit path (built by scripts/bench-mmu.mjs, not a spec).
import * as S from "../../../assembly/cpu/state";
import { setRflags } from "../../../assembly/cpu/flags";
import { physInit } from "../../../assembly/mmu/phys";
import { readLin, writeLin, readLin32, writeLin32, readLin64, tlbFlushAll } from "../../../assembly/mmu/access";
import { readMem } from "../../../assembly/cpu/segmem";

let base: usize = 0;
// 4-level paging, 64 user pages at linear 0x400000.. mapped to frames 0x100000..
export function setup(): u64 {
  base = <usize>memory.grow(64) << 16;
  physInit(base, 4 << 20);
  store<u64>(base + 0x1000, 0x2000 | 7);
  store<u64>(base + 0x2000, 0x3000 | 7);
  store<u64>(base + 0x3000 + 16, 0x4000 | 7);
  for (let i: u32 = 0; i < 64; i++) store<u64>(base + 0x4000 + (<usize>i << 3), (0x100000 + (<u64>i << 12)) | 7);
  S.cr3 = 0x1000; S.cr4 = S.CR4_PAE; S.efer = S.EFER_LME | S.EFER_LMA;
  S.cr0 = 0x60000010 | S.CR0_PE | S.CR0_PG | S.CR0_WP;
  S.setSeg(S.CS, 8, 0, 0xffffffff, 0xa09b);
  S.setSeg(S.DS, 0x10, 0, 0xffffffff, 0xc093);
  S.updateMode();
  setRflags(2);
  tlbFlushAll(false);
  return <u64>base;
}
// Same page, 8-byte stride: readLin32 (size-specialised, inlined).
export function read32(n: u32): u32 {
  let s: u32 = 0;
  for (let i: u32 = 0; i < n; i++) s += readLin32(0x400000 + <u64>((i << 3) & 0xff8));
  return s;
}
// Generic readLin(lin, size).
export function readGeneric(n: u32): u32 {
  let s: u32 = 0;
  for (let i: u32 = 0; i < n; i++) s += <u32>readLin(0x400000 + <u64>((i << 3) & 0xff8), 4);
  return s;
}
// 64 pages round robin (all TLB hits), 64-bit reads.
export function read64Pages(n: u32): u64 {
  let s: u64 = 0;
  for (let i: u32 = 0; i < n; i++) s += readLin64(0x400000 + <u64>((i << 12) & 0x3f000) + <u64>((i >> 3) & 0xff8));
  return s;
}
export function write32(n: u32): void {
  for (let i: u32 = 0; i < n; i++) writeLin32(0x400000 + <u64>((i << 3) & 0xff8), i);
}
// Through segmentation: readMem(DS, off, 4).
export function readMemDs(n: u32): u32 {
  let s: u32 = 0;
  for (let i: u32 = 0; i < n; i++) s += <u32>readMem(S.DS, 0x400000 + <u64>((i << 3) & 0xff8), 4);
  return s;
}
// Baseline: the same loads straight from the host page (no translation).
export function baseline(n: u32): u32 {
  let s: u32 = 0;
  const h = base + 0x100000;
  for (let i: u32 = 0; i < n; i++) s += load<u32>(h + <usize>((i << 3) & 0xff8));
  return s;
}

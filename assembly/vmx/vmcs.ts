// The VMCS region in guest-physical memory and the cached copy of the current VMCS
// (SDM 25.2, 25.11). Layout of a region (implementation-specific past the first 8 bytes):
//   +0  u32  bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS indicator
//   +4  u32  VMX-abort indicator
//   +8  u32  launch state: LAUNCHED_MAGIC = "launched", anything else = "clear"
//   +16 u64 × NFIELDS: field values in fields.ts row order
// Software is not supposed to touch the region after VMPTRLD; like a real CPU this core keeps
// the current VMCS in the cache (fields.ts CACHE) and writes it back on VMCLEAR (and when
// another VMCS is made current, or VMXOFF).
import { physRead, physWrite, physHost } from "../mmu/phys";
import { NFIELDS, CACHE } from "./fields";
import * as V from "./vstate";

export const OFF_REVISION: u64 = 0, OFF_ABORT: u64 = 4, OFF_LAUNCH: u64 = 8, OFF_DATA: u64 = 16;
export const LAUNCHED_MAGIC: u32 = 0x4c41554e;   // "NUAL"
const DATA_BYTES: u32 = NFIELDS * 8;

export function regionRevision(pa: u64): u32 { return <u32>physRead(pa + OFF_REVISION, 4); }
export function regionLaunched(pa: u64): bool { return <u32>physRead(pa + OFF_LAUNCH, 4) == LAUNCHED_MAGIC; }
export function setRegionLaunched(pa: u64, launched: bool): void {
  physWrite(pa + OFF_LAUNCH, 4, launched ? LAUNCHED_MAGIC : 0);
}

// Write the cache back to the region of the current VMCS (data and launch state).
export function flushCurrent(): void {
  const pa = V.curVmcs;
  if (pa == V.NO_PTR) return;
  const h = physHost(pa + OFF_DATA, DATA_BYTES);
  if (h != 0) memory.copy(h, CACHE, DATA_BYTES);
  else for (let i: u32 = 0; i < NFIELDS; i++) physWrite(pa + OFF_DATA + <u64>(i * 8), 8, load<u64>(CACHE + <usize>(i * 8)));
  setRegionLaunched(pa, V.curLaunched);
}

// Make `pa` the current VMCS: write back the old one, load the new one into the cache.
export function makeCurrent(pa: u64): void {
  if (pa == V.curVmcs) return;
  flushCurrent();
  const h = physHost(pa + OFF_DATA, DATA_BYTES);
  if (h != 0) memory.copy(CACHE, h, DATA_BYTES);
  else for (let i: u32 = 0; i < NFIELDS; i++) store<u64>(CACHE + <usize>(i * 8), physRead(pa + OFF_DATA + <u64>(i * 8), 8));
  V.setCurVmcs(pa, regionLaunched(pa));
  V.setCurShadow((regionRevision(pa) >> 31) != 0);
}

// A shadow VMCS (VMCS shadowing) is used in place, in guest memory (it is never current).
export function shadowRead(link: u64, slot: u32): u64 { return physRead(link + OFF_DATA + <u64>(slot * 8), 8); }
export function shadowWrite(link: u64, slot: u32, v: u64): void { physWrite(link + OFF_DATA + <u64>(slot * 8), 8, v); }

// VMCLEAR: the region's data is in memory afterwards, its launch state is "clear", and it is
// no longer current.
export function clearVmcs(pa: u64): void {
  if (pa == V.curVmcs) {
    flushCurrent();
    V.setCurVmcs(V.NO_PTR, false);
  }
  setRegionLaunched(pa, false);
}

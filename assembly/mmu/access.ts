// Linear-address accesses: paging (paging.ts), the software TLB (tlb.ts), the
// permission rules of SDM 4.6 and the #PF error code of SDM 4.7.
//
// Fast path (readLin*/writeLin*): one TLB set probe, key + tag + permission-bit test,
// then a load/store through the cached host pointer. Everything else (miss, MMIO,
// page-crossing, D bit not yet set, faults) goes to the slow path below.
import { physRead, physWrite, physHost } from "./phys";
import {
  cr0, cr4, efer, code64, cpl, CR0_WP, CR4_SMEP, CR4_SMAP, CR4_PAE, EFER_NXE,
} from "../cpu/state";
import { raisePF, raiseFault, faultPending, EXC_AC } from "../cpu/fault";
import { flagsRaw, F_AC } from "../cpu/flags";
import { dataBpMask, dataBpAccess } from "../cpu/databp";
import { eptActive, eptTranslate, eptPerm, eptDirty, setEptLinear, EA_READ, EA_WRITE, EA_EXEC } from "../vmx/ept";
import {
  pagingMode, walk, setAccessedDirty, wFrame, wUser, wWrite, wNx, wGlobal, wDirty, wSize, wErr,
  PG_NONE, PG_32, PF_P, PF_W, PF_U, PF_I, SZ_4K,
} from "./paging";
import {
  TLB, TLB_MASK, E_KEY, E_TAG, E_PERM, E_HOST, E_GPA, CLS_USER, CLS_SUP, CLS_SUP_AC,
  curTag, permShift, tlbInstall, tlbFind, implicitSupervisor,
} from "./tlb";

export { MAXPHYADDR, loadPdptes, pagingMode } from "./paging";
export {
  tlbFlushAll, tlbFlushEverything, tlbFlushPage, tlbFlushPcid, tlbCr3Written, setImplicitSupervisor,
  implicitSupervisor, setTlbTag, tlbTag,
} from "./tlb";

export const ACC_READ: u32 = 0, ACC_WRITE: u32 = 1, ACC_EXEC: u32 = 2;
const NOT_MAPPED: u64 = u64.MAX_VALUE;

// ---- permission computation (SDM 4.6) -------------------------------------------
// Allowed accesses for every permission class, as the TLB perm word (tlb.ts layout).
function permWord(user: bool, write: bool, nx: bool, dirty: bool): u32 {
  const wp = (cr0 & CR0_WP) != 0;
  const smep = (cr4 & CR4_SMEP) != 0;
  const smap = (cr4 & CR4_SMAP) != 0;
  const x: u32 = nx ? 0 : 4;
  const supW: u32 = write || !wp ? 2 : 0;      // supervisor writes: R/W everywhere or WP=0
  let p: u32;
  if (user) {
    p = (1 | (write ? 2 : 0) | x) << CLS_USER;
    const sx: u32 = smep ? 0 : x;              // SMEP: no supervisor fetch from user pages
    p |= ((smap ? 0 : 1 | supW) | sx) << CLS_SUP;  // SMAP with AC=0 / implicit: no data
    p |= (1 | supW | sx) << CLS_SUP_AC;
  } else {
    const s: u32 = 1 | supW | x;
    p = (s << CLS_SUP) | (s << CLS_SUP_AC);
  }
  // A write through an entry whose D bit is clear must walk again to set it (SDM 4.8).
  if (!dirty) p &= ~((2 << CLS_USER) | (2 << CLS_SUP) | (2 << CLS_SUP_AC));
  return p;
}
const PERM_ALL: u32 = (7 << CLS_USER) | (7 << CLS_SUP) | (7 << CLS_SUP_AC);

// Translate a linear address; on failure raises #PF (fault.ts) and returns u64.MAX_VALUE.
// Fills the TLB on success.
export function translate(lin: u64, acc: u32): u64 {
  const sh = permShift();
  const e = tlbFind(lin);
  if (e != 0 && ((load<u32>(e + E_PERM) >> (sh + acc)) & 1) != 0) {
    return load<u64>(e + E_GPA) | (lin & 0xfff);
  }
  const mode = pagingMode();
  if (eptActive) return translateEpt(lin, acc, sh, mode);
  if (mode == PG_NONE) {
    // Linear = physical (32-bit linear addresses outside 64-bit mode; callers truncate).
    const frame = lin & ~(<u64>0xfff);
    tlbInstall(lin, frame, physHost(frame, 4096), PERM_ALL, false, SZ_4K);
    return lin;
  }
  if (!walk(lin, mode)) { pageFault(lin, acc, sh, mode, wErr); return NOT_MAPPED; }
  const perm = permWord(wUser, wWrite, wNx, true);
  if (((perm >> (sh + acc)) & 1) == 0) { pageFault(lin, acc, sh, mode, PF_P); return NOT_MAPPED; }
  setAccessedDirty(acc == ACC_WRITE);
  // MMIO frames (host 0) are cached for the slow path only (tlb.ts KEY_SLOW).
  tlbInstall(lin, wFrame, physHost(wFrame, 4096), permWord(wUser, wWrite, wNx, wDirty), wGlobal, wSize);
  return wFrame | (lin & 0xfff);
}

// An L2 guest under EPT (vmx/ept.ts): the guest's walk reads its paging structures through
// EPT (paging.ts ptRead), then the final guest-physical frame goes through EPT. The TLB keeps
// the composed linear -> L1-physical result with the guest permissions ANDed with EPT's.
function translateEpt(lin: u64, acc: u32, sh: u32, mode: u32): u64 {
  const ea: u32 = acc == ACC_WRITE ? EA_WRITE : (acc == ACC_EXEC ? EA_EXEC : EA_READ);
  setEptLinear(lin, false);
  let gFrame: u64, perm: u32 = PERM_ALL, global = false, size = SZ_4K, dirty = true;
  if (mode == PG_NONE) gFrame = lin & ~(<u64>0xfff);
  else {
    if (!walk(lin, mode)) { pageFault(lin, acc, sh, mode, wErr); return NOT_MAPPED; }
    perm = permWord(wUser, wWrite, wNx, true);
    if (((perm >> (sh + acc)) & 1) == 0) { pageFault(lin, acc, sh, mode, PF_P); return NOT_MAPPED; }
    gFrame = wFrame; global = wGlobal; size = wSize;
  }
  setEptLinear(lin, true);
  const full = eptTranslate(gFrame | (lin & 0xfff), ea);
  if (full == NOT_MAPPED) return NOT_MAPPED;
  const frame = full & ~(<u64>0xfff);
  // Before the A/D write-back walks EPT again; no write permission until the EPT D flag is set.
  const m = eptPerm & (eptDirty ? 7 : 5);
  if (mode != PG_NONE) {
    setAccessedDirty(acc == ACC_WRITE);
    if (faultPending) return NOT_MAPPED;   // EPT violation on the A/D write-back
    dirty = wDirty;
    perm = permWord(wUser, wWrite, wNx, dirty);
  }
  perm &= (m << CLS_USER) | (m << CLS_SUP) | (m << CLS_SUP_AC);
  tlbInstall(lin, frame, physHost(frame, 4096), perm, global, size);
  return frame | (lin & 0xfff);
}

// SDM 4.7: P (protection vs not-present), W/R, U/S (CPL 3 and not an implicit supervisor
// access), RSVD (from the walk), I/D for fetches when SMEP or PAE-style NX is on.
function pageFault(lin: u64, acc: u32, sh: u32, mode: u32, bits: u32): void {
  let err = bits;
  if (acc == ACC_WRITE) err |= PF_W;
  if (sh == CLS_USER) err |= PF_U;
  if (acc == ACC_EXEC &&
      ((cr4 & CR4_SMEP) != 0 || ((efer & EFER_NXE) != 0 && (cr4 & CR4_PAE) != 0 && mode != PG_32))) err |= PF_I;
  raisePF(lin, err);
}

// Linear address of the page after lin's page: 32-bit linear addresses wrap at 4 GiB outside
// 64-bit mode. (A 64-bit address outside 64-bit mode comes from system code in IA-32e
// mode, e.g. a descriptor-table or TSS access from compatibility mode: no wrap.)
@inline function nextPage(lin: u64): u64 {
  const n = (lin & ~(<u64>0xfff)) + 0x1000;
  return code64 || lin > 0xffffffff ? n : n & 0xffffffff;
}

// ---- slow paths -------------------------------------------------------------------
// Alignment check (SDM 6.15 "#AC"): CR0.AM = 1, RFLAGS.AC = 1, CPL 3 and an unaligned data
// access that is not an implicit supervisor access raise #AC(0). With CR0.AM = 1 the fast path
// (hitHost) leaves unaligned accesses to the slow paths, which check after translating
// (a #PF of the same access has priority, SDM 6.9).
function acFault(lin: u64, size: u32): bool {
  if ((<u32>cr0 & 0x40000) == 0 || cpl != 3 || implicitSupervisor || (flagsRaw & F_AC) == 0) return false;
  if ((<u32>lin & (size >= 8 ? 7 : size - 1)) == 0) return false;
  raiseFault(EXC_AC, 0, true);
  return true;
}
function readSlow(lin: u64, size: u32): u64 {
  if (dataBpMask != 0) dataBpAccess(lin, size, false);
  if ((<u32>lin & 0xfff) + size <= 0x1000) {
    const pa = translate(lin, ACC_READ);
    if (pa == NOT_MAPPED || acFault(lin, size)) return 0;
    return physRead(pa, size);
  }
  // Page-crossing (SDM 4.10.x): both pages are translated before any data moves.
  const pa1 = translate(lin, ACC_READ);
  if (pa1 == NOT_MAPPED) return 0;
  const lin2 = nextPage(lin);
  const pa2 = translate(lin2, ACC_READ);
  if (pa2 == NOT_MAPPED || acFault(lin, size)) return 0;
  const n1: u32 = 0x1000 - (<u32>lin & 0xfff);
  let v: u64 = 0;
  for (let i: u32 = 0; i < size; i++) {
    const b = i < n1 ? physRead(pa1 + <u64>i, 1) : physRead(pa2 + <u64>(i - n1), 1);
    v |= b << (<u64>i << 3);
  }
  return v;
}

function writeSlow(lin: u64, size: u32, v: u64): void {
  if (dataBpMask != 0) dataBpAccess(lin, size, true);
  if ((<u32>lin & 0xfff) + size <= 0x1000) {
    const pa = translate(lin, ACC_WRITE);
    if (pa == NOT_MAPPED || acFault(lin, size)) return;
    physWrite(pa, size, v);
    return;
  }
  const pa1 = translate(lin, ACC_WRITE);
  if (pa1 == NOT_MAPPED) return;
  const pa2 = translate(nextPage(lin), ACC_WRITE);
  if (pa2 == NOT_MAPPED || acFault(lin, size)) return;   // nothing written to the first page
  const n1: u32 = 0x1000 - (<u32>lin & 0xfff);
  for (let i: u32 = 0; i < size; i++) {
    const b = (v >> (<u64>i << 3)) & 0xff;
    if (i < n1) physWrite(pa1 + <u64>i, 1, b); else physWrite(pa2 + <u64>(i - n1), 1, b);
  }
}

// Check that a write of `size` bytes at lin would succeed (translating, setting A/D and
// raising #PF like the write would) without writing. For instructions that must fault
// before any side effect of a multi-part store. Returns false with #PF raised.
export function probeWrite(lin: u64, size: u32): bool {
  if (translate(lin, ACC_WRITE) == NOT_MAPPED) return false;
  if ((<u32>lin & 0xfff) + size > 0x1000 && translate(nextPage(lin), ACC_WRITE) == NOT_MAPPED) return false;
  return true;
}
export function probeRead(lin: u64, size: u32): bool {
  if (translate(lin, ACC_READ) == NOT_MAPPED) return false;
  if ((<u32>lin & 0xfff) + size > 0x1000 && translate(nextPage(lin), ACC_READ) == NOT_MAPPED) return false;
  return true;
}

// Block accesses of n bytes (1..4096: at most two pages) between guest linear memory and
// a host buffer, for 16-byte SSE operands, FXSAVE/XSAVE areas, descriptor-table reads.
// All-or-nothing: both pages are translated (and #PF raised) before any byte moves.
// Returns false on a fault.
export function readLinBytes(lin: u64, dst: usize, n: u32): bool {
  const off = <u32>lin & 0xfff;
  const n1 = off + n <= 0x1000 ? n : 0x1000 - off;
  const pa1 = translate(lin, ACC_READ);
  if (pa1 == NOT_MAPPED) return false;
  let pa2: u64 = 0;
  if (n1 < n) { pa2 = translate(nextPage(lin), ACC_READ); if (pa2 == NOT_MAPPED) return false; }
  copyFromPhys(dst, pa1, n1);
  if (n1 < n) copyFromPhys(dst + <usize>n1, pa2, n - n1);
  return true;
}
export function writeLinBytes(lin: u64, src: usize, n: u32): bool {
  const off = <u32>lin & 0xfff;
  const n1 = off + n <= 0x1000 ? n : 0x1000 - off;
  const pa1 = translate(lin, ACC_WRITE);
  if (pa1 == NOT_MAPPED) return false;
  let pa2: u64 = 0;
  if (n1 < n) { pa2 = translate(nextPage(lin), ACC_WRITE); if (pa2 == NOT_MAPPED) return false; }
  copyToPhys(pa1, src, n1);
  if (n1 < n) copyToPhys(pa2, src + <usize>n1, n - n1);
  return true;
}
function copyFromPhys(dst: usize, pa: u64, n: u32): void {
  const h = physHost(pa, n);
  if (h != 0) { memory.copy(dst, h, n); return; }
  for (let i: u32 = 0; i < n; i++) store<u8>(dst + <usize>i, <u8>physRead(pa + <u64>i, 1));
}
function copyToPhys(pa: u64, src: usize, n: u32): void {
  const h = physHost(pa, n);
  if (h != 0) { memory.copy(h, src, n); return; }
  for (let i: u32 = 0; i < n; i++) physWrite(pa + <u64>i, 1, <u64>load<u8>(src + <usize>i));
}

// ---- fast paths -----------------------------------------------------------------
// Host address for an access of `size` bytes at lin with access bit `bit` (1 read, 2 write,
// 4 exec) if the TLB has it, else 0.
@inline function hitHost(lin: u64, size: u32, bit: u32): usize {
  const e = TLB + ((<usize>(lin >> 12) & TLB_MASK) << 5);
  if (load<u64>(e + E_KEY) == ((lin + <u64>(size - 1)) & ~(<u64>0xfff)) &&
      load<u32>(e + E_TAG) == curTag &&
      ((<u32>lin & (size - 1)) == 0 || (<u32>cr0 & 0x40000) == 0) &&   // CR0.AM: unaligned -> slow path (#AC)
      ((load<u32>(e + E_PERM) >> permShift()) & bit) != 0) {
    return <usize>load<u32>(e + E_HOST) + (<usize>lin & 0xfff);
  }
  return 0;
}

// Host address for a TLB hit (read / write permission for the current class), else 0.
// A hit also implies lin is canonical: only canonical pages are ever cached (tlbInstall),
// so callers in 64-bit mode may skip their canonical check on the hit path.
@inline export function tlbHostRead(lin: u64, size: u32): usize { return hitHost(lin, size, 1); }
@inline export function tlbHostWrite(lin: u64, size: u32): usize { return hitHost(lin, size, 2); }

@inline export function readLin8(lin: u64): u32 {
  const h = hitHost(lin, 1, 1);
  return h != 0 ? <u32>load<u8>(h) : <u32>readSlow(lin, 1);
}
@inline export function readLin16(lin: u64): u32 {
  const h = hitHost(lin, 2, 1);
  return h != 0 ? <u32>load<u16>(h) : <u32>readSlow(lin, 2);
}
@inline export function readLin32(lin: u64): u32 {
  const h = hitHost(lin, 4, 1);
  return h != 0 ? load<u32>(h) : <u32>readSlow(lin, 4);
}
@inline export function readLin64(lin: u64): u64 {
  const h = hitHost(lin, 8, 1);
  return h != 0 ? load<u64>(h) : readSlow(lin, 8);
}
@inline export function writeLin8(lin: u64, v: u32): void {
  const h = hitHost(lin, 1, 2);
  if (h != 0) store<u8>(h, <u8>v); else writeSlow(lin, 1, <u64>v);
}
@inline export function writeLin16(lin: u64, v: u32): void {
  const h = hitHost(lin, 2, 2);
  if (h != 0) store<u16>(h, <u16>v); else writeSlow(lin, 2, <u64>v);
}
@inline export function writeLin32(lin: u64, v: u32): void {
  const h = hitHost(lin, 4, 2);
  if (h != 0) store<u32>(h, v); else writeSlow(lin, 4, <u64>v);
}
@inline export function writeLin64(lin: u64, v: u64): void {
  const h = hitHost(lin, 8, 2);
  if (h != 0) store<u64>(h, v); else writeSlow(lin, 8, v);
}

// Generic by size (1, 2, 4, 8). Faults: #PF raised, reads return 0, writes store nothing.
export function readLin(lin: u64, size: u32): u64 {
  const h = hitHost(lin, size, 1);
  if (h != 0) {
    if (size == 4) return <u64>load<u32>(h);
    if (size == 1) return <u64>load<u8>(h);
    if (size == 8) return load<u64>(h);
    return <u64>load<u16>(h);
  }
  return readSlow(lin, size);
}
export function writeLin(lin: u64, size: u32, v: u64): void {
  const h = hitHost(lin, size, 2);
  if (h != 0) {
    if (size == 4) store<u32>(h, <u32>v);
    else if (size == 1) store<u8>(h, <u8>v);
    else if (size == 8) store<u64>(h, v);
    else store<u16>(h, <u16>v);
    return;
  }
  writeSlow(lin, size, v);
}

// Host address of the start of the 4 KiB page holding lin, for instruction fetch.
// Returns 0 (with #PF raised, or nothing raised if the page is MMIO) when it cannot.
// Pass the linear address of the byte being fetched: a #PF reports it in CR2 (SDM 4.7).
export function codePage(lin: u64): usize {
  const page = lin & ~(<u64>0xfff);
  const h = hitHost(page, 1, 4);
  if (h != 0) return h;
  const pa = translate(lin, ACC_EXEC);
  if (pa == NOT_MAPPED) return 0;
  return physHost(pa & ~(<u64>0xfff), 4096);
}

// The TLB entry's raw fields for lin in the current context (tests, debugging):
// perm word, or 0 if there is no entry.
export function tlbPermOf(lin: u64): u32 {
  const e = tlbFind(lin);
  return e == 0 ? 0 : load<u32>(e + E_PERM);
}

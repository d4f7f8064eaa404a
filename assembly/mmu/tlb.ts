// Software TLB: direct-mapped, one 32-byte entry per set, 4 KiB granularity (large pages
// are cached as the 4 KiB pieces that were touched).
//
// Entry layout:
//   +0  u64 key    linear address of the 4 KiB page; bit 0 set = MMIO frame (KEY_SLOW):
//                  the fast path never matches it, the slow path (tlbFind) still uses
//                  the cached translation so MMIO accesses do not walk every time
//   +8  u32 tag    (physTag << 12) | PCID when CR4.PCIDE = 1, else (physTag << 12) | gen:
//                  without PCIDs the low 12 bits are a flush generation, so a CR3 load
//                  (non-global flush) is O(1): bump gen; scan only when it wraps.
//   +12 u32 perm   allowed accesses, bit (cls*8 + acc): cls 0 user, 1 supervisor with
//                  SMAP enforced, 2 supervisor without SMAP (AC=1 explicit access);
//                  acc 0 read, 1 write, 2 exec. 0 = invalid. Write bits only if D is set.
//   +16 u32 host   wasm address of the page (0 for MMIO)
//   +20 u32 flags  bit 0 global; bits 2:1 page size (paging.ts SZ_*)
//   +24 u64 gpa    guest-physical address of the 4 KiB frame
//
// Hit test on the fast path: key == page(lin + size - 1) (a page-crossing access can
// never match: the next page lives in the next set), tag == curTag, perm bit set.
//
// Self-modifying code hook (for a future decoded-instruction cache): codePage() is the only
// producer of code pages. To detect writes to them cheaply, keep a per-frame "has code"
// bitmap set by codePage(); install TLB entries for such frames without write bits (the
// fill in access.ts knows the gpa), so every write to them takes the slow path, which
// checks the bitmap and invalidates the decoded code for that frame.
import { cr3, cr4, efer, CR4_PCIDE, CR4_LA57, EFER_LMA, bumpCodeEpoch, cpl } from "../cpu/state";
import { flagsRaw, F_AC } from "../cpu/flags";
import { setCanonicalBits, isCanonical } from "../cpu/segmem";
import { SZ_2M, SZ_4M, SZ_1G } from "./paging";
import { dataBpMask, dataBpOnPage } from "../cpu/databp";

export const TLB_BITS: u32 = 12;
export const TLB_SETS: u32 = 1 << TLB_BITS;
export const TLB_MASK: usize = TLB_SETS - 1;
export const TLB_ENTRY: u32 = 32;
export const TLB: usize = memory.data(TLB_SETS * TLB_ENTRY, 64);

export const E_KEY: usize = 0, E_TAG: usize = 8, E_PERM: usize = 12, E_HOST: usize = 16;
export const E_FLAGS: usize = 20, E_GPA: usize = 24;
export const TF_GLOBAL: u32 = 1;
export const KEY_SLOW: u64 = 1;

// Permission-class shifts.
export const CLS_USER: u32 = 0, CLS_SUP: u32 = 8, CLS_SUP_AC: u32 = 16;

// tlbTag is the logical translation context (0 = VPID 0 / VMX root, 1.. = VPID+EPTP
// contexts, vmx/ept.ts contextTag). Entries are tagged with the context's *physical* tag
// (20 bits, combined with the 12-bit PCID/generation): flushing every mapping of a context
// (MOV CR0/CR4, VM entry/exit without VPID, INVEPT, INVVPID) gives it a fresh physical tag
// in O(1) instead of clearing 128 KiB, and the old entries can never match again. Only when
// the 20-bit space wraps is the array cleared.
export let tlbTag: u32 = 0;
export let curTag: u32 = 0;
const CTX_MAX: u32 = 256;
const PHYS: usize = memory.data(CTX_MAX * 4, 4);   // logical context -> physical tag (0 = none yet)
const PHYS_LIMIT: u32 = 1 << 20;
let physNext: u32 = 1;
let physTag: u32 = 0;
// Set once a context other than 0 was used: until then a context flush may also clear the
// large-page filter (no other context can own large-page pieces).
let manyContexts: bool = false;
// Flush generation: the low tag bits while CR4.PCIDE = 0. When it wraps to 0 the
// non-global entries are scanned out, so no stale generation can match again.
let gen: u32 = 0;
// For INVLPG of a large page: per size (SZ_2M, SZ_4M, SZ_1G) a 64-bit filter with bit
// ((lin >> log2(size)) & 63) set when a piece of such a large page was installed since the
// last full flush. INVLPG scans for pieces only if the bit for its address is set.
const LARGE_FILTER: usize = memory.data(4 * 8, 8);
@inline function largeShift(sz: u32): u64 { return sz == SZ_2M ? 21 : (sz == SZ_4M ? 22 : 30); }

// Recompute curTag from tlbTag, CR3 and CR4.PCIDE, and the canonical width from CR4.LA57.
export function syncTag(): void {
  curTag = (physTag << 12) | ((cr4 & CR4_PCIDE) != 0 ? <u32>(cr3 & 0xfff) : gen);
  // SDM 4.5.1: with 5-level paging linear addresses are 57 bits.
  setCanonicalBits((cr4 & CR4_LA57) != 0 && (efer & EFER_LMA) != 0 ? 57 : 48);
}
export function setTlbTag(t: u32): void {
  tlbTag = t & (CTX_MAX - 1);
  if (tlbTag != 0) manyContexts = true;
  physTag = load<u32>(PHYS + (<usize>tlbTag << 2));
  if (physTag == 0) physTag = freshPhysTag();
  syncTag();
  bumpCodeEpoch();
}

// A physical tag no entry carries, recorded for the current logical context.
function freshPhysTag(): u32 {
  if (physNext == PHYS_LIMIT) {
    memory.fill(TLB, 0, <usize>TLB_SETS * TLB_ENTRY);
    memory.fill(LARGE_FILTER, 0, 32);
    memory.fill(PHYS, 0, CTX_MAX * 4);
    physNext = 1;
  }
  const t = physNext++;
  store<u32>(PHYS + (<usize>tlbTag << 2), t);
  return t;
}

// Every mapping of every context (INVEPT, INVVPID, reset): forget all physical tags, so
// each context gets a fresh one when it is next used.
export function tlbFlushEverything(): void {
  memory.fill(PHYS, 0, CTX_MAX * 4);
  tlbFlushAll(false);
}

// Permission class of the current access (SDM 4.6): implicit supervisor accesses
// (GDT/LDT/IDT/TSS, set by system code around them) use supervisor rules even at CPL 3.
// SMAP (SDM 4.6.1): supervisor data accesses to user pages fault if CPL = 3 (only
// implicit accesses are supervisor there) or RFLAGS.AC = 0.
export let implicitSupervisor: bool = false;
export function setImplicitSupervisor(v: bool): void { implicitSupervisor = v; }
@inline export function permShift(): u32 {
  if (cpl == 3) return implicitSupervisor ? CLS_SUP : CLS_USER;
  return (flagsRaw & F_AC) != 0 ? CLS_SUP_AC : CLS_SUP;
}

@inline export function tlbEntry(lin: u64): usize {
  return TLB + ((<usize>(lin >> 12) & TLB_MASK) << 5);
}

export function tlbInstall(lin: u64, gpa: u64, host: usize, perm: u32, global: bool, size: u32): void {
  // Never cache a non-canonical page: segmem's 64-bit fast path relies on it.
  if (!isCanonical(lin)) return;
  const e = tlbEntry(lin);
  // Pages with a data breakpoint are slow-path only too, so accesses reach the check (cpu/databp.ts).
  const slow = host == 0 || (dataBpMask != 0 && dataBpOnPage(lin));
  store<u64>(e + E_KEY, (lin & ~(<u64>0xfff)) | (slow ? KEY_SLOW : 0));
  store<u32>(e + E_TAG, curTag);
  store<u32>(e + E_PERM, perm);
  store<u32>(e + E_HOST, <u32>host);
  store<u32>(e + E_FLAGS, (global ? TF_GLOBAL : 0) | (size << 1));
  store<u64>(e + E_GPA, gpa & ~(<u64>0xfff));
  if (size != 0) {
    const f = LARGE_FILTER + (<usize>size << 3);
    store<u64>(f, load<u64>(f) | (<u64>1 << ((lin >> largeShift(size)) & 63)));
  }
}

// Slow-path lookup: the entry for lin's page in the current context, or 0. A global entry
// installed under another PCID (same physical tag) is valid for every PCID (SDM 4.10.2.4):
// it is re-tagged so the fast path hits it.
export function tlbFind(lin: u64): usize {
  const e = tlbEntry(lin);
  if (load<u32>(e + E_PERM) == 0 || (load<u64>(e + E_KEY) & ~KEY_SLOW) != (lin & ~(<u64>0xfff))) return 0;
  const t = load<u32>(e + E_TAG);
  if (t == curTag) return e;
  if ((load<u32>(e + E_FLAGS) & TF_GLOBAL) != 0 && (t >> 12) == physTag) {
    store<u32>(e + E_TAG, curTag);
    return e;
  }
  return 0;
}

@inline function kill(e: usize): void { store<u32>(e + E_PERM, 0); store<u64>(e + E_KEY, 1); }

// Every flush bumps codeEpoch so the fetcher drops its cached code page.
// Flushes the current context (all its PCIDs). keepGlobal: MOV to CR3 (PCIDE=0) keeps
// global entries; CR0/CR4 changes drop all (SDM 4.10.4.1). Also resynchronises curTag and
// the canonical width.
export function tlbFlushAll(keepGlobal: bool): void {
  bumpCodeEpoch();
  if (!keepGlobal) {
    physTag = freshPhysTag();
    if (!manyContexts) memory.fill(LARGE_FILTER, 0, 32);
    syncTag();
    return;
  }
  if ((cr4 & CR4_PCIDE) == 0) {
    // Non-global entries carry the old generation in their tag: they no longer match.
    gen = (gen + 1) & 0xfff;
    syncTag();
    if (gen != 0) return;
  }
  syncTag();
  for (let e = TLB, end = TLB + <usize>TLB_SETS * TLB_ENTRY; e < end; e += TLB_ENTRY) {
    if ((load<u32>(e + E_FLAGS) & TF_GLOBAL) == 0) kill(e);
  }
}

// Invalidate every entry (any tag, or only `tag` if onlyTag) derived from the page holding
// lin, including the 4 KiB pieces of a large page containing it. keepGlobal skips globals.
function flushAddr(lin: u64, onlyTag: bool, tag: u32, keepGlobal: bool): void {
  const page = lin & ~(<u64>0xfff);
  const e = tlbEntry(page);
  if ((load<u64>(e + E_KEY) & ~KEY_SLOW) == page) flushOne(e, onlyTag, tag, keepGlobal);
  // Large pages: the pieces live in the sets of every 4 KiB page of the large page.
  for (let sz: u32 = SZ_2M; sz <= SZ_1G; sz++) {
    if ((load<u64>(LARGE_FILTER + (<usize>sz << 3)) & (<u64>1 << ((lin >> largeShift(sz)) & 63))) == 0) continue;
    const span: u64 = sz == SZ_2M ? 0x200000 : (sz == SZ_4M ? 0x400000 : 0x40000000);
    const base = lin & ~(span - 1);
    const n = span >> 12 < <u64>TLB_SETS ? <u32>(span >> 12) : TLB_SETS;
    let idx = <usize>(base >> 12) & TLB_MASK;
    for (let i: u32 = 0; i < n; i++) {
      const x = TLB + (idx << 5);
      if (load<u32>(x + E_PERM) != 0 && ((load<u32>(x + E_FLAGS) >> 1) & 3) == sz &&
          (load<u64>(x + E_KEY) & ~(span - 1)) == base) flushOne(x, onlyTag, tag, keepGlobal);
      idx = (idx + 1) & TLB_MASK;
    }
  }
}
@inline function flushOne(e: usize, onlyTag: bool, tag: u32, keepGlobal: bool): void {
  const g = (load<u32>(e + E_FLAGS) & TF_GLOBAL) != 0;
  if (keepGlobal && g) return;
  if (onlyTag && !g && load<u32>(e + E_TAG) != tag) return;
  kill(e);
}

// INVLPG (SDM 4.10.4.1): entries for the page in the current PCID and global entries.
// (Entries of other PCIDs are dropped too: over-invalidation is always allowed.)
export function tlbFlushPage(lin: u64): void {
  bumpCodeEpoch();
  flushAddr(lin, false, 0, false);
}

// Non-global entries of one tag value (PCID within the current tlbTag).
function flushTag(tag: u32): void {
  for (let e = TLB, end = TLB + <usize>TLB_SETS * TLB_ENTRY; e < end; e += TLB_ENTRY) {
    if ((load<u32>(e + E_FLAGS) & TF_GLOBAL) == 0 && load<u32>(e + E_TAG) == tag) kill(e);
  }
}

// MOV to CR3 (call after CR3 holds the new value, without bit 63). SDM 4.10.4.1:
// PCIDE=0: all non-global entries. PCIDE=1: non-global entries of the new PCID, none if
// bit 63 of the source was set (noFlush).
export function tlbCr3Written(noFlush: bool): void {
  if ((cr4 & CR4_PCIDE) == 0) { tlbFlushAll(true); return; }
  syncTag();
  bumpCodeEpoch();
  if (!noFlush) flushTag(curTag);
}

// INVPCID (SDM Vol.2 INVPCID): type 0 individual address (non-global, that PCID),
// 1 single context (non-global, that PCID), 2 all contexts incl. globals, 3 all but globals.
// With CR4.PCIDE = 0 the current context is PCID 0 (system code checks the operand).
export function tlbFlushPcid(type: u32, pcid: u32, lin: u64): void {
  const tag = (cr4 & CR4_PCIDE) != 0 ? (physTag << 12) | (pcid & 0xfff) : curTag;
  bumpCodeEpoch();
  if (type == 0) flushAddr(lin, true, tag, true);
  else if (type == 1) flushTag(tag);
  else tlbFlushAll(type == 3);
}

// The software TLB: stale entries until invalidation, global pages, D-bit handling,
// large-page INVLPG, PCID, tags, MMIO, fast-path accessors.
import * as S from "../../assembly/cpu/state";
import {
  translate, readLin, writeLin, codePage, ACC_READ, ACC_WRITE, tlbFlushAll, tlbFlushPage,
  tlbFlushPcid, tlbCr3Written, tlbPermOf, setTlbTag, tlbFlushEverything, readLinBytes, writeLinBytes,
  readLin8, readLin16, readLin32, readLin64, writeLin8, writeLin16, writeLin32, writeLin64,
} from "../../assembly/mmu/access";
import { faultPending, faultError, faultAddr, faultVector, clearFault } from "../../assembly/cpu/fault";
import { readMem, writeMem } from "../../assembly/cpu/segmem";
import {
  fresh, setPaging, setCpl, w64, w32, r64, r32, ram, build4, long4, L4, PML4E, PDPTE, PDE, PTE,
  P, W, U, A, D, PS, G, PRW, PRWU,
} from "./lib/mmu-setup";

// Frames 0x10000 and 0x11000 hold distinct markers so a read shows which mapping was used.
function markers(): void { w32(0x10000, 0xaaaa0000); w32(0x11000, 0xbbbb1111); }
function remap(): void { w64(PTE, (r64(PTE) & ~(<u64>0xfffff000)) | 0x11000); }
function expectOld(): void { expect<u64>(readLin(L4, 4)).toBe(0xaaaa0000, "stale (old) mapping"); }
function expectNew(): void { expect<u64>(readLin(L4, 4)).toBe(0xbbbb1111, "new mapping"); }
// MOV CR3 with PCID n (tables at 0x1000); noFlush = bit 63 of the source.
function pcid(n: u64, noFlush: bool): void {
  S.cr3 = 0x1000 | n;
  tlbCr3Written(noFlush);
}
const PERM_W: u32 = (2 << 0) | (2 << 8) | (2 << 16);

describe("TLB invalidation", () => {
  test("stale entry is used until INVLPG", () => {
    fresh(); build4(PRWU, PRWU); markers(); long4(false);
    expectOld();
    remap();
    expectOld();
    tlbFlushPage(L4 + 0x800);   // any address in the page
    expectNew();
  });
  test("CR3 write (keepGlobal) drops non-global entries; global ones survive with PGE", () => {
    fresh(); build4(PRWU, PRWU); markers(); long4(false);
    expectOld(); remap(); tlbFlushAll(true); expectNew();
    // Global page with CR4.PGE.
    fresh(); build4(PRWU | G, PRWU); markers();
    setPaging(0x1000, S.CR4_PAE | S.CR4_PGE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    tlbFlushAll(true);
    expectOld();
    tlbFlushAll(false);   // CR4.PGE toggle / CR0 write
    expectNew();
    // G without CR4.PGE is ignored.
    fresh(); build4(PRWU | G, PRWU); markers(); long4(false);
    expectOld(); remap(); tlbFlushAll(true); expectNew();
  });
  test("non-PCID CR3 loads use a flush generation: stale entries never return after it wraps", () => {
    fresh(); build4(PRWU, PRWU); markers(); long4(false);
    expectOld(); remap();
    for (let i = 0; i < 4096; i++) tlbFlushAll(true);   // the generation is back where it was
    expectNew();
  });
  test("an entry installed by a read does not allow a write until D is set", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    expect<u64>(readLin(L4 + 4, 4)).toBe(0);
    expect<u64>(r64(PTE) & (A | D)).toBe(A);
    expect<u32>(tlbPermOf(L4) & PERM_W).toBe(0);
    expect<u32>(tlbPermOf(L4) & 1).toBe(1);
    writeLin32(L4 + 4, 0x12345678);
    expect<bool>(faultPending).toBe(false);
    expect<u64>(r64(PTE) & (A | D)).toBe(A | D);
    expect<u32>(r32(0x10004)).toBe(0x12345678);
    expect<u32>(tlbPermOf(L4) & PERM_W).toBe(PERM_W);
    // A read of a page whose D is already set installs write permission at once.
    fresh(); build4(PRWU | D, PRWU); long4(false);
    readLin(L4, 1);
    expect<u32>(tlbPermOf(L4) & PERM_W).toBe(PERM_W);
  });
  test("re-walk on a write through a clean entry sees a now read-only PTE", () => {
    fresh(); build4(PRWU, PRWU); long4(true);
    readLin(L4, 4);
    w64(PTE, 0x10000 | P | U | A);
    writeLin(L4, 4, 1);
    expect<bool>(faultPending).toBe(true);
    expect<u32>(faultError).toBe(3);
    clearFault();
  });
  test("INVLPG anywhere in a 2M page drops every 4K piece cached from it", () => {
    fresh(); build4(PRWU, PRWU);
    w64(PDE, 0x200000 | PRWU | PS);
    long4(false);
    const base = L4 & ~(<u64>0x1fffff);
    w32(0x201000, 1); w32(0x205000, 5); w32(0x1000, 0x77);  // 0x1000: PML4 page, new frame 0
    expect<u64>(readLin(base + 0x1000, 4)).toBe(1);
    expect<u64>(readLin(base + 0x5000, 4)).toBe(5);
    w64(PDE, 0 | PRWU | PS);
    expect<u64>(readLin(base + 0x5000, 4)).toBe(5);   // stale
    tlbFlushPage(base + 0x1ff000);
    expect<u64>(readLin(base + 0x1000, 4)).toBe(0x77);
    expect<u64>(readLin(base + 0x5000, 4)).toBe(0);
  });
  test("flushes bump the code epoch", () => {
    fresh();
    const e0 = S.codeEpoch;
    tlbFlushPage(0x1000);
    tlbFlushAll(true);
    tlbFlushPcid(1, 0, 0);
    expect<u32>(S.codeEpoch - e0).toBe(3);
  });
});

describe("PCID and tags", () => {
  test("CR3 bit-63 no-flush keeps the PCID's entries; a flushing load drops them", () => {
    fresh(); build4(PRWU, PRWU); markers();
    setPaging(0x1001, S.CR4_PAE | S.CR4_PCIDE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    pcid(1, true); expectOld();
    pcid(1, false); expectNew();
  });
  test("entries of another PCID are not used", () => {
    fresh(); build4(PRWU, PRWU); markers();
    setPaging(0x1001, S.CR4_PAE | S.CR4_PCIDE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    pcid(2, true); expectNew();
  });
  test("global entries are shared by all PCIDs; INVPCID types", () => {
    fresh(); build4(PRWU | G, PRWU); markers();
    setPaging(0x1001, S.CR4_PAE | S.CR4_PCIDE | S.CR4_PGE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    pcid(2, false); expectOld();              // global survives a flushing CR3 load of PCID 2
    tlbFlushPcid(1, 2, 0); expectOld();        // single-context keeps globals
    tlbFlushPcid(0, 2, L4); expectOld();       // individual address keeps globals
    tlbFlushPcid(3, 0, 0); expectOld();        // all contexts except globals
    tlbFlushPcid(2, 0, 0); expectNew();        // all contexts including globals
  });
  test("INVPCID individual-address and single-context for non-global entries", () => {
    fresh(); build4(PRWU, PRWU); markers();
    setPaging(0x1003, S.CR4_PAE | S.CR4_PCIDE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    tlbFlushPcid(0, 4, L4); expectOld();       // another PCID: untouched
    tlbFlushPcid(0, 3, L4 + 0x10); expectNew();
    w64(PTE, 0x10000 | PRWU);
    tlbFlushPcid(1, 4, 0); expectNew();
    tlbFlushPcid(1, 3, 0); expectOld();
  });
  test("tlbTag separates contexts", () => {
    fresh(); build4(PRWU, PRWU); markers(); long4(false);
    expectOld(); remap();
    setTlbTag(7); expectNew();              // tag 0's stale entry is not used
    w64(PTE, 0x10000 | PRWU);
    expectNew();                            // tag 7's entry is now stale and kept
    setTlbTag(0); expectOld();              // tag 0 walks again
  });
  test("a full flush drops only the current context's entries, globals included", () => {
    // The TLB is direct-mapped: each step touches L4 in one context only, so no context's
    // entry is evicted by another's install.
    fresh(); build4(PRWU | G, PRWU); markers();
    setPaging(0x1000, S.CR4_PAE | S.CR4_PGE, S.EFER_LME | S.EFER_LMA, false);
    setTlbTag(3); expectOld();              // context 3 caches the global mapping of 0x10000
    remap();
    setTlbTag(0); tlbFlushAll(false);       // e.g. VM exit without VPID: context 0 only
    setTlbTag(3); expectOld();              // context 3 kept its (now stale) global entry
    tlbFlushAll(false);
    expectNew();                            // a flush of context 3 drops it
    setTlbTag(0); w64(PTE, 0x10000 | PRWU | G);
    expectOld();                            // context 0 caches 0x10000
    remap();
    setTlbTag(3); tlbFlushEverything();     // INVEPT / INVVPID from any context
    setTlbTag(0); expectNew();              // drops context 0's entry too
  });
  test("physical tags wrap: after 2^20 context flushes no stale entry matches again", () => {
    fresh(); build4(PRWU, PRWU); markers(); long4(false);
    setTlbTag(5); expectOld();
    setTlbTag(0);
    for (let i = 0; i < (1 << 20) + 8; i++) tlbFlushAll(false);
    remap();
    setTlbTag(5); expectNew();              // context 5's old physical tag was reissued or cleared
    setTlbTag(0); expectNew();
  });
});

describe("fast path and MMIO", () => {
  test("size-specialised accessors, misaligned same-page and crossing", () => {
    fresh(); build4(PRWU, PRWU);
    w64(PTE + 8, 0x30000 | PRWU);
    long4(false);
    writeLin64(L4 + 0x101, 0x0807060504030201);
    expect<u64>(readLin64(L4 + 0x101)).toBe(0x0807060504030201);
    expect<u32>(readLin32(L4 + 0x103)).toBe(0x06050403);
    expect<u32>(readLin16(L4 + 0x108)).toBe(0x08);
    expect<u32>(readLin8(L4 + 0x102)).toBe(2);
    writeLin16(L4 + 0xfff, 0xbbaa);
    expect<u32>(readLin8(L4 + 0x1000)).toBe(0xbb);
    expect<u32>(load<u8>(ram() + 0x30000)).toBe(0xbb);
    writeLin8(L4 + 0xfff, 0x11);
    writeLin32(L4 + 0xffd, 0x44332211);
    expect<u32>(readLin32(L4 + 0xffd)).toBe(0x44332211);
    expect<bool>(faultPending).toBe(false);
  });
  test("MMIO translations are cached for the slow path only", () => {
    fresh();
    const at20 = load<u32>(0x20);   // what a bogus fast-path hit (host 0) would touch
    expect<u64>(readLin(0xfee00020, 4)).toBe(0xffffffff);   // stub host returns all-ones
    expect<u32>(tlbPermOf(0xfee00020)).not.toBe(0);
    expect<u64>(readLin(0xfee00020, 4)).toBe(0xffffffff);
    expect<u32>(readLin32(0xfee00020)).toBe(0xffffffff);
    writeLin32(0xfee00020, ~at20);
    expect<u32>(load<u32>(0x20)).toBe(at20);
    // With paging: the MMIO translation stays cached (stale) until INVLPG, like RAM ones.
    fresh(); build4(PRWU, PRWU); w64(PTE, 0xfee00000 | PRWU); long4(false);
    w32(0x10000, 0x1234);
    expect<u64>(readLin(L4, 4)).toBe(0xffffffff);
    w64(PTE, 0x10000 | PRWU);
    expect<u64>(readLin(L4, 4)).toBe(0xffffffff);
    tlbFlushPage(L4);
    expect<u64>(readLin(L4, 4)).toBe(0x1234);
  });
  test("user-mode fast path respects the current CPL", () => {
    fresh(); build4(PRW, PRWU); long4(false);
    w32(0x10000, 42);
    expect<u32>(readLin32(L4)).toBe(42);      // installs the entry at CPL 0
    setCpl(3);
    expect<u32>(readLin32(L4)).toBe(0);
    expect<bool>(faultPending).toBe(true);
    expect<u32>(faultError).toBe(5);
    expect<u64>(faultAddr).toBe(L4);
    clearFault();
  });
});

describe("block accesses", () => {
  test("readLinBytes / writeLinBytes across pages, all-or-nothing", () => {
    fresh(); build4(PRWU, PRWU);
    w64(PTE + 8, 0x30000 | PRWU);
    long4(false);
    const buf = memory.data(32, 16);
    for (let i: u32 = 0; i < 16; i++) store<u8>(buf + <usize>i, <u8>(0xa0 + i));
    expect<bool>(writeLinBytes(L4 + 0xff8, buf, 16)).toBe(true);
    expect<u64>(r64(0x10ff8)).toBe(0xa7a6a5a4a3a2a1a0);
    expect<u64>(r64(0x30000)).toBe(0xafaeadacabaaa9a8);
    memory.fill(buf + 16, 0, 16);
    expect<bool>(readLinBytes(L4 + 0xff8, buf + 16, 16)).toBe(true);
    expect<u64>(load<u64>(buf + 24)).toBe(0xafaeadacabaaa9a8);
    // Second page read-only at CPL 3: #PF on the second page, nothing written.
    w64(PTE + 8, 0x30000 | P | U);
    tlbFlushAll(false);
    setCpl(3);
    store<u8>(buf, 0x11);
    expect<bool>(writeLinBytes(L4 + 0xff8, buf, 16)).toBe(false);
    expect<u32>(faultError).toBe(7);
    expect<u64>(faultAddr).toBe(L4 + 0x1000);
    clearFault();
    expect<u64>(r64(0x10ff8)).toBe(0xa7a6a5a4a3a2a1a0);
  });
});

describe("large pages and INVLPG", () => {
  test("1G page: INVLPG anywhere in it drops the cached pieces", () => {
    fresh(); build4(PRWU, PRWU);
    w64(PDPTE, 0 | PRWU | PS);            // 1G page at physical 0
    long4(false);
    const base = L4 & ~(<u64>0x3fffffff);
    w32(0x5000, 0x55); w32(0x105000, 0x66);
    expect<u64>(readLin(base + 0x5000, 4)).toBe(0x55);
    w64(PDPTE, 0x40000000 | PRWU | PS);   // now at 1G: outside RAM -> reads as all-ones
    expect<u64>(readLin(base + 0x5000, 4)).toBe(0x55);
    tlbFlushPage(base + 0x3ffff000);
    expect<u64>(readLin(base + 0x5000, 4)).toBe(0xffffffff);
  });
  test("4M page (32-bit paging): INVLPG drops pieces; 4K INVLPG elsewhere keeps them", () => {
    fresh();
    w32(0x1000 + 4, 0x00000000 | 0x87);  // lin 4M..8M -> phys 0..4M
    S.cr3 = 0;
    setPaging(0x1000, S.CR4_PSE, 0, false);
    w32(0x3000, 0x33);
    expect<u64>(readLin(0x403000, 4)).toBe(0x33);
    w32(0x1000 + 4, 0x00c00000 | 0x87);  // now phys 12M.. (outside RAM)
    tlbFlushPage(0x800000);              // a different 4M region: no effect
    expect<u64>(readLin(0x403000, 4)).toBe(0x33);
    tlbFlushPage(0x7ff000);
    expect<u64>(readLin(0x403000, 4)).toBe(0xffffffff);
  });
  test("INVLPG also drops a global entry", () => {
    fresh(); build4(PRWU | G, PRWU); markers();
    setPaging(0x1000, S.CR4_PAE | S.CR4_PGE, S.EFER_LME | S.EFER_LMA, false);
    expectOld(); remap();
    tlbFlushPage(L4);
    expectNew();
  });
  test("fetch from an MMIO page: codePage returns 0 without #PF", () => {
    fresh();
    expect<usize>(codePage(0xfec00000)).toBe(0);
    expect<bool>(faultPending).toBe(false);
    expect<usize>(codePage(0x3000)).toBe(ram() + 0x3000);
  });
});

describe("segmem 64-bit fast path", () => {
  test("hits go straight to memory; FS base is added", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    w32(0x10010, 0x01020304);
    expect<u64>(readMem(S.DS, L4 + 0x10, 4)).toBe(0x01020304);
    expect<u64>(readMem(S.DS, L4 + 0x10, 4)).toBe(0x01020304);   // now a TLB hit
    S.setSegBase(S.FS, L4);
    expect<u64>(readMem(S.FS, 0x10, 2)).toBe(0x0304);
    writeMem(S.FS, 0x20, 8, 0x1122334455667788);
    expect<u64>(r64(0x10020)).toBe(0x1122334455667788);
    expect<bool>(faultPending).toBe(false);
  });
  test("non-canonical addresses are never cached and still raise #GP / #SS", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    const nc = L4 | (<u64>1 << 50);          // same PML4 index, bit 50 set: non-canonical
    expect<u64>(translate(nc, ACC_READ)).toBe(0x10000);
    expect<u32>(tlbPermOf(nc)).toBe(0);
    readMem(S.DS, nc, 4);
    expect<bool>(faultPending).toBe(true);
    expect<u32>(faultVector).toBe(13);
    clearFault();
    writeMem(S.SS, nc, 4, 0);
    expect<u32>(faultVector).toBe(12);
    clearFault();
  });
});

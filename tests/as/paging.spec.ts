// Paging: address translation in every mode, permission rules and #PF error codes,
// reserved bits, A/D updates. TLB behaviour is in mmu-tlb.spec.ts.
import * as S from "../../assembly/cpu/state";
import { setRflags } from "../../assembly/cpu/flags";
import {
  translate, readLin, writeLin, codePage, ACC_READ, ACC_WRITE, ACC_EXEC, loadPdptes,
  setImplicitSupervisor, MAXPHYADDR, tlbFlushAll,
} from "../../assembly/mmu/access";
import { getPdpte } from "../../assembly/mmu/paging";
import { faultPending, faultVector, faultError, faultAddr, clearFault, EXC_PF } from "../../assembly/cpu/fault";
import { canonicalBits } from "../../assembly/cpu/segmem";
import {
  fresh, setPaging, setCpl, w64, w32, r64, r32, r8, ram, build4, long4, L4, PML4E, PDPTE, PDE, PTE,
  P, W, U, A, D, PS, G, XD, PRW, PRWU,
} from "./lib/mmu-setup";

const NM: u64 = u64.MAX_VALUE;

// 32-bit layout: PD at 0x1000, PT at 0x2000. LIN32 = (pd 3, pt 7).
const LIN32: u64 = (<u64>3 << 22) | (<u64>7 << 12);
function build32(pteFlags: u32, pdeFlags: u32): void {
  w32(0x1000 + 3 * 4, 0x2000 | pdeFlags);
  w32(0x2000 + 7 * 4, 0x15000 | pteFlags);
}
// PAE layout: PDPT at 0x1020 (32-byte aligned), PD at 0x2000, PT at 0x3000. LINPAE = (1, 2, 3).
const LINPAE: u64 = (<u64>1 << 30) | (<u64>2 << 21) | (<u64>3 << 12);
function buildPae(pteFlags: u64, pdeFlags: u64): void {
  w64(0x1020 + 8, 0x2000 | P);
  w64(0x2000 + 16, 0x3000 | pdeFlags);
  w64(0x3000 + 24, 0x18000 | pteFlags);
}

// Expect the last access to have raised #PF with this error code and CR2 value.
function expectPF(err: u32, addr: u64): void {
  expect<bool>(faultPending).toBe(true, "fault pending");
  expect<u32>(faultVector).toBe(EXC_PF);
  expect<u32>(faultError).toBe(err, "error code");
  expect<u64>(faultAddr).toBe(addr, "CR2");
  clearFault();
}
function expectNoFault(): void { expect<bool>(faultPending).toBe(false, "no fault"); }

describe("paging off", () => {
  test("linear = physical, reads and writes hit RAM", () => {
    fresh();
    w32(0x5000, 0xdeadbeef);
    expect<u64>(readLin(0x5000, 4)).toBe(0xdeadbeef);
    writeLin(0x5ffe, 2, 0x1234);
    expect<u32>(r32(0x5ffc) >> 16).toBe(0x1234);
    expect<u64>(translate(0x123456, ACC_WRITE)).toBe(0x123456);
    expectNoFault();
  });
  test("page-crossing read and write without paging", () => {
    fresh();
    writeLin(0x6ffd, 8, 0x8877665544332211);
    expect<u32>(r8(0x6ffd)).toBe(0x11);
    expect<u32>(r8(0x7004)).toBe(0x88);
    expect<u64>(readLin(0x6ffd, 8)).toBe(0x8877665544332211);
    expect<u64>(readLin(0x6fff, 2)).toBe(0x4433);
  });
});

describe("4-level paging", () => {
  test("4K translation and A/D bits", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    expect<u64>(translate(L4 | 0x123, ACC_READ)).toBe(0x10123);
    expectNoFault();
    // A set on every entry walked, D not set for a read.
    expect<u64>(r64(PML4E) & (A | D)).toBe(A);
    expect<u64>(r64(PDPTE) & (A | D)).toBe(A);
    expect<u64>(r64(PDE) & (A | D)).toBe(A);
    expect<u64>(r64(PTE) & (A | D)).toBe(A);
    writeLin(L4 | 0x10, 4, 0xcafebabe);
    expectNoFault();
    expect<u32>(r32(0x10010)).toBe(0xcafebabe);
    expect<u64>(r64(PTE) & (A | D)).toBe(A | D);
    expect<u64>(r64(PDE) & D).toBe(0, "D only on the leaf");
    expect<u64>(readLin(L4 | 0x10, 4)).toBe(0xcafebabe);
  });
  test("2M page", () => {
    fresh(); build4(PRWU, PRWU);
    w64(0x3000 + 5 * 8, 0x200000 | PRWU | PS);
    long4(false);
    const lin = (<u64>1 << 39) | (<u64>2 << 30) | (<u64>5 << 21) | 0x12345;
    expect<u64>(translate(lin, ACC_READ)).toBe(0x212345);
    writeLin(lin, 8, 0x0102030405060708);
    expect<u64>(r64(0x212345)).toBe(0x0102030405060708);
    expect<u64>(r64(0x3000 + 5 * 8)).toBe(0x200000 | PRWU | PS | A | D);
  });
  test("1G page", () => {
    fresh(); build4(PRWU, PRWU);
    w64(0x2000 + 3 * 8, 0x40000000 | PRWU | PS);
    long4(false);
    const lin = (<u64>1 << 39) | (<u64>3 << 30) | 0x1234567;
    expect<u64>(translate(lin, ACC_READ)).toBe(0x41234567);
    expectNoFault();
    expect<u64>(r64(0x2000 + 3 * 8) & A).toBe(A);
  });
  test("upper half canonical address uses PML4 index 511", () => {
    fresh(); build4(PRWU, PRWU);
    w64(0x1000 + 511 * 8, 0x2000 | PRW);
    long4(false);
    const lin: u64 = 0xffffff8000000000 | (<u64>2 << 30) | (<u64>3 << 21) | (<u64>4 << 12) | 0x8;
    expect<u64>(translate(lin, ACC_READ)).toBe(0x10008);
  });
  test("not-present faults: error codes and CR2", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    const lin = L4 + 0x1000 + 0x44;   // PT entry 5: empty
    expect<u64>(translate(lin, ACC_READ)).toBe(NM);
    expectPF(0, lin);
    writeLin(lin, 4, 1);
    expectPF(2, lin);
    setCpl(3);
    expect<u64>(readLin(lin, 1)).toBe(0);
    expectPF(4, lin);
    writeLin(lin, 1, 1);
    expectPF(6, lin);
    // Not present at the PML4 level.
    const far = (<u64>7 << 39);
    readLin(far, 8);
    expectPF(4, far);
    // A bits are not set by a faulting walk.
    fresh(); build4(P | U, PRWU); long4(true);
    writeLin(L4, 4, 1);
    expectPF(3, L4);
    expect<u64>(r64(PML4E) & A).toBe(0);
  });
  test("U/S: user access to a supervisor page", () => {
    fresh(); build4(PRW, PRWU); long4(false);
    setCpl(3);
    readLin(L4 + 8, 4);
    expectPF(5, L4 + 8);
    writeLin(L4 + 8, 4, 0);
    expectPF(7, L4 + 8);
    // Supervisor bit in a non-leaf entry also makes the page supervisor-only.
    fresh(); build4(PRWU, PRWU); w64(PDPTE, 0x3000 | PRW); long4(false);
    setCpl(3);
    readLin(L4, 4);
    expectPF(5, L4);
    setCpl(0);
    expect<u64>(readLin(L4, 4)).toBe(0);
    expectNoFault();
  });
  test("R/W with CR0.WP", () => {
    // Read-only leaf: supervisor writes allowed with WP=0 ...
    fresh(); build4(P | U, PRWU); long4(false);
    writeLin(L4, 4, 0x11223344);
    expectNoFault();
    expect<u32>(r32(0x10000)).toBe(0x11223344);
    // ... user writes never.
    setCpl(3);
    writeLin(L4, 4, 0);
    expectPF(7, L4);
    // WP=1: supervisor write faults with P|W.
    fresh(); build4(P | U, PRWU); long4(true);
    writeLin(L4, 4, 0x55);
    expectPF(3, L4);
    expect<u32>(r32(0x10000)).toBe(0);
    // Read-only at an upper level counts the same.
    fresh(); build4(PRWU, PRWU); w64(PML4E, 0x2000 | P | U); long4(true);
    writeLin(L4, 4, 0x55);
    expectPF(3, L4);
    expect<u64>(readLin(L4, 4)).toBe(0);
    expectNoFault();
  });
  test("NX with EFER.NXE, and XD reserved without it", () => {
    fresh(); build4(PRWU | XD, PRWU);
    setPaging(0x1000, S.CR4_PAE, S.EFER_LME | S.EFER_LMA | S.EFER_NXE, false);
    expect<u64>(translate(L4, ACC_READ)).toBe(0x10000);
    expect<usize>(codePage(L4)).toBe(0);
    expectPF(0x11, L4);   // P | I/D
    setCpl(3);
    codePage(L4);
    expectPF(0x15, L4);   // P | U | I/D
    // XD in an upper level applies too.
    fresh(); build4(PRWU, PRWU); w64(PDE, 0x4000 | PRWU | XD);
    setPaging(0x1000, S.CR4_PAE, S.EFER_LME | S.EFER_LMA | S.EFER_NXE, false);
    codePage(L4);
    expectPF(0x11, L4);
    // NXE=0: bit 63 is reserved (RSVD); I/D is not reported without NXE/SMEP.
    fresh(); build4(PRWU | XD, PRWU); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    codePage(L4);
    expectPF(9, L4);
  });
  test("executable page: codePage returns the host page", () => {
    fresh(); build4(PRWU, PRWU);
    setPaging(0x1000, S.CR4_PAE, S.EFER_LME | S.EFER_LMA | S.EFER_NXE, false);
    expect<usize>(codePage(L4 + 0x234)).toBe(ram() + 0x10000);
    expectNoFault();
  });
  test("SMEP", () => {
    fresh(); build4(PRWU, PRWU);
    setPaging(0x1000, S.CR4_PAE | S.CR4_SMEP, S.EFER_LME | S.EFER_LMA, false);
    codePage(L4);
    expectPF(0x11, L4);
    // Data accesses to user pages are fine; user-mode fetch is fine.
    expect<u64>(readLin(L4, 4)).toBe(0);
    expectNoFault();
    setCpl(3);
    expect<usize>(codePage(L4)).toBe(ram() + 0x10000);
    expectNoFault();
    // Supervisor page is executable by the supervisor.
    fresh(); build4(PRW, PRWU);
    setPaging(0x1000, S.CR4_PAE | S.CR4_SMEP, S.EFER_LME | S.EFER_LMA, false);
    expect<usize>(codePage(L4)).toBe(ram() + 0x10000);
    expectNoFault();
  });
  test("SMAP with RFLAGS.AC and implicit supervisor accesses", () => {
    fresh(); build4(PRWU, PRWU);
    setPaging(0x1000, S.CR4_PAE | S.CR4_SMAP, S.EFER_LME | S.EFER_LMA, true);
    readLin(L4, 4);
    expectPF(1, L4);
    writeLin(L4, 4, 9);
    expectPF(3, L4);
    setRflags(2 | 0x40000);   // AC=1: explicit supervisor accesses allowed
    writeLin(L4, 4, 9);
    expectNoFault();
    expect<u64>(readLin(L4, 4)).toBe(9);
    expectNoFault();
    // SDM 4.6.1: AC=1 at CPL < 3 lifts SMAP for implicit accesses too ...
    setImplicitSupervisor(true);
    expect<u64>(readLin(L4, 4)).toBe(9);
    expectNoFault();
    // ... but at CPL 3 implicit supervisor accesses ignore AC (U/S=0 in the error code).
    setCpl(3);
    readLin(L4, 4);
    expectPF(1, L4);
    setImplicitSupervisor(false);
    expect<u64>(readLin(L4, 4)).toBe(9);  // user access
    expectNoFault();
    // Supervisor fetch from a user page is not SMAP's business.
    setCpl(0); setRflags(2);
    expect<usize>(codePage(L4)).toBe(ram() + 0x10000);
    expectNoFault();
  });
  test("implicit supervisor access at CPL 3 to a supervisor page is allowed", () => {
    fresh(); build4(PRW, PRWU); long4(true);
    setCpl(3);
    setImplicitSupervisor(true);
    writeLin(L4, 2, 0xbeef);
    expectNoFault();
    setImplicitSupervisor(false);
    readLin(L4, 2);
    expectPF(5, L4);
  });
  test("reserved bits: RSVD error code", () => {
    const bitM: u64 = <u64>1 << <u64>MAXPHYADDR;
    // Address bit above MAXPHYADDR in a PDE.
    fresh(); build4(PRWU, PRWU); w64(PDE, 0x4000 | PRWU | bitM); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    writeLin(L4, 4, 0);
    expectPF(0xb, L4);
    setCpl(3);
    readLin(L4, 4);
    expectPF(0xd, L4);
    // Bit 51 in the PTE.
    fresh(); build4(PRWU | (<u64>1 << 51), PRWU); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    // Bits 62:52 are ignored.
    fresh(); build4(PRWU | (<u64>0x7ff << 52), PRWU); long4(false);
    expect<u64>(translate(L4, ACC_READ)).toBe(0x10000);
    expectNoFault();
    // PS in a PML4E is reserved.
    fresh(); build4(PRWU, PRWU); w64(PML4E, 0x2000 | PRWU | PS); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    // 2M page with bit 13 set; 1G page with bit 29 set.
    fresh(); build4(PRWU, PRWU); w64(PDE, 0x200000 | PRWU | PS | 0x2000); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    fresh(); build4(PRWU, PRWU); w64(PDPTE, 0x40000000 | PRWU | PS | 0x20000000); long4(false);
    readLin(L4, 4);
    expectPF(9, L4);
    // Not-present entries are not checked for reserved bits.
    fresh(); build4(PRWU, PRWU); w64(PTE, 0xffff000000000000); long4(false);
    readLin(L4, 4);
    expectPF(0, L4);
    // A reserved-bit fault with SMEP on reports I/D for a fetch.
    fresh(); build4(PRWU, PRWU); w64(PDE, 0x4000 | PRWU | bitM);
    setPaging(0x1000, S.CR4_PAE | S.CR4_SMEP, S.EFER_LME | S.EFER_LMA, false);
    codePage(L4);
    expectPF(0x19, L4);
  });
  test("page-crossing write faulting on the second page leaves the first unmodified", () => {
    fresh(); build4(PRWU, PRWU); long4(false);
    w32(0x10ffc, 0xaabbccdd);
    writeLin(L4 + 0xffe, 4, 0x11223344);   // next page (PT entry 5) not present
    expectPF(2, L4 + 0x1000);
    expect<u32>(r32(0x10ffc)).toBe(0xaabbccdd);
    // With the second page mapped (to a non-adjacent frame) the write is split.
    w64(PTE + 8, 0x30000 | PRWU);
    writeLin(L4 + 0xffe, 4, 0x11223344);
    expectNoFault();
    expect<u32>(r32(0x10ffc)).toBe(0x3344ccdd);
    expect<u32>(r32(0x30000) & 0xffff).toBe(0x1122);
    expect<u64>(readLin(L4 + 0xffe, 4)).toBe(0x11223344);
    expect<u64>(r64(PTE + 8) & D).toBe(D);
    // Read crossing into a supervisor page at CPL 3 faults on the second page.
    w64(PTE + 8, 0x30000 | PRW);
    tlbFlushAll(false);
    setCpl(3);
    readLin(L4 + 0xfff, 2);
    expectPF(5, L4 + 0x1000);
  });
  test("5-level paging", () => {
    fresh();
    // PML5 at 0x6000: entry 1 -> PML4 at 0x1000.
    build4(PRWU, PRWU);
    w64(0x6000 + 8, 0x1000 | PRWU);
    setPaging(0x6000, S.CR4_PAE | S.CR4_LA57, S.EFER_LME | S.EFER_LMA, false);
    expect<u32>(canonicalBits).toBe(57);
    const lin = (<u64>1 << 48) | L4 | 0x77;
    expect<u64>(translate(lin, ACC_READ)).toBe(0x10077);
    expect<u64>(r64(0x6008) & A).toBe(A);
    // PML5 index 0 not present.
    readLin(L4, 4);
    expectPF(0, L4);
    // PS in a PML5E is reserved.
    w64(0x6000 + 8, 0x1000 | PRWU | PS);
    tlbFlushAll(false);
    readLin(lin, 4);
    expectPF(9, lin);
    long4(false);
    expect<u32>(canonicalBits).toBe(48);
  });
});

describe("32-bit paging", () => {
  test("4K pages, A/D bits", () => {
    fresh(); build32(7, 7); setPaging(0x1000, 0, 0, false);
    expect<u64>(translate(LIN32 + 0xabc, ACC_READ)).toBe(0x15abc);
    expect<u32>(r32(0x100c) & 0x60).toBe(0x20);
    writeLin(LIN32 + 4, 4, 0x99);
    expect<u32>(r32(0x2000 + 28)).toBe(0x15000 | 7 | 0x60);
    expect<u32>(r32(0x15004)).toBe(0x99);
  });
  test("4M pages need CR4.PSE; PSE-36 address bits", () => {
    fresh();
    w32(0x1000 + 2 * 4, 0x00800000 | 0x87);  // 4M page at 8M
    setPaging(0x1000, S.CR4_PSE, 0, false);
    expect<u64>(translate((<u64>2 << 22) | 0x123456, ACC_READ)).toBe(0x00800000 | 0x123456);
    // PSE-36: bits 20:13 are physical bits 39:32.
    w32(0x1000 + 5 * 4, 0x00c00000 | (0x12 << 13) | 0x87);
    expect<u64>(translate((<u64>5 << 22) | 0x5000, ACC_READ)).toBe(0x1200c05000);
    // Bit 21 is reserved.
    w32(0x1000 + 6 * 4, 0x00c00000 | (1 << 21) | 0x87);
    readLin(<u64>6 << 22, 4);
    expectPF(9, <u64>6 << 22);
    // Without PSE the PS bit is ignored: the entry points to a page table.
    fresh(); build32(7, 7 | 0x80); setPaging(0x1000, 0, 0, false);
    expect<u64>(translate(LIN32, ACC_READ)).toBe(0x15000);
  });
  test("permissions and no NX in 32-bit paging", () => {
    fresh(); build32(5, 7); setPaging(0x1000, 0, S.EFER_NXE, true);
    setCpl(3);
    writeLin(LIN32, 4, 1);
    expectPF(7, LIN32);
    setCpl(0);
    writeLin(LIN32, 4, 1);
    expectPF(3, LIN32);
    // Fetch is always allowed (no XD); I/D not reported without SMEP even with NXE.
    expect<usize>(codePage(LIN32)).toBe(ram() + 0x15000);
    w32(0x2000 + 7 * 4, 0x15000 | 4);   // not present
    tlbFlushAll(false);
    codePage(LIN32);
    expectPF(0, LIN32);
    // Not-present PDE.
    readLin(<u64>9 << 22, 4);
    expectPF(0, <u64>9 << 22);
  });
  test("linear addresses wrap at 4 GiB for a page-crossing access", () => {
    fresh();
    w32(0x1000 + 1023 * 4, 0x2000 | 7);
    w32(0x2000 + 1023 * 4, 0x16000 | 7);
    w32(0x1000, 0x3000 | 7);
    w32(0x3000, 0x17000 | 7);
    setPaging(0x1000, 0, 0, false);
    writeLin(0xfffffffe, 4, 0xa1b2c3d4);
    expectNoFault();
    expect<u32>(r32(0x16ffc) >> 16).toBe(0xc3d4);
    expect<u32>(r32(0x17000) & 0xffff).toBe(0xa1b2);
  });
});

describe("PAE paging", () => {
  test("4K and 2M pages through the PDPTE registers", () => {
    fresh(); buildPae(PRWU, PRWU);
    w64(0x2000 + 5 * 8, 0x200000 | PRWU | PS);
    setPaging(0x1020, S.CR4_PAE, 0, false);
    expect<u64>(getPdpte(1)).toBe(0x2000 | P);
    expect<u64>(translate(LINPAE + 0x10, ACC_READ)).toBe(0x18010);
    expect<u64>(translate((<u64>1 << 30) | (<u64>5 << 21) | 0x1abcd, ACC_READ)).toBe(0x21abcd);
    // PDPTEs are not re-read from memory until reloaded; they get no A bit.
    expect<u64>(r64(0x1028)).toBe(0x2000 | P);
    w64(0x1028, 0);
    tlbFlushAll(false);
    expect<u64>(translate(LINPAE, ACC_READ)).toBe(0x18000);
    expect<bool>(loadPdptes()).toBe(true);
    tlbFlushAll(false);
    translate(LINPAE, ACC_READ);
    expectPF(0, LINPAE);
  });
  test("loadPdptes rejects reserved bits in present entries", () => {
    fresh(); buildPae(PRWU, PRWU);
    S.cr3 = 0x1020;
    w64(0x1020, 0x5000 | P | W);        // R/W is reserved in a PDPTE
    expect<bool>(loadPdptes()).toBe(false);
    w64(0x1020, 0x5000 | P | XD);       // bit 63 too
    expect<bool>(loadPdptes()).toBe(false);
    w64(0x1020, 0x5000 | W);            // not present: ignored
    expect<bool>(loadPdptes()).toBe(true);
    w64(0x1020, 0x5000 | P | (<u64>1 << <u64>MAXPHYADDR));
    expect<bool>(loadPdptes()).toBe(false);
  });
  test("NX and reserved bits in PAE entries", () => {
    fresh(); buildPae(PRWU | XD, PRWU);
    setPaging(0x1020, S.CR4_PAE, S.EFER_NXE, false);
    codePage(LINPAE);
    expectPF(0x11, LINPAE);
    // Bits 62:M are reserved in PAE (unlike 4-level paging).
    fresh(); buildPae(PRWU | (<u64>1 << 55), PRWU);
    setPaging(0x1020, S.CR4_PAE, 0, false);
    readLin(LINPAE, 4);
    expectPF(9, LINPAE);
    // NXE=0: XD reserved.
    fresh(); buildPae(PRWU, PRWU | XD);
    setPaging(0x1020, S.CR4_PAE, 0, false);
    writeLin(LINPAE, 4, 0);
    expectPF(0xb, LINPAE);
  });
});

describe("page-crossing address arithmetic", () => {
  test("a 64-bit address crossing a page outside 64-bit mode does not wrap at 4 GiB", () => {
    // Compatibility mode (LMA=1, CS.L=0) with a system access at a high linear address.
    fresh(); build4(PRWU, PRWU);
    w64(PTE + 8, 0x30000 | PRWU);
    long4(false);
    S.setSeg(S.CS, 8, 0, 0xffffffff, 0xc09b);   // 32-bit code segment: compatibility mode
    S.updateMode();
    expect<bool>(S.code64).toBe(false);
    writeLin(L4 + 0xffc, 8, 0x1122334455667788);
    expectNoFault();
    expect<u32>(r32(0x10ffc)).toBe(0x55667788);
    expect<u32>(r32(0x30000)).toBe(0x11223344);
  });
});

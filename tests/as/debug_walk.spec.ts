// The debugger's translation (mmu/debug_walk.ts, used by the gdb stub): every paging mode, no
// side effects (no A/D update, no #PF, no TLB fill), no permission checks. The EPT leg is
// exercised end to end in tests/e2e/gdb.test.mjs (a breakpoint in an L2 of the minivisor).
import * as S from "../../assembly/cpu/state";
import { debugTranslate } from "../../assembly/mmu/debug_walk";
import { translate, ACC_READ } from "../../assembly/mmu/access";
import { faultPending } from "../../assembly/cpu/fault";
import { fresh, setPaging, w32, w64, r64, build4, long4, L4, PML4E, PTE, P, W, U, A, PS } from "./lib/mmu-setup";

const NONE: u64 = u64.MAX_VALUE;

describe("debugTranslate", () => {
  test("paging off: linear = physical (32 bits)", () => {
    fresh();
    expect<u64>(debugTranslate(0x123456)).toBe(0x123456);
  });
  test("32-bit paging: 4K page, 4M page with PSE, not present", () => {
    fresh();
    w32(0x1000 + 3 * 4, 0x2000 | <u32>(P | W));          // PDE 3 -> PT at 0x2000
    w32(0x2000 + 7 * 4, 0x15000 | <u32>P);                // PTE 7, supervisor read-only
    w32(0x1000 + 5 * 4, 0x00c00000 | <u32>(P | PS));      // PDE 5: 4M page at 12M
    setPaging(0x1000, S.CR4_PSE, 0, false);
    expect<u64>(debugTranslate((3 << 22) | (7 << 12) | 0xabc)).toBe(0x15abc);
    expect<u64>(debugTranslate((5 << 22) | 0x12345)).toBe(0xc12345);
    expect<u64>(debugTranslate(6 << 22)).toBe(NONE);
  });
  test("PAE paging through the PDPTE registers", () => {
    fresh();
    w64(0x1020 + 8, 0x2000 | P);
    w64(0x2000 + 16, 0x3000 | P | W | U);
    w64(0x3000 + 24, 0x18000 | P);
    setPaging(0x1020, S.CR4_PAE, 0, false);
    expect<u64>(debugTranslate((1 << 30) | (2 << 21) | (3 << 12) | 0x10)).toBe(0x18010);
    expect<u64>(debugTranslate(2 << 30)).toBe(NONE);
  });
  test("4-level paging: 4K and 2M pages, no A/D update, no fault, no TLB fill", () => {
    fresh(); build4(P, P);                                // supervisor, read-only, A clear everywhere
    w64(0x3000 + 8 * 5, 0x600000 | P | PS);               // PD entry 5 of the same PDPT: 2M page
    long4(false);
    S.setCpl(3);                                          // permissions do not matter to a debugger
    expect<u64>(debugTranslate(L4 | 0x123)).toBe(0x10123);
    expect<u64>(debugTranslate((L4 & ~(<u64>0x3fffffff)) | (5 << 21) | 0x4567)).toBe(0x604567);
    expect<bool>(faultPending).toBe(false);
    expect<u64>(r64(PML4E) & A).toBe(0, "no accessed flag set");
    expect<u64>(r64(PTE) & A).toBe(0);
    // Unmapping after the debugger looked: a real access faults (nothing was cached for it).
    w64(PTE, 0);
    expect<u64>(debugTranslate(L4)).toBe(NONE);
    S.setCpl(0);
    expect<u64>(translate(L4, ACC_READ)).toBe(NONE);
    expect<bool>(faultPending).toBe(true);
  });
});

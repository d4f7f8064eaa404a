// INVPCID (66 0F 38 82 /r): operand checks (SDM Vol.2 INVPCID). Its TLB effects per type are
// covered by mmu-tlb.spec.ts (tlbFlushPcid).
import * as S from "../../assembly/cpu/state";
import { cpuid, cpuidB } from "../../assembly/cpu/cpuid";
import { mode64, run, setR, setM64, DATA, RAX, RBX } from "./harness";

const UD: i32 = 6, GP: i32 = 13;
const INVPCID = "66 0f 38 82 03";   // invpcid rax, [rbx]

function desc(pcid: u64, lin: u64): void { setM64(DATA, pcid); setM64(DATA + 8, lin); setR(RBX, DATA); }

describe("INVPCID", () => {
  test("is advertised in CPUID.(7,0):EBX[10]", () => {
    cpuid(7, 0);
    expect(cpuidB & (1 << 10)).toBe(1 << 10);
  });
  test("valid types run; bad type, reserved descriptor bits and non-canonical addresses #GP", () => {
    mode64();
    desc(0, 0x1000);
    for (let t: u64 = 0; t < 4; t++) { setR(RAX, t); expect(run(INVPCID)).toBe(-1); }
    setR(RAX, 4); expect(run(INVPCID)).toBe(GP);
    setR(RAX, 2); desc(0x1000, 0); expect(run(INVPCID)).toBe(GP);           // bits 63:12
    setR(RAX, 0); desc(0, 0xffaaaaaaaaaaaaaa); expect(run(INVPCID)).toBe(-1); // 57-bit canonical
    setR(RAX, 0); desc(0, 0x8000000000000000); expect(run(INVPCID)).toBe(GP);
    setR(RAX, 3); desc(0, 0x8000000000000000); expect(run(INVPCID)).toBe(-1); // address unused
  });
  test("types 0/1 with a non-zero PCID need CR4.PCIDE", () => {
    mode64();
    desc(5, 0x1000);
    setR(RAX, 1); expect(run(INVPCID)).toBe(GP);
    setR(RAX, 2); expect(run(INVPCID)).toBe(-1);
    S.cr4 |= S.CR4_PCIDE;
    setR(RAX, 1); expect(run(INVPCID)).toBe(-1);
  });
  test("register operand is #UD", () => {
    mode64();
    expect(run("66 0f 38 82 c0")).toBe(UD);
  });
});

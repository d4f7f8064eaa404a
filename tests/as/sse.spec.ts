// SSE/SSE2 moves, faults, integer SIMD, COMIS flags, group 15 (FXSAVE/XSAVE/MXCSR), x87.
import * as S from "../../assembly/cpu/state";
import {
  setup32, setup64, code, run, setX, setX32, xlo, xhi, x32, NO_FAULT, DATA, CODE, rip, flags,
  mem64, setMem64, mem32, setMem32, mem16, mem8, lastError,
} from "./sse_harness";

function d32(a: u32): u8[] { return [<u8>a, <u8>(a >> 8), <u8>(a >> 16), <u8>(a >> 24)]; }
function withAddr(prefix: u8[], a: u32): u8[] { const r = prefix.slice(0); const d = d32(a); for (let i = 0; i < 4; i++) r.push(d[i]); return r; }

describe("moves and alignment", () => {
  test("MOVAPS xmm2, xmm0 then ADDPS", () => {
    setup32();
    setX32(0, 0x3f800000, 0x40000000, 0x40400000, 0x40800000);
    setX32(1, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000);
    code([0x0f, 0x28, 0xd0, 0x0f, 0x58, 0xd1]);
    expect(run(2)).toBe(NO_FAULT);
    expect(x32(2, 0)).toBe(0x40000000);
    expect(x32(2, 3)).toBe(0x40a00000);
    expect(rip()).toBe(<u64>CODE + 6);
  });
  test("MOVAPS from a misaligned address -> #GP(0), MOVUPS works", () => {
    setup32();
    setMem64(DATA + 8, 0x1122334455667788); setMem64(DATA + 16, 0x99aabbccddeeff00);
    code(withAddr([0x0f, 0x28, 0x05], DATA + 8));
    expect(run(1)).toBe(13);
    expect(lastError()).toBe(0);
    expect(rip()).toBe(<u64>CODE);
    setup32();
    code(withAddr([0x0f, 0x10, 0x05], DATA + 8));
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x1122334455667788);
    expect(xhi(0)).toBe(0x99aabbccddeeff00);
  });
  test("ADDPS m128 must be aligned, ADDSS m32 need not be", () => {
    setup32();
    code(withAddr([0x0f, 0x58, 0x05], DATA + 4));
    expect(run(1)).toBe(13);
    setup32();
    setMem32(DATA + 4, 0x3f800000);
    code(withAddr([0xf3, 0x0f, 0x58, 0x05], DATA + 4));
    expect(run(1)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(0x3f800000);
  });
  test("MOVSS load from memory zeroes the upper lanes; register form keeps them", () => {
    setup32();
    setX(0, 0xffffffffffffffff, 0xffffffffffffffff);
    setMem32(DATA, 0x12345678);
    code(withAddr([0xf3, 0x0f, 0x10, 0x05], DATA));
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x12345678); expect(xhi(0)).toBe(0);
    setup32();
    setX(0, 0xffffffffffffffff, 0xffffffffffffffff); setX(1, 0x12345678, 0);
    code([0xf3, 0x0f, 0x10, 0xc1]);
    run(1);
    expect(xlo(0)).toBe(0xffffffff12345678); expect(xhi(0)).toBe(0xffffffffffffffff);
  });
  test("MOVQ xmm, r64 and back, MOVD zero-extends (64-bit mode)", () => {
    setup64();
    S.setReg64(0, 0x8877665544332211);
    setX(0, 0xffff, 0xffff);
    code([0x66, 0x48, 0x0f, 0x6e, 0xc0, 0x66, 0x48, 0x0f, 0x7e, 0xc1, 0x66, 0x0f, 0x6e, 0xd0]);
    expect(run(3)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x8877665544332211); expect(xhi(0)).toBe(0);
    expect(S.getReg64(1)).toBe(0x8877665544332211);
    expect(xlo(2)).toBe(0x44332211);
  });
  test("MOVHLPS / MOVLHPS / SHUFPS / UNPCKLPS", () => {
    setup32();
    setX32(0, 0, 1, 2, 3); setX32(1, 4, 5, 6, 7);
    setX32(2, 0, 1, 2, 3); setX32(3, 0, 1, 2, 3);
    code([0x0f, 0x12, 0xc1, 0x0f, 0xc6, 0xd1, 0x1b, 0x0f, 0x14, 0xd9]); // movhlps x0,x1; shufps x2,x1,0x1b; unpcklps x3,x1
    expect(run(3)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(6); expect(x32(0, 1)).toBe(7); expect(x32(0, 2)).toBe(2);
    expect(x32(2, 0)).toBe(3); expect(x32(2, 1)).toBe(2); expect(x32(2, 2)).toBe(5); expect(x32(2, 3)).toBe(4);
    expect(x32(3, 0)).toBe(0); expect(x32(3, 1)).toBe(4); expect(x32(3, 2)).toBe(1); expect(x32(3, 3)).toBe(5);
  });
});

describe("availability faults", () => {
  test("CR0.TS -> #NM, CR0.EM -> #UD, CR4.OSFXSR=0 -> #UD, LOCK -> #UD", () => {
    setup32(); S.cr0 |= S.CR0_TS; code([0x0f, 0x58, 0xc1]);
    expect(run(1)).toBe(7);
    setup32(); S.cr0 |= S.CR0_EM; code([0x0f, 0x58, 0xc1]);
    expect(run(1)).toBe(6);
    setup32(); S.cr4 &= ~S.CR4_OSFXSR; code([0x66, 0x0f, 0xef, 0xc1]);
    expect(run(1)).toBe(6);
    setup32(); code([0xf0, 0x0f, 0x58, 0xc1]);
    expect(run(1)).toBe(6);
  });
  test("MOVMSKPS with a memory operand is #UD", () => {
    setup32(); code(withAddr([0x0f, 0x50, 0x05], DATA));
    expect(run(1)).toBe(6);
  });
});

describe("COMISS / UCOMISS flags", () => {
  test("less, equal, greater, unordered; OF SF AF cleared", () => {
    setup32();
    S.setMxcsr(0x1f80);
    setX(0, 0x3f800000, 0); setX(1, 0x40000000, 0); setX(2, 0x3f800000, 0); setX(3, 0x7fc00000, 0);
    code([0x0f, 0x2f, 0xc1]);                 // comiss xmm0, xmm1: 1 < 2
    expect(run(1)).toBe(NO_FAULT);
    expect(flags()).toBe(0x1);
    code([0x0f, 0x2f, 0xc2]);                 // equal
    run(1); expect(flags()).toBe(0x40);
    code([0x0f, 0x2f, 0xc8]);                 // comiss xmm1, xmm0: greater
    run(1); expect(flags()).toBe(0);
    code([0x0f, 0x2e, 0xc3]);                 // ucomiss QNaN: unordered, no IE
    run(1); expect(flags()).toBe(0x45); expect(S.mxcsr).toBe(0x1f80);
    code([0x0f, 0x2f, 0xc3]);                 // comiss QNaN: IE
    run(1); expect(flags()).toBe(0x45); expect(S.mxcsr).toBe(0x1f81);
  });
  test("CMPPS predicates: LT signals on QNaN, UNORD does not", () => {
    setup32();
    setX32(0, 0x3f800000, 0x7fc00000, 0x40000000, 0x3f800000);
    setX32(1, 0x40000000, 0x3f800000, 0x3f800000, 0x3f800000);
    setX32(2, 0x3f800000, 0x7fc00000, 0x40000000, 0x3f800000);
    code([0x0f, 0xc2, 0xc1, 0x01]);            // cmpltps xmm0, xmm1
    expect(run(1)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(0xffffffff); expect(x32(0, 1)).toBe(0); expect(x32(0, 2)).toBe(0); expect(x32(0, 3)).toBe(0);
    expect(S.mxcsr).toBe(0x1f81);
    S.setMxcsr(0x1f80);
    code([0x0f, 0xc2, 0xd1, 0x03]);            // cmpunordps xmm2, xmm1
    run(1);
    expect(x32(2, 1)).toBe(0xffffffff); expect(x32(2, 0)).toBe(0);
    expect(S.mxcsr).toBe(0x1f80);
  });
});

describe("integer SIMD", () => {
  test("PADDSW / PADDUSB / PSUBB saturation and wrap", () => {
    setup32();
    setX(0, 0x7ff0800000017fff, 0); setX(1, 0x0100ffff00020001, 0);
    setX(2, 0xf0, 0); setX(3, 0x20, 0);
    setX(4, 0x00, 0); setX(5, 0x01, 0);
    code([0x66, 0x0f, 0xed, 0xc1, 0x66, 0x0f, 0xdc, 0xd3, 0x66, 0x0f, 0xf8, 0xe5]);
    expect(run(3)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x7fff800000037fff);
    expect(xlo(2) & 0xff).toBe(0xff);
    expect(xlo(4) & 0xff).toBe(0xff);
  });
  test("PACKUSWB, PACKSSDW", () => {
    setup32();
    setX(0, 0x0100_00ff_ff80_0010, 0x0000000000000000); setX(1, 0, 0);
    setX(2, 0xffff8000_00012345, 0); setX(3, 0, 0);
    code([0x66, 0x0f, 0x67, 0xc1, 0x66, 0x0f, 0x6b, 0xd3]);
    expect(run(2)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x00000000ffff0010);
    expect(xlo(2) & 0xffffffff).toBe(0x80007fff);
  });
  test("PSHUFD, PSRLDQ, PSLLDQ, PSRAW imm, PSLLQ by a count > 63", () => {
    setup32();
    setX32(0, 0x11111111, 0x22222222, 0x33333333, 0x44444444);
    setX(1, 0x0011223344556677, 0x8899aabbccddeeff);
    setX(2, 0x0011223344556677, 0x8899aabbccddeeff);
    setX(3, 0x8000400000000001, 0);
    setX(4, 0xffffffffffffffff, 0xffffffffffffffff); setX(5, 64, 0);
    code([0x66, 0x0f, 0x70, 0xc0, 0x1b,       // pshufd xmm0, xmm0, 0x1b
          0x66, 0x0f, 0x73, 0xd9, 0x03,       // psrldq xmm1, 3
          0x66, 0x0f, 0x73, 0xfa, 0x05,       // pslldq xmm2, 5
          0x66, 0x0f, 0x71, 0xe3, 0x04,       // psraw xmm3, 4
          0x66, 0x0f, 0xf3, 0xe5]);           // psllq xmm4, xmm5
    expect(run(5)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(0x44444444); expect(x32(0, 3)).toBe(0x11111111);
    expect(xlo(1)).toBe(0xddeeff0011223344); expect(xhi(1)).toBe(0x0000008899aabbcc);
    expect(xlo(2)).toBe(0x5566770000000000); expect(xhi(2)).toBe(0xddeeff0011223344);
    expect(xlo(3)).toBe(0xf800040000000000);
    expect(xlo(4)).toBe(0); expect(xhi(4)).toBe(0);
  });
  test("PMADDWD, PMULUDQ, PSADBW, PMULHW, PAVGB", () => {
    setup32();
    setX(0, 0x0003_0002_8000_8000, 0); setX(1, 0x0005_0004_8000_8000, 0);
    setX(2, 0x00000000ffffffff, 0x0000000000000002); setX(3, 0x00000000ffffffff, 0x0000000000000003);
    setX(4, 0x0102030405060708, 0); setX(5, 0x0807060504030201, 0);
    setX(6, 0x7fff, 0); setX(7, 0x7fff, 0);
    code([0x66, 0x0f, 0xf5, 0xc1, 0x66, 0x0f, 0xf4, 0xd3, 0x66, 0x0f, 0xf6, 0xe5, 0x66, 0x0f, 0xe5, 0xf7]);
    expect(run(4)).toBe(NO_FAULT);
    expect(x32(0, 0)).toBe(0x80000000);       // 2 * 0x40000000 wraps
    expect(x32(0, 1)).toBe(23);
    expect(xlo(2)).toBe(0xfffffffe00000001); expect(xhi(2)).toBe(6);
    expect(xlo(4)).toBe(32);
    expect(xlo(6) & 0xffff).toBe(0x3fff);
  });
  test("PCMPGTB signed, PMOVMSKB, PINSRW/PEXTRW", () => {
    setup32();
    setX(0, 0x00ff7f01, 0); setX(1, 0x0100807f, 0);
    code([0x66, 0x0f, 0x64, 0xc1, 0x66, 0x0f, 0xd7, 0xc0, 0x66, 0x0f, 0xc4, 0xd1, 0x07, 0x66, 0x0f, 0xc5, 0xda, 0x07]);
    S.setReg64(1, 0xbeef);
    expect(run(4)).toBe(NO_FAULT);
    expect(xlo(0) & 0xffffffff).toBe(0x0000ff00);
    expect(S.getReg64(0)).toBe(0x2);
    expect(xhi(2) >> 48).toBe(0xbeef);
    expect(S.getReg64(3)).toBe(0xbeef);
  });
});

describe("group 15", () => {
  test("LDMXCSR/STMXCSR, reserved bits -> #GP(0)", () => {
    setup32();
    setMem32(DATA, 0x7fa0);
    code(withAddr([0x0f, 0xae, 0x15], DATA)); code(withAddr([0x0f, 0xae, 0x1d], DATA + 4));
    expect(run(2)).toBe(NO_FAULT);
    expect(S.mxcsr).toBe(0x7fa0);
    expect(mem32(DATA + 4)).toBe(0x7fa0);
    setup32();
    setMem32(DATA, 0x10000);
    code(withAddr([0x0f, 0xae, 0x15], DATA));
    expect(run(1)).toBe(13);
    expect(S.mxcsr).toBe(0x1f80);
  });
  test("FXSAVE layout (32-bit: XMM0-7 only), FXRSTOR round trip", () => {
    setup32();
    S.setFpuCw(0x27f); S.setMxcsr(0x1fa1);
    setX(0, 0x0123456789abcdef, 0xfedcba9876543210); setX(7, 7, 77); setX(8, 8, 88);
    for (let i: u32 = 0; i < 512; i += 8) setMem64(DATA + i, 0xaaaaaaaaaaaaaaaa);
    code(withAddr([0x0f, 0xae, 0x05], DATA));
    expect(run(1)).toBe(NO_FAULT);
    expect(mem16(DATA)).toBe(0x27f);
    expect(mem16(DATA + 2)).toBe(0);
    expect(mem8(DATA + 4)).toBe(0);          // abridged tag: all empty
    expect(mem32(DATA + 24)).toBe(0x1fa1);
    expect(mem32(DATA + 28)).toBe(0xffff);   // MXCSR_MASK
    expect(mem64(DATA + 160)).toBe(0x0123456789abcdef);
    expect(mem64(DATA + 168)).toBe(0xfedcba9876543210);
    expect(mem64(DATA + 160 + 7 * 16 + 8)).toBe(77);
    expect(mem64(DATA + 160 + 8 * 16)).toBe(0xaaaaaaaaaaaaaaaa); // XMM8 not saved outside 64-bit mode
    setMem64(DATA + 160, 0x5555);
    setMem32(DATA + 24, 0x1f80);
    setX(0, 0, 0);
    code(withAddr([0x0f, 0xae, 0x0d], DATA));
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x5555); expect(xhi(0)).toBe(0xfedcba9876543210);
    expect(S.mxcsr).toBe(0x1f80);
    expect(S.fpuCw).toBe(0x27f);
  });
  test("FXSAVE misaligned -> #GP; FXRSTOR with reserved MXCSR bits -> #GP, nothing loaded", () => {
    setup32();
    code(withAddr([0x0f, 0xae, 0x05], DATA + 8));
    expect(run(1)).toBe(13);
    setup32();
    setMem32(DATA + 24, 0xffff0000); setMem64(DATA + 160, 0x1234);
    code(withAddr([0x0f, 0xae, 0x0d], DATA));
    expect(run(1)).toBe(13);
    expect(xlo(0)).toBe(0);
  });
  test("FXSAVE in 64-bit mode saves XMM8-15", () => {
    setup64();
    setX(15, 0xf15, 0xf15f);
    // fxsave64 [DATA] (REX.W, SIB absolute addressing)
    code(withAddr([0x48, 0x0f, 0xae, 0x04, 0x25], DATA));
    expect(run(1)).toBe(NO_FAULT);
    expect(mem64(DATA + 160 + 15 * 16)).toBe(0xf15);
    expect(mem64(DATA + 168 + 15 * 16)).toBe(0xf15f);
  });
  test("XSAVE writes XSTATE_BV; XRSTOR restores, inits absent components, checks the header", () => {
    setup32();
    S.setReg64(0, 3); S.setReg64(2, 0);
    setX(3, 0x33, 0x3333);
    for (let i: u32 = 0; i < 576; i += 8) setMem64(DATA + i, 0);
    code(withAddr([0x0f, 0xae, 0x25], DATA));         // xsave [DATA]
    expect(run(1)).toBe(NO_FAULT);
    expect(mem64(DATA + 512)).toBe(2);                // x87 in init state, SSE in use
    expect(mem64(DATA + 160 + 48)).toBe(0x33);
    setX(3, 0, 0);
    setX(5, 5, 5);
    code(withAddr([0x0f, 0xae, 0x2d], DATA));         // xrstor [DATA]
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(3)).toBe(0x33); expect(xhi(3)).toBe(0x3333);
    expect(xlo(5)).toBe(0);
    setMem64(DATA + 512, 4);                          // bit outside XCR0
    code(withAddr([0x0f, 0xae, 0x2d], DATA));
    expect(run(1)).toBe(13);
    setup32(); S.cr4 &= ~S.CR4_OSXSAVE;
    code(withAddr([0x0f, 0xae, 0x25], DATA));
    expect(run(1)).toBe(6);
  });
  test("fences are no-ops; RDFSBASE (F3 0F AE /0) is #UD; CLFLUSH checks the access", () => {
    setup32();
    code([0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xf8]);
    expect(run(3)).toBe(NO_FAULT);
    setup64();
    code([0xf3, 0x48, 0x0f, 0xae, 0xc0]);
    expect(run(1)).toBe(6);
    setup32();
    S.setSeg(S.DS, 16, 0, 0xfff, 0x4093);
    code(withAddr([0x0f, 0xae, 0x3d], 0x2000));      // clflush [0x2000] beyond DS limit
    expect(run(1)).toBe(13);
  });
});

describe("x87 (minimal, f64 internally)", () => {
  test("FLD1 FLD1 FADDP FSTP m64; FNSTSW AX", () => {
    setup32();
    code([0xd9, 0xe8, 0xd9, 0xe8, 0xde, 0xc1]); code(withAddr([0xdd, 0x1d], DATA)); code([0xdf, 0xe0]);
    expect(run(5)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0x4000000000000000);
    expect(S.getReg64(0) & 0xffff).toBe(0);
    expect(S.fpuTw).toBe(0xffff);
  });
  test("FILD m32, FISTP m16 with rounding, FCOMI", () => {
    setup32();
    setMem32(DATA, 0xfffffffd); // -3
    setMem64(DATA + 8, 0x4004000000000000); // 2.5
    code(withAddr([0xdb, 0x05], DATA)); code(withAddr([0xdd, 0x05], DATA + 8));
    code([0xdb, 0xf1]);                          // fcomi st0(2.5), st1(-3): greater
    code(withAddr([0xdf, 0x1d], DATA + 16));     // fistp m16: 2.5 -> 2 (RN even)
    expect(run(4)).toBe(NO_FAULT);
    expect(flags()).toBe(0);
    expect(mem16(DATA + 16)).toBe(2);
    expect(S.fpuTop).toBe(7);
  });
  test("CR0.TS -> #NM; unimplemented x87 opcode (FSIN) -> #UD", () => {
    setup32(); S.cr0 |= S.CR0_TS; code([0xd9, 0xe8]);
    expect(run(1)).toBe(7);
    setup32(); code([0xd9, 0xfe]);
    expect(run(1)).toBe(6);
  });
});

// 4 KiB identity mapping of the first 64 pages, page 0x30 not present.
function mapWithHole(): void {
  setup64();
  setMem64(0x3000, 0x4003);
  for (let i: u32 = 0; i < 64; i++) setMem64(0x4000 + i * 8, i == 0x30 ? 0 : ((<u64>i << 12) | 3));
}

describe("page faults on 16-byte operands", () => {
  test("MOVUPS store crossing into a non-present page: #PF, first page untouched", () => {
    mapWithHole();
    setMem64(0x2fff8, 0x1111111111111111);
    setX(0, 0xaaaaaaaaaaaaaaaa, 0xbbbbbbbbbbbbbbbb);
    code(withAddr([0x0f, 0x11, 0x04, 0x25], 0x2fff8));
    expect(run(1)).toBe(14);
    expect(mem64(0x2fff8)).toBe(0x1111111111111111);
    expect(rip()).toBe(<u64>CODE);
  });
  test("FXSAVE whose area crosses into a non-present page writes nothing", () => {
    mapWithHole();
    setMem64(0x2ff00, 0x2222);
    code(withAddr([0x0f, 0xae, 0x04, 0x25], 0x2ff00));
    expect(run(1)).toBe(14);
    expect(mem64(0x2ff00)).toBe(0x2222);
  });
});

describe("MMX state and x87 exceptions", () => {
  test("MMX op sets TOP=0, all tags valid, exponent all ones; EMMS empties", () => {
    setup32();
    S.setFpuTop(5);
    S.setReg64(0, 0x1234);
    code([0x0f, 0x6e, 0xc8]);                 // movd mm1, eax
    expect(run(1)).toBe(NO_FAULT);
    expect(S.fpuTop).toBe(0);
    expect(S.fpuTw).toBe(0);
    expect(load<u64>(S.FPR + 16)).toBe(0x1234);
    expect(<u32>load<u16>(S.FPR + 24)).toBe(0xffff);
    code([0x0f, 0x77]);                       // emms
    expect(run(1)).toBe(NO_FAULT);
    expect(S.fpuTw).toBe(0xffff);
    expect(rip()).toBe(<u64>CODE + 5);
  });
  test("pending unmasked x87 exception: MMX MOVQ raises #MF (kvm-unit-tests mmx_movq_mf)", () => {
    setup32();
    setMem32(DATA, 0);                        // fcw = 0: all exceptions unmasked
    code(withAddr([0xd9, 0x2d], DATA));       // fldcw [DATA]
    code([0xd9, 0xee, 0xd9, 0xee, 0xde, 0xf9]); // fldz; fldz; fdivp -> invalid, pending
    expect(run(4)).toBe(NO_FAULT);
    expect(S.fpuSw & 0x81).toBe(0x81);
    code(withAddr([0x0f, 0x7f, 0x05], DATA + 16)); // movq [DATA+16], mm0
    expect(run(1)).toBe(16);
  });
  test("FNSTSW does not wait, FLD1 does", () => {
    setup32();
    S.setFpuCw(0x340); S.setFpuSw(0x81);
    code([0xdf, 0xe0, 0xd9, 0xe8]);
    expect(run(1)).toBe(NO_FAULT);
    expect(S.getReg64(0) & 0xffff).toBe(0x81);
    expect(run(1)).toBe(16);
  });
});

describe("masked stores and MMX conversions", () => {
  test("MASKMOVDQU stores only bytes whose mask bit 7 is set", () => {
    setup32();
    setMem64(DATA, 0x1111111111111111); setMem64(DATA + 8, 0x2222222222222222);
    setX(0, 0x8877665544332211, 0xffeeddccbbaa9988);
    setX(1, 0x0000000080000080, 0x8000000000000000);
    S.setReg64(7, DATA);
    code([0x66, 0x0f, 0xf7, 0xc1]);
    expect(run(1)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0x1111111144111111 & 0xffffffffffffff00 | 0x11);
    expect(mem64(DATA + 8)).toBe(0xff22222222222222);
  });
  test("MASKMOVQ (MMX) and CVTPI2PS / CVTTPS2PI", () => {
    setup32();
    setMem64(DATA, 0);
    S.setReg64(0, 0x55667788); S.setReg64(1, 0x80800000);
    S.setReg64(7, DATA);
    code([0x0f, 0x6e, 0xc0, 0x0f, 0x6e, 0xc9, 0x0f, 0xf7, 0xc1]); // movd mm0,eax; movd mm1,ecx; maskmovq mm0,mm1
    expect(run(3)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0x55660000);
    setup32();
    setX(0, 0xffffffffffffffff, 0x1234);
    setX(1, 0xc0600000_3fc00000, 0);             // 1.5, -3.5
    S.setReg64(0, 0xfffffffd);                   // -3
    code([0x0f, 0x6e, 0xd0, 0x0f, 0x2a, 0xc2, 0x0f, 0x2c, 0xd9]); // movd mm2,eax; cvtpi2ps xmm0,mm2; cvttps2pi mm3,xmm1
    expect(run(3)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x00000000c0400000);    // -3.0, 0.0
    expect(xhi(0)).toBe(0x1234);
    expect(load<u64>(S.FPR + 48)).toBe(0xfffffffd00000001);
  });
});

describe("x87 extras", () => {
  test("FLDPI / FSQRT / FSTP m64, FXAM classes", () => {
    setup32();
    code([0xd9, 0xeb]); code(withAddr([0xdd, 0x1d], DATA));        // fldpi; fstp qword [DATA]
    code([0xd9, 0xe5]);                                             // fxam on empty
    setMem64(DATA + 8, 0x4010000000000000);                         // 4.0
    code(withAddr([0xdd, 0x05], DATA + 8)); code([0xd9, 0xfa]);     // fld; fsqrt
    code(withAddr([0xdd, 0x1d], DATA + 16));
    expect(run(6)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0x400921fb54442d18);
    expect(mem64(DATA + 16)).toBe(0x4000000000000000);
  });
  test("FXAM: empty -> C3|C0, negative zero -> C3|C1", () => {
    setup32();
    code([0xd9, 0xe5]);
    expect(run(1)).toBe(NO_FAULT);
    expect(S.fpuSw & 0x4700).toBe(0x4100);
    code([0xd9, 0xee, 0xd9, 0xe0, 0xd9, 0xe5]);                     // fldz; fchs; fxam
    expect(run(3)).toBe(NO_FAULT);
    expect(S.fpuSw & 0x4700).toBe(0x4200);
  });
  test("FCMOVB / FCMOVNB follow CF", () => {
    setup32();
    code([0xd9, 0xe8, 0xd9, 0xee]);                                 // fld1; fldz  -> st0=0, st1=1
    code([0xda, 0xc1]);                                             // fcmovb st0, st1 (CF=0: no move)
    code(withAddr([0xdd, 0x15], DATA));                             // fst qword [DATA]
    code([0xdb, 0xc1]);                                             // fcmovnb st0, st1 (move)
    code(withAddr([0xdd, 0x15], DATA + 8));
    expect(run(6)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0);
    expect(mem64(DATA + 8)).toBe(0x3ff0000000000000);
  });
  test("FSTP m80 / FLD m80 round trip; FNSTENV layout; FNSAVE reinitializes", () => {
    setup32();
    code([0xd9, 0xe8]); code(withAddr([0xdb, 0x3d], DATA));         // fld1; fstp tbyte [DATA]
    code(withAddr([0xdb, 0x2d], DATA));                             // fld tbyte [DATA]
    code(withAddr([0xd9, 0x35], DATA + 16));                        // fnstenv [DATA+16]
    code(withAddr([0xdd, 0x35], DATA + 64));                        // fnsave [DATA+64]
    expect(run(5)).toBe(NO_FAULT);
    expect(mem64(DATA)).toBe(0x8000000000000000);
    expect(mem16(DATA + 8)).toBe(0x3fff);
    expect(mem32(DATA + 16)).toBe(0xffff037f);
    expect(mem32(DATA + 20) & 0x3800).toBe(0x3800);                 // TOP = 7
    expect(mem32(DATA + 24)).toBe(0xffff3fff);                      // tag: ST0 valid, rest empty
    expect(mem64(DATA + 64 + 28)).toBe(0x8000000000000000);          // ST(0) in the FNSAVE image
    expect(S.fpuTw).toBe(0xffff);
    expect(S.fpuCw).toBe(0x37f);
  });
});

describe("RIP-relative memory operands with an immediate (64-bit)", () => {
  test("CMPPS xmm0, [rip+disp], imm8 and PSHUFD xmm1, [rip+disp], imm8", () => {
    setup64();
    // data at DATA; instruction 1 is 8 bytes at CODE: disp = DATA - (CODE + 8)
    setMem64(DATA, 0x3f800000_40000000); setMem64(DATA + 8, 0x11111111_22222222);
    setX(0, 0x3f800000_3f800000, 0);
    code(withAddr([0x0f, 0xc2, 0x05], DATA - (CODE + 8))); code([0x00]);        // cmpeqps
    code(withAddr([0x66, 0x0f, 0x70, 0x0d], DATA - (CODE + 17))); code([0x1b]); // pshufd
    expect(run(2)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0xffffffff00000000);
    expect(x32(1, 0)).toBe(0x11111111); expect(x32(1, 3)).toBe(0x40000000);
    expect(rip()).toBe(<u64>CODE + 17);
  });
});

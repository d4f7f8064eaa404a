// Scalar/packed float semantics. Expected values were produced by running the same
// instructions on the host CPU (gcc inline asm, x86-64).
import * as S from "../../assembly/cpu/state";
import { setup32, code, run, setX, xlo, x32, NO_FAULT } from "./sse_harness";

// Run `pfx 0F op C1` (op xmm0, xmm1) with xmm0 = a, xmm1 = b; returns low 32 bits of xmm0.
function ss(op: u8, a: u32, b: u32, mx: u32): u32 {
  setup32();
  S.setMxcsr(mx);
  setX(0, <u64>a | 0x1234567800000000, 0x1111111122222222);
  setX(1, <u64>b, 0);
  code([0xf3, 0x0f, op, 0xc1]);
  expect(run(1)).toBe(NO_FAULT);
  return x32(0, 0);
}
function sd(op: u8, a: u64, b: u64, mx: u32): u64 {
  setup32();
  S.setMxcsr(mx);
  setX(0, a, 0x1111111122222222);
  setX(1, b, 0);
  code([0xf2, 0x0f, op, 0xc1]);
  expect(run(1)).toBe(NO_FAULT);
  return xlo(0);
}
const ADD: u8 = 0x58, SUB: u8 = 0x5c, MUL: u8 = 0x59, DIV: u8 = 0x5e, MIN: u8 = 0x5d, MAX: u8 = 0x5f;

describe("overflow with OE unmasked depends on the rounding mode", () => {
  test("ADDSD DBL_MAX + 1/2 ulp: RZ and RD give DBL_MAX with PE only (no #XM)", () => {
    expect(sd(ADD, 0x7fefffffffffffff, 0x7c90000000000000, 0x7b80)).toBe(0x7fefffffffffffff);   // RZ, OM=0
    expect(S.mxcsr).toBe(0x7ba0);
    expect(sd(ADD, 0x7fefffffffffffff, 0x7c90000000000000, 0x3b80)).toBe(0x7fefffffffffffff);   // RD, OM=0
    expect(S.mxcsr).toBe(0x3ba0);
  });
});

describe("NaN propagation (SDM Table 4-7)", () => {
  test("SNaN first, QNaN second -> first quieted, IE", () => {
    expect(ss(ADD, 0x7f800001, 0x7fc00005, 0x1f80)).toBe(0x7fc00001);
    expect(S.mxcsr).toBe(0x1f81);
  });
  test("number first, QNaN second -> second, no flags", () => {
    expect(ss(ADD, 0x3f800000, 0xffc00005, 0x1f80)).toBe(0xffc00005);
    expect(S.mxcsr).toBe(0x1f80);
  });
  test("two SNaNs -> first quieted", () => {
    expect(ss(ADD, 0x7fa00000, 0xff800001, 0x1f80)).toBe(0x7fe00000);
    expect(S.mxcsr).toBe(0x1f81);
  });
  test("inf - inf -> real indefinite", () => {
    expect(ss(SUB, 0x7f800000, 0x7f800000, 0x1f80)).toBe(0xffc00000);
    expect(S.mxcsr).toBe(0x1f81);
  });
  test("upper lanes of MOVSS-style scalar op are preserved", () => {
    ss(ADD, 0x3f800000, 0x3f800000, 0x1f80);
    expect(xlo(0) >> 32).toBe(0x12345678);
  });
  test("MIN/MAX: NaN -> second operand, IE even for QNaN; equal zeros -> second", () => {
    expect(ss(MIN, 0x7fc00000, 0x3f800000, 0x1f80)).toBe(0x3f800000);
    expect(S.mxcsr).toBe(0x1f81);
    expect(ss(MIN, 0x3f800000, 0x7f800001, 0x1f80)).toBe(0x7f800001);
    expect(S.mxcsr).toBe(0x1f81);
    expect(ss(MIN, 0x00000000, 0x80000000, 0x1f80)).toBe(0x80000000);
    expect(ss(MAX, 0x80000000, 0x00000000, 0x1f80)).toBe(0x00000000);
    expect(S.mxcsr).toBe(0x1f80);
  });
});

describe("rounding modes", () => {
  test("DIVSS 1/3 and -1/3 in RN, RD, RU, RZ", () => {
    const pos: u32[] = [0x3eaaaaab, 0x3eaaaaaa, 0x3eaaaaab, 0x3eaaaaaa];
    const neg: u32[] = [0xbeaaaaab, 0xbeaaaaab, 0xbeaaaaaa, 0xbeaaaaaa];
    for (let m: u32 = 0; m < 4; m++) {
      expect(ss(DIV, 0x3f800000, 0x40400000, 0x1f80 | (m << 13))).toBe(pos[m]);
      expect(S.mxcsr).toBe(0x1fa0 | (m << 13));
      expect(ss(DIV, 0xbf800000, 0x40400000, 0x1f80 | (m << 13))).toBe(neg[m]);
    }
  });
  test("DIVSD, MULSD, ADDSD in all modes", () => {
    const dv: u64[] = [0x3fd5555555555555, 0x3fd5555555555555, 0x3fd5555555555556, 0x3fd5555555555555];
    const ml: u64[] = [0x3ff0000000000002, 0x3ff0000000000002, 0x3ff0000000000003, 0x3ff0000000000002];
    const ad: u64[] = [0x3fefffffffffffff, 0x3fefffffffffffff, 0x3ff0000000000000, 0x3fefffffffffffff];
    for (let m: u32 = 0; m < 4; m++) {
      const mx = 0x1f80 | (m << 13);
      expect(sd(DIV, 0x3ff0000000000000, 0x4008000000000000, mx)).toBe(dv[m]);
      expect(S.mxcsr).toBe(mx | 0x20);
      expect(sd(MUL, 0x3ff0000000000001, 0x3ff0000000000001, mx)).toBe(ml[m]);
      expect(sd(ADD, 0x3ff0000000000000, 0xbc90000000000001, mx)).toBe(ad[m]);
    }
  });
  test("1 - 1 is -0 only in round-down", () => {
    expect(sd(SUB, 0x3ff0000000000000, 0x3ff0000000000000, 0x3f80)).toBe(0x8000000000000000);
    expect(sd(SUB, 0x3ff0000000000000, 0x3ff0000000000000, 0x7f80)).toBe(0);
    expect(S.mxcsr).toBe(0x7f80);
  });
  test("overflow: result depends on the mode, OE|PE", () => {
    const r32: u32[] = [0x7f800000, 0x7f7fffff, 0x7f800000, 0x7f7fffff];
    const r64: u64[] = [0x7ff0000000000000, 0x7fefffffffffffff, 0x7ff0000000000000, 0x7fefffffffffffff];
    for (let m: u32 = 0; m < 4; m++) {
      expect(ss(MUL, 0x7f000000, 0x40000000, 0x1f80 | (m << 13))).toBe(r32[m]);
      expect(S.mxcsr).toBe(0x1fa8 | (m << 13));
      expect(sd(MUL, 0x7fe0000000000000, 0x4000000000000000, 0x1f80 | (m << 13))).toBe(r64[m]);
      expect(S.mxcsr).toBe(0x1fa8 | (m << 13));
    }
  });
});

describe("denormals, underflow, DAZ, FTZ", () => {
  test("exact tiny result: no UE when masked", () => {
    expect(ss(MUL, 0x00800000, 0x3f000000, 0x1f80)).toBe(0x00400000);
    expect(S.mxcsr).toBe(0x1f80);
  });
  test("inexact tiny result: UE|PE", () => {
    expect(ss(MUL, 0x00800001, 0x3f000000, 0x1f80)).toBe(0x00400000);
    expect(S.mxcsr).toBe(0x1fb0);
  });
  test("FTZ flushes a tiny result to zero with UE|PE", () => {
    expect(ss(MUL, 0x00800000, 0x3f000000, 0x9f80)).toBe(0);
    expect(S.mxcsr).toBe(0x9fb0);
  });
  test("denormal operand sets DE (and PE here); DAZ treats it as zero", () => {
    expect(ss(ADD, 0x00000001, 0x3f800000, 0x1f80)).toBe(0x3f800000);
    expect(S.mxcsr).toBe(0x1fa2);
    expect(ss(ADD, 0x00000001, 0x00000001, 0x1fc0)).toBe(0);
    expect(S.mxcsr).toBe(0x1fc0);
  });
  test("f64 results in the denormal range, all modes", () => {
    const r: u64[] = [0x0008000000000002, 0x0008000000000001, 0x0008000000000002, 0x0008000000000001];
    const q: u64[] = [2, 1, 2, 1];
    for (let m: u32 = 0; m < 4; m++) {
      expect(sd(MUL, 0x0010000000000003, 0x3fe0000000000000, 0x1f80 | (m << 13))).toBe(r[m]);
      expect(S.mxcsr).toBe(0x1fb0 | (m << 13));
      expect(sd(DIV, 3, 0x4000000000000000, 0x1f80 | (m << 13))).toBe(q[m]);
      expect(S.mxcsr).toBe(0x1fb2 | (m << 13));
    }
  });
});

describe("unmasked exceptions", () => {
  test("unmasked IE -> #XM, destination unchanged, flag set", () => {
    setup32();
    S.setMxcsr(0x1f80 & ~0x80);
    setX(0, 0x7f800000, 0); setX(1, 0xff800000, 0);
    code([0x0f, 0x58, 0xc1]); // addps
    expect(run(1)).toBe(19);
    expect(xlo(0)).toBe(0x7f800000);
    expect(S.mxcsr & 1).toBe(1);
  });
  test("with CR4.OSXMMEXCPT=0 it is #UD", () => {
    setup32();
    S.cr4 = S.cr4 & ~S.CR4_OSXMMEXCPT;
    S.setMxcsr(0x1f80 & ~0x200); // ZE unmasked
    setX(0, 0x3f800000, 0); setX(1, 0, 0);
    code([0xf3, 0x0f, 0x5e, 0xc1]); // divss
    expect(run(1)).toBe(6);
    expect(xlo(0)).toBe(0x3f800000);
  });
});

// Packed op xmm0 op= xmm1 with the given MXCSR; returns the fault vector (values from the CPU).
function packed(op: u8, a0: u32, a1: u32, a2: u32, a3: u32, b0: u32, b1: u32, b2: u32, b3: u32, mx: u32): u32 {
  setup32();
  S.setMxcsr(mx);
  const p = S.xmmPtr(0), q = S.xmmPtr(1);
  store<u32>(p, a0); store<u32>(p + 4, a1); store<u32>(p + 8, a2); store<u32>(p + 12, a3);
  store<u32>(q, b0); store<u32>(q + 4, b1); store<u32>(q + 8, b2); store<u32>(q + 12, b3);
  code([0x0f, op, 0xc1]);
  return run(1);
}

describe("unmasked exceptions: which flags are recorded", () => {
  test("unmasked IE suppresses the post-computation flags of all lanes", () => {
    expect(packed(ADD, 0x7f800000, 0x3f800000, 0x7f000000, 0x00800001, 0xff800000, 0x33800000, 0x7f000000, 0x3f000000, 0x1f00)).toBe(19);
    expect(S.mxcsr).toBe(0x1f01);
    expect(x32(0, 0)).toBe(0x7f800000);
  });
  test("unmasked OE: IE, OE, PE all recorded", () => {
    expect(packed(ADD, 0x7f800000, 0x3f800000, 0x7f000000, 0x00800001, 0xff800000, 0x33800000, 0x7f000000, 0x3f000000, 0x1b80)).toBe(19);
    expect(S.mxcsr).toBe(0x1ba9);
  });
  test("unmasked UE: tiny result whose scaled value is exact -> UE without PE", () => {
    expect(packed(MUL, 0x00800001, 0x3f800000, 0, 0, 0x3f000000, 0x40400000, 0, 0, 0x1780)).toBe(19);
    expect(S.mxcsr).toBe(0x1790);
  });
  test("unmasked ZE with a denormal operand elsewhere: ZE|DE, no PE", () => {
    expect(packed(DIV, 0x3f800000, 0x00000001, 0x3f800000, 0, 0, 0x3f800000, 0x40400000, 0x3f800000, 0x1d80)).toBe(19);
    expect(S.mxcsr).toBe(0x1d86);
  });
});

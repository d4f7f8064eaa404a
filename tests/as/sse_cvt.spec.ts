// Conversions: boundaries, rounding modes, integer indefinite, NaN handling.
// Expected values checked on the host CPU.
import * as S from "../../assembly/cpu/state";
import { setup32, setup64, code, run, setX, xlo, x32, NO_FAULT } from "./sse_harness";

// pfx 0F op C0 : reg eax <- xmm0 (op 2C/2D); REX.W in 64-bit mode when w.
function f2i(pfx: u8, op: u8, a: u64, mx: u32, w: bool): u64 {
  if (w) setup64(); else setup32();
  S.setMxcsr(mx);
  S.setReg64(0, 0xdeadbeefdeadbeef);
  setX(0, a, 0);
  if (w) code([pfx, 0x48, 0x0f, op, 0xc0]); else code([pfx, 0x0f, op, 0xc0]);
  expect(run(1)).toBe(NO_FAULT);
  return S.getReg64(0);
}
function xcvt(pfx: u8, a: u64, mx: u32): u64 { // cvtsd2ss / cvtss2sd xmm0, xmm1
  setup32();
  S.setMxcsr(mx);
  setX(0, 0, 0); setX(1, a, 0);
  code([pfx, 0x0f, 0x5a, 0xc1]);
  expect(run(1)).toBe(NO_FAULT);
  return xlo(0);
}

describe("float -> integer", () => {
  test("CVTSS2SI 2^31 -> indefinite, IE", () => {
    expect(f2i(0xf3, 0x2d, 0x4f000000, 0x1f80, false)).toBe(0x80000000);
    expect(S.mxcsr).toBe(0x1f81);
  });
  test("-2^31-0.5: CVTTSD2SI and CVTSD2SI (ties-to-even) are in range, PE", () => {
    expect(f2i(0xf2, 0x2c, 0xc1e0000000100000, 0x1f80, false)).toBe(0x80000000);
    expect(S.mxcsr).toBe(0x1fa0);
    expect(f2i(0xf2, 0x2d, 0xc1e0000000100000, 0x1f80, false)).toBe(0x80000000);
    expect(S.mxcsr).toBe(0x1fa0);
  });
  test("-2^31-1.5 and 2^31-0.5 (RN) overflow; 2^31-0.5 RD fits", () => {
    expect(f2i(0xf2, 0x2d, 0xc1e0000000300000, 0x1f80, false)).toBe(0x80000000);
    expect(S.mxcsr).toBe(0x1f81);
    expect(f2i(0xf2, 0x2d, 0x41dfffffffe00000, 0x1f80, false)).toBe(0x80000000);
    expect(S.mxcsr).toBe(0x1f81);
    expect(f2i(0xf2, 0x2d, 0x41dfffffffe00000, 0x3f80, false)).toBe(0x7fffffff);
    expect(S.mxcsr).toBe(0x3fa0);
  });
  test("NaN -> indefinite; 32-bit destination zero-extends", () => {
    expect(f2i(0xf2, 0x2d, 0x7ff8000000000000, 0x1f80, true)).toBe(0x8000000000000000);
    expect(f2i(0xf2, 0x2d, 0x7ff8000000000000, 0x1f80, false)).toBe(0x80000000);
  });
  test("64-bit: 2^63 indefinite, -2^63 exact", () => {
    expect(f2i(0xf2, 0x2d, 0x43e0000000000000, 0x1f80, true)).toBe(0x8000000000000000);
    expect(S.mxcsr).toBe(0x1f81);
    expect(f2i(0xf2, 0x2d, 0xc3e0000000000000, 0x1f80, true)).toBe(0x8000000000000000);
    expect(S.mxcsr).toBe(0x1f80);
  });
  test("ties to even and directed", () => {
    expect(f2i(0xf3, 0x2d, 0x3fc00000, 0x1f80, false)).toBe(2);
    expect(f2i(0xf3, 0x2d, 0x40200000, 0x1f80, false)).toBe(2);
    expect(f2i(0xf3, 0x2d, 0xbfc00000, 0x5f80, false)).toBe(0xffffffff);
    expect(S.mxcsr).toBe(0x5fa0);
  });
});

describe("integer -> float", () => {
  test("CVTSI2SS 2^24+1 in RN/RU, -(2^24+1) RU", () => {
    setup32(); S.setMxcsr(0x1f80); S.setReg64(0, 16777217); setX(0, 0xffffffffffffffff, 7);
    code([0xf3, 0x0f, 0x2a, 0xc0]);
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0xffffffff4b800000);
    expect(S.mxcsr).toBe(0x1fa0);
    setup32(); S.setMxcsr(0x5f80); S.setReg64(0, 16777217);
    code([0xf3, 0x0f, 0x2a, 0xc0]); run(1);
    expect(x32(0, 0)).toBe(0x4b800001);
    setup32(); S.setMxcsr(0x5f80); S.setReg64(0, <u64>(-16777217 & 0xffffffff));
    code([0xf3, 0x0f, 0x2a, 0xc0]); run(1);
    expect(x32(0, 0)).toBe(0xcb800000);
  });
  test("CVTSI2SD r64 INT64_MAX in RN and RZ", () => {
    setup64(); S.setMxcsr(0x1f80); S.setReg64(0, 0x7fffffffffffffff);
    code([0xf2, 0x48, 0x0f, 0x2a, 0xc0]);
    expect(run(1)).toBe(NO_FAULT);
    expect(xlo(0)).toBe(0x43e0000000000000);
    setup64(); S.setMxcsr(0x7f80); S.setReg64(0, 0x7fffffffffffffff);
    code([0xf2, 0x48, 0x0f, 0x2a, 0xc0]); run(1);
    expect(xlo(0)).toBe(0x43dfffffffffffff);
    expect(S.mxcsr).toBe(0x7fa0);
  });
});

describe("float <-> float", () => {
  test("CVTSD2SS of MAX + 1/2 ulp with OE unmasked: RD/RZ give MAX (PE only), RN/RU overflow (#XM)", () => {
    // 0x47effffff0000000 = FLT_MAX + half an ulp: RN rounds to infinity, RD/RZ to FLT_MAX
    // without overflow, so an unmasked OE must not fault there (checked on the host CPU by the
    // differential test, seed 20261125 case 22173).
    expect(xcvt(0xf2, 0x47effffff0000000, 0x3b80) & 0xffffffff).toBe(0x7f7fffff);   // RD, OM=0
    expect(S.mxcsr).toBe(0x3ba0);
    expect(xcvt(0xf2, 0x47effffff0000000, 0x7b80) & 0xffffffff).toBe(0x7f7fffff);   // RZ, OM=0
    expect(S.mxcsr).toBe(0x7ba0);
    setup32();
    S.setMxcsr(0x1b80);                                                             // RN, OM=0
    setX(0, 0, 0); setX(1, 0x47effffff0000000, 0);
    code([0xf2, 0x0f, 0x5a, 0xc1]);
    expect(run(1)).toBe(19);                                                        // #XM
  });
  test("CVTSD2SS exact tie: RN even, RU up", () => {
    expect(xcvt(0xf2, 0x3ff0000010000000, 0x1f80) & 0xffffffff).toBe(0x3f800000);
    expect(S.mxcsr).toBe(0x1fa0);
    expect(xcvt(0xf2, 0x3ff0000010000000, 0x5f80) & 0xffffffff).toBe(0x3f800001);
  });
  test("CVTSD2SS rounding up to the smallest normal is still tiny (SDM 4.9.1.5)", () => {
    // 2^-126 - 2^-150: exact in 24 bits with unbounded exponent, so UE+PE although RN gives
    // FLT_MIN (checked on the host CPU); FTZ flushes it; just above the midpoint is not tiny.
    expect(xcvt(0xf2, 0x380fffffe0000000, 0x1f80) & 0xffffffff).toBe(0x00800000);
    expect(S.mxcsr).toBe(0x1fb0);
    expect(xcvt(0xf2, 0x380fffffe0000000, 0x9f80) & 0xffffffff).toBe(0);
    expect(S.mxcsr).toBe(0x9fb0);
    expect(xcvt(0xf2, 0x380ffffff0000000, 0x1f80) & 0xffffffff).toBe(0x00800000);
    expect(S.mxcsr).toBe(0x1fa0);
  });
  test("CVTSD2SS SNaN quiets and keeps the top payload bits", () => {
    expect(xcvt(0xf2, 0x7ff0000000000001, 0x1f80) & 0xffffffff).toBe(0x7fc00000);
    expect(S.mxcsr).toBe(0x1f81);
    expect(xcvt(0xf2, 0xfff4000020000000, 0x1f80) & 0xffffffff).toBe(0xffe00001);
  });
  test("CVTSS2SD SNaN", () => {
    expect(xcvt(0xf3, 0x7f800001, 0x1f80)).toBe(0x7ff8000020000000);
    expect(S.mxcsr).toBe(0x1f81);
  });
  test("CVTSD2SS overflow RN/RZ, denormal source", () => {
    expect(xcvt(0xf2, 0x7e37e43c8800759c, 0x1f80) & 0xffffffff).toBe(0x7f800000);
    expect(S.mxcsr).toBe(0x1fa8);
    expect(xcvt(0xf2, 0x7e37e43c8800759c, 0x7f80) & 0xffffffff).toBe(0x7f7fffff);
    expect(S.mxcsr).toBe(0x7fa8);
    expect(xcvt(0xf2, 0x3800000000000000, 0x1f80) & 0xffffffff).toBe(0x400000);
    expect(S.mxcsr).toBe(0x1f80);
    expect(xcvt(0xf2, 1, 0x1f80) & 0xffffffff).toBe(0);
    expect(S.mxcsr).toBe(0x1fb2);
    expect(xcvt(0xf2, 1, 0x5f80) & 0xffffffff).toBe(1);
  });
});

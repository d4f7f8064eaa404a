// SSE/SSE2 floating-point instructions: arithmetic, MIN/MAX, SQRT, RCP/RSQRT, CMP, COMIS,
// and the conversions. pfx selects PS (0), PD (1), SS (2), SD (3).
import * as S from "../state";
import { xmmPtr, getReg64, setReg64, setReg32 } from "../state";
import { faultPending, raiseUD } from "../fault";
import { modMod, modReg, modRm, rexW, fetch8 } from "../decode";
import { setStatusFlags, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF } from "../flags";
import {
  SRC, RES, pfx, copy16, loadSrc128, loadSrc64, loadSrc32, readMsz, clearExc, fpCommit, addExc,
  rcMode, X_PE,
} from "./sse_util";
import {
  arith32, arith64, sqrt32, sqrt64, cmp32, cmp64, comi32, comi64, cvt32to64, cvt64to32, f2i, i2f,
  isNaN32, isNaN64, isDen32, isInf32, OP_SQRT, in32, in64,
} from "./sse_float";
import { mmPtr, mmxEnter, mmWritten, fpuPendingMF } from "./x87";

// Load the source for the current pfx: m128 aligned for packed, m32/m64 for scalar.
export function loadFpSrc(): bool {
  if (pfx == 0 || pfx == 1) return loadSrc128(true);
  if (pfx == 2) return loadSrc32();
  return loadSrc64();
}

// 0F 58/59/5C/5D/5E/5F
export function fpArith(op: u32): void {
  if (!loadFpSrc()) return;
  const d = xmmPtr(modReg);
  copy16(RES, d);
  clearExc();
  if (pfx == 0) {
    for (let i: usize = 0; i < 16; i += 4) store<u32>(RES + i, arith32(op, load<u32>(d + i), load<u32>(SRC + i)));
  } else if (pfx == 1) {
    for (let i: usize = 0; i < 16; i += 8) store<u64>(RES + i, arith64(op, load<u64>(d + i), load<u64>(SRC + i)));
  } else if (pfx == 2) store<u32>(RES, arith32(op, load<u32>(d), load<u32>(SRC)));
  else store<u64>(RES, arith64(op, load<u64>(d), load<u64>(SRC)));
  if (!fpCommit()) return;
  copy16(d, RES);
}

// 0F 51 SQRT; 0F 52 RSQRT (PS/SS); 0F 53 RCP (PS/SS).
export function fpUnary(kind: u32): void {
  if (kind != OP_SQRT && (pfx == 1 || pfx == 3)) { raiseUD(); return; }
  if (!loadFpSrc()) return;
  const d = xmmPtr(modReg);
  copy16(RES, d);
  clearExc();
  if (kind == OP_SQRT) {
    if (pfx == 0) for (let i: usize = 0; i < 16; i += 4) store<u32>(RES + i, sqrt32(load<u32>(SRC + i)));
    else if (pfx == 1) for (let i: usize = 0; i < 16; i += 8) store<u64>(RES + i, sqrt64(load<u64>(SRC + i)));
    else if (pfx == 2) store<u32>(RES, sqrt32(load<u32>(SRC)));
    else store<u64>(RES, sqrt64(load<u64>(SRC)));
  } else {
    const n: usize = pfx == 0 ? 16 : 4;
    for (let i: usize = 0; i < n; i += 4) store<u32>(RES + i, approx(kind, load<u32>(SRC + i)));
  }
  if (!fpCommit()) return;
  copy16(d, RES);
}

// RCPPS/RSQRTPS: the SDM only bounds the relative error (1.5*2^-12). We return the correctly
// rounded value with the low 11 fraction bits cleared (real CPUs use a table; results differ
// in the low bits). Specials per SDM: +-0 -> +-inf, denormals treated as 0, no MXCSR flags.
function approx(kind: u32, a: u32): u32 {
  if (isNaN32(a)) return a | 0x400000;
  if (isDen32(a)) a &= 0x80000000;
  const neg = (a >> 31) != 0;
  if ((a & 0x7fffffff) == 0) return a | 0x7f800000;
  if (kind == 0x52) {
    if (neg) return 0xffc00000;
    if (isInf32(a)) return 0;
    const r = reinterpret<u32>(<f32>(1.0 / Math.sqrt(<f64>reinterpret<f32>(a))));
    return r & 0xfffff800;
  }
  if (isInf32(a)) return a & 0x80000000;
  const r = reinterpret<u32>(<f32>(1.0 / <f64>reinterpret<f32>(a)));
  if ((r & 0x7f800000) == 0) return r & 0x80000000; // tiny results flush to zero
  return r & 0xfffff800;
}

// 0F C2 CMPccPS/PD/SS/SD xmm, xmm/m, imm8. Immediate comes before the memory access.
export function fpCmp(): void {
  const imm = fetch8();
  if (faultPending) return;
  if (!loadFpSrc()) return;
  const d = xmmPtr(modReg);
  copy16(RES, d);
  clearExc();
  if (pfx == 0) {
    for (let i: usize = 0; i < 16; i += 4) store<u32>(RES + i, cmp32(load<u32>(d + i), load<u32>(SRC + i), imm) ? 0xffffffff : 0);
  } else if (pfx == 1) {
    for (let i: usize = 0; i < 16; i += 8) store<u64>(RES + i, cmp64(load<u64>(d + i), load<u64>(SRC + i), imm) ? 0xffffffffffffffff : 0);
  } else if (pfx == 2) store<u32>(RES, cmp32(load<u32>(d), load<u32>(SRC), imm) ? 0xffffffff : 0);
  else store<u64>(RES, cmp64(load<u64>(d), load<u64>(SRC), imm) ? 0xffffffffffffffff : 0);
  if (!fpCommit()) return;
  copy16(d, RES);
}

// 0F 2E UCOMISS/UCOMISD, 0F 2F COMISS/COMISD: ZF,PF,CF from the comparison; OF,SF,AF = 0.
export function fpComi(signal: bool): void {
  if (pfx >= 2) { raiseUD(); return; }
  if (!(pfx == 0 ? loadSrc32() : loadSrc64())) return;
  const d = xmmPtr(modReg);
  clearExc();
  const r = pfx == 0 ? comi32(load<u32>(d), load<u32>(SRC), signal) : comi64(load<u64>(d), load<u64>(SRC), signal);
  if (!fpCommit()) return;
  let f: u64 = 0;
  if (r == 3) f = F_ZF | F_PF | F_CF;
  else if (r == 1) f = F_CF;
  else if (r == 2) f = F_ZF;
  setStatusFlags(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF, f);
}

// 0F 5A: CVTPS2PD, CVTPD2PS, CVTSS2SD, CVTSD2SS.
export function cvt5A(): void {
  let ok: bool;
  if (pfx == 0) ok = loadSrc64();
  else if (pfx == 1) ok = loadSrc128(true);
  else if (pfx == 2) ok = loadSrc32();
  else ok = loadSrc64();
  if (!ok) return;
  const d = xmmPtr(modReg);
  copy16(RES, d);
  clearExc();
  if (pfx == 0) {
    const a = load<u32>(SRC), b = load<u32>(SRC + 4);
    store<u64>(RES, cvt32to64(a)); store<u64>(RES + 8, cvt32to64(b));
  } else if (pfx == 1) {
    store<u32>(RES, cvt64to32(load<u64>(SRC))); store<u32>(RES + 4, cvt64to32(load<u64>(SRC + 8)));
    store<u64>(RES + 8, 0);
  } else if (pfx == 2) store<u64>(RES, cvt32to64(load<u32>(SRC)));
  else store<u32>(RES, cvt64to32(load<u64>(SRC)));
  if (!fpCommit()) return;
  copy16(d, RES);
}

// Float lane -> int32 helpers (exact f64 value of the source element).
function cvtF32I32(a: u32, trunc: bool): u32 {
  if (isNaN32(a)) return <u32>f2i(0, true, 32, trunc);
  a = daz32(a);
  return <u32>f2i(<f64>reinterpret<f32>(a), false, 32, trunc);
}
function cvtF64I32(a: u64, trunc: bool): u32 {
  if (isNaN64(a)) return <u32>f2i(0, true, 32, trunc);
  a = daz64(a);
  return <u32>f2i(reinterpret<f64>(a), false, 32, trunc);
}
// Conversions to integer ignore DE but honour DAZ.
function daz32(a: u32): u32 { return ((S.mxcsr & 0x40) != 0 && isDen32(a)) ? a & 0x80000000 : a; }
function daz64(a: u64): u64 {
  return ((S.mxcsr & 0x40) != 0 && (a & 0x7ff0000000000000) == 0) ? a & 0x8000000000000000 : a;
}

// 0F 5B: CVTDQ2PS (none), CVTPS2DQ (66), CVTTPS2DQ (F3).
export function cvt5B(): void {
  if (pfx == 3) { raiseUD(); return; }
  if (!loadSrc128(true)) return;
  const d = xmmPtr(modReg);
  clearExc();
  for (let i: usize = 0; i < 16; i += 4) {
    const v = load<u32>(SRC + i);
    if (pfx == 0) store<u32>(RES + i, <u32>i2f(<i64><i32>v, true));
    else store<u32>(RES + i, cvtF32I32(v, pfx == 2));
  }
  if (!fpCommit()) return;
  copy16(d, RES);
}

// 66 0F E6 CVTTPD2DQ, F3 0F E6 CVTDQ2PD (m64), F2 0F E6 CVTPD2DQ.
export function cvtE6(): void {
  if (pfx == 0) { raiseUD(); return; }
  if (!(pfx == 2 ? loadSrc64() : loadSrc128(true))) return;
  const d = xmmPtr(modReg);
  clearExc();
  if (pfx == 2) {
    const a = load<i32>(SRC), b = load<i32>(SRC + 4);
    store<f64>(RES, <f64>a); store<f64>(RES + 8, <f64>b);
  } else {
    const t = pfx == 1;
    store<u32>(RES, cvtF64I32(load<u64>(SRC), t));
    store<u32>(RES + 4, cvtF64I32(load<u64>(SRC + 8), t));
    store<u64>(RES + 8, 0);
  }
  if (!fpCommit()) return;
  copy16(d, RES);
}

// F3/F2 0F 2A: CVTSI2SS/SD xmm, r/m32 (r/m64 with REX.W).
export function cvt2A(): void {
  if (pfx < 2) { cvtPI(); return; }
  const sz: u32 = rexW ? 8 : 4;
  let v: u64;
  if (modMod == 3) v = sz == 8 ? getReg64(modRm) : <u64>(<u32>getReg64(modRm));
  else { v = readMsz(sz); if (faultPending) return; }
  const iv: i64 = sz == 8 ? <i64>v : <i64><i32><u32>v;
  const d = xmmPtr(modReg);
  clearExc();
  const r = i2f(iv, pfx == 2);
  if (!fpCommit()) return;
  if (pfx == 2) store<u32>(d, <u32>r); else store<u64>(d, r);
}

// F3/F2 0F 2C/2D: CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m.
export function cvt2C(trunc: bool): void {
  if (pfx < 2) { cvtToPI(trunc); return; }
  if (!(pfx == 2 ? loadSrc32() : loadSrc64())) return;
  clearExc();
  const bits: u32 = rexW ? 64 : 32;
  let r: u64;
  if (pfx == 2) {
    const a = load<u32>(SRC);
    r = isNaN32(a) ? f2i(0, true, bits, trunc) : f2i(<f64>reinterpret<f32>(daz32(a)), false, bits, trunc);
  } else {
    const a = load<u64>(SRC);
    r = isNaN64(a) ? f2i(0, true, bits, trunc) : f2i(reinterpret<f64>(daz64(a)), false, bits, trunc);
  }
  if (!fpCommit()) return;
  if (bits == 64) setReg64(modReg, r); else setReg32(modReg, <u32>r);
}

// 0F 2A CVTPI2PS xmm, mm/m64 (rounded per MXCSR); 66 0F 2A CVTPI2PD xmm, mm/m64 (exact).
// Only the register (MMX) source form switches the x87 unit to MMX state (SDM CVTPI2PS).
function cvtPI(): void {
  let v: u64;
  if (modMod == 3) {
    if (fpuPendingMF()) return;
    v = load<u64>(mmPtr(modRm));
  } else { v = readMsz(8); if (faultPending) return; }
  const d = xmmPtr(modReg);
  const a = <i32><u32>v, b = <i32><u32>(v >> 32);
  clearExc();
  if (pfx == 0) {
    const ra = <u32>i2f(<i64>a, true), rb = <u32>i2f(<i64>b, true);
    if (!fpCommit()) return;
    store<u32>(d, ra); store<u32>(d + 4, rb);
  } else {
    store<f64>(d, <f64>a); store<f64>(d + 8, <f64>b);
  }
  if (modMod == 3) mmxEnter();
}
// 0F 2C/2D CVT(T)PS2PI mm, xmm/m64; 66 0F 2C/2D CVT(T)PD2PI mm, xmm/m128.
function cvtToPI(trunc: bool): void {
  if (fpuPendingMF()) return;
  if (!(pfx == 0 ? loadSrc64() : loadSrc128(true))) return;
  clearExc();
  let lo: u32, hi: u32;
  if (pfx == 0) { lo = cvtF32I32(load<u32>(SRC), trunc); hi = cvtF32I32(load<u32>(SRC + 4), trunc); }
  else { lo = cvtF64I32(load<u64>(SRC), trunc); hi = cvtF64I32(load<u64>(SRC + 8), trunc); }
  if (!fpCommit()) return;
  store<u64>(mmPtr(modReg), <u64>lo | (<u64>hi << 32));
  mmxEnter(); mmWritten(modReg);
}

// SSE3: 66 0F D0 ADDSUBPD, F2 0F D0 ADDSUBPS; 66/F2 0F 7C HADD, 7D HSUB.
export function fpHoriz(opc: u32): void {
  if (pfx != 1 && pfx != 3) { raiseUD(); return; }
  if (!loadSrc128(true)) return;
  const d = xmmPtr(modReg);
  clearExc();
  if (opc == 0xd0) {
    if (pfx == 1) {
      store<u64>(RES, arith64(1, load<u64>(d), load<u64>(SRC)));
      store<u64>(RES + 8, arith64(0, load<u64>(d + 8), load<u64>(SRC + 8)));
    } else {
      for (let i: usize = 0; i < 16; i += 4)
        store<u32>(RES + i, arith32((i & 4) != 0 ? 0 : 1, load<u32>(d + i), load<u32>(SRC + i)));
    }
  } else {
    const op: u32 = opc == 0x7c ? 0 : 1;
    if (pfx == 1) {
      store<u64>(RES, arith64(op, load<u64>(d), load<u64>(d + 8)));
      store<u64>(RES + 8, arith64(op, load<u64>(SRC), load<u64>(SRC + 8)));
    } else {
      store<u32>(RES, arith32(op, load<u32>(d), load<u32>(d + 4)));
      store<u32>(RES + 4, arith32(op, load<u32>(d + 8), load<u32>(d + 12)));
      store<u32>(RES + 8, arith32(op, load<u32>(SRC), load<u32>(SRC + 4)));
      store<u32>(RES + 12, arith32(op, load<u32>(SRC + 8), load<u32>(SRC + 12)));
    }
  }
  if (!fpCommit()) return;
  copy16(d, RES);
}

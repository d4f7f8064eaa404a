// IEEE-754 single/double operations with x86 SSE semantics (SDM Vol.1 4.8, 4.9, 11.5):
// explicit NaN handling (wasm NaN results are not deterministic), DAZ/FTZ, MXCSR flags,
// and all four MXCSR.RC rounding modes. Values travel as raw bit patterns.
//
// Technique: wasm computes the round-to-nearest result `hi`; an exact error term (TwoSum,
// Dekker TwoProduct, division/sqrt remainders, all with power-of-two scaling so no partial
// product under/overflows) tells on which side of `hi` the exact result lies. That gives
// inexactness and lets directed modes step one ulp. f32 operations are evaluated in f64.
import * as S from "../state";
import { exc, setExc, addExc, rcMode, excMasked, X_IE, X_DE, X_ZE, X_OE, X_UE, X_PE, MXCSR_DAZ, MXCSR_FTZ } from "./sse_util";
// 2^e as f64 (e in the normal range); a compile-time constant for literal e.
@inline function pow2(e: i32): f64 { return reinterpret<f64>(<u64>(e + 1023) << 52); }

export const OP_ADD: u32 = 0, OP_SUB: u32 = 1, OP_MUL: u32 = 2, OP_DIV: u32 = 3;
export const OP_MIN: u32 = 4, OP_MAX: u32 = 5, OP_SQRT: u32 = 6;

export const QNAN32: u32 = 0xffc00000;            // "real indefinite" (SDM 4.8.3.7)
export const QNAN64: u64 = 0xfff8000000000000;
export const INDEF32: u32 = 0x80000000;           // integer indefinite
export const INDEF64: u64 = 0x8000000000000000;

// ---- classification ------------------------------------------------------------
@inline export function isNaN32(b: u32): bool { return (b & 0x7fffffff) > 0x7f800000; }
@inline export function isSNaN32(b: u32): bool { return isNaN32(b) && (b & 0x400000) == 0; }
@inline export function isDen32(b: u32): bool { return (b & 0x7f800000) == 0 && (b & 0x7fffff) != 0; }
@inline export function isInf32(b: u32): bool { return (b & 0x7fffffff) == 0x7f800000; }
@inline export function isNaN64(b: u64): bool { return (b & 0x7fffffffffffffff) > 0x7ff0000000000000; }
@inline export function isSNaN64(b: u64): bool { return isNaN64(b) && (b & 0x8000000000000) == 0; }
@inline export function isDen64(b: u64): bool { return (b & 0x7ff0000000000000) == 0 && (b & 0xfffffffffffff) != 0; }
@inline export function isInf64(b: u64): bool { return (b & 0x7fffffffffffffff) == 0x7ff0000000000000; }

// Denormal source operand: DAZ turns it into a signed zero, else it sets DE (SDM 10.2.3.4).
// DE has lower priority than invalid-operation and divide-by-zero (SDM Vol.1 4.9.2), so it is
// recorded as pending and only raised by elemEnd() if the element raised neither.
let pendDE: bool = false;
let savedExc: u32 = 0;
export function in32(b: u32): u32 {
  if (isDen32(b)) {
    if ((S.mxcsr & MXCSR_DAZ) != 0) return b & 0x80000000;
    pendDE = true;
  }
  return b;
}
export function in64(b: u64): u64 {
  if (isDen64(b)) {
    if ((S.mxcsr & MXCSR_DAZ) != 0) return b & 0x8000000000000000;
    pendDE = true;
  }
  return b;
}
// DAZ only (no DE), for operands that are returned unchanged.
@inline function daz32(b: u32): u32 { return ((S.mxcsr & MXCSR_DAZ) != 0 && isDen32(b)) ? b & 0x80000000 : b; }
@inline function daz64(b: u64): u64 { return ((S.mxcsr & MXCSR_DAZ) != 0 && isDen64(b)) ? b & 0x8000000000000000 : b; }
function elemBegin(): void { pendDE = false; savedExc = exc; setExc(0); }
function elemEnd(): void {
  let e = exc;
  if (pendDE && (e & (X_IE | X_ZE)) == 0) e |= X_DE;
  setExc(e | savedExc);
}

// ---- exact helpers -------------------------------------------------------------------
@inline function f64b(v: f64): u64 { return reinterpret<u64>(v); }
@inline function bf64(v: u64): f64 { return reinterpret<f64>(v); }

// v * 2^k for any k, exact whenever the result is representable (steps keep intermediates
// normal because they move monotonically towards the result).
function scale(v: f64, k: i32): f64 {
  while (k > 1000) { v *= pow2(1000); k -= 1000; }
  while (k < -1000) { v *= pow2(-1000); k += 1000; }
  return v * bf64(<u64>(k + 1023) << 52);
}
// Unbiased exponent of a finite nonzero (denormals count as -1023).
@inline function expo(v: f64): i32 { return <i32>((f64b(v) >> 52) & 0x7ff) - 1023; }

let tpLo: f64 = 0;
// Dekker TwoProduct: returns RN(a*b), tpLo = a*b - RN(a*b) exactly (|a|,|b| in [2^-500, 2^500]).
function twoProd(a: f64, b: f64): f64 {
  const p = a * b;
  const ca = 134217729.0 * a; const ah = ca - (ca - a); const al = a - ah;
  const cb = 134217729.0 * b; const bh = cb - (cb - b); const bl = b - bh;
  tpLo = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}
// Sign (as a value whose sign/zeroness matters) of a*b - hi, hi = RN(a*b) finite.
// Whether the exact result needs rounding at 53 bits with an unbounded exponent (for PE with
// an unmasked UE, where the handler would see the scaled result). Set by mulResid/divResid.
let unbInexact64: bool = false;
function mulResid(a: f64, b: f64, hi: f64): f64 {
  if (a == 0 || b == 0) { unbInexact64 = false; return 0; }
  const sa = -expo(a), sb = -expo(b);
  const a2 = scale(a, sa), b2 = scale(b, sb);
  const p2 = twoProd(a2, b2);
  unbInexact64 = tpLo != 0;
  const h2 = scale(hi, sa + sb);
  return (p2 - h2) + tpLo;
}
// Sign of a/b - q, q = RN(a/b) finite, a, b finite nonzero.
function divResid(a: f64, b: f64, q: f64): f64 {
  const sa = -expo(a), sb = -expo(b);
  const a2 = scale(a, sa), b2 = scale(b, sb);
  const q3 = a2 / b2;
  const ph3 = twoProd(q3, b2);
  unbInexact64 = ((a2 - ph3) - tpLo) != 0;
  const q2 = scale(q, sa - sb);
  const ph = twoProd(q2, b2);
  const rem = (a2 - ph) - tpLo;
  return b2 < 0 ? -rem : rem;
}
// Sign of sqrt(a) - s, s = RN(sqrt(a)), a > 0 finite.
function sqrtResid(a: f64, s: f64): f64 {
  let k = -expo(a);
  k &= ~1;
  const a2 = scale(a, k);
  const s2 = scale(s, k >> 1);
  const ph = twoProd(s2, s2);
  return (a2 - ph) - tpLo;
}

// ---- rounding to the destination format ----------------------------------------------
@inline function nextUp32(b: u32): u32 {
  if ((b >> 31) == 0) return b + 1;
  return b == 0x80000000 ? 1 : b - 1;
}
@inline function nextDown32(b: u32): u32 {
  if ((b >> 31) != 0) return b + 1;
  return b == 0 ? 0x80000001 : b - 1;
}
@inline function nextUp64(b: u64): u64 {
  if ((b >> 63) == 0) return b + 1;
  return b == 0x8000000000000000 ? 1 : b - 1;
}
@inline function nextDown64(b: u64): u64 {
  if ((b >> 63) != 0) return b + 1;
  return b == 0 ? 0x8000000000000001 : b - 1;
}

// Whether hi (+ something with the sign of d) needs rounding to fit 24 significant bits.
function inexact24(hi: f64, d: f64): bool {
  if (hi == 0) return d != 0;
  hi = scale(hi, -expo(hi));   // bring into the normal f32 range; exact
  const r = <f32>hi;
  let e = hi - <f64>r;
  if (e == 0) e = d;
  return e != 0;
}

// Whether the exact value hi + (sign of d64), rounded to 24 bits in `mode` with an unbounded
// exponent, is below 2^-126 in magnitude. Scaling by 2^64 is exact and puts it in f32's range.
function tinyUnbounded32(hi: f64, d64: f64, mode: u32): bool {
  const s = hi * 18446744073709551616.0;
  const r = <f32>s;
  let b = reinterpret<u32>(r);
  let d = s - <f64>r;
  if (d == 0) d = d64;
  if (d != 0 && mode != 0) {
    if (mode == 1) { if (d < 0) b = nextDown32(b); }
    else if (mode == 2) { if (d > 0) b = nextUp32(b); }
    else if ((b & 0x7fffffff) != 0 && ((b >> 31) != 0) != (d < 0)) b = b - 1;
  }
  return (b & 0x7fffffff) < (<u32>(1 + 64) << 23);
}

// Round the exact value hi + (something with the sign of d) to f32, where hi = RN_f64(exact)
// is finite and nonzero-ness of the exact value is known (exactZero). Sets OE/UE/PE, FTZ.
export function round32(hi: f64, d64: f64): u32 {
  const r = <f32>hi;
  let b = reinterpret<u32>(r);
  const mode = rcMode();
  if (isInf32(b)) {
    // RN overflowed. Whether the rounding in MXCSR.RC overflows too: rounding away from zero
    // does; rounding towards zero (RZ, or RD/RU against the sign) only if |exact| >= 2^128
    // (MAX + 1 ulp), else the result is MAX and only inexact (SDM 4.9.1.4).
    const neg = (b >> 31) != 0;
    const away = mode == 0 || (mode == 1 && neg) || (mode == 2 && !neg);
    let ovf = true;
    if (!away) {
      const ah = Math.abs(hi);
      ovf = ah > pow2(128) || (ah == pow2(128) && (neg ? d64 <= 0 : d64 >= 0));
    }
    // Unmasked OE: the handler would get a scaled result, so PE reflects only the 24-bit rounding.
    if (ovf && !excMasked(X_OE)) { addExc(X_OE | (inexact24(hi, d64) ? X_PE : 0)); return b; }
    if (away) { addExc(X_OE | X_PE); return b; }
    addExc(ovf ? (X_OE | X_PE) : X_PE);
    return (b & 0x80000000) | 0x7f7fffff;
  }
  let d = hi - <f64>r;
  if (d == 0) d = d64;
  const inexact = d != 0;
  if (inexact && mode != 0) {
    if (mode == 1) { if (d < 0) b = nextDown32(b); }
    else if (mode == 2) { if (d > 0) b = nextUp32(b); }
    else if ((b & 0x7fffffff) != 0 && ((b >> 31) != 0) != (d < 0)) b = b - 1;
  }
  if (isInf32(b)) { addExc(X_OE | X_PE); return b; }
  // Tininess after rounding (x86): result in the denormal range (or zero) but exact != 0,
  // or rounded up to the smallest normal while the 24-bit rounding with unbounded exponent
  // is still below it (SDM 4.9.1.5).
  if ((hi != 0 || d != 0) &&
      ((b & 0x7f800000) == 0 || ((b & 0x7fffffff) == 0x00800000 && tinyUnbounded32(hi, d64, mode)))) {
    // Unmasked UE: PE only if the unbounded-exponent (scaled) result is inexact.
    if (!excMasked(X_UE)) addExc(X_UE | (inexact24(hi, d64) ? X_PE : 0));
    else if ((S.mxcsr & MXCSR_FTZ) != 0) { addExc(X_UE | X_PE); return b & 0x80000000; }
    else if (inexact) addExc(X_UE | X_PE);
    return b;
  }
  if (inexact) addExc(X_PE);
  return b;
}

// Set before round64 when RN overflowed: whether |exact| >= 2^1024 (computed on halved operands).
let ovfBig: bool = true;
let ovfInexact: bool = true; // whether the 53-bit rounding of an overflowed result is inexact
const P1023: f64 = reinterpret<f64>(<u64>(1023 + 1023) << 52);
function halfCheck(h: f64, lo: f64): bool {
  const a = Math.abs(h);
  if (a > P1023) return true;
  if (a < P1023) return false;
  return h > 0 ? lo >= 0 : lo <= 0;
}
function bigAdd(x: f64, y: f64): bool {
  const x2 = x * 0.5, y2 = y * 0.5;
  const s = x2 + y2; const bb = s - x2; const e = (x2 - (s - bb)) + (y2 - bb);
  ovfInexact = e != 0;
  return halfCheck(s, e);
}
function bigMul(x: f64, y: f64): bool {
  if (Math.abs(x) < Math.abs(y)) { const t = x; x = y; y = t; }
  const x2 = x * 0.5;
  mulResid(x, y, 0);
  ovfInexact = unbInexact64;
  const p = x2 * y;
  if (!isFinite(p)) return true;
  return halfCheck(p, mulResid(x2, y, p));
}
function bigDiv(x: f64, y: f64): bool {
  const x2 = x * 0.5;
  divResid(x, y, 0);
  ovfInexact = unbInexact64;
  const q = x2 / y;
  if (!isFinite(q)) return true;
  return halfCheck(q, divResid(x2, y, q));
}

// Same for f64: hi = RN(exact) (may be infinite on overflow), d carries the sign of exact - hi.
export function round64(hi: f64, d: f64): u64 {
  let b = f64b(hi);
  const mode = rcMode();
  if (isInf64(b)) {
    // As round32: rounding towards zero overflows only if |exact| >= 2^1024 (the caller
    // decided, see ovfBig); the unmasked-OE path applies only when the result overflows.
    const neg = (b >> 63) != 0;
    const away = mode == 0 || (mode == 1 && neg) || (mode == 2 && !neg);
    const ovf = away || ovfBig;
    if (ovf && !excMasked(X_OE)) { addExc(X_OE | (ovfInexact ? X_PE : 0)); return b; }
    if (away) { addExc(X_OE | X_PE); return b; }
    addExc(ovf ? (X_OE | X_PE) : X_PE);
    return (b & 0x8000000000000000) | 0x7fefffffffffffff;
  }
  const inexact = d != 0;
  if (inexact && mode != 0) {
    if (mode == 1) { if (d < 0) b = nextDown64(b); }
    else if (mode == 2) { if (d > 0) b = nextUp64(b); }
    else if ((b & 0x7fffffffffffffff) != 0 && ((b >> 63) != 0) != (d < 0)) b = b - 1;
  }
  if (isInf64(b)) { addExc(X_OE | X_PE); return b; }
  if ((b & 0x7ff0000000000000) == 0 && (hi != 0 || d != 0)) {
    if (!excMasked(X_UE)) addExc(X_UE | (unbInexact64 ? X_PE : 0));
    else if ((S.mxcsr & MXCSR_FTZ) != 0) { addExc(X_UE | X_PE); return b & 0x8000000000000000; }
    else if (inexact) addExc(X_UE | X_PE);
    return b;
  }
  if (inexact) addExc(X_PE);
  return b;
}

// Exact-zero result sign for x + y (IEEE 754 6.3): -0 only if both are -0, or in RD mode
// when either operand is negative.
function zeroSum(xNeg: bool, yNeg: bool): f64 {
  if (rcMode() == 1) return (xNeg || yNeg) ? -0.0 : 0.0;
  return (xNeg && yNeg) ? -0.0 : 0.0;
}

// ---- binary operations -------------------------------------------------------------------
// SDM Vol.1 Table 4-7 (SSE column): a NaN in the first source wins (quieted), else the second.
export function arith32(op: u32, a: u32, b: u32): u32 {
  elemBegin();
  const r = arith32Core(op, a, b);
  elemEnd();
  return r;
}
function arith32Core(op: u32, a: u32, b: u32): u32 {
  const an = isNaN32(a), bn = isNaN32(b);
  if (op == OP_MIN || op == OP_MAX) {
    // MINPS/MAXPS: any NaN (QNaN too) is invalid and returns the second operand (after DAZ);
    // equal values (+0/-0 too) also return the second operand.
    if (an || bn) { addExc(X_IE); return daz32(b); }
    a = in32(a); b = in32(b); // DAZ: the zeroed value is what gets returned
    const x = reinterpret<f32>(a), y = reinterpret<f32>(b);
    if (op == OP_MIN) return x < y ? a : b;
    return x > y ? a : b;
  }
  if (an || bn) {
    if (isSNaN32(a) || isSNaN32(b)) addExc(X_IE);
    return (an ? a : b) | 0x400000;
  }
  a = in32(a); b = in32(b);
  if (op == OP_SUB) { b ^= 0x80000000; op = OP_ADD; }
  const x = <f64>reinterpret<f32>(a), y = <f64>reinterpret<f32>(b);
  const xs = (a >> 31) != 0, ys = (b >> 31) != 0;
  if (op == OP_ADD) {
    if (isInf32(a) && isInf32(b) && xs != ys) { addExc(X_IE); return QNAN32; }
    if (isInf32(a) || isInf32(b)) return isInf32(a) ? a : b;
    const s = x + y;
    if (s == 0) {
      const bb = s - x; const e = (x - (s - bb)) + (y - bb);
      if (e == 0) return reinterpret<u32>(<f32>zeroSum(xs, ys));
      return round32(s, e);
    }
    const bb = s - x; const e = (x - (s - bb)) + (y - bb);
    return round32(s, e);
  }
  if (op == OP_MUL) {
    const ai = isInf32(a), bi = isInf32(b);
    const az = (a & 0x7fffffff) == 0, bz = (b & 0x7fffffff) == 0;
    if ((ai && bz) || (bi && az)) { addExc(X_IE); return QNAN32; }
    if (ai || bi) return ((a ^ b) & 0x80000000) | 0x7f800000;
    return round32(x * y, 0); // 24x24-bit product is exact in f64
  }
  // OP_DIV
  const ai = isInf32(a), bi = isInf32(b);
  const az = (a & 0x7fffffff) == 0, bz = (b & 0x7fffffff) == 0;
  if ((ai && bi) || (az && bz)) { addExc(X_IE); return QNAN32; }
  const sgn = (a ^ b) & 0x80000000;
  if (bz) { if (!ai) addExc(X_ZE); return sgn | 0x7f800000; }
  if (ai) return sgn | 0x7f800000;
  if (bi || az) return sgn;
  const q = x / y;
  return round32(q, divResid(x, y, q));
}

export function arith64(op: u32, a: u64, b: u64): u64 {
  elemBegin();
  const r = arith64Core(op, a, b);
  elemEnd();
  return r;
}
function arith64Core(op: u32, a: u64, b: u64): u64 {
  const an = isNaN64(a), bn = isNaN64(b);
  if (op == OP_MIN || op == OP_MAX) {
    if (an || bn) { addExc(X_IE); return daz64(b); }
    a = in64(a); b = in64(b);
    const x = bf64(a), y = bf64(b);
    if (op == OP_MIN) return x < y ? a : b;
    return x > y ? a : b;
  }
  if (an || bn) {
    if (isSNaN64(a) || isSNaN64(b)) addExc(X_IE);
    return (an ? a : b) | 0x8000000000000;
  }
  a = in64(a); b = in64(b);
  if (op == OP_SUB) { b ^= 0x8000000000000000; op = OP_ADD; }
  const x = bf64(a), y = bf64(b);
  const xs = (a >> 63) != 0, ys = (b >> 63) != 0;
  const ai = isInf64(a), bi = isInf64(b);
  if (op == OP_ADD) {
    if (ai && bi && xs != ys) { addExc(X_IE); return QNAN64; }
    if (ai || bi) return ai ? a : b;
    const s = x + y;
    if (isInf64(f64b(s))) { ovfBig = bigAdd(x, y); return round64(s, 0); }
    const bb = s - x; const e = (x - (s - bb)) + (y - bb);
    if (s == 0 && e == 0) return f64b(zeroSum(xs, ys));
    unbInexact64 = e != 0;
    return round64(s, e);
  }
  const az = (a & 0x7fffffffffffffff) == 0, bz = (b & 0x7fffffffffffffff) == 0;
  if (op == OP_MUL) {
    if ((ai && bz) || (bi && az)) { addExc(X_IE); return QNAN64; }
    const p = x * y;
    if (ai || bi || az || bz) return f64b(p); // exact (inf or signed zero)
    if (isInf64(f64b(p))) { ovfBig = bigMul(x, y); return round64(p, 0); }
    return round64(p, mulResid(x, y, p));
  }
  if ((ai && bi) || (az && bz)) { addExc(X_IE); return QNAN64; }
  const sgn = (a ^ b) & 0x8000000000000000;
  if (bz) { if (!ai) addExc(X_ZE); return sgn | 0x7ff0000000000000; }
  if (ai) return sgn | 0x7ff0000000000000;
  if (bi || az) return sgn;
  const q = x / y;
  if (isInf64(f64b(q))) { ovfBig = bigDiv(x, y); return round64(q, 0); }
  return round64(q, divResid(x, y, q));
}

export function sqrt32(a: u32): u32 {
  elemBegin();
  const r = sqrt32Core(a);
  elemEnd();
  return r;
}
function sqrt32Core(a: u32): u32 {
  if (isNaN32(a)) { if (isSNaN32(a)) addExc(X_IE); return a | 0x400000; }
  a = in32(a);
  if ((a & 0x7fffffff) == 0) return a;           // sqrt(-0) = -0
  if ((a >> 31) != 0) { addExc(X_IE); return QNAN32; }
  if (isInf32(a)) return a;
  const x = <f64>reinterpret<f32>(a);
  const s = Math.sqrt(x);
  return round32(s, sqrtResid(x, s));
}
export function sqrt64(a: u64): u64 {
  elemBegin();
  const r = sqrt64Core(a);
  elemEnd();
  return r;
}
function sqrt64Core(a: u64): u64 {
  if (isNaN64(a)) { if (isSNaN64(a)) addExc(X_IE); return a | 0x8000000000000; }
  a = in64(a);
  if ((a & 0x7fffffffffffffff) == 0) return a;
  if ((a >> 63) != 0) { addExc(X_IE); return QNAN64; }
  if (isInf64(a)) return a;
  const x = bf64(a);
  const s = Math.sqrt(x);
  return round64(s, sqrtResid(x, s));
}

// ---- comparisons -----------------------------------------------------------------------
// CMPccPS predicate 0..7 (EQ LT LE UNORD NEQ NLT NLE ORD). LT/LE/NLT/NLE signal on QNaN.
function cmpCore(unord: bool, snan: bool, lt: bool, eq: bool, pred: u32): bool {
  const p = pred & 7;
  if (unord) {
    if (snan || p == 1 || p == 2 || p == 5 || p == 6) addExc(X_IE);
    return p >= 3 && p <= 6; // UNORD, NEQ, NLT, NLE true
  }
  switch (p) {
    case 0: return eq;
    case 1: return lt;
    case 2: return lt || eq;
    case 3: return false;
    case 4: return !eq;
    case 5: return !lt;
    case 6: return !(lt || eq);
    default: return true;
  }
}
export function cmp32(a: u32, b: u32, pred: u32): bool {
  elemBegin();
  const r = cmp32Core(a, b, pred);
  elemEnd();
  return r;
}
function cmp32Core(a: u32, b: u32, pred: u32): bool {
  const un = isNaN32(a) || isNaN32(b);
  if (!un) { a = in32(a); b = in32(b); }
  const x = reinterpret<f32>(a), y = reinterpret<f32>(b);
  return cmpCore(un, isSNaN32(a) || isSNaN32(b), x < y, x == y, pred);
}
export function cmp64(a: u64, b: u64, pred: u32): bool {
  elemBegin();
  const r = cmp64Core(a, b, pred);
  elemEnd();
  return r;
}
function cmp64Core(a: u64, b: u64, pred: u32): bool {
  const un = isNaN64(a) || isNaN64(b);
  if (!un) { a = in64(a); b = in64(b); }
  const x = bf64(a), y = bf64(b);
  return cmpCore(un, isSNaN64(a) || isSNaN64(b), x < y, x == y, pred);
}
// COMISS/UCOMISS result: 0 greater, 1 less, 2 equal, 3 unordered. `signal`: COMIS (any NaN -> IE).
export function comi32(a: u32, b: u32, signal: bool): u32 {
  elemBegin();
  const r = comi32Core(a, b, signal);
  elemEnd();
  return r;
}
function comi32Core(a: u32, b: u32, signal: bool): u32 {
  if (isNaN32(a) || isNaN32(b)) {
    if (signal || isSNaN32(a) || isSNaN32(b)) addExc(X_IE);
    return 3;
  }
  const x = reinterpret<f32>(in32(a)), y = reinterpret<f32>(in32(b));
  return x < y ? 1 : (x == y ? 2 : 0);
}
export function comi64(a: u64, b: u64, signal: bool): u32 {
  elemBegin();
  const r = comi64Core(a, b, signal);
  elemEnd();
  return r;
}
function comi64Core(a: u64, b: u64, signal: bool): u32 {
  if (isNaN64(a) || isNaN64(b)) {
    if (signal || isSNaN64(a) || isSNaN64(b)) addExc(X_IE);
    return 3;
  }
  const x = bf64(in64(a)), y = bf64(in64(b));
  return x < y ? 1 : (x == y ? 2 : 0);
}

// ---- conversions ---------------------------------------------------------------------------
export function cvt32to64(a: u32): u64 {
  elemBegin();
  const r = cvt32to64Core(a);
  elemEnd();
  return r;
}
function cvt32to64Core(a: u32): u64 {
  if (isNaN32(a)) {
    if (isSNaN32(a)) addExc(X_IE);
    return (<u64>(a & 0x80000000) << 32) | 0x7ff8000000000000 | (<u64>(a & 0x3fffff) << 29);
  }
  a = in32(a);
  return f64b(<f64>reinterpret<f32>(a));
}
export function cvt64to32(a: u64): u32 {
  elemBegin();
  const r = cvt64to32Core(a);
  elemEnd();
  return r;
}
function cvt64to32Core(a: u64): u32 {
  if (isNaN64(a)) {
    if (isSNaN64(a)) addExc(X_IE);
    return <u32>((a >> 32) & 0x80000000) | 0x7fc00000 | <u32>((a >> 29) & 0x3fffff);
  }
  a = in64(a);
  if (isInf64(a) || (a & 0x7fffffffffffffff) == 0) return <u32>((a >> 32) & 0x80000000) | (isInf64(a) ? 0x7f800000 : 0);
  return round32(bf64(a), 0);
}

// Float (as exact f64) to signed integer of `bits` 32/64; trunc selects CVTT*.
// Out of range or NaN: integer indefinite with IE (SDM 4.8.3.6 / CVTSD2SI).
export function f2i(x: f64, isNaN: bool, bits: u32, trunc: bool): u64 {
  const indef: u64 = bits == 32 ? <u64>INDEF32 : INDEF64;
  if (isNaN) { addExc(X_IE); return indef; }
  const mode = trunc ? 3 : rcMode();
  let r: f64;
  if (mode == 0) r = nearest<f64>(x);  // wasm f64.nearest: ties to even, exact
  else if (mode == 1) r = Math.floor(x);
  else if (mode == 2) r = Math.ceil(x);
  else r = Math.trunc(x);
  if (bits == 32) {
    if (!(r >= -2147483648.0 && r <= 2147483647.0)) { addExc(X_IE); return indef; }
    if (r != x) addExc(X_PE);
    return <u64><u32><i32>r;
  }
  if (!(r >= -pow2(63) && r < pow2(63))) { addExc(X_IE); return indef; }
  if (r != x) addExc(X_PE);
  return <u64><i64>r;
}

// Signed integer to f32 (toF32) or f64, rounded per MXCSR.RC, PE when inexact.
export function i2f(v: i64, toF32: bool): u64 {
  if (v == 0) return 0;
  const neg = v < 0;
  let m: u64 = neg ? <u64>0 - <u64>v : <u64>v;
  const p: u64 = toF32 ? 24 : 53;
  const n = <u64>64 - clz<u64>(m);
  let sh: u64 = 0;
  if (n > p) {
    sh = n - p;
    const rem = m & ((<u64>1 << sh) - 1);
    let kept = m >> sh;
    if (rem != 0) {
      addExc(X_PE);
      const half = <u64>1 << (sh - 1);
      const mode = rcMode();
      let up = false;
      if (mode == 0) up = rem > half || (rem == half && (kept & 1) != 0);
      else if (mode == 1) up = neg;
      else if (mode == 2) up = !neg;
      if (up) kept++;
    }
    m = kept;
  }
  let f = <f64>m * bf64((sh + 1023) << 52);
  if (neg) f = -f;
  if (toF32) return <u64>reinterpret<u32>(<f32>f);
  return f64b(f);
}

// Integer arithmetic helpers shared by the integer handlers: the eight ALU ops,
// shifts/rotates, multiply/divide, directly computed flags, and the read-modify-write
// memory operand. No allocation, no host calls.
import * as D from "../decode";
import * as F from "../flags";
import {
  setLazy, setLazyCarry, getCF, LF_ADD, LF_SUB, LF_LOGIC, LF_NONE,
  F_CF, F_PF, F_ZF, F_SF, F_OF, F_STATUS,
} from "../flags";
import { getRegSized, setRegSized, code64, FS } from "../state";
import { faultPending, raiseDE } from "../fault";
import { BAD_ADDR, isCanonical } from "../segmem";
import { readLin, writeLin, tlbHostWrite, probeWrite } from "../../mmu/access";

// ---- direct flags -------------------------------------------------------------
@inline export function maskOf(size: u32): u64 {
  return size == 8 ? 0xffffffffffffffff : (((<u64>1) << (<u64>size * 8)) - 1);
}
@inline export function msbOf(v: u64, size: u32): bool {
  return ((v >> (<u64>size * 8 - 1)) & 1) != 0;
}
// SF, ZF, PF of a result of `size` bytes.
@inline export function szpFlags(r: u64, size: u32): u64 {
  let f: u64 = 0;
  if ((r & maskOf(size)) == 0) f |= F_ZF;
  if (msbOf(r, size)) f |= F_SF;
  if ((popcnt<u32>(<u32>r & 0xff) & 1) == 0) f |= F_PF;
  return f;
}
// Replace all six status flags (bits outside F_STATUS in f are ignored).
@inline export function putStatus(f: u64): void {
  F.flagsRaw = (F.flagsRaw & ~F_STATUS) | (f & F_STATUS) | 2;
  F.fOp = LF_NONE;
}

// ---- read-modify-write operand -----------------------------------------------------
// The memory form translates the linear address once with write checks (so a read-only
// segment faults before anything happens); callers check faultPending after each call.
let rmwLin: u64 = 0;
export function rmwRead(size: u32): u64 {
  if (D.modMod == 3) return getRegSized(D.modRm, size, D.rexPresent);
  const off = D.eaAddr();
  if (code64 && D.eaSeg < FS && isCanonical(off) && isCanonical(off + <u64>(size - 1))) {
    rmwLin = off;  // 64-bit mode, no FS/GS base: linear = offset (SDM 3.2.4)
  } else {
    rmwLin = D.rmLinear(size, true);
    if (rmwLin == BAD_ADDR) return 0;
  }
  return readForWrite(rmwLin, size);
}
// Read of a read-modify-write operand: the access faults as a write (#PF error code W=1,
// as the hardware reports for RMW instructions).
export function readForWrite(lin: u64, size: u32): u64 {
  const h = tlbHostWrite(lin, size);
  if (h != 0) {
    if (size == 4) return <u64>load<u32>(h);
    if (size == 8) return load<u64>(h);
    if (size == 1) return <u64>load<u8>(h);
    return <u64>load<u16>(h);
  }
  if (!probeWrite(lin, size)) return 0;
  return readLin(lin, size);
}
export function rmwWrite(size: u32, v: u64): void {
  if (D.modMod == 3) { setRegSized(D.modRm, size, v, D.rexPresent); return; }
  writeLin(rmwLin, size, v);
}

// ---- the eight ALU operations (ADD OR ADC SBB AND SUB XOR CMP) ----------------------
// Result only; carry-in read from the current flags for ADC/SBB.
@inline export function aluCin(op: u32): u64 {
  return (op == 2 || op == 3) ? (getCF() ? 1 : 0) : 0;
}
@inline export function aluResult(op: u32, a: u64, b: u64, cin: u64): u64 {
  switch (op) {
    case 0: return a + b;
    case 1: return a | b;
    case 2: return a + b + cin;
    case 3: return a - b - cin;
    case 4: return a & b;
    case 6: return a ^ b;
    default: return a - b; // SUB, CMP
  }
}
@inline export function aluFlags(op: u32, size: u32, a: u64, b: u64, r: u64, cin: u64): void {
  switch (op) {
    case 0: setLazy(LF_ADD, size, a, b, r); break;
    case 2: setLazyCarry(LF_ADD, size, a, b, r, cin); break;
    case 3: setLazyCarry(LF_SUB, size, a, b, r, cin); break;
    case 1: case 4: case 6: setLazy(LF_LOGIC, size, a, b, r); break;
    default: setLazy(LF_SUB, size, a, b, r); break;
  }
}
// ALU op with destination = r/m (memory RMW or register), source b.
export function aluRM(op: u32, size: u32, b: u64): void {
  if (op == 7) {
    const a = D.readRM(size);
    if (faultPending) return;
    setLazy(LF_SUB, size, a, b, a - b);
    return;
  }
  const a = rmwRead(size);
  if (faultPending) return;
  const cin = aluCin(op);
  const r = aluResult(op, a, b, cin);
  rmwWrite(size, r);
  if (faultPending) return;
  aluFlags(op, size, a, b, r, cin);
}

// ---- shifts and rotates (group 2) ------------------------------------------------------
// Returns the new value and sets flags; count is the raw count operand. SDM Vol.2 SAL/SAR/
// SHL/SHR and RCL/RCR/ROL/ROR: count masked to 5 bits (6 with 64-bit operands); a masked
// count of 0 changes neither the operand nor the flags (caller skips the write then).
export function shiftOp(kind: u32, size: u32, v: u64, count: u32): u64 {
  const bits = size * 8;
  const cnt = count & (size == 8 ? 0x3f : 0x1f);
  const m = maskOf(size);
  v &= m;
  if (cnt == 0) return v;
  // Rotates keep SF/ZF/PF/AF: they need the materialized flags; shifts replace them all.
  const f0 = kind < 4 ? F.getRflags() : 0;
  let r: u64 = 0;
  let cf = false, ovf = false;
  switch (kind) {
    case 0: { // ROL
      const c = cnt % bits;
      r = c == 0 ? v : (((v << <u64>c) | (v >> <u64>(bits - c))) & m);
      cf = (r & 1) != 0;
      ovf = msbOf(r, size) != cf;
      putStatus((f0 & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    case 1: { // ROR
      const c = cnt % bits;
      r = c == 0 ? v : (((v >> <u64>c) | (v << <u64>(bits - c))) & m);
      cf = msbOf(r, size);
      ovf = msbOf(r, size) != (((r >> <u64>(bits - 2)) & 1) != 0);
      putStatus((f0 & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    case 2: { // RCL: rotate through CF, a (bits+1)-bit rotation
      const c = size == 1 ? cnt % 9 : (size == 2 ? cnt % 17 : cnt);
      let cin: u64 = (f0 & F_CF) != 0 ? 1 : 0;
      r = v;
      let cfv = cin;
      if (c != 0) {
        // bits shifted out: the top c bits; new CF is bit (bits - c) of v.
        cfv = (v >> <u64>(bits - c)) & 1;
        const lo = c == 1 ? 0 : (v >> <u64>(bits - c + 1));
        r = ((v << <u64>c) | (cin << <u64>(c - 1)) | lo) & m;
      }
      cf = cfv != 0;
      ovf = msbOf(r, size) != cf;
      putStatus((f0 & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    case 3: { // RCR
      const c = size == 1 ? cnt % 9 : (size == 2 ? cnt % 17 : cnt);
      let cin: u64 = (f0 & F_CF) != 0 ? 1 : 0;
      r = v;
      let cfv = cin;
      if (c != 0) {
        cfv = (v >> <u64>(c - 1)) & 1;
        const hi = c == 1 ? 0 : (v << <u64>(bits - c + 1));
        r = ((v >> <u64>c) | (cin << <u64>(bits - c)) | hi) & m;
      }
      cf = cfv != 0;
      ovf = msbOf(r, size) != (((r >> <u64>(bits - 2)) & 1) != 0);
      putStatus((f0 & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    case 4: case 6: { // SHL/SAL
      if (cnt < 64) {
        r = (v << <u64>cnt) & m;
        cf = cnt <= bits ? ((v >> <u64>(bits - cnt)) & 1) != 0 : false;
      }
      ovf = msbOf(r, size) != cf;
      putStatus(szpFlags(r, size) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    case 5: { // SHR
      r = v >> <u64>cnt;
      cf = ((v >> <u64>(cnt - 1)) & 1) != 0;
      ovf = msbOf(v, size);
      putStatus(szpFlags(r, size) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
      return r;
    }
    default: { // SAR
      const sv = <i64>(v << <u64>(64 - bits)) >> <i64>(64 - bits);
      const c1 = cnt - 1 > 63 ? 63 : cnt - 1;
      cf = ((sv >> <i64>c1) & 1) != 0;
      r = <u64>(sv >> <i64>(cnt > 63 ? 63 : cnt)) & m;
      putStatus(szpFlags(r, size) | (cf ? F_CF : 0));
      return r;
    }
  }
}

// SHLD/SHRD (SDM Vol.2): dest, src, count masked to 5 (6 for 64-bit) bits.
export function shiftDouble(left: bool, size: u32, dst: u64, src: u64, count: u32): u64 {
  const bits = size * 8;
  const cnt = count & (size == 8 ? 0x3f : 0x1f);
  const m = maskOf(size);
  dst &= m; src &= m;
  if (cnt == 0) return dst;
  let r: u64, cf: bool;
  if (size == 2) {
    // 16-bit with counts above 16: the operand pattern dest:src:dest (what Intel parts do;
    // the result is architecturally undefined there).
    if (left) {
      const t = (dst << 32) | (src << 16) | dst;
      r = (t << <u64>cnt >> 32) & 0xffff;
      cf = ((t >> <u64>(48 - cnt)) & 1) != 0;
    } else {
      const t = dst | (src << 16) | (dst << 32);
      r = (t >> <u64>cnt) & 0xffff;
      cf = ((t >> <u64>(cnt - 1)) & 1) != 0;
    }
  } else if (left) {
    r = ((dst << <u64>cnt) | (src >> <u64>(bits - cnt))) & m;
    cf = ((dst >> <u64>(bits - cnt)) & 1) != 0;
  } else {
    r = ((dst >> <u64>cnt) | (src << <u64>(bits - cnt))) & m;
    cf = ((dst >> <u64>(cnt - 1)) & 1) != 0;
  }
  const ovf = msbOf(r, size) != msbOf(dst, size);
  putStatus(szpFlags(r, size) | (cf ? F_CF : 0) | (ovf ? F_OF : 0));
  return r;
}

// ---- multiply / divide ------------------------------------------------------------------
// High 64 bits of the unsigned 128-bit product.
export function mulHiU(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}
export function mulHiS(a: u64, b: u64): u64 {
  let h = mulHiU(a, b);
  if (<i64>a < 0) h -= b;
  if (<i64>b < 0) h -= a;
  return h;
}
// CF=OF=overflow; SF/ZF/PF from the low result (undefined in the SDM), AF=0.
@inline export function mulFlags(ovf: bool, lo: u64, size: u32): void {
  putStatus(szpFlags(lo, size) | (ovf ? (F_CF | F_OF) : 0));
}

// 128/64 unsigned division; hi < d is required (caller checks). Quotient returned,
// remainder in divRem.
export let divRem: u64 = 0;
export function divU128(hi: u64, lo: u64, d: u64): u64 {
  if (hi == 0) { divRem = lo % d; return lo / d; }
  let q: u64 = 0;
  let r = hi;
  for (let i = 0; i < 64; i++) {
    const top = r >> 63;
    r = (r << 1) | (lo >> 63);
    lo <<= 1;
    q <<= 1;
    if (top != 0 || r >= d) { r -= d; q |= 1; }
  }
  divRem = r;
  return q;
}

// MUL/IMUL/DIV/IDIV on rAX(/rDX) with src (group 3 /4../7). Returns false on #DE.
export function mulDivAcc(kind: u32, size: u32, src: u64): void {
  const m = maskOf(size);
  src &= m;
  if (size == 1) {
    const al = getRegSized(0, 1, false);
    const ax = getRegSized(0, 2, false);
    if (kind == 4) {
      const r = al * src;
      setRegSized(0, 2, r, false);
      mulFlags((r >> 8) != 0, r, 1);
    } else if (kind == 5) {
      const r = <u64>(<i64><i8>al * <i64><i8>src);
      setRegSized(0, 2, r, false);
      mulFlags(<u64><i64><i8>r != r, r, 1);
    } else if (kind == 6) {
      if (src == 0) { raiseDE(); return; }
      const q = ax / src;
      if (q > 0xff) { raiseDE(); return; }
      setRegSized(0, 2, ((ax % src) << 8) | q, false);
    } else {
      if (src == 0) { raiseDE(); return; }
      const n = <i64><i16>ax, dv = <i64><i8>src;
      const q = n / dv;
      if (q > 127 || q < -128) { raiseDE(); return; }
      const rm = n % dv;
      setRegSized(0, 2, ((<u64>rm & 0xff) << 8) | (<u64>q & 0xff), false);
    }
    return;
  }
  const a = getRegSized(0, size, false);
  if (size < 8) {
    const bits = <u64>(size * 8);
    if (kind == 4) {
      const r = a * src;
      setRegSized(0, size, r, false);
      setRegSized(2, size, r >> bits, false);
      mulFlags((r >> bits) != 0, r, size);
    } else if (kind == 5) {
      const sa = <i64>(a << (64 - bits)) >> <i64>(64 - bits);
      const sb = <i64>(src << (64 - bits)) >> <i64>(64 - bits);
      const r = <u64>(sa * sb);
      setRegSized(0, size, r, false);
      setRegSized(2, size, r >> bits, false);
      const lo = <i64>(r << (64 - bits)) >> <i64>(64 - bits);
      mulFlags(<u64>lo != r, r, size);
    } else if (kind == 6) {
      if (src == 0) { raiseDE(); return; }
      const n = (getRegSized(2, size, false) << bits) | a;
      const q = n / src;
      if (q > m) { raiseDE(); return; }
      setRegSized(0, size, q, false);
      setRegSized(2, size, n % src, false);
    } else {
      if (src == 0) { raiseDE(); return; }
      const n = <i64>((getRegSized(2, size, false) << bits) | a) << <i64>(64 - 2 * bits) >> <i64>(64 - 2 * bits);
      const dv = <i64>(src << (64 - bits)) >> <i64>(64 - bits);
      // EDX:EAX = 0x80000000:0 / -1 would trap in wasm (i64.div_s overflow): it is #DE anyway.
      if (dv == -1 && n == i64.MIN_VALUE) { raiseDE(); return; }
      const q = n / dv;
      const lim = <i64>1 << <i64>(bits - 1);
      if (q >= lim || q < -lim) { raiseDE(); return; }
      setRegSized(0, size, <u64>q, false);
      setRegSized(2, size, <u64>(n % dv), false);
    }
    return;
  }
  // 64-bit operands: RDX:RAX.
  if (kind == 4) {
    const hi = mulHiU(a, src);
    setRegSized(0, 8, a * src, false);
    setRegSized(2, 8, hi, false);
    mulFlags(hi != 0, a * src, 8);
  } else if (kind == 5) {
    const lo = a * src;
    const hi = mulHiS(a, src);
    setRegSized(0, 8, lo, false);
    setRegSized(2, 8, hi, false);
    mulFlags(hi != <u64>(<i64>lo >> 63), lo, 8);
  } else if (kind == 6) {
    if (src == 0) { raiseDE(); return; }
    const hi = getRegSized(2, 8, false);
    if (hi >= src) { raiseDE(); return; }
    const q = divU128(hi, a, src);
    setRegSized(0, 8, q, false);
    setRegSized(2, 8, divRem, false);
  } else {
    if (src == 0) { raiseDE(); return; }
    let hi = getRegSized(2, 8, false);
    let lo = a;
    const negN = <i64>hi < 0;
    if (negN) { lo = ~lo + 1; hi = ~hi + (lo == 0 ? 1 : 0); }
    const negD = <i64>src < 0;
    const d = negD ? (~src + 1) : src;
    if (hi >= d) { raiseDE(); return; }
    let q = divU128(hi, lo, d);
    let r = divRem;
    const negQ = negN != negD;
    if (negQ ? q > 0x8000000000000000 : q > 0x7fffffffffffffff) { raiseDE(); return; }
    if (negQ) q = ~q + 1;
    if (negN) r = ~r + 1;
    setRegSized(0, 8, q, false);
    setRegSized(2, 8, r, false);
  }
}

// Signed multiply truncated to `size` (IMUL r, r/m[, imm]); sets CF=OF on overflow.
export function imulTrunc(size: u32, a: u64, b: u64): u64 {
  if (size == 8) {
    const lo = a * b;
    const hi = mulHiS(a, b);
    mulFlags(hi != <u64>(<i64>lo >> 63), lo, 8);
    return lo;
  }
  const bits = <u64>(size * 8);
  const sa = <i64>(a << (64 - bits)) >> <i64>(64 - bits);
  const sb = <i64>(b << (64 - bits)) >> <i64>(64 - bits);
  const r = <u64>(sa * sb);
  const t = <i64>(r << (64 - bits)) >> <i64>(64 - bits);
  mulFlags(<u64>t != r, r, size);
  return r & maskOf(size);
}

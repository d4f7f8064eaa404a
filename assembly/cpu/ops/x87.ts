// Minimal x87 FPU (escapes D8-DF). Values are kept in the FPR slots as 80-bit extended
// reals (so FXSAVE/MMX see the right bits) but arithmetic is done in f64 (round to nearest
// double, precision control ignored). Unsupported x87 opcodes raise #UD.
// Unmasked x87 exceptions only set ES/B in FSW; #MF is not delivered.
import * as S from "../state";
import { FPR, CR0_EM, CR0_TS, CR0_NE, RAX, setReg16 } from "../state";
import { faultPending, raiseUD, raiseNM, raiseFault, EXC_MF } from "../fault";
import { modMod, modReg, modRm, modrm, opSize } from "../decode";
import { setStatusFlags, testCC, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF } from "../flags";
import { readMsz, writeMsz, memLin } from "./sse_util";
import { readLinBytes, writeLinBytes } from "../../mmu/access";
import { BAD_ADDR } from "../segmem";
// 2^e as f64 (e in the normal range); a compile-time constant for literal e.
@inline function pow2(e: i32): f64 { return reinterpret<f64>(<u64>(e + 1023) << 52); }

const FE_IE: u32 = 1, FE_ZE: u32 = 4, FE_SF: u32 = 0x40, FE_C1: u32 = 0x200;
const C0: u32 = 0x100, C2: u32 = 0x400, C3: u32 = 0x4000;

export function fpuSwFull(): u32 { return (S.fpuSw & ~0x3800) | ((S.fpuTop & 7) << 11); }
export function fpuSetTop(t: u32): void { S.setFpuTop(t & 7); }

// Tag of an 80-bit register image (SDM Vol.1 8.1.7): 0 valid, 1 zero, 2 special.
export function fpuTagFor(p: usize): u32 {
  const e = <u32>load<u16>(p + 8) & 0x7fff;
  const m = load<u64>(p);
  if (e == 0x7fff) return 2;
  if (e == 0) return m == 0 ? 1 : 2;
  return (m >> 63) != 0 ? 0 : 2;
}

// ---- 80-bit <-> f64 ----------------------------------------------------------------------
function storeExt(p: usize, v: f64): void {
  const b = reinterpret<u64>(v);
  const sign = <u32>(b >> 48) & 0x8000;
  let e = <i32>((b >> 52) & 0x7ff);
  let f = b & 0xfffffffffffff;
  let m: u64, ex: u32;
  if (e == 0x7ff) { ex = 0x7fff; m = 0x8000000000000000 | (f << 11); }
  else if (e == 0) {
    if (f == 0) { ex = 0; m = 0; }
    else { const z = <i32>clz<u64>(f) - 11; m = f << <u64>(z + 11); ex = <u32>(1 - 1023 + 16383 - z); }
  } else { ex = <u32>(e - 1023 + 16383); m = 0x8000000000000000 | (f << 11); }
  store<u64>(p, m);
  store<u64>(p + 8, <u64>(sign | ex));
}
function loadExt(p: usize): f64 {
  const se = <u32>load<u16>(p + 8);
  const m = load<u64>(p);
  const neg = (se & 0x8000) != 0;
  const e = <i32>(se & 0x7fff);
  let v: f64;
  if (e == 0x7fff) {
    if ((m << 1) == 0) v = Infinity;
    else return reinterpret<f64>((neg ? 0x8000000000000000 : 0) | 0x7ff8000000000000 | ((m << 1) >> 12));
  } else if (m == 0) v = 0;
  else {
    v = <f64>m; // RN to 53 bits
    let k = e - 16383 - 63;
    while (k > 1000) { v *= pow2(1000); k -= 1000; }
    while (k < -1000) { v *= pow2(-1000); k += 1000; }
    v *= reinterpret<f64>(<u64>(k + 1023) << 52);
  }
  return neg ? -v : v;
}

// ---- stack ---------------------------------------------------------------------------------
@inline function physOf(i: u32): u32 { return (S.fpuTop + i) & 7; }
@inline function slot(phys: u32): usize { return FPR + (<usize>phys << 4); }
@inline function tagOf(phys: u32): u32 { return (S.fpuTw >> (2 * phys)) & 3; }
function setTag(phys: u32, t: u32): void { S.setFpuTw((S.fpuTw & ~(3 << (2 * phys))) | (t << (2 * phys))); }
function fpuExc(f: u32): void {
  let sw = S.fpuSw | f;
  if ((f & ~S.fpuCw & 0x3f) != 0) sw |= 0x8080; // ES and B: unmasked exception pending
  S.setFpuSw(sw);
}
const INDEF: f64 = reinterpret<f64>(0xfff8000000000000);

// ST(i), signalling stack underflow (masked response: real indefinite).
function st(i: u32): f64 {
  const p = physOf(i);
  if (tagOf(p) == 3) { fpuExc(FE_IE | FE_SF); S.setFpuSw(S.fpuSw & ~FE_C1); return INDEF; }
  return loadExt(slot(p));
}
function setSt(i: u32, v: f64): void {
  const p = physOf(i);
  storeExt(slot(p), v);
  setTag(p, fpuTagFor(slot(p)));
}
function push(v: f64): void {
  const t = (S.fpuTop - 1) & 7;
  if (tagOf(t) != 3) { fpuExc(FE_IE | FE_SF | FE_C1); v = INDEF; } // stack overflow
  S.setFpuTop(t);
  setSt(0, v);
}
function pop(): void { setTag(physOf(0), 3); S.setFpuTop((S.fpuTop + 1) & 7); }

// NaN-aware arithmetic: x87 propagates the NaN with the larger significand; here a NaN
// operand is returned quieted (first operand first), invalid operations give indefinite.
function arith(k: u32, a: f64, b: f64): f64 {
  // k: 0 add, 1 mul, 4 a-b, 5 b-a, 6 a/b, 7 b/a
  if (isNaN(a) || isNaN(b)) {
    const x = isNaN(a) ? a : b;
    const bits = reinterpret<u64>(x);
    if ((bits & 0x8000000000000) == 0) fpuExc(FE_IE);
    return reinterpret<f64>(bits | 0x8000000000000);
  }
  let r: f64;
  switch (k) {
    case 0: r = a + b; break;
    case 1: r = a * b; break;
    case 4: r = a - b; break;
    case 5: r = b - a; break;
    case 6: if (b == 0 && a == a && a != 0 && isFinite(a)) fpuExc(FE_ZE); r = a / b; break;
    default: if (a == 0 && b != 0 && isFinite(b)) fpuExc(FE_ZE); r = b / a; break;
  }
  if (isNaN(r)) { fpuExc(FE_IE); return INDEF; }
  return r;
}

// Compare for FCOM*/FCOMI*: 0 gt, 1 lt, 2 eq, 3 unordered.
function compare(a: f64, b: f64, quiet: bool): u32 {
  if (isNaN(a) || isNaN(b)) {
    const sa = isNaN(a) && (reinterpret<u64>(a) & 0x8000000000000) == 0;
    const sb = isNaN(b) && (reinterpret<u64>(b) & 0x8000000000000) == 0;
    if (!quiet || sa || sb) fpuExc(FE_IE);
    return 3;
  }
  return a < b ? 1 : (a == b ? 2 : 0);
}
function setCC(r: u32): void {
  let c: u32 = 0;
  if (r == 3) c = C0 | C2 | C3; else if (r == 1) c = C0; else if (r == 2) c = C3;
  S.setFpuSw((S.fpuSw & ~(C0 | C2 | C3 | FE_C1)) | c);
}

// Round per FPU control word RC (bits 11:10) to an integer of `bits`; indefinite on overflow.
function toInt(v: f64, bits: u32, trunc: bool): u64 {
  const rc = trunc ? 3 : (S.fpuCw >> 10) & 3;
  let r: f64;
  if (rc == 0) r = nearest<f64>(v); else if (rc == 1) r = Math.floor(v);
  else if (rc == 2) r = Math.ceil(v); else r = Math.trunc(v);
  const lim = bits == 16 ? 32768.0 : (bits == 32 ? 2147483648.0 : pow2(63));
  if (!(r >= -lim && r < lim)) { fpuExc(FE_IE); return <u64>1 << <u64>(bits - 1); }
  if (r != v) fpuExc(0x20);
  return <u64><i64>r;
}

// A pending unmasked x87 exception (FSW.ES) is reported as #MF by the next waiting x87
// instruction or MMX instruction when CR0.NE=1 (SDM Vol.1 8.6, 8.7).
// With CR0.NE=0 the PC-style FERR#/IRQ13 path is not modelled.
export function fpuPendingMF(): bool {
  if ((S.fpuSw & 0x80) != 0 && (S.cr0 & CR0_NE) != 0) { raiseFault(EXC_MF, 0, false); return true; }
  return false;
}
// FNINIT, FNCLEX, FNSTCW, FNSTSW, FNSTENV, FNSAVE do not wait.
function noWait(op: u32): bool {
  const r = modReg & 7;
  if (op == 0xdb) return modrm == 0xe2 || modrm == 0xe3;
  if (op == 0xd9) return modMod != 3 && (r == 6 || r == 7);
  if (op == 0xdd) return modMod != 3 && (r == 6 || r == 7);
  if (op == 0xdf) return modrm == 0xe0;
  return false;
}

// ---- dispatcher --------------------------------------------------------------------------
export function execX87(op: u32): void {
  // SDM Vol.1 Table 13-8 / 2.5: CR0.EM or CR0.TS -> #NM for x87 instructions.
  if ((S.cr0 & (CR0_EM | CR0_TS)) != 0) { raiseNM(); return; }
  if (!noWait(op) && fpuPendingMF()) return;
  const r = modReg & 7;
  if (modMod != 3) { x87Mem(op, r); return; }
  const i = modrm & 7;
  switch (op) {
    case 0xd8: case 0xdc: case 0xde: {
      // D8: ST(0) <- ST(0) op ST(i); DC/DE: ST(i) <- ST(0) op' ST(i) (operand order folded
      // into arith(): /4 is always ST(0)-ST(i), /5 ST(i)-ST(0), /6 ST(0)/ST(i), /7 ST(i)/ST(0)).
      if (r == 2 || r == 3) {                                      // FCOM/FCOMP (DC: aliases)
        if (op == 0xde) { if (modrm != 0xd9) { raiseUD(); return; } setCC(compare(st(0), st(1), false)); pop(); pop(); return; } // FCOMPP
        setCC(compare(st(0), st(i), false)); if (r == 3) pop(); return;
      }
      if (op == 0xd8) { setSt(0, arith(r, st(0), st(i))); return; }
      setSt(i, arith(r, st(0), st(i)));
      if (op == 0xde) pop();
      return;
    }
    case 0xd9: {
      if (r == 0) { const v = st(i); push(v); return; }            // FLD ST(i)
      if (r == 1) {                                                // FXCH
        const a = st(0), b = st(i);
        setSt(0, b); setSt(i, a); S.setFpuSw(S.fpuSw & ~FE_C1); return;
      }
      switch (modrm) {
        case 0xd0: return;                                         // FNOP
        case 0xe0: setSt(0, -st(0)); return;                       // FCHS
        case 0xe1: setSt(0, Math.abs(st(0))); return;              // FABS
        case 0xe4: setCC(compare(st(0), 0.0, false)); return;      // FTST
        case 0xe5: fxam(); return;                                 // FXAM
        case 0xe8: push(1.0); return;                              // FLD1
        case 0xe9: push(3.321928094887362); return;                // FLDL2T (RN to double)
        case 0xea: push(1.4426950408889634); return;               // FLDL2E
        case 0xeb: push(3.141592653589793); return;                // FLDPI
        case 0xec: push(0.3010299956639812); return;               // FLDLG2
        case 0xed: push(0.6931471805599453); return;               // FLDLN2
        case 0xee: push(0.0); return;                              // FLDZ
        case 0xf6: S.setFpuTop((S.fpuTop - 1) & 7); S.setFpuSw(S.fpuSw & ~FE_C1); return; // FDECSTP
        case 0xf7: S.setFpuTop((S.fpuTop + 1) & 7); S.setFpuSw(S.fpuSw & ~FE_C1); return; // FINCSTP
        case 0xfa: {                                               // FSQRT
          const v = st(0);
          if (v < 0) { fpuExc(FE_IE); setSt(0, INDEF); return; }
          setSt(0, Math.sqrt(v)); return;
        }
        case 0xfc: {                                               // FRNDINT (per CW.RC)
          const v = st(0);
          const rc = (S.fpuCw >> 10) & 3;
          setSt(0, rc == 0 ? nearest<f64>(v) : (rc == 1 ? Math.floor(v) : (rc == 2 ? Math.ceil(v) : Math.trunc(v))));
          return;
        }
        case 0xfd: {                                               // FSCALE
          const a = st(0), b = Math.trunc(st(1));
          if (isNaN(a) || isNaN(b)) { setSt(0, arith(0, a, b)); return; }
          setSt(0, scaleBy(a, b)); return;
        }
        default: raiseUD(); return;                                // transcendental: not implemented
      }
    }
    case 0xda: {
      if (modrm == 0xe9) { setCC(compare(st(0), st(1), true)); pop(); pop(); return; } // FUCOMPP
      if (r < 4) { fcmov(i, r, false); return; }                   // FCMOVB/E/BE/U
      raiseUD(); return;
    }
    case 0xdb: {
      if (modrm == 0xe2) { S.setFpuSw(S.fpuSw & 0x7f00); return; }  // FNCLEX
      if (modrm == 0xe3) {                                          // FNINIT
        S.setFpuCw(0x37f); S.setFpuSw(0); S.setFpuTop(0); S.setFpuTw(0xffff); return;
      }
      if (modrm == 0xe0 || modrm == 0xe1 || modrm == 0xe4) return; // FENI/FDISI/FSETPM: no-ops on 387+
      if (r < 4) { fcmov(i, r, true); return; }                    // FCMOVNB/NE/NBE/NU
      if (r == 5 || r == 6) { fcomi(i, r == 5, false); return; }   // FUCOMI / FCOMI
      raiseUD(); return;
    }
    case 0xdd: {
      if (r == 0) { setTag(physOf(i), 3); return; }                 // FFREE
      if (r == 2 || r == 3) { setSt(i, st(0)); if (r == 3) pop(); return; } // FST/FSTP ST(i)
      if (r == 4 || r == 5) { setCC(compare(st(0), st(i), true)); if (r == 5) pop(); return; } // FUCOM/FUCOMP
      raiseUD(); return;
    }
    case 0xdf: {
      if (modrm == 0xe0) { setReg16(RAX, fpuSwFull()); return; }   // FNSTSW AX
      if (r == 5 || r == 6) { fcomi(i, r == 5, true); return; }    // FUCOMIP / FCOMIP
      raiseUD(); return;
    }
    default: raiseUD(); return;
  }
}

// v * 2^n for integral n (FSCALE), through f64.
function scaleBy(v: f64, n: f64): f64 {
  if (n > 4000) n = 4000; else if (n < -4000) n = -4000;
  let k = <i32>n;
  while (k > 1000) { v *= pow2(1000); k -= 1000; }
  while (k < -1000) { v *= pow2(-1000); k += 1000; }
  return v * pow2(k);
}

// FCMOVcc ST(0), ST(i) (SDM FCMOVcc): B=CF, E=ZF, BE=CF|ZF, U=PF; DB forms negate.
function fcmov(i: u32, r: u32, negate: bool): void {
  const ccs: u32 = r == 0 ? 2 : (r == 1 ? 4 : (r == 2 ? 6 : 0xa));
  const v = st(i);
  if (testCC(negate ? ccs | 1 : ccs)) setSt(0, v);
}

// FXAM (SDM FXAM): C1 = sign; C3,C2,C0 classify ST(0).
function fxam(): void {
  const p = physOf(0);
  const sp = slot(p);
  const sign = (<u32>load<u16>(sp + 8) & 0x8000) != 0 ? FE_C1 : 0;
  let c: u32;
  if (tagOf(p) == 3) c = C3 | C0;                                   // empty
  else {
    const e = <u32>load<u16>(sp + 8) & 0x7fff;
    const m = load<u64>(sp);
    if (e == 0x7fff) c = (m << 1) == 0 ? (C2 | C0) : C0;           // infinity / NaN
    else if (e == 0) c = m == 0 ? C3 : (C3 | C2);                  // zero / denormal
    else c = (m >> 63) != 0 ? C2 : 0;                              // normal / unsupported
  }
  S.setFpuSw((S.fpuSw & ~(C0 | C2 | C3 | FE_C1)) | c | sign);
}

// FCOMI/FUCOMI: ZF, PF, CF from the comparison; OF, SF, AF cleared (SDM FCOMI).
function fcomi(i: u32, quiet: bool, popAfter: bool): void {
  const c = compare(st(0), st(i), quiet);
  let f: u64 = 0;
  if (c == 3) f = F_ZF | F_PF | F_CF; else if (c == 1) f = F_CF; else if (c == 2) f = F_ZF;
  setStatusFlags(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF, f);
  S.setFpuSw(S.fpuSw & ~FE_C1);
  if (popAfter) pop();
}

const EBUF: usize = memory.data(112, 16);

// FNSTENV/FLDENV/FNSAVE/FRSTOR image (SDM Vol.1 8.1.10, Figures 8-9/8-10, protected-mode
// layouts; 14 bytes with a 16-bit operand size, 28 otherwise). FIP/FDP/FOP are not tracked.
function envSize(): u32 { return opSize == 2 ? 14 : 28; }
function envStore(b: usize): void {
  for (let i: usize = 0; i < 28; i += 4) store<u32>(b + i, 0);
  if (opSize == 2) {
    store<u16>(b, <u16>S.fpuCw); store<u16>(b + 2, <u16>fpuSwFull()); store<u16>(b + 4, <u16>S.fpuTw);
  } else {
    store<u32>(b, S.fpuCw | 0xffff0000); store<u32>(b + 4, fpuSwFull() | 0xffff0000);
    store<u32>(b + 8, S.fpuTw | 0xffff0000);
  }
}
function envLoad(b: usize): void {
  const w: usize = opSize == 2 ? 2 : 4;
  S.setFpuCw(<u32>load<u16>(b) | 0x40);
  const sw = <u32>load<u16>(b + w);
  S.setFpuSw(sw & ~0x3800); S.setFpuTop((sw >> 11) & 7);
  S.setFpuTw(<u32>load<u16>(b + 2 * w));
}
function envOp(save: bool, full: bool): void {
  const n = envSize() + (full ? 80 : 0);
  const lin = memLin(n, save, 0);
  if (lin == BAD_ADDR) return;
  const e = envSize();
  if (save) {
    envStore(EBUF);
    if (full) for (let i: u32 = 0; i < 8; i++) {
      const src = slot(physOf(i));
      store<u64>(EBUF + <usize>(e + i * 10), load<u64>(src));
      store<u16>(EBUF + <usize>(e + i * 10 + 8), load<u16>(src + 8));
    }
    if (!writeLinBytes(lin, EBUF, n)) return;
    if (full) { S.setFpuCw(0x37f); S.setFpuSw(0); S.setFpuTop(0); S.setFpuTw(0xffff); }  // FNSAVE then FNINIT
    else S.setFpuCw(S.fpuCw | 0x3f);                                                      // FNSTENV masks all
    return;
  }
  if (!readLinBytes(lin, EBUF, n)) return;
  envLoad(EBUF);
  if (full) for (let i: u32 = 0; i < 8; i++) {
    const dst = slot(physOf(i));
    store<u64>(dst, load<u64>(EBUF + <usize>(e + i * 10)));
    store<u64>(dst + 8, <u64>load<u16>(EBUF + <usize>(e + i * 10 + 8)));
  }
}

function x87Mem(op: u32, r: u32): void {
  switch (op) {
    case 0xda: case 0xde: {                                      // integer-operand arithmetic
      const sz: u32 = op == 0xda ? 4 : 2;
      const raw = readMsz(sz);
      if (faultPending) return;
      const v = sz == 4 ? <f64><i32><u32>raw : <f64><i16><u16>raw;
      if (r == 2 || r == 3) { setCC(compare(st(0), v, false)); if (r == 3) pop(); return; } // FICOM/FICOMP
      setSt(0, arith(r, st(0), v));
      return;
    }
    case 0xd8: case 0xdc: {
      const sz: u32 = op == 0xd8 ? 4 : 8;
      const raw = readMsz(sz);
      if (faultPending) return;
      const v = sz == 4 ? <f64>reinterpret<f32>(<u32>raw) : reinterpret<f64>(raw);
      if (r == 2 || r == 3) { setCC(compare(st(0), v, false)); if (r == 3) pop(); return; }
      setSt(0, arith(r, st(0), v));
      return;
    }
    case 0xd9: {
      if (r == 0) {                                              // FLD m32
        const raw = <u32>readMsz(4);
        if (faultPending) return;
        let v = <f64>reinterpret<f32>(raw);
        if ((raw & 0x7fffffff) > 0x7f800000) { // keep NaN payload, quiet, IE for SNaN
          if ((raw & 0x400000) == 0) fpuExc(FE_IE);
          v = reinterpret<f64>((<u64>(raw & 0x80000000) << 32) | 0x7ff8000000000000 | (<u64>(raw & 0x3fffff) << 29));
        }
        push(v); return;
      }
      if (r == 2 || r == 3) {                                    // FST/FSTP m32
        const v = st(0);
        let b: u32;
        if (isNaN(v)) { const x = reinterpret<u64>(v); b = <u32>(x >> 32) & 0x80000000 | 0x7fc00000 | <u32>((x >> 29) & 0x3fffff); }
        else b = reinterpret<u32>(<f32>v);
        if (!writeMsz(4, <u64>b)) return;
        if (r == 3) pop();
        return;
      }
      if (r == 4 || r == 6) { envOp(r == 6, false); return; }   // FLDENV / FNSTENV
      if (r == 5) { const v = <u32>readMsz(2); if (faultPending) return; S.setFpuCw(v | 0x40); return; } // FLDCW
      if (r == 7) { writeMsz(2, <u64>S.fpuCw); return; }       // FNSTCW
      raiseUD(); return;
    }
    case 0xdd: {
      if (r == 0) {                                              // FLD m64
        const raw = readMsz(8);
        if (faultPending) return;
        let v = reinterpret<f64>(raw);
        if (isNaN(v)) { if ((raw & 0x8000000000000) == 0) fpuExc(FE_IE); v = reinterpret<f64>(raw | 0x8000000000000); }
        push(v); return;
      }
      if (r == 1 || r == 2 || r == 3) {                          // FISTTP m64, FST/FSTP m64
        const v = st(0);
        const out = r == 1 ? toInt(v, 64, true) : reinterpret<u64>(v);
        if (!writeMsz(8, out)) return;
        if (r != 2) pop();
        return;
      }
      if (r == 4 || r == 6) { envOp(r == 6, true); return; }    // FRSTOR / FNSAVE
      if (r == 7) { writeMsz(2, <u64>fpuSwFull()); return; }     // FNSTSW m16
      raiseUD(); return;
    }
    case 0xdb: {
      if (r == 0) { const v = readMsz(4); if (faultPending) return; push(<f64><i32><u32>v); return; } // FILD m32
      if (r == 1 || r == 2 || r == 3) {                          // FISTTP, FIST, FISTP m32
        const x = toInt(st(0), 32, r == 1);
        if (!writeMsz(4, x)) return;
        if (r != 2) pop();
        return;
      }
      if (r == 5) {                                              // FLD m80
        const lin = memLin(10, false, 0);
        if (lin == BAD_ADDR || !readLinBytes(lin, EBUF, 10)) return;
        store<u64>(EBUF + 8, <u64>load<u16>(EBUF + 8));
        push(loadExt(EBUF)); return;
      }
      if (r == 7) {                                              // FSTP m80
        const lin = memLin(10, true, 0);
        if (lin == BAD_ADDR) return;
        storeExt(EBUF, st(0));
        if (!writeLinBytes(lin, EBUF, 10)) return;
        pop(); return;
      }
      raiseUD(); return;
    }
    case 0xdf: {
      if (r == 0) { const v = readMsz(2); if (faultPending) return; push(<f64><i16><u16>v); return; } // FILD m16
      if (r == 5) { const v = readMsz(8); if (faultPending) return; push(<f64><i64>v); return; }      // FILD m64
      if (r == 1 || r == 2 || r == 3) {                          // FISTTP, FIST, FISTP m16
        const x = toInt(st(0), 16, r == 1);
        if (!writeMsz(2, x)) return;
        if (r != 2) pop();
        return;
      }
      if (r == 7) { const x = toInt(st(0), 64, false); if (!writeMsz(8, x)) return; pop(); return; } // FISTP m64
      raiseUD(); return;
    }
    default: raiseUD(); return;
  }
}

// ---- MMX support: entering MMX state sets TOP=0 and all tags valid; EMMS empties them.
export function mmxEnter(): void { S.setFpuTop(0); S.setFpuTw(0); }
export function emms(): void { S.setFpuTw(0xffff); }
// MMX register i = low 64 bits of physical register i; a write sets exponent bits to all 1s.
@inline export function mmPtr(i: u32): usize { return FPR + (<usize>(i & 7) << 4); }
export function mmWritten(i: u32): void { store<u16>(mmPtr(i) + 8, 0xffff); }

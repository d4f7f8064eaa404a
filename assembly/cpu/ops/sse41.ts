// SSE4.1 (and PCMPGTQ from SSE4.2): 66 0F 38 xx and 66 0F 3A xx ib.
// Called by the three-byte map dispatcher after the SSE availability checks; the immediate
// (0F 3A) has already been fetched.
import { xmmPtr, getReg64, setReg64, setReg32, getReg32 } from "../state";
import { faultPending, raiseUD } from "../fault";
import { modMod, modReg, modRm, rexW } from "../decode";
import { setStatusFlags, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF } from "../flags";
import {
  SRC, RES, TMP, copy16, loadSrc128, readM128, readMsz, writeMsz, clearExc, fpCommit, fpCommitStage, addExc, rcMode, X_PE, setExc, exc,
} from "./sse_util";
import * as S from "../state";
import { arith32, arith64, isNaN32, isNaN64, isSNaN32, isSNaN64, OP_ADD, OP_MUL } from "./sse_float";
import { X_IE } from "./sse_util";

// Is (map, op) an SSE4.1 instruction handled here?
export function isSse41(map: u32, op: u32): bool {
  if (map == 0x38) {
    return op == 0x10 || op == 0x14 || op == 0x15 || op == 0x17 || (op >= 0x20 && op <= 0x25) ||
      (op >= 0x28 && op <= 0x2b) || (op >= 0x30 && op <= 0x35) || (op >= 0x37 && op <= 0x41);
  }
  return (op >= 0x08 && op <= 0x0e) || (op >= 0x14 && op <= 0x17) || (op >= 0x20 && op <= 0x22) ||
    (op >= 0x40 && op <= 0x42);
}

// Source with a memory width of `sz` bytes (register: the whole xmm).
function loadSrcN(sz: u32): bool {
  if (modMod == 3) { copy16(SRC, xmmPtr(modRm)); return true; }
  if (sz == 16) return readM128(SRC, true);
  const v = readMsz(sz);
  if (faultPending) return false;
  store<u64>(SRC, v); store<u64>(SRC + 8, 0);
  return true;
}

export function sse41(map: u32, op: u32, imm: u32): void {
  const d = xmmPtr(modReg);
  if (map == 0x38) {
    if (op >= 0x20 && op <= 0x35 && op != 0x28 && op != 0x29 && op != 0x2a && op != 0x2b) { pmovx(op, d); return; }
    if (op == 0x2a) { // MOVNTDQA (memory only, aligned)
      if (modMod == 3) { raiseUD(); return; }
      if (!readM128(SRC, true)) return;
      copy16(d, SRC); return;
    }
    if (!loadSrcN(16)) return;
    switch (op) {
      case 0x10: case 0x14: case 0x15: { // PBLENDVB / BLENDVPS / BLENDVPD with implicit XMM0
        const m = xmmPtr(0);
        const e: usize = op == 0x10 ? 1 : (op == 0x14 ? 4 : 8);
        for (let i: usize = 0; i < 16; i += e) {
          const sel = (load<u8>(m + i + e - 1) & 0x80) != 0;
          for (let j: usize = 0; j < e; j++) store<u8>(RES + i + j, load<u8>((sel ? SRC : d) + i + j));
        }
        break;
      }
      case 0x17: { // PTEST
        const a0 = load<u64>(d), a1 = load<u64>(d + 8), b0 = load<u64>(SRC), b1 = load<u64>(SRC + 8);
        let f: u64 = 0;
        if (((a0 & b0) | (a1 & b1)) == 0) f |= F_ZF;
        if (((~a0 & b0) | (~a1 & b1)) == 0) f |= F_CF;
        setStatusFlags(F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF, f);
        return;
      }
      case 0x28: // PMULDQ
        for (let i: usize = 0; i < 16; i += 8)
          store<i64>(RES + i, <i64>load<i32>(d + i) * <i64>load<i32>(SRC + i));
        break;
      case 0x29: case 0x37: // PCMPEQQ, PCMPGTQ
        for (let i: usize = 0; i < 16; i += 8) {
          const a = load<i64>(d + i), b = load<i64>(SRC + i);
          store<u64>(RES + i, (op == 0x29 ? a == b : a > b) ? 0xffffffffffffffff : 0);
        }
        break;
      case 0x2b: // PACKUSDW
        for (let i: usize = 0; i < 4; i++) {
          const a = load<i32>(d + 4 * i), b = load<i32>(SRC + 4 * i);
          store<u16>(RES + 2 * i, <u16>(a < 0 ? 0 : (a > 65535 ? 65535 : a)));
          store<u16>(RES + 8 + 2 * i, <u16>(b < 0 ? 0 : (b > 65535 ? 65535 : b)));
        }
        break;
      case 0x38: case 0x3c: // PMINSB / PMAXSB
        for (let i: usize = 0; i < 16; i++) {
          const a = load<i8>(d + i), b = load<i8>(SRC + i);
          store<i8>(RES + i, op == 0x38 ? (a < b ? a : b) : (a > b ? a : b));
        }
        break;
      case 0x39: case 0x3d: // PMINSD / PMAXSD
        for (let i: usize = 0; i < 16; i += 4) {
          const a = load<i32>(d + i), b = load<i32>(SRC + i);
          store<i32>(RES + i, op == 0x39 ? (a < b ? a : b) : (a > b ? a : b));
        }
        break;
      case 0x3a: case 0x3e: // PMINUW / PMAXUW
        for (let i: usize = 0; i < 16; i += 2) {
          const a = load<u16>(d + i), b = load<u16>(SRC + i);
          store<u16>(RES + i, op == 0x3a ? (a < b ? a : b) : (a > b ? a : b));
        }
        break;
      case 0x3b: case 0x3f: // PMINUD / PMAXUD
        for (let i: usize = 0; i < 16; i += 4) {
          const a = load<u32>(d + i), b = load<u32>(SRC + i);
          store<u32>(RES + i, op == 0x3b ? (a < b ? a : b) : (a > b ? a : b));
        }
        break;
      case 0x40: // PMULLD
        for (let i: usize = 0; i < 16; i += 4) store<u32>(RES + i, load<u32>(d + i) * load<u32>(SRC + i));
        break;
      case 0x41: { // PHMINPOSUW
        let m: u32 = 0xffff, idx: u32 = 0;
        for (let i: u32 = 0; i < 8; i++) {
          const v = <u32>load<u16>(SRC + <usize>(2 * i));
          if (v < m) { m = v; idx = i; }
        }
        store<u64>(RES, <u64>m | (<u64>idx << 16)); store<u64>(RES + 8, 0);
        break;
      }
      default: raiseUD(); return;
    }
    copy16(d, RES);
    return;
  }
  // ---- 0F 3A
  switch (op) {
    case 0x08: case 0x09: case 0x0a: case 0x0b: { roundOp(op, d, imm); return; }
    case 0x14: case 0x15: case 0x16: case 0x17: { extract(op, d, imm); return; }
    case 0x20: case 0x22: { pinsr(op, d, imm); return; }
    case 0x21: { // INSERTPS
      let v: u32;
      if (modMod == 3) v = load<u32>(xmmPtr(modRm) + <usize>(((imm >> 6) & 3) << 2));
      else { v = <u32>readMsz(4); if (faultPending) return; }
      copy16(RES, d);
      store<u32>(RES + <usize>(((imm >> 4) & 3) << 2), v);
      for (let i: usize = 0; i < 4; i++) if (((imm >> <u32>i) & 1) != 0) store<u32>(RES + 4 * i, 0);
      copy16(d, RES);
      return;
    }
    default: break;
  }
  if (!loadSrcN(16)) return;
  switch (op) {
    case 0x0c: for (let i: usize = 0; i < 4; i++) store<u32>(RES + 4 * i, load<u32>((((imm >> <u32>i) & 1) != 0 ? SRC : d) + 4 * i)); break;
    case 0x0d: for (let i: usize = 0; i < 2; i++) store<u64>(RES + 8 * i, load<u64>((((imm >> <u32>i) & 1) != 0 ? SRC : d) + 8 * i)); break;
    case 0x0e: for (let i: usize = 0; i < 8; i++) store<u16>(RES + 2 * i, load<u16>((((imm >> <u32>i) & 1) != 0 ? SRC : d) + 2 * i)); break;
    case 0x40: case 0x41: { if (!dotProduct(op, d, imm)) return; break; }
    case 0x42: { // MPSADBW
      const doff = <usize>((imm >> 2) & 1) * 4, soff = <usize>(imm & 3) * 4;
      for (let j: usize = 0; j < 8; j++) {
        let sum: u32 = 0;
        for (let k: usize = 0; k < 4; k++) {
          const x = <i32>load<u8>(d + doff + j + k) - <i32>load<u8>(SRC + soff + k);
          sum += <u32>(x < 0 ? -x : x);
        }
        store<u16>(RES + 2 * j, <u16>sum);
      }
      break;
    }
    default: raiseUD(); return;
  }
  copy16(d, RES);
}

// PMOVSX/PMOVZX: widen the low elements of the source.
function pmovx(op: u32, d: usize): void {
  const k = op & 0xf; // 0 BW, 1 BD, 2 BQ, 3 WD, 4 WQ, 5 DQ
  const zx = op >= 0x30;
  const from: usize = k <= 2 ? 1 : (k <= 4 ? 2 : 4);
  const to: usize = (k == 0) ? 2 : ((k == 1 || k == 3) ? 4 : 8);
  const n: usize = 16 / to;
  if (!loadSrcN(<u32>(n * from))) return;
  for (let i: usize = 0; i < n; i++) {
    let v: i64;
    if (from == 1) v = zx ? <i64>load<u8>(SRC + i) : <i64>load<i8>(SRC + i);
    else if (from == 2) v = zx ? <i64>load<u16>(SRC + 2 * i) : <i64>load<i16>(SRC + 2 * i);
    else v = zx ? <i64>load<u32>(SRC + 4 * i) : <i64>load<i32>(SRC + 4 * i);
    if (to == 2) store<u16>(RES + 2 * i, <u16>v); else if (to == 4) store<u32>(RES + 4 * i, <u32>v); else store<i64>(RES + 8 * i, v);
  }
  copy16(d, RES);
}

// ROUNDPS/PD/SS/SD: imm[1:0] RC unless imm[2] (then MXCSR.RC); imm[3] suppresses PE.
// SNaN -> quiet + IE; DAZ honoured; no DE (SDM ROUNDPS).
function roundOp(op: u32, d: usize, imm: u32): void {
  const single = op == 0x08 || op == 0x0a;
  const scalar = op >= 0x0a;
  if (!loadSrcN(scalar ? (single ? 4 : 8) : 16)) return;
  const mode = (imm & 4) != 0 ? rcMode() : imm & 3;
  clearExc();
  copy16(RES, d);
  const n: usize = scalar ? 1 : (single ? 4 : 2);
  for (let i: usize = 0; i < n; i++) {
    if (single) {
      let a = load<u32>(SRC + 4 * i);
      if (isNaN32(a)) { if (isSNaN32(a)) addExc(X_IE); store<u32>(RES + 4 * i, a | 0x400000); continue; }
      if ((S.mxcsr & 0x40) != 0 && (a & 0x7f800000) == 0) a &= 0x80000000;
      const x = <f64>reinterpret<f32>(a);
      const r = rnd(x, mode);
      if (r != x && (imm & 8) == 0) addExc(X_PE);
      store<u32>(RES + 4 * i, reinterpret<u32>(<f32>r));
    } else {
      let a = load<u64>(SRC + 8 * i);
      if (isNaN64(a)) { if (isSNaN64(a)) addExc(X_IE); store<u64>(RES + 8 * i, a | 0x8000000000000); continue; }
      if ((S.mxcsr & 0x40) != 0 && (a & 0x7ff0000000000000) == 0) a &= 0x8000000000000000;
      const x = reinterpret<f64>(a);
      const r = rnd(x, mode);
      if (r != x && (imm & 8) == 0) addExc(X_PE);
      store<f64>(RES + 8 * i, r);
    }
  }
  if (!fpCommit()) return;
  copy16(d, RES);
}
@inline function rnd(x: f64, mode: u32): f64 {
  if (mode == 0) return nearest<f64>(x);
  if (mode == 1) return Math.floor(x);
  if (mode == 2) return Math.ceil(x);
  return Math.trunc(x);
}

// PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS r/m, xmm(reg), imm8.
function extract(op: u32, d: usize, imm: u32): void {
  let sz: u32, v: u64;
  if (op == 0x14) { sz = 1; v = <u64>load<u8>(d + <usize>(imm & 15)); }
  else if (op == 0x15) { sz = 2; v = <u64>load<u16>(d + <usize>((imm & 7) << 1)); }
  else if (op == 0x16 && rexW) { sz = 8; v = load<u64>(d + <usize>((imm & 1) << 3)); }
  else { sz = 4; v = <u64>load<u32>(d + <usize>((imm & 3) << 2)); }
  if (modMod == 3) {
    if (sz == 8) setReg64(modRm, v); else setReg32(modRm, <u32>v); // zero-extended (SDM PEXTRB)
    return;
  }
  writeMsz(sz, v);
}

// PINSRB xmm, r32/m8, imm8; PINSRD/PINSRQ xmm, r/m32/64, imm8.
function pinsr(op: u32, d: usize, imm: u32): void {
  const sz: u32 = op == 0x20 ? 1 : (rexW ? 8 : 4);
  let v: u64;
  if (modMod == 3) v = getReg64(modRm); else { v = readMsz(sz); if (faultPending) return; }
  if (sz == 1) store<u8>(d + <usize>(imm & 15), <u8>v);
  else if (sz == 4) store<u32>(d + <usize>((imm & 3) << 2), <u32>v);
  else store<u64>(d + <usize>((imm & 1) << 3), v);
}

// DPPS/DPPD: products of the lanes selected by imm[7:4] (others +0), summed pairwise
// ((0+1)+(2+3) for DPPS), each step rounded with MXCSR; written to lanes in imm[3:0].
function dotProduct(op: u32, d: usize, imm: u32): bool {
  clearExc();
  if (op == 0x40) {
    for (let i: usize = 0; i < 4; i++)
      store<u32>(TMP + 4 * i, ((imm >> (4 + <u32>i)) & 1) != 0 ? arith32(OP_MUL, load<u32>(d + 4 * i), load<u32>(SRC + 4 * i)) : 0);
    if (!fpCommit()) return false;
    clearExc();
    const s1 = arith32(OP_ADD, load<u32>(TMP), load<u32>(TMP + 4));
    const s2 = arith32(OP_ADD, load<u32>(TMP + 8), load<u32>(TMP + 12));
    const t = arith32(OP_ADD, s1, s2);
    if (!fpCommit()) return false;
    for (let i: usize = 0; i < 4; i++) store<u32>(RES + 4 * i, ((imm >> <u32>i) & 1) != 0 ? t : 0);
    return true;
  }
  for (let i: usize = 0; i < 2; i++)
    store<u64>(TMP + 8 * i, ((imm >> (4 + <u32>i)) & 1) != 0 ? arith64(OP_MUL, load<u64>(d + 8 * i), load<u64>(SRC + 8 * i)) : 0);
  if (!fpCommit()) return false;
  clearExc();
  const t = arith64(OP_ADD, load<u64>(TMP), load<u64>(TMP + 8));
  if (!fpCommit()) return false;
  for (let i: usize = 0; i < 2; i++) store<u64>(RES + 8 * i, ((imm >> <u32>i) & 1) != 0 ? t : 0);
  return true;
}

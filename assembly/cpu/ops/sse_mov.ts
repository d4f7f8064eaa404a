// SSE/SSE2 data movement, logic, shuffles and unpacks (packed-single/double encodings).
import { xmmPtr, getReg64, setReg64, setReg32, code64 } from "../state";
import { faultPending, raiseUD } from "../fault";
import { modMod, modReg, modRm, rexW, fetch8, eaAddr, adSize, dsSeg } from "../decode";
import { getReg32, RDI } from "../state";
import {
  SRC, RES, pfx, copy16, loadSrc128, loadSrc64, loadSrc32, readM128, writeM128, readMsz, writeMsz,
} from "./sse_util";
import { linearAddr, BAD_ADDR } from "../segmem";
import { probeWrite, writeLin } from "../../mmu/access";

// 0F 10 / 0F 11: MOVUPS, MOVUPD, MOVSS, MOVSD (load and store forms).
export function mov10(isStore: bool): void {
  const r = xmmPtr(modReg);
  if (pfx < 2) {
    if (isStore) {
      if (modMod == 3) copy16(xmmPtr(modRm), r); else writeM128(r, false);
    } else {
      if (!loadSrc128(false)) return;
      copy16(r, SRC);
    }
    return;
  }
  const sz: u32 = pfx == 2 ? 4 : 8;
  if (isStore) {
    if (modMod == 3) {
      if (sz == 4) store<u32>(xmmPtr(modRm), load<u32>(r)); else store<u64>(xmmPtr(modRm), load<u64>(r));
    } else writeMsz(sz, sz == 4 ? <u64>load<u32>(r) : load<u64>(r));
    return;
  }
  if (modMod == 3) {
    if (sz == 4) store<u32>(r, load<u32>(xmmPtr(modRm))); else store<u64>(r, load<u64>(xmmPtr(modRm)));
    return;
  }
  // Memory load zeroes the rest of the register (SDM MOVSS/MOVSD).
  const v = readMsz(sz);
  if (faultPending) return;
  store<u64>(r, v); store<u64>(r + 8, 0);
}

// 0F 28 / 0F 29: MOVAPS/MOVAPD. 0F 2B: MOVNTPS/MOVNTPD (memory only).
export function movAligned(isStore: bool): void {
  if (pfx >= 2) { raiseUD(); return; }
  const r = xmmPtr(modReg);
  if (isStore) {
    if (modMod == 3) copy16(xmmPtr(modRm), r); else writeM128(r, true);
    return;
  }
  if (!loadSrc128(true)) return;
  copy16(r, SRC);
}
export function movnt(): void {
  if (modMod == 3 || pfx >= 2) { raiseUD(); return; }
  writeM128(xmmPtr(modReg), true);
}

// 0F 12/13/16/17: MOVLPS/MOVHLPS/MOVLPD, MOVHPS/MOVLHPS/MOVHPD; SSE3 F3 12 MOVSLDUP,
// F2 12 MOVDDUP, F3 16 MOVSHDUP.
export function movLH(opc: u32): void {
  const r = xmmPtr(modReg);
  const high = opc >= 0x16;
  if ((opc & 1) != 0) { // store forms 13/17
    if (modMod == 3 || pfx >= 2) { raiseUD(); return; }
    writeMsz(8, load<u64>(r + (high ? 8 : 0)));
    return;
  }
  if (pfx == 2) { // MOVSLDUP / MOVSHDUP
    if (!loadSrc128(true)) return;
    const o: usize = high ? 4 : 0;
    const a = load<u32>(SRC + o), b = load<u32>(SRC + 8 + o);
    store<u32>(r, a); store<u32>(r + 4, a); store<u32>(r + 8, b); store<u32>(r + 12, b);
    return;
  }
  if (pfx == 3) {
    if (high) { raiseUD(); return; }
    if (!loadSrc64()) return; // MOVDDUP
    const v = load<u64>(SRC);
    store<u64>(r, v); store<u64>(r + 8, v);
    return;
  }
  if (modMod == 3) {
    if (pfx == 1) { raiseUD(); return; }
    // MOVHLPS: low <- src high; MOVLHPS: high <- src low.
    if (high) store<u64>(r + 8, load<u64>(xmmPtr(modRm)));
    else store<u64>(r, load<u64>(xmmPtr(modRm) + 8));
    return;
  }
  const v = readMsz(8);
  if (faultPending) return;
  store<u64>(r + (high ? 8 : 0), v);
}

// 0F 14/15: UNPCKLPS/PD, UNPCKHPS/PD.
export function unpckFp(high: bool): void {
  if (pfx >= 2) { raiseUD(); return; }
  if (!loadSrc128(true)) return;
  const r = xmmPtr(modReg);
  const o: usize = high ? 8 : 0;
  if (pfx == 0) {
    store<u32>(RES, load<u32>(r + o)); store<u32>(RES + 4, load<u32>(SRC + o));
    store<u32>(RES + 8, load<u32>(r + o + 4)); store<u32>(RES + 12, load<u32>(SRC + o + 4));
  } else {
    store<u64>(RES, load<u64>(r + o)); store<u64>(RES + 8, load<u64>(SRC + o));
  }
  copy16(r, RES);
}

// 0F 54-57: ANDPS/PD, ANDNPS/PD, ORPS/PD, XORPS/PD (bitwise, no FP exceptions).
export function logicFp(opc: u32): void {
  if (pfx >= 2) { raiseUD(); return; }
  logic128(opc);
}
// Shared with PAND/PANDN/POR/PXOR: 0x54 and, 0x55 andn, 0x56 or, 0x57 xor.
export function logic128(kind: u32): void {
  if (!loadSrc128(true)) return;
  const r = xmmPtr(modReg);
  for (let i: usize = 0; i < 16; i += 8) {
    const a = load<u64>(r + i), b = load<u64>(SRC + i);
    let v: u64;
    if (kind == 0x54) v = a & b;
    else if (kind == 0x55) v = ~a & b;
    else if (kind == 0x56) v = a | b;
    else v = a ^ b;
    store<u64>(RES + i, v);
  }
  copy16(r, RES);
}

// 0F C6 SHUFPS/SHUFPD xmm, xmm/m128, imm8.
export function shufFp(): void {
  if (pfx >= 2) { raiseUD(); return; }
  const imm = fetch8();
  if (faultPending) return;
  if (!loadSrc128(true)) return;
  const r = xmmPtr(modReg);
  if (pfx == 0) {
    store<u32>(RES, load<u32>(r + ((imm & 3) << 2)));
    store<u32>(RES + 4, load<u32>(r + (((imm >> 2) & 3) << 2)));
    store<u32>(RES + 8, load<u32>(SRC + (((imm >> 4) & 3) << 2)));
    store<u32>(RES + 12, load<u32>(SRC + (((imm >> 6) & 3) << 2)));
  } else {
    store<u64>(RES, load<u64>(r + ((imm & 1) << 3)));
    store<u64>(RES + 8, load<u64>(SRC + (((imm >> 1) & 1) << 3)));
  }
  copy16(r, RES);
}

// 0F 50 MOVMSKPS/PD r32, xmm (register only).
export function movmskFp(): void {
  if (modMod != 3 || pfx >= 2) { raiseUD(); return; }
  const s = xmmPtr(modRm);
  let m: u32 = 0;
  if (pfx == 0) { for (let i: u32 = 0; i < 4; i++) m |= (load<u32>(s + (<usize>i << 2)) >> 31) << i; }
  else { m = <u32>(load<u64>(s) >> 63) | (<u32>(load<u64>(s + 8) >> 63) << 1); }
  setReg32(modReg, m);
}

// 66 0F 6E MOVD/MOVQ xmm, r/m32/64; 66 0F 7E MOVD/MOVQ r/m32/64, xmm; F3 0F 7E MOVQ xmm, xmm/m64;
// 66 0F D6 MOVQ xmm/m64, xmm.
export function movd(opc: u32): void {
  const r = xmmPtr(modReg);
  if (opc == 0x17e && pfx == 2) {
    if (!loadSrc64()) return;
    store<u64>(r, load<u64>(SRC)); store<u64>(r + 8, 0);
    return;
  }
  if (pfx != 1) { raiseUD(); return; }
  if (opc == 0x1d6) {
    if (modMod == 3) { const d = xmmPtr(modRm); store<u64>(d, load<u64>(r)); store<u64>(d + 8, 0); }
    else writeMsz(8, load<u64>(r));
    return;
  }
  const sz: u32 = rexW ? 8 : 4;
  if (opc == 0x16e) {
    let v: u64;
    if (modMod == 3) v = sz == 8 ? getReg64(modRm) : <u64>getReg32(modRm);
    else { v = readMsz(sz); if (faultPending) return; }
    store<u64>(r, v); store<u64>(r + 8, 0);
    return;
  }
  // 0x17e store
  const v: u64 = sz == 8 ? load<u64>(r) : <u64>load<u32>(r);
  if (modMod == 3) { if (sz == 8) setReg64(modRm, v); else setReg32(modRm, <u32>v); }
  else writeMsz(sz, v);
}

// 66 0F 6F MOVDQA / F3 0F 6F MOVDQU loads, 0F 7F stores, F2 0F F0 LDDQU, 66 0F E7 MOVNTDQ.
export function movdq(opc: u32): void {
  const r = xmmPtr(modReg);
  if (opc == 0x1f0) {
    if (pfx != 3 || modMod == 3) { raiseUD(); return; }
    if (!readM128(SRC, false)) return;
    copy16(r, SRC);
    return;
  }
  if (opc == 0x1e7) {
    if (pfx != 1 || modMod == 3) { raiseUD(); return; }
    writeM128(r, true);
    return;
  }
  if (pfx != 1 && pfx != 2) { raiseUD(); return; }
  const aligned = pfx == 1;
  if (opc == 0x16f) {
    if (!loadSrc128(aligned)) return;
    copy16(r, SRC);
  } else {
    if (modMod == 3) copy16(xmmPtr(modRm), r); else writeM128(r, aligned);
  }
}

// 66 0F F7 MASKMOVDQU xmm1, xmm2 / 0F F7 MASKMOVQ mm1, mm2: byte-masked store of n bytes
// to DS:rDI (segment override allowed). The whole range is checked (segment, paging) before
// any byte is stored; the SDM leaves faults on masked-off bytes implementation-dependent.
export function maskStore(data: usize, mask: usize, n: u32): void {
  let off: u64 = getReg64(RDI);
  if (adSize == 4) off &= 0xffffffff; else if (adSize == 2) off &= 0xffff;
  const lin = linearAddr(dsSeg(), off, n, true);
  if (lin == BAD_ADDR) return;
  if (!probeWrite(lin, n)) return;
  for (let i: u32 = 0; i < n; i++) {
    if ((load<u8>(mask + <usize>i) & 0x80) == 0) continue;
    let a = lin + <u64>i;
    if (!code64) a &= 0xffffffff;
    writeLin(a, 1, <u64>load<u8>(data + <usize>i));
    if (faultPending) return;
  }
}
export function maskmov(): void {
  if (pfx != 1 || modMod != 3) { raiseUD(); return; }
  maskStore(xmmPtr(modReg), xmmPtr(modRm), 16);
}

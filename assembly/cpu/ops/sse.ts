// Dispatcher for the opcodes owned by OWN_SSE (cpu/exec.ts): the SSE/SSE2/SSE3/SSSE3 and MMX
// 0F map, group 15, the 0F 38 / 0F 3A maps (SSSE3, MOVBE) and the x87 escapes D8-DF.
import * as S from "../state";
import { xmmPtr, getReg64, setReg32, getRegSized, setRegSized, CR0_EM, CR0_TS } from "../state";
import { faultPending, raiseUD, raiseNM } from "../fault";
import {
  decodeModrm, modMod, modReg, modRm, fetch8, lockPrefix, prefix66, repPrefix, opSize, rexPresent,
} from "../decode";
import {
  SRC, RES, pfx, setPfx, sseAvail, copy16, loadSrc128, loadSrc64, readMsz, writeMsz,
} from "./sse_util";
import { OP_ADD, OP_MUL, OP_SUB, OP_MIN, OP_DIV, OP_MAX, OP_SQRT } from "./sse_float";
import {
  fpArith, fpUnary, fpCmp, fpComi, cvt5A, cvt5B, cvtE6, cvt2A, cvt2C, fpHoriz,
} from "./sse_fp";
import {
  mov10, movAligned, movnt, movLH, unpckFp, logicFp, logic128, shufFp, movmskFp, movd, movdq, maskmov, maskStore,
} from "./sse_mov";
import { intBinary, shiftLanes, byteShift, pshuf, pmovmskb, ssse3, palignr } from "./sse_int";
import { group15 } from "./fxsave";
import { invEptVpid } from "../../vmx/instr";
import { invpcid } from "./sys_invpcid";
import { isSse41, sse41 } from "./sse41";
import { crc32, pcmpstr } from "./sse42";
import { execX87, mmxEnter, emms, mmPtr, mmWritten, fpuPendingMF } from "./x87";

export function execSse(op: u32): void {
  // SDM Vol.2 2.4 / each SSE instruction: LOCK -> #UD.
  if (lockPrefix) { raiseUD(); return; }
  setPfx(repPrefix == 0xf3 ? 2 : (repPrefix == 0xf2 ? 3 : (prefix66 ? 1 : 0)));
  if (op < 0x100) { decodeModrm(); if (faultPending) return; execX87(op); return; }
  if (op == 0x138 || op == 0x13a) { threeByte(op); return; }
  if (op == 0x177) { // EMMS has no ModRM byte
    if (pfx != 0) { raiseUD(); return; }
    if (mmxAvail()) emms();
    return;
  }
  decodeModrm();
  if (faultPending) return;
  if (op == 0x1ae) { group15(); return; }
  if (op == 0x1c3) { movnti(); return; }
  const o = op & 0xff;
  // MMX forms (no mandatory prefix) of the integer instructions.
  if (pfx == 0 && isMmxOp(o)) { execMmx(o); return; }
  if (!sseAvail()) return;
  switch (o) {
    case 0x10: case 0x11: mov10(o == 0x11); return;
    case 0x12: case 0x13: case 0x16: case 0x17: movLH(o); return;
    case 0x14: case 0x15: unpckFp(o == 0x15); return;
    case 0x28: case 0x29: movAligned(o == 0x29); return;
    case 0x2a: cvt2A(); return;
    case 0x2b: movnt(); return;
    case 0x2c: case 0x2d: cvt2C(o == 0x2c); return;
    case 0x2e: case 0x2f: fpComi(o == 0x2f); return;
    case 0x50: movmskFp(); return;
    case 0x51: fpUnary(OP_SQRT); return;
    case 0x52: case 0x53: fpUnary(o); return;
    case 0x54: case 0x55: case 0x56: case 0x57: logicFp(o); return;
    case 0x58: fpArith(OP_ADD); return;
    case 0x59: fpArith(OP_MUL); return;
    case 0x5a: cvt5A(); return;
    case 0x5b: cvt5B(); return;
    case 0xe6: cvtE6(); return;
    case 0x5c: fpArith(OP_SUB); return;
    case 0x5d: fpArith(OP_MIN); return;
    case 0x5e: fpArith(OP_DIV); return;
    case 0x5f: fpArith(OP_MAX); return;
    case 0x6e: case 0x7e: case 0xd6: {
      if (o == 0xd6 && pfx >= 2) { movq2dq(); return; }
      movd(op); return;
    }
    case 0x6f: case 0x7f: case 0xe7: case 0xf0: movdq(op); return;
    case 0x70: pshufX(); return;
    case 0x71: case 0x72: case 0x73: shiftImmX(o); return;
    case 0x7c: case 0x7d: case 0xd0: fpHoriz(o); return;
    case 0xc2: fpCmp(); return;
    case 0xc4: case 0xc5: pinsrExtr(o, false); return;
    case 0xc6: shufFp(); return;
    case 0xd7: {
      if (pfx != 1 || modMod != 3) { raiseUD(); return; }
      setReg32(modReg, pmovmskb(xmmPtr(modRm), 16)); return;
    }
    case 0xf7: maskmov(); return;
    default: break;
  }
  // Remaining: 66-prefixed integer SIMD binary ops.
  if (pfx != 1 || o == 0x77 || o == 0x78 || o == 0x79 || o == 0x7a || o == 0x7b) { raiseUD(); return; }
  if (!isIntBinary(o)) { raiseUD(); return; }
  if (!loadSrc128(true)) return;
  const d = xmmPtr(modReg);
  intBinary(o, d, SRC, 16);
  copy16(d, RES);
}

function isIntBinary(o: u32): bool {
  return (o >= 0x60 && o <= 0x6d) || (o >= 0x74 && o <= 0x76) ||
    (o >= 0xd1 && o <= 0xd5) || (o >= 0xd8 && o <= 0xe5) || (o >= 0xe8 && o <= 0xef) ||
    (o >= 0xf1 && o <= 0xf6) || (o >= 0xf8 && o <= 0xfe);
}

// 66 0F 70 PSHUFD, F3 0F 70 PSHUFHW, F2 0F 70 PSHUFLW.
function pshufX(): void {
  if (pfx == 0) { raiseUD(); return; }
  const imm = fetch8();
  if (faultPending) return;
  if (!loadSrc128(true)) return;
  pshuf(pfx, SRC, imm);
  copy16(xmmPtr(modReg), RES);
}

// 66 0F 71/72/73 /r ib: shifts by immediate of the xmm named by ModRM.rm.
function shiftImmX(o: u32): void {
  const imm = fetch8();
  if (faultPending) return;
  const r = modReg & 7;
  if (pfx != 1 || modMod != 3) { raiseUD(); return; }
  const d = xmmPtr(modRm);
  if (o == 0x73 && (r == 3 || r == 7)) { byteShift(d, imm > 16 ? 16 : imm, r == 7); copy16(d, RES); return; }
  const e: u32 = o == 0x71 ? 2 : (o == 0x72 ? 4 : 8);
  if (!(r == 2 || r == 6 || (r == 4 && e != 8))) { raiseUD(); return; }
  shiftLanes(r, e, d, 16, <u64>imm);
  copy16(d, RES);
}

// 0F C4 PINSRW xmm/mm, r32/m16, imm8; 0F C5 PEXTRW r32, xmm/mm, imm8.
function pinsrExtr(o: u32, mmx: bool): void {
  if (!mmx && pfx != 1) { raiseUD(); return; }
  const imm = fetch8();
  if (faultPending) return;
  const lanesN: u32 = mmx ? 4 : 8;
  const sel = <usize>(imm & (lanesN - 1)) << 1;
  if (o == 0xc5) {
    if (modMod != 3) { raiseUD(); return; }
    const s = mmx ? mmPtr(modRm) : xmmPtr(modRm);
    setReg32(modReg, <u32>load<u16>(s + sel));
    if (mmx) mmxEnter();
    return;
  }
  let v: u64;
  if (modMod == 3) v = getReg64(modRm); else { v = readMsz(2); if (faultPending) return; }
  const d = mmx ? mmPtr(modReg) : xmmPtr(modReg);
  store<u16>(d + sel, <u16>v);
  if (mmx) { mmxEnter(); mmWritten(modReg); }
}

// F3 0F D6 MOVQ2DQ xmm, mm; F2 0F D6 MOVDQ2Q mm, xmm (register forms only).
function movq2dq(): void {
  if (modMod != 3) { raiseUD(); return; }
  if (fpuPendingMF()) return;
  if (pfx == 2) {
    const d = xmmPtr(modReg);
    store<u64>(d, load<u64>(mmPtr(modRm))); store<u64>(d + 8, 0);
    mmxEnter();
  } else {
    store<u64>(mmPtr(modReg), load<u64>(xmmPtr(modRm)));
    mmxEnter(); mmWritten(modReg);
  }
}

// 0F C3 MOVNTI m32/m64, r32/r64 (a plain store here).
function movnti(): void {
  if (modMod == 3 || pfx != 0) { raiseUD(); return; }
  const sz: u32 = opSize == 8 ? 8 : 4;
  writeMsz(sz, getRegSized(modReg, sz, rexPresent));
}

// ---- MMX -----------------------------------------------------------------------------------
function isMmxOp(o: u32): bool {
  if (o == 0x6c || o == 0x6d) return false;
  return (o >= 0x60 && o <= 0x7f && o != 0x78 && o != 0x79 && o != 0x7a && o != 0x7b && o != 0x7c && o != 0x7d) ||
    (o >= 0xd1 && o <= 0xfe && o != 0xd6 && o != 0xd0 && o != 0xe6 && o != 0xf0) || o == 0xc4 || o == 0xc5;
}
// SDM Vol.3 Table 13-1 (MMX): CR0.EM -> #UD, CR0.TS -> #NM.
function mmxAvail(): bool {
  if ((S.cr0 & CR0_EM) != 0) { raiseUD(); return false; }
  if ((S.cr0 & CR0_TS) != 0) { raiseNM(); return false; }
  return !fpuPendingMF();
}
function loadMmSrc(): bool {
  if (modMod == 3) { store<u64>(SRC, load<u64>(mmPtr(modRm))); return true; }
  const v = readMsz(8);
  if (faultPending) return false;
  store<u64>(SRC, v);
  return true;
}
function execMmx(o: u32): void {
  if (!mmxAvail()) return;
  const d = mmPtr(modReg);
  switch (o) {
    case 0x6e: {
      const sz: u32 = opSize == 8 ? 8 : 4;
      let v: u64;
      if (modMod == 3) v = getRegSized(modRm, sz, rexPresent); else { v = readMsz(sz); if (faultPending) return; }
      store<u64>(d, v); mmxEnter(); mmWritten(modReg); return;
    }
    case 0x7e: {
      const sz: u32 = opSize == 8 ? 8 : 4;
      const v: u64 = sz == 8 ? load<u64>(d) : <u64>load<u32>(d);
      if (modMod == 3) setRegSized(modRm, sz, v, rexPresent); else if (!writeMsz(sz, v)) return;
      mmxEnter(); return;
    }
    case 0x6f: { if (!loadMmSrc()) return; store<u64>(d, load<u64>(SRC)); mmxEnter(); mmWritten(modReg); return; }
    case 0x7f: {
      if (modMod == 3) { store<u64>(mmPtr(modRm), load<u64>(d)); mmxEnter(); mmWritten(modRm); return; }
      if (!writeMsz(8, load<u64>(d))) return;
      mmxEnter(); return;
    }
    case 0xe7: { if (modMod == 3) { raiseUD(); return; } if (!writeMsz(8, load<u64>(d))) return; mmxEnter(); return; }
    case 0xc4: case 0xc5: pinsrExtr(o, true); return;
    case 0xd7: {
      if (modMod != 3) { raiseUD(); return; }
      setReg32(modReg, pmovmskb(mmPtr(modRm), 8)); mmxEnter(); return;
    }
    case 0x70: {
      const imm = fetch8();
      if (faultPending) return;
      if (!loadMmSrc()) return;
      pshuf(0, SRC, imm);
      store<u64>(d, load<u64>(RES)); mmxEnter(); mmWritten(modReg); return;
    }
    case 0x71: case 0x72: case 0x73: {
      const imm = fetch8();
      if (faultPending) return;
      const r = modReg & 7;
      if (modMod != 3) { raiseUD(); return; }
      const e: u32 = o == 0x71 ? 2 : (o == 0x72 ? 4 : 8);
      if (!(r == 2 || r == 6 || (r == 4 && e != 8))) { raiseUD(); return; }
      const t = mmPtr(modRm);
      shiftLanes(r, e, t, 8, <u64>imm);
      store<u64>(t, load<u64>(RES)); mmxEnter(); mmWritten(modRm); return;
    }
    case 0xf7: {                                   // MASKMOVQ
      if (modMod != 3) { raiseUD(); return; }
      maskStore(mmPtr(modReg), mmPtr(modRm), 8);
      if (!faultPending) mmxEnter();
      return;
    }
    default: break;
  }
  if (!isIntBinary(o)) { raiseUD(); return; }
  if (!loadMmSrc()) return;
  intBinary(o, d, SRC, 8);
  store<u64>(d, load<u64>(RES));
  mmxEnter(); mmWritten(modReg);
}

// ---- three-byte maps -------------------------------------------------------------------------
function threeByte(op: u32): void {
  const b = fetch8();
  if (faultPending) return;
  decodeModrm();
  if (faultPending) return;
  if (op == 0x138 && (b == 0xf0 || b == 0xf1)) {
    if (repPrefix == 0xf2) crc32(b); else movbe(b);   // CRC32 is a GPR instruction: no #NM
    return;
  }
  if (op == 0x138 && (b == 0x80 || b == 0x81) && pfx == 1) { invEptVpid(b == 0x81); return; }   // vmx/instr.ts
  if (op == 0x138 && b == 0x82 && pfx == 1) { invpcid(); return; }                               // sys_invpcid.ts
  const ssse3Op = op == 0x138 ? (b <= 0x0b || (b >= 0x1c && b <= 0x1e)) : b == 0x0f;
  const sse41Op = pfx == 1 && isSse41(op & 0xff, b);
  const strOp = pfx == 1 && op == 0x13a && b >= 0x60 && b <= 0x63;
  if ((!ssse3Op && !sse41Op && !strOp) || pfx >= 2) { raiseUD(); return; }
  let imm: u32 = 0;
  if (op == 0x13a) { imm = fetch8(); if (faultPending) return; }
  if (strOp) { if (sseAvail()) pcmpstr(b, imm); return; }
  if (sse41Op) { if (sseAvail()) sse41(op & 0xff, b, imm); return; }
  if (pfx == 0) {
    if (!mmxAvail()) return;
    if (!loadMmSrc()) return;
    const d = mmPtr(modReg);
    if (op == 0x13a) palignr(d, SRC, 8, imm); else ssse3(b, d, SRC, 8);
    store<u64>(d, load<u64>(RES)); mmxEnter(); mmWritten(modReg);
    return;
  }
  if (!sseAvail()) return;
  if (!loadSrc128(true)) return;
  const d = xmmPtr(modReg);
  if (op == 0x13a) palignr(d, SRC, 16, imm); else ssse3(b, d, SRC, 16);
  copy16(d, RES);
}

// 0F 38 F0/F1 MOVBE (no F2/F3; the F2 forms are SSE4.2 CRC32, in sse42.ts).
function movbe(b: u32): void {
  if (repPrefix != 0 || modMod == 3) { raiseUD(); return; }
  const sz = opSize;
  if (b == 0xf0) {
    const v = readMsz(sz);
    if (faultPending) return;
    setRegSized(modReg, sz, bswapN(v, sz), rexPresent);
  } else {
    writeMsz(sz, bswapN(getRegSized(modReg, sz, rexPresent), sz));
  }
}
function bswapN(v: u64, sz: u32): u64 {
  if (sz == 8) return bswap<u64>(v);
  if (sz == 4) return <u64>bswap<u32>(<u32>v);
  return <u64>bswap<u16>(<u16>v);
}

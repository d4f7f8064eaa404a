// Shared helpers for the SSE/SSE2 handlers: availability checks (#UD/#NM), 128/64/32-bit
// operand access into scratch buffers, and the MXCSR exception accumulator.
import * as S from "../state";
import { xmmPtr, CR0_EM, CR0_TS, CR4_OSFXSR, CR4_OSXMMEXCPT } from "../state";
import { raiseFault, raiseUD, raiseNM, raiseGP, faultPending, EXC_XM } from "../fault";
import { modMod, modRm, modReg, eaSeg, eaAddr } from "../decode";
import { linearAddr, BAD_ADDR } from "../segmem";
import { readLin, writeLin, readLinBytes, writeLinBytes } from "../../mmu/access";

// Scratch: SRC holds the source operand (register copy or memory), RES the result.
export const SRC: usize = memory.data(16, 16);
export const RES: usize = memory.data(16, 16);
export const TMP: usize = memory.data(16, 16);

// Mandatory-prefix class of the current instruction: 0 none, 1 66, 2 F3, 3 F2.
// SDM Vol.2 2.1.2: F2/F3 take precedence over 66 as the mandatory prefix.
export let pfx: u32 = 0;
export function setPfx(v: u32): void { pfx = v; }

// SDM Vol.3 Table 13-8 / Vol.2 "SIMD floating-point exceptions" class tables:
// CR0.EM=1 or CR4.OSFXSR=0 -> #UD, then CR0.TS=1 -> #NM.
export function sseAvail(): bool {
  if ((S.cr0 & CR0_EM) != 0 || (S.cr4 & CR4_OSFXSR) == 0) { raiseUD(); return false; }
  if ((S.cr0 & CR0_TS) != 0) { raiseNM(); return false; }
  return true;
}

// ---- register access ---------------------------------------------------------
@inline export function xlo(r: u32): u64 { return load<u64>(xmmPtr(r)); }
@inline export function xhi(r: u32): u64 { return load<u64>(xmmPtr(r) + 8); }
@inline export function setXlo(r: u32, v: u64): void { store<u64>(xmmPtr(r), v); }
@inline export function setXhi(r: u32, v: u64): void { store<u64>(xmmPtr(r) + 8, v); }
@inline export function copy16(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src)); store<u64>(dst + 8, load<u64>(src + 8));
}

// ---- memory operands -----------------------------------------------------------
// Linear address of a `size`-byte memory operand, checking segment limits and, if `align`,
// the SDM's alignment rule for 16-byte aligned forms (#GP(0), SDM Vol.2 MOVAPS etc.).
// Paging is checked by the access itself (readLinBytes/writeLinBytes are all-or-nothing).
export function memLin(size: u32, write: bool, align: u32): u64 {
  const off = eaAddr();
  const lin = linearAddr(eaSeg, off, size, write);
  if (lin == BAD_ADDR) return BAD_ADDR;
  if (align != 0 && (lin & <u64>(align - 1)) != 0) { raiseGP(0); return BAD_ADDR; }
  return lin;
}

// Read 16 bytes at the memory operand into dst.
export function readM128(dst: usize, align: bool): bool {
  const lin = memLin(16, false, align ? 16 : 0);
  if (lin == BAD_ADDR) return false;
  return readLinBytes(lin, dst, 16);
}
export function writeM128(src: usize, align: bool): bool {
  const lin = memLin(16, true, align ? 16 : 0);
  if (lin == BAD_ADDR) return false;
  return writeLinBytes(lin, src, 16);
}
export function readMsz(size: u32): u64 {
  const lin = memLin(size, false, 0);
  if (lin == BAD_ADDR) return 0;
  return readLin(lin, size);
}
export function writeMsz(size: u32, v: u64): bool {
  const lin = memLin(size, true, 0);
  if (lin == BAD_ADDR) return false;
  writeLin(lin, size, v);
  return !faultPending;
}

// Source operand xmm/m128 into SRC.
export function loadSrc128(align: bool): bool {
  if (modMod == 3) { copy16(SRC, xmmPtr(modRm)); return true; }
  return readM128(SRC, align);
}
// Source operand xmm/m64 (low quadword) into SRC; upper half of SRC zeroed for memory.
export function loadSrc64(): bool {
  if (modMod == 3) { copy16(SRC, xmmPtr(modRm)); return true; }
  const v = readMsz(8);
  if (faultPending) return false;
  store<u64>(SRC, v); store<u64>(SRC + 8, 0);
  return true;
}
export function loadSrc32(): bool {
  if (modMod == 3) { copy16(SRC, xmmPtr(modRm)); return true; }
  const v = readMsz(4);
  if (faultPending) return false;
  store<u64>(SRC, v); store<u64>(SRC + 8, 0);
  return true;
}

// ---- MXCSR ---------------------------------------------------------------------
export const X_IE: u32 = 1, X_DE: u32 = 2, X_ZE: u32 = 4, X_OE: u32 = 8, X_UE: u32 = 0x10, X_PE: u32 = 0x20;
export const MXCSR_DAZ: u32 = 0x40, MXCSR_FTZ: u32 = 0x8000;
export const MXCSR_MASK: u32 = 0xffff; // supported bits (DAZ included), FXSAVE MXCSR_MASK

// Exception flags raised by the current instruction (all elements).
export let exc: u32 = 0;
@inline export function addExc(f: u32): void { exc |= f; }
export function clearExc(): void { exc = 0; }
export function setExc(v: u32): void { exc = v; }
@inline export function rcMode(): u32 { return (S.mxcsr >> 13) & 3; }
@inline export function excMasked(f: u32): bool { return ((S.mxcsr >> 7) & f) == f; }

// Merge this instruction's flags into MXCSR. If any raised flag is unmasked, signal
// #XM (or #UD when CR4.OSXMMEXCPT=0, SDM 11.5.1) and return false: the destination
// must then stay unchanged (SDM 11.5.2).
export function fpCommit(): bool { return fpCommitStage(true); }
// `suppress`: an unmasked pre-computation exception (IE, DE, ZE) stops the instruction before
// any post-computation flags (OE, UE, PE) are recorded, for every element (checked on the CPU).
// DPPS/DPPD apply this per stage (products, then sums), as the CPU does.
export function fpCommitStage(suppress: bool): bool {
  const e = exc;
  if (e == 0) return true;
  const masks = (S.mxcsr >> 7) & 0x3f;
  let f = e;
  if (suppress && (f & 7 & ~masks) != 0) f &= 7;
  S.setMxcsr(S.mxcsr | f);
  if ((f & ~masks) != 0) {
    if ((S.cr4 & CR4_OSXMMEXCPT) != 0) raiseFault(EXC_XM, 0, false);
    else raiseUD();
    return false;
  }
  return true;
}

// Register file helpers used by several files.
@inline export function regPtr(): usize { return xmmPtr(modReg); }
@inline export function rmPtr(): usize { return xmmPtr(modRm); }

// Group 15 (0F AE): FXSAVE/FXRSTOR, LDMXCSR/STMXCSR, XSAVE/XRSTOR/XSAVEOPT (x87|SSE only),
// LFENCE/MFENCE/SFENCE, CLFLUSH.
import * as S from "../state";
import { xmmPtr, FPR, code64, CR0_EM, CR0_TS, CR4_OSXSAVE, RAX, RDX, getReg32 } from "../state";
import { faultPending, raiseUD, raiseNM, raiseGP } from "../fault";
import { modMod, modReg, rexW, lockPrefix } from "../decode";
import { readLinBytes, writeLinBytes, probeWrite, translate, ACC_READ } from "../../mmu/access";
import { BAD_ADDR } from "../segmem";
import { pfx, memLin, readMsz, writeMsz, sseAvail, MXCSR_MASK } from "./sse_util";
import { fpuSwFull, fpuTagFor, fpuSetTop } from "./x87";

const BUF: usize = memory.data(576, 64);

// Classic FXSAVE image (SDM Vol.1 Table 10-2) of the x87 + MXCSR part (bytes 0..159).
function saveX87(b: usize, w64: bool): void {
  store<u16>(b, <u16>S.fpuCw);
  store<u16>(b + 2, <u16>fpuSwFull());
  let ab: u32 = 0; // abridged tag: 1 = not empty, by physical register
  for (let i: u32 = 0; i < 8; i++) if (((S.fpuTw >> (2 * i)) & 3) != 3) ab |= 1 << i;
  store<u8>(b + 4, <u8>ab);
  store<u8>(b + 5, 0);
  store<u16>(b + 6, 0);             // FOP (not tracked)
  store<u64>(b + 8, 0);             // FIP / FCS (not tracked)
  store<u64>(b + 16, 0);            // FDP / FDS
  // ST(i) = physical register (TOP + i) & 7
  for (let i: u32 = 0; i < 8; i++) {
    const src = FPR + (<usize>((S.fpuTop + i) & 7) << 4);
    store<u64>(b + 32 + (<usize>i << 4), load<u64>(src));
    store<u64>(b + 40 + (<usize>i << 4), <u64>load<u16>(src + 8));
  }
}
function saveMxcsr(b: usize): void { store<u32>(b + 24, S.mxcsr); store<u32>(b + 28, MXCSR_MASK); }
function nXmm(): u32 { return code64 ? 16 : 8; }
function saveXmm(b: usize): void {
  for (let i: u32 = 0; i < nXmm(); i++) {
    store<u64>(b + 160 + (<usize>i << 4), load<u64>(xmmPtr(i)));
    store<u64>(b + 168 + (<usize>i << 4), load<u64>(xmmPtr(i) + 8));
  }
}
function restoreX87(b: usize): void {
  S.setFpuCw(<u32>load<u16>(b));
  const sw = <u32>load<u16>(b + 2);
  S.setFpuSw(sw & ~0x3800);
  fpuSetTop((sw >> 11) & 7);
  for (let i: u32 = 0; i < 8; i++) {
    const dst = FPR + (<usize>((S.fpuTop + i) & 7) << 4);
    store<u64>(dst, load<u64>(b + 32 + (<usize>i << 4)));
    store<u64>(dst + 8, <u64>load<u16>(b + 40 + (<usize>i << 4)));
  }
  // Rebuild the full tag word from the abridged one and the register contents.
  const ab = <u32>load<u8>(b + 4);
  let tw: u32 = 0;
  for (let i: u32 = 0; i < 8; i++) {
    const t: u32 = (ab >> i) & 1 ? fpuTagFor(FPR + (<usize>i << 4)) : 3;
    tw |= t << (2 * i);
  }
  S.setFpuTw(tw);
}
function restoreXmm(b: usize): void {
  for (let i: u32 = 0; i < nXmm(); i++) {
    store<u64>(xmmPtr(i), load<u64>(b + 160 + (<usize>i << 4)));
    store<u64>(xmmPtr(i) + 8, load<u64>(b + 168 + (<usize>i << 4)));
  }
}
function initX87(): void {
  S.setFpuCw(0x37f); S.setFpuSw(0); fpuSetTop(0); S.setFpuTw(0xffff);
  for (let i: usize = 0; i < 128; i += 8) store<u64>(FPR + i, 0);
}
function initXmm(): void { for (let i: u32 = 0; i < nXmm(); i++) { store<u64>(xmmPtr(i), 0); store<u64>(xmmPtr(i) + 8, 0); } }

// Copy between guest memory at lin (segment-checked) and BUF. Stores are preceded by a
// probeWrite of the whole area so a #PF leaves memory untouched.
function memToBuf(lin: u64, n: u32): bool { return readLinBytes(lin, BUF, n); }
function bufToMem(lin: u64, off: u32, n: u32): bool {
  let a = lin + <u64>off;
  if (!code64) a &= 0xffffffff;
  return writeLinBytes(a, BUF + <usize>off, n);
}

// SDM Vol.2 FXSAVE: #NM if CR0.TS or CR0.EM; #GP if not 16-byte aligned.
function fxsave(): void {
  if ((S.cr0 & (CR0_TS | CR0_EM)) != 0) { raiseNM(); return; }
  const lin = memLin(512, true, 16);
  if (lin == BAD_ADDR) return;
  if (!probeWrite(lin, 512)) return;
  saveX87(BUF, rexW);
  saveMxcsr(BUF);
  saveXmm(BUF);
  if (!bufToMem(lin, 0, 160)) return;
  bufToMem(lin, 160, nXmm() * 16);
}
function fxrstor(): void {
  if ((S.cr0 & (CR0_TS | CR0_EM)) != 0) { raiseNM(); return; }
  const lin = memLin(512, false, 16);
  if (lin == BAD_ADDR) return;
  if (!memToBuf(lin, 416)) return;
  const mx = load<u32>(BUF + 24);
  if ((mx & ~MXCSR_MASK) != 0) { raiseGP(0); return; } // SDM: reserved MXCSR bits -> #GP(0)
  restoreX87(BUF);
  S.setMxcsr(mx);
  restoreXmm(BUF);
}

// XINUSE (SDM 13.6): component 0 is in its initial configuration when FCW=37F, FSW=0,
// all tags empty; component 1 when every XMM register is zero (MXCSR is tracked separately).
function xinuse(): u64 {
  let r: u64 = 0;
  if (S.fpuCw != 0x37f || fpuSwFull() != 0 || S.fpuTw != 0xffff) r |= 1;
  for (let i: u32 = 0; i < nXmm(); i++) if ((load<u64>(xmmPtr(i)) | load<u64>(xmmPtr(i) + 8)) != 0) { r |= 2; break; }
  return r;
}

function xsaveCommon(restore: bool): void {
  // SDM Vol.2 XSAVE: #UD if CR4.OSXSAVE=0 (LOCK checked by the caller); #NM if CR0.TS.
  if ((S.cr4 & CR4_OSXSAVE) == 0) { raiseUD(); return; }
  if ((S.cr0 & CR0_TS) != 0) { raiseNM(); return; }
  const rfbm: u64 = ((<u64>getReg32(RDX) << 32) | <u64>getReg32(RAX)) & S.xcr0;
  const lin = memLin(576, !restore, 64);
  if (lin == BAD_ADDR) return;
  if (!restore && !probeWrite(lin, 576)) return;
  if (!memToBuf(lin, 576)) return;  // header (and, for XRSTOR, the data)
  if (!restore) {
    if ((rfbm & 1) != 0) saveX87(BUF, rexW);
    if ((rfbm & 6) != 0) saveMxcsr(BUF);
    if ((rfbm & 2) != 0) saveXmm(BUF);
    const bv = load<u64>(BUF + 512);
    store<u64>(BUF + 512, (bv & ~rfbm) | (xinuse() & rfbm));
    // Write only the parts XSAVE writes: x87 image, MXCSR, XMM, XSTATE_BV.
    if ((rfbm & 1) != 0) { if (!bufToMem(lin, 0, 24)) return; if (!bufToMem(lin, 32, 128)) return; }
    if ((rfbm & 6) != 0) { if (!bufToMem(lin, 24, 8)) return; }
    if ((rfbm & 2) != 0) { if (!bufToMem(lin, 160, nXmm() * 16)) return; }
    bufToMem(lin, 512, 8);
    return;
  }
  // XRSTOR (standard form only, SDM 13.8.1): #GP if XSTATE_BV has bits outside XCR0, or
  // bytes 23:8 of the header (XCOMP_BV...) are not zero (compaction not supported).
  const bv = load<u64>(BUF + 512);
  if ((bv & ~S.xcr0) != 0 || load<u64>(BUF + 520) != 0 || load<u64>(BUF + 528) != 0) { raiseGP(0); return; }
  const mx = load<u32>(BUF + 24);
  if ((rfbm & 6) != 0 && (mx & ~MXCSR_MASK) != 0) { raiseGP(0); return; }
  if ((rfbm & 1) != 0) { if ((bv & 1) != 0) restoreX87(BUF); else initX87(); }
  if ((rfbm & 6) != 0) S.setMxcsr(mx);
  if ((rfbm & 2) != 0) { if ((bv & 2) != 0) restoreXmm(BUF); else initXmm(); }
}

export function group15(): void {
  if (lockPrefix) { raiseUD(); return; }
  const r = modReg & 7;
  if (modMod == 3) {
    // LFENCE (/5), MFENCE (/6), SFENCE (/7): ordering is trivially satisfied here.
    // F3 /0-/3 (RDFSBASE...) are not advertised: #UD.
    if (pfx == 0 && r >= 5) return;
    raiseUD();
    return;
  }
  if (pfx == 1 && r == 7) { clflush(); return; }   // CLFLUSHOPT
  if (pfx != 0) { raiseUD(); return; }
  switch (r) {
    case 0: fxsave(); return;
    case 1: fxrstor(); return;
    case 2: case 3: {
      // SDM LDMXCSR/STMXCSR: #UD if CR0.EM or !CR4.OSFXSR, #NM if CR0.TS.
      if (!sseAvail()) return;
      if (r == 3) { writeMsz(4, <u64>S.mxcsr); return; }
      const v = <u32>readMsz(4);
      if (faultPending) return;
      if ((v & ~MXCSR_MASK) != 0) { raiseGP(0); return; }
      S.setMxcsr(v);
      return;
    }
    case 4: xsaveCommon(false); return;
    case 5: xsaveCommon(true); return;
    case 6: xsaveCommon(false); return;  // XSAVEOPT: writing everything is allowed
    default: clflush(); return;
  }
}

// CLFLUSH m8: only the access checks (segment, canonical, paging as a read).
function clflush(): void {
  const lin = memLin(1, false, 0);
  if (lin == BAD_ADDR) return;
  translate(lin, ACC_READ); // raises #PF if unmapped; never touches MMIO

}

// Power-on (RESET) values of the x87/SSE state (SDM Vol.3 Table 10-1): FCW 0040H, FSW 0,
// FTW 5555H (all registers +0.0), MXCSR 1F80H, XMM registers 0. INIT leaves them unchanged.
export function resetFpuState(): void {
  S.setFpuCw(0x40); S.setFpuSw(0); fpuSetTop(0); S.setFpuTw(0x5555);
  for (let i: usize = 0; i < 128; i += 8) store<u64>(FPR + i, 0);
  for (let i: u32 = 0; i < 16; i++) { store<u64>(xmmPtr(i), 0); store<u64>(xmmPtr(i) + 8, 0); }
  S.setMxcsr(0x1f80);
}

// Port I/O (SDM Vol.1 ch.19): IN/OUT/INS/OUTS with IOPL and the TSS I/O permission
// bitmap (SDM Vol.1 19.5.2), calling the host's portIn/portOut.
import * as S from "../state";
import { TR, ES, RAX, RCX, RDX, RSI, RDI } from "../state";
import { faultPending, raiseGP } from "../fault";
import { getIOPL, getDF } from "../flags";
import * as Dec from "../decode";
import { readMem, writeMem, linearAddr, BAD_ADDR } from "../segmem";
import { portIn, portOut } from "../../host";
import { sysRead } from "../descriptors";
import { stopRequested } from "../run";
import { ioBpMask, ioBreakpoints } from "../control";
import { addDbTrap } from "../interrupts";
import { nonRoot } from "../../vmx/vstate";
import { exitIo } from "../../vmx/intercept";

// SDM 17.2.4: I/O breakpoints (CR4.DE, DR7 R/W = 10) report a #DB trap after the instruction.
@inline function ioBp(port: u32, size: u32): void {
  if (ioBpMask != 0) addDbTrap(ioBreakpoints(port, size));
}

// SDM Vol.1 19.5.1/19.5.2: returns false with #GP(0) raised when the access is denied.
export function ioAllowed(port: u32, size: u32): bool {
  if (!S.protMode || (!S.vm86 && S.cpl <= getIOPL())) return true;
  const ar = S.segAttr(TR);
  const limit = S.segLimit(TR);
  // Only a 32/64-bit TSS has a bitmap.
  if ((ar & 0xf) != 9 && (ar & 0xf) != 0xb || limit < 0x67) { raiseGP(0); return false; }
  const base = S.segBase(TR);
  const mapOff = <u32>sysRead(base + 0x66, 2);
  if (faultPending) return false;
  const byteOff = mapOff + (port >> 3);
  if (byteOff + 1 > limit) { raiseGP(0); return false; }
  const bits = <u32>sysRead(base + <u64>byteOff, 2);
  if (faultPending) return false;
  const mask = ((1 << size) - 1) << (port & 7);
  if ((bits & mask) != 0) { raiseGP(0); return false; }
  return true;
}

@inline function ioSize(byteOp: bool): u32 { return byteOp ? 1 : (Dec.opSize == 2 ? 2 : 4); }

function storeAcc(size: u32, v: u32): void {
  if (size == 4) S.setReg32(RAX, v);
  else if (size == 2) S.setReg16(RAX, v & 0xffff);
  else S.setReg8(RAX, v & 0xff, false);
}

// E4/E5 (imm8 port), EC/ED (DX).
export function inOp(byteOp: bool, immPort: bool): void {
  const port = immPort ? Dec.fetch8() : S.getReg16(RDX);
  if (faultPending) return;
  const size = ioSize(byteOp);
  if (!ioAllowed(port, size)) return;
  if (nonRoot && exitIo(port, size, true, false, false, immPort)) return;
  storeAcc(size, portIn(port, size));
  ioBp(port, size);
}
// E6/E7, EE/EF.
export function outOp(byteOp: bool, immPort: bool): void {
  const port = immPort ? Dec.fetch8() : S.getReg16(RDX);
  if (faultPending) return;
  const size = ioSize(byteOp);
  if (!ioAllowed(port, size)) return;
  if (nonRoot && exitIo(port, size, false, false, false, immPort)) return;
  const v = S.getReg32(RAX);
  portOut(port, size, size == 4 ? v : v & ((1 << (size * 8)) - 1));
  ioBp(port, size);
}

// Per-step iteration cap for REP INS/OUTS: the instruction restarts (RIP unchanged)
// so interrupts and the host's slice end are still honoured on huge counts.
const REP_CHUNK: u32 = 1024;

function getCount(): u64 {
  const a = Dec.adSize;
  const c = S.getReg64(RCX);
  return a == 8 ? c : (a == 4 ? c & 0xffffffff : c & 0xffff);
}
function setIdx(r: u32, v: u64): void {
  const a = Dec.adSize;
  if (a == 8) S.setReg64(r, v); else if (a == 4) S.setReg32(r, <u32>v); else S.setReg16(r, <u32>v);
}
function getIdx(r: u32): u64 {
  const a = Dec.adSize;
  const v = S.getReg64(r);
  return a == 8 ? v : (a == 4 ? v & 0xffffffff : v & 0xffff);
}

// 6C/6D INS: port DX -> ES:[rDI].
export function insOp(byteOp: bool): void {
  const size = ioSize(byteOp);
  const port = S.getReg16(RDX);
  if (!ioAllowed(port, size)) return;
  if (nonRoot && exitIo(port, size, true, true, Dec.repPrefix != 0, false)) return;
  const rep = Dec.repPrefix != 0;
  let n: u64 = rep ? getCount() : 1;
  const step: u64 = getDF() ? <u64>(0 - <i64>size) : <u64>size;
  let iters: u32 = 0;
  while (n > 0) {
    const di = getIdx(RDI);
    // Check the destination before the port read (the read may have side effects).
    if (linearAddr(ES, di, size, true) == BAD_ADDR) return;
    const v = portIn(port, size);
    writeMem(ES, di, size, <u64>v);
    if (faultPending) return;
    ioBp(port, size);
    setIdx(RDI, di + step);
    n--;
    if (rep) setIdx(RCX, n);
    // Restart later (RIP unchanged) after a chunk or when the host asked to stop (e.g. an OUT
    // to a debug-exit port) so the remaining iterations do not run past the stop.
    if (rep && n > 0 && (++iters >= REP_CHUNK || stopRequested)) { Dec.setNextRip(Dec.instrStart); return; }
  }
}
// 6E/6F OUTS: DS(seg override):[rSI] -> port DX.
export function outsOp(byteOp: bool): void {
  const size = ioSize(byteOp);
  const port = S.getReg16(RDX);
  if (!ioAllowed(port, size)) return;
  if (nonRoot && exitIo(port, size, false, true, Dec.repPrefix != 0, false)) return;
  const rep = Dec.repPrefix != 0;
  let n: u64 = rep ? getCount() : 1;
  const step: u64 = getDF() ? <u64>(0 - <i64>size) : <u64>size;
  const seg = Dec.dsSeg();
  let iters: u32 = 0;
  while (n > 0) {
    const si = getIdx(RSI);
    const v = <u32>readMem(seg, si, size);
    if (faultPending) return;
    portOut(port, size, v);
    ioBp(port, size);
    setIdx(RSI, si + step);
    n--;
    if (rep) setIdx(RCX, n);
    // Restart later (RIP unchanged) after a chunk or when the host asked to stop (e.g. an OUT
    // to a debug-exit port) so the remaining iterations do not run past the stop.
    if (rep && n > 0 && (++iters >= REP_CHUNK || stopRequested)) { Dec.setNextRip(Dec.instrStart); return; }
  }
}

// String instructions MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE (SDM Vol.2 4.3,
// "REP/REPE/REPZ/REPNE/REPNZ"). The count/index registers follow the address size.
// A repeated instruction runs at most REP_CHUNK iterations per step and then leaves
// nextRip at the instruction so it resumes (interrupts stay timely); registers always
// reflect the completed iterations, also when an iteration faults.
import * as D from "../decode";
import { getReg64, getReg32, getReg16, setReg64, setReg32, setReg16, getRegSized, setRegSized, RAX, RCX, RSI, RDI, ES } from "../state";
import { faultPending } from "../fault";
import { readMem, writeMem, linearAddr, BAD_ADDR } from "../segmem";
import { code64, segBase, segLimit, segAttr, FS, AR_S, AR_TYPE } from "../state";
import { tlbHostRead, tlbHostWrite } from "../../mmu/access";
import { getDF, setLazy, LF_SUB } from "../flags";
import * as F from "../flags";
import { pmuNotRetired } from "../pmu";

const REP_CHUNK: u32 = 4096;

@inline function getA(r: u32, a: u32): u64 {
  return a == 8 ? getReg64(r) : (a == 4 ? <u64>getReg32(r) : <u64>getReg16(r));
}
@inline function setA(r: u32, a: u32, v: u64): void {
  if (a == 8) setReg64(r, v); else if (a == 4) setReg32(r, <u32>v); else setReg16(r, <u32>v);
}

// kind: 0 MOVS, 1 CMPS, 2 STOS, 3 LODS, 4 SCAS.
export function stringOp(kind: u32, size: u32): void {
  const a = D.adSize;
  const rep = D.repPrefix != 0;
  const delta: u64 = getDF() ? <u64>(-<i64>size) : <u64>size;
  const srcSeg = D.dsSeg();
  let cnt: u64 = 0;
  if (rep) {
    cnt = getA(RCX, a);
    if (cnt == 0) return;
  }
  let n: u32 = 0;
  const block = rep && (kind == 0 || kind == 2) && delta == <u64>size;
  while (true) {
    if (block) {
      const k = blockRun(kind, size, a, cnt, srcSeg, REP_CHUNK - n);
      if (k == FAULTED) return;   // the first element's segment check faulted
      if (k != 0) {
        cnt -= k;
        setA(RCX, a, cnt);
        if (cnt == 0) return;
        n += <u32>k;
        if (n >= REP_CHUNK) { D.nextRip = D.instrStart; pmuNotRetired(); return; }
        continue;
      }
    }
    switch (kind) {
      case 0: {
        const si = getA(RSI, a), di = getA(RDI, a);
        const v = readMem(srcSeg, si, size);
        if (faultPending) return;
        writeMem(ES, di, size, v);
        if (faultPending) return;
        setA(RSI, a, si + delta); setA(RDI, a, di + delta);
        break;
      }
      case 1: {
        const si = getA(RSI, a), di = getA(RDI, a);
        const x = readMem(srcSeg, si, size);
        if (faultPending) return;
        const y = readMem(ES, di, size);
        if (faultPending) return;
        setA(RSI, a, si + delta); setA(RDI, a, di + delta);
        setLazy(LF_SUB, size, x, y, x - y);
        break;
      }
      case 2: {
        const di = getA(RDI, a);
        writeMem(ES, di, size, getRegSized(RAX, size, false));
        if (faultPending) return;
        setA(RDI, a, di + delta);
        break;
      }
      case 3: {
        const si = getA(RSI, a);
        const v = readMem(srcSeg, si, size);
        if (faultPending) return;
        setRegSized(RAX, size, v, false);
        setA(RSI, a, si + delta);
        break;
      }
      default: {
        const di = getA(RDI, a);
        const y = readMem(ES, di, size);
        if (faultPending) return;
        const x = getRegSized(RAX, size, false);
        setA(RDI, a, di + delta);
        setLazy(LF_SUB, size, x, y, x - y);
        break;
      }
    }
    if (!rep) return;
    cnt--;
    setA(RCX, a, cnt);
    if ((cnt & (a == 8 ? 0xffffffffffffffff : (a == 4 ? 0xffffffff : 0xffff))) == 0) return;
    if (kind == 1 || kind == 4) {
      // REPE (F3) stops when ZF=0, REPNE (F2) when ZF=1. The last op was a SUB.
      const m: u64 = size == 8 ? 0xffffffffffffffff : (((<u64>1) << (<u64>size * 8)) - 1);
      const eq = (F.fR & m) == 0;
      if (D.repPrefix == 0xf3 ? !eq : eq) return;
    }
    if (++n >= REP_CHUNK) { D.nextRip = D.instrStart; pmuNotRetired(); return; }
  }
}


// ---- block fast path for forward REP MOVS / REP STOS ----------------------------------
// Runs, directly on host memory, the elements that stay inside one page of each operand,
// inside the segment limits and inside the address size, when the TLB already allows the
// access (so A/D bits, permissions, MMIO and data-breakpoint pages keep the element path,
// which also installs the entries). The result is exactly the element-by-element one,
// including overlapping MOVS. Returns the elements done, 0 = use the element path,
// FAULTED = a fault is pending.

// Offsets [off, off + k*size) of seg stay valid for k elements; returns that k bound.
function segElems(seg: u32, off: u64, size: u32, a: u32): u64 {
  const amask: u64 = a == 8 ? 0xffffffffffffffff : (a == 4 ? 0xffffffff : 0xffff);
  let maxOff = amask;
  if (!code64) {
    const attr = segAttr(seg);
    if ((attr & AR_S) != 0 && (attr & AR_TYPE & 0xc) == 4) return 0;   // expand-down: element path
    const lim = <u64>segLimit(seg);
    if (lim < maxOff) maxOff = lim;
  }
  if (off > maxOff) return 0;
  return (maxOff - off + 1) / <u64>size;
}

// Elements of `size` bytes from lin to the end of its page.
@inline function pageElems(lin: u64, size: u32): u64 { return (0x1000 - (lin & 0xfff)) / <u64>size; }

function linOf(seg: u32, off: u64, size: u32, write: bool): u64 {
  if (code64) return seg >= FS ? off + segBase(seg) : off;   // canonical: implied by a TLB hit
  return linearAddr(seg, off, size, write);
}

// The segment check of the first element raised #GP/#SS (the element path would too).
const FAULTED: u64 = u64.MAX_VALUE;

function blockRun(kind: u32, size: u32, a: u32, cnt: u64, srcSeg: u32, budget: u32): u64 {
  const di = getA(RDI, a);
  let k = cnt < <u64>budget ? cnt : <u64>budget;
  let e = segElems(ES, di, size, a);
  if (e < k) k = e;
  if (k < 2) return 0;
  const dl = linOf(ES, di, size, true);
  if (dl == BAD_ADDR) return FAULTED;
  e = pageElems(dl, size);
  if (e < k) k = e;
  if (k < 2) return 0;
  const dh = tlbHostWrite(dl, size);
  if (dh == 0) return 0;
  const bytes = <usize>(k * <u64>size);
  if (kind == 2) {
    const v = getRegSized(RAX, size, false);
    if (size == 1) memory.fill(dh, <u8>v, bytes);
    else for (let p = dh, end = dh + bytes; p < end; p += size) {
      if (size == 8) store<u64>(p, v); else if (size == 4) store<u32>(p, <u32>v); else store<u16>(p, <u16>v);
    }
    setA(RDI, a, di + <u64>bytes);
    return k;
  }
  const si = getA(RSI, a);
  e = segElems(srcSeg, si, size, a);
  if (e < k) k = e;
  if (k < 2) return 0;
  const sl = linOf(srcSeg, si, size, false);
  if (sl == BAD_ADDR) return FAULTED;
  e = pageElems(sl, size);
  if (e < k) k = e;
  if (k < 2) return 0;
  const sh = tlbHostRead(sl, size);
  if (sh == 0) return 0;
  const n = <usize>(k * <u64>size);
  if (dh <= sh || dh >= sh + n) memory.copy(dh, sh, n);   // same result as the element loop
  else {
    // Destination overlaps ahead of the source: the element loop re-reads what it wrote.
    for (let i: usize = 0; i < n; i += size) {
      if (size == 8) store<u64>(dh + i, load<u64>(sh + i));
      else if (size == 4) store<u32>(dh + i, load<u32>(sh + i));
      else if (size == 2) store<u16>(dh + i, load<u16>(sh + i));
      else store<u8>(dh + i, load<u8>(sh + i));
    }
  }
  setA(RSI, a, si + <u64>n);
  setA(RDI, a, di + <u64>n);
  return k;
}

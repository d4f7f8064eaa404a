// String instructions MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE (SDM Vol.2 4.3,
// "REP/REPE/REPZ/REPNE/REPNZ"). The count/index registers follow the address size.
// A repeated instruction runs at most REP_CHUNK iterations per step and then leaves
// nextRip at the instruction so it resumes (interrupts stay timely); registers always
// reflect the completed iterations, also when an iteration faults.
import * as D from "../decode";
import { getReg64, getReg32, getReg16, setReg64, setReg32, setReg16, getRegSized, setRegSized, RAX, RCX, RSI, RDI, ES } from "../state";
import { faultPending } from "../fault";
import { readMem, writeMem } from "../segmem";
import { getDF, setLazy, LF_SUB } from "../flags";
import * as F from "../flags";

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
  while (true) {
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
    if (++n >= REP_CHUNK) { D.nextRip = D.instrStart; return; }
  }
}


// The run loop's hot path for 64-bit mode (cpu/run.ts): hotStep(r) executes the instruction
// at RIP r if it is one of the common integer shapes below, without legacy prefixes (except
// the 66/2E padding in front of multi-byte NOPs), and returns the next RIP. Anything else —
// or any case that would fault, miss the TLB, leave the canonical range, divide by zero or
// overflow — returns NOT_HOT with nothing changed, and the full decoder (cpu/exec.ts) runs it.
// Nothing here uses the decode context (cpu/decode.ts globals): the caller keeps RIP in a
// local across a run of hot instructions. Semantics are exactly those of the general handlers
// (ops/integer.ts, ops/int_bits.ts, ops/int_alu.ts); tests/as/hotpath.spec.ts compares them.
//
// Shapes: ALU (00-3B forms 0-3, rAX/AL immediate forms), group 1 (80 81 83), TEST, MOV
// (88-8B, C6, C7, B0-BF), LEA, MOVSXD, IMUL (69 6B 0F AF), shifts/rotates (C0 C1 D0-D3),
// group 3 (F6 F7: TEST NOT NEG MUL IMUL DIV IDIV), INC/DEC, CALL/JMP/PUSH r/m (FF), PUSH/POP r,
// CALL rel32, RET, LEAVE, CWDE/CDQE, CDQ/CQO, Jcc rel8/rel32, JMP rel8/rel32, CMOVcc, SETcc,
// MOVZX/MOVSX, NOP (90, 0F 18-1F, with 66/2E padding), in register and TLB-hit memory forms.
import * as D from "./decode";
import * as F from "./flags";
import { setLazy, setLazyCarry, setLazyIncDec, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC } from "./flags";
import { getReg64, setReg64, getReg32, setReg32, getReg16, setReg16, getReg8, setReg8, RAX, RCX, RDX, RSP, RBP, XMM } from "./state";
import * as S from "./state";
import { faultPending, clearFault } from "./fault";
import { isCanonical } from "./segmem";
import { shiftOp, mulDivAcc, imulTrunc } from "./ops/int_alu";
import { TLB, TLB_MASK, E_KEY, E_TAG, E_PERM, E_HOST, curTag, permShift } from "../mmu/tlb";

// TLB hit test of mmu/access.ts hitHost, with the permission bit for the current class
// (pbit = access bit << permShift()) and the tag passed in: neither changes during a hot run.
@inline export function tlbHit(lin: u64, size: u32, pbit: u32, tag: u32): usize {
  const e = TLB + ((<usize>(lin >> 12) & TLB_MASK) << 5);
  if (load<u64>(e + E_KEY) == ((lin + <u64>(size - 1)) & ~(<u64>0xfff)) &&
      load<u32>(e + E_TAG) == tag && (load<u32>(e + E_PERM) & pbit) != 0) {
    return <usize>load<u32>(e + E_HOST) + (<usize>lin & 0xfff);
  }
  return 0;
}

export const NOT_HOT: u64 = u64.MAX_VALUE;

// Class of each one-byte opcode (after an optional REX): 0 = not hot.
const HC_MODRM: u32 = 1, HC_ACC: u32 = 2, HC_JCC8: u32 = 3, HC_0F: u32 = 4, HC_JMP: u32 = 5;
const HC_PUSH: u32 = 6, HC_POP: u32 = 7, HC_MOVI: u32 = 8, HC_MOVI8: u32 = 9, HC_CALL: u32 = 10;
const HC_RET: u32 = 11, HC_LEAVE: u32 = 12, HC_CXX: u32 = 13, HC_TESTI: u32 = 14, HC_PFX: u32 = 15;
const HC_NOP: u32 = 16, HC_INCDEC: u32 = 17;
const HOT_CLASS: usize = memory.data<u8>([1, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 2, 0, 4, 1, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 2, 15, 0, 1, 1, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 17, 6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 1, 0, 0, 15, 0, 0, 1, 0, 1, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 13, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 14, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8, 1, 1, 0, 11, 0, 0, 1, 1, 0, 12, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 5, 0, 5, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
// ModRM shapes, index opcode (0F map at 0x100): bit 7 hot; bits 1:0 memory access (0 none,
// 1 read, 2 write or read-modify-write, 3 depends on ModRM.reg); bits 3:2 memory operand size
// (0 operand size, 1 byte, 2 word, 3 dword); bits 6:4 immediate bytes after the ModRM operand.
const MODINFO: usize = memory.data<u8>([134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 134, 130, 133, 129, 0, 0, 0, 0, 133, 129, 133, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 141, 0, 0, 0, 0, 0, 193, 0, 145, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 151, 195, 0, 147, 133, 129, 0, 0, 134, 130, 133, 129, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 150, 146, 0, 0, 0, 0, 150, 194, 0, 0, 0, 0, 0, 0, 0, 0, 134, 130, 134, 130, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 135, 131, 0, 0, 0, 0, 0, 0, 135, 131, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 128, 128, 128, 128, 128, 128, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 129, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 134, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 129, 0, 0, 0, 0, 0, 0, 133, 137, 0, 0, 0, 0, 0, 0, 133, 137, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

// Handler of each ModRM shape (index as MODINFO), for one dispatch after the operand decode.
const M_ALU: u32 = 1, M_GRP1: u32 = 2, M_TEST: u32 = 3, M_MOVST: u32 = 4, M_MOVLD: u32 = 5, M_MOVI: u32 = 6, M_MOVSXD: u32 = 7, M_IMUL3: u32 = 8, M_SHIFT: u32 = 9, M_GRP3: u32 = 10, M_GRP45: u32 = 11, M_IMUL2: u32 = 12, M_MOVX: u32 = 13, M_CMOV: u32 = 14, M_SETCC: u32 = 15, M_NOP: u32 = 16;
const MODOP: usize = memory.data<u8>([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 8, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0, 2, 3, 3, 0, 0, 4, 4, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 0, 0, 0, 0, 6, 6, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10, 0, 0, 0, 0, 0, 0, 11, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 13, 13, 0, 0, 0, 0, 0, 0, 13, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

// Registers by size; byte registers follow the REX rule (without REX, 4-7 are AH..BH).
@inline export function rget(r: u32, sz: u32, rex: u32): u64 {
  if (sz == 8) return getReg64(r);
  if (sz == 4) return <u64>getReg32(r);
  if (sz == 2) return <u64>getReg16(r);
  return <u64>getReg8(r, rex != 0);
}
@inline export function rset(r: u32, sz: u32, v: u64, rex: u32): void {
  if (sz == 8) setReg64(r, v);
  else if (sz == 4) setReg32(r, <u32>v);
  else if (sz == 2) setReg16(r, <u32>v);
  else setReg8(r, <u32>v, rex != 0);
}
@inline export function ld(h: usize, sz: u32): u64 {
  if (sz == 8) return load<u64>(h);
  if (sz == 4) return <u64>load<u32>(h);
  if (sz == 2) return <u64>load<u16>(h);
  return <u64>load<u8>(h);
}
@inline export function st(h: usize, sz: u32, v: u64): void {
  if (sz == 8) store<u64>(h, v);
  else if (sz == 4) store<u32>(h, <u32>v);
  else if (sz == 2) store<u16>(h, <u16>v);
  else store<u8>(h, <u8>v);
}
@inline export function sext(v: u64, sz: u32): u64 {
  if (sz == 1) return <u64><i64><i8>v;
  if (sz == 2) return <u64><i64><i16>v;
  if (sz == 4) return <u64><i64><i32>v;
  return v;
}
// The eight ALU operations with their lazy flags, one dispatch on the kind.
@inline export function alu(kind: u32, sz: u32, a: u64, c: u64): u64 {
  switch (kind) {
    case 0: { const r = a + c; setLazy(LF_ADD, sz, a, c, r); return r; }
    case 1: { const r = a | c; setLazy(LF_LOGIC, sz, a, c, r); return r; }
    case 2: { const cin: u64 = F.getCF() ? 1 : 0; const r = a + c + cin; setLazyCarry(LF_ADD, sz, a, c, r, cin); return r; }
    case 3: { const cin: u64 = F.getCF() ? 1 : 0; const r = a - c - cin; setLazyCarry(LF_SUB, sz, a, c, r, cin); return r; }
    case 4: { const r = a & c; setLazy(LF_LOGIC, sz, a, c, r); return r; }
    case 6: { const r = a ^ c; setLazy(LF_LOGIC, sz, a, c, r); return r; }
    default: { const r = a - c; setLazy(LF_SUB, sz, a, c, r); return r; }  // SUB, CMP
  }
}
@inline function cond(cc: u32): bool { return F.testCCInline(cc); }
// Condition cc (SDM Vol.1 B.1). Flags from SUB/CMP or a logic op (the common cases) are
// evaluated from the operands directly: with both shifted so the operand size's top bit is
// bit 63, B is a <u b, L is a <s b, BE / LE add equality, E is r == 0, S is r <s 0 (after a
// logic op CF = OF = 0). Anything else goes through flags.ts.
@inline export function jcond(cc: u32): bool {
  const k = F.fOp;
  const kind = k >> 4;
  if (kind == LF_SUB || kind == LF_LOGIC) {
    const sh = <u64>(64 - ((k & 15) << 3));
    const rr = F.fR << sh;
    let v: bool;
    if (kind == LF_SUB) {
      const a = F.fA << sh;
      const bb = a - rr;  // b, shifted (r = a - b)
      switch (cc >> 1) {
        case 1: v = a < bb; break;
        case 2: v = rr == 0; break;
        case 3: v = a <= bb; break;
        case 4: v = <i64>rr < 0; break;
        case 6: v = <i64>a < <i64>bb; break;
        case 7: v = <i64>a <= <i64>bb; break;
        default: return cond(cc);  // O, P
      }
    } else {
      switch (cc >> 1) {
        case 0: case 1: v = false; break;
        case 2: case 3: v = rr == 0; break;
        case 4: case 6: v = <i64>rr < 0; break;
        case 7: v = <i64>rr <= 0; break;
        default: return cond(cc);  // P
      }
    }
    return (cc & 1) != 0 ? !v : v;
  }
  return cond(cc);
}

// Push of the near operand size (no 66h prefix on the hot path): 8 bytes, or 4 in flat 32-bit
// mode (c32). False if the stack slot misses the TLB or (c32) crosses the 4 GiB SS limit.
@inline export function pushN(v: u64, c32: bool, wr: u32, tag: u32): bool {
  if (c32) {
    const sp = (getReg64(RSP) - 4) & 0xffffffff;
    if (sp > 0xfffffffc) return false;
    const h = tlbHit(sp, 4, wr, tag);
    if (h == 0) return false;
    store<u32>(h, <u32>v);
    setReg32(RSP, <u32>sp);
    return true;
  }
  const sp = getReg64(RSP) - 8;
  const h = tlbHit(sp, 8, wr, tag);
  if (h == 0) return false;
  store<u64>(h, v);
  setReg64(RSP, sp);
  return true;
}
// Host address of the stack top for a pop of the near operand size, or 0.
@inline export function popAt(sp: u64, c32: bool, rd: u32, tag: u32): usize {
  if (c32 && sp > 0xfffffffc) return 0;
  return tlbHit(sp, c32 ? 4 : 8, rd, tag);
}
// A near branch target: canonical in 64-bit mode (else NOT_HOT: #GP on the full path); in flat
// 32-bit mode EIP is 32 bits and every value is inside the 4 GiB CS limit.
// RET (near, no immediate) on the hot path and in cached blocks: pop the return address through a
// TLB hit; NOT_HOT (nothing changed) when the stack page misses or the target is not canonical.
@inline export function retNear(c32: bool, rd: u32, tag: u32): u64 {
  const sp = c32 ? <u64>getReg32(RSP) : getReg64(RSP);
  const mh = popAt(sp, c32, rd, tag);
  if (mh == 0) return NOT_HOT;
  if (c32) {
    setReg32(RSP, <u32>sp + 4);
    return <u64>load<u32>(mh);
  }
  const x = load<u64>(mh);
  if (!isCanonical(x)) return NOT_HOT;
  setReg64(RSP, sp + 8);
  return x;
}
@inline export function tgt(x: u64, c32: bool): u64 { return c32 ? x & 0xffffffff : (isCanonical(x) ? x : NOT_HOT); }
// Flat 32-bit mode: an access of size bytes at offset ea must not cross the 4 GiB limit.
@inline export function overLimit(ea: u64, size: u32, c32: bool): bool { return c32 && ea + <u64>(size - 1) > 0xffffffff; }

// Flat 32-bit protected mode (SDM 3.2.1, basic flat model): 32-bit code and stack, and CS, DS,
// ES, SS with base 0 and a 4 GiB limit, DS/ES/SS present writable expand-up data segments. There
// every offset is its linear address and the only segment check left is the 4 GiB wrap.
@inline function flatData(seg: u32): bool {
  return (S.segAttr(seg) & (S.AR_UNUSABLE | S.AR_P | S.AR_S | 0xe)) == (S.AR_P | S.AR_S | 2) &&
         S.segBase(seg) == 0 && S.segLimit(seg) == 0xffffffff;
}
export function flat32(): bool {
  if (S.code64 || !S.protMode || S.vm86 || !S.codeDefault32 || !S.stack32) return false;
  if (S.segBase(S.CS) != 0 || S.segLimit(S.CS) != 0xffffffff) return false;
  return flatData(S.DS) && flatData(S.ES) && flatData(S.SS);
}

// Bytes of ModRM + SIB + displacement at host address p (32/64-bit addressing).
@inline function modrmLen(p: usize): u64 {
  const m = <u32>load<u8>(p);
  const mod = m >> 6, rm = m & 7;
  if (mod == 3) return 1;
  let n: u64 = 1;
  if (rm == 4) { n++; if (mod == 0 && (load<u8>(p + 1) & 7) == 5) n += 4; }
  else if (rm == 5 && mod == 0) n += 4;
  if (mod == 1) n++; else if (mod == 2) n += 4;
  return n;
}

export function hotStep(r: u64): u64 {
  const h = D.hotFetch(r);
  const ps = permShift();
  if (h == 0 || (!S.code64 && !flat32())) return NOT_HOT;
  return hotStepAt(r, h, 1 << ps, 2 << ps, curTag, sseUsable(), !S.code64);
}
// hotStepAt as a call (the run loop's path without the decode cache, cpu/dcache.ts).
export function hotStepCall(r: u64, h: usize, rd: u32, wr: u32, tag: u32, sse: bool, c32: bool): u64 {
  return hotStepAt(r, h, rd, wr, tag, sse, c32);
}
// SSE instructions run without #UD / #NM (SDM Vol.1 13.1.3: CR0.EM = 0, CR4.OSFXSR = 1; CR0.TS = 0).
@inline export function sseUsable(): bool {
  return (S.cr0 & (S.CR0_EM | S.CR0_TS)) == 0 && (S.cr4 & S.CR4_OSFXSR) != 0;
}

// The instruction at RIP r, whose 15 bytes are readable at host address h. rd / wr: the TLB
// permission bits of reads / writes for the current access class (1 / 2 << permShift()),
// tag: the current TLB tag (mmu/tlb.ts curTag); sse: sseUsable(); c32: flat 32-bit protected
// mode (flat32()) instead of 64-bit mode: no REX (40-4F are INC/DEC), 32-bit addresses and EIP,
// 4-byte stack slots, no MOVSXD.
@inline export function hotStepAt(r: u64, h: usize, rd: u32, wr: u32, tag: u32, sse: bool, c32: bool): u64 {
  let b = <u32>load<u8>(h);
  let n: usize = 1;
  let rex: u32 = 0;
  if (!c32 && (b & 0xf0) == 0x40) { rex = b; b = <u32>load<u8>(h + 1); n = 2; }
  const s: u32 = (rex & 8) != 0 ? 8 : 4;
  switch (<u32>load<u8>(HOT_CLASS + <usize>b)) {
    case HC_MODRM: {
      // Register forms of the commonest shapes first, before the general ModRM decode.
      const m = <u32>load<u8>(h + n);
      if (m < 0xc0) {
        // MOV load / store and LEA, the commonest memory shapes, before the general decode.
        if (b == 0x8b || b == 0x89 || b == 0x8d) {
          const reg = ((m >> 3) & 7) | ((rex & 4) << 1);
          const ea = hotEa(r, h, n, rex, 0, c32);
          const next = r + <u64>sseEnd;
          if (b == 0x8d) { rset(reg, s, ea, rex); return next; }
          if (overLimit(ea, s, c32)) return NOT_HOT;
          const mh = tlbHit(ea, s, b == 0x8b ? rd : wr, tag);
          if (mh == 0) return NOT_HOT;
          if (b == 0x8b) rset(reg, s, ld(mh, s), rex); else st(mh, s, rget(reg, s, rex));
          return next;
        }
        break;
      }
      const rm = (m & 7) | ((rex & 1) << 3);
      const reg = ((m >> 3) & 7) | ((rex & 4) << 1);
      if (b < 0x40) {
        if ((b & 1) == 0) break;  // byte forms
        // ALU Ev,Gv / Gv,Ev
        const kind = b >> 3;
        const toG = (b & 2) != 0;
        const d = toG ? reg : rm;
        const res = alu(kind, s, rget(d, s, rex), rget(toG ? rm : reg, s, rex));
        if (kind != 7) rset(d, s, res, rex);
        return r + <u64>n + 1;
      }
      if (b == 0x89) { rset(rm, s, rget(reg, s, rex), rex); return r + <u64>n + 1; }
      if (b == 0x8b) { rset(reg, s, rget(rm, s, rex), rex); return r + <u64>n + 1; }
      if (b == 0x83) {
        const kind = (m >> 3) & 7;
        const res = alu(kind, s, rget(rm, s, rex), <u64><i64>load<i8>(h + n + 1));
        if (kind != 7) rset(rm, s, res, rex);
        return r + <u64>n + 2;
      }
      if (b == 0x81) {
        const kind = (m >> 3) & 7;
        const res = alu(kind, s, rget(rm, s, rex), <u64><i64>load<i32>(h + n + 1));
        if (kind != 7) rset(rm, s, res, rex);
        return r + <u64>n + 5;
      }
      if (b == 0x85) {
        const a = rget(rm, s, rex), c = rget(reg, s, rex);
        setLazy(LF_LOGIC, s, a, c, a & c);
        return r + <u64>n + 1;
      }
      break;
    }
    case HC_JCC8: {
      const t = r + <u64>n + 1;
      if (!jcond(b & 15)) return t;
      return tgt(t + <u64><i64>load<i8>(h + n), c32);
    }
    case HC_0F: {
      const b2 = <u32>load<u8>(h + n);
      if ((b2 & 0xf0) == 0x80) {  // Jcc rel32
        const t = r + <u64>n + 5;
        if (!jcond(b2 & 15)) return t;
        return tgt(t + <u64><i64>load<i32>(h + n + 1), c32);
      }
      if (b2 == 0x28 || b2 == 0x29 || b2 == 0xc6) return sse ? hotSse(r, h, 0, rex, n + 1, b2, rd, wr, tag, c32) : NOT_HOT;
      b = 0x100 | b2;
      n++;
      break;
    }
    case HC_ACC: {  // ALU AL, Ib / rAX, Iz (imm32 sign-extended for 64-bit)
      const kind = b >> 3;
      const sz: u32 = (b & 1) != 0 ? s : 1;
      const imm = sz == 1 ? <u64>load<u8>(h + n) : <u64><i64>load<i32>(h + n);
      const res = alu(kind, sz, rget(RAX, sz, 1), imm);
      if (kind != 7) rset(RAX, sz, res, 1);
      return r + <u64>n + (sz == 1 ? 1 : 4);
    }
    case HC_TESTI: {  // TEST AL, Ib / rAX, Iz
      const sz: u32 = b == 0xa8 ? 1 : s;
      const imm = sz == 1 ? <u64>load<u8>(h + n) : <u64><i64>load<i32>(h + n);
      const a = rget(RAX, sz, 1);
      setLazy(LF_LOGIC, sz, a, imm, a & imm);
      return r + <u64>n + (sz == 1 ? 1 : 4);
    }
    case HC_JMP: {
      const x = b == 0xeb ? r + <u64>n + 1 + <u64><i64>load<i8>(h + n)
                          : r + <u64>n + 4 + <u64><i64>load<i32>(h + n);
      return tgt(x, c32);
    }
    case HC_PUSH: {
      const v = getReg64((b & 7) | ((rex & 1) << 3));
      return pushN(v, c32, wr, tag) ? r + <u64>n : NOT_HOT;
    }
    case HC_POP: {
      const sp = c32 ? <u64>getReg32(RSP) : getReg64(RSP);
      const mh = popAt(sp, c32, rd, tag);
      if (mh == 0) return NOT_HOT;
      const reg = (b & 7) | ((rex & 1) << 3);
      if (c32) {
        const v = load<u32>(mh);
        setReg32(RSP, <u32>sp + 4);
        setReg32(reg, v);  // POP ESP: the popped value wins
      } else {
        const v = load<u64>(mh);
        setReg64(RSP, sp + 8);
        setReg64(reg, v);  // POP RSP: the popped value wins
      }
      return r + <u64>n;
    }
    case HC_INCDEC: {  // 40-4F outside 64-bit mode: INC / DEC r32
      if (!c32) return NOT_HOT;  // a second REX
      const reg = b & 7;
      const v = <u64>getReg32(reg);
      const res = b < 0x48 ? v + 1 : v - 1;
      setReg32(reg, <u32>res);
      setLazyIncDec(b < 0x48 ? LF_INC : LF_DEC, 4, v, res);
      return r + <u64>n;
    }
    case HC_MOVI: {
      const reg = (b & 7) | ((rex & 1) << 3);
      if (s == 8) { setReg64(reg, load<u64>(h + n)); return r + <u64>n + 8; }
      setReg32(reg, load<u32>(h + n));
      return r + <u64>n + 4;
    }
    case HC_MOVI8:
      setReg8((b & 7) | ((rex & 1) << 3), <u32>load<u8>(h + n), rex != 0);
      return r + <u64>n + 1;
    case HC_CALL: {
      const t = r + <u64>n + 4;
      const x = tgt(t + <u64><i64>load<i32>(h + n), c32);
      if (x == NOT_HOT || !pushN(t, c32, wr, tag)) return NOT_HOT;
      return x;
    }
    case HC_RET: return retNear(c32, rd, tag);
    case HC_LEAVE: {
      const sp = c32 ? <u64>getReg32(RBP) : getReg64(RBP);
      const mh = popAt(sp, c32, rd, tag);
      if (mh == 0) return NOT_HOT;
      if (c32) {
        const v = load<u32>(mh);
        setReg32(RSP, <u32>sp + 4);
        setReg32(RBP, v);
      } else {
        const v = load<u64>(mh);
        setReg64(RSP, sp + 8);
        setReg64(RBP, v);
      }
      return r + <u64>n;
    }
    case HC_CXX: {
      if (b == 0x98) {  // CWDE / CDQE
        if (s == 8) setReg64(RAX, <u64><i64><i32>getReg32(RAX));
        else setReg32(RAX, <u32><i32><i16>getReg16(RAX));
      } else {          // CDQ / CQO
        if (s == 8) setReg64(RDX, <u64>(<i64>getReg64(RAX) >> 63));
        else setReg32(RDX, <u32>(<i32>getReg32(RAX) >> 31));
      }
      return r + <u64>n;
    }
    case HC_NOP:
      if ((rex & 1) != 0) return NOT_HOT;  // XCHG r8, rAX
      return r + <u64>n;
    case HC_PFX: {
      // 66 / 2E padding in front of NOP Ev (0F 1F), as compilers align loops with. At most 4
      // prefixes + REX + 0F 1F + ModRM/SIB/disp32 = 13 bytes: inside the 15 readable ones.
      if (rex != 0) return NOT_HOT;
      if (b != 0x2e) {
        // 66 / F3 [REX] 0F op: SSE2 integer shapes (hotSse), except 66 0F 1F (a NOP).
        let q: usize = 1;
        let rx: u32 = 0;
        const c = <u32>load<u8>(h + 1);
        if (!c32 && (c & 0xf0) == 0x40) { rx = c; q = 2; }
        if (load<u8>(h + q) == 0x0f) {
          const o = <u32>load<u8>(h + q + 1);
          if (o != 0x1f) return sse ? hotSse(r, h, b == 0x66 ? 1 : 2, rx, q + 2, o, rd, wr, tag, c32) : NOT_HOT;
        }
        if (b == 0xf3) return NOT_HOT;
      }
      let q: usize = 1;
      while (q < 4) {
        const c = <u32>load<u8>(h + q);
        if (c != 0x66 && c != 0x2e) break;
        q++;
      }
      if (!c32 && (<u32>load<u8>(h + q) & 0xf0) == 0x40) q++;
      if (load<u8>(h + q) != 0x0f || load<u8>(h + q + 1) != 0x1f) return NOT_HOT;
      return r + <u64>(q + 2) + modrmLen(h + q + 2);
    }
    default: return NOT_HOT;
  }

  // ---- ModRM forms (b: one-byte opcode or 0x100 | 0F opcode) ----
  const info = <u32>load<u8>(MODINFO + <usize>b);
  if (info == 0 || (c32 && b == 0x63)) return NOT_HOT;  // 63 is ARPL outside 64-bit mode
  const m = <u32>load<u8>(h + n);
  const sub = (m >> 3) & 7;
  const reg = sub | ((rex & 4) << 1);
  let acc = info & 3;
  const mc = (info >> 2) & 3;
  let msz: u32 = mc == 0 ? s : <u32>1 << (mc - 1);
  let imm = <usize>((info >> 4) & 7);
  if (acc == 3) {  // group 80/81/83, F6/F7, FE/FF
    if (b < 0x84) acc = sub == 7 ? 1 : 2;
    else if (b < 0xf8) {
      acc = sub == 2 || sub == 3 ? 2 : 1;
      if (sub < 2) imm = b == 0xf6 ? 1 : 4;
    } else if (sub < 2) acc = 2;
    else if (b == 0xff && (sub == 2 || sub == 4 || sub == 6)) { acc = 1; msz = c32 ? 4 : 8; }
    else return NOT_HOT;
  }
  if ((b == 0xc6 || b == 0xc7) && sub != 0) return NOT_HOT;  // XABORT / XBEGIN
  let rm: u32 = 0;
  let mh: usize = 0;
  let next: u64;
  if (m >= 0xc0) {
    if (b == 0x8d) return NOT_HOT;  // LEA with a register operand: #UD
    rm = (m & 7) | ((rex & 1) << 3);
    next = r + <u64>(n + 1 + imm);
  } else {
    // 64-bit effective address (SDM Vol.2 2.2.1); segment bases are 0 for DS/SS/ES.
    const mod = m >> 6;
    const rmb = m & 7;
    let p: usize = n + 1;
    let ea: u64 = 0;
    let ripRel = false;
    if (rmb == 4) {
      const sib = <u32>load<u8>(h + p);
      p++;
      const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
      if (idx != 4) ea = getReg64(idx) << <u64>(sib >> 6);
      const base = sib & 7;
      if (base == 5 && mod == 0) { ea += <u64><i64>load<i32>(h + p); p += 4; }
      else ea += getReg64(base | ((rex & 1) << 3));
    } else if (rmb == 5 && mod == 0) {
      ripRel = !c32;  // SDM 2.2.1.6; outside 64-bit mode disp32 alone
      ea = <u64><i64>load<i32>(h + p);
      p += 4;
    } else ea = getReg64(rmb | ((rex & 1) << 3));
    if (mod == 1) { ea += <u64><i64>load<i8>(h + p); p++; }
    else if (mod == 2) { ea += <u64><i64>load<i32>(h + p); p += 4; }
    if (c32) ea &= 0xffffffff;
    n = p;  // n: offset of the immediate from here on
    next = r + <u64>(p + imm);
    if (ripRel) ea += next;
    if (b == 0x8d) {  // LEA: the address truncated to the operand size
      rset(reg, s, ea, 1);
      return next;
    }
    if (acc != 0) {
      if (overLimit(ea, msz, c32)) return NOT_HOT;  // #GP / #SS on the full path
      mh = tlbHit(ea, msz, acc == 1 ? rd : wr, tag);
      if (mh == 0) return NOT_HOT;  // TLB miss or fault: the full path redoes it
    } else return next;  // NOP Ev: no access
  }
  if (m >= 0xc0) n++;
  // From here: the E operand is register rm (mh == 0) or memory at mh; immediates at h + n.

  switch (<u32>load<u8>(MODOP + <usize>b)) {
    case M_ALU: {  // ALU Eb,Gb / Ev,Gv / Gb,Eb / Gv,Ev
    const kind = b >> 3;
    const v = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
    const g = rget(reg, msz, rex);
    const toG = (b & 2) != 0;
    const a = toG ? g : v, c = toG ? v : g;
    const res = alu(kind, msz, a, c);
    if (kind != 7) {
      if (toG) rset(reg, msz, res, rex);
      else if (mh != 0) st(mh, msz, res);
      else rset(rm, msz, res, rex);
    }
    return next;
  }
    case M_GRP1: {
      // The immediate is sign-extended to 64 bits; results and flags only use the low bytes.
      const c = b == 0x80 ? <u64>load<u8>(h + n)
              : (b == 0x83 ? <u64><i64>load<i8>(h + n) : <u64><i64>load<i32>(h + n));
      const res = alu(sub, msz, mh != 0 ? ld(mh, msz) : rget(rm, msz, rex), c);
      if (sub != 7) { if (mh != 0) st(mh, msz, res); else rset(rm, msz, res, rex); }
      return next;
    }
    case M_TEST: {
      const a = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
      const g = rget(reg, msz, rex);
      setLazy(LF_LOGIC, msz, a, g, a & g);
      return next;
    }
    case M_MOVST: {
      const g = rget(reg, msz, rex);
      if (mh != 0) st(mh, msz, g); else rset(rm, msz, g, rex);
      return next;
    }
    case M_MOVLD:
      rset(reg, msz, mh != 0 ? ld(mh, msz) : rget(rm, msz, rex), rex);
      return next;
    case M_MOVI: {
      const c = b == 0xc6 ? <u64>load<u8>(h + n) : <u64><i64>load<i32>(h + n);
      if (mh != 0) st(mh, msz, c); else rset(rm, msz, c, rex);
      return next;
    }
    case M_MOVSXD: {  // MOVSXD (REX.W); without REX.W a 32-bit move
      const v = mh != 0 ? ld(mh, 4) : rget(rm, 4, rex);
      rset(reg, s, s == 8 ? <u64><i64><i32>v : v, rex);
      return next;
    }
    case M_IMUL3: {
      const c = b == 0x6b ? <u64><i64>load<i8>(h + n) : <u64><i64>load<i32>(h + n);
      const v = mh != 0 ? ld(mh, s) : rget(rm, s, rex);
      rset(reg, s, imulTrunc(s, v, c), rex);
      return next;
    }
    case M_SHIFT: {
      const count: u32 = b < 0xd0 ? <u32>load<u8>(h + n) : (b < 0xd2 ? 1 : getReg8(RCX, false));
      const v = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
      if ((count & (msz == 8 ? 0x3f : 0x1f)) == 0) {
        // No change and no flags; a 32-bit register is still written (zero-extended).
        if (mh == 0 && msz == 4) rset(rm, 4, v, rex);
        return next;
      }
      const res = shiftOp(sub, msz, v, count);
      if (mh != 0) st(mh, msz, res); else rset(rm, msz, res, rex);
      return next;
    }
    case M_GRP3: {
      const v = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
      if (sub < 2) {  // TEST Ev, Iz
        const c = msz == 1 ? <u64>load<u8>(h + n) : <u64><i64>load<i32>(h + n);
        setLazy(LF_LOGIC, msz, v, c, v & c);
        return next;
      }
      if (sub < 4) {  // NOT / NEG
        const res = sub == 2 ? ~v : <u64>0 - v;
        if (mh != 0) st(mh, msz, res); else rset(rm, msz, res, rex);
        if (sub == 3) setLazy(LF_SUB, msz, 0, v, res);
        return next;
      }
      // MUL / IMUL / DIV / IDIV: mulDivAcc raises #DE before it changes anything; then the
      // full path redoes the instruction and delivers it.
      mulDivAcc(sub, msz, v);
      if (faultPending) { clearFault(); return NOT_HOT; }
      return next;
    }
    case M_GRP45: {
      const v = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
      if (sub < 2) {  // INC / DEC
        const res = sub == 0 ? v + 1 : v - 1;
        if (mh != 0) st(mh, msz, res); else rset(rm, msz, res, rex);
        setLazyIncDec(sub == 0 ? LF_INC : LF_DEC, msz, v, res);
        return next;
      }
      // FF /2 CALL, /4 JMP, /6 PUSH with the near operand size (v was read with it).
      if (sub == 6) return pushN(v, c32, wr, tag) ? next : NOT_HOT;
      if (!c32 && !isCanonical(v)) return NOT_HOT;
      if (sub == 2 && !pushN(next, c32, wr, tag)) return NOT_HOT;
      return v;
    }
    case M_IMUL2: {
      const v = mh != 0 ? ld(mh, s) : rget(rm, s, rex);
      rset(reg, s, imulTrunc(s, rget(reg, s, rex), v), rex);
      return next;
    }
    case M_MOVX: {
      const v = mh != 0 ? ld(mh, msz) : rget(rm, msz, rex);
      rset(reg, s, b >= 0x1be ? sext(v, msz) : v, rex);
      return next;
    }
    case M_CMOV: {  // CMOVcc: the source is read whatever the condition
    const v = mh != 0 ? ld(mh, s) : rget(rm, s, rex);
    if (jcond(b & 15)) rset(reg, s, v, rex);
    else if (s == 4) setReg32(reg, getReg32(reg));  // 32-bit CMOV always zero-extends
    return next;
  }
    case M_SETCC: {
    const v: u64 = jcond(b & 15) ? 1 : 0;
    if (mh != 0) store<u8>(mh, <u8>v); else setReg8(rm, <u32>v, rex != 0);
    return next;
  }
    case M_NOP: return next;  // NOP Ev, hint NOPs (register form)
    default: return NOT_HOT;
  }
}

// ---- SSE2 integer moves and arithmetic (tests/as/hotpath.spec.ts compares them) ----
// The common 128-bit integer shapes of compiled code: MOVDQA/MOVDQU/MOVAPS/MOVAPD loads and
// stores, MOVD/MOVQ, PXOR PAND PANDN POR, PADDD/Q PSUBD/Q, PMULUDQ, PUNPCKL/HDQ, PUNPCKL/HQDQ,
// PSHUFD, SHUFPS, shifts by immediate (66 0F 72/73). Only when SSE is usable without a fault
// (CR0.EM = 0, CR0.TS = 0, CR4.OSFXSR = 1: the caller checks); a misaligned operand of an
// aligned form (#GP) or a TLB miss returns NOT_HOT. pf: 0 none, 1 = 66, 2 = F3; p: offset of
// the ModRM byte; o: the 0F-map opcode byte.
let sseEnd: usize = 0;  // hotEa: offset of the first byte after the ModRM operand
@inline function hotEa(r: u64, h: usize, p: usize, rex: u32, imm: usize, c32: bool): u64 {
  const m = <u32>load<u8>(h + p);
  const mod = m >> 6, rmb = m & 7;
  p++;
  let ea: u64 = 0;
  let ripRel = false;
  if (rmb == 4) {
    const sib = <u32>load<u8>(h + p);
    p++;
    const idx = ((sib >> 3) & 7) | ((rex & 2) << 2);
    if (idx != 4) ea = getReg64(idx) << <u64>(sib >> 6);
    const base = sib & 7;
    if (base == 5 && mod == 0) { ea += <u64><i64>load<i32>(h + p); p += 4; }
    else ea += getReg64(base | ((rex & 1) << 3));
  } else if (rmb == 5 && mod == 0) {
    ripRel = !c32;
    ea = <u64><i64>load<i32>(h + p);
    p += 4;
  } else ea = getReg64(rmb | ((rex & 1) << 3));
  if (mod == 1) { ea += <u64><i64>load<i8>(h + p); p++; }
  else if (mod == 2) { ea += <u64><i64>load<i32>(h + p); p += 4; }
  sseEnd = p;
  if (c32) return ea & 0xffffffff;
  if (ripRel) ea += r + <u64>(p + imm);
  return ea;
}

export function hotSse(r: u64, h: usize, pf: u32, rex: u32, p: usize, o: u32, rd: u32, wr: u32, tag: u32, c32: bool): u64 {
  // Shape: 1 load to xmm, 2 store from xmm, 3 binary op, 4 PSHUFD, 5 shift by imm (reg only),
  // 6 MOVD/MOVQ to xmm, 7 MOVD/MOVQ from xmm, 8 SHUFPS, 9 MOVQ xmm, xmm/m64 (F3 7E),
  // 10 MOVQ xmm/m64, xmm (66 D6).
  let shape: u32 = 0;
  let align = true;
  if (pf == 0) {
    if (o == 0x28) shape = 1; else if (o == 0x29) shape = 2; else if (o == 0xc6) shape = 8;
  } else if (pf == 2) {
    if (o == 0x6f) { shape = 1; align = false; }
    else if (o == 0x7f) { shape = 2; align = false; }
    else if (o == 0x7e) shape = 9;
  } else {
    switch (o) {
      case 0x28: case 0x6f: shape = 1; break;
      case 0x29: case 0x7f: shape = 2; break;
      case 0xef: case 0xdb: case 0xdf: case 0xeb: case 0xfe: case 0xd4: case 0xfa: case 0xfb:
      case 0xf4: case 0x62: case 0x6a: case 0x6c: case 0x6d: shape = 3; break;
      case 0x70: shape = 4; break;
      case 0x72: case 0x73: shape = 5; break;
      case 0x6e: shape = 6; break;
      case 0x7e: shape = 7; break;
      case 0xd6: shape = 10; break;
      default: break;
    }
  }
  if (shape == 0) return NOT_HOT;
  const m = <u32>load<u8>(h + p);
  const reg = ((m >> 3) & 7) | ((rex & 4) << 1);
  const x = XMM + (<usize>reg << 4);
  const imm: usize = shape == 4 || shape == 5 || shape == 8 ? 1 : 0;
  let src: usize;  // the xmm/m operand (register file or guest memory)
  let end: usize;
  const gsz: u32 = (rex & 8) != 0 ? 8 : 4;  // MOVD / MOVQ with a GPR or memory
  if (m >= 0xc0) {
    src = XMM + (<usize>((m & 7) | ((rex & 1) << 3)) << 4);
    end = p + 1;
  } else {
    if (shape == 5) return NOT_HOT;  // #UD
    const ea = hotEa(r, h, p, rex, imm, c32);
    end = sseEnd;
    const msz: u32 = shape == 6 || shape == 7 ? gsz : (shape == 9 || shape == 10 ? 8 : 16);
    if (msz == 16 && align && (ea & 15) != 0) return NOT_HOT;  // #GP
    if (overLimit(ea, msz, c32)) return NOT_HOT;
    src = tlbHit(ea, msz, shape == 2 || shape == 7 || shape == 10 ? wr : rd, tag);
    if (src == 0) return NOT_HOT;
  }
  const next = r + <u64>(end + imm);
  switch (shape) {
    case 1: store<u64>(x, load<u64>(src)); store<u64>(x + 8, load<u64>(src + 8)); return next;
    case 2: store<u64>(src, load<u64>(x)); store<u64>(src + 8, load<u64>(x + 8)); return next;
    case 6: {
      const v: u64 = m >= 0xc0 ? (gsz == 8 ? getReg64((m & 7) | ((rex & 1) << 3)) : <u64>getReg32((m & 7) | ((rex & 1) << 3)))
                               : (gsz == 8 ? load<u64>(src) : <u64>load<u32>(src));
      store<u64>(x, v); store<u64>(x + 8, 0);
      return next;
    }
    case 7: {
      const v: u64 = gsz == 8 ? load<u64>(x) : <u64>load<u32>(x);
      if (m >= 0xc0) {
        const g = (m & 7) | ((rex & 1) << 3);
        if (gsz == 8) setReg64(g, v); else setReg32(g, <u32>v);
      } else if (gsz == 8) store<u64>(src, v); else store<u32>(src, <u32>v);
      return next;
    }
    case 9: store<u64>(x, load<u64>(src)); store<u64>(x + 8, 0); return next;
    case 10:
      store<u64>(src, load<u64>(x));
      if (m >= 0xc0) store<u64>(src + 8, 0);
      return next;
    case 4: {  // PSHUFD
      const c = <u32>load<u8>(h + end);
      const d0 = load<u32>(src + (<usize>(c & 3) << 2)), d1 = load<u32>(src + (<usize>((c >> 2) & 3) << 2));
      const d2 = load<u32>(src + (<usize>((c >> 4) & 3) << 2)), d3 = load<u32>(src + (<usize>((c >> 6) & 3) << 2));
      store<u32>(x, d0); store<u32>(x + 4, d1); store<u32>(x + 8, d2); store<u32>(x + 12, d3);
      return next;
    }
    case 8: {  // SHUFPS: two dwords of the destination, two of the source
      const c = <u32>load<u8>(h + end);
      const d0 = load<u32>(x + (<usize>(c & 3) << 2)), d1 = load<u32>(x + (<usize>((c >> 2) & 3) << 2));
      const d2 = load<u32>(src + (<usize>((c >> 4) & 3) << 2)), d3 = load<u32>(src + (<usize>((c >> 6) & 3) << 2));
      store<u32>(x, d0); store<u32>(x + 4, d1); store<u32>(x + 8, d2); store<u32>(x + 12, d3);
      return next;
    }
    case 5: {  // 66 0F 72 /2 /4 /6 (dwords), 66 0F 73 /2 /3 /6 /7 (qwords, bytes); src is the destination
      const c = <u64>load<u8>(h + end);
      const k = (m >> 3) & 7;
      const lo = load<u64>(src), hi = load<u64>(src + 8);
      if (o == 0x73) {
        if (k == 2 || k == 6) {
          const l = c > 63 ? 0 : (k == 2 ? lo >> c : lo << c);
          const u = c > 63 ? 0 : (k == 2 ? hi >> c : hi << c);
          store<u64>(src, l); store<u64>(src + 8, u);
          return next;
        }
        if (k == 3 || k == 7) {  // PSRLDQ / PSLLDQ: bytes
          const bits = (c > 16 ? <u64>16 : c) * 8;
          let l: u64, u: u64;
          if (bits == 0) { l = lo; u = hi; }
          else if (bits >= 128) { l = 0; u = 0; }
          else if (k == 3) {
            if (bits >= 64) { l = hi >> (bits - 64); u = 0; }
            else { l = (lo >> bits) | (hi << (64 - bits)); u = hi >> bits; }
          } else {
            if (bits >= 64) { u = lo << (bits - 64); l = 0; }
            else { u = (hi << bits) | (lo >> (64 - bits)); l = lo << bits; }
          }
          store<u64>(src, l); store<u64>(src + 8, u);
          return next;
        }
        return NOT_HOT;
      }
      if (k != 2 && k != 4 && k != 6) return NOT_HOT;
      for (let i: usize = 0; i < 16; i += 4) {
        const v = load<u32>(src + i);
        let w: u32;
        if (k == 4) w = <u32>(<i32>v >> <i32>(c > 31 ? 31 : c));
        else if (c > 31) w = 0;
        else w = k == 2 ? v >> <u32>c : v << <u32>c;
        store<u32>(src + i, w);
      }
      return next;
    }
    default: break;
  }
  // shape 3: binary op, destination xmm (x), source src.
  const a0 = load<u64>(x), a1 = load<u64>(x + 8);
  const b0 = load<u64>(src), b1 = load<u64>(src + 8);
  let r0: u64, r1: u64;
  switch (o) {
    case 0xef: r0 = a0 ^ b0; r1 = a1 ^ b1; break;
    case 0xdb: r0 = a0 & b0; r1 = a1 & b1; break;
    case 0xdf: r0 = ~a0 & b0; r1 = ~a1 & b1; break;
    case 0xeb: r0 = a0 | b0; r1 = a1 | b1; break;
    case 0xd4: r0 = a0 + b0; r1 = a1 + b1; break;
    case 0xfb: r0 = a0 - b0; r1 = a1 - b1; break;
    case 0xfe:
      r0 = <u64>(<u32>a0 + <u32>b0) | (((a0 >> 32) + (b0 >> 32)) << 32);
      r1 = <u64>(<u32>a1 + <u32>b1) | (((a1 >> 32) + (b1 >> 32)) << 32);
      break;
    case 0xfa:
      r0 = <u64>(<u32>a0 - <u32>b0) | (((a0 >> 32) - (b0 >> 32)) << 32);
      r1 = <u64>(<u32>a1 - <u32>b1) | (((a1 >> 32) - (b1 >> 32)) << 32);
      break;
    case 0xf4: r0 = (a0 & 0xffffffff) * (b0 & 0xffffffff); r1 = (a1 & 0xffffffff) * (b1 & 0xffffffff); break;
    case 0x62: r0 = (a0 & 0xffffffff) | (b0 << 32); r1 = (a0 >> 32) | (b0 & 0xffffffff00000000); break;
    case 0x6a: r0 = (a1 & 0xffffffff) | (b1 << 32); r1 = (a1 >> 32) | (b1 & 0xffffffff00000000); break;
    case 0x6c: r0 = a0; r1 = b0; break;
    default: r0 = a1; r1 = b1; break;  // 0x6d PUNPCKHQDQ
  }
  store<u64>(x, r0); store<u64>(x + 8, r1);
  return next;
}

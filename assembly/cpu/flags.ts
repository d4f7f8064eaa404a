// RFLAGS with lazily evaluated arithmetic flags.
// The six status flags (CF PF AF ZF SF OF) are derived on demand from the last
// arithmetic operation; everything else lives in flagsRaw. Most flag results are
// overwritten before anyone reads them, so recording operands is cheaper than
// computing six flags per ALU instruction.

export const F_CF: u64 = 1, F_PF: u64 = 4, F_AF: u64 = 0x10, F_ZF: u64 = 0x40, F_SF: u64 = 0x80;
export const F_TF: u64 = 0x100, F_IF: u64 = 0x200, F_DF: u64 = 0x400, F_OF: u64 = 0x800;
export const F_IOPL: u64 = 0x3000, F_NT: u64 = 0x4000, F_RF: u64 = 0x10000, F_VM: u64 = 0x20000;
export const F_AC: u64 = 0x40000, F_VIF: u64 = 0x80000, F_VIP: u64 = 0x100000, F_ID: u64 = 0x200000;
export const F_STATUS: u64 = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;

// Lazy operation kinds.
export const LF_NONE: u32 = 0;  // status flags are in flagsRaw
export const LF_ADD: u32 = 1;   // r = a + b (+ cin)
export const LF_SUB: u32 = 2;   // r = a - b (- cin); also CMP, NEG (a = 0)
export const LF_LOGIC: u32 = 3; // CF=OF=0, AF=0
export const LF_INC: u32 = 4;   // like ADD with b=1, CF preserved from flagsRaw
export const LF_DEC: u32 = 5;   // like SUB with b=1, CF preserved from flagsRaw

export let flagsRaw: u64 = 2;   // bit 1 always reads as 1
export let fOp: u32 = LF_NONE;
export let fSize: u32 = 4;      // operand size in bytes
export let fA: u64 = 0, fB: u64 = 0, fR: u64 = 0;
export let fCin: u64 = 0;       // carry in for ADC/SBB (0 or 1)

@inline function signBit(size: u32): u64 { return (<u64>1) << (<u64>(size * 8 - 1)); }
@inline function sizeMask(size: u32): u64 { return size == 8 ? 0xffffffffffffffff : ((<u64>1) << (<u64>(size * 8))) - 1; }

// Record an arithmetic result. a, b, r need not be masked.
@inline export function setLazy(op: u32, size: u32, a: u64, b: u64, r: u64): void {
  fOp = op; fSize = size; fA = a; fB = b; fR = r; fCin = 0;
}
@inline export function setLazyCarry(op: u32, size: u32, a: u64, b: u64, r: u64, cin: u64): void {
  fOp = op; fSize = size; fA = a; fB = b; fR = r; fCin = cin;
}
// INC/DEC keep CF: freeze it into flagsRaw before switching op.
@inline export function setLazyIncDec(op: u32, size: u32, a: u64, r: u64): void {
  const cf = getCF();
  flagsRaw = (flagsRaw & ~F_CF) | (cf ? F_CF : 0);
  fOp = op; fSize = size; fA = a; fB = 1; fR = r; fCin = 0;
}

@inline export function getCF(): bool {
  const op = fOp;
  if (op == LF_ADD) {
    const m = sizeMask(fSize);
    const r = fR & m, a = fA & m;
    return fCin != 0 ? r <= a : r < a;
  }
  if (op == LF_SUB) {
    const m = sizeMask(fSize);
    const a = fA & m, b = fB & m;
    return fCin != 0 ? a <= b : a < b;
  }
  if (op == LF_LOGIC) return false;
  return (flagsRaw & F_CF) != 0;
}
@inline export function getZF(): bool {
  if (fOp == LF_NONE) return (flagsRaw & F_ZF) != 0;
  return (fR & sizeMask(fSize)) == 0;
}
@inline export function getSF(): bool {
  if (fOp == LF_NONE) return (flagsRaw & F_SF) != 0;
  return (fR & signBit(fSize)) != 0;
}
@inline export function getOF(): bool {
  const op = fOp;
  if (op == LF_NONE) return (flagsRaw & F_OF) != 0;
  if (op == LF_LOGIC) return false;
  const s = signBit(fSize);
  if (op == LF_ADD || op == LF_INC) return ((fA ^ fR) & (fB ^ fR) & s) != 0;
  return ((fA ^ fB) & (fA ^ fR) & s) != 0; // SUB, DEC
}
@inline export function getPF(): bool {
  if (fOp == LF_NONE) return (flagsRaw & F_PF) != 0;
  return (popcnt<u32>(<u32>fR & 0xff) & 1) == 0;
}
export function getAF(): bool {
  const op = fOp;
  if (op == LF_NONE) return (flagsRaw & F_AF) != 0;
  if (op == LF_LOGIC) return false;
  return ((fA ^ fB ^ fR) & 0x10) != 0;
}

// Full RFLAGS value (status flags materialized).
export function getRflags(): u64 {
  if (fOp == LF_NONE) return flagsRaw;
  let f = flagsRaw & ~F_STATUS;
  if (getCF()) f |= F_CF;
  if (getPF()) f |= F_PF;
  if (getAF()) f |= F_AF;
  if (getZF()) f |= F_ZF;
  if (getSF()) f |= F_SF;
  if (getOF()) f |= F_OF;
  return f;
}
// Raw write of all flags: no privilege checks (POPF/IRET apply those before calling).
export function setRflags(v: u64): void {
  flagsRaw = (v & 0x3f7fd5) | 2;
  fOp = LF_NONE;
}
// Replace only the status flags given in mask with bits from v.
export function setStatusFlags(mask: u64, v: u64): void {
  const f = getRflags();
  flagsRaw = (f & ~mask) | (v & mask) | 2;
  fOp = LF_NONE;
}
@inline export function setCFOnly(cf: bool): void { setStatusFlags(F_CF, cf ? F_CF : 0); }

// Non-status flags are never lazy, so they can be read from flagsRaw directly.
@inline export function getIF(): bool { return (flagsRaw & F_IF) != 0; }
@inline export function getDF(): bool { return (flagsRaw & F_DF) != 0; }
@inline export function getTF(): bool { return (flagsRaw & F_TF) != 0; }
@inline export function getIOPL(): u32 { return <u32>((flagsRaw >> 12) & 3); }
@inline export function setFlagBit(bit: u64, on: bool): void {
  flagsRaw = on ? (flagsRaw | bit) : (flagsRaw & ~bit);
}

// Condition codes (low nibble of Jcc/SETcc/CMOVcc opcodes), SDM Vol.1 B.1. The inline form is
// for the branch hot path (ops/integer.ts); everything else calls testCC.
export function testCC(cc: u32): bool { return testCCInline(cc); }
@inline export function testCCInline(cc: u32): bool {
  let r: bool;
  switch (cc >> 1) {
    case 0: r = getOF(); break;
    case 1: r = getCF(); break;
    case 2: r = getZF(); break;
    case 3: r = getCF() || getZF(); break;
    case 4: r = getSF(); break;
    case 5: r = getPF(); break;
    case 6: r = getSF() != getOF(); break;
    default: r = getZF() || (getSF() != getOF()); break;
  }
  return (cc & 1) != 0 ? !r : r;
}

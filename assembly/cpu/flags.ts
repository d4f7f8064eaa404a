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
export const LF_ADD: u32 = 1;   // r = a + b
export const LF_SUB: u32 = 2;   // r = a - b; also CMP, NEG (a = 0)
export const LF_LOGIC: u32 = 3; // CF=OF=0, AF=0
export const LF_INC: u32 = 4;   // like ADD with b=1, CF preserved from flagsRaw
export const LF_DEC: u32 = 5;   // like SUB with b=1, CF preserved from flagsRaw
export const LF_ADC: u32 = 6;   // r = a + b + 1 (ADC with carry in; without it is LF_ADD)
export const LF_SBB: u32 = 7;   // r = a - b - 1 (SBB with borrow in; without it is LF_SUB)

export let flagsRaw: u64 = 2;   // bit 1 always reads as 1
// The lazy state is three globals (three stores per ALU instruction): fOp = (kind << 4) | size
// in bytes (0 = LF_NONE), the first operand fA and the unmasked result fR. The second operand
// is implied: r = a + b (+1) or a - b (-1) modulo 2^64, so b = r - a (-1) or a - r (-1), and
// every flag only looks at the low `size` bytes, where that is exact.
export let fOp: u32 = LF_NONE;
export let fA: u64 = 0, fR: u64 = 0;

@inline function lazyKind(): u32 { return fOp >> 4; }
@inline function lazySize(): u32 { return fOp & 15; }
// Mask and sign bit by operand size (1, 2, 4, 8) as table loads: no branch on the size.
const SIZE_MASK: usize = memory.data<u64>([0, 0xff, 0xffff, 0, 0xffffffff, 0, 0, 0, 0xffffffffffffffff]);
const SIGN_BIT: usize = memory.data<u64>([0, 0x80, 0x8000, 0, 0x80000000, 0, 0, 0, 0x8000000000000000]);
@inline function signBit(size: u32): u64 { return load<u64>(SIGN_BIT + (<usize>(size & 15) << 3)); }
@inline function sizeMask(size: u32): u64 { return load<u64>(SIZE_MASK + (<usize>(size & 15) << 3)); }
// The second operand of the recorded operation (see above).
@inline function lazyB(k: u32): u64 {
  if (k == LF_ADD) return fR - fA;
  if (k == LF_SUB) return fA - fR;
  if (k == LF_ADC) return fR - fA - 1;
  if (k == LF_SBB) return fA - fR - 1;
  return 1;  // INC, DEC
}

// Record an arithmetic result. r must be a + b / a - b (modulo 2^64, or at least modulo 2^size)
// for ADD/SUB; a, b, r need not be masked. b is not stored (see above).
@inline export function setLazy(op: u32, size: u32, a: u64, b: u64, r: u64): void {
  fOp = (op << 4) | size; fA = a; fR = r;
}
@inline export function setLazyCarry(op: u32, size: u32, a: u64, b: u64, r: u64, cin: u64): void {
  fOp = ((cin != 0 ? op + (LF_ADC - LF_ADD) : op) << 4) | size; fA = a; fR = r;
}
// INC/DEC keep CF: freeze it into flagsRaw before switching op.
@inline export function setLazyIncDec(op: u32, size: u32, a: u64, r: u64): void {
  const cf = getCF();
  flagsRaw = (flagsRaw & ~F_CF) | (cf ? F_CF : 0);
  fOp = (op << 4) | size; fA = a; fR = r;
}

@inline export function getCF(): bool {
  const k = fOp >> 4;
  if (k == LF_ADD || k == LF_ADC) {
    const m = sizeMask(lazySize());
    const r = fR & m, a = fA & m;
    return k == LF_ADC ? r <= a : r < a;
  }
  if (k == LF_SUB || k == LF_SBB) {
    // a < b (borrow) <=> the result is above a (SUB) / at or above a (SBB with borrow-in).
    const m = sizeMask(lazySize());
    const r = fR & m, a = fA & m;
    return k == LF_SBB ? r >= a : r > a;
  }
  if (k == LF_LOGIC) return false;
  return (flagsRaw & F_CF) != 0;
}
@inline export function getZF(): bool {
  const k = fOp;
  if (k == LF_NONE) return (flagsRaw & F_ZF) != 0;
  return (fR & sizeMask(k & 15)) == 0;
}
@inline export function getSF(): bool {
  const k = fOp;
  if (k == LF_NONE) return (flagsRaw & F_SF) != 0;
  return (fR & signBit(k & 15)) != 0;
}
@inline export function getOF(): bool {
  const k = fOp >> 4;
  if (k == LF_NONE) return (flagsRaw & F_OF) != 0;
  if (k == LF_LOGIC) return false;
  const s = signBit(lazySize());
  const a = fA, r = fR, b = lazyB(k);
  if (k == LF_ADD || k == LF_INC || k == LF_ADC) return ((a ^ r) & (b ^ r) & s) != 0;
  return ((a ^ b) & (a ^ r) & s) != 0; // SUB, DEC, SBB
}
@inline export function getPF(): bool {
  if (fOp == LF_NONE) return (flagsRaw & F_PF) != 0;
  return (popcnt<u32>(<u32>fR & 0xff) & 1) == 0;
}
export function getAF(): bool {
  const k = fOp >> 4;
  if (k == LF_NONE) return (flagsRaw & F_AF) != 0;
  if (k == LF_LOGIC) return false;
  return ((fA ^ lazyB(k) ^ fR) & 0x10) != 0;
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

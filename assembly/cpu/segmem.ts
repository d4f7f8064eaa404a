// Segmented (logical) memory access: segment:offset -> linear, with the limit,
// type and canonical checks of SDM 3.4/5.3, then mmu/access.ts for paging.
// Also the stack helpers, since every stack access is an SS access.
import {
  segBase, segLimit, segAttr, code64, protMode, vm86, stack32, getReg64, setReg64, setReg32, setReg16,
  RSP, SS, FS, AR_TYPE, AR_S, AR_UNUSABLE, AR_DB, AR_P,
} from "./state";
import { raiseFault, faultPending, EXC_GP, EXC_SS } from "./fault";
import { LIN_ADDR_BITS } from "./cpuid";
import { readLin, writeLin, tlbHostRead, tlbHostWrite } from "../mmu/access";

export const BAD_ADDR: u64 = u64.MAX_VALUE;

// SDM 3.3.7.1: bits 63:47 must all equal bit 47 (4-level paging).
// (With LA57 the MMU owner widens this to bit 56.)
export let canonicalBits: u32 = 48;
export function setCanonicalBits(n: u32): void { canonicalBits = n; }
@inline export function isCanonical(a: u64): bool {
  const sh = <u64>(64 - canonicalBits);
  return <u64>((<i64>(a << sh)) >> sh) == a;
}
// Bases loaded into system registers (GDTR, IDTR, LDTR, TR; also the FS/GS base MSRs) are
// checked against the processor's widest linear address (57 bits when it supports 5-level
// paging), whatever CR4.LA57 is (Intel 5-Level Paging white paper 2.5; kvm-unit-tests la57).
@inline export function isCanonicalMax(a: u64): bool {
  const sh = <u64>(64 - LIN_ADDR_BITS);
  return <u64>((<i64>(a << sh)) >> sh) == a;
}

@inline function segFault(seg: u32): void {
  raiseFault(seg == SS ? EXC_SS : EXC_GP, 0, true);
}

// Linear address for an access of `size` bytes at seg:off, or BAD_ADDR with #GP/#SS raised.
// `off` must already be truncated to the address size by the caller (decoder does it).
export function linearAddr(seg: u32, off: u64, size: u32, write: bool): u64 {
  if (code64) {
    // SDM 3.2.4: no segmentation in 64-bit mode except FS/GS bases.
    const lin = seg >= FS ? off + segBase(seg) : off;
    if (!isCanonical(lin) || !isCanonical(lin + <u64>(size - 1))) { segFault(seg); return BAD_ADDR; }
    return lin;
  }
  const attr = segAttr(seg);
  if (protMode && !vm86) {
    // SDM 5.4.1: null/unusable segment or wrong type faults.
    if ((attr & AR_UNUSABLE) != 0 || (attr & AR_P) == 0) { segFault(seg); return BAD_ADDR; }
    const type = attr & AR_TYPE;
    if ((attr & AR_S) != 0) {
      if ((type & 8) != 0) {            // code segment
        if (write || (type & 2) == 0) { segFault(seg); return BAD_ADDR; }
      } else if (write && (type & 2) == 0) { segFault(seg); return BAD_ADDR; }
    }
  }
  const limit = <u64>segLimit(seg);
  const last = off + <u64>(size - 1);
  const type = attr & AR_TYPE;
  if ((attr & AR_S) != 0 && (type & 0xc) == 4) {
    // Expand-down data segment (SDM 3.4.5.1): valid offsets are (limit, top].
    const top: u64 = (attr & AR_DB) != 0 ? 0xffffffff : 0xffff;
    if (off <= limit || last > top) { segFault(seg); return BAD_ADDR; }
  } else if (last > limit) { segFault(seg); return BAD_ADDR; }
  return (segBase(seg) + off) & 0xffffffff;
}

export function readMem(seg: u32, off: u64, size: u32): u64 {
  if (code64) {
    // Fast path: a TLB hit implies a canonical address (mmu/access.ts tlbHostRead).
    const h = tlbHostRead(seg >= FS ? off + segBase(seg) : off, size);
    if (h != 0) {
      if (size == 4) return <u64>load<u32>(h);
      if (size == 8) return load<u64>(h);
      if (size == 1) return <u64>load<u8>(h);
      return <u64>load<u16>(h);
    }
  }
  const lin = linearAddr(seg, off, size, false);
  if (lin == BAD_ADDR) return 0;
  return readLin(lin, size);
}
export function writeMem(seg: u32, off: u64, size: u32, v: u64): void {
  if (code64) {
    const h = tlbHostWrite(seg >= FS ? off + segBase(seg) : off, size);
    if (h != 0) {
      if (size == 4) store<u32>(h, <u32>v);
      else if (size == 8) store<u64>(h, v);
      else if (size == 1) store<u8>(h, <u8>v);
      else store<u16>(h, <u16>v);
      return;
    }
  }
  const lin = linearAddr(seg, off, size, true);
  if (lin == BAD_ADDR) return;
  writeLin(lin, size, v);
}

// ---- stack -----------------------------------------------------------------
// Stack width: 8 in 64-bit mode, else SS.B ? 4 : 2 (SDM 6.2.3).
@inline export function stackAddrSize(): u32 { return code64 ? 8 : (stack32 ? 4 : 2); }

@inline function maskSp(v: u64, asz: u32): u64 {
  return asz == 8 ? v : (asz == 4 ? v & 0xffffffff : v & 0xffff);
}
@inline function writeSp(v: u64, asz: u32): void {
  if (asz == 8) setReg64(RSP, v);
  else if (asz == 4) setReg32(RSP, <u32>v);
  else setReg16(RSP, <u32>v);
}

// Push `size` bytes. RSP is only updated if the write succeeded (fault => no change).
export function push(v: u64, size: u32): void {
  const asz = stackAddrSize();
  const sp = maskSp(getReg64(RSP) - <u64>size, asz);
  writeMem(SS, sp, size, v);
  if (faultPending) return;
  writeSp(sp, asz);
}
export function pop(size: u32): u64 {
  const asz = stackAddrSize();
  const sp = maskSp(getReg64(RSP), asz);
  const v = readMem(SS, sp, size);
  if (faultPending) return 0;
  writeSp(sp + <u64>size, asz);
  return v;
}
// Read at RSP+delta without moving RSP (for multi-part pops that must be all-or-nothing).
export function peek(delta: u64, size: u32): u64 {
  const asz = stackAddrSize();
  return readMem(SS, maskSp(getReg64(RSP) + delta, asz), size);
}
export function adjustSp(delta: u64): void {
  const asz = stackAddrSize();
  writeSp(maskSp(getReg64(RSP) + delta, asz), asz);
}

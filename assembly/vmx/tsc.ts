// The TSC an L2 sees (SDM Vol.3C 25.3, 25.6.5): with "use TSC offsetting", RDTSC, RDTSCP and
// RDMSR of IA32_TIME_STAMP_COUNTER return the TSC plus the TSC offset; with "use TSC scaling"
// as well, the TSC is first multiplied by the TSC multiplier (a fixed-point value with 48
// fractional bits): (TSC * multiplier) >> 48, then the offset is added (modulo 2^64).
// Without "use TSC offsetting" neither applies. The VM-exit MSR-store list stores the
// unmodified TSC (msr.ts readMsr).
import { vmcsRead as rd } from "./fields";
import * as F from "./fields";

export const PROC_TSC_OFFSET: u32 = 1 << 3;
export const PROC2_TSC_SCALING: u32 = 1 << 25;
export const TSC_MULTIPLIER: u32 = 0x2032;

// Bits 111:48 of the 128-bit product a * b.
export function mulShr48(a: u64, b: u64): u64 {
  const a0 = a & 0xffffffff, a1 = a >> 32, b0 = b & 0xffffffff, b1 = b >> 32;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >> 32) + (p01 & 0xffffffff) + (p10 & 0xffffffff);
  const lo = (p00 & 0xffffffff) | (mid << 32);
  const hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
  return (lo >> 48) | (hi << 16);
}

// The TSC value L2 reads, from the TSC `t` (call only in VMX non-root operation).
export function guestTsc(t: u64): u64 {
  const proc = <u32>rd(F.PROC_CONTROLS);
  if ((proc & PROC_TSC_OFFSET) == 0) return t;
  if ((proc & (1 << 31)) != 0 && (<u32>rd(F.PROC2_CONTROLS) & PROC2_TSC_SCALING) != 0) t = mulShr48(t, rd(TSC_MULTIPLIER));
  return t + rd(F.TSC_OFFSET);
}

// IA32_MISC_ENABLE (1A0H): the MSR lives here, below both cpu/msr.ts (RDMSR/WRMSR) and
// cpu/cpuid.ts (bit 18 decides CPUID.01H:ECX.MONITOR), so neither imports the other.
export const MISC_FAST_STRINGS: u64 = 1, MISC_MONITOR: u64 = 1 << 18;
// Read-only bits (SDM Vol.4 table 2-2): performance monitoring available (7, cpu/pmu.ts),
// branch trace storage unavailable (11) and PEBS unavailable (12): no DS area.
export const MISC_RO: u64 = (1 << 7) | (1 << 11) | (1 << 12);
// Writable bits (SDM Vol.4 table 2-2 for this CPU model).
export const MISC_WRITABLE: u64 = 0x0000000400c51889 & ~MISC_RO;
export let miscEnable: u64 = MISC_FAST_STRINGS | MISC_MONITOR | MISC_RO;
export function resetMiscEnable(): void { miscEnable = MISC_FAST_STRINGS | MISC_MONITOR | MISC_RO; }
export function writeMiscEnable(v: u64): void { miscEnable = (v & MISC_WRITABLE) | MISC_RO; }

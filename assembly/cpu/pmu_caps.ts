// What the PMU (cpu/pmu.ts) offers, for CPUID (cpu/cpuid.ts) and the PMU itself. No imports,
// so cpuid.ts can read it without pulling the PMU's module graph in before its own constants.
export const PMU_VERSION: u32 = 2;
export const PMU_NGP: u32 = 4;          // general-purpose counters
export const PMU_NFIXED: u32 = 3;       // fixed-function counters
export const PMU_WIDTH: u32 = 48;       // bits, both kinds

// CPUID.0AH:EBX, bit set = architectural event NOT available (SDM Vol.2 CPUID, leaf 0AH):
// 0 core cycles, 1 instructions retired, 2 reference cycles, 3 LLC references, 4 LLC misses,
// 5 branch instructions retired, 6 branch mispredicts retired. Counted truthfully: 0, 1, 2, 5.
export const PMU_EVENTS_UNAVAILABLE: u32 = (1 << 3) | (1 << 4) | (1 << 6);
export const PMU_EVENT_VECTOR_LEN: u32 = 7;


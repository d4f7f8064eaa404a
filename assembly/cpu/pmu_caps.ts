// What the PMU (cpu/pmu.ts) offers, for CPUID (cpu/cpuid.ts) and the PMU itself. No imports,
// so cpuid.ts can read it without pulling the PMU's module graph in before its own constants.
export const PMU_VERSION: u32 = 2;
export const PMU_NGP: u32 = 4;          // general-purpose counters
export const PMU_NFIXED: u32 = 3;       // fixed-function counters
export const PMU_WIDTH: u32 = 48;       // bits, both kinds

// CPUID.0AH:EBX, bit set = architectural event NOT available (SDM Vol.2 CPUID, leaf 0AH):
// 0 core cycles, 1 instructions retired, 2 reference cycles, 3 LLC references, 4 LLC misses,
// 5 branch instructions retired, 6 branch mispredicts retired. Counted: 0, 1, 2, 5.
export const PMU_EVENTS_UNAVAILABLE: u32 = (1 << 3) | (1 << 4) | (1 << 6);
export const PMU_EVENT_VECTOR_LEN: u32 = 7;
// Reference cycles (event 3CH/01H) tick with the core clock, one per instruction step. Software
// calibrates that event against the TSC (kvm-unit-tests pmu, Linux), so it is advertised only
// when the TSC itself is driven by instructions (the host's --tsc icount: a fixed 1:2 ratio);
// with the default realtime TSC (host time) the ratio follows the host's speed, and bit 2 of
// CPUID.0AH:EBX says the event is not available. Fixed counter 2 exists either way.
export let pmuRefAdvertised: bool = false;
export function setPmuRefAdvertised(on: bool): void { pmuRefAdvertised = on; }
@inline export function pmuEventsUnavailable(): u32 {
  return PMU_EVENTS_UNAVAILABLE | (pmuRefAdvertised ? 0 : 1 << 2);
}


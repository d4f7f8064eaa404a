// Initial APIC ID of the vCPU loaded in the core (CPUID.1:EBX[31:24]); the host sets it per vCPU
// (vcpu.ts setApicId). A leaf module: cpuid.ts imports it without pulling in vcpu.ts's imports.
export let apicId: u32 = 0;
export function setApicIdRaw(v: u32): void { apicId = v; }

// PAUSE ends the time slice when other vCPUs exist (set by the host; like pause-loop exiting):
// a vCPU spinning on a lock or flag lets the vCPU that will release it run.
export let pauseYield: bool = false;
export function setPauseYield(v: bool): void { pauseYield = v; }

// Number of vCPUs of the machine (CPUID.0BH topology: one thread per core, N cores).
export let cpuCount: u32 = 1;
export function setCpuCount(n: u32): void { cpuCount = n < 1 ? 1 : n; }

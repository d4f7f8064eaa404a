// Initial APIC ID of the vCPU loaded in the core (CPUID.1:EBX[31:24]); the host sets it per vCPU
// (vcpu.ts setApicId). A leaf module: cpuid.ts imports it without pulling in vcpu.ts's imports.
export let apicId: u32 = 0;
export function setApicIdRaw(v: u32): void { apicId = v; }

// Multiprocessor support in the core: the one vCPU whose state is loaded now.
// The core runs one vCPU at a time; the host switches vCPUs with cpuSave/cpuLoad, which
// scripts/cpu-state-pass.mjs generates at build time from EVERY mutable global plus the static
// data [0, staticEnd()) (docs/smp.md). Nothing here keeps a list of state.
import * as S from "./state";
import { setRflags } from "./flags";
import { resetInterrupts } from "./interrupts";
import { syncBreakpoints } from "./control";
import { tlbFlushAll } from "../mmu/access";
import { invalidateFetch } from "./decode";
import { vmxOn, nonRoot, setInitPending, initAfterVmxoff, setInitAfterVmxoff, waitSipi } from "../vmx/vstate";
import { vmExit, EXIT_INIT, EXIT_SIPI } from "../vmx/exit";

import { setApicIdRaw } from "./vcpu_id";

// Initial APIC ID of this vCPU (CPUID.1:EBX[31:24]); the host sets it per vCPU.
export function setApicId(v: u32): void { setApicIdRaw(v); }

// End of the static data the save area copies (everything below guest RAM that is state).
export function staticEnd(): usize { return __heap_base; }

// INIT (SDM 9.1.1, Table 9-1, column INIT): like RESET, except that x87/SSE state, MXCSR,
// the TSC, MTRRs and the other MSRs, and CR0.CD/NW are unchanged. The vCPU then waits for a
// SIPI (the host keeps that wait-for-SIPI state). Returns false in VMX operation, where INIT
// is a VM exit or held pending instead (below).
export function initCpu(): bool {
  if (vmxOn) {
    // SDM 25.2: in VMX non-root operation INIT causes a VM exit (reason 3); SDM 24.8: in VMX
    // root operation it is blocked and held pending (vmx/vstate.ts initPending).
    if (nonRoot) vmExit(EXIT_INIT, 0, 0, 0);
    else setInitPending(true);
    return false;
  }
  resetRegisters(S.cr0 & 0x60000000);
  syncBreakpoints();
  S.updateMode();
  tlbFlushAll(false);
  invalidateFetch();
  return true;
}

// The register state RESET and INIT share (SDM Table 9-1): GPRs (EDX = signature), RFLAGS,
// CR0 (ET, plus the CD/NW bits given: 60000000H at RESET, kept at INIT), CR2-CR4, CR8, EFER,
// DR0-DR7, segments at F000:FFF0, descriptor tables, no HLT, interrupt state.
export function resetRegisters(cr0CacheBits: u64): void {
  for (let i: u32 = 0; i < 16; i++) S.setReg64(i, 0);
  S.setReg64(S.RDX, 0x600);
  setRflags(2);
  S.cr0 = cr0CacheBits | 0x10; S.cr2 = 0; S.cr3 = 0; S.cr4 = 0; S.cr8 = 0; S.efer = 0;
  for (let i: u32 = 0; i < 8; i++) S.setDr(i, 0);
  S.setDr(6, 0xffff0ff0); S.setDr(7, 0x400);
  for (let s: u32 = 0; s < 6; s++) S.setSeg(s, 0, 0, 0xffff, 0x93);   // present, read/write, accessed
  S.setSeg(S.CS, 0xf000, 0xffff0000, 0xffff, 0x9b);
  S.setSeg(S.LDTR, 0, 0, 0xffff, 0x82);
  S.setSeg(S.TR, 0, 0, 0xffff, 0x8b);
  S.setGdtr(0, 0xffff); S.setIdtr(0, 0xffff);
  S.rip = 0xfff0;
  S.halted = false;
  S.vm86 = false;
  resetInterrupts();
}

// After a run: VMXOFF released a held INIT, which the host must now deliver to this vCPU.
export function takeInit(): bool {
  const t = initAfterVmxoff;
  setInitAfterVmxoff(false);
  return t;
}

// A SIPI for a vCPU that is not waiting for one as a whole (the host's wait-for-SIPI state):
// with its L2 in the wait-for-SIPI activity state it is a VM exit (reason 4, qualification
// the vector; SDM 25.2), otherwise it is ignored (SDM 10.4.4). Returns true if it exited.
export function sipiSignal(vector: u32): bool {
  if (!nonRoot || !waitSipi) return false;
  vmExit(EXIT_SIPI, <u64>(vector & 0xff), 0, 0);
  return true;
}

// Start-up IPI with vector V (SDM 10.4.4.1 / 11.6.1): real mode at CS = V << 8, base V << 12, IP 0.
export function startupCpu(vector: u32): void {
  S.setSeg(S.CS, (vector & 0xff) << 8, <u64>((vector & 0xff) << 12), 0xffff, 0x9b);
  S.rip = 0;
  S.halted = false;
  S.updateMode();
  invalidateFetch();
}

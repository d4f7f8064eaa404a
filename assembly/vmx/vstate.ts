// VMX operating state of the vCPU (no imports: cpu/ files read these flags cheaply).
// SDM 24.2-24.3: VMX root / non-root operation, the VMXON pointer and the current-VMCS pointer.

// The per-VM `--nested on|off` switch (default on). Off: CPUID.1:ECX.VMX = 0, CR4.VMXE is
// reserved (#GP), the VMX capability MSRs #GP and VMX instructions are #UD, as on a CPU
// without VMX.
export let nested: bool = true;
export function setNestedFlag(on: bool): void { nested = on; }

export const NO_PTR: u64 = 0xffffffffffffffff;
export let vmxOn: bool = false;        // in VMX operation (root or non-root)
export let nonRoot: bool = false;      // in VMX non-root operation (a guest launched by L1 runs)
export let vmxonPtr: u64 = NO_PTR;     // physical address of the VMXON region
export let curVmcs: u64 = NO_PTR;      // current-VMCS pointer (SDM 24.11.1)
export let curLaunched: bool = false;  // launch state of the current VMCS ("clear" = false)

export function setVmxOn(on: bool, ptr: u64): void { vmxOn = on; vmxonPtr = on ? ptr : NO_PTR; }
export function setCurVmcs(p: u64, launched: bool): void { curVmcs = p; curLaunched = launched; curShadow = false; }
export let curShadow: bool = false;    // the current VMCS has the shadow-VMCS indicator set
export function setCurShadow(v: bool): void { curShadow = v; }
export let shadowing: bool = false;    // the running L2 has "VMCS shadowing"
export function setShadowing(v: bool): void { shadowing = v; }
export function setLaunched(v: bool): void { curLaunched = v; }
export function setNonRoot(v: bool): void { nonRoot = v; }
// Set while an L2 runs with a condition that must be checked between instructions
// (VMX-preemption timer, interrupt-window exiting): cpu/run.ts then calls checkInterrupts.
export let vmxPoll: bool = false;
// Bumped at every VM entry and exit (both set vmxPoll), so the interpreter's fast loop
// knows its between-instruction bound (cpu/run.ts, fastLoopFloor) is stale.
export let vmxEpoch: u32 = 0;
export function setVmxPoll(v: bool): void { vmxPoll = v; vmxEpoch++; }
// Make the fast loop stop after the current instruction and look at the VMX conditions again.
export function bumpVmxEpoch(): void { vmxEpoch++; }
export let mtfAt: u64 = 0;             // retired-instruction count of the next monitor-trap-flag exit
export function setMtfAt(v: u64): void { mtfAt = v; }
export let mtfForced: bool = false;    // VM entry injected a pending MTF VM exit (type 7)
export function setMtfForced(v: bool): void { mtfForced = v; }
// An INIT that arrived in VMX root operation (SDM 24.8: blocked, held pending). It becomes a VM
// exit as soon as the processor is in VMX non-root operation, or an INIT after VMXOFF.
export let initPending: bool = false;
export function setInitPending(v: bool): void { initPending = v; }
// VMXOFF found an INIT pending: the host takes it (takeInit) and delivers it now.
export let initAfterVmxoff: bool = false;
// L2 entered in the wait-for-SIPI activity state (3): it runs nothing, external interrupts and
// NMIs are blocked, and a SIPI is a VM exit (reason 4). Cleared by any VM exit.
export let waitSipi: bool = false;
export function setWaitSipi(v: bool): void { waitSipi = v; }
export function setInitAfterVmxoff(v: bool): void { initAfterVmxoff = v; }
export let timerArmed: bool = false;
export let timerDeadline: u64 = 0;     // raw TSC value at which the timer reaches 0 (intercept.ts)
export function setTimerArmed(v: bool): void { timerArmed = v; }
export function setTimerDeadline(v: u64): void { timerDeadline = v; }
// The running L2 has "unrestricted guest": CR0.PE/PG are not fixed for it (SDM 24.8, 26.3).
export let unrestricted: bool = false;
export function setUnrestricted(v: bool): void { unrestricted = v; }
export let vpidActive: bool = false;   // the running (or last) L2 uses "enable VPID"
export function setVpidActive(v: bool): void { vpidActive = v; }

// The instruction being executed is the one right after MOV SS / POP SS (blocking by MOV SS,
// SDM 6.8.3; set by cpu/run.ts around it): VMLAUNCH/VMRESUME then fail with error 26.
export let movSsBlocking: bool = false;
export function setMovSsBlocking(v: bool): void { movSsBlocking = v; }

export function resetVmxState(): void {
  vmxOn = false; nonRoot = false; vmxonPtr = NO_PTR; curVmcs = NO_PTR; curLaunched = false; vpidActive = false; vmxPoll = false; mtfForced = false; initPending = false; initAfterVmxoff = false; waitSipi = false; unrestricted = false; curShadow = false; shadowing = false;
}

// The ABI the TypeScript host calls. Keep it small: setup, run, and state access
// for loaders, tests and snapshots. u64 values cross as BigInt.
import * as S from "./cpu/state";
import { resetFpuState } from "./cpu/ops/fxsave";
import { getRflags, setRflags } from "./cpu/flags";
import { initDispatch } from "./cpu/exec";
import { runSlice, requestStop as reqStop, inFlight } from "./cpu/run";
import { setIntrLine as setIntr, raiseNmi as nmi, resetInterrupts } from "./cpu/interrupts";
import { physInit, ramBase, physHost, physWrite } from "./mmu/phys";
import { loadPdptes } from "./mmu/paging";
import { tlbFlushAll, tlbFlushEverything, setTlbTag } from "./mmu/access";
import { invalidateFetch } from "./cpu/decode";
import { resetMsrs, readMsr, writeMsr } from "./cpu/msr";
import { resetMonitor } from "./cpu/ops/sys_monitor";
import { resetTsc, setTscMode as tscMode } from "./cpu/tsc";
import { resetPmu } from "./cpu/pmu";
import { setPmuRefAdvertised } from "./cpu/pmu_caps";
import { clearFault } from "./cpu/fault";
import { syncBreakpoints } from "./cpu/control";
import { resetVmxState, setNestedFlag } from "./vmx/vstate";
import { resetEpt } from "./vmx/ept";
import { timerDeadlineNs } from "./vmx/intercept";

// Guest RAM starts on a 64 KiB boundary after everything static in the core.
export function init(ramBytes: u32): usize {
  initDispatch();
  const base = (<usize>__heap_base + 0xffff) & ~<usize>0xffff;
  const needPages = <i32>((<u64>base + <u64>ramBytes + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return 0;
  physInit(base, <u64>ramBytes);
  reset();
  return base;
}

// Power-on state (SDM 10.1.1, Table 10-1).
export function reset(): void {
  resetRegisters(0x60000000);
  S.xcr0 = 1;
  resetMsrs();
  resetMonitor();
  resetVmxState();
  resetEpt();
  setTlbTag(0);   // VMX root / no VPID context
  resetTsc();
  resetPmu();
  resetFpuState();
  syncBreakpoints();
  S.updateMode();
  tlbFlushEverything();
  invalidateFetch();
}

export function run(budget: u32): u32 { return runSlice(budget); }
// `--nested on|off` (default on): off hides VMX (CPUID, CR4.VMXE, capability MSRs) as on a CPU
// without it. Set before reset()/boot; takes effect for the next instructions.
export function setNested(on: bool): void { setNestedFlag(on); }
// Host time (ns, as env.nowNs) at which the running L2's VMX-preemption timer expires, or -1.
// The host must call run() again by then, also while the CPU is halted (vmx/intercept.ts).
export function vmxTimerNs(): f64 { return timerDeadlineNs(); }
export function requestStop(): void { reqStop(); }
export function setIntrLine(level: bool): void { setIntr(level); }
export function raiseNmi(): void { nmi(); }
export function getRamBase(): usize { return ramBase; }

// ---- debugger support (host/gdbstub.ts): breakpoints the guest cannot see (run() returns 4
// before executing an instruction at one), side-effect-free address translation, and byte
// writes that take the core's own physical write path (so cached decoded code notices them).
export { hostBpSet, hostBpClear, hostBpResume } from "./cpu/hostbp";
export { debugTranslate } from "./mmu/debug_walk";
import { fpuSwFull } from "./cpu/ops/x87";
import { nonRoot as nonRootState, vmxOn as vmxOnState } from "./vmx/vstate";
export function fprPtr(): usize { return S.FPR; }
// 0: not in VMX operation, 1: VMX root (a hypervisor runs), 2: VMX non-root (its guest runs).
export function vmxState(): u32 { return nonRootState ? 2 : (vmxOnState ? 1 : 0); }
// x87 control word, status word with TOP in bits 13:11, full tag word (as FSTENV stores them).
export function fpuReg(i: u32): u32 {
  if (i == 0) return S.fpuCw;
  if (i == 1) return fpuSwFull();
  return S.fpuTw;
}
export function debugWrite8(pa: u64, v: u32): bool {
  if (physHost(pa, 1) == 0) return false;   // RAM only: never an MMIO side effect
  physWrite(pa, 1, <u64>(v & 0xff));
  return true;
}

// ---- state access (loaders, tests, snapshots) ----
export function regsPtr(): usize { return S.REGS; }
export function xmmPtr(): usize { return S.XMM; }
export function getReg(i: u32): u64 { return S.getReg64(i); }
export function setReg(i: u32, v: u64): void { S.setReg64(i, v); }
export function getRip(): u64 { return S.rip; }
export function setRip(v: u64): void { S.rip = v; }
export function getFlags(): u64 { return getRflags(); }
export function setFlags(v: u64): void { setRflags(v); S.vm86 = (v & 0x20000) != 0; S.updateMode(); }
export function getIcount(): u64 { return S.icount; }
// Instructions retired including the slice in flight: the host's icount clock (nowNs in
// --tsc icount mode) reads this from inside I/O callbacks.
export function getIcountNow(): u64 { return S.icount + inFlight(); }
export function isHalted(): bool { return S.halted; }

export function setSegment(s: u32, sel: u32, base: u64, limit: u32, attr: u32): void {
  S.setSeg(s, sel, base, limit, attr);
  S.updateMode();
}
export function getSegSel(s: u32): u32 { return S.segSel(s); }
export function getSegBase(s: u32): u64 { return S.segBase(s); }
export function getSegLimit(s: u32): u32 { return S.segLimit(s); }
export function getSegAttr(s: u32): u32 { return S.segAttr(s); }
export function setGdt(base: u64, limit: u32): void { S.setGdtr(base, limit); }
export function setIdt(base: u64, limit: u32): void { S.setIdtr(base, limit); }

// Control registers 0, 2, 3, 4, 8 and EFER (as n = 0xc0000080), raw: no checks.
export function getCr(n: u32): u64 {
  switch (n) {
    case 0: return S.cr0; case 2: return S.cr2; case 3: return S.cr3;
    case 4: return S.cr4; case 8: return S.cr8; case 0xc0000080: return S.efer;
    default: return 0;
  }
}
export function setCr(n: u32, v: u64): void {
  switch (n) {
    case 0: S.cr0 = v; break; case 2: S.cr2 = v; break; case 3: S.cr3 = v; break;
    case 4: S.cr4 = v; break; case 8: S.cr8 = v; break; case 0xc0000080: S.efer = v; break;
    default: break;
  }
  S.updateMode();
  // SDM 4.4.1: PAE paging uses the PDPTE registers, loaded when CR0/CR3/CR4 are written.
  if (S.pagingOn && (S.cr4 & S.CR4_PAE) != 0 && (S.efer & S.EFER_LMA) == 0) loadPdptes();
  tlbFlushAll(false);
  invalidateFetch();
}

// CR8 = TPR[7:4] after the host's APIC changed TPR (MMIO or x2APIC write): no side effects.
export function setCr8Mirror(v: u32): void { S.setCr8(<u64>(v & 0xf)); }

// MSR access for loaders/tests/snapshots, with the WRMSR checks (returns false when the
// guest would get #GP(0)).
export function getMsr(index: u32): u64 {
  const v = readMsr(index);
  clearFault();
  return v;
}
export function setMsr(index: u32, v: u64): bool {
  const ok = writeMsr(index, v);
  clearFault();
  return ok;
}
// RDTSC source: 0 = realtime (host clock at 2.0 GHz, default), 1 = instructions retired.
export function setTscMode(mode: u32): void { tscMode(mode); }
// CPUID.0AH advertises the reference-cycles event (3CH/01H) only when the host's TSC is driven by
// instructions (--tsc icount), see cpu/pmu_caps.ts.
export function setPmuRefCycles(on: bool): void { setPmuRefAdvertised(on); }
// MXCSR raw access (differential tests, snapshots). No reserved-bit check: callers own that.
export function getMxcsr(): u32 { return S.mxcsr; }
export function setMxcsr(v: u32): void { S.setMxcsr(v); }

// ---- SMP (docs/smp.md): the host switches vCPUs with cpuSave/cpuLoad, which the build adds
// (scripts/cpu-state-pass.mjs); these are the pieces it cannot generate.
export { staticEnd, initCpu, startupCpu, setApicId, takeInit, sipiSignal } from "./cpu/vcpu";
import { resetRegisters } from "./cpu/vcpu";
export { setPauseYield, setCpuCount } from "./cpu/vcpu_id";

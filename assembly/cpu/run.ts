// The interpreter loop: runs instructions until the budget is spent or something
// the host owns happens. Never returns per instruction (a wasm->JS round trip
// costs more than an instruction).
import { step } from "./exec";
import { hotStepAt, NOT_HOT, sseUsable, flat32 } from "./hot";
import * as D from "./decode";
import { permShift, curTag } from "../mmu/tlb";
import { faultPending } from "./fault";
import { halted } from "./state";
import * as S from "./state";
import { shutdown, intrLine, nmiPending, intShadow, deliverFault, checkInterrupts, singleStepTrap } from "./interrupts";
import * as I from "./interrupts";
import { F_TF, F_RF, flagsRaw } from "./flags";
import * as F from "./flags";
import { execBpMask, execBreakpoint } from "./control";
import { hostBpCount, hostBpHit } from "./hostbp";
import { vmxPoll, vmxEpoch, setMovSsBlocking } from "../vmx/vstate";
import { fastLoopFloor } from "../vmx/intercept";
import { pmuPoll, pmuSlow, pmuFloor, pmuCheck, pmuStepped, pmuNotRetired } from "./pmu";

export const STOP_BUDGET: u32 = 0;   // budget exhausted
export const STOP_HLT: u32 = 1;      // HLT with nothing to wake it: host waits for an interrupt
export const STOP_SHUTDOWN: u32 = 2; // triple fault / shutdown
export const STOP_HOST: u32 = 3;     // the host asked to stop (requestStop from an I/O callback)
export const STOP_BREAK: u32 = 4;    // the next instruction is at a host (debugger) breakpoint

export let stopRequested: bool = false;
export function requestStop(): void { stopRequested = true; }

// Instructions retired in the slice that is running (for RDTSC in icount mode).
let sliceBudget: u32 = 0;
let sliceLeft: u32 = 0;
let notRetired: u32 = 0;   // budget used by instruction-breakpoint #DBs (no instruction retired)
export function inFlight(): u64 { return <u64>(sliceBudget - sliceLeft - notRetired); }
// Inside runSlice: the instruction being executed is counted when it completes (VM entry
// uses this to place the first monitor-trap-flag boundary, vmx/entry.ts).
export function inSlice(): bool { return sliceBudget != 0; }

// Runs of hot instructions (cpu/hot.ts) with RIP in a local, in separate (not inlined) functions
// so that V8 keeps the loop's values in registers: one for 64-bit mode, one for flat 32-bit
// protected mode. The fetch window, the TLB tag, the access class and SSE usability are read
// once: hot instructions cannot change them. Returns the new `left` (>= floor).
@inline function hotLoop(left: u32, floor: u32, c32: bool): u32 {
  let r = S.rip;
  const lo = D.hotLo(), hi = D.hotHi();
  if (lo > hi) return left;
  const span = hi - lo;
  const bias = D.hotBias();
  const ps = permShift();
  const rd: u32 = 1 << ps, wr: u32 = 2 << ps, tag = curTag;
  const sse = sseUsable();
  let n = left - floor;  // the caller has left > floor
  while (n != 0 && r - lo <= span) {
    const nr = hotStepAt(r, bias + <usize>r, rd, wr, tag, sse, c32);
    if (nr == NOT_HOT) break;
    r = nr;
    n--;
  }
  S.setRip(r);
  return floor + n;
}
function hotRun64(left: u32, floor: u32): u32 { return hotLoop(left, floor, false); }
function hotRun32(left: u32, floor: u32): u32 { return hotLoop(left, floor, true); }

export function runSlice(budget: u32): u32 {
  stopRequested = false;
  sliceBudget = budget;
  sliceLeft = budget;
  notRetired = 0;
  let reason = STOP_BUDGET;
  while (sliceLeft > 0) {
    // Fast path: nothing needs attention before or after the instruction (no interrupt,
    // shadow, halt, shutdown, breakpoint, TF/RF or pending #DB trap), so the loop is
    // step + fault check. Any of those conditions drops to the full iteration below.
    // NOTE for new per-instruction events: add their flag to this condition (or bound the
    // loop like the VMX exits below), or they will be missed both by step() here and by the
    // hotStep chains, which retire many instructions without coming back to this check.
    let left = sliceLeft;
    // VMX exits that are checked between instructions (preemption timer, MTF, interrupt
    // window) bound the fast loop: it stops at `floor` so the full iteration polls them.
    let floor: u32 = vmxPoll ? fastLoopFloor(left) : 0;
    // Running performance counters bound it at their first possible overflow (cpu/pmu.ts).
    if (pmuPoll) floor = pmuFloor(left, floor);
    const epoch = vmxEpoch;
    while (left > floor && !(intShadow | intrLine | nmiPending | shutdown | halted) &&
           (execBpMask | hostBpCount | I.pendingDbTrap | <u32>(flagsRaw & (F_TF | F_RF))) == 0) {
      // Runs of hot instructions: they cannot fault or change anything the attention checks
      // above look at.
      const c64 = S.code64;
      if (c64 || flat32()) {
        left = c64 ? hotRun64(left, floor) : hotRun32(left, floor);
        sliceLeft = left;
        if (left == floor) break;
      }
      step();
      left--;
      sliceLeft = left;
      if (faultPending) { pmuNotRetired(); I.clearDbTrap(); deliverFault(); }
      else if (I.pendingDbTrap != 0) {
        // Data / I/O breakpoint hit by this instruction: #DB trap after it (SDM 17.3.1.2).
        F.setFlagBit(F_RF, false);
        singleStepTrap(false);
        if (faultPending) deliverFault();
      }
      if (shutdown | stopRequested | (vmxEpoch != epoch)) break;
    }
    if (shutdown) { reason = STOP_SHUTDOWN; break; }
    if (stopRequested) { reason = STOP_HOST; break; }
    if (left == 0) break;
    // A counter overflow at the instruction just retired: status and PMI before the next one.
    if (pmuPoll) pmuCheck();
    // SDM 6.8.3: the instruction after STI / MOV SS runs before any interrupt.
    let ssBlock = false;
    const shadow = intShadow;
    if (intShadow) { ssBlock = I.movSsShadow; I.setIntShadow(false); }
    else if (intrLine || nmiPending || vmxPoll) {
      checkInterrupts();
      if (faultPending) deliverFault();
    }
    if (shutdown) { reason = STOP_SHUTDOWN; break; }
    if (halted) { reason = STOP_HLT; break; }
    if (hostBpCount != 0 && hostBpHit()) {
      // Stopped before the instruction: it keeps its STI / MOV SS shadow for when it runs.
      if (shadow) { if (ssBlock) I.setMovSsShadow(); else I.setIntShadow(true); }
      reason = STOP_BREAK;
      break;
    }
    const f = flagsRaw;
    // SDM 6.8.3: on Intel, MOV SS / POP SS blocking also suppresses the instruction
    // breakpoint of the instruction after it.
    if (execBpMask != 0 && (f & F_RF) == 0 && !ssBlock && execBreakpoint()) {
      // The #DB fault uses budget (so a breakpoint loop cannot hang the host) but retires nothing.
      deliverFault();
      sliceLeft--; notRetired++;
      if (shutdown) { reason = STOP_SHUTDOWN; break; }
      continue;
    }
    if ((f & F_TF) != 0) I.clearSoftInt();
    if (ssBlock) setMovSsBlocking(true);   // VMLAUNCH/VMRESUME fail with error 26 (vmx/instr.ts)
    step();
    if (ssBlock) setMovSsBlocking(false);
    sliceLeft--;
    if (pmuSlow) pmuStepped();
    if (faultPending) { pmuNotRetired(); I.clearDbTrap(); deliverFault(); }
    else if ((f & (F_TF | F_RF)) != 0 || I.pendingDbTrap != 0) {
      // SDM 17.3.1.1: RF is cleared after any instruction completes; SDM 17.3.1.4:
      // TF set at the start of an instruction => #DB trap after it (with any I/O breakpoint hits).
      F.setFlagBit(F_RF, false);
      if ((f & F_TF) != 0 || I.pendingDbTrap != 0) {
        singleStepTrap((f & F_TF) != 0);
        if (faultPending) deliverFault();
      }
    }
    if (shutdown) { reason = STOP_SHUTDOWN; break; }
    if (stopRequested) { reason = STOP_HOST; break; }
  }
  S.icount += <u64>(budget - sliceLeft - notRetired);
  sliceBudget = 0; sliceLeft = 0; notRetired = 0;
  return reason;
}

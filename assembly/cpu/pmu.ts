// Architectural performance monitoring, version 2 (SDM Vol.3B ch. 21 "Performance Monitoring":
// 21.2.1 version 1, 21.2.2 version 2). docs/pmu.md describes the model; in short:
//  - 4 general-purpose counters IA32_PMC0-3 (48 bits) with IA32_PERFEVTSEL0-3, full-width
//    aliases IA32_A_PMC0-3 (IA32_PERF_CAPABILITIES[13]); 3 fixed counters IA32_FIXED_CTR0-2
//    (48 bits): instructions retired, unhalted core cycles, unhalted reference cycles.
//  - Events: instructions retired (C0H), unhalted core cycles (3CH/00H), unhalted reference
//    cycles (3CH/01H), branch instructions retired (C4H). Any other event counts nothing.
//  - Cycle model: the core runs at one clock per instruction step (CPI 1, no frequency scaling):
//    core cycles = reference cycles = instruction steps while not halted (a step that faults
//    takes a cycle but retires nothing).
//
// Counting is lazy: a running counter is value + (source now - source at the last fold), where
// the sources are running totals of this vCPU (steps = state.icount + the slice in flight).
// Nothing happens per instruction unless a branch counter runs. State changes that decide which
// counters run (MSR writes, CPL changes, VM entry/exit loads of IA32_PERF_GLOBAL_CTRL) fold
// every counter first. Overflow is exact: the run loop (cpu/run.ts) stops its fast path at the
// first step where a counter could wrap (`pmuFloor`) and calls `pmuCheck` before the next
// instruction, which sets IA32_PERF_GLOBAL_STATUS and, with the counter's INT bit, signals a
// PMI to the host's local APIC (env.pmi, LVT performance-counter entry).
import * as S from "./state";
import * as D from "./decode";
import { inFlight } from "./run";
import { faultPending } from "./fault";
import { pmi } from "../host";
import { bumpVmxEpoch } from "../vmx/vstate";
import { PMU_NGP, PMU_NFIXED, PMU_WIDTH } from "./pmu_caps";
const NCTR: u32 = 7;                    // counter slots: 0-3 GP, 4-6 fixed
const WRAP: u64 = <u64>1 << <u64>PMU_WIDTH;
export const CTR_MASK: u64 = WRAP - 1;

// MSRs (SDM Vol.4 table 2-2).
export const MSR_PMC0: u32 = 0xc1, MSR_PERFEVTSEL0: u32 = 0x186, MSR_FIXED_CTR0: u32 = 0x309;
export const MSR_PERF_CAPABILITIES: u32 = 0x345, MSR_FIXED_CTR_CTRL: u32 = 0x38d;
export const MSR_PERF_GLOBAL_STATUS: u32 = 0x38e, MSR_PERF_GLOBAL_CTRL: u32 = 0x38f;
export const MSR_PERF_GLOBAL_OVF_CTRL: u32 = 0x390, MSR_A_PMC0: u32 = 0x4c1;
// IA32_PERF_CAPABILITIES: full-width writes (13); LBR format 0 (5:0), no PEBS (11:8 = 0), no
// other extras.
export const PERF_CAP_FW_WRITE: u64 = 1 << 13;
export const PERF_CAPABILITIES: u64 = PERF_CAP_FW_WRITE;

// IA32_PERFEVTSELx (SDM 21.2.1.1, figure 21-1): event 7:0, umask 15:8, USR 16, OS 17, E 18,
// PC 19, INT 20, EN 22, INV 23, CMASK 31:24. AnyThread (21) is version 3; 63:32 reserved.
export const EVTSEL_USR: u64 = 1 << 16, EVTSEL_OS: u64 = 1 << 17, EVTSEL_INT: u64 = 1 << 20;
export const EVTSEL_EN: u64 = 1 << 22, EVTSEL_INV: u64 = 1 << 23;
export const EVTSEL_RSVD: u64 = 0xffffffff00000000 | (1 << 21);
// IA32_FIXED_CTR_CTRL (SDM 21.2.2, figure 21-2): per counter i, bits 4i+1:4i enable (1 OS,
// 2 USR, 3 all), 4i+3 PMI; 4i+2 (AnyThread) is version 3.
export const FIXED_CTRL_VALID: u64 = 0xbbb;
// IA32_PERF_GLOBAL_CTRL / STATUS: PMC enables in 3:0, fixed counters in 34:32 (SDM 21.2.2,
// figures 21-3, 21-4); OVF_CTRL also clears OvfBuffer (62) and CondChgd (63).
export const GLOBAL_VALID: u64 = 0xf | (<u64>7 << 32);
const OVF_CTRL_VALID: u64 = GLOBAL_VALID | (<u64>3 << 62);

// Counting sources (running totals of this vCPU).
const SRC_OFF: u32 = 0;      // not running
const SRC_CYC: u32 = 1;      // clocks (core = reference): instruction steps
const SRC_INS: u32 = 2;      // instructions retired
const SRC_BR: u32 = 3;       // branch instructions retired
const SRC_CYC_INS: u32 = 4;  // clocks without an instruction retired (CMASK 1 + INV)
const SRC_CYC_BR: u32 = 5;   // clocks without a branch retired

const VAL: usize = memory.data(8 * NCTR, 8);    // counter value at the last fold
const SNAP: usize = memory.data(8 * NCTR, 8);   // source total at the last fold
const SRC: usize = memory.data(4 * NCTR, 4);    // source while running, else SRC_OFF
const EVTSEL: usize = memory.data(8 * 4, 8);

// IA32_PERF_GLOBAL_CTRL powers up with the general-purpose counters' enable bits set, so that
// version-1 software (EN in IA32_PERFEVTSELx only) counts (SDM 21.2.2).
const GLOBAL_CTRL_RESET: u64 = 0xf;
export let fixedCtrl: u64 = 0;
export let globalCtrl: u64 = GLOBAL_CTRL_RESET;
export let globalStatus: u64 = 0;
// Some counter runs: the run loop bounds its fast path with pmuFloor and calls pmuCheck.
export let pmuPoll: bool = false;
// A running counter counts branches: every instruction takes the run loop's full iteration,
// which calls pmuStepped after it.
export let pmuSlow: bool = false;
let deadline: u64 = u64.MAX_VALUE;   // step total at which the next overflow could happen
let notRetired: u64 = 0;             // steps that retired nothing (faulted, REP chunk)
let branches: u64 = 0;               // branch instructions retired (counted while pmuSlow)

@inline function steps(): u64 { return S.icount + inFlight(); }

function srcNow(src: u32): u64 {
  const c = steps();
  switch (src) {
    case SRC_CYC: return c;
    case SRC_INS: return c - notRetired;
    case SRC_BR: return branches;
    case SRC_CYC_INS: return notRetired;
    case SRC_CYC_BR: return c - branches;
    default: return 0;
  }
}

// The source an event select counts, or SRC_OFF for events this core does not count.
// CMASK/INV (SDM 21.2.1.1): every source here has at most one event per clock, so CMASK 1
// counts the events, CMASK >= 2 nothing; with INV, CMASK 1 counts clocks without the event
// and CMASK >= 2 every clock. Edge detect (E) is not modelled: it counts as without E.
function evtSrc(sel: u64): u32 {
  const ev = <u32>(sel & 0xff), um = <u32>((sel >> 8) & 0xff);
  let src = SRC_OFF;
  if (ev == 0x3c && (um == 0 || um == 1)) src = SRC_CYC;   // unhalted core / reference cycles
  else if (ev == 0xc0 && um == 0) src = SRC_INS;           // instructions retired
  else if (ev == 0xc4 && um == 0) src = SRC_BR;            // branch instructions retired
  if (src == SRC_OFF) return SRC_OFF;
  const cmask = <u32>((sel >> 24) & 0xff);
  if (cmask == 0) return src;
  if ((sel & EVTSEL_INV) == 0) return cmask == 1 ? src : SRC_OFF;
  if (cmask >= 2) return SRC_CYC;
  if (src == SRC_CYC) return SRC_OFF;
  return src == SRC_INS ? SRC_CYC_INS : SRC_CYC_BR;
}

// Counter slot i's source given the current controls and CPL (SRC_OFF: it does not count).
function wantSrc(i: u32): u32 {
  if (i < PMU_NGP) {
    const sel = load<u64>(EVTSEL + (<usize>i << 3));
    if ((sel & EVTSEL_EN) == 0 || (globalCtrl & (<u64>1 << <u64>i)) == 0) return SRC_OFF;
    if ((sel & (S.cpl == 0 ? EVTSEL_OS : EVTSEL_USR)) == 0) return SRC_OFF;
    return evtSrc(sel);
  }
  const j = i - PMU_NGP;
  const f = <u32>(fixedCtrl >> (<u64>j * 4)) & 3;
  if (f == 0 || (globalCtrl & (<u64>1 << <u64>(32 + j))) == 0) return SRC_OFF;
  if ((f & (S.cpl == 0 ? 1 : 2)) == 0) return SRC_OFF;
  return j == 0 ? SRC_INS : SRC_CYC;
}
// Enabled at some privilege level but not at both (CPL changes matter).
function cplFiltered(i: u32): bool {
  if (i < PMU_NGP) {
    const sel = load<u64>(EVTSEL + (<usize>i << 3));
    if ((sel & EVTSEL_EN) == 0 || (globalCtrl & (<u64>1 << <u64>i)) == 0) return false;
    const b = sel & (EVTSEL_OS | EVTSEL_USR);
    return b != 0 && b != (EVTSEL_OS | EVTSEL_USR);
  }
  const j = i - PMU_NGP;
  const f = <u32>(fixedCtrl >> (<u64>j * 4)) & 3;
  return (f == 1 || f == 2) && (globalCtrl & (<u64>1 << <u64>(32 + j))) != 0;
}
@inline function statusBit(i: u32): u64 { return <u64>1 << <u64>(i < PMU_NGP ? i : 32 + i - PMU_NGP); }
function intEnabled(i: u32): bool {
  if (i < PMU_NGP) return (load<u64>(EVTSEL + (<usize>i << 3)) & EVTSEL_INT) != 0;
  return ((fixedCtrl >> (<u64>(i - PMU_NGP) * 4 + 3)) & 1) != 0;
}

// Bring slot i up to date; an overflow (the count passed 2^48 - 1, SDM 21.2.2) sets its
// IA32_PERF_GLOBAL_STATUS bit. Returns true if the overflow asks for a PMI.
function fold(i: u32): bool {
  const src = load<u32>(SRC + (<usize>i << 2));
  if (src == SRC_OFF) return false;
  const now = srcNow(src);
  const p = VAL + (<usize>i << 3);
  const v = load<u64>(p) + (now - load<u64>(SNAP + (<usize>i << 3)));
  store<u64>(p, v & CTR_MASK);
  store<u64>(SNAP + (<usize>i << 3), now);
  if (v < WRAP) return false;
  globalStatus |= statusBit(i);
  return intEnabled(i);
}

// Fold every counter, then start the ones the controls and CPL now select; recompute the run
// loop's bound. Called whenever any of that may have changed.
function reeval(): void {
  let wantPmi = false;
  for (let i: u32 = 0; i < NCTR; i++) if (fold(i)) wantPmi = true;
  const c = steps();
  let dl = u64.MAX_VALUE;
  let poll = false, slow = false, watch = false;
  for (let i: u32 = 0; i < NCTR; i++) {
    const src = wantSrc(i);
    store<u32>(SRC + (<usize>i << 2), src);
    if (cplFiltered(i)) watch = true;
    if (src == SRC_OFF) continue;
    store<u64>(SNAP + (<usize>i << 3), srcNow(src));
    poll = true;
    if (src == SRC_BR || src == SRC_CYC_BR) slow = true;
    // Every source counts at most one event per step: the wrap cannot come earlier.
    const d = c + (WRAP - load<u64>(VAL + (<usize>i << 3)));
    if (d < dl) dl = d;
  }
  deadline = dl;
  pmuPoll = poll; pmuSlow = slow;
  S.setPmuCplWatch(watch, pmuCplChanged);   // CPL changes fold (state.ts updateMode/setCpl)
  bumpVmxEpoch();   // the run loop's fast path re-reads pmuFloor (cpu/run.ts)
  // SDM 21.6.3.5.8 / 11.5.1: a counter overflow with INT set sends the local APIC's
  // performance-counter LVT interrupt (the host's APIC: host/devices/apic.ts perfInterrupt).
  if (wantPmi) pmi();
}

// ---- run-loop hooks (cpu/run.ts) ---------------------------------------------------------
// Between instructions: an overflow may have happened at the step just retired.
export function pmuCheck(): void { if (steps() >= deadline) reeval(); }
// How far the fast path may run (its floor, as vmx/intercept.ts fastLoopFloor): it stops at
// the first step where a counter could wrap, so pmuCheck sees the overflow before the next
// instruction. With a branch counter running, every instruction takes the full iteration.
export function pmuFloor(left: u32, floor: u32): u32 {
  if (pmuSlow) return left;
  const c = steps();
  if (c >= deadline) return left;
  const d = deadline - c;
  if (d >= <u64>left) return floor;
  const f = left - <u32>d;
  return f > floor ? f : floor;
}
// The step that just ran faulted or left a repeated string instruction unfinished: it took a
// clock but retired nothing.
export function pmuNotRetired(): void { notRetired++; }
// After an instruction in the full iteration while pmuSlow: was it a branch that retired?
// Branches: Jcc, JMP, CALL, RET, IRET (near and far, direct and indirect), LOOP/LOOPcc/JrCXZ,
// INT n/INT3/INTO/INT1, SYSCALL/SYSRET/SYSENTER/SYSEXIT.
export function pmuStepped(): void {
  if (faultPending) return;
  const op = D.opcode;
  let br = false;
  if (op >= 0x70 && op <= 0x7f) br = true;                       // Jcc rel8
  else if (op >= 0x180 && op <= 0x18f) br = true;                // Jcc rel32
  else if (op >= 0xe0 && op <= 0xe3) br = true;                  // LOOPNE LOOPE LOOP JrCXZ
  else if (op >= 0xe8 && op <= 0xeb) br = true;                  // CALL JMP JMP far JMP rel8
  else if (op == 0xc2 || op == 0xc3 || op == 0xca || op == 0xcb) br = true;   // RET, RET far
  else if (op >= 0xcc && op <= 0xcf) br = true;                  // INT3 INT n INTO IRET
  else if (op == 0x9a || op == 0xf1) br = true;                  // CALL far, INT1
  else if (op == 0x105 || op == 0x107 || op == 0x134 || op == 0x135) br = true;
  else if (op == 0xff) { const r = D.modReg & 7; br = r >= 2 && r <= 5; }   // CALL/JMP r/m, far
  if (br) branches++;
}

// ---- LBR stack MSRs of this CPU model (06_3AH, SDM Vol.4 table 2-20 ff.) -------------------
// MSR_LBR_SELECT (1C8H, bits 9:0), MSR_LASTBRANCH_TOS (1C9H, bits 3:0), 16 FROM_IP (680H-68FH)
// and 16 TO_IP (6C0H-6CFH) registers. They exist (software that knows the model, e.g. Linux's
// perf driver, resets them once it finds a PMU) and hold what is written; this core records no
// branches (IA32_DEBUGCTL.LBR is held only, cpu/msr.ts), so they never change by themselves.
const MSR_LBR_SELECT: u32 = 0x1c8, MSR_LBR_TOS: u32 = 0x1c9, MSR_LBR_FROM0: u32 = 0x680, MSR_LBR_TO0: u32 = 0x6c0;
const LBR_NR: u32 = 16;
const LBR: usize = memory.data(8 * (2 + 2 * 16), 8);   // select, tos, from[16], to[16]
function lbrSlot(m: u32): i32 {
  if (m == MSR_LBR_SELECT) return 0;
  if (m == MSR_LBR_TOS) return 1;
  if (m >= MSR_LBR_FROM0 && m < MSR_LBR_FROM0 + LBR_NR) return <i32>(2 + m - MSR_LBR_FROM0);
  if (m >= MSR_LBR_TO0 && m < MSR_LBR_TO0 + LBR_NR) return <i32>(2 + LBR_NR + m - MSR_LBR_TO0);
  return -1;
}

// ---- MSRs (cpu/msr.ts) -------------------------------------------------------------------
@inline function gpIndex(m: u32, base: u32): i32 {
  return m >= base && m < base + PMU_NGP ? <i32>(m - base) : -1;
}
export function isPmuMsr(m: u32): bool {
  return gpIndex(m, MSR_PMC0) >= 0 || gpIndex(m, MSR_PERFEVTSEL0) >= 0 || gpIndex(m, MSR_A_PMC0) >= 0
    || (m >= MSR_FIXED_CTR0 && m < MSR_FIXED_CTR0 + PMU_NFIXED) || m == MSR_PERF_CAPABILITIES
    || (m >= MSR_FIXED_CTR_CTRL && m <= MSR_PERF_GLOBAL_OVF_CTRL) || lbrSlot(m) >= 0;
}

// Counter slot i now (0-3 GP, 4-6 fixed).
export function counterValue(i: u32): u64 {
  const src = load<u32>(SRC + (<usize>i << 2));
  const v = load<u64>(VAL + (<usize>i << 3));
  if (src == SRC_OFF) return v;
  return (v + (srcNow(src) - load<u64>(SNAP + (<usize>i << 3)))) & CTR_MASK;
}
function setCounter(i: u32, v: u64): void {
  reeval();   // fold everything (an overflow up to here is recorded), then replace the value
  store<u64>(VAL + (<usize>i << 3), v & CTR_MASK);
  reeval();   // new deadline
}

// RDMSR of a PMU MSR (isPmuMsr(m) is true).
export function pmuReadMsr(m: u32): u64 {
  const l = lbrSlot(m);
  if (l >= 0) return load<u64>(LBR + (<usize>l << 3));
  let g = gpIndex(m, MSR_PMC0);
  if (g < 0) g = gpIndex(m, MSR_A_PMC0);
  if (g >= 0) return counterValue(<u32>g);
  g = gpIndex(m, MSR_PERFEVTSEL0);
  if (g >= 0) return load<u64>(EVTSEL + (<usize>g << 3));
  if (m >= MSR_FIXED_CTR0 && m < MSR_FIXED_CTR0 + PMU_NFIXED) return counterValue(PMU_NGP + m - MSR_FIXED_CTR0);
  switch (m) {
    case MSR_PERF_CAPABILITIES: return PERF_CAPABILITIES;
    case MSR_FIXED_CTR_CTRL: return fixedCtrl;
    case MSR_PERF_GLOBAL_STATUS: pmuCheck(); return globalStatus;
    case MSR_PERF_GLOBAL_CTRL: return globalCtrl;
    default: return 0;   // IA32_PERF_GLOBAL_OVF_CTRL reads as 0
  }
}

// WRMSR of a PMU MSR: false = #GP(0) (the caller raises it).
export function pmuWriteMsr(m: u32, v: u64): bool {
  const l = lbrSlot(m);
  if (l >= 0) {
    if (l == 0 && (v & ~(<u64>0x3ff)) != 0) return false;   // LBR_SELECT: bits 9:0
    store<u64>(LBR + (<usize>l << 3), l == 1 ? v & 0xf : v);  // TOS: bits 3:0
    return true;
  }
  let g = gpIndex(m, MSR_PMC0);
  if (g >= 0) {
    // SDM 21.2.5 (full-width writes): through IA32_PMCx only bits 31:0 are written and
    // sign-extended to the counter width.
    setCounter(<u32>g, <u64><i64><i32><u32>v);
    return true;
  }
  g = gpIndex(m, MSR_A_PMC0);
  if (g >= 0) {
    if ((v & ~CTR_MASK) != 0) return false;   // IA32_A_PMCx: up to the counter width
    setCounter(<u32>g, v);
    return true;
  }
  g = gpIndex(m, MSR_PERFEVTSEL0);
  if (g >= 0) {
    if ((v & EVTSEL_RSVD) != 0) return false;
    store<u64>(EVTSEL + (<usize>g << 3), v);
    reeval();
    return true;
  }
  if (m >= MSR_FIXED_CTR0 && m < MSR_FIXED_CTR0 + PMU_NFIXED) {
    setCounter(PMU_NGP + m - MSR_FIXED_CTR0, v);   // bits above the width are dropped (as KVM)
    return true;
  }
  switch (m) {
    case MSR_FIXED_CTR_CTRL:
      if ((v & ~FIXED_CTRL_VALID) != 0) return false;
      fixedCtrl = v;
      reeval();
      return true;
    case MSR_PERF_GLOBAL_CTRL:
      if ((v & ~GLOBAL_VALID) != 0) return false;
      setGlobalCtrl(v);
      return true;
    case MSR_PERF_GLOBAL_OVF_CTRL:
      if ((v & ~OVF_CTRL_VALID) != 0) return false;
      pmuCheck();
      globalStatus &= ~v;
      return true;
    default: return false;   // IA32_PERF_CAPABILITIES, IA32_PERF_GLOBAL_STATUS: read-only
  }
}

// IA32_PERF_GLOBAL_CTRL from WRMSR or a VM entry/exit load (vmx/entry.ts, exit.ts); the
// caller has checked the reserved bits.
export function setGlobalCtrl(v: u64): void {
  pmuCheck();
  globalCtrl = v;
  reeval();
}
// A value VM entry may load (SDM 26.2.2, 26.3.1.1: no bit reserved in the MSR is set).
export function globalCtrlOk(v: u64): bool { return (v & ~GLOBAL_VALID) == 0; }

// ---- RDPMC (ops/sys_ctrl.ts) -------------------------------------------------------------
// ECX[30] selects the fixed counters, ECX[31] the fast read (low 32 bits; as KVM), the rest is
// the index. Returns false for an invalid ECX (#GP(0), SDM Vol.2 RDPMC).
export let rdpmcValue: u64 = 0;
export function pmuRdpmc(ecx: u32): bool {
  const idx = ecx & 0x3fffffff;
  const fixed = (ecx & (1 << 30)) != 0;
  if (idx >= (fixed ? PMU_NFIXED : PMU_NGP)) return false;
  let v = counterValue(fixed ? PMU_NGP + idx : idx);
  if ((ecx & 0x80000000) != 0) v &= 0xffffffff;
  rdpmcValue = v;
  return true;
}

// ---- CPL changes (state.ts updateMode / setCpl while pmuCplWatch) -------------------------
function pmuCplChanged(): void { reeval(); }

export function resetPmu(): void {
  memory.fill(VAL, 0, 8 * NCTR);
  memory.fill(SNAP, 0, 8 * NCTR);
  memory.fill(SRC, 0, 4 * NCTR);
  memory.fill(EVTSEL, 0, 8 * 4);
  memory.fill(LBR, 0, 8 * (2 + 2 * LBR_NR));
  fixedCtrl = 0; globalCtrl = GLOBAL_CTRL_RESET; globalStatus = 0;
  pmuPoll = false; pmuSlow = false; S.setPmuCplWatch(false, pmuCplChanged);
  deadline = u64.MAX_VALUE;
}

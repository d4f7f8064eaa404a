// The interpreter loop: runs instructions until the budget is spent or something
// the host owns happens. Never returns per instruction (a wasm->JS round trip
// costs more than an instruction).
import { step } from "./exec";
import { faultPending } from "./fault";
import { halted, icount } from "./state";
import * as S from "./state";
import { shutdown, intrLine, nmiPending, intShadow, deliverFault, checkInterrupts } from "./interrupts";
import * as I from "./interrupts";

export const STOP_BUDGET: u32 = 0;   // budget exhausted
export const STOP_HLT: u32 = 1;      // HLT with nothing to wake it: host waits for an interrupt
export const STOP_SHUTDOWN: u32 = 2; // triple fault / shutdown
export const STOP_HOST: u32 = 3;     // the host asked to stop (requestStop from an I/O callback)

export let stopRequested: bool = false;
export function requestStop(): void { stopRequested = true; }

export function runSlice(budget: u32): u32 {
  stopRequested = false;
  let n = budget;
  let reason = STOP_BUDGET;
  while (n > 0) {
    // SDM 6.8.3: the instruction after STI / MOV SS runs before any interrupt.
    if (intShadow) I.intShadow = false;
    else if (intrLine || nmiPending) checkInterrupts();
    if (shutdown) { reason = STOP_SHUTDOWN; break; }
    if (halted) { reason = STOP_HLT; break; }
    step();
    n--;
    if (faultPending) deliverFault();
    if (shutdown) { reason = STOP_SHUTDOWN; break; }
    if (stopRequested) { reason = STOP_HOST; break; }
  }
  S.icount += <u64>(budget - n);
  return reason;
}

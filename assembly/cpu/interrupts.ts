// Exception and interrupt delivery (SDM 6.12, 6.14, 20.1.4 for real mode), #DF
// escalation and triple fault, plus the external-interrupt / NMI inputs.
// (Initial version: the system owner replaces the internals.)
import { faultPending, faultVector, clearFault } from "./fault";

export let shutdown: bool = false;       // triple fault: the machine stops
export let intrLine: bool = false;       // INTR pin from the PIC / APIC
export let nmiPending: bool = false;
export let intShadow: bool = false;      // STI / MOV SS shadow for the next instruction
export function setIntrLine(v: bool): void { intrLine = v; }
export function raiseNmi(): void { nmiPending = true; }
export function setIntShadow(v: bool): void { intShadow = v; }

// Deliver the pending fault recorded in fault.ts (RIP = faulting instruction).
export function deliverFault(): void {
  clearFault();
  shutdown = true;
}

// At an instruction boundary: deliver NMI / external interrupt if allowed.
// Returns true if an event was delivered (wakes HLT).
export function checkInterrupts(): bool {
  return false;
}

export function resetInterrupts(): void {
  shutdown = false; intrLine = false; nmiPending = false; intShadow = false;
}

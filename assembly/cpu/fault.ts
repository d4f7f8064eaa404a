// Exception signalling inside the core.
// AssemblyScript (runtime stub) has no unwinding, so an instruction that faults
// records the exception here and returns; every handler checks `faultPending`
// after each memory access or check that can fault, before it commits any state.
// The dispatcher then rolls RIP back to the instruction start and delivers it
// (system/interrupts.ts), which is where #DF and triple-fault escalation live.

export const EXC_DE: u32 = 0, EXC_DB: u32 = 1, EXC_NMI: u32 = 2, EXC_BP: u32 = 3, EXC_OF: u32 = 4;
export const EXC_BR: u32 = 5, EXC_UD: u32 = 6, EXC_NM: u32 = 7, EXC_DF: u32 = 8;
export const EXC_TS: u32 = 10, EXC_NP: u32 = 11, EXC_SS: u32 = 12, EXC_GP: u32 = 13, EXC_PF: u32 = 14;
export const EXC_MF: u32 = 16, EXC_AC: u32 = 17, EXC_MC: u32 = 18, EXC_XM: u32 = 19, EXC_VE: u32 = 20;

export let faultPending: bool = false;
export let faultVector: u32 = 0;
export let faultError: u32 = 0;
export let faultHasError: bool = false;
// Linear address for #PF; written to CR2 when the #PF is delivered (SDM 4.7).
export let faultAddr: u64 = 0;

// The first fault of an instruction wins; later ones are consequences of it.
export function raiseFault(vector: u32, error: u32, hasError: bool): void {
  if (faultPending) return;
  faultPending = true;
  faultVector = vector;
  faultError = error;
  faultHasError = hasError;
}
export function raisePF(lin: u64, err: u32): void {
  if (faultPending) return;
  faultAddr = lin;
  raiseFault(EXC_PF, err, true);
}
@inline export function raiseUD(): void { raiseFault(EXC_UD, 0, false); }
@inline export function raiseGP(err: u32): void { raiseFault(EXC_GP, err, true); }
@inline export function raiseSS(err: u32): void { raiseFault(EXC_SS, err, true); }
@inline export function raiseDE(): void { raiseFault(EXC_DE, 0, false); }
@inline export function raiseNM(): void { raiseFault(EXC_NM, 0, false); }
export function clearFault(): void { faultPending = false; }

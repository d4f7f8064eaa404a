// Host (debugger) breakpoints: linear instruction addresses at which the run loop stops with
// STOP_BREAK before the instruction executes. Unlike DR0-DR3 or INT3 the guest cannot see or
// change them (the gdb stub, host/gdbstub.ts, uses them for gdb's Z0/Z1 packets).
// Like all core state they are per vCPU (scripts/cpu-state-pass.mjs saves every global and the
// static data), so the host installs the same list on every vCPU.
import * as S from "./state";

export const HOST_BP_MAX: u32 = 64;
const BPS: usize = memory.data(HOST_BP_MAX * 8, 8);
export let hostBpCount: u32 = 0;
// Resuming from a stop at a breakpoint: the first check at that address does not stop again.
let skipLin: u64 = 0;
let skipArmed: bool = false;

@inline function ripLinear(): u64 {
  const lin = S.segBase(S.CS) + S.rip;
  return S.code64 ? lin : lin & 0xffffffff;
}

/** Add a breakpoint; false if the table is full (an existing one counts as added). */
export function hostBpSet(lin: u64): bool {
  for (let i: u32 = 0; i < hostBpCount; i++) if (load<u64>(BPS + (<usize>i << 3)) == lin) return true;
  if (hostBpCount == HOST_BP_MAX) return false;
  store<u64>(BPS + (<usize>hostBpCount << 3), lin);
  hostBpCount++;
  return true;
}
/** Remove a breakpoint; false if there was none at lin. */
export function hostBpClear(lin: u64): bool {
  for (let i: u32 = 0; i < hostBpCount; i++) {
    if (load<u64>(BPS + (<usize>i << 3)) != lin) continue;
    hostBpCount--;
    store<u64>(BPS + (<usize>i << 3), load<u64>(BPS + (<usize>hostBpCount << 3)));
    return true;
  }
  return false;
}
/** Before resuming: do not stop again at the instruction the vCPU is stopped at. */
export function hostBpResume(): void { skipLin = ripLinear(); skipArmed = true; }

/** At an instruction boundary (hostBpCount != 0): is the next instruction at a breakpoint? */
export function hostBpHit(): bool {
  const lin = ripLinear();
  if (skipArmed) {
    skipArmed = false;
    if (lin == skipLin) return false;
  }
  for (let i: u32 = 0; i < hostBpCount; i++) if (load<u64>(BPS + (<usize>i << 3)) == lin) return true;
  return false;
}

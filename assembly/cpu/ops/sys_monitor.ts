// MONITOR / MWAIT (SDM Vol.2 "MONITOR", "MWAIT"; Vol.3 8.10.4). MONITOR arms address
// monitoring of the line holding DS:rAX; MWAIT waits for a store to it or another break
// event. Architecturally MWAIT may wake at any time for implementation-specific reasons, and
// software must re-check its condition, so here it returns at once (a spurious wake-up):
// correct for every guest, at the cost of spinning an idle loop that relies on it.
import * as S from "../state";
import { RAX, RCX } from "../state";
import { raiseUD, raiseGP, faultPending } from "../fault";
import * as Dec from "../decode";
import { linearAddr, BAD_ADDR } from "../segmem";
import { translate, ACC_READ } from "../../mmu/access";
import { miscEnable, MISC_MONITOR } from "../misc_enable";
import { nonRoot } from "../../vmx/vstate";
import * as VX from "../../vmx/intercept";
import { pauseYield } from "../vcpu_id";
import { requestStop } from "../run";

// IA32_MISC_ENABLE[18] "ENABLE MONITOR FSM": clear = MONITOR/MWAIT #UD, CPUID.1:ECX[3] = 0.
@inline export function monitorEnabled(): bool { return (miscEnable & MISC_MONITOR) != 0; }

// The armed line (guest-physical), or -1.
let armedLine: u64 = u64.MAX_VALUE;
export function monitorArmed(): bool { return armedLine != u64.MAX_VALUE; }
export function resetMonitor(): void { armedLine = u64.MAX_VALUE; }

// #UD: not enabled, or CPL > 0 (no ring-3 MWAIT is offered). These precede VM exits (SDM 26.1.1).
function udCheck(): bool {
  if (!monitorEnabled() || (S.protMode && S.cpl != 0)) { raiseUD(); return true; }
  return false;
}

// 0F 01 C8. ECX: extensions (none supported: must be 0); EDX: hints (ignored).
export function monitor(): void {
  if (udCheck()) return;
  if (nonRoot && VX.exitMonitor()) return;
  const a = Dec.adSize;
  const off = a == 8 ? S.getReg64(RAX) : (a == 4 ? <u64>S.getReg32(RAX) : <u64>S.getReg16(RAX));
  if (S.getReg32(RCX) != 0) { raiseGP(0); return; }
  // The address is checked as a 1-byte read: segment checks, then paging.
  const lin = linearAddr(Dec.dsSeg(), off, 1, false);
  if (lin == BAD_ADDR) return;
  const pa = translate(lin, ACC_READ);
  if (faultPending) return;
  armedLine = pa & ~(<u64>63);
}

// 0F 01 C9. ECX bit 0: treat interrupts as break events even when masked (CPUID.05H:ECX[1]);
// other ECX bits reserved: #GP(0). EAX: C-state hints (ignored).
export function mwait(): void {
  if (udCheck()) return;
  if (nonRoot && VX.exitMwait(monitorArmed())) return;
  if ((S.getReg32(RCX) & ~1) != 0) { raiseGP(0); return; }
  armedLine = u64.MAX_VALUE;   // the wait ends and disarms the monitor
  if (pauseYield) requestStop();   // with other vCPUs: let them run (they are what it waits for)
}

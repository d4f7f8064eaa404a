// VM functions (SDM Vol.3C 25.5.6, Vol.2 VMFUNC): the "enable VM functions" secondary control
// (bit 13), the VM-function controls field, and VM function 0, EPTP switching, with the
// EPTP list (one 4 KiB page of 512 EPTPs). IA32_VMX_VMFUNC (A.11) reports function 0.
// Hooks: system.ts (0F 01 D4), entry.ts (control checks), caps.ts (capabilities).
import * as S from "../cpu/state";
import { raiseUD } from "../cpu/fault";
import { PHYS_ADDR_BITS } from "../cpu/cpuid";
import { invalidateFetch } from "../cpu/decode";
import { physRead } from "../mmu/phys";
import { tlbFlushAll, setTlbTag } from "../mmu/tlb";
import * as F from "./fields";
import { vmcsRead as rd, vmcsWrite as wr } from "./fields";
import * as V from "./vstate";
import * as E from "./ept";
import { instrExit } from "./exit";

export const PROC2_VMFUNC: u32 = 1 << 13;
const PROC2_EPT: u32 = 1 << 1;
export const VMFUNC_CONTROLS: u32 = 0x2018, EPTP_LIST_ADDR: u32 = 0x2024;
export const EXIT_VMFUNC: u32 = 59;
// IA32_VMX_VMFUNC: bit n = VM function n may be enabled. Only EPTP switching (0).
export const VMFUNC_EPTP_SWITCH: u64 = 1;
import { VMFUNC_CAP } from "./caps";
const PA_RSVD: u64 = ~(((<u64>1) << <u64>PHYS_ADDR_BITS) - 1);

// SDM 26.2.1.1: with "enable VM functions", the VM-function controls may set only supported
// bits; EPTP switching needs "enable EPT" and a page-aligned EPTP-list address within the
// physical-address width. true if valid.
export function controlsOk(p2: u32): bool {
  // "Enable PML" (ept.ts) needs "enable EPT" and a page-aligned PML address (SDM 26.2.1.1).
  if ((p2 & E.PROC2_PML) != 0) {
    const a = rd(E.PML_ADDR);
    if ((p2 & PROC2_EPT) == 0 || (a & 0xfff) != 0 || (a & PA_RSVD) != 0) return false;
  }
  if ((p2 & PROC2_VMFUNC) == 0) return true;
  const c = rd(VMFUNC_CONTROLS);
  if ((c & ~VMFUNC_CAP) != 0) return false;
  if ((c & VMFUNC_EPTP_SWITCH) != 0) {
    if ((p2 & PROC2_EPT) == 0) return false;
    const l = rd(EPTP_LIST_ADDR);
    if ((l & 0xfff) != 0 || (l & PA_RSVD) != 0) return false;
  }
  return true;
}

// 0F 01 D4: VMFUNC. #UD outside VMX non-root operation, without "enable VM functions", or
// with EAX >= 64 (these have priority over the VM exit); a function whose control bit is 0, or
// that fails, is a VM exit with reason 59 (SDM 25.5.6.2). Returns with RIP advanced on success.
// `eptpOk` is entry.ts's EPTP check (passed in to keep this file free of entry.ts).
export function vmfunc(eptpOk: (e: u64) => bool): void {
  if (!V.nonRoot) { raiseUD(); return; }
  const proc = <u32>rd(F.PROC_CONTROLS);
  const p2 = (proc & (1 << 31)) != 0 ? <u32>rd(F.PROC2_CONTROLS) : 0;
  if ((p2 & PROC2_VMFUNC) == 0) { raiseUD(); return; }
  const fn = S.getReg32(S.RAX);
  if (fn >= 64) { raiseUD(); return; }
  if ((rd(VMFUNC_CONTROLS) & ((<u64>1) << <u64>fn)) == 0) { instrExit(EXIT_VMFUNC, 0, 0); return; }
  // fn == 0 (the only function that can be enabled): EPTP switching (SDM 25.5.6.3).
  const idx = S.getReg32(S.RCX);
  if (idx >= 512) { instrExit(EXIT_VMFUNC, 0, 0); return; }
  const eptp = physRead(rd(EPTP_LIST_ADDR) + (<u64>idx << 3), 8);
  if (!eptpOk(eptp)) { instrExit(EXIT_VMFUNC, 0, 0); return; }
  wr(F.EPT_POINTER, eptp);
  // With "EPT-violation #VE" offered, the EPTP index field takes ECX[15:0] (SDM 25.5.6.3).
  wr(F.EPTP_INDEX, <u64>(idx & 0xffff));
  E.setEpt(true, eptp);
  // Translations are cached per (VPID, EPTP) context; without VPID there is one context for
  // all L2 mappings, so it is flushed.
  if (V.vpidActive) {
    const tag = E.contextTag(<u32>rd(F.VIRTUAL_PROCESSOR_ID), eptp);
    setTlbTag(tag);
    if (E.ctxEvicted) tlbFlushAll(false);
  } else tlbFlushAll(false);
  invalidateFetch();
}

// VMX capability MSRs (SDM Vol.3C Appendix A) and the feature set they describe.
// Rule: a control is allowed-1 only when the core implements its 1-setting; default1 bits
// (SDM A.2) are reported as required in the non-TRUE MSRs as on hardware. Grow the sets below
// when an exit condition or feature lands, never before.
import { highestIndex } from "./fields";
import { FT_BASE, FT_PAT, FT_EFER, FT_EPT, FT_VPID, FT_PREEMPT, FT_SHADOW, FT_TPR, FT_APICACC, FT_VMFUNC, FT_TSCSCALE, FT_VINTR, FT_POSTED, FT_PML, FT_PLE, FT_VE, FT_PERF } from "./features";
import { FEAT_LA57 } from "../cpu/cpuid";
import { nested } from "./vstate";

// VMCS-field features present (bit n = fields.ts FT_*). Only the base field set so far.
// Base fields, IA32_PAT / IA32_EFER (load/save controls offered), EPT and VPID.
export const FEATURES_ON: u32 = (1 << FT_BASE) | (1 << FT_PAT) | (1 << FT_EFER) | (1 << FT_EPT) | (1 << FT_VPID)
  | (1 << FT_PREEMPT) | (1 << FT_SHADOW)
  | (1 << FT_TPR) | (1 << FT_APICACC)    // vapic.ts: TPR shadow, virtualize APIC accesses
  | (1 << FT_VMFUNC) | (1 << FT_TSCSCALE)  // vmfunc.ts, tsc.ts
  | (1 << FT_VINTR) | (1 << FT_POSTED)     // vid.ts: virtual-interrupt delivery, posted interrupts
  | (1 << FT_PML)                          // ept.ts: page-modification logging
  | (1 << FT_PLE)
  | (1 << FT_VE)                           // intercept.ts: EPT-violation #VE (EPTP index, #VE information address)                         // intercept.ts: PAUSE-loop exiting (PLE_Gap, PLE_Window)
  | (1 << FT_PERF);                        // IA32_PERF_GLOBAL_CTRL load/save (cpu/pmu.ts)

// IA32_VMX_EPT_VPID_CAP (A.10): execute-only (0), 4-level walks (6), UC (8) and WB (14) EPT
// structures, 2M (16) and 1G (17) pages, INVEPT (20) single-context (25) and all-context (26),
// INVVPID (32) individual-address (40), single-context (41), all-context (42),
// single-context-retaining-globals (43), accessed/dirty flags (21); 5-level walks (7) with
// LA57 (ept.ts walkLengthOk).
export const EPT_VPID_CAP: u64 = 1 | (1 << 6) | (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17) | (1 << 20) | (1 << 21)
  | (1 << 25) | (1 << 26) | (<u64>1 << 32) | (<u64>0xf << 40) | (FEAT_LA57 ? 1 << 7 : 0);

// IA32_VMX_BASIC (A.1): revision id 0x6e76 ("nv"), 4 KiB VMCS region, 64-bit physical
// addresses (bit 48 = 0), no dual-monitor SMM (49), write-back VMCS (53:50 = 6), TRUE
// controls MSRs (55), VM-exit instruction information for INS/OUTS (54, intercept.ts exitIo).
// Bit 56 (no error code required for injected hardware exceptions) is not claimed.
export const VMCS_REVISION: u32 = 0x6e76;
export const VMCS_REGION_SIZE: u32 = 0x1000;
export const VMX_BASIC: u64 = <u64>VMCS_REVISION | (<u64>VMCS_REGION_SIZE << 32) | (<u64>6 << 50) | (<u64>1 << 54) | (<u64>1 << 55);

// Default1 classes (A.3.1-A.5): bits that are 1 in the non-TRUE MSRs' allowed-0 half.
export const PIN_DEFAULT1: u32 = 0x00000016;
export const PROC_DEFAULT1: u32 = 0x0401e172;
export const EXIT_DEFAULT1: u32 = 0x00036dff;
export const ENTRY_DEFAULT1: u32 = 0x000011ff;
// Of those, the bits whose 0-setting is also supported (reported by the TRUE_* MSRs).
export const PROC_TRUE_CLEARABLE: u32 = (1 << 15) | (1 << 16);   // CR3-load / CR3-store exiting
export const EXIT_TRUE_CLEARABLE: u32 = 1 << 2;                   // save debug controls
export const ENTRY_TRUE_CLEARABLE: u32 = 1 << 2;                  // load debug controls

// Optional 1-settings implemented (beyond default1).
// Pin: external-interrupt exiting (0), NMI exiting (3), virtual NMIs (5), activate VMX-preemption timer (6),
// process posted interrupts (7, vid.ts).
export const PIN_OPT1: u32 = (1 << 0) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7);
// Primary: interrupt-window exiting (2), TSC offsetting (3), HLT (7), INVLPG (9), RDPMC (11), RDTSC (12), CR8 load/store (19/20),
// use TPR shadow (21, vapic.ts), NMI-window exiting (22), MOV DR (23), unconditional I/O (24), I/O bitmaps (25), monitor trap
// flag (27), MSR bitmaps (28), PAUSE exiting (30), MWAIT (10) / MONITOR (29) exiting. Bit 31 (activate secondary controls)
// follows PROC2_OPT1.
export const PROC_OPT1: u32 = (1 << 2) | (1 << 3) | (1 << 7) | (1 << 9) | (1 << 11) | (1 << 27) | (1 << 12) | (1 << 19) | (1 << 20) | (1 << 23)
  | (1 << 24) | (1 << 25) | (1 << 28) | (1 << 22) | (1 << 30) | (1 << 10) | (1 << 29)
  | (1 << 21);   // use TPR shadow (vapic.ts)
// Secondary: descriptor-table exiting (2), enable EPT (1), enable RDTSCP (3), enable VPID (5), WBINVD exiting (6),
// unrestricted guest (7), RDRAND exiting (11), VMCS shadowing (14), RDSEED exiting (16); and below the APIC
// virtualization controls, VM functions, PML, TSC scaling.
export const PROC2_EPT: u32 = 1 << 1, PROC2_VPID: u32 = 1 << 5, PROC2_UNRESTRICTED: u32 = 1 << 7;
export const PROC2_SHADOW: u32 = 1 << 14, PROC2_WBINVD: u32 = 1 << 6, PROC2_RDTSCP: u32 = 1 << 3;
export const PROC2_DESC_TABLE: u32 = 1 << 2, PROC2_RDRAND: u32 = 1 << 11, PROC2_RDSEED: u32 = 1 << 16;
export const PROC2_VAPIC: u32 = 1 << 0;   // virtualize APIC accesses (vapic.ts)
export const PROC2_X2APIC: u32 = 1 << 4;  // virtualize x2APIC mode (vapic.ts)
export const PROC2_APIC_REG: u32 = 1 << 8;   // APIC-register virtualization (vapic.ts)
export const PROC2_VID: u32 = 1 << 9;     // virtual-interrupt delivery (vid.ts)
export const PROC2_VMFUNC: u32 = 1 << 13; // enable VM functions (vmfunc.ts)
// IA32_VMX_VMFUNC (A.11): bit n = VM function n may be enabled; only EPTP switching (0).
export const VMFUNC_CAP: u64 = 1;
export const PROC2_TSC_SCALING: u32 = 1 << 25;   // use TSC scaling (tsc.ts)
export const PROC2_PML: u32 = 1 << 17;    // enable PML (ept.ts)
export const PROC2_VE: u32 = 1 << 18;        // EPT-violation #VE (intercept.ts veConvert)
export const PROC2_PLE: u32 = 1 << 10;       // PAUSE-loop exiting (intercept.ts exitPause)
export const PROC2_INVPCID: u32 = 1 << 12;   // enable INVPCID (intercept.ts invpcidUd / exitInvpcid)
export const PROC2_OPT1: u32 = PROC2_EPT | PROC2_VPID | PROC2_WBINVD | PROC2_UNRESTRICTED | PROC2_SHADOW | PROC2_RDTSCP
  | PROC2_DESC_TABLE | PROC2_RDRAND | PROC2_RDSEED
  | PROC2_VAPIC | PROC2_X2APIC | PROC2_APIC_REG | PROC2_VID | PROC2_VMFUNC | PROC2_TSC_SCALING | PROC2_PML
  | PROC2_INVPCID | PROC2_PLE | PROC2_VE;
// Exit: host address-space size (9), acknowledge interrupt on exit (15), save/load PAT (18/19),
// save/load EFER (20/21), save VMX-preemption timer value (22); load / save
// IA32_PERF_GLOBAL_CTRL (12 / 30, cpu/pmu.ts).
export const EXIT_OPT1: u32 = (1 << 9) | (1 << 15) | (1 << 18) | (1 << 19) | (1 << 20) | (1 << 21) | (1 << 22)
  | (1 << 12) | (1 << 30);
// Entry: IA-32e mode guest (9), load PAT (14), load EFER (15), load IA32_PERF_GLOBAL_CTRL (13).
export const ENTRY_OPT1: u32 = (1 << 9) | (1 << 14) | (1 << 15) | (1 << 13);

// IA32_VMX_MISC (A.6): EFER.LMA saved into "IA-32e mode guest" on exits (bit 5), preemption-timer rate 5 (bits 4:0: the timer counts
// down once per 32 TSC ticks, as on many processors; intercept.ts timerNow), activity states HLT (bit 6) and wait-for-SIPI (8),
// 4 CR3-target values (24:16), MSR lists of up to 512 entries (bits 27:25 = 0), MSEG revision 0,
// VMWRITE to any supported field incl. the VM-exit information fields (bit 29, SDM A.6).
export const CR3_TARGETS: u32 = 4;
export const PREEMPT_RATE: u32 = 5;
export const MISC_VMWRITE_ALL: u64 = 1 << 29;
export const VMX_MISC: u64 = <u64>PREEMPT_RATE | (1 << 5) | (1 << 6) | (1 << 8) | (<u64>CR3_TARGETS << 16) | MISC_VMWRITE_ALL;

// CR0/CR4 fixed bits (A.7, A.8). CR0: PE, NE, PG must be 1; any of bits 31:0 may be 1, as real
// processors report (MOV CR0 ignores writes to its reserved low bits, SDM 2.5, so a narrower
// FIXED1 would advertise a VMXON #GP that can never happen; kvm-unit-tests vmx checks it).
// CR4: VMXE must be 1; the rest as CR4_VALID.
export const CR0_FIXED0: u64 = 0x80000021;
export const CR0_FIXED1: u64 = 0xffffffff;
export const CR4_FIXED0: u64 = 0x2000;

export const MSR_VMX_BASIC: u32 = 0x480, MSR_VMX_PINBASED: u32 = 0x481, MSR_VMX_PROCBASED: u32 = 0x482;
export const MSR_VMX_EXIT: u32 = 0x483, MSR_VMX_ENTRY: u32 = 0x484, MSR_VMX_MISC: u32 = 0x485;
export const MSR_VMX_CR0_FIXED0: u32 = 0x486, MSR_VMX_CR0_FIXED1: u32 = 0x487;
export const MSR_VMX_CR4_FIXED0: u32 = 0x488, MSR_VMX_CR4_FIXED1: u32 = 0x489;
export const MSR_VMX_VMCS_ENUM: u32 = 0x48a, MSR_VMX_PROCBASED2: u32 = 0x48b, MSR_VMX_EPT_VPID: u32 = 0x48c;
export const MSR_VMX_TRUE_PIN: u32 = 0x48d, MSR_VMX_TRUE_PROC: u32 = 0x48e, MSR_VMX_TRUE_EXIT: u32 = 0x48f;
export const MSR_VMX_TRUE_ENTRY: u32 = 0x490, MSR_VMX_VMFUNC: u32 = 0x491;
export const MSR_VMX_PROCBASED3: u32 = 0x492, MSR_VMX_EXIT2: u32 = 0x493;

@inline function ctl(must1: u32, may1: u32): u64 { return <u64>must1 | (<u64>(may1 | must1) << 32); }

export const PROC_ACTIVATE_SECONDARY: u32 = 1 << 31;
const PROC_MAY1: u32 = PROC_OPT1 | (PROC2_OPT1 != 0 ? PROC_ACTIVATE_SECONDARY : 0);

// The allowed-0 / allowed-1 pair a VM entry checks a control field against (the TRUE MSRs,
// SDM 26.2.1: bits 31:0 must-be-1, bits 63:32 may-be-1).
export const PIN_CTLS: u64 = ctl(PIN_DEFAULT1, PIN_OPT1);
export const PROC_CTLS: u64 = ctl(PROC_DEFAULT1 & ~PROC_TRUE_CLEARABLE, PROC_MAY1 | PROC_DEFAULT1);
export const PROC2_CTLS: u64 = ctl(0, PROC2_OPT1);
export const EXIT_CTLS: u64 = ctl(EXIT_DEFAULT1 & ~EXIT_TRUE_CLEARABLE, EXIT_OPT1 | EXIT_DEFAULT1);
export const ENTRY_CTLS: u64 = ctl(ENTRY_DEFAULT1 & ~ENTRY_TRUE_CLEARABLE, ENTRY_OPT1 | ENTRY_DEFAULT1);

export let capOk: bool = true;
// RDMSR of a VMX capability MSR: value, or capOk = false where the MSR does not exist on this
// configuration (the caller raises #GP(0)): nested off, or a MSR whose enabling bit is 0.
export function readVmxCap(m: u32, cr4Valid: u64): u64 {
  capOk = true;
  if (nested) {
    switch (m) {
      case MSR_VMX_BASIC: return VMX_BASIC;
      case MSR_VMX_PINBASED: return ctl(PIN_DEFAULT1, PIN_OPT1);
      case MSR_VMX_PROCBASED: return ctl(PROC_DEFAULT1, PROC_MAY1);
      case MSR_VMX_EXIT: return ctl(EXIT_DEFAULT1, EXIT_OPT1);
      case MSR_VMX_ENTRY: return ctl(ENTRY_DEFAULT1, ENTRY_OPT1);
      case MSR_VMX_MISC: return VMX_MISC;
      case MSR_VMX_CR0_FIXED0: return CR0_FIXED0;
      case MSR_VMX_CR0_FIXED1: return CR0_FIXED1;
      case MSR_VMX_CR4_FIXED0: return CR4_FIXED0;
      case MSR_VMX_CR4_FIXED1: return cr4Valid;
      case MSR_VMX_VMCS_ENUM: return <u64>(highestIndex() << 1);
      case MSR_VMX_TRUE_PIN: return PIN_CTLS;
      case MSR_VMX_TRUE_PROC: return PROC_CTLS;
      case MSR_VMX_TRUE_EXIT: return EXIT_CTLS;
      case MSR_VMX_TRUE_ENTRY: return ENTRY_CTLS;
      case MSR_VMX_PROCBASED2:
        if ((PROC_MAY1 & PROC_ACTIVATE_SECONDARY) != 0) return PROC2_CTLS;
        break;
      case MSR_VMX_EPT_VPID:   // A.10: exists with the 1-setting of "enable EPT" or "enable VPID"
        if ((PROC2_OPT1 & ((1 << 1) | (1 << 5))) != 0) return EPT_VPID_CAP;
        break;
      case MSR_VMX_VMFUNC:     // A.11: exists with "enable VM functions"
        if ((PROC2_OPT1 & (1 << 13)) != 0) return VMFUNC_CAP;
        break;
      default: break;          // 0x492/0x493: no tertiary / secondary exit controls
    }
  }
  capOk = false;
  return 0;
}

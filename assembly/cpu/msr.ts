// Model-specific registers (SDM Vol.4; RDMSR/WRMSR in Vol.2). Unknown MSRs and
// reserved bits raise #GP(0). Storage-only MSRs (MTRRs, PAT, FEATURE_CONTROL...) hold
// what the guest wrote so it reads back consistently. The local APIC's MSRs
// (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800-0x8ff) belong to the host's APIC.
import * as S from "./state";
import { miscEnable, resetMiscEnable, writeMiscEnable } from "./misc_enable";
import { FS, GS } from "./state";
import { raiseGP } from "./fault";
import { writeEfer } from "./control";
import { readTsc, writeTsc, writeTscAdjust, tscAdjust } from "./tsc";
import { isCanonicalMax } from "./segmem";
import { PHYS_ADDR_BITS } from "./cpuid";
import { tlbFlushAll } from "../mmu/access";
import { readVmxCap, capOk } from "../vmx/caps";
import { nested } from "../vmx/vstate";
import { CR4_VALID } from "./control";
import { msrRead as hostMsrRead, msrWrite as hostMsrWrite } from "../host";
import { isPmuMsr, pmuReadMsr, pmuWriteMsr } from "./pmu";

export const MSR_TSC: u32 = 0x10, MSR_PLATFORM_ID: u32 = 0x17, MSR_APIC_BASE: u32 = 0x1b;
export const MSR_FEATURE_CONTROL: u32 = 0x3a, MSR_TSC_ADJUST: u32 = 0x3b, MSR_BIOS_SIGN: u32 = 0x8b;
export const MSR_PLATFORM_INFO: u32 = 0xce, MSR_MTRRCAP: u32 = 0xfe;
export const MSR_SYSENTER_CS: u32 = 0x174, MSR_SYSENTER_ESP: u32 = 0x175, MSR_SYSENTER_EIP: u32 = 0x176;
export const MSR_DEBUGCTL: u32 = 0x1d9;
export const MSR_MCG_CAP: u32 = 0x179, MSR_MCG_STATUS: u32 = 0x17a, MSR_MISC_ENABLE: u32 = 0x1a0;
// MSR_POWER_CTL (0x1fc): model-specific on the family-6 model the CPUID reports (Ivy Bridge);
// Linux's intel_idle reads and writes it (bit 1: C1E promotion). Storage only: nestvm has no
// C-states beyond HLT/MWAIT, so no bit changes behaviour.
export const MSR_POWER_CTL: u32 = 0x1fc;
// IA32_ARCH_CAPABILITIES (10AH, read-only, SDM Vol. 4 Table 2-2): an interpreter has no speculative
// execution, caches or fill buffers to leak from, so every "not susceptible" bit is true:
// RDCL_NO (0), SKIP_L1DFL_VMENTRY (3: a hypervisor need not flush L1D before VM entry), SSB_NO (4),
// MDS_NO (5), IF_PSCHANGE_MC_NO (6), TAA_NO (8), SBDR_SSDP_NO (13), FBSDP_NO (14), PSDP_NO (15),
// BHI_NO (20), PBRSB_NO (24), GDS_NO (26), RFDS_NO (27). No control MSR is implied (IBRS_ALL,
// TSX_CTRL, FB_CLEAR_CTRL, GDS_CTRL are 0). Without it Linux assumes a vulnerable CPU and, as an
// L1 hypervisor, flushes L1D in software before VM entries (~4,000 instructions each).
export const MSR_ARCH_CAPABILITIES: u32 = 0x10a;
export const ARCH_CAPS: u64 = (1 << 0) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8)
  | (1 << 13) | (1 << 14) | (1 << 15) | (1 << 20) | (1 << 24) | (1 << 26) | (1 << 27);
export const MSR_PAT: u32 = 0x277, MSR_MTRR_DEF: u32 = 0x2ff, MSR_TSC_DEADLINE: u32 = 0x6e0;
export const MSR_EFER: u32 = 0xc0000080, MSR_STAR: u32 = 0xc0000081, MSR_LSTAR: u32 = 0xc0000082;
export const MSR_CSTAR: u32 = 0xc0000083, MSR_FMASK: u32 = 0xc0000084, MSR_FS_BASE: u32 = 0xc0000100;
export const MSR_GS_BASE: u32 = 0xc0000101, MSR_KERNEL_GS_BASE: u32 = 0xc0000102, MSR_TSC_AUX: u32 = 0xc0000103;

export let star: u64 = 0, lstar: u64 = 0, cstar: u64 = 0, fmask: u64 = 0, kernelGsBase: u64 = 0;
export let sysenterCs: u64 = 0, sysenterEsp: u64 = 0, sysenterEip: u64 = 0;
export let tscAux: u64 = 0;
export let pat: u64 = 0x0007040600070406;
export let featureControl: u64 = 0;
export let mtrrDef: u64 = 0;
export let mcgStatus: u64 = 0;
export let powerCtl: u64 = 0;
// IA32_DEBUGCTL (SDM 17.4.1, Vol.4 Table 2-2): the writable bits are LBR (0) and BTF (1), the
// set the first VMX processors had (SDM 26.3.1.1); the rest are reserved (#GP). Both are held
// for RDMSR and the VMX debug controls (vmx/entry.ts, exit.ts); this core records no branches
// and does not narrow single-stepping to branches.
export const DEBUGCTL_VALID: u64 = 0x3;
export let debugctl: u64 = 0;
export function setDebugctl(v: u64): void { debugctl = v & DEBUGCTL_VALID; }
export const MTRR_VCNT: u32 = 8;
// Variable MTRR base/mask pairs (0x200..0x20f) and the 11 fixed-range MTRRs.
const MTRR_VAR: usize = memory.data(16 * 8, 8);
const MTRR_FIX: usize = memory.data(11 * 8, 8);

export function setKernelGsBase(v: u64): void { kernelGsBase = v; }

export function resetMsrs(): void {
  star = 0; lstar = 0; cstar = 0; fmask = 0; kernelGsBase = 0;
  sysenterCs = 0; sysenterEsp = 0; sysenterEip = 0; tscAux = 0;
  pat = 0x0007040600070406; featureControl = 0; resetMiscEnable();
  mtrrDef = 0; mcgStatus = 0; debugctl = 0; powerCtl = 0;
  memory.fill(MTRR_VAR, 0, 16 * 8);
  memory.fill(MTRR_FIX, 0, 11 * 8);
}

// Index of a fixed-range MTRR (0x250, 0x258, 0x259, 0x268..0x26f), or -1.
function fixIndex(m: u32): i32 {
  if (m == 0x250) return 0;
  if (m == 0x258) return 1;
  if (m == 0x259) return 2;
  if (m >= 0x268 && m <= 0x26f) return <i32>(m - 0x268) + 3;
  return -1;
}
const PA_RSVD: u64 = ~((((<u64>1) << <u64>PHYS_ADDR_BITS) - 1));
// A memory type byte is valid if 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB); PAT also 7 (UC-).
function validMemTypes(v: u64, pat: bool): bool {
  for (let i = 0; i < 8; i++) {
    const t = (v >> <u64>(i * 8)) & 0xff;
    if (!(t == 0 || t == 1 || t == 4 || t == 5 || t == 6 || (pat && t == 7))) return false;
  }
  return true;
}

// MSRs answered by the host's local APIC (host.ts msrRead/msrWrite; SDM 11.4.4, 11.5.4.1, 11.12.1).
export function hostApicMsr(m: u32): bool {
  return m == MSR_APIC_BASE || m == MSR_TSC_DEADLINE || (m >= 0x800 && m <= 0x8ff);
}
const HOST_MSR_OUT: usize = memory.data(8, 8);

export let msrOk: bool = true;
// RDMSR: value, or #GP(0) raised (msrOk false) for an unknown MSR.
export function readMsr(m: u32): u64 {
  msrOk = true;
  if (hostApicMsr(m)) {
    store<u64>(HOST_MSR_OUT, 0);
    if (hostMsrRead(m, HOST_MSR_OUT) != 0) return load<u64>(HOST_MSR_OUT);
    msrOk = false;
    raiseGP(0);
    return 0;
  }
  switch (m) {
    case MSR_TSC: return readTsc();
    case MSR_PLATFORM_ID: return 0;
    case MSR_FEATURE_CONTROL: return featureControl;
    case MSR_TSC_ADJUST: return tscAdjust;
    case MSR_BIOS_SIGN: return 0;
    case MSR_PLATFORM_INFO: return 0x1400;   // max non-turbo ratio 20 (x 100 MHz = 2.0 GHz)
    case MSR_MTRRCAP: return 0x500 | <u64>MTRR_VCNT;   // WC, fixed ranges, 8 variable
    case MSR_SYSENTER_CS: return sysenterCs;
    case MSR_SYSENTER_ESP: return sysenterEsp;
    case MSR_SYSENTER_EIP: return sysenterEip;
    case MSR_MCG_CAP: return 0;
    case MSR_DEBUGCTL: return debugctl;
    case MSR_MCG_STATUS: return mcgStatus;
    case MSR_MISC_ENABLE: return miscEnable;
    case MSR_POWER_CTL: return powerCtl;
    case MSR_ARCH_CAPABILITIES: return ARCH_CAPS;
    case MSR_PAT: return pat;
    case MSR_MTRR_DEF: return mtrrDef;
    case MSR_EFER: return S.efer;
    case MSR_STAR: return star;
    case MSR_LSTAR: return lstar;
    case MSR_CSTAR: return cstar;
    case MSR_FMASK: return fmask;
    case MSR_FS_BASE: return S.segBase(FS);
    case MSR_GS_BASE: return S.segBase(GS);
    case MSR_KERNEL_GS_BASE: return kernelGsBase;
    case MSR_TSC_AUX: return tscAux;
    default: break;
  }
  if (m >= 0x200 && m < 0x200 + MTRR_VCNT * 2) return load<u64>(MTRR_VAR + (<usize>(m - 0x200) << 3));
  if (isPmuMsr(m)) return pmuReadMsr(m);   // performance monitoring (cpu/pmu.ts)
  if (m >= 0x480 && m <= 0x493) {   // VMX capability MSRs (vmx/caps.ts)
    const v = readVmxCap(m, CR4_VALID);
    if (capOk) return v;
  }
  const fi = fixIndex(m);
  if (fi >= 0) return load<u64>(MTRR_FIX + (<usize>fi << 3));
  msrOk = false;
  raiseGP(0);
  return 0;
}

// WRMSR: returns false with #GP(0) raised on an unknown MSR or reserved bits.
export function writeMsr(m: u32, v: u64): bool {
  if (hostApicMsr(m)) {
    // IA32_APIC_BASE: bits 7:0, 9 and MAXPHYADDR..63 are reserved (SDM 11.4.4); the host
    // checks the mode transitions (SDM 11.12.5) and everything about the x2APIC MSRs.
    if (m == MSR_APIC_BASE && (v & (0x2ff | PA_RSVD)) != 0) { raiseGP(0); return false; }
    if (hostMsrWrite(m, v) != 0) return true;
    raiseGP(0);
    return false;
  }
  switch (m) {
    case MSR_TSC: writeTsc(v); return true;
    case MSR_TSC_ADJUST: writeTscAdjust(v); return true;
    case MSR_FEATURE_CONTROL:
      // Lock bit set => further writes #GP (SDM 24.7). Bits 0 (lock), 2 (VMX outside SMX, only
      // with nested on) and 20 (LMCE). Bit 1 (VMX inside SMX) is reserved: no SMX.
      if ((featureControl & 1) != 0 || (v & ~(<u64>(nested ? 0x100005 : 0x100001))) != 0) break;
      featureControl = v;
      return true;
    case MSR_BIOS_SIGN: return true;   // microcode update trigger: ignored
    case MSR_SYSENTER_CS: sysenterCs = v & 0xffffffff; return true;
    case MSR_SYSENTER_ESP: if (!isCanonicalMax(v)) break; sysenterEsp = v; return true;
    case MSR_SYSENTER_EIP: if (!isCanonicalMax(v)) break; sysenterEip = v; return true;
    case MSR_MCG_STATUS: if (v != 0) break; mcgStatus = v; return true;
    case MSR_DEBUGCTL: if ((v & ~DEBUGCTL_VALID) != 0) break; debugctl = v; return true;
    case MSR_MISC_ENABLE: writeMiscEnable(v); return true;
    case MSR_POWER_CTL: powerCtl = v; return true;
    case MSR_PAT: if (!validMemTypes(v, true)) break; pat = v; tlbFlushAll(false); return true;
    case MSR_MTRR_DEF: if ((v & ~(<u64>0xcff)) != 0 || !validMemTypes(v & 0xff, false)) break; mtrrDef = v; return true;
    case MSR_EFER: return writeEfer(v);
    case MSR_STAR: star = v; return true;
    case MSR_LSTAR: if (!isCanonicalMax(v)) break; lstar = v; return true;
    case MSR_CSTAR: if (!isCanonicalMax(v)) break; cstar = v; return true;
    case MSR_FMASK: fmask = v & 0xffffffff; return true;
    case MSR_FS_BASE: if (!isCanonicalMax(v)) break; S.setSegBase(FS, v); return true;
    case MSR_GS_BASE: if (!isCanonicalMax(v)) break; S.setSegBase(GS, v); return true;
    case MSR_KERNEL_GS_BASE: if (!isCanonicalMax(v)) break; kernelGsBase = v; return true;
    case MSR_TSC_AUX: if ((v >> 32) != 0) break; tscAux = v; return true;
    default: {
      if (m >= 0x200 && m < 0x200 + MTRR_VCNT * 2) {
        // PHYSBASE: type in 7:0 (valid type), bits 11:8 reserved; PHYSMASK: bits 10:0 reserved.
        const isMask = (m & 1) != 0;
        if ((v & PA_RSVD) != 0) break;
        if (isMask ? (v & 0x7ff) != 0 : ((v & 0xf00) != 0 || !validMemTypes(v & 0xff, false))) break;
        store<u64>(MTRR_VAR + (<usize>(m - 0x200) << 3), v);
        return true;
      }
      if (isPmuMsr(m)) {   // performance monitoring (cpu/pmu.ts)
        if (!pmuWriteMsr(m, v)) break;
        return true;
      }
      const fi = fixIndex(m);
      if (fi >= 0) {
        if (!validMemTypes(v, false)) break;
        store<u64>(MTRR_FIX + (<usize>fi << 3), v);
        return true;
      }
      break;
    }
  }
  raiseGP(0);
  return false;
}

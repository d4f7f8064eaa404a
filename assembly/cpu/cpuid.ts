// CPUID (SDM Vol.2 CPUID; Vol.3A 2.x). One table of what this core implements:
// control.ts (CR4 reserved bits), msr.ts and the instruction handlers consult the
// same constants, so an unadvertised feature is also rejected where it is enabled.
import * as S from "./state";
import { nested } from "../vmx/vstate";
import { msrRead } from "../host";
import { apicId, cpuCount } from "./vcpu_id";
import { miscEnable, MISC_MONITOR } from "./misc_enable";
import { PMU_VERSION, PMU_NGP, PMU_NFIXED, PMU_WIDTH, PMU_EVENT_VECTOR_LEN, pmuEventsUnavailable } from "./pmu_caps";

// ---- implemented features (flip a constant when the code for it lands) ------------
export const FEAT_XSAVE: bool = true;    // XSAVE/XRSTOR/XSAVEOPT of x87|SSE (ops/fxsave.ts); gates CR4.OSXSAVE, XGETBV/XSETBV
export const FEAT_PSE36: bool = true;    // PSE-36 (mmu/paging.ts)
export const FEAT_PCID: bool = true;     // CR4.PCIDE (mmu/tlb.ts tags) and INVPCID (leaf 7 EBX[10])
export const FEAT_LA57: bool = true;     // 5-level paging (mmu/paging.ts)
export const FEAT_SMEP: bool = true;     // implemented by the MMU engineer
export const FEAT_SMAP: bool = true;     // CLAC/STAC here, checks in the MMU
export const FEAT_UMIP: bool = true;     // SGDT/SIDT/SLDT/SMSW/STR #GP at CPL>0
export const FEAT_FSGSBASE: bool = false;
export const FEAT_VMX: bool = true;      // vmx/ (CPUID.1:ECX.VMX and CR4.VMXE also need --nested on)
export const FEAT_APIC: bool = true;     // local APIC in the host (host/devices/apic.ts; MSRs via msr.ts)
export const FEAT_X2APIC: bool = true;   // x2APIC MSRs 0x800-0x8ff, forwarded to the host's APIC
export const FEAT_TSC_DEADLINE: bool = true;  // IA32_TSC_DEADLINE (0x6e0), forwarded to the host's APIC
export const FEAT_TSC_ADJUST: bool = true;    // IA32_TSC_ADJUST (0x3b, cpu/tsc.ts)
export const APIC_ID: u32 = 0;           // vCPU 0's initial APIC ID (each vCPU: vcpu.ts apicId)

export const PHYS_ADDR_BITS: u32 = 40;   // MAXPHYADDR (CPUID 0x80000008 EAX[7:0])
export const LIN_ADDR_BITS: u32 = FEAT_LA57 ? 57 : 48;
export const MAX_BASIC_LEAF: u32 = 0xd;
export const MAX_EXT_LEAF: u32 = 0x80000008;

// Leaf 1 EDX: FPU VME DE PSE TSC MSR PAE CX8 SEP MTRR PGE CMOV PAT CLFSH MMX FXSR SSE SSE2
// (+PSE36/APIC when present).
export const L1_EDX: u32 = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8)
  | (1 << 11) | (1 << 12) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 19) | (1 << 23) | (1 << 24)
  | (1 << 25) | (1 << 26) | (FEAT_PSE36 ? 1 << 17 : 0) | (FEAT_APIC ? 1 << 9 : 0);
// Leaf 1 ECX: SSE3(0) SSSE3(9) CX16(13) PDCM(15: IA32_PERF_CAPABILITIES, cpu/pmu.ts) MOVBE(22) POPCNT(23) RDRAND(30) (+XSAVE, PCID, x2APIC(21),
// TSC-deadline(24), VMX when present). OSXSAVE (bit 27) mirrors CR4; MONITOR (3) follows IA32_MISC_ENABLE[18].
// No SSE4.x, AES, AVX.
export const L1_ECX: u32 = (1 << 0) | (1 << 9) | (1 << 13) | (1 << 15) | (1 << 22) | (1 << 23) | (1 << 30)
  | (FEAT_XSAVE ? 1 << 26 : 0) | (FEAT_PCID ? 1 << 17 : 0)
  | (FEAT_X2APIC ? 1 << 21 : 0) | (FEAT_TSC_DEADLINE ? 1 << 24 : 0);   // VMX (5): cpuid() with --nested on
// Leaf 7.0 EBX: FSGSBASE(0) TSC_ADJUST(1) SMEP(7) INVPCID(10) RDSEED(18) SMAP(20) CLFLUSHOPT(23); ECX: UMIP(2) LA57(16).
// (No BMI1: TZCNT/ANDN are not advertised even though F3 0F BC decodes as TZCNT.)
export const L7_EBX: u32 = (FEAT_SMEP ? 1 << 7 : 0) | (FEAT_SMAP ? 1 << 20 : 0) | (FEAT_FSGSBASE ? 1 : 0)
  | (FEAT_TSC_ADJUST ? 1 << 1 : 0) | (1 << 18) | (1 << 23) | (FEAT_PCID ? 1 << 10 : 0);
export const L7_ECX: u32 = (FEAT_UMIP ? 1 << 2 : 0) | (FEAT_LA57 ? 1 << 16 : 0);
// Leaf 7.0 EDX: IA32_ARCH_CAPABILITIES (29), cpu/msr.ts ARCH_CAPS.
export const L7_EDX: u32 = 1 << 29;
// 0x80000001 ECX: LAHF/SAHF in 64-bit (0), LZCNT/ABM (5). EDX: SYSCALL(11) NX(20) 1GB(26) RDTSCP(27) LM(29).
export const X1_ECX: u32 = (1 << 0) | (1 << 5);
export const X1_EDX: u32 = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
// XCR0 bits the core can hold state for: x87 | SSE.
export const XCR0_SUPPORTED: u64 = 3;

// family 6, model 0x3A, stepping 9
export const SIGNATURE: u32 = 0x000306a9;

const CPUID_APIC_BASE: usize = memory.data(8, 8);

// Results of the last cpuid() call.
export let cpuidA: u32 = 0, cpuidB: u32 = 0, cpuidC: u32 = 0, cpuidD: u32 = 0;

// "nestvm x86-64 virtual CPU", zero padded to 48 bytes.
const BRAND: usize = memory.data<u8>([
  0x6e, 0x65, 0x73, 0x74, 0x76, 0x6d, 0x20, 0x78, 0x38, 0x36, 0x2d, 0x36, 0x34, 0x20, 0x76, 0x69,
  0x72, 0x74, 0x75, 0x61, 0x6c, 0x20, 0x43, 0x50, 0x55, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

function set4(a: u32, b: u32, c: u32, d: u32): void { cpuidA = a; cpuidB = b; cpuidC = c; cpuidD = d; }

export function cpuid(leaf: u32, sub: u32): void {
  // SDM: a basic leaf above the maximum returns the highest basic leaf's data (Intel).
  if (leaf >= 0x80000000) {
    if (leaf > MAX_EXT_LEAF) leaf = MAX_BASIC_LEAF;
  } else if (leaf > MAX_BASIC_LEAF) leaf = MAX_BASIC_LEAF;
  switch (leaf) {
    case 0: set4(MAX_BASIC_LEAF, 0x756e6547, 0x6c65746e, 0x49656e69); return; // GenuineIntel
    case 1: {
      let c = L1_ECX;
      if ((S.cr4 & S.CR4_OSXSAVE) != 0) c |= 1 << 27;
      if ((miscEnable & MISC_MONITOR) != 0) c |= 1 << 3;   // MONITOR/MWAIT
      if (FEAT_VMX && nested) c |= 1 << 5;
      // EBX: CLFLUSH line 8*8 bytes (15:8), 1 logical processor (23:16), initial APIC ID (31:24).
      // EDX.APIC reads 0 while IA32_APIC_BASE[11] has the APIC disabled (SDM 11.4.3).
      let d = L1_EDX;
      if (FEAT_APIC) {
        store<u64>(CPUID_APIC_BASE, 0);
        if (msrRead(0x1b, CPUID_APIC_BASE) != 0 && (load<u64>(CPUID_APIC_BASE) & 0x800) == 0) d &= ~(<u32>1 << 9);
      }
      set4(SIGNATURE, 0x00010800 | (apicId << 24), c, d);
      return;
    }
    case 2: set4(0x00000001, 0, 0, 0); return;   // one iteration, no descriptors
    // MONITOR/MWAIT: 64-byte monitor lines; MWAIT extensions enumerated (ECX[0]) and interrupts
    // as break events when masked (ECX[1]); EDX: one C0 sub-state.
    case 5: set4(64, 64, 3, 1); return;
    case 0xb: {
      // Extended topology (SDM Vol.2 CPUID 0BH): level 0 SMT (1 thread), level 1 core (all vCPUs);
      // EDX is the x2APIC ID of this vCPU at every level.
      const coreBits: u32 = cpuCount <= 1 ? 0 : 32 - clz<u32>(cpuCount - 1);
      const lvl = sub & 0xff;
      if (lvl == 0) set4(0, 1, 0x100, apicId);
      else if (lvl == 1) set4(coreBits, cpuCount, 0x200 | 1, apicId);
      else set4(0, 0, lvl, apicId);
      return;
    }
    case 0xa:
      // Architectural performance monitoring (cpu/pmu.ts): EAX version, GP counters, their
      // width, EBX length; EBX events not available; EDX fixed counters and their width.
      set4(PMU_VERSION | (PMU_NGP << 8) | (PMU_WIDTH << 16) | (PMU_EVENT_VECTOR_LEN << 24),
        pmuEventsUnavailable(), 0, PMU_NFIXED | (PMU_WIDTH << 5));
      return;
    case 7:
      if (sub == 0) set4(0, L7_EBX, L7_ECX, L7_EDX); else set4(0, 0, 0, 0);
      return;
    case 0xd:
      if (!FEAT_XSAVE) { set4(0, 0, 0, 0); return; }
      if (sub == 0) {
        // EBX: size for the features enabled in XCR0; ECX: for all supported (legacy area + header).
        set4(<u32>XCR0_SUPPORTED, 576, 576, 0);
      } else if (sub == 1) set4(1, 0, 0, 0);   // XSAVEOPT
      else set4(0, 0, 0, 0);
      return;
    case 0x80000000: set4(MAX_EXT_LEAF, 0, 0, 0); return;
    case 0x80000001: set4(0, 0, X1_ECX, X1_EDX); return;
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const p = BRAND + <usize>((leaf - 0x80000002) * 16);
      set4(load<u32>(p), load<u32>(p + 4), load<u32>(p + 8), load<u32>(p + 12));
      return;
    }
    case 0x80000007: set4(0, 0, 0, 1 << 8); return;  // invariant TSC
    case 0x80000008: set4(PHYS_ADDR_BITS | (LIN_ADDR_BITS << 8), 0, 0, 0); return;
    default: set4(0, 0, 0, 0); return;  // leaves 3,4,5,6,8,9,0xc, 0x80000005/6
  }
}

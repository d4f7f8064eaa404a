// IA32_ARCH_CAPABILITIES: enumerated by CPUID.(7,0):EDX[29], read-only, every "not susceptible"
// bit set (an interpreter does not speculate), no control MSR implied.
import { cpuid, cpuidD } from "../../assembly/cpu/cpuid";
import { readMsr, writeMsr } from "../../assembly/cpu/msr";
import { faultPending, faultVector, clearFault, EXC_GP } from "../../assembly/cpu/fault";

describe("IA32_ARCH_CAPABILITIES", () => {
  test("CPUID.(7,0):EDX[29] enumerates it", () => {
    cpuid(7, 0);
    expect<u32>(cpuidD & (1 << 29)).toBe(1 << 29);
  });
  test("reads RDCL_NO, SKIP_L1DFL_VMENTRY, SSB_NO, MDS_NO, IF_PSCHANGE_MC_NO, TAA_NO, the MMIO/BHI/PBRSB/GDS/RFDS NO bits", () => {
    clearFault();
    expect<u64>(readMsr(0x10a)).toBe(0x0d10_e179);
    expect<bool>(faultPending).toBe(false);
  });
  test("is read-only: WRMSR raises #GP(0)", () => {
    clearFault();
    writeMsr(0x10a, 0);
    expect<bool>(faultPending).toBe(true);
    expect<u32>(faultVector).toBe(EXC_GP);
    clearFault();
  });
});

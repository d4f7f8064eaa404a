// VMX foundation: the VMCS field table, capability MSRs, and the VMX instructions
// VMXON/VMXOFF/VMCLEAR/VMPTRLD/VMPTRST/VMREAD/VMWRITE/VMCALL (and VMLAUNCH's early checks),
// executed as hand-assembled code with step(), asserting flags, error numbers and memory.
import * as S from "../../assembly/cpu/state";
import { setSegment, setCr, setNested, reset } from "../../assembly/index";
import { setup, poke, w16, w32, w64, r32, r64, desc, AR_CODE64_0, AR_DATA32_0, AR_CODE32_0 } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, faultError, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { readMsr, writeMsr, msrOk } from "../../assembly/cpu/msr";
import { cpuid, cpuidC } from "../../assembly/cpu/cpuid";
import * as V from "../../assembly/vmx/vstate";
import {
  fieldTableOk, fieldSlot, NFIELDS, highestIndex, encReadOnly, encWidth, W16, W64, W32, WNAT, rowEnc,
} from "../../assembly/vmx/fields";
import { VMX_BASIC, VMCS_REVISION } from "../../assembly/vmx/caps";
import { OFF_DATA, OFF_LAUNCH, LAUNCHED_MAGIC } from "../../assembly/vmx/vmcs";

const VMXON_PA: u32 = 0x20000, VMCS_A: u32 = 0x21000, VMCS_B: u32 = 0x22000, PTR: u32 = 0x3000;
const CODE: u32 = 0x7c00;
const CF: u64 = 1, ZF: u64 = 0x40, STATUS: u64 = 0x8d5;

// 64-bit mode, CPL0, identity map of the first 2 MiB, CR0 = PE|ET|NE|PG, CR4 = PAE|VMXE,
// IA32_FEATURE_CONTROL locked with VMX outside SMX, VMXON/VMCS regions with the revision id.
function lm64(): void {
  setNested(true);
  setup();
  w64(0x500, 0);
  w64(0x508, desc(0, 0xfffff, 0x9b, 0xc));
  w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
  w64(0x518, desc(0, 0xfffff, 0x9b, 0xa));
  S.setGdtr(0x500, 0x1f);
  w64(0x10000, 0x11007); w64(0x11000, 0x12007); w64(0x12000, 0x87);
  setCr(4, 0x2020); setCr(3, 0x10000); setCr(0xc0000080, 0x500); setCr(0, 0x80000031);
  setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  S.setReg64(S.RSP, 0x9000);
  writeMsr(0x3a, 5);
  w32(VMXON_PA, VMCS_REVISION); w32(VMCS_A, VMCS_REVISION); w32(VMCS_B, VMCS_REVISION);
}

// Run one instruction at CODE; returns the fault vector + 1 (cleared), or 0.
function exec(bytes: u8[]): u32 {
  poke(CODE, bytes);
  S.setRip(CODE);
  step();
  if (faultPending) { const v = faultVector + 1; clearFault(); return v; }
  return 0;
}
function status(): u64 { return getRflags() & STATUS; }
// Memory-operand forms with [rax] -> PTR holding `pa`.
function withPtr(pa: u64): void { w64(PTR, pa); S.setReg64(S.RAX, PTR); }
function vmxon(pa: u64): u32 { withPtr(pa); return exec([0xf3, 0x0f, 0xc7, 0x30]); }
function vmclear(pa: u64): u32 { withPtr(pa); return exec([0x66, 0x0f, 0xc7, 0x30]); }
function vmptrld(pa: u64): u32 { withPtr(pa); return exec([0x0f, 0xc7, 0x30]); }
// VMWRITE rcx(field), rbx(value): 0F 79 CB; VMREAD rbx, rcx: 0F 78 CB.
function vmwrite(enc: u64, v: u64): u32 { S.setReg64(S.RCX, enc); S.setReg64(S.RBX, v); return exec([0x0f, 0x79, 0xcb]); }
function vmread(enc: u64): u64 {
  S.setReg64(S.RCX, enc); S.setReg64(S.RBX, 0xdeadbeef);
  const f = exec([0x0f, 0x78, 0xcb]);
  return f != 0 ? 0xbad0000 + <u64>f : S.getReg64(S.RBX);
}
const UD: u32 = 7, GP: u32 = 14;

describe("VMCS field table", () => {
  it("is sound: rows, no duplicates, derived widths and read-only types", () => {
    expect(fieldTableOk()).toBe(0);
    expect(NFIELDS).toBe(169);
    expect(rowEnc(0)).toBe(0x0000);
    expect(rowEnc(NFIELDS - 1)).toBe(0x6c1c);
    expect(encWidth(0x0802)).toBe(W16);
    expect(encWidth(0x2000)).toBe(W64);
    expect(encWidth(0x4402)).toBe(W32);
    expect(encWidth(0x681e)).toBe(WNAT);
    expect(encReadOnly(0x4400)).toBe(true);
    expect(encReadOnly(0x6400)).toBe(true);
    expect(encReadOnly(0x4002)).toBe(false);
  });
  it("maps encodings to slots; high accesses share the 64-bit slot; absent features have none", () => {
    expect(fieldSlot(0x0800)).toBe(3);            // after the three 16-bit control rows
    expect(fieldSlot(0x2001)).toBe(fieldSlot(0x2000));
    expect(fieldSlot(0x4403)).toBe(-1);           // high access to a 32-bit field
    expect(fieldSlot(0x681f)).toBe(-1);           // ... or a natural-width one
    expect(fieldSlot(0x201a)).toBeGreaterThan(0); // EPTP: EPT offered
    expect(fieldSlot(0x0000)).toBe(0);            // VPID: offered
    expect(fieldSlot(0x202a)).toBeGreaterThan(0); // #VE information address: EPT-violation #VE offered
    expect(fieldSlot(0x0004)).toBeGreaterThan(0); // EPTP index (#VE)
    expect(fieldSlot(0x202c)).toBe(-1);           // XSS-exiting bitmap: XSAVES exiting not offered
    expect(fieldSlot(0x482e)).toBeGreaterThan(0);  // preemption timer: offered
    expect(fieldSlot(0x1000 | 0x4002)).toBe(-1);  // reserved bit 12
    expect(fieldSlot(0x100004002)).toBe(-1);      // bits 63:15 reserved
    expect(fieldSlot(0x4830)).toBe(-1);           // unused index
    expect(fieldSlot(0x6c16)).toBeGreaterThan(0);
    expect(highestIndex()).toBe(0x19);            // TSC multiplier (0x2032)
  });
});

describe("VMX capabilities and the nested switch", () => {
  it("advertises VMX and the capability MSRs with nested on", () => {
    lm64();
    cpuid(1, 0);
    expect(cpuidC & 0x20).toBe(0x20);
    expect(readMsr(0x480)).toBe(VMX_BASIC);
    expect(VMX_BASIC).toBe(0x00d8100000006e76);   // + INS/OUTS instruction information (54)
    expect(readMsr(0x481)).toBe(0x000000ff00000016);   // + virtual NMIs (5), process posted interrupts (7)
    expect(readMsr(0x482)).toBe(0xfff9fffe0401e172);   // + use TPR shadow (21), NMI-window, PAUSE, MWAIT, MONITOR exiting
    expect(readMsr(0x483)).toBe(0x407fffff00036dff);   // + load (12) / save (30) IA32_PERF_GLOBAL_CTRL
    expect(readMsr(0x484)).toBe(0x0000f3ff000011ff);   // + load IA32_PERF_GLOBAL_CTRL (13)
    expect(readMsr(0x485)).toBe(0x20040165);   // preemption-timer rate 5, wait-for-SIPI; bit 29: VMWRITE to exit-information fields
    expect(readMsr(0x486)).toBe(0x80000021);
    expect(readMsr(0x487)).toBe(0xffffffff);            // CR0 bits 31:0 may be 1, as on hardware
    expect(readMsr(0x488)).toBe(0x2000);
    expect(readMsr(0x48a)).toBe(0x32);   // highest index 25: TSC multiplier (2032H)
    expect(readMsr(0x48e)).toBe(0xfff9fffe04006172);
    expect(readMsr(0x48b)).toBe(0x02077fff00000000);   // secondary: EPT-violation #VE, PAUSE-loop exiting, enable INVPCID, virtualize APIC accesses, EPT, desc-table, RDTSCP, virtualize x2APIC mode, VPID, WBINVD, URG, APIC-register virtualization, VID, RDRAND, VM functions, shadowing, RDSEED, PML, TSC scaling
    expect(readMsr(0x48c)).toBe(0xf01063341c1);   // incl. 5-level walks (bit 7)
    expect(readMsr(0x48f)).toBe(0x407fffff00036dfb);
    expect(readMsr(0x490)).toBe(0x0000f3ff000011fb);
    expect(readMsr(0x491)).toBe(1);               // VM functions: EPTP switching only
    expect(msrOk).toBe(true);
    readMsr(0x492);                               // no tertiary controls: the MSR does not exist
    expect(msrOk).toBe(false);
    clearFault();
    expect(writeMsr(0x480, 0)).toBe(false);       // read-only
    clearFault();
  });
  it("hides VMX with nested off: CPUID, MSRs, CR4.VMXE, FEATURE_CONTROL bit 2", () => {
    setNested(false);
    setup();
    cpuid(1, 0);
    expect(cpuidC & 0x20).toBe(0);
    readMsr(0x480);
    expect(msrOk).toBe(false);
    clearFault();
    expect(writeMsr(0x3a, 5)).toBe(false);
    clearFault();
    expect(writeMsr(0x3a, 1)).toBe(true);
    setCr(0, 0x11);                               // protected mode; MOV CR4, RAX with VMXE
    S.setReg64(S.RAX, 0x2000);
    setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);
    expect(exec([0x0f, 0x22, 0xe0])).toBe(GP);
    setNested(true);
  });
  it("locks IA32_FEATURE_CONTROL", () => {
    lm64();
    expect(readMsr(0x3a)).toBe(5);
    expect(writeMsr(0x3a, 1)).toBe(false);
    clearFault();
    expect(writeMsr(0x3a, 0)).toBe(false);
    clearFault();
    expect(readMsr(0x3a)).toBe(5);
  });
});

describe("VMXON / VMXOFF", () => {
  it("faults as the SDM says before entering VMX operation", () => {
    lm64();
    setCr(4, 0x20);
    expect(vmxon(VMXON_PA)).toBe(UD);             // CR4.VMXE = 0
    setCr(4, 0x2020);
    expect(exec([0xf3, 0x0f, 0xc7, 0xf0])).toBe(UD); // register operand
    S.setCpl(3);
    expect(vmxon(VMXON_PA)).toBe(GP);
    S.updateMode();
    setCr(0, 0x80000011);                         // CR0.NE = 0: not allowed in VMX operation
    expect(vmxon(VMXON_PA)).toBe(GP);
    expect(faultError).toBe(0);
    setCr(0, 0x80000031);
    expect(V.vmxOn).toBe(false);
  });
  it("needs a locked FEATURE_CONTROL with bit 2", () => {
    lm64();
    reset(); lm64();
    // lm64 locked it with 5; a fresh reset leaves it 0.
    reset();
    setCr(4, 0x2020); setCr(3, 0x10000); setCr(0xc0000080, 0x500); setCr(0, 0x80000031);
    setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
    expect(vmxon(VMXON_PA)).toBe(GP);
  });
  it("VMfailInvalid on a bad pointer or revision, then succeeds", () => {
    lm64();
    expect(vmxon(VMXON_PA + 8)).toBe(0);
    expect(status()).toBe(CF);
    expect(vmxon(<u64>1 << 40)).toBe(0);          // beyond MAXPHYADDR
    expect(status()).toBe(CF);
    w32(VMXON_PA, VMCS_REVISION | 0x80000000);    // shadow indicator set
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(status()).toBe(CF);
    w32(VMXON_PA, VMCS_REVISION + 1);
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(status()).toBe(CF);
    expect(V.vmxOn).toBe(false);
    w32(VMXON_PA, VMCS_REVISION);
    S.setReg64(S.RBX, 0);
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(status()).toBe(0);
    expect(V.vmxOn).toBe(true);
    expect(V.vmxonPtr).toBe(VMXON_PA);
    expect(V.curVmcs).toBe(V.NO_PTR);
    // In VMX operation: VMXON again is VMfail(15): VMfailInvalid without a current VMCS...
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(status()).toBe(CF);
    // ... VMfailValid(15) with one.
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(status()).toBe(ZF);
    expect(vmread(0x4400)).toBe(15);
    // CR4.VMXE and CR0.PG/NE are fixed in VMX operation.
    S.setReg64(S.RAX, 0x20);
    expect(exec([0x0f, 0x22, 0xe0])).toBe(GP);
    expect(S.cr4).toBe(0x2020);
    // VMXOFF leaves VMX operation; VMX instructions are #UD again.
    expect(exec([0x0f, 0x01, 0xc4])).toBe(0);
    expect(status()).toBe(0);
    expect(V.vmxOn).toBe(false);
    expect(exec([0x0f, 0x01, 0xc4])).toBe(UD);
    expect(vmptrld(VMCS_A)).toBe(UD);
    expect(vmread(0x4400)).toBe(0xbad0000 + UD);
  });
  it("is #UD in compatibility mode and #GP at CPL 3 in VMX operation", () => {
    lm64();
    expect(vmxon(VMXON_PA)).toBe(0);
    setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);   // compatibility mode
    expect(exec([0x0f, 0x01, 0xc4])).toBe(UD);
    setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
    S.setCpl(3);
    expect(exec([0x0f, 0x01, 0xc4])).toBe(GP);
    expect(vmclear(VMCS_A)).toBe(GP);
    expect(exec([0x0f, 0x01, 0xc1])).toBe(GP);            // VMCALL
    S.updateMode();
    expect(V.vmxOn).toBe(true);
  });
});

describe("VMCLEAR / VMPTRLD / VMPTRST / VMREAD / VMWRITE", () => {
  it("loads, stores and checks VMCS pointers with the SDM error numbers", () => {
    lm64();
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(vmclear(VMCS_A + 0x800)).toBe(0);      // no current VMCS: VMfailInvalid
    expect(status()).toBe(CF);
    w32(VMCS_B, VMCS_REVISION + 1);
    expect(vmptrld(VMCS_B)).toBe(0);
    expect(status()).toBe(CF);
    expect(vmread(0x4400)).toBe(0xdeadbeef);       // VMREAD without a current VMCS: VMfailInvalid
    expect(status()).toBe(CF);
    expect(vmclear(VMCS_A)).toBe(0);
    expect(status()).toBe(0);
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(status()).toBe(0);
    expect(V.curVmcs).toBe(VMCS_A);
    // VMPTRST [rax]
    S.setReg64(S.RAX, 0x3100);
    expect(exec([0x0f, 0xc7, 0x38])).toBe(0);
    expect(r64(0x3100)).toBe(VMCS_A);
    expect(vmptrld(VMCS_B)).toBe(0);              // wrong revision, now VMfailValid(11)
    expect(status()).toBe(ZF);
    expect(vmread(0x4400)).toBe(11);
    expect(vmptrld(VMCS_A | 0x10)).toBe(0);
    expect(vmread(0x4400)).toBe(9);
    expect(vmptrld(VMXON_PA)).toBe(0);
    expect(vmread(0x4400)).toBe(10);
    expect(vmclear(<u64>1 << 45)).toBe(0);
    expect(vmread(0x4400)).toBe(2);
    expect(vmclear(VMXON_PA)).toBe(0);
    expect(vmread(0x4400)).toBe(3);
    expect(V.curVmcs).toBe(VMCS_A);
  });
  it("reads and writes fields with their widths, read-only and unsupported fields", () => {
    lm64();
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(vmclear(VMCS_A)).toBe(0);
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(vmwrite(0x0802, 0x12345678)).toBe(0);  // guest CS selector: 16 bits kept
    expect(status()).toBe(0);
    expect(vmread(0x0802)).toBe(0x5678);
    expect(vmwrite(0x4002, 0x1122334455667788)).toBe(0);  // 32-bit control
    expect(vmread(0x4002)).toBe(0x55667788);
    expect(vmwrite(0x2000, 0x1122334455667000)).toBe(0);  // 64-bit: I/O bitmap A
    expect(vmread(0x2000)).toBe(0x1122334455667000);
    expect(vmread(0x2001)).toBe(0x11223344);              // high access
    expect(vmwrite(0x2001, 0xaabbccdd99)).toBe(0);         // high access writes bits 63:32 only
    expect(vmread(0x2000)).toBe(0xbbccdd9955667000);
    expect(vmwrite(0x681e, 0xffffffff80001000)).toBe(0);  // natural: guest RIP
    expect(vmread(0x681e)).toBe(0xffffffff80001000);
    expect(vmwrite(0x4402, 0x1234)).toBe(0);              // exit reason: writable (IA32_VMX_MISC bit 29)
    expect(status()).toBe(0);
    expect(vmread(0x4402)).toBe(0x1234);
    expect(vmwrite(0x4402, 0)).toBe(0);
    expect(vmwrite(0x202c, 0)).toBe(0);                    // XSS-exiting bitmap: no such field here
    expect(vmread(0x4400)).toBe(12);
    expect(vmread(0x202e)).toBe(0xdeadbeef);               // ENCLS-exiting bitmap: VMREAD fails, RBX untouched
    expect(status()).toBe(ZF);
    expect(vmread(0x4400)).toBe(12);
    expect(vmread(0x4402)).toBe(0);                        // success clears ZF
    expect(status()).toBe(0);
    // Memory operands: VMREAD [rax], rcx (0F 78 08) and VMWRITE rcx, [rax] (0F 79 08).
    S.setReg64(S.RAX, 0x3200); S.setReg64(S.RCX, 0x4002);
    expect(exec([0x0f, 0x78, 0x08])).toBe(0);
    expect(r64(0x3200)).toBe(0x55667788);
    w64(0x3208, 0x6000);
    S.setReg64(S.RAX, 0x3208); S.setReg64(S.RCX, 0x6c16);
    expect(exec([0x0f, 0x79, 0x08])).toBe(0);
    expect(vmread(0x6c16)).toBe(0x6000);
    // 66 0F 78 is not VMREAD; LOCK VMPTRLD is #UD.
    expect(exec([0x66, 0x0f, 0x78, 0xcb])).toBe(UD);
    S.setReg64(S.RAX, PTR);
    expect(exec([0xf0, 0x0f, 0xc7, 0x30])).toBe(UD);
  });
  it("keeps the cache in the VMCS region on VMCLEAR and switches VMCS without losing data", () => {
    lm64();
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(vmclear(VMCS_A)).toBe(0);
    expect(vmclear(VMCS_B)).toBe(0);
    expect(r32(VMCS_A + <u32>OFF_LAUNCH)).toBe(0);
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(vmwrite(0x681c, 0xaaaa)).toBe(0);               // guest RSP in A
    expect(vmptrld(VMCS_B)).toBe(0);
    expect(vmwrite(0x681c, 0xbbbb)).toBe(0);               // guest RSP in B
    // A was written back when B became current.
    const slot = <u32>fieldSlot(0x681c);
    expect(r64(VMCS_A + <u32>OFF_DATA + slot * 8)).toBe(0xaaaa);
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(vmread(0x681c)).toBe(0xaaaa);
    expect(vmptrld(VMCS_B)).toBe(0);
    expect(vmread(0x681c)).toBe(0xbbbb);
    expect(vmclear(VMCS_B)).toBe(0);
    expect(V.curVmcs).toBe(V.NO_PTR);
    expect(r64(VMCS_B + <u32>OFF_DATA + slot * 8)).toBe(0xbbbb);
    expect(r32(VMCS_B)).toBe(VMCS_REVISION);               // revision id untouched
    // Launch state lives in the region: a "launched" region makes VMLAUNCH fail with 4.
    w32(VMCS_B + <u32>OFF_LAUNCH, LAUNCHED_MAGIC);
    expect(vmptrld(VMCS_B)).toBe(0);
    expect(V.curLaunched).toBe(true);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(status()).toBe(ZF);
    expect(vmread(0x4400)).toBe(4);
    expect(vmclear(VMCS_B)).toBe(0);
    expect(r32(VMCS_B + <u32>OFF_LAUNCH)).toBe(0);
    expect(vmptrld(VMCS_B)).toBe(0);
    expect(exec([0x0f, 0x01, 0xc3])).toBe(0);              // VMRESUME of a clear VMCS
    expect(vmread(0x4400)).toBe(5);
  });
  it("VMCALL and VMLAUNCH in VMX root (no current VMCS / root errors)", () => {
    lm64();
    expect(exec([0x0f, 0x01, 0xc1])).toBe(UD);              // VMCALL outside VMX operation
    expect(vmxon(VMXON_PA)).toBe(0);
    expect(exec([0x0f, 0x01, 0xc1])).toBe(0);
    expect(status()).toBe(CF);                              // VMfail(1) without a current VMCS
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(status()).toBe(CF);
    expect(vmclear(VMCS_A)).toBe(0);
    expect(vmptrld(VMCS_A)).toBe(0);
    expect(exec([0x0f, 0x01, 0xc1])).toBe(0);
    expect(status()).toBe(ZF);
    expect(vmread(0x4400)).toBe(1);
  });
});

// VM functions (vmx/vmfunc.ts: VMFUNC leaf 0, EPTP switching), 5-level EPT walks (vmx/ept.ts)
// and the TSC an L2 reads with TSC offsetting and scaling (vmx/tsc.ts).
import * as S from "../../assembly/cpu/state";
import { w32, w64, r32, r64 } from "./sys_helpers";
import { clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { deliverFault } from "../../assembly/cpu/interrupts";
import { readMsr } from "../../assembly/cpu/msr";
import { readTsc } from "../../assembly/cpu/tsc";
import { mulShr48 } from "../../assembly/vmx/tsc";
import { tlbTag } from "../../assembly/mmu/tlb";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { GUEST_RIP, STATUS, ZF, MSRBM, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

const WB: u64 = 6 << 3;
const LIST: u32 = 0x28000;
const EPT_A: u32 = 0x30000, EPT_B: u32 = 0x40000, PML5: u32 = 0x50000;
const EPTP_A: u64 = EPT_A | 6 | (3 << 3), EPTP_B: u64 = EPT_B | 6 | (3 << 3);
const VMFUNC: u8[] = [0x0f, 0x01, 0xd4];
const PROC_BASE: u64 = 0x04006172 | 0x80000000;

// Two EPT hierarchies: both map GPA 0-2M identically; GPA 2M maps to 0x301000 (A) or
// 0x302000 (B).
function buildEpt(root: u32, frame: u32): void {
  w64(root, (root + 0x1000) | 7);
  w64(root + 0x1000, (root + 0x2000) | 7);
  w64(root + 0x2000, 0 | 7 | WB | 0x80);
  w64(root + 0x2008, (root + 0x3000) | 7);
  w64(root + 0x3000, frame | 7 | WB);
}
function setupVmfunc(): void {
  l1();
  buildEpt(EPT_A, 0x301000);
  buildEpt(EPT_B, 0x302000);
  w64(0x12008, 0x200087);                                   // L2 linear 2M-4M -> GPA 2M-4M
  w32(0x301010, 0xaaaa); w32(0x302010, 0xbbbb);
  w64(LIST, EPTP_A); w64(LIST + 8, EPTP_B);
  w64(LIST + 16, EPT_B | 6 | (2 << 3));                     // invalid: 3-level walk
  wr(F.PROC_CONTROLS, PROC_BASE);
  wr(F.PROC2_CONTROLS, 0x2000 | 2);                          // enable VM functions, EPT
  wr(F.EPT_POINTER, EPTP_A);
  wr(0x2018, 1);                                             // EPTP switching
  wr(0x2024, LIST);
}
function vmlaunchFails(): void {
  expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
  expect(V.nonRoot).toBe(false);
  expect(getRflags() & STATUS).toBe(ZF);
  expect(rd(0x4400)).toBe(7);
}

describe("VM functions", () => {
  it("checks the VM-function controls and the EPTP-list address at VM entry", () => {
    setupVmfunc();
    expect(readMsr(0x491)).toBe(1);
    wr(0x2018, 3);                                           // function 1: not supported
    vmlaunchFails();
    wr(0x2018, 1);
    wr(0x2024, LIST | 8);                                    // not page-aligned
    vmlaunchFails();
    wr(0x2024, LIST);
    wr(F.PROC2_CONTROLS, 0x2000);                            // EPTP switching without EPT
    vmlaunchFails();
    wr(F.PROC2_CONTROLS, 0x2002);
    launch();
  });
  it("switches the EPTP from the list and exits for invalid requests (reason 59)", () => {
    setupVmfunc();
    launch();
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);
    expect(S.getReg64(S.RBX)).toBe(0xaaaa);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 1);
    expect(guest(VMFUNC)).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.rip).toBe(GUEST_RIP + 3);
    expect(rd(F.EPT_POINTER)).toBe(EPTP_B);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);                     // the same GPA now through EPT B
    expect(S.getReg64(S.RBX)).toBe(0xbbbb);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 2);              // entry 2 is not a valid EPTP
    expect(guest(VMFUNC)).toBe(0);
    exited(59);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
    expect(rd(F.EPT_POINTER)).toBe(EPTP_B);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 512);            // index past the list
    expect(guest(VMFUNC)).toBe(0);
    exited(59);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 1);                                    // function 1 not enabled: exit
    expect(guest(VMFUNC)).toBe(0);
    exited(59);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 64);                                   // EAX >= 64: #UD before any exit
    expect(guest(VMFUNC)).toBe(6 + 1);
    clearFault();
    expect(V.nonRoot).toBe(true);
  });
  it("is #UD in VMX root operation and without the control", () => {
    setupVmfunc();
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 1);
    expect(exec(VMFUNC)).toBe(6 + 1);
    wr(F.PROC2_CONTROLS, 2);
    launch();
    expect(guest(VMFUNC)).toBe(6 + 1);
    clearFault();
  });
  it("keeps a TLB context per EPTP with VPID", () => {
    setupVmfunc();
    wr(F.PROC2_CONTROLS, 0x2000 | 0x20 | 2);
    wr(F.VIRTUAL_PROCESSOR_ID, 3);
    launch();
    const tagA = tlbTag;
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 1);
    expect(guest(VMFUNC)).toBe(0);
    expect(tlbTag).not.toBe(tagA);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);
    expect(S.getReg64(S.RBX)).toBe(0xbbbb);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 0);
    expect(guest(VMFUNC)).toBe(0);
    expect(tlbTag).toBe(tagA);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);
    expect(S.getReg64(S.RBX)).toBe(0xaaaa);
  });
});

describe("5-level EPT", () => {
  it("walks a PML5 table with page-walk length 5 and checks its entries", () => {
    expect((readMsr(0x48c) >> 7) & 1).toBe(1);
    setupVmfunc();
    wr(F.PROC2_CONTROLS, 2);
    w64(PML5, EPT_A | 7);                                     // PML5E 0 -> the 4-level tree of EPT A
    wr(F.EPT_POINTER, PML5 | 6 | (4 << 3));
    launch();
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);
    expect(S.getReg64(S.RBX)).toBe(0xaaaa);
    w64(PML5, EPT_A | 7 | 0x80);                              // bit 7 reserved in a PML5E
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x100000);                              // a page not in the TLB: walks
    expect(guest([0x8b, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(49);                                               // misconfiguration at the PML5E,
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x10000);          // reading L2's PML4E (GPA 10000H)
    wr(F.EPT_POINTER, PML5 | 6 | (5 << 3));                   // page-walk length 6: invalid
    expect(exec([0x0f, 0x01, 0xc3])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
  });
});

describe("TSC offsetting and scaling", () => {
  it("multiplies with 48 fractional bits", () => {
    expect(mulShr48(0x123456789abcdef0, <u64>1 << 48)).toBe(0x123456789abcdef0);
    expect(mulShr48(1000, <u64>3 << 47)).toBe(1500);
    expect(mulShr48(0xffffffffffffffff, 0xffffffffffffffff)).toBe(0xfffffffffffe0000);
    expect(mulShr48(0x100000000, 0x1000000000000 + 0x10000)).toBe(0x100000001);
  });
  it("applies the multiplier and the offset to RDTSC, RDTSCP and RDMSR IA32_TSC", () => {
    l1();
    wr(F.PROC_CONTROLS, PROC_BASE | 8 | (1 << 28));          // TSC offsetting, MSR bitmaps (all clear)
    wr(F.MSR_BITMAP, MSRBM);
    wr(F.PROC2_CONTROLS, (1 << 25) | (1 << 3));              // TSC scaling, enable RDTSCP
    wr(0x2032, <u64>3 << 48);                                // x3
    wr(F.TSC_OFFSET, 0x1000000);
    launch();
    const ops: u8[][] = [[0x0f, 0x31], [0x0f, 0x01, 0xf9], [0x0f, 0x32]];
    for (let i = 0; i < ops.length; i++) {
      S.setRip(GUEST_RIP);
      S.setReg64(S.RCX, 0x10);
      const lo = readTsc();
      expect(guest(ops[i])).toBe(0);
      const hi = readTsc();
      const v = (<u64>S.getReg32(S.RDX) << 32) | <u64>S.getReg32(S.RAX);
      expect(v >= lo * 3 + 0x1000000).toBe(true);
      expect(v <= hi * 3 + 0x1000000).toBe(true);
    }
    // Without "use TSC offsetting" neither the multiplier nor the offset applies.
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 28));
    S.setRip(GUEST_RIP);
    const lo = readTsc();
    expect(guest([0x0f, 0x31])).toBe(0);
    const hi = readTsc();
    const v = (<u64>S.getReg32(S.RDX) << 32) | <u64>S.getReg32(S.RAX);
    expect(v >= lo && v <= hi).toBe(true);
  });
});

describe("page-modification logging", () => {
  it("logs pages whose EPT dirty flag gets set and exits when the log is full (reason 62)", () => {
    setupVmfunc();
    const PML: u32 = 0x2a000;
    wr(F.PROC2_CONTROLS, 2 | (1 << 17));                        // EPT, enable PML
    wr(F.EPT_POINTER, EPTP_A | 0x40);                           // A/D flags on
    wr(0x200e, PML | 8);                                        // not page-aligned
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    wr(F.PROC2_CONTROLS, 1 << 17);                              // PML without EPT
    wr(0x200e, PML);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    wr(F.PROC2_CONTROLS, 2 | (1 << 17));
    wr(0x0812, 511);
    launch();
    S.setReg64(S.RAX, 0x200010); S.setReg64(S.RBX, 0x1234);
    expect(guest([0x89, 0x18])).toBe(0);                        // MOV [RAX], EBX: GPA 0x200010
    const idx = <u32>rd(0x0812);
    expect(idx < 511).toBe(true);
    expect(r64(PML + (idx + 1) * 8)).toBe(0x200000);            // the data page, logged last
    let pml4 = false;                                           // before it L2's paging structures
    for (let i = idx + 1; i < 512; i++) if (r64(PML + i * 8) == 0x10000) pml4 = true;   // (A/D: writes)
    expect(pml4).toBe(true);
    expect(r64(EPT_A + 0x3000) & 0x200).toBe(0x200);            // EPT dirty flag set
    const before = idx + 1;
    S.setRip(GUEST_RIP);
    expect(guest([0x89, 0x18])).toBe(0);                        // dirty already: nothing logged
    expect(<u32>rd(0x0812)).toBe(before - 1);
    // Full log: the write is not done, the dirty flag stays clear.
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x200020);
    expect(guest([0x0f, 0x01, 0xc1])).toBe(0);                  // VMCALL to L1
    exited(18);
    w64(EPT_A + 0x3000, 0x301000 | 7 | WB);                     // clear A/D of GPA 2M
    wr(0x0812, 0xffff);
    resume(GUEST_RIP);                                          // no VPID: the TLB was flushed
    S.setReg64(S.RBX, 0x5678);
    expect(guest([0x89, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(62);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(r32(0x301020)).toBe(0);
    expect(r64(EPT_A + 0x3000) & 0x200).toBe(0);
  });
});

describe("EPT A/D and paging-structure violations", () => {
  it("reports a read and a write for a paging-structure access with A/D flags (SDM 29.3.3.2)", () => {
    setupVmfunc();
    wr(F.PROC2_CONTROLS, 2);
    wr(F.EPT_POINTER, EPTP_A | 0x40);
    // GPA 0-2M through 4K entries, with the page holding L2's PDPT (0x11000) absent.
    w64(EPT_A + 0x2000, (EPT_A + 0x4000) | 7);
    for (let i: u32 = 0; i < 512; i++) w64(EPT_A + 0x4000 + i * 8, i == 0x11 ? 0 : (<u64>i << 12) | 7 | WB);
    launch();
    expect(guest([0x90])).toBe(256 + 1);                        // the fetch walks L2's tables
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x83);                // read + write, linear valid, not final
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x11000);
  });
});

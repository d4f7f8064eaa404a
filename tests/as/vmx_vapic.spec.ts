// APIC virtualization (vmx/vapic.ts): TPR shadow with MOV CR8, the TPR threshold (entry checks
// and trap-like TPR-below-threshold exits), the APIC-access page (virtualized VTPR accesses and
// APIC-access VM exits with their qualification), also behind EPT.
import * as S from "../../assembly/cpu/state";
import { w32, w64, r32 } from "./sys_helpers";
import { faultPending, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { deliverFault } from "../../assembly/cpu/interrupts";
import { pollExits } from "../../assembly/vmx/intercept";
import { readMsr } from "../../assembly/cpu/msr";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { HOST_RIP, GUEST_RIP, STATUS, ZF, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

const VAPIC: u32 = 0x26000, APIC_ACC: u32 = 0x27000;
const PROC_BASE: u64 = 0x04006172;
const TPR_SHADOW: u64 = 1 << 21, SECONDARY: u64 = 0x80000000;
const MOV_CR8_RAX: u8[] = [0x44, 0x0f, 0x22, 0xc0];   // MOV CR8, RAX
const MOV_RAX_CR8: u8[] = [0x44, 0x0f, 0x20, 0xc0];   // MOV RAX, CR8

function tprShadow(threshold: u32, vtpr: u32): void {
  wr(F.PROC_CONTROLS, PROC_BASE | TPR_SHADOW);
  wr(0x2012, VAPIC);
  wr(0x401c, threshold);
  w32(VAPIC + 0x80, vtpr);
}
function vmlaunchFails(err: u64): void {
  expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
  expect(V.nonRoot).toBe(false);
  expect(getRflags() & STATUS).toBe(ZF);
  expect(rd(0x4400)).toBe(err);
}

describe("TPR shadow", () => {
  it("is offered with its fields", () => {
    l1();
    expect((readMsr(0x48e) >> 32) & TPR_SHADOW).toBe(TPR_SHADOW);
    expect((readMsr(0x48b) >> 32) & 1).toBe(1);                // virtualize APIC accesses
    expect((readMsr(0x48b) >> 32) & 0x310).toBe(0x310);        // x2APIC mode, register virtualization, VID
    wr(0x2012, 0x1234000);
    expect(rd(0x2012)).toBe(0x1234000);
  });
  it("checks the virtual-APIC address and the TPR threshold at VM entry (SDM 26.2.1.1)", () => {
    l1();
    tprShadow(0, 0);
    wr(0x2012, VAPIC | 0x800);                                  // not page-aligned
    vmlaunchFails(7);
    wr(0x2012, VAPIC);
    wr(0x401c, 0x10);                                            // bits 31:4 of the threshold
    vmlaunchFails(7);
    w32(VAPIC + 0x80, 0x30);
    wr(0x401c, 4);                                               // threshold 4 > VTPR[7:4] = 3
    vmlaunchFails(7);
    wr(0x401c, 3);                                               // equal is fine
    launch();
  });
  it("virtualizes MOV CR8 through VTPR and exits when VTPR drops below the threshold", () => {
    l1();
    tprShadow(3, 0x5a);
    launch();
    S.setReg64(S.RAX, 0xdead);
    expect(guest(MOV_RAX_CR8)).toBe(0);
    expect(S.getReg64(S.RAX)).toBe(5);                          // VTPR[7:4]
    expect(S.cr8).toBe(0);                                       // the real TPR is untouched
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 4);
    expect(guest(MOV_CR8_RAX)).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.rip).toBe(GUEST_RIP + 4);
    expect(r32(VAPIC + 0x80)).toBe(0x40);                        // bytes 3:1 cleared
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 2);
    expect(guest(MOV_CR8_RAX)).toBe(0);
    exited(43);                                                  // TPR below threshold, trap-like
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 4);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(r32(VAPIC + 0x80)).toBe(0x20);
    wr(0x401c, 2);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x10);                                     // bits 63:4 set: #GP(0)
    expect(guest(MOV_CR8_RAX)).toBe(13 + 1);
    clearFault();
    expect(r32(VAPIC + 0x80)).toBe(0x20);
  });
  it("gives CR8-load / CR8-store exiting priority over the shadow", () => {
    l1();
    tprShadow(0, 0x70);
    wr(F.PROC_CONTROLS, PROC_BASE | TPR_SHADOW | (1 << 19) | (1 << 20));
    launch();
    S.setReg64(S.RAX, 1);
    expect(guest(MOV_CR8_RAX)).toBe(0);
    exited(28);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(8);                    // CR8, MOV to CR, RAX
    expect(r32(VAPIC + 0x80)).toBe(0x70);
    resume(GUEST_RIP);
    expect(guest(MOV_RAX_CR8)).toBe(0);
    exited(28);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x18);                 // CR8, MOV from CR
  });
});

function vapic(tpr: bool): void {
  l1();
  tprShadow(2, 0x30);
  if (!tpr) wr(F.PROC_CONTROLS, PROC_BASE);
  wr(F.PROC_CONTROLS, rd(F.PROC_CONTROLS) | SECONDARY);
  wr(F.PROC2_CONTROLS, 1);
  wr(0x2014, APIC_ACC);
  w32(APIC_ACC + 0x80, 0xeeee);                                // never read or written
}
describe("APIC-access page", () => {
  it("checks the APIC-access address and the x2APIC combination at VM entry", () => {
    vapic(true);
    wr(0x2014, APIC_ACC | 4);
    vmlaunchFails(7);
    wr(0x2014, APIC_ACC);
    wr(F.PROC2_CONTROLS, 1 | 0x10);                             // + virtualize x2APIC mode: exclusive
    vmlaunchFails(7);
    wr(F.PROC2_CONTROLS, 0x10);
    wr(F.PROC_CONTROLS, PROC_BASE | SECONDARY);                 // x2APIC mode without TPR shadow
    vmlaunchFails(7);
  });
  it("virtualizes VTPR reads and writes and exits for other offsets with offset and type", () => {
    vapic(true);
    launch();
    S.setReg64(S.RAX, APIC_ACC + 0x80);
    expect(guest([0x8b, 0x18])).toBe(0);                         // MOV EBX, [RAX]: VTPR
    expect(S.getReg64(S.RBX)).toBe(0x30);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RBX, 0x12345640);
    expect(guest([0x89, 0x18])).toBe(0);                         // MOV [RAX], EBX: to VTPR
    expect(r32(VAPIC + 0x80)).toBe(0x12345640);
    expect(r32(APIC_ACC + 0x80)).toBe(0xeeee);
    expect(pollExits()).toBe(false);                             // APIC-write emulation: 4 >= 2
    expect(r32(VAPIC + 0x80)).toBe(0x40);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RBX, 0x10);
    expect(guest([0x89, 0x18])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(pollExits()).toBe(true);                 // 1 < 2: trap-like exit
    exited(43);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 2);
    // VMRESUME with the threshold still above VTPR: entered, then the exit at once (SDM 26.7.7).
    wr(F.GUEST_RIP, GUEST_RIP);
    expect(exec([0x0f, 0x01, 0xc3])).toBe(0);
    expect(getRflags() & STATUS).toBe(0);
    exited(43);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    wr(0x401c, 0);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x20);
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);                 // APIC ID: not virtualized
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x020);                // data read, offset 020H
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x300);
    expect(guest([0x89, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x1300);               // data write, offset 300H
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x80);
    expect(guest([0x48, 0x8b, 0x18])).toBe(0x101 + 1);           // 8-byte read of VTPR: exits
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x080);
    resume(APIC_ACC + 0x10);                                      // instruction fetch
    w32(APIC_ACC + 0x10, 0x90909090);
    expect(exec_guest_fetch()).toBe(true);
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x2010);
  });
  it("exits for VTPR too without the TPR shadow", () => {
    vapic(false);
    launch();
    S.setReg64(S.RAX, APIC_ACC + 0x80);
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x080);
  });
  it("recognizes the page after EPT translation", () => {
    vapic(true);
    // EPT: GPA 0-2M identity, GPA 2M -> APIC_ACC (one 4K page).
    w64(0x30000, 0x31000 | 7); w64(0x31000, 0x32000 | 7);
    w64(0x32000, 0 | 7 | (6 << 3) | 0x80); w64(0x32008, 0x33000 | 7);
    w64(0x33000, APIC_ACC | 7 | (6 << 3));
    w64(0x12008, 0x200087);                                      // L2 linear 2M-4M -> GPA 2M-4M
    wr(F.PROC2_CONTROLS, 1 | 2);
    wr(F.EPT_POINTER, 0x30000 | 6 | (3 << 3));
    launch();
    S.setReg64(S.RAX, 0x200080);
    expect(guest([0x8b, 0x18])).toBe(0);
    expect(S.getReg64(S.RBX)).toBe(0x30);                        // VTPR through EPT
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x200400);
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x400);
    // L2's page directory for linear 1G-2G at GPA 2M, i.e. on the APIC-access page: the walk is a
    // guest-physical access (type 15, SDM 30.4.6.1).
    w64(0x11008, 0x200007);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x40000000);
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0xf000);
  });
});

import { step } from "../../assembly/cpu/exec";
function exec_guest_fetch(): bool {
  step();
  if (!faultPending) return false;
  deliverFault();
  return true;
}

describe("Virtualize x2APIC mode", () => {
  it("reads and writes VTPR through MSR 808H and exits below the threshold", () => {
    l1();
    tprShadow(2, 0x35);
    w32(VAPIC + 0x84, 0x99);
    wr(F.PROC_CONTROLS, rd(F.PROC_CONTROLS) | SECONDARY | (1 << 28));   // MSR bitmaps (all clear)
    wr(F.MSR_BITMAP, 0x25000);
    wr(F.PROC2_CONTROLS, 0x10);
    launch();
    S.setReg64(S.RCX, 0x808);
    expect(guest([0x0f, 0x32])).toBe(0);                       // RDMSR
    expect(S.getReg64(S.RAX)).toBe(0x35);
    expect(S.getReg64(S.RDX)).toBe(0x99);                       // bytes 087H:084H
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x40); S.setReg64(S.RDX, 0);
    expect(guest([0x0f, 0x30])).toBe(0);                       // WRMSR: no exit (4 >= 2)
    expect(V.nonRoot).toBe(true);
    expect(r32(VAPIC + 0x80)).toBe(0x40);
    expect(r32(VAPIC + 0x84)).toBe(0);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x140);                                   // bits 31:8: #GP(0)
    expect(guest([0x0f, 0x30])).toBe(13 + 1);
    clearFault();
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x10);
    expect(guest([0x0f, 0x30])).toBe(0);
    exited(43);                                                 // trap-like
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 2);
    expect(r32(VAPIC + 0x80)).toBe(0x10);
  });
});

describe("APIC-register virtualization", () => {
  it("virtualizes register reads and writes, with APIC-write exits (reason 56)", () => {
    vapic(true);
    wr(F.PROC2_CONTROLS, 1 | 0x100);
    w32(VAPIC + 0x20, 0x11000000); w32(VAPIC + 0x100, 0x5); w32(VAPIC + 0x90, 0x77);
    launch();
    S.setReg64(S.RAX, APIC_ACC + 0x20);
    expect(guest([0x8b, 0x18])).toBe(0);                        // ID
    expect(S.getReg64(S.RBX)).toBe(0x11000000);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x23);
    expect(guest([0x8a, 0x18])).toBe(0);                        // MOV BL, [RAX]: byte 3 of ID
    expect(S.getReg64(S.RBX) & 0xff).toBe(0x11);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x100);
    expect(guest([0x8b, 0x18])).toBe(0);                        // ISR 0
    expect(S.getReg64(S.RBX)).toBe(5);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x22);                         // crosses bytes 3:0 of ID
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x022);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x90);                         // APR: not virtualized
    expect(guest([0x8b, 0x18])).toBe(0x101 + 1);
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x090);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0xd0); S.setReg64(S.RBX, 0x01000000);
    expect(guest([0x89, 0x18])).toBe(0);                        // LDR: written, then APIC-write exit
    expect(r32(VAPIC + 0xd0)).toBe(0x01000000);
    expect(pollExits()).toBe(true);
    exited(56);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0xd0);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 2);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x310); S.setReg64(S.RBX, 0x12345678);
    expect(guest([0x89, 0x18])).toBe(0);                        // ICR high: bits 23:0 cleared, no exit
    expect(pollExits()).toBe(false);
    expect(r32(VAPIC + 0x310)).toBe(0x12000000);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x80); S.setReg64(S.RBX, 0x1255);
    expect(guest([0x89, 0x18])).toBe(0);                        // TPR: TPR virtualization, 5 >= 2
    expect(pollExits()).toBe(false);
    expect(r32(VAPIC + 0x80)).toBe(0x55);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, APIC_ACC + 0x100);
    expect(guest([0x89, 0x18])).toBe(0x101 + 1);                // ISR is read-only: APIC-access exit
    deliverFault();
    exited(44);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x1100);
    expect(r32(VAPIC + 0x100)).toBe(5);
  });
  it("reads the x2APIC registers from the virtual-APIC page with virtualize x2APIC mode", () => {
    l1();
    tprShadow(0, 0x20);
    w64(VAPIC + 0x20, 0x0000000300000007);
    w64(VAPIC + 0x300, 0x000000ff000000fe);
    wr(F.PROC_CONTROLS, rd(F.PROC_CONTROLS) | SECONDARY | (1 << 28));
    wr(F.MSR_BITMAP, 0x25000);
    wr(F.PROC2_CONTROLS, 0x10 | 0x100);
    launch();
    S.setReg64(S.RCX, 0x802);                                   // x2APIC ID
    expect(guest([0x0f, 0x32])).toBe(0);
    expect(S.getReg64(S.RAX)).toBe(7);
    expect(S.getReg64(S.RDX)).toBe(3);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 0x830);                                   // ICR: 64 bits at 300H
    expect(guest([0x0f, 0x32])).toBe(0);
    expect(S.getReg64(S.RAX)).toBe(0xfe);
    expect(S.getReg64(S.RDX)).toBe(0xff);
    S.setRip(GUEST_RIP);
    w64(VAPIC + 0x390, 0x1234);
    S.setReg64(S.RCX, 0x839);                                   // current count: from the page too
    expect(guest([0x0f, 0x32])).toBe(0);
    expect(S.getReg64(S.RAX)).toBe(0x1234);
    S.setRip(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0xc1])).toBe(0);                 // VMCALL
    exited(18);
    wr(F.PROC2_CONTROLS, 0x10);                                 // without register virtualization:
    resume(GUEST_RIP);
    S.setReg64(S.RCX, 0x839);
    expect(guest([0x0f, 0x32])).toBe(13 + 1);                   // the real x2APIC (none here: #GP)
    clearFault();
  });
});


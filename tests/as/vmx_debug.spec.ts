// VMX features found missing by kvm-unit-tests' vmx entry: IA32_DEBUGCTL with the load/save
// debug controls, IA32_PAT validity on VM entry, "enable RDTSCP", VM-entry error 26 after
// MOV SS, #DB traps against the exception bitmap, pending debug exceptions, the monitor trap
// flag at single-step boundaries and the injected pending MTF VM exit.
import * as S from "../../assembly/cpu/state";
import { run } from "../../assembly/index";
import { poke } from "./sys_helpers";
import { getRflags } from "../../assembly/cpu/flags";
import { readMsr, writeMsr, msrOk, debugctl, setDebugctl } from "../../assembly/cpu/msr";
import { faultPending, clearFault } from "../../assembly/cpu/fault";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { CODE, HOST_RIP, GUEST_RIP, STATUS, ZF, exec, guest, l1, launch, exited } from "./vmx_harness";

const EXIT_CTLS: u64 = 0x00036dfb | 0x200, ENTRY_CTLS: u64 = 0x000011fb | 0x200;
const GUEST_PAT: u32 = 0x2804, HOST_PAT: u32 = 0x2c00;

// After run(): L1 resumed at HOST_RIP, executed its HLT there.
function exitedRun(reason: u64): void {
  expect(V.nonRoot).toBe(false);
  expect(rd(F.EXIT_REASON)).toBe(reason);
  expect(S.rip).toBe(HOST_RIP + 1);
  S.setHalted(false);
}

describe("IA32_DEBUGCTL and the debug controls", () => {
  it("holds LBR and BTF; other bits #GP", () => {
    l1();
    expect(writeMsr(0x1d9, 3)).toBe(true);
    expect(readMsr(0x1d9)).toBe(3);
    expect(writeMsr(0x1d9, 4)).toBe(false);                   // reserved bit
    clearFault();
    expect(readMsr(0x1d9)).toBe(3);
    expect(msrOk).toBe(true);
  });
  it("load debug controls loads DR7/DEBUGCTL; save debug controls saves them; the exit clears DEBUGCTL", () => {
    l1();
    writeMsr(0x1d9, 1);
    wr(F.ENTRY_CONTROLS, ENTRY_CTLS | 4);
    wr(F.EXIT_CONTROLS, EXIT_CTLS | 4);
    wr(F.GUEST_DR7, 0x404); wr(F.GUEST_DEBUGCTL, 2);
    launch();
    expect(debugctl).toBe(2);
    expect(S.getDr(7)).toBe(0x404);
    setDebugctl(3); S.setDr(7, 0x408);                        // as L2's WRMSR / MOV DR7 would
    expect(guest([0x0f, 0xa2])).toBe(0);                      // CPUID exits
    exited(10);
    expect(rd(F.GUEST_DEBUGCTL)).toBe(3);
    expect(rd(F.GUEST_DR7)).toBe(0x408);
    expect(debugctl).toBe(0);                                 // SDM 28.5.1
    expect(S.getDr(7)).toBe(0x400);
  });
  it("without the controls the fields are neither loaded nor saved", () => {
    l1();
    writeMsr(0x1d9, 1);
    wr(F.GUEST_DEBUGCTL, 2);
    launch();
    expect(debugctl).toBe(1);                                 // L1's value stays
    expect(guest([0x0f, 0xa2])).toBe(0);
    exited(10);
    expect(rd(F.GUEST_DEBUGCTL)).toBe(2);
  });
  it("a reserved DEBUGCTL bit in the guest field fails the entry (reason 33)", () => {
    l1();
    wr(F.ENTRY_CONTROLS, ENTRY_CTLS | 4);
    wr(F.GUEST_DEBUGCTL, 0x10);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
  });
});

describe("IA32_PAT on VM entry", () => {
  it("an invalid host PAT with load IA32_PAT on exit is VMfailValid(8)", () => {
    l1();
    wr(F.EXIT_CONTROLS, EXIT_CTLS | (1 << 19));
    wr(HOST_PAT, 0x0007040600070402);                         // type 2 is reserved
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(false);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    wr(HOST_PAT, 0x0007040600070407);                         // UC- is fine
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(true);
  });
  it("an invalid guest PAT with load IA32_PAT on entry fails the entry (reason 33)", () => {
    l1();
    wr(F.ENTRY_CONTROLS, ENTRY_CTLS | (1 << 14));
    wr(GUEST_PAT, 0x0800000000000000);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
  });
});

describe("enable RDTSCP", () => {
  it("RDTSCP in L2 is #UD without the control and runs with it", () => {
    l1();
    launch();
    expect(guest([0x0f, 0x01, 0xf9])).toBe(6 + 1);            // #UD
    clearFault();
    l1();
    wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000);
    wr(F.PROC2_CONTROLS, 1 << 3);
    writeMsr(0xc0000103, 0x1234);
    launch();
    expect(guest([0x0f, 0x01, 0xf9])).toBe(0);
    expect(S.getReg64(S.RCX)).toBe(0x1234);
  });
});

describe("VM entry blocked by MOV SS", () => {
  it("VMLAUNCH right after MOV SS is VMfailValid(26), before the launch-state check", () => {
    l1();
    poke(CODE, [0x8c, 0xd0, 0x8e, 0xd0, 0x0f, 0x01, 0xc2, 0xf4]);   // MOV AX,SS; MOV SS,AX; VMLAUNCH; HLT
    S.setRip(CODE);
    expect(run(10)).toBe(1);
    expect(V.nonRoot).toBe(false);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(26);
    S.setHalted(false);
    poke(CODE, [0x90, 0x0f, 0x01, 0xc2]);                     // NOP; VMLAUNCH: enters
    S.setRip(CODE);
    run(2);
    expect(V.nonRoot).toBe(true);
  });
});

describe("#DB traps and the monitor trap flag", () => {
  it("a single-step trap with #DB in the exception bitmap exits: qualification BS, DR6 untouched", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90]);
    wr(F.EXCEPTION_BITMAP, 2);
    wr(F.GUEST_RFLAGS, 0x102);                                // TF
    S.setDr(6, 0xffff4ff2);
    launch();
    expect(run(10)).toBe(1);
    exitedRun(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000301);            // #DB, hardware exception
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x4000);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);              // trap: after the NOP
    expect(rd(F.GUEST_PENDING_DBG)).toBe(0);
    expect(S.getDr(6)).toBe(0xffff4ff2);
  });
  it("pending debug exceptions of a MOV-SS shadow are reported with the next single-step", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90]);
    wr(F.EXCEPTION_BITMAP, 2);
    wr(F.GUEST_RFLAGS, 0x102);
    wr(F.GUEST_INTERRUPTIBILITY, 2);                          // blocking by MOV SS
    wr(F.GUEST_PENDING_DBG, 0x5001);                          // BS, enabled bp, B0
    launch();
    expect(run(10)).toBe(1);
    exitedRun(0);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x4001);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);
  });
  it("MTF has priority over a single-step trap: the #DB goes to the pending-debug field", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90]);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 27));
    wr(F.GUEST_RFLAGS, 0x102);
    launch();
    expect(run(10)).toBe(1);
    exitedRun(37);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);
    expect(rd(F.GUEST_PENDING_DBG)).toBe(0x4000);
  });
  it("MTF exits after the first L2 instruction when VMLAUNCH runs inside run()", () => {
    l1();
    poke(CODE, [0x0f, 0x01, 0xc2]);                           // VMLAUNCH from L1 code
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90, 0x90]);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 27));
    S.setRip(CODE);
    expect(run(20)).toBe(1);
    exitedRun(37);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);
  });
  it("an injected pending MTF VM exit (type 7) exits before any L2 instruction", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90]);
    wr(F.ENTRY_INTR_INFO, 0x80000700);
    launch();
    expect(run(10)).toBe(1);
    exitedRun(37);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    l1();
    wr(F.ENTRY_INTR_INFO, 0x80000701);                        // type 7 needs vector 0
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
  });
});

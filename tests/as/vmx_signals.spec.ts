// INIT in VMX operation: held pending in root (SDM 24.8), a VM exit with reason 3 in non-root
// (SDM 25.2) -- also right after a VM entry that finds it pending -- and released by VMXOFF.
import * as S from "../../assembly/cpu/state";
import { initCpu, takeInit, sipiSignal } from "../../assembly/cpu/vcpu";
import { readMsr } from "../../assembly/cpu/msr";
import { checkInterrupts } from "../../assembly/cpu/interrupts";
import { setIntrLine } from "../../assembly/index";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { pollExits } from "../../assembly/vmx/intercept";
import { GUEST_RIP, HOST_RIP, exec, guest, l1, launch } from "./vmx_harness";

describe("INIT signal and VMX", () => {
  it("in VMX non-root operation INIT is a VM exit (reason 3) at once", () => {
    l1();
    launch();
    expect(guest([0x90])).toBe(0);
    expect(initCpu()).toBe(false);            // not an INIT of the processor
    expect(V.nonRoot).toBe(false);
    expect(rd(F.EXIT_REASON)).toBe(3);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);   // the next L2 instruction
    expect(S.rip).toBe(HOST_RIP);
    expect(V.initPending).toBe(false);
  });
  it("in VMX root operation INIT is held; the next VM entry exits with reason 3 before any L2 instruction", () => {
    l1();
    expect(initCpu()).toBe(false);
    expect(V.vmxOn).toBe(true);
    expect(V.initPending).toBe(true);
    launch();
    expect(V.vmxPoll).toBe(true);
    expect(pollExits()).toBe(true);
    expect(rd(F.EXIT_REASON)).toBe(3);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(V.initPending).toBe(false);        // consumed by the exit
  });
  it("VMXOFF releases a held INIT to the host", () => {
    l1();
    expect(initCpu()).toBe(false);
    expect(takeInit()).toBe(false);
    expect(exec([0x0f, 0x01, 0xc4])).toBe(0);  // VMXOFF
    expect(V.vmxOn).toBe(false);
    expect(takeInit()).toBe(true);
    expect(takeInit()).toBe(false);
    expect(initCpu()).toBe(true);             // now a real INIT: the vCPU resets
    expect(S.rip).toBe(0xfff0);
  });
});

describe("wait-for-SIPI activity state", () => {
  it("is advertised (IA32_VMX_MISC bit 8); entry with it and an injected event fails (reason 33)", () => {
    l1();
    expect(readMsr(0x485) & (1 << 8)).toBe(1 << 8);
    wr(F.GUEST_ACTIVITY, 3);
    wr(F.ENTRY_INTR_INFO, 0x80000020);       // external interrupt 0x20
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.EXIT_REASON)).toBe(0x80000021);
    expect(V.nonRoot).toBe(false);
  });
  it("runs nothing, ignores interrupts, and a SIPI exits with reason 4 and the vector", () => {
    l1();
    wr(F.GUEST_ACTIVITY, 3);
    wr(F.GUEST_RFLAGS, 0x202);
    launch();
    expect(S.halted).toBe(true);
    expect(V.waitSipi).toBe(true);
    setIntrLine(true);
    expect(checkInterrupts()).toBe(false);   // blocked: no delivery, no wake-up
    expect(S.halted).toBe(true);
    setIntrLine(false);
    expect(sipiSignal(0x9a)).toBe(true);
    expect(V.nonRoot).toBe(false);
    expect(rd(F.EXIT_REASON)).toBe(4);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x9a);
    expect(rd(F.GUEST_ACTIVITY)).toBe(3);
    expect(V.waitSipi).toBe(false);
    expect(sipiSignal(0x9a)).toBe(false);    // in VMX root: ignored
  });
});

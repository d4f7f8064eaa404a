// VMX and the PMU (assembly/cpu/pmu.ts, vmx/entry.ts, exit.ts): the "load IA32_PERF_GLOBAL_CTRL"
// entry (13) and exit (12) controls and "save IA32_PERF_GLOBAL_CTRL" (exit, 30): capability
// MSRs, the host-state (SDM 26.2.2, VMfailValid 8) and guest-state (SDM 26.3.1.1, exit reason
// 33) checks, loading on entry and exit, saving on exit; counters keep counting in L2.
import * as S from "../../assembly/cpu/state";
import { getMsr, setMsr } from "../../assembly/index";
import { getRflags } from "../../assembly/cpu/flags";
import { clearFault } from "../../assembly/cpu/fault";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { GUEST_RIP, STATUS, ZF, exec, guest, l1, launch, exited } from "./vmx_harness";

const GCTRL: u32 = 0x38f;
const XC: u64 = 0x00036dfb | 0x200, EC: u64 = 0x000011fb | 0x200;
const XC_LOAD: u64 = 1 << 12, XC_SAVE: u64 = 1 << 30, EC_LOAD: u64 = 1 << 13;

describe("VMX IA32_PERF_GLOBAL_CTRL controls", () => {
  it("are offered in the TRUE exit / entry control MSRs and their VMCS fields exist", () => {
    l1();
    expect<u64>((getMsr(0x48f) >> 32) & (XC_LOAD | XC_SAVE)).toBe(XC_LOAD | XC_SAVE);
    expect<u64>((getMsr(0x490) >> 32) & EC_LOAD).toBe(EC_LOAD);
    expect<u64>((getMsr(0x483) >> 32) & (XC_LOAD | XC_SAVE)).toBe(XC_LOAD | XC_SAVE);
    expect<u64>(getMsr(0x48f) & (XC_LOAD | XC_SAVE)).toBe(0, "not required");
    wr(F.GUEST_PERF_GLOBAL_CTRL, 0x700000005);
    wr(F.HOST_PERF_GLOBAL_CTRL, 0x3);
    expect<u64>(rd(F.GUEST_PERF_GLOBAL_CTRL)).toBe(0x700000005);
    expect<u64>(rd(F.HOST_PERF_GLOBAL_CTRL)).toBe(0x3);
  });

  it("host field with a reserved bit: VMfailValid(8) only with the exit load control", () => {
    l1();
    wr(F.HOST_PERF_GLOBAL_CTRL, 0x10);                         // PMC4 does not exist
    wr(F.EXIT_CONTROLS, XC | XC_LOAD);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    expect(V.nonRoot).toBe(false);
    wr(F.HOST_PERF_GLOBAL_CTRL, <u64>1 << 35);                 // fixed counter 3 does not exist
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    wr(F.EXIT_CONTROLS, XC);                                   // not loaded: not checked
    launch();
  });

  it("guest field with a reserved bit: VM-entry failure (33) only with the entry load control", () => {
    l1();
    setMsr(GCTRL, 0x1);
    wr(F.GUEST_PERF_GLOBAL_CTRL, <u64>1 << 40);
    wr(F.ENTRY_CONTROLS, EC | EC_LOAD);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect<u64>(getMsr(GCTRL)).toBe(1, "not loaded");
    l1();
    wr(F.GUEST_PERF_GLOBAL_CTRL, <u64>1 << 40);
    launch();
  });

  it("loads the guest value on entry, saves it and loads the host value on exit", () => {
    l1();
    setMsr(GCTRL, 0x2);
    wr(F.GUEST_PERF_GLOBAL_CTRL, 0x700000005);
    wr(F.HOST_PERF_GLOBAL_CTRL, 0x300000001);
    wr(F.ENTRY_CONTROLS, EC | EC_LOAD);
    wr(F.EXIT_CONTROLS, XC | XC_LOAD | XC_SAVE);
    launch();
    expect<u64>(getMsr(GCTRL)).toBe(0x700000005, "guest value loaded");
    setMsr(GCTRL, 0x400000008);                                // changed while L2 runs
    expect(guest([0x0f, 0xa2])).toBe(0);                       // CPUID: VM exit
    exited(10);
    expect<u64>(getMsr(GCTRL)).toBe(0x300000001, "host value loaded");
    expect<u64>(rd(F.GUEST_PERF_GLOBAL_CTRL)).toBe(0x400000008, "saved on exit");
  });

  it("without the controls the MSR keeps its value across entry and exit", () => {
    l1();
    setMsr(GCTRL, 0x6);
    wr(F.GUEST_PERF_GLOBAL_CTRL, 0x1);
    wr(F.HOST_PERF_GLOBAL_CTRL, 0x2);
    launch();
    expect<u64>(getMsr(GCTRL)).toBe(0x6);
    expect(guest([0x0f, 0xa2])).toBe(0);
    exited(10);
    expect<u64>(getMsr(GCTRL)).toBe(0x6);
    expect<u64>(rd(F.GUEST_PERF_GLOBAL_CTRL)).toBe(0x1, "not saved");
  });

  it("RDPMC in L2 without RDPMC exiting reads the counter; an invalid index is #GP", () => {
    l1();
    setMsr(0x4c1 + 2, 0x123456789ab);
    launch();
    S.setReg64(S.RCX, 2);
    expect(guest([0x0f, 0x33])).toBe(0);
    expect<u64>(S.getReg64(S.RAX)).toBe(0x456789ab);
    expect<u64>(S.getReg64(S.RDX)).toBe(0x123);
    expect(V.nonRoot).toBe(true);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 4);
    expect(guest([0x0f, 0x33])).toBe(14);                     // #GP (vector 13 + 1)
    clearFault();
  });
});

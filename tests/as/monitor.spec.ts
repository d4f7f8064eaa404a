// MONITOR / MWAIT (SDM Vol.2; IA32_MISC_ENABLE[18]) and their VMX exits (reasons 39 / 36).
import * as S from "../../assembly/cpu/state";
import { RAX, RCX } from "../../assembly/cpu/state";
import { clearFault, faultAddr } from "../../assembly/cpu/fault";
import { cpuid, cpuidC, cpuidA, cpuidB } from "../../assembly/cpu/cpuid";
import { readMsr, writeMsr } from "../../assembly/cpu/msr";
import { monitorArmed } from "../../assembly/cpu/ops/sys_monitor";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { GUEST_RIP, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

const MONITOR: u8[] = [0x0f, 0x01, 0xc8], MWAIT: u8[] = [0x0f, 0x01, 0xc9];
const UD: u32 = 7, GP: u32 = 14, PF: u32 = 15;   // exec() returns vector + 1
const PROC_BASE: u64 = 0x04006172;

describe("MONITOR / MWAIT", () => {
  it("are advertised by CPUID.01H:ECX[3] and leaf 5 while IA32_MISC_ENABLE[18] is set", () => {
    l1();
    cpuid(1, 0);
    expect(cpuidC & 8).toBe(8);
    cpuid(5, 0);
    expect(cpuidA).toBe(64); expect(cpuidB).toBe(64); expect(cpuidC).toBe(3);
    expect(readMsr(0x1a0) & (1 << 18)).toBe(1 << 18);
    expect(writeMsr(0x1a0, 1)).toBe(true);
    cpuid(1, 0);
    expect(cpuidC & 8).toBe(0);
    S.setReg64(RAX, 0x2000); S.setReg64(RCX, 0);
    expect(exec(MONITOR)).toBe(UD);
    expect(exec(MWAIT)).toBe(UD);
    expect(writeMsr(0x1a0, 1 | (1 << 18))).toBe(true);
  });
  it("MONITOR arms on a mapped address, MWAIT disarms; reserved ECX bits #GP; unmapped #PF", () => {
    l1();
    S.setReg64(RAX, 0x2040); S.setReg64(RCX, 0);
    expect(exec(MONITOR)).toBe(0);
    expect(monitorArmed()).toBe(true);
    S.setReg64(RCX, 1);                       // break on masked interrupts: supported
    expect(exec(MWAIT)).toBe(0);
    expect(monitorArmed()).toBe(false);
    S.setReg64(RCX, 2);
    expect(exec(MWAIT)).toBe(GP);
    S.setReg64(RCX, 1);
    expect(exec(MONITOR)).toBe(GP);           // no MONITOR extensions
    S.setReg64(RCX, 0); S.setReg64(RAX, 0x40000000);   // beyond the 2 MiB identity map
    expect(exec(MONITOR)).toBe(PF);
    expect(faultAddr).toBe(0x40000000);
    clearFault();
  });
  it("VMX: MONITOR exiting (39) and MWAIT exiting (36, qualification bit 0 = armed)", () => {
    l1();
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 29) | (1 << 10));
    launch();
    S.setReg64(RAX, 0x2000); S.setReg64(RCX, 0);
    expect(guest(MONITOR)).toBe(0);
    exited(39);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(monitorArmed()).toBe(false);       // the exit happened instead of arming
    resume(GUEST_RIP);
    expect(guest(MWAIT)).toBe(0);
    exited(36);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    // Without MONITOR exiting the L2 arms the monitor itself; MWAIT then reports it armed.
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 10));
    resume(GUEST_RIP);
    expect(guest(MONITOR)).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(monitorArmed()).toBe(true);
    S.setRip(GUEST_RIP);
    expect(guest(MWAIT)).toBe(0);
    exited(36);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(1);
  });
});

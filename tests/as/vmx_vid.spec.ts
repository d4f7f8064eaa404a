// Virtual-interrupt delivery and posted interrupts (vmx/vid.ts): entry checks, delivery through
// the L2 IDT with VISR/SVI/RVI/VPPR bookkeeping, EOI virtualization (with and without the
// EOI-exit bitmap), self-IPI virtualization, posted-interrupt processing.
import * as S from "../../assembly/cpu/state";
import { setIntrLine } from "../../assembly/index";
import { w32, w64, r32, gate64 } from "./sys_helpers";
import { clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { checkInterrupts } from "../../assembly/cpu/interrupts";
import { portOut } from "../../assembly/host";
import { pollExits } from "../../assembly/vmx/intercept";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { GUEST_RIP, STATUS, ZF, MSRBM, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

const VAPIC: u32 = 0x26000, PI_DESC: u32 = 0x29000, HANDLER: u32 = 0xa000;
const STATUS_FIELD: u32 = 0x0810;
const WRMSR: u8[] = [0x0f, 0x30];

// L2 with TPR shadow, virtualize x2APIC mode and virtual-interrupt delivery, all MSRs passed
// (MSR bitmap clear), RFLAGS.IF = 1; IDT vector v -> HANDLER.
function vid(): void {
  l1();
  wr(F.PIN_CONTROLS, 0x17);                                     // + external-interrupt exiting
  wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000 | (1 << 21) | (1 << 28));
  wr(F.MSR_BITMAP, MSRBM);
  wr(F.PROC2_CONTROLS, 0x10 | 0x200);
  wr(0x2012, VAPIC);
  wr(F.GUEST_RFLAGS, 0x202);
  for (let v: u32 = 0x40; v < 0x70; v++) gate64(0x1000 + v * 16, 0x18, HANDLER, 0x8e, 0);
}
function vmlaunchFails(): void {
  expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
  expect(V.nonRoot).toBe(false);
  expect(getRflags() & STATUS).toBe(ZF);
  expect(rd(0x4400)).toBe(7);
}
@inline function visr(v: u32): u32 { return (r32(VAPIC + 0x100 + ((v >> 5) << 4)) >> (v & 31)) & 1; }
@inline function virr(v: u32): u32 { return (r32(VAPIC + 0x200 + ((v >> 5) << 4)) >> (v & 31)) & 1; }
function setVirr(v: u32): void { const a = VAPIC + 0x200 + ((v >> 5) << 4); w32(a, r32(a) | (1 << (v & 31))); }

describe("virtual-interrupt delivery", () => {
  it("checks its controls at VM entry", () => {
    vid();
    wr(F.PIN_CONTROLS, 0x16);                                   // without external-interrupt exiting
    vmlaunchFails();
    wr(F.PIN_CONTROLS, 0x17);
    wr(0x401c, 0x10);                                           // TPR threshold bits 31:4 are free with VID
    w32(VAPIC + 0x80, 0);
    launch();
  });
  it("delivers at VM entry, virtualizes EOI and self-IPIs", () => {
    vid();
    setVirr(0x41); setVirr(0x42);
    wr(STATUS_FIELD, 0x42);                                      // RVI 0x42, SVI 0
    launch();
    expect(V.nonRoot).toBe(true);
    expect(pollExits()).toBe(true);                              // delivered through the IDT
    expect(S.rip).toBe(HANDLER);
    expect(visr(0x42)).toBe(1);
    expect(virr(0x42)).toBe(0);
    expect(rd(STATUS_FIELD)).toBe(0x4241);                       // SVI 0x42, RVI 0x41
    expect(r32(VAPIC + 0xa0)).toBe(0x40);                        // VPPR
    expect(pollExits()).toBe(false);                             // IF = 0 in the handler (and 4 <= 4)
    // EOI through MSR 80BH: VISR cleared, PPR back to 0, 0x41 now recognized.
    poke(HANDLER, WRMSR);
    S.setReg64(S.RCX, 0x80b); S.setReg64(S.RAX, 0); S.setReg64(S.RDX, 0);
    stepAt(HANDLER);
    expect(V.nonRoot).toBe(true);
    expect(visr(0x42)).toBe(0);
    expect(rd(STATUS_FIELD)).toBe(0x0041);
    expect(r32(VAPIC + 0xa0)).toBe(0);
    S.setRip(HANDLER); S.setReg64(S.RAX, 1);
    expect(stepAt(HANDLER)).toBe(13 + 1);                        // EOI with a nonzero value: #GP
    clearFault();
    // Self-IPI 0x61 while in the handler (IF = 0): requested, not delivered.
    S.setReg64(S.RCX, 0x83f); S.setReg64(S.RAX, 0x61);
    stepAt(HANDLER);
    expect(virr(0x61)).toBe(1);
    expect(rd(STATUS_FIELD)).toBe(0x0061);
    expect(pollExits()).toBe(false);
    // A self-IPI below 16 is an APIC-write exit (trap-like).
    S.setReg64(S.RAX, 5);
    stepAt(HANDLER);
    exited(56);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x3f0);
    expect(rd(F.GUEST_RIP)).toBe(HANDLER + 2);
    expect(r32(VAPIC + 0x3f0)).toBe(5);
  });
  it("exits for EOIs that the EOI-exit bitmap selects (reason 45)", () => {
    vid();
    setVirr(0x45);
    wr(STATUS_FIELD, 0x45);
    wr(0x201e, <u64>1 << (0x45 - 64));                          // EOI-exit bitmap 1, vector 0x45
    launch();
    expect(pollExits()).toBe(true);
    poke(HANDLER, WRMSR);
    S.setReg64(S.RCX, 0x80b); S.setReg64(S.RAX, 0); S.setReg64(S.RDX, 0);
    stepAt(HANDLER);
    exited(45);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x45);
    expect(rd(F.GUEST_RIP)).toBe(HANDLER + 2);
    expect(visr(0x45)).toBe(0);
    expect(rd(STATUS_FIELD)).toBe(0);
    expect(r32(VAPIC + 0xa0)).toBe(0);                           // PPR virtualization before the exit
  });
  it("lets VTPR hold a virtual interrupt back until MOV CR8 lowers it", () => {
    vid();
    w32(VAPIC + 0x80, 0x50);
    setVirr(0x51);
    wr(STATUS_FIELD, 0x51);
    launch();
    expect(pollExits()).toBe(false);                             // class 5 <= VTPR class 5
    S.setReg64(S.RAX, 4);
    expect(guest([0x44, 0x0f, 0x22, 0xc0])).toBe(0);             // MOV CR8, RAX: no threshold exit
    expect(V.nonRoot).toBe(true);
    expect(pollExits()).toBe(true);
    expect(S.rip).toBe(HANDLER);
    expect(rd(STATUS_FIELD)).toBe(0x5100);
  });
});

function posted(): void {
  vid();
  wr(F.PIN_CONTROLS, 0x17 | 0x80);
  wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | 0x8000);            // + acknowledge interrupt on exit
  wr(0x0002, 0xf0);
  wr(0x2016, PI_DESC);
}
describe("posted interrupts", () => {
  it("wakes a halted L2 and delivers the posted vector", () => {
    posted();
    w32(PI_DESC + 8, 1 << 0);                                    // PIR: vector 0x40
    w32(PI_DESC + 32, 1);
    launch();
    expect(guest([0xf4])).toBe(0);                               // HLT
    expect(S.halted).toBe(true);
    portOut(0xe1, 1, 0xf0);
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);
    setIntrLine(false);
    expect(V.nonRoot).toBe(true);
    expect(S.halted).toBe(false);
    expect(S.rip).toBe(HANDLER);
    expect(rd(STATUS_FIELD)).toBe(0x4000);
  });
  it("checks the posted-interrupt controls at VM entry", () => {
    posted();
    wr(0x0002, 0x1f0);                                           // vector bits 15:8
    vmlaunchFails();
    wr(0x0002, 0xf0);
    wr(0x2016, PI_DESC | 0x20);                                  // not 64-byte aligned
    vmlaunchFails();
    wr(0x2016, PI_DESC);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200);                     // without acknowledge on exit
    vmlaunchFails();
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | 0x8000);
    wr(F.PROC2_CONTROLS, 0x10);                                  // without VID
    vmlaunchFails();
  });
  it("moves the PIR into VIRR on the notification vector and exits for others", () => {
    posted();
    w32(PI_DESC + 12, 1 << 1);                                   // PIR: vector 0x61
    w32(PI_DESC + 32, 1);                                        // outstanding notification
    launch();
    portOut(0xe1, 1, 0xf0);                                      // the notification vector arrives
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);
    setIntrLine(false);
    expect(V.nonRoot).toBe(true);                                // no VM exit
    expect(r32(PI_DESC + 12)).toBe(0);
    expect(r32(PI_DESC + 32)).toBe(0);
    expect(virr(0x61)).toBe(0);                                  // and delivered to L2 at once
    expect(visr(0x61)).toBe(1);
    expect(rd(STATUS_FIELD)).toBe(0x6100);
    expect(S.rip).toBe(HANDLER);
    portOut(0xe1, 1, 0x33);                                      // any other vector: VM exit
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);
    setIntrLine(false);
    exited(1);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000033);
    expect(rd(STATUS_FIELD)).toBe(0x6100);                       // guest interrupt status kept
  });
});

import { poke } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector } from "../../assembly/cpu/fault";
// One L2 instruction at `at`.
function stepAt(at: u32): u32 {
  S.setRip(at);
  step();
  return faultPending ? faultVector + 1 : 0;
}

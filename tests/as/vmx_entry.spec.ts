// VM entry / VM exit: a 64-bit L1 (this spec) launches a 64-bit L2 that shares its page tables,
// and each guest instruction that L1 intercepts comes back as a VM exit with the SDM's exit
// reason, qualification, instruction length / information and saved guest state.
import * as S from "../../assembly/cpu/state";
import { setSegment, setCr, setNested, setIntrLine, run, vmxTimerNs } from "../../assembly/index";
import { setup, poke, w32, w64, r32, r64, desc, AR_CODE64_0, AR_DATA32_0 } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { writeMsr } from "../../assembly/cpu/msr";
import { deliverFault, checkInterrupts, shutdown, raiseNmi, nmiBlocked, nmiPending } from "../../assembly/cpu/interrupts";
import { portOut } from "../../assembly/host";
import { pollExits } from "../../assembly/vmx/intercept";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { VMCS_REVISION } from "../../assembly/vmx/caps";

import { VMXON_PA, VMCS_A, PTR, CODE, HOST_RIP, GUEST_RIP, IOBM_A, IOBM_B, MSRBM, STATUS, ZF, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

describe("VM entry", () => {
  it("launches a valid guest and exits on CPUID with the guest state saved", () => {
    l1();
    launch();
    expect(V.curLaunched).toBe(true);
    expect(S.getReg64(S.RSP)).toBe(0x9800);
    expect(S.code64).toBe(true);
    S.setReg64(S.RAX, 0x1234);
    expect(guest([0x0f, 0xa2])).toBe(0);                      // CPUID
    exited(10);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(rd(F.GUEST_RSP)).toBe(0x9800);
    expect(S.getReg64(S.RAX)).toBe(0x1234);                   // CPUID did not execute
    expect(S.segSel(S.CS)).toBe(0x18);
    expect(S.segAttr(S.LDTR) & 0x10000).toBe(0x10000);
    expect(S.gdtrLimit).toBe(0xffff);
    expect(getRflags()).toBe(2);
    // VMLAUNCH again: the VMCS is launched -> VMfailValid(4); VMRESUME works.
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(4);
    resume(GUEST_RIP + 2);
    expect(S.rip).toBe(GUEST_RIP + 2);
  });
  it("fails with VMfailValid(7) on bad controls and (8) on bad host state", () => {
    l1();
    wr(F.PIN_CONTROLS, 0);                                    // must-be-1 bits clear
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.PIN_CONTROLS, 0x16 | 0x80);                          // posted interrupts: not offered
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.PIN_CONTROLS, 0x16);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | (1 << 22));     // save timer without the timer
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200);
    wr(F.PIN_CONTROLS, 0x16);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 25));
    wr(F.IO_BITMAP_A, 0x23001);                               // misaligned I/O bitmap
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.PROC_CONTROLS, 0x04006172);
    wr(F.HOST_CR0, 0x80000011);                               // NE clear
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    wr(F.HOST_CR0, S.cr0);
    wr(F.HOST_SEL0 + 2, 0x1b);                                // host CS RPL 3
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    wr(F.HOST_SEL0 + 2, 0x18);
    wr(F.EXIT_CONTROLS, 0x00036dfb);                          // 32-bit host from a 64-bit L1
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(8);
    expect(V.nonRoot).toBe(false);
    expect(V.curLaunched).toBe(false);
  });
  it("reports invalid guest state as a VM-entry failure (reason 33 | 1<<31)", () => {
    l1();
    wr(F.GUEST_AR0 + 2, 0xa093);                              // CS type 3: not code
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(V.curLaunched).toBe(false);
    wr(F.GUEST_AR0 + 2, AR_CODE64_0);
    wr(F.VMCS_LINK_POINTER, 0x22000);                         // link pointer to a non-VMCS
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(4);
    wr(F.VMCS_LINK_POINTER, 0xffffffffffffffff);
    wr(F.GUEST_RFLAGS, 0x8002);                               // reserved bit 15
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
    wr(F.GUEST_RFLAGS, 2);
    launch();
  });
});

describe("VM exits", () => {
  it("HLT, VMCALL, INVD and XSETBV exit; HLT only with its control", () => {
    l1();
    launch();
    expect(guest([0xf4])).toBe(0);                            // HLT without HLT exiting: halts L2
    expect(V.nonRoot).toBe(true);
    expect(S.halted).toBe(true);
    S.setHalted(false);
    wr(F.PROC_CONTROLS, 0x04006172 | 0x80);
    S.setRip(GUEST_RIP);
    expect(guest([0xf4])).toBe(0);
    exited(12);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(1);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0xc1])).toBe(0);                // VMCALL
    exited(18);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x08])).toBe(0);                      // INVD
    exited(13);
  });
  it("I/O: unconditional exiting, bitmaps, qualification", () => {
    l1();
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 24));
    launch();
    expect(guest([0xe6, 0x80])).toBe(0);                      // OUT 0x80, AL
    exited(30);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x800040);          // port 0x80, size 1, out, immediate
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    // Bitmaps: only port 0x3f9 is intercepted.
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 25));
    wr(F.IO_BITMAP_A, IOBM_A); wr(F.IO_BITMAP_B, IOBM_B);
    poke(IOBM_A + (0x3f9 >> 3), [2]);                          // bit 1 of byte 0x7f = port 0x3f9
    resume(GUEST_RIP);
    S.setReg64(S.RDX, 0x3f8);
    expect(guest([0xec])).toBe(0);                            // IN AL, DX (0x3f8): passes through
    expect(V.nonRoot).toBe(true);
    expect(S.getReg64(S.RAX) & 0xff).toBe(0xff);              // the spec host's ports read all-ones
    S.setRip(GUEST_RIP);
    expect(guest([0x66, 0xed])).toBe(0);                      // IN AX, DX: 0x3f8-0x3f9 hits 0x3f9
    exited(30);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x3f80009);         // size 2, IN, DX
    resume(GUEST_RIP);
    S.setReg64(S.RDX, 0xffff);
    expect(guest([0xef])).toBe(0);                            // OUT DX, EAX at 0xffff wraps: exits
    exited(30);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0xffff0003);
    resume(GUEST_RIP);
    S.setReg64(S.RDX, 0x3f9); S.setReg64(S.RSI, 0x5000);
    expect(guest([0xf3, 0x6e])).toBe(0);                      // REP OUTSB
    exited(30);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x3f90030);         // string, REP
    expect(rd(F.GUEST_LINEAR_ADDR)).toBe(0x5000);
  });
  it("RDMSR/WRMSR: always without bitmaps, by bitmap bit with them", () => {
    l1();
    launch();
    S.setReg64(S.RCX, 0x10);
    expect(guest([0x0f, 0x32])).toBe(0);
    exited(31);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 28));
    wr(F.MSR_BITMAP, MSRBM);
    poke(MSRBM + 2048 + 1024 + (0x80 >> 3), [1]);             // write-high bitmap: EFER (C0000080H)
    resume(GUEST_RIP);
    S.setReg64(S.RCX, 0xc0000080);
    expect(guest([0x0f, 0x32])).toBe(0);                      // RDMSR EFER: not intercepted
    expect(V.nonRoot).toBe(true);
    expect(S.getReg64(S.RAX)).toBe(0x500);
    S.setRip(GUEST_RIP);
    expect(guest([0x0f, 0x30])).toBe(0);                      // WRMSR EFER: intercepted
    exited(32);
    resume(GUEST_RIP);
    S.setReg64(S.RCX, 0x40000000);
    expect(guest([0x0f, 0x32])).toBe(0);                      // outside both ranges: always exits
    exited(31);
  });
  it("MOV CR: guest/host masks and read shadows, CR3-target values, CR8 exiting", () => {
    l1();
    wr(F.CR0_MASK, 0x20);                                     // L1 owns CR0.NE
    wr(F.CR0_SHADOW, 0);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 15));             // CR3-load exiting
    wr(F.CR3_TARGET_COUNT, 1); wr(F.CR3_TARGET0, 0x10000);
    launch();
    expect(guest([0x0f, 0x20, 0xc3])).toBe(0);                // MOV RBX, CR0: shadowed NE = 0
    expect(S.getReg64(S.RBX)).toBe(0x80000011);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RBX, 0x80000011 | 0x10000);                  // sets WP, NE as the shadow: no exit
    expect(guest([0x0f, 0x22, 0xc3])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.cr0).toBe(0x80010031);                           // NE kept (owned by L1)
    S.setRip(GUEST_RIP);
    S.setReg64(S.RBX, 0x80000031);                            // NE differs from the shadow: exit
    expect(guest([0x0f, 0x22, 0xc3])).toBe(0);
    exited(28);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x300);             // CR0, MOV to CR, RBX
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x10000);
    expect(guest([0x0f, 0x22, 0xd8])).toBe(0);                // MOV CR3, RAX: a target value
    expect(V.nonRoot).toBe(true);
    S.setRip(GUEST_RIP);
    S.setReg64(9, 0x30000);
    expect(guest([0x41, 0x0f, 0x22, 0xd9])).toBe(0);          // MOV CR3, R9: exit, reg 9
    exited(28);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x903);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(4);
  });
  it("exception bitmap, #PF mask/match and triple fault", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 6);
    launch();
    expect(guest([0x0f, 0x0b])).toBe(7);                      // UD2
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000306);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    // #PF with bit 14 set and mask/match 0/0: every #PF exits; CR2 untouched.
    wr(F.EXCEPTION_BITMAP, 1 << 14);
    resume(GUEST_RIP);
    S.setCr2(0x77);
    S.setReg64(S.RAX, 0x40000000);                            // not mapped
    expect(guest([0x8b, 0x00])).toBe(15);                     // MOV EAX, [RAX]
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0e);
    expect(rd(F.EXIT_INTR_ERROR)).toBe(0);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x40000000);
    expect(S.cr2).toBe(0x77);
    // Bit 14 set, match 1 with mask 1 (present faults only): a not-present #PF goes to L2,
    // whose IDT is empty: #GP, #DF, then a triple fault, which is a VM exit.
    wr(F.PF_ERR_MASK, 1); wr(F.PF_ERR_MATCH, 1);
    wr(F.GUEST_IDTR_LIMIT, 0);
    resume(GUEST_RIP);
    expect(guest([0x8b, 0x00])).toBe(15);
    deliverFault();
    exited(2);
    expect(shutdown).toBe(false);
  });
  it("external interrupts exit with the vector acknowledged", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x17);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | 0x8000);
    launch();
    portOut(0xe1, 1, 0x31);                                   // the spec host's next vector
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);                     // RFLAGS.IF = 0 in L2 but it exits
    setIntrLine(false);
    exited(1);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000031);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(0);
  });
  it("VMX instructions in L2 exit with instruction information", () => {
    l1();
    launch();
    S.setReg64(S.RAX, 0x3100); S.setReg64(S.RCX, 0x4002);
    expect(guest([0x0f, 0x78, 0x48, 0x10])).toBe(0);          // VMREAD [RAX+0x10], RCX
    exited(23);
    // scale 0, 64-bit addresses, memory, DS, no index, base RAX, reg2 RCX.
    expect(rd(F.EXIT_INSTR_INFO)).toBe((2 << 7) | (3 << 15) | (1 << 22) | (0 << 23) | (1 << 28));
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x10);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(4);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x79, 0xd3])).toBe(0);                // VMWRITE RDX, RBX
    exited(25);
    expect(rd(F.EXIT_INSTR_INFO)).toBe((2 << 7) | (1 << 10) | (3 << 3) | (2 << 28));
    resume(GUEST_RIP);
    expect(guest([0x0f, 0xc7, 0x34, 0x8b])).toBe(0);          // VMPTRLD [RBX+RCX*4]
    exited(21);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(2 | (2 << 7) | (3 << 15) | (1 << 18) | (3 << 23));
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0xc4])).toBe(0);                // VMXOFF
    exited(26);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0xc3])).toBe(0);                // VMRESUME
    exited(24);
  });
});

// After run(): L1 executed the HLT at HOST_RIP.
function exitedRun(reason: u64): void {
  expect(V.nonRoot).toBe(false);
  expect(rd(F.EXIT_REASON)).toBe(reason);
  expect(S.rip).toBe(HOST_RIP + 1);
  S.setHalted(false);
}
describe("VMX-preemption timer and interrupt window", () => {
  // The fake host clock (as-pect.config.js) advances 500 ns = 1000 TSC ticks per nowNs() call;
  // the timer counts down once per 32 ticks (IA32_VMX_MISC[4:0] = 5).
  it("the timer counts TSC ticks >> 5, not instructions (reason 52)", () => {
    l1();
    poke(HOST_RIP, [0xf4]);                                   // L1 halts after the exit: run() stops
    poke(GUEST_RIP, [0xeb, 0xfe]);                            // JMP $ (an endless L2 loop)
    wr(F.PIN_CONTROLS, 0x16 | 0x40);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | (1 << 22));
    wr(F.PREEMPT_TIMER, 100);                                 // 3200 TSC ticks
    launch();
    expect(run(100000)).toBe(1);
    exitedRun(52);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(rd(F.PREEMPT_TIMER)).toBe(0);
    expect(rd(F.GUEST_ACTIVITY)).toBe(0);
  });
  it("a large timer value does not run out within a slice", () => {
    l1();
    poke(GUEST_RIP, [0xeb, 0xfe]);
    wr(F.PIN_CONTROLS, 0x16 | 0x40);
    wr(F.PREEMPT_TIMER, 0xffffffff);
    launch();
    expect(run(5000)).toBe(0);                                // budget spent, still in L2
    expect(V.nonRoot).toBe(true);
  });
  it("saves the remaining timer value on another exit", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x40);
    wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200 | (1 << 22));
    wr(F.PREEMPT_TIMER, 1000000);
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90, 0x0f, 0xa2]);               // NOP NOP CPUID
    launch();
    expect(run(100)).toBe(1);
    exitedRun(10);
    const left = rd(F.PREEMPT_TIMER);                         // a few clock reads (31 each) went by
    expect(left < 1000000).toBe(true);
    expect(left > 999000).toBe(true);
  });
  it("a halted L2 waits for the timer (host wakes it at vmxTimerNs); the exit saves the HLT state", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x40);
    wr(F.PREEMPT_TIMER, 200);                                 // 6400 ticks: several clock reads
    poke(GUEST_RIP, [0xf4]);                                  // HLT (no HLT exiting)
    launch();
    expect(run(100)).toBe(1);                                 // halted, not timed out at once
    expect(V.nonRoot).toBe(true);
    expect(S.halted).toBe(true);
    expect(vmxTimerNs() > 0).toBe(true);
    let n = 0;
    while (V.nonRoot && n < 20) { pollExits(); n++; }
    expect(n > 1).toBe(true);
    exited(52);
    expect(rd(F.GUEST_ACTIVITY)).toBe(1);
    expect(vmxTimerNs()).toBe(-1);
  });
  it("a RDTSC in L2 past the deadline exits before the next instruction", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    const code: u8[] = [];
    for (let i = 0; i < 40; i++) { code.push(0x0f); code.push(0x31); }   // RDTSC x 40
    poke(GUEST_RIP, code);
    wr(F.PIN_CONTROLS, 0x16 | 0x40);
    wr(F.PREEMPT_TIMER, 64);                                  // 2048 ticks: 2-3 clock reads
    launch();
    expect(run(1000)).toBe(1);
    exitedRun(52);
    const r = rd(F.GUEST_RIP);
    expect(r > GUEST_RIP && r < GUEST_RIP + 12).toBe(true);   // after a few RDTSCs, not 256 instructions
  });
  it("the monitor trap flag exits after each L2 instruction (reason 37)", () => {
    l1();
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 27));
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x48, 0xff, 0xc0, 0x90]);         // NOP; INC RAX; NOP
    launch();
    expect(run(100)).toBe(1);
    exitedRun(37);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);
    S.setReg64(S.RAX, 5);
    resume(GUEST_RIP + 1);
    expect(run(100)).toBe(1);
    exitedRun(37);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 4);
    expect(S.getReg64(S.RAX)).toBe(6);                        // GPRs are shared: L2 ran INC once
  });
  it("interrupt-window exiting waits for IF = 1 past the STI shadow (reason 7)", () => {
    l1();
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 2));
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0xfb, 0x90, 0x90, 0x90]);         // NOP STI NOP NOP NOP
    launch();
    expect(run(100)).toBe(1);
    exitedRun(7);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 3);
    expect(rd(F.GUEST_RFLAGS) & 0x200).toBe(0x200);
  });
});

describe("LMSW, INVLPG, INT3 exits", () => {
  it("LMSW exits on an owned bit differing from the shadow, else keeps owned bits", () => {
    l1();
    wr(F.CR0_MASK, 0x8);                                      // L1 owns CR0.TS, shadow TS = 0
    wr(F.CR0_SHADOW, 0);
    launch();
    S.setReg64(S.RAX, 0x3);                                   // LMSW AX: PE MP, TS clear = shadow
    expect(guest([0x0f, 0x01, 0xf0])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.cr0 & 0xf).toBe(0x3);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0xb);                                   // sets TS: exit
    expect(guest([0x0f, 0x01, 0xf0])).toBe(0);
    exited(28);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0xb0030);          // source 0x000b, register operand, LMSW
  });
  it("INVLPG exits with the linear address when its control is set", () => {
    l1();
    launch();
    S.setReg64(S.RAX, 0x123456);
    expect(guest([0x0f, 0x01, 0x38])).toBe(0);                // INVLPG [RAX]: no exit
    expect(V.nonRoot).toBe(true);
    wr(F.PROC_CONTROLS, 0x04006172 | (1 << 9));
    S.setRip(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0x38])).toBe(0);
    exited(14);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x123456);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
  });
  it("WBINVD exits only with its secondary control; RDPMC with its control", () => {
    l1();
    launch();
    expect(guest([0x0f, 0x09])).toBe(0);                      // WBINVD: no exit
    expect(V.nonRoot).toBe(true);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 64);
    expect(guest([0x0f, 0x33])).toBe(14);                     // RDPMC: #GP(0) (no counter 64), no exit
    clearFault();
    wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000 | (1 << 11));
    wr(F.PROC2_CONTROLS, 1 << 6);
    S.setRip(GUEST_RIP);
    expect(guest([0x0f, 0x09])).toBe(0);
    exited(54);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x33])).toBe(0);
    exited(15);
  });
  it("a task switch in a 32-bit L2 exits unconditionally (reason 9)", () => {
    l1();
    w32(0x40000, 0x87);                                       // L2 32-bit paging: one 4M page
    w64(0x548, desc(0x800, 0x67, 0x89, 0));                   // GDT 0x48: available 32-bit TSS
    wr(F.ENTRY_CONTROLS, 0x000011fb);                         // not IA-32e
    wr(F.GUEST_CR0, 0x80000031); wr(F.GUEST_CR3, 0x40000); wr(F.GUEST_CR4, 0x2010);
    wr(F.GUEST_AR0 + 2, 0xc09b);
    launch();
    expect(S.code64).toBe(false);
    expect(guest([0xea, 0, 0, 0, 0, 0x48, 0])).toBe(0);      // JMP FAR 0x48:0
    exited(9);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x80000048);        // selector 0x48, source JMP (2)
    expect(rd(F.EXIT_INSTR_LEN)).toBe(7);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
  });
  it("INT3 is a software exception (type 6) for the exception bitmap", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 3);
    launch();
    expect(guest([0xcc])).toBe(0);
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000603);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(1);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
  });
});

describe("IDT-vectoring information", () => {
  it("an exit for a fault raised while delivering another exception reports the first one", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 13);                          // #GP exits
    // L2's IDT at 0x1000 is empty: the #UD gate is invalid -> #GP(6*8+2+EXT) while delivering #UD.
    launch();
    expect(guest([0x0f, 0x0b])).toBe(7);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);            // #GP with error code
    expect(rd(F.EXIT_INTR_ERROR)).toBe(6 * 8 + 3);            // IDT entry 6, IDT bit, EXT
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0x80000306);        // #UD, hardware exception
    // The next, unrelated exit has no IDT-vectoring information.
    resume(GUEST_RIP);
    expect(guest([0x0f, 0xa2])).toBe(0);
    exited(10);
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0);
  });
});

describe("NMI exiting", () => {
  it("an NMI in L2 exits (type 2, vector 2) and L1 resumes with NMIs blocked", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8);
    launch();
    expect(nmiBlocked).toBe(false);
    raiseNmi();
    expect(checkInterrupts()).toBe(true);
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000202);
    expect(nmiPending).toBe(false);
    expect(nmiBlocked).toBe(true);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);
    // Without NMI exiting the NMI is delivered to L2 (its IDT is empty: triple fault exit).
    wr(F.PIN_CONTROLS, 0x16);
    wr(F.GUEST_INTERRUPTIBILITY, 0);
    resume(GUEST_RIP);
    expect(nmiBlocked).toBe(false);
    raiseNmi();
    checkInterrupts();
    deliverFault();
    exited(2);
    expect(nmiBlocked).toBe(true);                            // L1's state restored
  });
});

describe("VMCS shadowing", () => {
  it("VMREAD/VMWRITE in L2 use the shadow VMCS unless the bitmaps say exit", () => {
    l1();
    const SH: u32 = 0x26000, RBM: u32 = 0x27000, WBM: u32 = 0x28000;
    w32(SH, VMCS_REVISION | 0x80000000);
    const ripSlot = <u32>F.fieldSlot(0x681e), flSlot = <u32>F.fieldSlot(0x6820), errSlot = <u32>F.fieldSlot(0x4400);
    w64(SH + 16 + ripSlot * 8, 0x1111);
    poke(WBM + (0x681c >> 3), [0x10]);                        // bit 0x681c: VMWRITE of guest RSP exits
    wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000);
    wr(F.PROC2_CONTROLS, 0x4000);
    wr(F.VMREAD_BITMAP, RBM); wr(F.VMWRITE_BITMAP, WBM);
    wr(F.VMCS_LINK_POINTER, 0x22000);                         // not a shadow VMCS: entry fails
    w32(0x22000, VMCS_REVISION);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    exited(0x80000021);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(4);
    wr(F.VMCS_LINK_POINTER, SH);
    launch();
    S.setReg64(S.RCX, 0x681e);
    S.setReg64(S.RBX, 0);
    expect(guest([0x0f, 0x78, 0xcb])).toBe(0);                // VMREAD RBX, RCX: from the shadow
    expect(V.nonRoot).toBe(true);
    expect(S.getReg64(S.RBX)).toBe(0x1111);
    expect(getRflags() & STATUS).toBe(0);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 0x6820); S.setReg64(S.RBX, 0x46);
    expect(guest([0x0f, 0x79, 0xcb])).toBe(0);                // VMWRITE RCX, RBX: into the shadow
    expect(V.nonRoot).toBe(true);
    expect(r64(SH + 16 + flSlot * 8)).toBe(0x46);
    expect(rd(F.GUEST_RFLAGS)).toBe(2);                        // L1's VMCS untouched
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 0x202c);                                 // no such field (XSS-exiting bitmap)
    expect(guest([0x0f, 0x78, 0xcb])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(0x4400)).toBe(12);                               // error in the current VMCS (SDM 31 VMREAD)
    expect(r64(SH + 16 + errSlot * 8)).toBe(0);                // not in the shadow
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 0x4402); S.setReg64(S.RBX, 0x77);
    expect(guest([0x0f, 0x79, 0xcb])).toBe(0);                // VMWRITE of an exit-information field (MISC bit 29)
    expect(getRflags() & STATUS).toBe(0);
    expect(r64(SH + 16 + <u32>F.fieldSlot(0x4402) * 8)).toBe(0x77);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RCX, 0x681c);
    expect(guest([0x0f, 0x79, 0xcb])).toBe(0);                // bitmap bit set: VM exit
    exited(25);
    // The shadow VMCS itself can be made current and read, but not entered.
    w64(PTR, SH); S.setReg64(S.RAX, PTR);
    expect(exec([0x0f, 0xc7, 0x30])).toBe(0);
    expect(getRflags() & STATUS).toBe(0);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(1);                     // VMfailInvalid
  });
});

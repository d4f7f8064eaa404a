// Exit controls added for kvm-unit-tests' vmx entry: PAUSE exiting, RDRAND/RDSEED exiting,
// descriptor-table exiting (reasons 46/47 with instruction information), virtual NMIs and
// NMI-window exiting, IDT-vectoring information for interrupts, software interrupts and
// injected events.
import * as S from "../../assembly/cpu/state";
import { run, setIntrLine } from "../../assembly/index";
import { poke, w64 } from "./sys_helpers";
import { faultPending } from "../../assembly/cpu/fault";
import { deliverFault, checkInterrupts, raiseNmi, nmiBlocked } from "../../assembly/cpu/interrupts";
import { portOut } from "../../assembly/host";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { HOST_RIP, GUEST_RIP, exec, guest, l1, launch, resume, exited } from "./vmx_harness";

const PROC_BASE: u64 = 0x04006172, SECONDARY: u64 = 0x80000000;

function exitedRun(reason: u64): void {
  expect(V.nonRoot).toBe(false);
  expect(rd(F.EXIT_REASON)).toBe(reason);
  expect(S.rip).toBe(HOST_RIP + 1);
  S.setHalted(false);
}
function secondary(bits: u64): void {
  wr(F.PROC_CONTROLS, PROC_BASE | SECONDARY);
  wr(F.PROC2_CONTROLS, bits);
}
// 64-bit interrupt gate in L2's IDT (0x1000) for `vec` -> target, CS 0x18.
function gate64(vec: u32, target: u64): void {
  const lo: u64 = (target & 0xffff) | (<u64>0x18 << 16) | (<u64>0x8e00 << 32) | ((target & 0xffff0000) << 32);
  w64(0x1000 + vec * 16, lo);
  w64(0x1000 + vec * 16 + 8, target >> 32);
}

describe("PAUSE, RDRAND and RDSEED exiting", () => {
  it("PAUSE exits (40) only with its control; a plain NOP never does", () => {
    l1();
    launch();
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    l1();
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 30));
    launch();
    expect(guest([0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    S.setRip(GUEST_RIP);
    expect(guest([0xf3, 0x90])).toBe(0);
    exited(40);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
  });
  it("RDRAND (57) / RDSEED (61) exit with the register and operand size in the instruction information", () => {
    l1();
    secondary(1 << 11);
    launch();
    expect(guest([0x0f, 0xc7, 0xf0])).toBe(0);               // RDRAND EAX
    exited(57);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x800);                // EAX, 32-bit
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
    resume(GUEST_RIP);
    expect(guest([0x48, 0x0f, 0xc7, 0xf9])).toBe(0);         // RDSEED RCX: no RDSEED exiting
    expect(V.nonRoot).toBe(true);
    l1();
    secondary(1 << 16);
    launch();
    expect(guest([0x48, 0x0f, 0xc7, 0xf9])).toBe(0);
    exited(61);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x1008);               // RCX, 64-bit
    expect(rd(F.EXIT_INSTR_LEN)).toBe(4);
  });
});

describe("descriptor-table exiting", () => {
  it("SGDT/LIDT exit with reason 46, identity, memory-operand fields and the displacement", () => {
    l1();
    secondary(1 << 2);
    launch();
    expect(guest([0x0f, 0x01, 0x40, 0x10])).toBe(0);         // SGDT [RAX+0x10]
    exited(46);
    // 64-bit addressing (2 << 7), operand size 32 (bit 11), DS (3 << 15), no index (bit 22),
    // base RAX (0 << 23), identity SGDT (0).
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x418900);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x10);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(4);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x01, 0x1b])).toBe(0);               // LIDT [RBX]
    exited(46);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x30000000 | 0x1800000 | 0x418900);   // identity LIDT, base RBX
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
  });
  it("SLDT/STR/LLDT exit with reason 47, register operand and identity", () => {
    l1();
    secondary(1 << 2);
    launch();
    expect(guest([0x0f, 0x00, 0xc0])).toBe(0);               // SLDT EAX
    exited(47);
    expect(rd(F.EXIT_INSTR_INFO) & 0x30000478).toBe(0x400);   // register form, reg 0, SLDT
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x00, 0xc9])).toBe(0);               // STR ECX
    exited(47);
    expect(rd(F.EXIT_INSTR_INFO) & 0x30000478).toBe(0x10000408);
    resume(GUEST_RIP);
    expect(guest([0x0f, 0x00, 0xd0])).toBe(0);               // LLDT AX
    exited(47);
    expect(rd(F.EXIT_INSTR_INFO) & 0x30000478).toBe(0x20000400);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(3);
  });
  it("without the control SGDT runs in L2", () => {
    l1();
    launch();
    S.setReg64(S.RAX, 0x9000);
    expect(guest([0x0f, 0x01, 0x00])).toBe(0);               // SGDT [RAX]
    expect(V.nonRoot).toBe(true);
  });
});

describe("virtual NMIs and NMI-window exiting", () => {
  it("NMI-window exits at once without blocking, after one instruction in a MOV-SS shadow", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x90, 0x90]);
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 22));
    launch();
    expect(run(10)).toBe(1);
    exitedRun(8);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    S.setRip(HOST_RIP);
    wr(F.GUEST_INTERRUPTIBILITY, 2);                          // blocking by MOV SS
    resume(GUEST_RIP);
    expect(run(10)).toBe(1);
    exitedRun(8);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 1);
  });
  it("with virtual-NMI blocking the window opens after IRET", () => {
    l1();
    poke(HOST_RIP, [0xf4]);
    poke(GUEST_RIP, [0x48, 0xcf]);                            // IRETQ
    poke(GUEST_RIP + 0x10, [0x90, 0x90]);
    w64(0x9800, GUEST_RIP + 0x10); w64(0x9808, 0x18); w64(0x9810, 2); w64(0x9818, 0x9800); w64(0x9820, 0x10);
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 22));
    wr(F.GUEST_INTERRUPTIBILITY, 8);                          // virtual-NMI blocking
    launch();
    expect(nmiBlocked).toBe(true);
    expect(run(10)).toBe(1);
    exitedRun(8);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 0x10);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);
  });
  it("a real NMI exits even under virtual-NMI blocking; an injected NMI sets that blocking", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    raiseNmi();
    expect(checkInterrupts()).toBe(true);
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000202);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(8);
    l1();
    gate64(2, GUEST_RIP + 0x20);
    poke(GUEST_RIP + 0x20, [0x0f, 0xa2]);                    // handler: CPUID
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.ENTRY_INTR_INFO, 0x80000202);                        // inject an NMI
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.rip).toBe(GUEST_RIP + 0x20);
    expect(nmiBlocked).toBe(true);
    expect(guest([0x0f, 0xa2])).toBe(0);
    exited(10);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(8);
  });
  it("virtual NMIs need NMI exiting; NMI-window exiting needs virtual NMIs (VMfailValid 7)", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x20);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8);
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 22));
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
  });
});

describe("IDT-vectoring information for interrupts and software interrupts", () => {
  it("INT n whose delivery faults reports type 4 and the instruction length", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 13);                          // #GP exits; L2's IDT is empty
    launch();
    expect(guest([0xcd, 0x20])).toBe(13 + 1);                 // INT 0x20 -> #GP(0x20*8+2)
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
    expect(rd(F.EXIT_INTR_ERROR)).toBe(0x20 * 8 + 2);
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0x80000420);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
  });
  it("an external interrupt whose delivery faults reports type 0; a delivered one leaves nothing", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.GUEST_RFLAGS, 0x202);
    launch();
    portOut(0xe1, 1, 0x30);                                   // intAck() -> 0x30
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);
    setIntrLine(false);
    expect(faultPending).toBe(true);
    deliverFault();
    exited(0);
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0x80000030);
    l1();
    gate64(0x30, GUEST_RIP + 0x20);
    poke(GUEST_RIP + 0x20, [0x0f, 0xa2]);
    wr(F.GUEST_RFLAGS, 0x202);
    launch();
    setIntrLine(true);
    expect(checkInterrupts()).toBe(true);
    setIntrLine(false);
    expect(S.rip).toBe(GUEST_RIP + 0x20);
    expect(guest([0x0f, 0xa2])).toBe(0);
    exited(10);
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0);
  });
  it("an injected event whose delivery exits is reported", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.ENTRY_INTR_INFO, 0x80000306);                        // inject #UD into the empty IDT
    expect(exec([0x0f, 0x01, 0xc2])).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.IDT_VECTORING_INFO)).toBe(0x80000306);
  });
});

describe("alignment check (#AC) in L2", () => {
  it("an unaligned CPL-3 access with CR0.AM and RFLAGS.AC raises #AC(0); aligned ones do not", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 17);
    // L2 at CPL 3: user code/data selectors with RPL 3 (GDT 0x528 / 0x530), CR0.AM.
    w64(0x528, 0x00affb000000ffff);                           // 64-bit code, DPL 3
    w64(0x530, 0x00cff3000000ffff);                           // data, DPL 3
    wr(F.GUEST_SEL0 + 2, 0x2b); wr(F.GUEST_AR0 + 2, 0xa0fb);
    for (let s: u32 = 0; s < 6; s++) if (s != 1) { wr(F.GUEST_SEL0 + s * 2, 0x33); wr(F.GUEST_AR0 + s * 2, 0xc0f3); }
    wr(F.GUEST_CR0, rd(F.GUEST_CR0) | 0x40000);
    wr(F.GUEST_RFLAGS, 0x40002);                              // AC
    // User-accessible page tables in the harness: the 2M page is U/S = 1 (0x87).
    launch();
    S.setReg64(S.RAX, 0x9000);
    expect(guest([0x48, 0x8b, 0x18])).toBe(0);               // MOV RBX, [RAX]: aligned
    expect(V.nonRoot).toBe(true);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x9004);
    expect(guest([0x48, 0x8b, 0x18])).toBe(17 + 1);          // MOV RBX, [RAX+4]: 8 bytes at 4 mod 8
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b11);            // #AC, error code 0
    expect(rd(F.EXIT_INTR_ERROR)).toBe(0);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
  });
});

describe("HLT activity state", () => {
  it("an L2 entered in HLT with IF = 1 is woken by an external interrupt (no interrupt exiting)", () => {
    l1();
    gate64(0x30, GUEST_RIP + 0x20);
    poke(GUEST_RIP + 0x20, [0x0f, 0xa2]);                    // handler: CPUID exits
    wr(F.GUEST_RFLAGS, 0x202);
    wr(F.GUEST_ACTIVITY, 1);
    poke(HOST_RIP, [0xf4]);
    launch();
    expect(S.halted).toBe(true);
    expect(run(10)).toBe(1);                                  // stays halted
    expect(V.nonRoot).toBe(true);
    portOut(0xe1, 1, 0x30);
    setIntrLine(true);
    expect(run(10)).toBe(1);                                  // woken: handler's CPUID exits, L1 HLTs
    setIntrLine(false);
    exitedRun(10);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 0x20);
    expect(rd(F.GUEST_ACTIVITY)).toBe(0);
  });
});

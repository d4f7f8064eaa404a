// VMX features added late: "enable INVPCID" (exit 58), PAUSE-loop exiting, INS/OUTS
// instruction information (IA32_VMX_BASIC[54]), IRET and NMI blocking in VMX non-root operation
// (SDM 26.3) with "NMI unblocking due to IRET", virtual-8086 L2 guests.
import * as S from "../../assembly/cpu/state";
import { poke, w64, w32 } from "./sys_helpers";
import { deliverFault, nmiBlocked } from "../../assembly/cpu/interrupts";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { clearFault } from "../../assembly/cpu/fault";
import { GUEST_RIP, exec, guest as guestAt, l1, launch, resume, exited } from "./vmx_harness";

// One L2 instruction at GUEST_RIP.
function guest(bytes: u8[]): u32 { S.setRip(GUEST_RIP); return guestAt(bytes); }
// One L2 instruction whose fault is dropped (not delivered).
function guestFault(bytes: u8[]): u32 { const v = guest(bytes); clearFault(); return v; }

const PROC_BASE: u64 = 0x04006172, SECONDARY: u64 = 0x80000000;
const INVLPG_EXITING: u64 = 1 << 9, PAUSE_EXITING: u64 = 1 << 30, UNCOND_IO: u64 = 1 << 24;
const INVPCID: u64 = 1 << 12, PLE: u64 = 1 << 10;

function secondary(proc: u64, bits: u64): void {
  wr(F.PROC_CONTROLS, PROC_BASE | proc | SECONDARY);
  wr(F.PROC2_CONTROLS, bits);
}

describe("enable INVPCID", () => {
  it("INVPCID is #UD in L2 without the control, also with INVLPG exiting", () => {
    l1();
    launch();
    S.setReg64(S.RBX, 0x6000); w64(0x6000, 0); w64(0x6008, 0);
    S.setReg64(S.RAX, 3);
    expect(guestFault([0x66, 0x0f, 0x38, 0x82, 0x03])).toBe(6 + 1);   // INVPCID RAX, [RBX]
    l1();
    wr(F.PROC_CONTROLS, PROC_BASE | INVLPG_EXITING);
    launch();
    S.setReg64(S.RBX, 0x6000); S.setReg64(S.RAX, 3);
    expect(guestFault([0x66, 0x0f, 0x38, 0x82, 0x03])).toBe(6 + 1);
  });
  it("with the control it runs in L2 (operand checks apply) unless INVLPG exiting is 1", () => {
    l1();
    secondary(0, INVPCID);
    launch();
    S.setReg64(S.RBX, 0x6000); w64(0x6000, 0); w64(0x6008, 0);
    S.setReg64(S.RAX, 3);
    expect(guest([0x66, 0x0f, 0x38, 0x82, 0x03])).toBe(0);
    expect(V.nonRoot).toBe(true);
    S.setReg64(S.RAX, 4);                                         // bad type: #GP(0) in L2
    expect(guestFault([0x66, 0x0f, 0x38, 0x82, 0x03])).toBe(13 + 1);
  });
  it("exits with reason 58, the displacement and the INVEPT/INVPCID/INVVPID instruction information", () => {
    l1();
    secondary(INVLPG_EXITING, INVPCID);
    launch();
    S.setReg64(S.RBX, 0x6000); S.setReg64(S.RCX, 7);            // type 7 would #GP: the exit comes first
    expect(guest([0x66, 0x0f, 0x38, 0x82, 0x4b, 0x10])).toBe(0); // INVPCID RCX, [RBX+0x10]
    exited(58);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x10);
    // reg2 RCX (1 << 28), base RBX (3 << 23), no index (bit 22), DS (3 << 15), 64-bit addressing (2 << 7).
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x11c18100);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(6);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    resume(GUEST_RIP);
    // 32-bit addressing, ES override, SIB with index: INVPCID RDX, ES:[EAX+ESI*4-8]
    expect(guest([0x26, 0x67, 0x66, 0x0f, 0x38, 0x82, 0x54, 0xb0, 0xf8])).toBe(0);
    exited(58);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0xfffffffffffffff8);
    // reg2 RDX (2), base RAX (0), index RSI (6 << 18), ES (0), 32-bit (1 << 7), scale 4 (2).
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x20000000 | (6 << 18) | 0x80 | 2);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(9);
  });
});

describe("PAUSE-loop exiting", () => {
  // The spec host's nowNs() advances 500 ns (1000 TSC ticks at 2 GHz) per call: one per PAUSE.
  it("a loop longer than PLE_Window exits with reason 40; the first PAUSE after entry starts it", () => {
    l1();
    secondary(0, PLE);
    wr(0x4020, 5000); wr(0x4022, 2500);
    launch();
    expect(guest([0xf3, 0x90])).toBe(0);     // starts the loop (t)
    expect(guest([0xf3, 0x90])).toBe(0);     // t + 1000
    expect(guest([0xf3, 0x90])).toBe(0);     // t + 2000
    expect(V.nonRoot).toBe(true);
    expect(guest([0xf3, 0x90])).toBe(0);     // t + 3000 > 2500: exit
    exited(40);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    resume(GUEST_RIP);                       // a new entry: a new loop
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
  });
  it("a gap above PLE_Gap starts a new loop; window 0 exits at the second PAUSE of a loop", () => {
    l1();
    secondary(0, PLE);
    wr(0x4020, 999); wr(0x4022, 0);
    launch();
    for (let i = 0; i < 8; i++) {
      expect(guest([0xf3, 0x90])).toBe(0);   // each 1000 ticks after the previous: > gap
      expect(V.nonRoot).toBe(true);
    }
    l1();
    secondary(0, PLE);
    wr(0x4020, 1000); wr(0x4022, 0);
    launch();
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(guest([0xf3, 0x90])).toBe(0);     // gap 1000 is not above 1000: same loop, 1000 > 0
    exited(40);
  });
  it("PAUSE exiting has priority; PLE ignores CPL > 0; a plain NOP is not a PAUSE", () => {
    l1();
    secondary(PAUSE_EXITING, PLE);
    wr(0x4020, 0x7fffffff); wr(0x4022, 0x7fffffff);
    launch();
    expect(guest([0xf3, 0x90])).toBe(0);
    exited(40);
    l1();
    secondary(0, PLE);
    wr(0x4020, 0x7fffffff); wr(0x4022, 0);
    launch();
    expect(guest([0x90])).toBe(0);
    expect(guest([0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    S.setCpl(3);
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(guest([0xf3, 0x90])).toBe(0);
    expect(V.nonRoot).toBe(true);
    S.setCpl(0);
  });
});

describe("INS/OUTS instruction information", () => {
  it("reports the address size and the segment register (IA32_VMX_BASIC[54])", () => {
    l1();
    wr(F.PROC_CONTROLS, PROC_BASE | UNCOND_IO);
    launch();
    S.setReg64(S.RSI, 0x6000); S.setReg64(S.RDX, 0x80);
    expect(guest([0xf3, 0x6e])).toBe(0);                   // REP OUTSB
    exited(30);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x18100);           // 64-bit, DS
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x800030);
    resume(GUEST_RIP);
    expect(guest([0x67, 0x64, 0x6f])).toBe(0);             // OUTSD FS:[ESI]
    exited(30);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x20080);           // 32-bit, FS (4 << 15)
    resume(GUEST_RIP);
    S.setReg64(S.RDI, 0x6000);
    expect(guest([0x6c])).toBe(0);                         // INSB
    exited(30);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x100);             // 64-bit, ES
    resume(GUEST_RIP);
    expect(guest([0xe6, 0x80])).toBe(0);                   // OUT imm8: no instruction information
    exited(30);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0);
  });
});

// IRETQ frame at the L2's RSP (0x9800) returning to GUEST_RIP with CS `cs`.
function iretFrame(cs: u64): void {
  w64(0x9800, GUEST_RIP); w64(0x9808, cs); w64(0x9810, 2); w64(0x9818, 0x9800); w64(0x9820, 0x10);
}
const IRETQ: u8[] = [0x48, 0xcf];
const CPUID: u8[] = [0x0f, 0xa2];

describe("IRET and NMI blocking in VMX non-root operation", () => {
  it("NMI exiting 0: IRET unblocks NMIs", () => {
    l1();
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    expect(nmiBlocked).toBe(true);
    iretFrame(0x18);
    expect(guest(IRETQ)).toBe(0);
    expect(nmiBlocked).toBe(false);
    expect(guest(CPUID)).toBe(0);
    exited(10);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);
  });
  it("NMI exiting 1, virtual NMIs 0: IRET leaves blocking by NMI", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    iretFrame(0x18);
    expect(guest(IRETQ)).toBe(0);
    expect(nmiBlocked).toBe(true);
    expect(guest(CPUID)).toBe(0);
    exited(10);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(8);
  });
  it("virtual NMIs: IRET removes virtual-NMI blocking", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    iretFrame(0x18);
    expect(guest(IRETQ)).toBe(0);
    expect(nmiBlocked).toBe(false);
    expect(guest(CPUID)).toBe(0);
    exited(10);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);
  });
  it("a faulting IRET that unblocked exits with 'NMI unblocking due to IRET' (bit 12)", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    iretFrame(0x60);                                        // beyond the GDT limit: #GP(0x60)
    expect(guest(IRETQ)).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80001b0d);
    expect(rd(F.EXIT_INTR_ERROR)).toBe(0x60);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);           // blocking already removed
    // Without blocking before the IRET: bit 12 clear.
    resume(GUEST_RIP);
    expect(guest(IRETQ)).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
  });
  it("NMI exiting 0: the same bit for a faulting IRET; a completed IRET leaves no trace", () => {
    l1();
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    iretFrame(0x18);
    expect(guest(IRETQ)).toBe(0);
    S.setReg64(S.RAX, 0x4000000000000000);
    expect(guest([0x48, 0x8b, 0x00])).toBe(13 + 1);         // MOV RAX, [RAX]: #GP, not during IRET
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    resume(GUEST_RIP);
    iretFrame(0x60);
    expect(guest(IRETQ)).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80001b0d);
  });
  it("NMI exiting 1, virtual NMIs 0: a faulting IRET keeps blocking, bit 12 clear", () => {
    l1();
    wr(F.PIN_CONTROLS, 0x16 | 0x8);
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    launch();
    iretFrame(0x60);
    expect(guest(IRETQ)).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(8);
  });
});

// A virtual-8086 L2 (SDM 26.3.1.2): 32-bit paging (one 4 MiB identity page), CS:IP = 0800:0000
// (linear GUEST_RIP), SS:SP = 0900:0800, RFLAGS.VM = 1.
function vm86Guest(iopl: u64): void {
  wr(F.ENTRY_INTR_INFO, 0); wr(F.GUEST_INTERRUPTIBILITY, 0); wr(F.EXCEPTION_BITMAP, 0);   // not from an earlier test
  w32(0x14000, 0x87);                                      // PDE 0: 4 MiB page at 0, present, writable, user
  wr(F.ENTRY_CONTROLS, 0x000011fb);                        // not IA-32e mode
  wr(F.GUEST_CR3, 0x14000); wr(F.GUEST_CR4, 0x2010);       // VMXE, PSE
  const sels: u32[] = [0x700, 0x800, 0x900, 0x700, 0x700, 0x700];   // ES CS SS DS FS GS
  for (let s: u32 = 0; s < 6; s++) {
    wr(F.GUEST_SEL0 + s * 2, sels[s]); wr(F.GUEST_BASE0 + s * 2, <u64>sels[s] << 4);
    wr(F.GUEST_LIMIT0 + s * 2, 0xffff); wr(F.GUEST_AR0 + s * 2, 0xf3);
  }
  wr(F.GUEST_RIP, 0); wr(F.GUEST_RSP, 0x800);
  wr(F.GUEST_RFLAGS, 0x20002 | (iopl << 12));
  // TSS (0x700): I/O bitmap at offset 0x68 covering ports 0-0x8f (all allowed but 0x81),
  // TR limit 0x68 + 0x12 + 1 (the byte after the map).
  w32(0x764, 0x680000);
  for (let i: u32 = 0; i < 0x13; i++) w32(0x768 + i, 0);
  w32(0x768 + 0x10, 0x02);
  w32(0x768 + 0x12, 0xff);
  wr(F.GUEST_LIMIT0 + 14, 0x68 + 0x12);
}
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector } from "../../assembly/cpu/fault";
import { CODE } from "./vmx_harness";
function vm86Launch(): u32 {
  poke(CODE, [0x0f, 0x01, 0xc2]);
  S.setRip(CODE);
  step();
  if (faultPending) { const v = faultVector + 1; clearFault(); return v; }
  return 0;
}
function v86(bytes: u8[]): u32 {
  poke(GUEST_RIP, bytes);
  S.setRip(0);
  return guestAt(bytes);
}

describe("virtual-8086 L2 guests", () => {
  it("VM entry with RFLAGS.VM = 1 runs the guest in virtual-8086 mode at CPL 3", () => {
    l1();
    vm86Guest(0);
    expect(vm86Launch()).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.vm86).toBe(true);
    expect(S.cpl).toBe(3);
    expect(S.rip).toBe(0);
    expect(S.segBase(S.CS)).toBe(0x8000);
    S.setReg64(S.RAX, 0x1234);
    expect(v86([0xb8, 0x78, 0x56])).toBe(0);               // MOV AX, 0x5678
    expect(S.getReg64(S.RAX)).toBe(0x5678);
    expect(v86([0x0f, 0xa2])).toBe(0);                     // CPUID: exit 10
    exited(10);
    expect(S.vm86).toBe(false);
    expect(rd(F.GUEST_RIP)).toBe(0);
    expect(rd(F.GUEST_RFLAGS)).toBe(0x20002);
    expect(rd(F.GUEST_SEL0 + 2)).toBe(0x800);
    expect(rd(F.GUEST_BASE0 + 2)).toBe(0x8000);
    expect(rd(F.GUEST_LIMIT0 + 2)).toBe(0xffff);
    expect(rd(F.GUEST_AR0 + 2)).toBe(0xf3);
    expect(rd(F.GUEST_AR0 + 4)).toBe(0xf3);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    resume(0);                                             // saved state re-enters
    expect(S.vm86).toBe(true);
  });
  it("INT n with IOPL < 3 is #GP(0) (exception bitmap exit); HLT and CLI too", () => {
    l1();
    vm86Guest(0);
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    expect(vm86Launch()).toBe(0);
    expect(v86([0xcd, 0x21])).toBe(13 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
    expect(rd(F.EXIT_INTR_ERROR)).toBe(0);
    expect(rd(F.GUEST_RIP)).toBe(0);
    wr(F.PROC_CONTROLS, PROC_BASE | (1 << 7));             // HLT exiting: #GP comes first
    resume(0);
    expect(v86([0xf4])).toBe(13 + 1);
    deliverFault();
    exited(0);
    resume(0);
    expect(v86([0xfa])).toBe(13 + 1);                      // CLI
    deliverFault();
    exited(0);
  });
  it("IN/OUT: the TSS I/O bitmap (whatever IOPL) has priority over I/O exiting", () => {
    l1();
    vm86Guest(3);
    wr(F.EXCEPTION_BITMAP, 1 << 13);
    wr(F.PROC_CONTROLS, PROC_BASE | UNCOND_IO);
    expect(vm86Launch()).toBe(0);
    expect(v86([0xe4, 0x80])).toBe(0);                     // IN AL, 0x80: allowed by the TSS map
    exited(30);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x800048);
    expect(rd(F.GUEST_RFLAGS)).toBe(0x23002);
    resume(0);
    expect(v86([0xe4, 0x81])).toBe(13 + 1);                // port 0x81 denied: #GP(0)
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000b0d);
    resume(0);
    S.setReg64(S.RSI, 0x10); S.setReg64(S.RDX, 0x80);
    expect(v86([0x6e])).toBe(0);                           // OUTSB: 16-bit addressing, DS
    exited(30);
    expect(rd(F.EXIT_INSTR_INFO)).toBe(0x18000);
    expect(rd(F.GUEST_LINEAR_ADDR)).toBe(0x7010);
  });
  it("VM-entry checks: virtual-8086 segments, not with IA-32e mode or CR0.PE = 0", () => {
    l1();
    vm86Guest(0);
    wr(F.GUEST_AR0 + 2, 0xfb);
    expect(vm86Launch()).toBe(0);
    exited(0x80000021);
    l1();
    vm86Guest(0);
    wr(F.GUEST_BASE0 + 6, 0x7001);
    expect(vm86Launch()).toBe(0);
    exited(0x80000021);
    l1();
    vm86Guest(0);
    wr(F.GUEST_LIMIT0 + 8, 0xfffff);
    expect(vm86Launch()).toBe(0);
    exited(0x80000021);
    l1();
    vm86Guest(0);
    wr(F.ENTRY_CONTROLS, 0x000011fb | 0x200);
    wr(F.GUEST_CR4, 0x2030);
    expect(vm86Launch()).toBe(0);
    exited(0x80000021);
    l1();
    vm86Guest(0);
    wr(F.GUEST_ACTIVITY, 1);                               // HLT needs SS.DPL 0
    expect(vm86Launch()).toBe(0);
    exited(0x80000021);
    l1();
    vm86Guest(0);
    expect(vm86Launch()).toBe(0);
    expect(V.nonRoot).toBe(true);
  });
});

// EPT for the #VE specs: GPA 0-2M identity; 0x200000 read-only (suppress #VE clear),
// 0x201000 not present (suppress #VE clear), 0x202000 read-only with suppress #VE set.
const EPT_PML4: u32 = 0x30000, EPT_PDPT: u32 = 0x31000, EPT_PD: u32 = 0x32000, EPT_PT: u32 = 0x33000;
const VE_INFO: u32 = 0x35000;
const SVE: u64 = <u64>1 << 63;
function veSetup(bitmap20: bool): void {
  w64(EPT_PML4, EPT_PDPT | 7); w64(EPT_PDPT, EPT_PD | 7);
  w64(EPT_PD, 0 | 7 | (6 << 3) | 0x80); w64(EPT_PD + 8, EPT_PT | 7);
  w64(EPT_PT + 0, 0x300000 | 1 | (6 << 3));
  w64(EPT_PT + 8, 0);
  w64(EPT_PT + 16, 0x302000 | 1 | (6 << 3) | SVE);
  w64(0x12008, 0x200087);                                     // linear 2M-4M -> 2M-4M
  for (let i: u32 = 0; i < 40; i += 4) w32(VE_INFO + i, 0);
  wr(F.PROC_CONTROLS, PROC_BASE | SECONDARY);
  wr(F.PROC2_CONTROLS, 0x2 | (1 << 18));                     // EPT, EPT-violation #VE
  wr(F.EPT_POINTER, EPT_PML4 | 6 | (3 << 3));
  wr(0x202a, VE_INFO); wr(0x0004, 7);                         // #VE information address, EPTP index
  wr(F.EXCEPTION_BITMAP, bitmap20 ? 1 << 20 : 0);
}
import { r32, r64 } from "./sys_helpers";

describe("EPT-violation #VE", () => {
  it("a convertible violation is #VE (20) under the exception bitmap, with the information area written", () => {
    l1();
    veSetup(true);
    launch();
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x89, 0x18])).toBe(256 + 1);                 // MOV [RAX], EBX: read-only
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000314);             // vector 20, hardware exception, no error code
    expect(r32(VE_INFO)).toBe(48);
    expect(r32(VE_INFO + 4)).toBe(0xffffffff);
    expect(r64(VE_INFO + 8)).toBe(0x18a);                      // write; R; linear valid; final
    expect(r64(VE_INFO + 16)).toBe(0x200010);
    expect(r64(VE_INFO + 24)).toBe(0x200010);
    expect(r32(VE_INFO + 32) & 0xffff).toBe(7);
    // The semaphore is set: the next violation is an EPT-violation VM exit.
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x201008);
    expect(guest([0x8b, 0x18])).toBe(256 + 1);                 // not present
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x181);
    expect(r64(VE_INFO + 24)).toBe(0x200010);                  // area unchanged
    // Cleared again: the not-present entry (bit 63 clear) converts.
    w32(VE_INFO + 4, 0);
    resume(GUEST_RIP);
    expect(guest([0x8b, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80000314);
    expect(r64(VE_INFO + 8)).toBe(0x181);
    expect(r64(VE_INFO + 24)).toBe(0x201008);
  });
  it("a #VE from an IRET that removed virtual-NMI blocking sets bit 12 of the saved qualification", () => {
    l1();
    veSetup(true);
    wr(F.PIN_CONTROLS, 0x16 | 0x8 | 0x20);
    wr(F.GUEST_INTERRUPTIBILITY, 8);
    wr(F.GUEST_RSP, 0x201000);                                 // the frame is on a not-present GPA
    launch();
    expect(guest(IRETQ)).toBe(256 + 1);
    deliverFault();
    exited(0);
    expect(rd(F.EXIT_INTR_INFO)).toBe(0x80001314);             // the #VE is a fault of the IRET: bit 12 here too
    expect(r64(VE_INFO + 8)).toBe(0x1181);                     // read, not present, linear valid, final, bit 12
    expect(r64(VE_INFO + 24)).toBe(0x201000);
    expect(rd(F.GUEST_INTERRUPTIBILITY)).toBe(0);
  });
  it("suppress #VE (bit 63) or the control off: an EPT-violation exit", () => {
    l1();
    veSetup(true);
    launch();
    S.setReg64(S.RAX, 0x202000);
    expect(guest([0x89, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(48);
    expect(r32(VE_INFO + 4)).toBe(0);
    l1();
    veSetup(true);
    wr(F.PROC2_CONTROLS, 0x2);
    launch();
    S.setReg64(S.RAX, 0x200000);
    expect(guest([0x89, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(48);
    expect(r32(VE_INFO + 4)).toBe(0);
  });
  it("without bit 20 in the bitmap the #VE goes through L2's IDT", () => {
    l1();
    veSetup(false);
    // 64-bit interrupt gate for vector 20 -> GUEST_RIP + 0x100 (CS 0x18).
    const t: u64 = GUEST_RIP + 0x100;
    w64(0x1000 + 20 * 16, (t & 0xffff) | (<u64>0x18 << 16) | (<u64>0x8e00 << 32) | ((t & 0xffff0000) << 32));
    w64(0x1000 + 20 * 16 + 8, 0);
    launch();
    S.setReg64(S.RAX, 0x200000);
    expect(guest([0x89, 0x18])).toBe(256 + 1);
    deliverFault();
    expect(V.nonRoot).toBe(true);
    expect(S.rip).toBe(t);
    expect(r64(0x9800 - 40)).toBe(GUEST_RIP);                   // the frame's RIP: the faulting instruction
    expect(r32(VE_INFO + 4)).toBe(0xffffffff);
  });
  it("VM entry checks the #VE information address; VMFUNC EPTP switching sets the EPTP index", () => {
    l1();
    veSetup(true);
    wr(0x202a, VE_INFO | 0x10);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(false);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    l1();
    veSetup(true);
    wr(F.PROC2_CONTROLS, 0x2 | (1 << 18) | (1 << 13));        // + enable VM functions
    wr(0x2018, 1); wr(0x2024, 0x36000);                       // EPTP switching, EPTP list
    w64(0x36000 + 3 * 8, EPT_PML4 | 6 | (3 << 3));
    launch();
    S.setReg64(S.RAX, 0); S.setReg64(S.RCX, 3);
    expect(guest([0x0f, 0x01, 0xd4])).toBe(0);                 // VMFUNC
    expect(V.nonRoot).toBe(true);
    expect(rd(0x0004)).toBe(3);
  });
});

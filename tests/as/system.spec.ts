// System-architecture specs: hand-assembled code (GNU as, see comments) in guest RAM,
// descriptor tables built by the spec, then run() and concrete assertions.
import * as S from "../../assembly/cpu/state";
import { run, setSegment, getSegSel, getCr, setCr, setIntrLine, raiseNmi, getMsr, setMsr, setTscMode } from "../../assembly/index";
import {
  setup, poke, w8, w16, w32, w64, r16, r32, r64, desc, gate32, gate64,
  AR_CODE32_0, AR_DATA32_0, AR_CODE32_3, AR_DATA32_3, AR_CODE64_0, AR_CODE64_3,
} from "./sys_helpers";
import { getRflags, setRflags } from "../../assembly/cpu/flags";
import { portIn, portOut } from "../../assembly/host";
import { raisePF } from "../../assembly/cpu/fault";
import { deliverFault } from "../../assembly/cpu/interrupts";

// GDT used by most specs (at 0x500): 08 code32 DPL0, 10 data DPL0, 18 code64 DPL0,
// 20 code32 DPL3, 28 data DPL3, 30 code64 DPL3.
function stdGdt(): void {
  w64(0x500, 0);
  w64(0x508, desc(0, 0xfffff, 0x9b, 0xc));
  w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
  w64(0x518, desc(0, 0xfffff, 0x9b, 0xa));
  w64(0x520, desc(0, 0xfffff, 0xfb, 0xc));
  w64(0x528, desc(0, 0xfffff, 0xf3, 0xc));
  w64(0x530, desc(0, 0xfffff, 0xfb, 0xa));
  w16(0x600, 0x37); w32(0x602, 0x500);   // pseudo-descriptor for LGDT
}

// Flat 32-bit protected mode at CPL0 (the multiboot entry state, CS=0x08 DS=0x10),
// GDT at 0x500, IDT at 0x1000, ESP 0x9000, code at 0x7c00.
function pm32(): void {
  setup();
  stdGdt();
  S.setGdtr(0x500, 0x7f);
  setCr(0, 0x11);
  setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  S.setIdtr(0x1000, 0x7ff);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
}
// 32-bit TSS at 0x700 (selector 0x40) with SS0:ESP0 = 0x10:0xa000, loaded in TR.
function tss32(): void {
  w32(0x704, 0xa000); w16(0x708, 0x10);
  w16(0x766, 0x68);   // I/O bitmap offset
  w64(0x540, desc(0x700, 0x67 + 0x20, 0x8b, 0));
  setSegment(S.TR, 0x40, 0x700, 0x67 + 0x20, 0x8b);
}
// Drop to CPL3 flat segments (CS 0x23, data 0x2b).
function user32(): void {
  setSegment(S.CS, 0x23, 0, 0xffffffff, AR_CODE32_3);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x2b, 0, 0xffffffff, AR_DATA32_3);
}
function idt32(vec: u32, off: u32, access: u32): void { w64(0x1000 + vec * 8, gate32(0x08, off, access)); }

// Real mode, CS=DS=SS=0, SP 0x9000, IVT at 0.
function real(): void {
  setup();
  setSegment(S.CS, 0, 0, 0xffff, 0x9b);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
}
// 64-bit mode, identity-mapped, CS 0x18, SS 0x10, IDT (16-byte gates) at 0x1000, TSS64 at 0x700.
function lm64(): void {
  setup();
  stdGdt();
  S.setGdtr(0x500, 0x7f);
  w64(0x1000 + 0x4000, 0); // (IDT area cleared by setup)
  w64(0x2000 + 0x6000, 0);
  w64(0x7000, 0x8003); w64(0x8000 + 0x1000, 0);
  // PML4 0x7000 -> PDPT 0x8000... keep page tables away from the IDT: 0x10000/0x11000/0x12000
  w64(0x10000, 0x11007); w64(0x11000, 0x12007); w64(0x12000, 0x87);   // user-accessible
  setCr(4, 0x20); setCr(3, 0x10000); setCr(0xc0000080, 0x500); setCr(0, 0x80000011);
  setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  S.setIdtr(0x1000, 0xfff);
  w64(0x548, 0);
  w64(0x540, desc(0x700, 0x67, 0x8b, 0));
  setSegment(S.TR, 0x40, 0x700, 0x67, 0x8b);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
}

describe("mode switch", () => {
  it("goes real -> protected -> long mode with LGDT, MOV CR, WRMSR EFER and far jumps", () => {
    setup();
    stdGdt();
    // 4-level identity map: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 (2 MiB page).
    w64(0x1000, 0x2003); w64(0x2000, 0x3003); w64(0x3000, 0x83);
    w32(0x640, 0x9000); w16(0x644, 0x10);   // m16:32 for LSS
    // 7c00: lgdt 0x600; mov %ebx,%cr0; ljmp $8,$0x7c20
    // 7c20: lss 0x640,%esp; mov %esi,%cr4; mov %edi,%cr3; wrmsr; mov %ebp,%cr0; ljmp $0x18,$0x7c50
    // 7c50: hlt
    poke(0x7c00, [0x0f, 0x01, 0x16, 0x00, 0x06, 0x0f, 0x22, 0xc3, 0xea, 0x20, 0x7c, 0x08, 0x00]);
    poke(0x7c20, [0x0f, 0xb2, 0x25, 0x40, 0x06, 0x00, 0x00, 0x0f, 0x22, 0xe6, 0x0f, 0x22, 0xdf, 0x0f, 0x30,
      0x0f, 0x22, 0xc5, 0xea, 0x50, 0x7c, 0x00, 0x00, 0x18, 0x00]);
    poke(0x7c50, [0xf4]);
    setSegment(S.CS, 0, 0, 0xffff, 0x9b);
    S.setRip(0x7c00);
    S.setReg64(S.RBX, 0x11);
    S.setReg64(S.RSI, 0x20);
    S.setReg64(S.RDI, 0x1000);
    S.setReg64(S.RCX, 0xc0000080); S.setReg64(S.RAX, 0x100); S.setReg64(S.RDX, 0);
    S.setReg64(S.RBP, 0x80000011);
    expect<u32>(run(100)).toBe(1, "stops at HLT");
    expect<u64>(S.rip).toBe(0x7c51);
    expect<bool>(S.code64).toBe(true);
    expect<u64>(getCr(0xc0000080)).toBe(0x500, "EFER = LME|LMA");
    expect<u32>(getSegSel(S.CS)).toBe(0x18);
    expect<u32>(getSegSel(S.SS)).toBe(0x10);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000);
    expect<u64>(S.gdtrBase).toBe(0x500);
    expect<u32>(S.gdtrLimit).toBe(0x37);
    expect<u8>(<u8>(r64(0x518) >> 40)).toBe(0x9b, "accessed bit set on the 64-bit code descriptor");
    expect<u64>(S.icount).toBe(10);
  });
});

describe("segment loads and far transfers", () => {
  it("far JMP to a data segment raises #GP(selector) with the faulting EIP", () => {
    pm32();
    idt32(13, 0x8000, 0x8e);
    poke(0x7c00, [0xea, 0x34, 0x12, 0x00, 0x00, 0x10, 0x00]);   // ljmp $0x10,$0x1234
    poke(0x8000, [0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000 - 16);
    expect<u32>(r32(0x9000 - 16)).toBe(0x10, "error code = selector");
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c00, "EIP of the faulting instruction");
    expect<u32>(r32(0x9000 - 8)).toBe(0x08);
    expect<u32>(r32(0x9000 - 4) & 0x10000).toBe(0x10000, "RF set in the pushed EFLAGS of a fault");
  });
  it("MOV DS with a not-present descriptor raises #NP(sel), MOV SS raises #SS(sel)", () => {
    pm32();
    idt32(11, 0x8000, 0x8e);
    idt32(12, 0x8010, 0x8e);
    poke(0x8000, [0xf4]); poke(0x8010, [0xf4]);
    w64(0x538, desc(0, 0xfffff, 0x13, 0xc));   // writable data, P=0
    S.setReg64(S.RAX, 0x38);
    poke(0x7c00, [0x8e, 0xd8]);   // mov %ax,%ds
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r32(0x9000 - 16)).toBe(0x38);
    expect<u32>(getSegSel(S.DS)).toBe(0x10, "DS unchanged");
    S.setReg64(S.RSP, 0x9000); S.setRip(0x7c00); S.setHalted(false);
    poke(0x7c00, [0x8e, 0xd0]);   // mov %ax,%ss
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8011);
    expect<u32>(r32(0x9000 - 16)).toBe(0x38);
  });
  it("MOV DS of a DPL0 segment at CPL3 is #GP(sel); a null selector loads an unusable DS", () => {
    pm32(); tss32();
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    user32();
    S.setReg64(S.RAX, 0x10);
    poke(0x7c00, [0x8e, 0xd8]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 24)).toBe(0x10);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c00);
    pm32();
    S.setReg64(S.RAX, 0);
    poke(0x7c00, [0x8e, 0xd8, 0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(getSegSel(S.DS)).toBe(0);
    expect<u32>(S.segAttr(S.DS) & S.AR_UNUSABLE).toBe(S.AR_UNUSABLE);
  });
  it("CALL through a 32-bit call gate to CPL0 switches stacks and copies parameters", () => {
    pm32(); tss32();
    // call gate at 0x558: DPL3, 2 parameters, target 0x08:0x8000
    w64(0x558, gate32(0x08, 0x8000, 0xec) | (<u64>2 << 32));
    poke(0x8000, [0xf4]);
    user32();
    w32(0x9000, 0x1111); w32(0x9004, 0x2222);
    poke(0x7c00, [0x9a, 0x00, 0x00, 0x00, 0x00, 0x5b, 0x00]);   // lcall $0x5b,$0
    expect<u32>(run(10)).toBe(1);
    expect<u32>(S.cpl).toBe(0);
    expect<u32>(getSegSel(S.SS)).toBe(0x10);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xa000 - 24);
    expect<u32>(r32(0xa000 - 24)).toBe(0x7c07, "return EIP");
    expect<u32>(r32(0xa000 - 20)).toBe(0x23, "return CS");
    expect<u32>(r32(0xa000 - 16)).toBe(0x1111);
    expect<u32>(r32(0xa000 - 12)).toBe(0x2222);
    expect<u32>(r32(0xa000 - 8)).toBe(0x9000, "caller ESP");
    expect<u32>(r32(0xa000 - 4)).toBe(0x2b, "caller SS");
  });
  it("far RET to an outer level reloads SS:ESP and nulls DS when it is more privileged", () => {
    pm32();
    // stack: EIP, CS=0x23, ESP=0x9500, SS=0x2b
    w32(0x8ff0, 0x7d00); w32(0x8ff4, 0x23); w32(0x8ff8, 0x9500); w32(0x8ffc, 0x2b);
    S.setReg64(S.RSP, 0x8ff0);
    poke(0x7c00, [0xcb]);   // lret
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7d00);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.SS)).toBe(0x2b);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9500);
    expect<u32>(getSegSel(S.DS)).toBe(0, "DPL0 data segment nulled on return to CPL3");
  });
});

describe("long-mode call gates", () => {
  it("CALL through a 64-bit call gate from CPL3 uses RSP0; LRETQ returns to CPL3", () => {
    lm64();
    w64(0x704, 0xa000);
    // 64-bit call gate at 0x558 (16 bytes): DPL3 -> 0x18:0x8000
    w64(0x558, gate32(0x18, 0x8000, 0xec)); w64(0x560, 0);
    w32(0x900, 0); w16(0x904, 0x5b);     // m16:32 far pointer (offset ignored for gates)
    poke(0x7c00, [0xff, 0x1c, 0x25, 0x00, 0x09, 0x00, 0x00]);   // lcall *0x900
    poke(0x8000, [0x48, 0xcb]);                                 // lretq
    setSegment(S.CS, 0x33, 0, 0xffffffff, AR_CODE64_3);
    setSegment(S.SS, 0x2b, 0, 0xffffffff, AR_DATA32_3);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x8000);
    expect<u32>(S.cpl).toBe(0);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xa000 - 32);
    expect<u64>(r64(0xa000 - 32)).toBe(0x7c07);
    expect<u64>(r64(0xa000 - 24)).toBe(0x33);
    expect<u64>(r64(0xa000 - 16)).toBe(0x9000);
    expect<u64>(r64(0xa000 - 8)).toBe(0x2b);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7c07);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.SS)).toBe(0x2b);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000);
  });
});

describe("interrupts", () => {
  it("INT/IRET in real mode use the IVT", () => {
    real();
    w16(0x21 * 4, 0x8000); w16(0x21 * 4 + 2, 0);
    poke(0x8000, [0xe6, 0xe0, 0xcf]);      // out %al,$0xe0; iret
    poke(0x7c00, [0xcd, 0x21, 0xf4]);      // int $0x21; hlt
    S.setReg64(S.RAX, 0x42);
    setRflags(0x202);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c03);
    expect<u32>(portIn(0xe0, 1)).toBe(0x42, "the handler ran");
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000);
    expect<u64>(getRflags() & 0x200).toBe(0x200, "IF restored by IRET");
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c02, "pushed IP");
  });
  it("INT/IRET in protected mode through an interrupt gate", () => {
    pm32();
    idt32(0x21, 0x8000, 0x8e);
    poke(0x8000, [0xe6, 0xe0, 0xcf]);
    poke(0x7c00, [0xcd, 0x21, 0xf4]);
    S.setReg64(S.RAX, 0x43);
    setRflags(0x202);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c03);
    expect<u32>(portIn(0xe0, 1)).toBe(0x43);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000);
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c02);
    expect<u32>(r32(0x9000 - 4)).toBe(0x202);
  });
  it("INT from CPL3 through a DPL3 gate switches to the TSS ring-0 stack; IRET returns to CPL3", () => {
    pm32(); tss32();
    idt32(0x80, 0x8000, 0xee);
    idt32(0x81, 0x8010, 0xee);
    poke(0x8000, [0xcf]);                  // iret
    poke(0x8010, [0xf4]);                  // hlt
    poke(0x7c00, [0xcd, 0x80, 0xcd, 0x81]);
    user32();
    expect<u32>(run(10)).toBe(1);
    expect<u32>(S.cpl).toBe(0);
    expect<u32>(getSegSel(S.SS)).toBe(0x10);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xa000 - 20);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c04, "EIP after the second INT");
    expect<u32>(r32(0xa000 - 16)).toBe(0x23);
    expect<u32>(r32(0xa000 - 8)).toBe(0x9000, "user ESP");
    expect<u32>(r32(0xa000 - 4)).toBe(0x2b, "user SS");
  });
  it("INT n through a DPL0 gate from CPL3 is #GP(vector*8+2)", () => {
    pm32(); tss32();
    idt32(0x80, 0x8000, 0x8e);
    idt32(13, 0x8010, 0x8e);
    poke(0x8010, [0xf4]);
    poke(0x7c00, [0xcd, 0x80]);
    user32();
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 24)).toBe(0x80 * 8 + 2);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c00);
  });
  it("a bad SS0 in the TSS raises #TS(SS0 selector)", () => {
    pm32(); tss32();
    w16(0x708, 0x28);   // DPL3 data segment: invalid as a ring-0 stack
    idt32(0x80, 0x8000, 0xee);
    // #TS handler in a conforming DPL0 code segment (0x60): runs at CPL3, no stack switch.
    w64(0x560, desc(0, 0xfffff, 0x9f, 0xc));
    w64(0x1000 + 10 * 8, gate32(0x60, 0x8020, 0x8e));
    poke(0x7c00, [0xcd, 0x80]);
    user32();
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x8020);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.CS)).toBe(0x63);
    expect<u32>(r32(0x9000 - 16)).toBe(0x28, "error code = SS0 selector");
  });
  it("long mode: INT from CPL3 through a DPL3 gate with IST1 uses the aligned IST stack", () => {
    lm64();
    w64(0x704, 0xa000);          // RSP0
    w64(0x724, 0xc008);          // IST1 (aligned down to 0xc000)
    gate64(0x1000 + 0x80 * 16, 0x18, 0x8000, 0xee, 1);
    poke(0x8000, [0xf4]);
    poke(0x7c00, [0xcd, 0x80]);
    setSegment(S.CS, 0x33, 0, 0xffffffff, AR_CODE64_3);
    setSegment(S.SS, 0x2b, 0, 0xffffffff, AR_DATA32_3);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(S.cpl).toBe(0);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xc000 - 40);
    expect<u64>(r64(0xc000 - 40)).toBe(0x7c02);
    expect<u64>(r64(0xc000 - 32)).toBe(0x33);
    expect<u64>(r64(0xc000 - 16)).toBe(0x9000);
    expect<u64>(r64(0xc000 - 8)).toBe(0x2b);
    expect<u32>(getSegSel(S.SS)).toBe(0, "SS := null selector with RPL = new CPL");
  });
  it("long mode: IRETQ returns to CPL3 64-bit code", () => {
    lm64();
    w64(0xa000 - 40, 0x7d00); w64(0xa000 - 32, 0x33); w64(0xa000 - 24, 0x202);
    w64(0xa000 - 16, 0x9500); w64(0xa000 - 8, 0x2b);
    S.setReg64(S.RSP, 0xa000 - 40);
    poke(0x7c00, [0x48, 0xcf]);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7d00);
    expect<u32>(S.cpl).toBe(3);
    expect<bool>(S.code64).toBe(true);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9500);
    expect<u64>(getRflags()).toBe(0x202);
  });
  it("a #GP whose gate is not present escalates to #DF (error code 0)", () => {
    pm32();
    idt32(8, 0x8000, 0x8e);
    w64(0x1000 + 13 * 8, gate32(0x08, 0x8010, 0x0e));   // P=0
    poke(0x8000, [0xf4]);
    poke(0x7c00, [0xea, 0x34, 0x12, 0x00, 0x00, 0x10, 0x00]);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r32(0x9000 - 16)).toBe(0, "#DF error code");
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c00);
  });
  it("a #PF whose handler faults (gate not present) escalates to #DF and sets CR2", () => {
    pm32();
    idt32(8, 0x8000, 0x8e);
    raisePF(0xdead000, 2);
    deliverFault();
    expect<u64>(S.rip).toBe(0x8000);
    expect<u64>(S.cr2).toBe(0xdead000);
    expect<u32>(r32(0x9000 - 16)).toBe(0);
  });
  it("triple fault (no IDT) stops run() with 2", () => {
    pm32();
    S.setIdtr(0, 0);
    poke(0x7c00, [0xcc]);
    expect<u32>(run(10)).toBe(2);
  });
  it("STI shadow: the interrupt is taken after the instruction following STI; it wakes HLT", () => {
    real();
    w16(0x30 * 4, 0x8000);
    poke(0x8000, [0xf4]);
    poke(0x7c00, [0xfb, 0xf4, 0xf4]);    // sti; hlt; hlt
    portOut(0xe1, 1, 0x30);              // fake PIC: vector 0x30
    setIntrLine(true);
    const ic0 = S.icount;
    expect<u32>(run(20)).toBe(1);
    setIntrLine(false);
    portOut(0xe1, 1, 0xff);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c02, "return IP is after the first HLT");
    expect<u64>(S.icount - ic0).toBe(3, "sti, hlt, handler hlt");
  });
  it("NMI is delivered with IF=0, then blocked until IRET", () => {
    real();
    w16(2 * 4, 0x8000);
    poke(0x8000, [0xf4, 0xcf]);      // hlt; iret
    poke(0x7c00, [0xf4]);
    raiseNmi();
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c00);
    raiseNmi();
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001, "second NMI blocked: the handler stays halted");
    S.setHalted(false);
    const ic0 = S.icount;
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.icount - ic0).toBe(2, "iret, then the pending NMI re-enters the handler's hlt");
    expect<u64>(S.rip).toBe(0x8001);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000 - 6);
  });
  it("MOV SS shadow: an interrupt (and a TF trap) waits for the instruction after MOV SS", () => {
    real();
    w16(0x30 * 4, 0x8000);
    poke(0x8000, [0xf4]);
    S.setReg64(S.RAX, 0);
    poke(0x7c00, [0xfb, 0x8e, 0xd0, 0x0f, 0xa2, 0xf4]);   // sti; mov %ax,%ss; cpuid; hlt
    portOut(0xe1, 1, 0x30);
    setIntrLine(true);
    expect<u32>(run(20)).toBe(1);
    setIntrLine(false);
    portOut(0xe1, 1, 0xff);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c05, "taken after CPUID, not between MOV SS and CPUID");
    real();
    w16(4, 0x8000);
    poke(0x8000, [0xf4]);
    S.setReg64(S.RAX, 0);
    poke(0x7c00, [0x8e, 0xd0, 0x0f, 0xa2, 0x0f, 0xa2]);   // mov %ax,%ss; cpuid; cpuid
    setRflags(0x102);
    expect<u32>(run(20)).toBe(1);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c04, "#DB after the instruction following MOV SS");
  });
  it("TF single-step raises #DB after one instruction with DR6.BS", () => {
    real();
    w16(4, 0x8000);
    poke(0x8000, [0xf4]);
    poke(0x7c00, [0x0f, 0xa2, 0x0f, 0xa2]);   // cpuid; cpuid
    setRflags(0x102);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c02);
    expect<u64>(S.getDr(6) & 0x4000).toBe(0x4000);
    expect<u64>(getRflags() & 0x100).toBe(0, "TF cleared in the handler");
  });
});

describe("virtual-8086 mode", () => {
  it("IRET enters VM86; INT n (IOPL 3) leaves it through a ring-0 gate pushing the data segments", () => {
    pm32(); tss32();
    idt32(0x21, 0x8000, 0xee);
    poke(0x8000, [0xf4]);
    const f: u32 = 0x9000 - 36;
    w32(f, 0x100); w32(f + 4, 0x700); w32(f + 8, 0x23202); w32(f + 12, 0xff0); w32(f + 16, 0x800);
    w32(f + 20, 0x1000); w32(f + 24, 0x1100); w32(f + 28, 0x1200); w32(f + 32, 0x1300);
    S.setReg64(S.RSP, f);
    poke(0x7c00, [0xcf]);               // iret
    poke(0x7100, [0xcd, 0x21]);         // (VM86 at 0700:0100) int $0x21
    expect<u32>(run(1)).toBe(0);
    expect<bool>(S.vm86).toBe(true);
    expect<u32>(S.cpl).toBe(3);
    expect<u64>(S.segBase(S.DS)).toBe(0x11000);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xff0);
    expect<u32>(run(10)).toBe(1);
    expect<bool>(S.vm86).toBe(false);
    expect<u32>(S.cpl).toBe(0);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xa000 - 36);
    expect<u32>(r32(0xa000 - 36)).toBe(0x102, "EIP");
    expect<u32>(r32(0xa000 - 32)).toBe(0x700, "CS");
    expect<u32>(r32(0xa000 - 28) & 0x20000).toBe(0x20000, "EFLAGS.VM");
    expect<u32>(r32(0xa000 - 24)).toBe(0xff0, "ESP");
    expect<u32>(r32(0xa000 - 20)).toBe(0x800, "SS");
    expect<u32>(r32(0xa000 - 16)).toBe(0x1000, "ES");
    expect<u32>(r32(0xa000 - 4)).toBe(0x1300, "GS");
    expect<u32>(getSegSel(S.DS)).toBe(0, "data segments nulled");
  });
  it("INT n in VM86 with IOPL < 3 is #GP(0)", () => {
    pm32(); tss32();
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    const f: u32 = 0x9000 - 36;
    w32(f, 0x100); w32(f + 4, 0x700); w32(f + 8, 0x20202); w32(f + 12, 0xff0); w32(f + 16, 0x800);
    S.setReg64(S.RSP, f);
    poke(0x7c00, [0xcf]);
    poke(0x7100, [0xcd, 0x21]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 40)).toBe(0, "error code");
    expect<u32>(r32(0xa000 - 36)).toBe(0x100, "faulting IP");
  });
});

describe("VME", () => {
  it("CLI/STI/PUSHF use VIF, INT n is redirected through the IVT by the TSS bitmap, IRET restores VIF", () => {
    pm32(); tss32();
    w16(0x766, 0x88);                       // I/O bitmap at +0x88, redirection bitmap at +0x68
    for (let i: u32 = 0; i < 32; i++) w8(0x768 + i, i == 4 ? 0xfd : 0xff);   // vector 0x21 redirected
    w64(0x540, desc(0x700, 0x88 + 0x20, 0x8b, 0));
    setSegment(S.TR, 0x40, 0x700, 0x88 + 0x20, 0x8b);
    setCr(4, 1);                            // CR4.VME
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    w16(0x21 * 4, 0x7200); w16(0x21 * 4 + 2, 0);
    poke(0x7200, [0xcf]);                   // VM86 handler: iret
    const f: u32 = 0x9000 - 36;
    w32(f, 0x100); w32(f + 4, 0x700); w32(f + 8, 0x20202); w32(f + 12, 0xff0); w32(f + 16, 0x800);
    S.setReg64(S.RSP, f);
    poke(0x7c00, [0xcf]);                                    // iret into VM86, IOPL 0
    poke(0x7100, [0xfa, 0xfb, 0x9c, 0xcd, 0x21, 0xcd, 0x22]); // cli; sti; pushf; int $0x21; int $0x22
    expect<u32>(run(20)).toBe(1);
    expect<u32>(r16(0x8000 + 0xfee) & 0x3200).toBe(0x3200, "PUSHF image: IOPL 3, IF = VIF");
    expect<u32>(r16(0x8000 + 0xfec) & 0x3200).toBe(0x3200, "redirected INT pushed IF = VIF");
    expect<u32>(r16(0x8000 + 0xfe8)).toBe(0x105, "return IP of the redirected INT");
    expect<u32>(r32(0xa000 - 40)).toBe(0, "#GP(0) for INT 0x22 (bit set, IOPL 0)");
    expect<u32>(r32(0xa000 - 36)).toBe(0x105);
    expect<u32>(r32(0xa000 - 28) & 0x80000).toBe(0x80000, "VIF restored by the VME IRET");
  });
});

describe("debug registers", () => {
  it("an instruction breakpoint in DR0 raises a #DB fault before the instruction", () => {
    real();
    w16(4, 0x8000);
    poke(0x8000, [0xf4]);
    S.setReg64(S.RAX, 0x7c08); S.setReg64(S.RBX, 0x401);
    // mov %eax,%dr0; mov %ebx,%dr7; cpuid; cpuid; hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x0f, 0xa2, 0x0f, 0xa2, 0xf4]);
    S.setReg64(S.RAX, 0x7c08);
    const ic0 = S.icount;
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c08, "faulting IP");
    expect<u64>(S.getDr(6) & 0xf).toBe(1, "DR6.B0");
    expect<u64>(S.icount - ic0).toBe(4, "the #DB retires nothing");
  });
});

describe("I/O breakpoints", () => {
  it("with CR4.DE an I/O breakpoint on port 0xE0 is a #DB trap after the OUT", () => {
    pm32();
    idt32(1, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    setCr(4, 8);
    S.setReg64(S.RAX, 0xe0); S.setReg64(S.RBX, 0x20401);
    // mov %eax,%dr0; mov %ebx,%dr7; out %al,$0xe1; out %al,$0xe0; hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0xe6, 0xe1, 0xe6, 0xe0, 0xf4]);
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c0a, "trap: EIP after the OUT to 0xE0");
    expect<u64>(S.getDr(6) & 0x400f).toBe(1, "DR6.B0, not BS");
  });
});

describe("task switch", () => {
  it("CALL through a task gate switches tasks; IRET with NT returns", () => {
    pm32(); tss32();
    // Task B: TSS at 0x800 (selector 0x48), EIP 0x8000, flat segments, own stack.
    w64(0x548, desc(0x800, 0x67, 0x89, 0));
    w32(0x820, 0x8000); w32(0x824, 0x2); w32(0x838, 0xb000);
    w16(0x848, 0x10); w16(0x84c, 0x08); w16(0x850, 0x10); w16(0x854, 0x10); w16(0x858, 0x10); w16(0x85c, 0x10);
    w64(0x550, <u64>0x48 << 16 | (<u64>0x85 << 40));   // task gate -> 0x48
    poke(0x8000, [0xcf]);                                // task B: iret (NT=1)
    poke(0x7c00, [0x9a, 0x00, 0x00, 0x00, 0x00, 0x50, 0x00, 0xf4]);   // lcall $0x50,$0; hlt
    S.setReg64(S.RBX, 0x1234);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x8000);
    expect<u32>(getSegSel(S.TR)).toBe(0x48);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xb000);
    expect<u64>(getRflags() & 0x4000).toBe(0x4000, "NT set");
    expect<u32>(r16(0x800)).toBe(0x40, "back link");
    expect<u32>(r32(0x720)).toBe(0x7c07, "old task EIP saved");
    expect<u32>(r32(0x734)).toBe(0x1234, "old task EBX saved");
    expect<u64>(S.cr0 & 8).toBe(8, "CR0.TS");
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c08);
    expect<u32>(getSegSel(S.TR)).toBe(0x40);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9000);
    expect<u32>((r32(0x54c) >> 8) & 0xf).toBe(9, "task B no longer busy");
    expect<u32>((r32(0x544) >> 8) & 0xf).toBe(0xb, "task A busy");
  });
});

describe("16-bit TSS", () => {
  it("LJMP to a 16-bit TSS loads IP/FLAGS/registers/ES CS SS DS and nulls FS/GS", () => {
    pm32(); tss32();
    w64(0x548, desc(0x900, 0x2b, 0x81, 0));
    w16(0x90e, 0x8000); w16(0x910, 0x0002); w16(0x912 + 4 * 2, 0xb000); w16(0x912 + 3 * 2, 0x1234);
    w16(0x922, 0x10); w16(0x924, 0x08); w16(0x926, 0x10); w16(0x928, 0x10);
    poke(0x8000, [0xf4]);
    poke(0x7c00, [0xea, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00]);   // ljmp $0x48,$0
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(getSegSel(S.TR)).toBe(0x48);
    expect<u64>(S.getReg64(S.RSP) & 0xffff).toBe(0xb000);
    expect<u64>(S.getReg64(S.RBX) & 0xffff).toBe(0x1234);
    expect<u32>(getSegSel(S.FS)).toBe(0);
    expect<u32>(r32(0x720)).toBe(0x7c07, "old 32-bit TSS: EIP");
    expect<u32>((r32(0x544) >> 8) & 0xf).toBe(9, "old TSS not busy after JMP");
    expect<u32>((r32(0x54c) >> 8) & 0xf).toBe(3, "16-bit TSS busy");
  });
});

describe("task switch to conforming code", () => {
  it("LCALL to a TSS whose CS is conforming DPL0 with RPL3 runs the task at CPL3 (SS.DPL)", () => {
    pm32(); tss32();
    w64(0x548, desc(0x800, 0x67, 0x89, 0));
    w64(0x560, desc(0, 0xfffff, 0x9f, 0xc));   // conforming code, DPL0
    w32(0x820, 0x8000); w32(0x824, 0x3002); w32(0x838, 0xb000);
    w16(0x848, 0x2b); w16(0x84c, 0x63); w16(0x850, 0x2b); w16(0x854, 0x2b); w16(0x858, 0x2b); w16(0x85c, 0x2b);
    poke(0x8000, [0xcf]);                                              // iret (NT)
    poke(0x7c00, [0x9a, 0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0xf4]);    // lcall $0x48,$0; hlt
    expect<u32>(run(1)).toBe(0);
    expect<u32>(getSegSel(S.CS)).toBe(0x63);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>((r32(0x54c) >> 8) & 0xf).toBe(0xb, "new TSS busy");
    expect<u32>(run(10)).toBe(1);
    expect<u32>(S.cpl).toBe(0);
    expect<u64>(S.rip).toBe(0x7c08);
    expect<u64>(getRflags() & 0x4000).toBe(0, "NT of the returning task clear");
  });
});

describe("fast system calls", () => {
  it("SYSCALL / SYSRET (64-bit)", () => {
    lm64();
    setMsr(0xc0000081, (<u64>0x20 << 48) | (<u64>0x18 << 32));   // STAR
    setMsr(0xc0000082, 0x8000);                                   // LSTAR
    setMsr(0xc0000084, 0x200);                                    // FMASK: IF
    setMsr(0xc0000080, 0x501);                                    // EFER.SCE
    setSegment(S.CS, 0x33, 0, 0xffffffff, AR_CODE64_3);
    setSegment(S.SS, 0x2b, 0, 0xffffffff, AR_DATA32_3);
    setRflags(0x202);
    poke(0x7c00, [0x0f, 0x05]);
    poke(0x8000, [0x48, 0x0f, 0x07]);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x8000);
    expect<u32>(S.cpl).toBe(0);
    expect<u32>(getSegSel(S.CS)).toBe(0x18);
    expect<u32>(getSegSel(S.SS)).toBe(0x20);
    expect<u64>(S.getReg64(S.RCX)).toBe(0x7c02);
    expect<u64>(S.getReg64(11)).toBe(0x202);
    expect<u64>(getRflags()).toBe(0x2);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7c02);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.CS)).toBe(0x33);
    expect<u32>(getSegSel(S.SS)).toBe(0x2b);
    expect<u64>(getRflags()).toBe(0x202);
  });
  it("SYSRET to a non-canonical RCX is #GP(0) at CPL0; SYSCALL without EFER.SCE is #UD", () => {
    lm64();
    gate64(0x1000 + 13 * 16, 0x18, 0x8100, 0x8e, 0);
    gate64(0x1000 + 6 * 16, 0x18, 0x8200, 0x8e, 0);
    poke(0x8100, [0xf4]); poke(0x8200, [0xf4]);
    setMsr(0xc0000080, 0x501);
    S.setReg64(S.RCX, 0x0000800000000000);
    poke(0x7c00, [0x48, 0x0f, 0x07]);
    expect<u32>(run(5)).toBe(1);
    expect<u64>(S.rip).toBe(0x8101);
    expect<u64>(r64(0x9000 - 40)).toBe(0x7c00);
    setMsr(0xc0000080, 0x500);
    S.setReg64(S.RSP, 0x9000); S.setRip(0x7c10); S.setHalted(false);
    poke(0x7c10, [0x0f, 0x05]);
    expect<u32>(run(5)).toBe(1);
    expect<u64>(S.rip).toBe(0x8201);
  });
  it("SYSENTER / SYSEXIT (32-bit)", () => {
    pm32();
    setMsr(0x174, 0x08); setMsr(0x175, 0xa000); setMsr(0x176, 0x8000);
    user32();
    setRflags(0x202);
    poke(0x7c00, [0x0f, 0x34]);
    poke(0x8000, [0x0f, 0x35]);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x8000);
    expect<u32>(S.cpl).toBe(0);
    expect<u32>(getSegSel(S.CS)).toBe(0x08);
    expect<u32>(getSegSel(S.SS)).toBe(0x10);
    expect<u64>(S.getReg64(S.RSP)).toBe(0xa000);
    expect<u64>(getRflags() & 0x200).toBe(0, "IF cleared");
    S.setReg64(S.RDX, 0x7c10); S.setReg64(S.RCX, 0x9500);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7c10);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.CS)).toBe(0x1b);
    expect<u32>(getSegSel(S.SS)).toBe(0x23);
    expect<u64>(S.getReg64(S.RSP)).toBe(0x9500);
  });
});

describe("CPUID, MSRs, TSC", () => {
  it("CPUID reports GenuineIntel and the implemented features", () => {
    real();
    poke(0x7c00, [0x0f, 0xa2, 0xf4]);
    S.setReg64(S.RAX, 0);
    run(10);
    expect<u64>(S.getReg64(S.RBX)).toBe(0x756e6547);
    expect<u64>(S.getReg64(S.RDX)).toBe(0x49656e69);
    expect<u64>(S.getReg64(S.RCX)).toBe(0x6c65746e);
    expect<u64>(S.getReg64(S.RAX)).toBe(0xd);
    S.setRip(0x7c00); S.setHalted(false); S.setReg64(S.RAX, 1);
    run(10);
    expect<u64>(S.getReg64(S.RAX)).toBe(0x306a9);
    expect<u64>(S.getReg64(S.RDX)).toBe(0x078bbb7f, "FPU VME DE PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT PSE36 CLFSH MMX FXSR SSE SSE2");
    expect<u64>(S.getReg64(S.RCX)).toBe(0x45e2a229, "SSE3 MONITOR VMX SSSE3 CX16 PDCM PCID x2APIC MOVBE POPCNT TSC-deadline XSAVE RDRAND");
    expect<u64>(S.getReg64(S.RBX)).toBe(0x00010800, "APIC ID 0, 1 logical processor, CLFLUSH 64 bytes");
    expect<u64>(S.getReg64(S.RCX) & (1 << 13)).toBe(1 << 13, "CX16");
    expect<u64>(S.getReg64(S.RCX) & (1 << 5)).toBe(1 << 5, "VMX (--nested on is the default)");
    S.setRip(0x7c00); S.setHalted(false); S.setReg64(S.RAX, 0x80000001);
    run(10);
    expect<u64>(S.getReg64(S.RDX)).toBe(0x2c100800, "SYSCALL NX 1GB RDTSCP LM");
    S.setRip(0x7c00); S.setHalted(false); S.setReg64(S.RAX, 7); S.setReg64(S.RCX, 0);
    run(10);
    expect<u64>(S.getReg64(S.RBX)).toBe(0x00940482, "TSC_ADJUST SMEP INVPCID RDSEED SMAP CLFLUSHOPT");
  });
  it("CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN; APIC MSRs go to the host", () => {
    real();
    poke(0x7c00, [0x0f, 0xa2, 0xf4]);
    expect<bool>(setMsr(0x1b, 0xfee00100)).toBe(true, "global disable (host register)");
    expect<u64>(getMsr(0x1b)).toBe(0xfee00100);
    S.setReg64(S.RAX, 1);
    run(10);
    expect<u64>(S.getReg64(S.RDX) & 0x200).toBe(0, "APIC disabled: EDX[9] clear (SDM 11.4.3)");
    expect<bool>(setMsr(0x1b, 0xfee00a00)).toBe(false, "bit 9 reserved: #GP before the host sees it");
    expect<bool>(setMsr(0x1b, 0x10000000900)).toBe(false, "base above MAXPHYADDR: #GP");
    expect<u64>(getMsr(0x1b)).toBe(0xfee00100);
    expect<bool>(setMsr(0x1b, 0xfee00900)).toBe(true);
    S.setRip(0x7c00); S.setHalted(false); S.setReg64(S.RAX, 1);
    run(10);
    expect<u64>(S.getReg64(S.RDX) & 0x200).toBe(0x200, "APIC enabled again");
    // The host's #GP answer (the fake has no x2APIC registers) is the guest's #GP(0).
    expect<bool>(setMsr(0x808, 0)).toBe(false);
    expect<bool>(setMsr(0x6e0, 0)).toBe(false);
  });
  it("MOV to CR8 tells the host's APIC (tprWrite); MOV from CR8 reads the core copy", () => {
    lm64();
    // mov $0x9,%eax; mov %rax,%cr8; mov %cr8,%rbx; in $0xe3,%eax; hlt
    poke(0x7c00, [0xb8, 0x09, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3, 0xe5, 0xe3, 0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.getReg64(S.RBX)).toBe(9);
    expect<u64>(S.getReg64(S.RAX)).toBe(9, "the host saw CR8 = 9");
  });
  it("RDMSR/WRMSR round trips and #GP(0) on unknown MSRs and reserved bits", () => {
    pm32();
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    expect<bool>(setMsr(0xc0000082, 0xffff800012345678)).toBe(true);
    expect<u64>(getMsr(0xc0000082)).toBe(0xffff800012345678);
    expect<bool>(setMsr(0xc0000082, 0x0100000000000000)).toBe(false, "LSTAR must be canonical (57 bits: the CPU has LA57)");
    expect<u64>(getMsr(0x1b)).toBe(0xfee00900);
    // wrmsr STAR then rdmsr it back in the guest
    S.setReg64(S.RCX, 0xc0000081); S.setReg64(S.RDX, 0x00230010); S.setReg64(S.RAX, 0x12345678);
    poke(0x7c00, [0x0f, 0x30, 0x0f, 0x32, 0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(getMsr(0xc0000081)).toBe(0x0023001012345678);
    // unknown MSR
    S.setRip(0x7c00); S.setHalted(false);
    S.setReg64(S.RCX, 0x12345);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r32(0x9000 - 16)).toBe(0);
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c00);
    // EFER reserved bit
    pm32(); idt32(13, 0x8000, 0x8e); poke(0x8000, [0xf4]);
    S.setReg64(S.RCX, 0xc0000080); S.setReg64(S.RDX, 0); S.setReg64(S.RAX, 4);
    poke(0x7c00, [0x0f, 0x30, 0xf4]);
    run(10);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u64>(S.efer).toBe(0);
  });
  it("RDTSC in icount mode counts retired instructions; CR4.TSD makes it #GP at CPL3", () => {
    real();
    setTscMode(1);
    setMsr(0x10, 1000);
    poke(0x7c00, [0x0f, 0xa2, 0x0f, 0xa2, 0x0f, 0x31, 0xf4]);
    S.setReg64(S.RAX, 0);
    run(10);
    expect<u64>(S.getReg64(S.RAX)).toBe(1002, "TSC was 1000, two instructions retired");
    const t0 = getMsr(0x10), a0 = getMsr(0x3b);
    setMsr(0x10, t0 + 300);
    expect<u64>(getMsr(0x3b)).toBe(a0 + 300, "TSC_ADJUST follows a TSC write");
    setMsr(0x3b, a0 + 800);
    expect<u64>(getMsr(0x10)).toBe(t0 + 800, "a TSC_ADJUST write moves the TSC");
    // CR4.TSD: RDTSC at CPL3 => #GP(0)
    pm32(); tss32();
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    setCr(4, 4);
    user32();
    poke(0x7c00, [0x0f, 0x31]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c00);
    setTscMode(0);
  });
});

describe("control registers", () => {
  it("MOV CR4 enables OSXSAVE; XSETBV checks XCR0; XGETBV reads it back", () => {
    real();
    w16(13 * 4, 0x8000);
    poke(0x8000, [0xf4]);
    S.setReg64(S.RBX, 0x40200);
    S.setReg64(S.RCX, 0); S.setReg64(S.RDX, 0); S.setReg64(S.RAX, 3);
    // mov %ebx,%cr4; xsetbv; xgetbv; hlt
    poke(0x7c00, [0x0f, 0x22, 0xe3, 0x0f, 0x01, 0xd1, 0x0f, 0x01, 0xd0, 0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c0a);
    expect<u64>(S.cr4).toBe(0x40200);
    expect<u64>(S.xcr0).toBe(3);
    expect<u64>(S.getReg64(S.RAX)).toBe(3);
    // XCR0 = 7 (AVX) is not supported: #GP(0)
    S.setRip(0x7c03); S.setHalted(false); S.setReg64(S.RAX, 7);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c03);
  });
  it("MOV CR4 with a reserved bit and MOV CR0 clearing PG in 64-bit mode are #GP(0)", () => {
    lm64();
    gate64(0x1000 + 13 * 16, 0x18, 0x8100, 0x8e, 0);
    poke(0x8100, [0xf4]);
    S.setReg64(S.RBX, 0x20 | (1 << 15));   // bit 15 is reserved
    poke(0x7c00, [0x0f, 0x22, 0xe3]);
    expect<u32>(run(5)).toBe(1);
    expect<u64>(r64(0x9000 - 40)).toBe(0x7c00);
    expect<u64>(S.cr4).toBe(0x20);
    S.setReg64(S.RSP, 0x9000); S.setRip(0x7c10); S.setHalted(false);
    S.setReg64(S.RBX, 0x11);
    poke(0x7c10, [0x0f, 0x22, 0xc3]);       // mov %rbx,%cr0
    expect<u32>(run(5)).toBe(1);
    expect<u64>(r64(0x9000 - 40)).toBe(0x7c10);
    expect<u64>(S.cr0 & 0x80000000).toBe(0x80000000);
  });
  it("UMIP makes SGDT at CPL3 #GP(0); DR7.GD makes MOV DR a #DB", () => {
    pm32(); tss32();
    idt32(13, 0x8000, 0x8e);
    idt32(1, 0x8010, 0x8e);
    poke(0x8000, [0xf4]); poke(0x8010, [0xf4]);
    setCr(4, 0x800);
    user32();
    poke(0x7c00, [0x0f, 0x01, 0x05, 0x00, 0x09, 0x00, 0x00]);   // sgdt 0x900
    expect<u32>(run(5)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c00);
    pm32();
    idt32(1, 0x8010, 0x8e);
    poke(0x8010, [0xf4]);
    S.setDr(7, 0x2400);
    poke(0x7c00, [0x0f, 0x21, 0xf8]);   // mov %dr7,%eax
    expect<u32>(run(5)).toBe(1);
    expect<u64>(S.rip).toBe(0x8011);
    expect<u64>(S.getDr(6) & 0x2000).toBe(0x2000, "DR6.BD");
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c00, "#DB for GD is a fault");
  });
});

describe("SWAPGS", () => {
  it("exchanges GS.base with IA32_KERNEL_GS_BASE at CPL0 in 64-bit mode", () => {
    lm64();
    setMsr(0xc0000101, 0x5678);
    setMsr(0xc0000102, 0xffff800000001234);
    poke(0x7c00, [0x0f, 0x01, 0xf8, 0xf4]);
    expect<u32>(run(5)).toBe(1);
    expect<u64>(S.segBase(S.GS)).toBe(0xffff800000001234);
    expect<u64>(getMsr(0xc0000102)).toBe(0x5678);
  });
});

describe("port I/O and privileged instructions", () => {
  it("IN/OUT reach the host ports", () => {
    real();
    portOut(0xe0, 4, 0xcafe1234);
    S.setReg64(S.RBX, 0x55);
    poke(0x7c00, [0x66, 0xe5, 0xe0, 0xe6, 0xe0, 0xf4]);   // in $0xe0,%eax; out %al,$0xe0
    run(10);
    expect<u64>(S.getReg64(S.RAX)).toBe(0xcafe1234);
    expect<u32>(portIn(0xe0, 4)).toBe(0x34, "OUT wrote AL");
  });
  it("at CPL3 the TSS I/O bitmap allows port 0xE0 and denies 0xE1 with #GP(0)", () => {
    pm32(); tss32();
    w8(0x700 + 0x68 + (0xe0 >> 3), 0xfe);
    for (let i: u32 = 0; i < 0x20; i++) if (i != (0xe0 >> 3)) w8(0x700 + 0x68 + i, 0xff);
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    user32();
    poke(0x7c00, [0xe4, 0xe0, 0xe4, 0xe1]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 24)).toBe(0);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c02, "second IN faulted");
  });
  it("HLT, MOV CR and LGDT at CPL3 are #GP(0); MOV CR0 rejects PG without PE", () => {
    pm32(); tss32();
    idt32(13, 0x8000, 0x8e);
    poke(0x8000, [0xf4]);
    user32();
    poke(0x7c00, [0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r32(0xa000 - 20)).toBe(0x7c00);
    real();
    w16(13 * 4, 0x8000);
    poke(0x8000, [0xf4]);
    S.setReg64(S.RAX, 0x80000000);
    poke(0x7c00, [0x0f, 0x22, 0xc0]);   // mov %eax,%cr0
    expect<u32>(run(10)).toBe(1);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c00);
    expect<u64>(S.cr0 & 0x80000000).toBe(0);
  });
  it("LTR marks the TSS busy; STR/SGDT/LAR/LSL/VERW read descriptors", () => {
    pm32();
    w64(0x540, desc(0x700, 0x67, 0x89, 0));
    S.setReg64(S.RAX, 0x40);
    // ltr %ax; str %ecx; sgdt 0x900; lar %eax,%ebx; lsl %eax,%edx; hlt
    poke(0x7c00, [0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xc9, 0x0f, 0x01, 0x05, 0x00, 0x09, 0x00, 0x00,
      0x0f, 0x02, 0xd8, 0x0f, 0x03, 0xd0, 0xf4]);
    expect<u32>(run(10)).toBe(1);
    expect<u32>(getSegSel(S.TR)).toBe(0x40);
    expect<u32>((r32(0x544) >> 8) & 0xf).toBe(0xb);
    expect<u64>(S.getReg64(S.RCX)).toBe(0x40);
    expect<u32>(r16(0x900)).toBe(0x7f);
    expect<u32>(r32(0x902)).toBe(0x500);
    expect<u64>(S.getReg64(S.RBX)).toBe(0x008b00);
    expect<u64>(S.getReg64(S.RDX)).toBe(0x67);
  });
});

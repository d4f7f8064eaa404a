// Specs for core fixes found with kvm-unit-tests (emulator, debug, i386 smap): hand-assembled
// code in guest RAM, concrete assertions. See docs/conformance.md.
import * as S from "../../assembly/cpu/state";
import { run, setSegment, getSegSel, setCr } from "../../assembly/index";
import { setup, poke, w16, w32, w64, r16, r32, desc, gate64, AR_CODE32_0, AR_DATA32_0, AR_CODE64_0 } from "./sys_helpers";
import { setRflags } from "../../assembly/cpu/flags";
import { writeMsr } from "../../assembly/cpu/msr";

// Real mode, CS=DS=SS=0, SP 0x9000, code at 0x7c00; INT 1 (#DB) -> 0000:8000 (hlt).
function realDb(): void {
  setup();
  setSegment(S.CS, 0, 0, 0xffff, 0x9b);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
  w16(4, 0x8000);
  poke(0x8000, [0xf4]);
}

describe("MOV SS vs STI blocking (SDM 6.8.3)", () => {
  it("STI blocking does not delay the single-step #DB: the trap follows STI itself", () => {
    realDb();
    poke(0x7c00, [0xfb, 0x0f, 0xa2, 0xf4]);   // sti; cpuid; hlt
    S.setReg64(S.RAX, 0);
    setRflags(0x102);                           // TF=1, IF=0
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c01, "#DB return IP is the instruction after STI");
    expect<u64>(S.getDr(6) & 0x4000).toBe(0x4000, "DR6.BS");
  });
  it("MOV SS blocking suppresses the instruction breakpoint of the next instruction", () => {
    realDb();
    // mov %eax,%dr0; mov %ebx,%dr7; mov %cx,%ss; cpuid (DR0 points here); hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x8e, 0xd1, 0x0f, 0xa2, 0xf4]);
    S.setReg64(S.RAX, 0x7c08); S.setReg64(S.RBX, 0x401); S.setReg64(S.RCX, 0);
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c0b, "no #DB: halted after the HLT at 0x7c0a");
    expect<u64>(S.getDr(6) & 0xf).toBe(0, "DR6.B0 clear");
  });
  it("without MOV SS the same breakpoint is a #DB fault", () => {
    realDb();
    // mov %eax,%dr0; mov %ebx,%dr7; nop; nop; cpuid (DR0); hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x90, 0x90, 0x0f, 0xa2, 0xf4]);
    S.setReg64(S.RAX, 0x7c08); S.setReg64(S.RBX, 0x401);
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c08);
  });
  it("a single-step #DB after HLT is delivered and the handler runs (the HLT does not stay halted)", () => {
    realDb();
    poke(0x7c00, [0xf4]);
    setRflags(0x102);
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001, "halted in the #DB handler, not at 0x7c01");
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c01);
  });
});

// 64-bit mode, CPL0, 4-level paging (CR4.LA57=0), first 2 MiB identity-mapped user-accessible.
function lm64(): void {
  setup();
  w64(0x500, 0);
  w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
  w64(0x518, desc(0, 0xfffff, 0x9b, 0xa));
  w64(0x528, desc(0, 0xfffff, 0xf3, 0xc));
  w64(0x530, desc(0, 0xfffff, 0xfb, 0xa));
  S.setGdtr(0x500, 0x7f);
  w64(0x10000, 0x11007); w64(0x11000, 0x12007); w64(0x12000, 0x87);
  setCr(4, 0x20); setCr(3, 0x10000); setCr(0xc0000080, 0x500); setCr(0, 0x80000011);
  setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  S.setIdtr(0x1000, 0xfff);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
}

describe("LGDT in 64-bit mode with 4-level paging on a CPU with 5-level paging", () => {
  it("accepts a base canonical in 57 bits and #GPs on one that is not", () => {
    lm64();
    gate64(0x1000 + 13 * 16, 0x18, 0x8000, 0x8e, 0);   // #GP -> 0x8000: hlt
    poke(0x8000, [0xf4]);
    w16(0x600, 0x37); w64(0x602, 0xffaaaaaaaaaaaaaa);
    w16(0x610, 0x37); w64(0x612, 0xaaaaaaaaaaaaaaaa);
    S.setReg64(S.RAX, 0x600); S.setReg64(S.RBX, 0x610);
    poke(0x7c00, [0x0f, 0x01, 0x13, 0x0f, 0x01, 0x10, 0xf4]);   // lgdt (%rbx); lgdt (%rax); hlt
    expect<u32>(run(10)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001, "#GP on a base not canonical in 57 bits");
    expect<u32>(r32(0x9000 - 40)).toBe(0x7c00, "faulting RIP");
    expect<u64>(S.gdtrBase).toBe(0x500, "GDTR unchanged");
    S.setHalted(false);
    S.setReg64(S.RSP, 0x9000);
    S.setRip(0x7c03);
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7c06, "no #GP for a 57-bit canonical base with CR4.LA57=0");
    expect<u64>(S.gdtrBase).toBe(0xffaaaaaaaaaaaaaa);
  });
});

describe("IRETQ to CPL3 nulls a DPL0 GS but keeps its base", () => {
  it("GS selector 0, base unchanged, GS-relative loads at CPL3 still use the base", () => {
    lm64();
    setSegment(S.GS, 0x10, 0x123000, 0xffffffff, AR_DATA32_0);
    w64(0xa000 - 40, 0x7d00); w64(0xa000 - 32, 0x33); w64(0xa000 - 24, 0x202);
    w64(0xa000 - 16, 0x9500); w64(0xa000 - 8, 0x2b);
    S.setReg64(S.RSP, 0xa000 - 40);
    S.setRip(0x7c00);
    poke(0x7c00, [0x48, 0xcf]);                                        // iretq
    poke(0x7d00, [0x65, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00]);    // mov %gs:0x10,%eax
    w32(0x123010, 0xcafe1234);
    expect<u32>(run(1)).toBe(0);
    expect<u32>(S.cpl).toBe(3);
    expect<u32>(getSegSel(S.GS)).toBe(0, "GS nulled");
    expect<u64>(S.segBase(S.GS)).toBe(0x123000, "GS base kept");
    expect<u32>(getSegSel(S.DS)).toBe(0, "DS nulled too");
    expect<u32>(run(1)).toBe(0);
    expect<u64>(S.rip).toBe(0x7d08);
    expect<u64>(S.getReg64(S.RAX)).toBe(0xcafe1234);
  });
});

describe("IRET task return", () => {
  it("saves the EIP after the IRET in the outgoing TSS, so the next switch resumes past it", () => {
    setup();
    w64(0x500, 0);
    w64(0x508, desc(0, 0xfffff, 0x9b, 0xc));
    w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
    S.setGdtr(0x500, 0x7f);
    setCr(0, 0x11);
    setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);
    for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
    S.setIdtr(0x1000, 0x7ff);
    S.setReg64(S.RSP, 0x9000);
    S.setRip(0x7c00);
    w32(0x704, 0xa000); w16(0x708, 0x10); w16(0x766, 0x68);
    w64(0x540, desc(0x700, 0x67 + 0x20, 0x8b, 0));
    setSegment(S.TR, 0x40, 0x700, 0x67 + 0x20, 0x8b);
    // Task B (TSS 0x800, selector 0x48) at 0x8000: iret; jmp 0x8000 (a handler task loop).
    w64(0x548, desc(0x800, 0x67, 0x89, 0));
    w32(0x820, 0x8000); w32(0x824, 0x2); w32(0x838, 0xb000);
    w16(0x848, 0x10); w16(0x84c, 0x08); w16(0x850, 0x10); w16(0x854, 0x10); w16(0x858, 0x10); w16(0x85c, 0x10);
    w64(0x550, <u64>0x48 << 16 | (<u64>0x85 << 40));   // task gate -> 0x48
    poke(0x8000, [0xcf, 0xeb, 0xfd]);
    // lcall $0x50,$0; lcall $0x50,$0; hlt
    poke(0x7c00, [0x9a, 0, 0, 0, 0, 0x50, 0x00, 0x9a, 0, 0, 0, 0, 0x50, 0x00, 0xf4]);
    expect<u32>(run(2)).toBe(0);                      // lcall, iret
    expect<u64>(S.rip).toBe(0x7c07);
    expect<u32>(r32(0x820)).toBe(0x8001, "task B's saved EIP is after its IRET");
    expect<u32>(run(1)).toBe(0);                      // second lcall
    expect<u64>(S.rip).toBe(0x8001, "task B resumes at the JMP");
    expect<u32>(run(10)).toBe(1);                     // jmp, iret, hlt
    expect<u64>(S.rip).toBe(0x7c0f);
    expect<u32>(getSegSel(S.TR)).toBe(0x40);
  });
});

describe("data breakpoints (SDM 17.2.4, 17.3.1.2)", () => {
  it("a write watchpoint in DR0 is a #DB trap after the store, DR6.B0 set", () => {
    realDb();
    // mov %eax,%dr0; mov %ebx,%dr7; mov %cx,0x600; nop; hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x89, 0x0e, 0x00, 0x06, 0x90, 0xf4]);
    S.setReg64(S.RAX, 0x600); S.setReg64(S.RBX, 0xd0002); S.setReg64(S.RCX, 0x5678);   // G0, R/W=01, LEN=4
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001);
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c0a, "trap: IP after the store");
    expect<u64>(S.getDr(6) & 0x400f).toBe(1, "DR6.B0");
    expect<u32>(r16(0x600)).toBe(0x5678, "the store happened");
  });
  it("a write watchpoint does not fire on reads", () => {
    realDb();
    // mov %eax,%dr0; mov %ebx,%dr7; mov 0x600,%cx; hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x8b, 0x0e, 0x00, 0x06, 0xf4]);
    S.setReg64(S.RAX, 0x600); S.setReg64(S.RBX, 0xd0002);
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x7c0b);
  });
  it("after MOV SS the watchpoint #DB waits for the next instruction (INT3): #BP frame, then #DB on top", () => {
    realDb();
    w16(3 * 4, 0x8100);
    poke(0x8100, [0xf4]);
    // mov %eax,%dr0; mov %ebx,%dr7; mov 0x600,%ss; int3; hlt
    poke(0x7c00, [0x0f, 0x23, 0xc0, 0x0f, 0x23, 0xfb, 0x8e, 0x16, 0x00, 0x06, 0xcc, 0xf4]);
    S.setReg64(S.RAX, 0x600); S.setReg64(S.RBX, 0xf0002);   // G0, R/W=11, LEN=4
    expect<u32>(run(20)).toBe(1);
    expect<u64>(S.rip).toBe(0x8001, "in the #DB handler");
    expect<u32>(r16(0x9000 - 6)).toBe(0x7c0b, "#BP frame: IP after INT3");
    expect<u32>(r16(0x9000 - 12)).toBe(0x8100, "#DB frame: the #BP handler's first instruction");
    expect<u64>(S.getDr(6) & 0xf).toBe(1);
  });
});

describe("base MSRs on a CPU with 5-level paging (kvm-unit-tests la57)", () => {
  it("accept a value canonical in 57 bits while CR4.LA57 = 0, and #GP on one that is not", () => {
    setup();
    const v57: u64 = 0x00ff800000001000;   // canonical in 57 bits, not in 48
    expect<bool>(writeMsr(0xc0000100, v57)).toBe(true);              // FS_BASE
    expect<u64>(S.segBase(S.FS)).toBe(v57);
    expect<bool>(writeMsr(0xc0000101, v57)).toBe(true);              // GS_BASE
    expect<bool>(writeMsr(0xc0000082, v57)).toBe(true);              // LSTAR
    expect<bool>(writeMsr(0xc0000100, 0x0100000000000000)).toBe(false);
  });
});

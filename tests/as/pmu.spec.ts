// Performance monitoring (assembly/cpu/pmu.ts, docs/pmu.md): CPUID leaf 0AH, the PMU MSRs and
// their reserved bits, exact counts through the real run loop (hot path, slices), overflow at
// the exact instruction with IA32_PERF_GLOBAL_STATUS and the PMI, USR/OS filtering, RDPMC.
// Code is hand-assembled 32-bit (GNU as, source in the comments) at 0x7c00, flat CPL0.
import * as S from "../../assembly/cpu/state";
import { run, setSegment, setCr, getMsr, setMsr, setPmuRefCycles } from "../../assembly/index";
import { setup, poke, w16, w32, w64, r32, desc, gate32, AR_CODE32_0, AR_DATA32_0, AR_CODE32_3, AR_DATA32_3 } from "./sys_helpers";
import { portIn } from "../../assembly/host";
import { cpuid, cpuidA, cpuidB, cpuidC, cpuidD } from "../../assembly/cpu/cpuid";
import { msrOk, readMsr } from "../../assembly/cpu/msr";
import { clearFault } from "../../assembly/cpu/fault";

const PMC0: u32 = 0xc1, EVTSEL0: u32 = 0x186, FIXED0: u32 = 0x309, FIXED_CTRL: u32 = 0x38d;
const STATUS: u32 = 0x38e, GCTRL: u32 = 0x38f, OVF: u32 = 0x390, A_PMC0: u32 = 0x4c1;
const USR: u64 = 1 << 16, OS: u64 = 1 << 17, INT: u64 = 1 << 20, EN: u64 = 1 << 22, INV: u64 = 1 << 23;
const INSTR: u64 = 0xc0, CYCLES: u64 = 0x3c, BRANCH: u64 = 0xc4;
const TOP: u64 = <u64>1 << 48;

function pmis(): u32 { return <u32>portIn(0xe4, 4); }

// GDT at 0x500: 08 code32 DPL0, 10 data DPL0, 20 code32 DPL3, 28 data DPL3, 40 TSS.
// IDT at 0x1000; TSS at 0x700 with SS0:ESP0 = 0x10:0xa000; code at 0x7c00, ESP 0x9000.
function pm32(): void {
  setup();
  w64(0x500, 0);
  w64(0x508, desc(0, 0xfffff, 0x9b, 0xc));
  w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
  w64(0x520, desc(0, 0xfffff, 0xfb, 0xc));
  w64(0x528, desc(0, 0xfffff, 0xf3, 0xc));
  S.setGdtr(0x500, 0x7f);
  setCr(0, 0x11);
  setSegment(S.CS, 0x08, 0, 0xffffffff, AR_CODE32_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  S.setIdtr(0x1000, 0x7ff);
  w32(0x704, 0xa000); w16(0x708, 0x10); w16(0x766, 0x68);
  w64(0x540, desc(0x700, 0x67, 0x8b, 0));
  setSegment(S.TR, 0x40, 0x700, 0x67, 0x8b);
  S.setReg64(S.RSP, 0x9000);
  S.setRip(0x7c00);
  // #UD and #GP go to a handler that marks EBP and halts (0x7f00: mov ebp, 0xdead; hlt).
  poke(0x7f00, [0xbd, 0xad, 0xde, 0x00, 0x00, 0xf4]);
  w64(0x1000 + 6 * 8, gate32(0x08, 0x7f00, 0x8e));
  w64(0x1000 + 13 * 8, gate32(0x08, 0x7f00, 0x8e));
}
function user32(): void {
  setSegment(S.CS, 0x23, 0, 0xffffffff, AR_CODE32_3);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x2b, 0, 0xffffffff, AR_DATA32_3);
}
// Run to HLT, in slices of `slice` instructions (the counts must not depend on the slicing).
function runToHlt(slice: u32): u32 {
  for (let i = 0; i < 100000; i++) {
    const r = run(slice);
    if (r != 0) return r;
  }
  return 0;
}
function gp(m: u32, v: u64): bool { const ok = setMsr(m, v); return !ok; }
function rdOk(m: u32): bool { readMsr(m); const ok = msrOk; clearFault(); return ok; }

describe("PMU enumeration", () => {
  it("CPUID.0AH: version 2, 4 GP and 3 fixed counters of 48 bits; PDCM and PERF_CAPABILITIES", () => {
    pm32();
    cpuid(0xa, 0);
    expect<u32>(cpuidA).toBe(0x07300402, "EAX: length 7, width 48, 4 counters, version 2");
    expect<u32>(cpuidB).toBe(0x5c, "EBX: reference cycles (realtime TSC), LLC, branch mispredicts: not available");
    setPmuRefCycles(true);   // the host runs --tsc icount
    cpuid(0xa, 0);
    expect<u32>(cpuidB).toBe(0x58, "EBX: reference cycles available");
    setPmuRefCycles(false);
    expect<u32>(cpuidC).toBe(0);
    expect<u32>(cpuidD).toBe(0x603, "EDX: 3 fixed counters, 48 bits");
    cpuid(1, 0);
    expect<u32>((cpuidC >> 15) & 1).toBe(1, "PDCM");
    expect<u64>(getMsr(0x345)).toBe(0x2000, "full-width writes");
    expect<u64>(getMsr(GCTRL)).toBe(0xf, "GP enables set at reset");
    expect<u64>(getMsr(FIXED_CTRL)).toBe(0);
    // IA32_MISC_ENABLE: performance monitoring available (7), BTS (11) / PEBS (12) unavailable,
    // read-only.
    expect<u64>(getMsr(0x1a0) & 0x1880).toBe(0x1880);
    expect<bool>(setMsr(0x1a0, 1)).toBe(true);
    expect<u64>(getMsr(0x1a0)).toBe(0x1881);
  });
});

describe("PMU MSRs", () => {
  it("reserved bits and read-only MSRs raise #GP", () => {
    pm32();
    expect<bool>(gp(EVTSEL0, 1 << 21)).toBe(true, "AnyThread is version 3");
    expect<bool>(gp(EVTSEL0 + 3, <u64>1 << 32)).toBe(true);
    expect<bool>(gp(FIXED_CTRL, 0x4)).toBe(true, "fixed AnyThread");
    expect<bool>(gp(FIXED_CTRL, 0x1000)).toBe(true, "no fixed counter 3");
    expect<bool>(gp(GCTRL, 0x10)).toBe(true, "no PMC4");
    expect<bool>(gp(GCTRL, <u64>1 << 35)).toBe(true, "no fixed counter 3");
    expect<bool>(gp(STATUS, 0)).toBe(true, "GLOBAL_STATUS is read-only");
    expect<bool>(gp(OVF, 0x10)).toBe(true);
    expect<bool>(gp(0x345, 0x2000)).toBe(true, "PERF_CAPABILITIES is read-only");
    expect<bool>(gp(A_PMC0, TOP)).toBe(true, "IA32_A_PMC0 above the width");
    expect<bool>(gp(PMC0 + 4, 0)).toBe(true, "no PMC4");
    expect<bool>(rdOk(PMC0 + 4)).toBe(false);
    expect<bool>(rdOk(A_PMC0 + 4)).toBe(false);
    expect<bool>(rdOk(FIXED0 + 3)).toBe(false);
    const sel: u64 = 0xff000000 | INV | EN | INT | (1 << 19) | (1 << 18) | OS | USR | 0x01c0;
    expect<bool>(gp(EVTSEL0 + 2, sel)).toBe(false);
    expect<u64>(getMsr(EVTSEL0 + 2)).toBe(sel);
    expect<bool>(gp(OVF, 0xc000000700000003)).toBe(false);
    expect<u64>(getMsr(OVF)).toBe(0);
    // The model's LBR stack MSRs hold what is written (no branches are recorded).
    expect<bool>(setMsr(0x680 + 15, 0xffffffff81000000)).toBe(true);
    expect<u64>(getMsr(0x680 + 15)).toBe(0xffffffff81000000);
    expect<bool>(setMsr(0x6c0, 0x1234)).toBe(true);
    expect<u64>(getMsr(0x6c0)).toBe(0x1234);
    expect<bool>(setMsr(0x1c9, 0x13)).toBe(true);
    expect<u64>(getMsr(0x1c9)).toBe(3);
    expect<bool>(gp(0x1c8, 0x400)).toBe(true, "LBR_SELECT bits 9:0");
    expect<bool>(rdOk(0x690)).toBe(false, "16 entries");
  });
  it("IA32_PMCx writes sign-extend bits 31:0; IA32_A_PMCx and fixed counters take the width", () => {
    pm32();
    expect<bool>(setMsr(PMC0, 0xffffff0123456789)).toBe(true);
    expect<u64>(getMsr(PMC0)).toBe(0x23456789);
    expect<u64>(getMsr(A_PMC0)).toBe(0x23456789);
    setMsr(PMC0 + 1, 0x80000000);
    expect<u64>(getMsr(PMC0 + 1)).toBe(0xffff80000000);
    setMsr(A_PMC0 + 2, 0xff0123456789);
    expect<u64>(getMsr(PMC0 + 2)).toBe(0xff0123456789);
    setMsr(FIXED0 + 1, 0xffffff0123456789);
    expect<u64>(getMsr(FIXED0 + 1)).toBe(0xff0123456789, "fixed: bits above 47 dropped");
  });
});

describe("PMU counting", () => {
  it("counts instructions, branches and cycles exactly between two WRMSRs, in any slicing", () => {
    for (let k = 0; k < 3; k++) {
      pm32();
      setMsr(GCTRL, 0);
      setMsr(EVTSEL0, EN | OS | USR | INSTR);
      setMsr(EVTSEL0 + 1, EN | OS | USR | BRANCH);
      setMsr(EVTSEL0 + 2, EN | OS | USR | CYCLES);
      setMsr(EVTSEL0 + 3, EN | OS | USR | CYCLES | 0x100);   // reference cycles
      setMsr(FIXED_CTRL, 0x333);
      // mov ecx, 0x38f; mov eax, 0xf; mov edx, 7; wrmsr; mov ebx, 100
      // L: nop; dec ebx; jnz L; xor eax, eax; xor edx, edx; wrmsr; hlt
      poke(0x7c00, [0xb9, 0x8f, 0x03, 0x00, 0x00, 0xb8, 0x0f, 0x00, 0x00, 0x00, 0xba, 0x07, 0x00, 0x00, 0x00,
        0x0f, 0x30, 0xbb, 0x64, 0x00, 0x00, 0x00, 0x90, 0x4b, 0x75, 0xfc, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x30, 0xf4]);
      expect<u32>(runToHlt(k == 0 ? 100000 : (k == 1 ? 7 : 1))).toBe(1);
      // The enabling WRMSR retires with the counters on, the disabling one with them off:
      // 1 + 1 (mov ebx) + 3 * 100 + 2 (xors).
      expect<u64>(getMsr(PMC0)).toBe(304, "instructions retired");
      expect<u64>(getMsr(PMC0 + 1)).toBe(100, "branches: the 100 JNZ");
      expect<u64>(getMsr(PMC0 + 2)).toBe(304, "core cycles: one per instruction");
      expect<u64>(getMsr(PMC0 + 3)).toBe(304, "reference cycles = core cycles");
      expect<u64>(getMsr(FIXED0)).toBe(304);
      expect<u64>(getMsr(FIXED0 + 1)).toBe(304);
      expect<u64>(getMsr(FIXED0 + 2)).toBe(304);
      expect<u64>(getMsr(STATUS)).toBe(0);
    }
  });

  it("a counter preset to -N overflows at the Nth event: GLOBAL_STATUS and the PMI at that instruction", () => {
    // mov ecx, 0x38f; mov eax, 1; xor edx, edx; wrmsr; mov ecx, 0x38e; mov ebx, 50
    // L: dec ebx; jnz L; rdmsr; mov esi, eax; rdmsr; mov edi, eax; hlt
    // Counted before the first RDMSR retires: 1 + 1 + 1 + 100 = 103, then the RDMSR is the 104th.
    for (let k = 0; k < 4; k++) {
      pm32();
      setMsr(GCTRL, 0);
      setMsr(EVTSEL0, EN | OS | USR | INSTR | (k >= 2 ? INT : 0));
      const n: u64 = (k & 1) == 0 ? 104 : 103;
      setMsr(PMC0, 0);   // (sign-extends) use the full-width alias for the preset
      setMsr(A_PMC0, TOP - n);
      poke(0x7c00, [0xb9, 0x8f, 0x03, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30,
        0xb9, 0x8e, 0x03, 0x00, 0x00, 0xbb, 0x32, 0x00, 0x00, 0x00, 0x4b, 0x75, 0xfd, 0x0f, 0x32, 0x89, 0xc6,
        0x0f, 0x32, 0x89, 0xc7, 0xf4]);
      const p0 = pmis();
      expect<u32>(runToHlt(k == 3 ? 5 : 100000)).toBe(1);
      if (n == 104) {
        expect<u64>(S.getReg64(S.RSI)).toBe(0, "not yet at the RDMSR that is the 104th instruction");
      } else {
        expect<u64>(S.getReg64(S.RSI)).toBe(1, "already overflowed at the 103rd");
      }
      expect<u64>(S.getReg64(S.RDI)).toBe(1, "overflowed after it");
      expect<u64>(getMsr(PMC0)).toBe(108 - n, "the counter goes on from 0");
      expect<u64>(getMsr(STATUS)).toBe(1);
      expect<u32>(pmis() - p0).toBe(k >= 2 ? 1 : 0, "PMI only with INT");
      expect<bool>(setMsr(OVF, 1)).toBe(true);
      expect<u64>(getMsr(STATUS)).toBe(0, "OVF_CTRL clears the status bit");
    }
  });

  it("fixed counter overflow sets status bit 32+i and its PMI bit sends a PMI", () => {
    pm32();
    setMsr(GCTRL, 0);
    setMsr(FIXED_CTRL, 0x3 << 4 | 0x8 << 4);   // fixed 1 (core cycles): all rings, PMI
    setMsr(FIXED0 + 1, TOP - 3);
    // mov ecx, 0x38f; mov eax, 0; mov edx, 2; wrmsr; nop; nop; nop; hlt  (enable fixed 1)
    poke(0x7c00, [0xb9, 0x8f, 0x03, 0x00, 0x00, 0xb8, 0x00, 0x00, 0x00, 0x00, 0xba, 0x02, 0x00, 0x00, 0x00,
      0x0f, 0x30, 0x90, 0x90, 0x90, 0xf4]);
    const p0 = pmis();
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(getMsr(FIXED0 + 1)).toBe(2, "wrmsr nop nop | nop hlt");
    expect<u64>(getMsr(STATUS)).toBe(<u64>1 << 33);
    expect<u32>(pmis() - p0).toBe(1);
  });

  it("USR / OS filtering follows the CPL through INT and IRET", () => {
    pm32();
    // int 0x80 handler (0x7d00): inc edi; inc edi; iret. int 0x81 handler (0x7e00): hlt.
    poke(0x7d00, [0x47, 0x47, 0xcf]);
    poke(0x7e00, [0xf4]);
    w64(0x1000 + 0x80 * 8, gate32(0x08, 0x7d00, 0xee));
    w64(0x1000 + 0x81 * 8, gate32(0x08, 0x7e00, 0xee));
    // User code: inc esi x3; int 0x80; inc esi x2; int 0x81
    poke(0x7c00, [0x46, 0x46, 0x46, 0xcd, 0x80, 0x46, 0x46, 0xcd, 0x81]);
    user32();
    S.setReg64(S.RSP, 0x9000);
    setMsr(EVTSEL0, EN | OS | INSTR);
    setMsr(EVTSEL0 + 1, EN | USR | INSTR);
    setMsr(EVTSEL0 + 2, EN | OS | USR | INSTR);
    setMsr(EVTSEL0 + 3, EN | USR | CYCLES);
    setMsr(FIXED_CTRL, 0x021);   // fixed 0 OS only, fixed 1 USR only
    setMsr(GCTRL, 0x30000000f);
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u32>(S.cpl).toBe(0);
    // An instruction counts at the privilege level it retires in: INT n at 0, IRET at 3.
    expect<u64>(getMsr(PMC0)).toBe(5, "OS: int 0x80, inc, inc, int 0x81, hlt");
    expect<u64>(getMsr(PMC0 + 1)).toBe(6, "USR: inc x3, iret, inc x2");
    expect<u64>(getMsr(PMC0 + 2)).toBe(11);
    expect<u64>(getMsr(PMC0 + 3)).toBe(6);
    expect<u64>(getMsr(FIXED0)).toBe(5);
    expect<u64>(getMsr(FIXED0 + 1)).toBe(6);
  });

  it("a faulting instruction takes a cycle and retires nothing; a long REP STOSB retires once", () => {
    pm32();
    setMsr(EVTSEL0, EN | OS | INSTR);
    setMsr(EVTSEL0 + 1, EN | OS | INSTR | INV | (1 << 24));   // clocks without a retirement
    setMsr(EVTSEL0 + 2, EN | OS | INSTR | (2 << 24));          // CMASK 2: never
    setMsr(EVTSEL0 + 3, EN | OS | INSTR | INV | (2 << 24));    // INV CMASK 2: every clock
    setMsr(FIXED_CTRL, 0x011);
    setMsr(GCTRL, 0x30000000f);
    poke(0x7c00, [0x46, 0x0f, 0x0b]);   // inc esi; ud2 -> #UD handler: mov ebp, 0xdead; hlt
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(S.getReg64(S.RBP)).toBe(0xdead);
    expect<u64>(getMsr(PMC0)).toBe(3, "inc, mov, hlt");
    expect<u64>(getMsr(FIXED0 + 1)).toBe(4, "cycles: the UD2 too");
    expect<u64>(getMsr(PMC0 + 1)).toBe(1);
    expect<u64>(getMsr(PMC0 + 2)).toBe(0);
    expect<u64>(getMsr(PMC0 + 3)).toBe(4);

    pm32();
    setMsr(EVTSEL0, EN | OS | INSTR);
    setMsr(FIXED_CTRL, 0x010);
    setMsr(GCTRL, 0x200000001);
    // mov edi, 0x20000; mov ecx, 10000; xor eax, eax; cld; rep stosb; hlt
    poke(0x7c00, [0xbf, 0x00, 0x00, 0x02, 0x00, 0xb9, 0x10, 0x27, 0x00, 0x00, 0x31, 0xc0, 0xfc, 0xf3, 0xaa, 0xf4]);
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(S.getReg64(S.RCX)).toBe(0);
    expect<u64>(getMsr(PMC0)).toBe(6);
    expect<u64>(getMsr(FIXED0 + 1)).toBe(8, "REP STOSB of 10000 bytes: 3 steps of at most 4096");
  });

  it("events this core does not count stay put", () => {
    pm32();
    setMsr(EVTSEL0, EN | OS | USR | 0x4f2e);   // LLC references
    setMsr(EVTSEL0 + 1, EN | OS | USR | 0x00c5);   // branch mispredicts
    setMsr(PMC0, 5);
    poke(0x7c00, [0x90, 0x90, 0xf4]);
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(getMsr(PMC0)).toBe(5);
    expect<u64>(getMsr(PMC0 + 1)).toBe(0);
  });
});

describe("RDPMC", () => {
  it("reads GP counters, fixed counters (ECX[30]) and the low half (ECX[31])", () => {
    pm32();
    setMsr(A_PMC0 + 1, 0x123456789ab);
    setMsr(FIXED0 + 2, 0xabcdef);
    // mov ecx, 1; rdpmc; mov esi, eax; mov edi, edx; mov ecx, 0x40000002; rdpmc; mov ebp, eax
    // mov ecx, 0x80000001; rdpmc; hlt
    poke(0x7c00, [0xb9, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x33, 0x89, 0xc6, 0x89, 0xd7, 0xb9, 0x02, 0x00, 0x00, 0x40,
      0x0f, 0x33, 0x89, 0xc5, 0xb9, 0x01, 0x00, 0x00, 0x80, 0x0f, 0x33, 0xf4]);
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(S.getReg64(S.RSI)).toBe(0x456789ab);
    expect<u64>(S.getReg64(S.RDI)).toBe(0x123);
    expect<u64>(S.getReg64(S.RBP)).toBe(0xabcdef);
    expect<u64>(S.getReg64(S.RAX)).toBe(0x456789ab, "fast read: low 32 bits");
    expect<u64>(S.getReg64(S.RDX)).toBe(0);
  });
  it("an invalid index is #GP(0)", () => {
    pm32();
    poke(0x7c00, [0xb9, 0x04, 0x00, 0x00, 0x00, 0x0f, 0x33, 0xf4]);   // mov ecx, 4; rdpmc; hlt
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(S.getReg64(S.RBP)).toBe(0xdead);
    expect<u32>(r32(0x9000 - 12)).toBe(0x7c05, "faulting EIP");
    expect<u32>(r32(0x9000 - 16)).toBe(0, "error code");
    pm32();
    poke(0x7c00, [0xb9, 0x03, 0x00, 0x00, 0x40, 0x0f, 0x33, 0xf4]);   // mov ecx, 0x40000003; rdpmc
    expect<u32>(runToHlt(100000)).toBe(1);
    expect<u64>(S.getReg64(S.RBP)).toBe(0xdead);
  });
  it("at CPL3 needs CR4.PCE", () => {
    for (let pce = 0; pce < 2; pce++) {
      pm32();
      if (pce == 1) setCr(4, S.CR4_PCE);
      setMsr(PMC0, 77);
      poke(0x7e00, [0xf4]);
      w64(0x1000 + 0x81 * 8, gate32(0x08, 0x7e00, 0xee));
      poke(0x7c00, [0x31, 0xc9, 0x0f, 0x33, 0xcd, 0x81]);   // xor ecx, ecx; rdpmc; int 0x81
      user32();
      S.setReg64(S.RSP, 0x9000);
      S.setReg64(S.RAX, 0);
      expect<u32>(runToHlt(100000)).toBe(1);
      if (pce == 0) expect<u64>(S.getReg64(S.RBP)).toBe(0xdead, "#GP");
      else expect<u64>(S.getReg64(S.RAX)).toBe(77);
    }
  });
});

// "Is L1 intercepting this?" (SDM Vol.3C 26.1 "Instructions that cause VM exits", 26.2 other
// causes). One function per exit condition, called at the single intercept point of the
// instruction or event (after the checks that have priority over VM exits: #UD, CPL and
// I/O-permission #GP, SDM 26.1.1) and only when V.nonRoot. Each returns true when it performed
// the VM exit; the caller then returns without committing anything.
import * as S from "../cpu/state";
import * as D from "../cpu/decode";
import { physRead, physWrite } from "../mmu/phys";
import { readLin } from "../mmu/access";
import { faultAddr, faultPending, clearFault, raiseUD } from "../cpu/fault";
import { intAck, nowNs } from "../host";
import { TSC_GHZ } from "../cpu/tsc";
import { intrLine, nmiPending, nmiBlocked, intShadow, movSsShadow } from "../cpu/interrupts";
import { vmcsRead as rd } from "./fields";
import * as F from "./fields";
import { vmExit, instrExit } from "./exit";
import * as E from "./ept";
import * as C from "./caps";
import * as V from "./vstate";
import { inFlight } from "../cpu/run";
import { getRflags } from "../cpu/flags";
import * as X from "./exit";
import * as VA from "./vapic";
import * as VID from "./vid";
import {
  PIN_EXT_INTR, PROC_HLT, PROC_RDTSC, PROC_TSC_OFFSET, PROC_CR3_LOAD, PROC_CR3_STORE, PROC_CR8_LOAD,
  PIN_NMI, PIN_VIRT_NMI, PROC_NMI_WINDOW, PROC_PAUSE, PROC_MWAIT, PROC_MONITOR, PROC_CR8_STORE, PROC_MOV_DR, PROC_UNCOND_IO, PROC_IO_BITMAPS, PROC_MSR_BITMAPS, PROC_INTR_WINDOW, PROC_INVLPG, PROC_MTF,
} from "./entry";

@inline function proc(): u32 { return <u32>rd(F.PROC_CONTROLS); }

// CPUID, INVD, XSETBV: unconditional (SDM 26.1.2).
export function exitCpuid(): bool { instrExit(X.EXIT_CPUID, 0, 0); return true; }
export function exitInvd(wbinvd: bool): bool {
  if (wbinvd) {
    const p = proc();
    if ((p & C.PROC_ACTIVATE_SECONDARY) == 0 || (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_WBINVD) == 0) return false;
    instrExit(X.EXIT_WBINVD, 0, 0);
    return true;
  }
  instrExit(X.EXIT_INVD, 0, 0);
  return true;
}
export function exitRdpmc(): bool {
  if ((proc() & (1 << 11)) == 0) return false;
  instrExit(X.EXIT_RDPMC, 0, 0);
  return true;
}
export function exitXsetbv(): bool { instrExit(X.EXIT_XSETBV, 0, 0); return true; }
// HLT / RDTSC(P): with their controls.
export function exitHlt(): bool {
  if ((proc() & PROC_HLT) == 0) return false;
  instrExit(X.EXIT_HLT, 0, 0);
  return true;
}
export function exitRdtsc(): bool {
  // An armed preemption timer must exit before the instruction after a RDTSC that read a
  // value past its deadline retires: look again at the next boundary (cpu/run.ts).
  if (V.timerArmed) V.bumpVmxEpoch();
  if ((proc() & PROC_RDTSC) == 0) return false;
  instrExit(D.opcode == 0x131 ? X.EXIT_RDTSC : 51, 0, 0);   // 51: RDTSCP
  return true;
}
// RDTSCP in L2 without the secondary control "enable RDTSCP" (SDM 25.6.2): #UD. true if raised.
export function rdtscpUd(): bool {
  if ((proc() & C.PROC_ACTIVATE_SECONDARY) != 0 && (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_RDTSCP) != 0) return false;
  raiseUD();
  return true;
}
// The TSC value the guest sees: offset and scaled (vmx/tsc.ts).
export { guestTsc } from "./tsc";

// I/O instructions (SDM 26.1.3): unconditional I/O exiting or the I/O bitmaps.
export function exitIo(port: u32, size: u32, isIn: bool, str: bool, rep: bool, imm: bool): bool {
  const p = proc();
  let exit = false;
  if ((p & PROC_IO_BITMAPS) != 0) {
    for (let q = port; q < port + size; q++) {
      if (q > 0xffff) { exit = true; break; }   // wraps around the port space
      const bm = rd(q < 0x8000 ? F.IO_BITMAP_A : F.IO_BITMAP_B);
      if ((physRead(bm + <u64>((q & 0x7fff) >> 3), 1) & (1 << (q & 7))) != 0) { exit = true; break; }
    }
  } else exit = (p & PROC_UNCOND_IO) != 0;
  if (!exit) return false;
  const qual = <u64>(size - 1) | (isIn ? 8 : 0) | (str ? 16 : 0) | (rep ? 32 : 0) | (imm ? 64 : 0) | (<u64>port << 16);
  let info: u32 = 0;
  if (str) {
    // Guest-linear address of the memory operand's first byte (SDM 28.2.1).
    const a = D.adSize;
    const idx = S.getReg64(isIn ? S.RDI : S.RSI);
    const off = a == 8 ? idx : (a == 4 ? idx & 0xffffffff : idx & 0xffff);
    const seg = isIn ? S.ES : D.dsSeg();
    F.vmcsWrite(F.GUEST_LINEAR_ADDR, S.segBase(seg) + off);
    // IA32_VMX_BASIC[54]: VM-exit instruction information for INS/OUTS (SDM 28.2.5, "Format
    // of the VM-Exit Instruction-Information Field as Used for INS and OUTS"): address size in
    // bits 9:7 (0 16, 1 32, 2 64 bits), segment register in bits 17:15 (ES for INS, where the
    // SDM leaves it undefined).
    info = ((a == 2 ? 0 : (a == 4 ? 1 : 2)) << 7) | (seg << 15);
  }
  instrExit(X.EXIT_IO, qual, info);
  return true;
}

// RDMSR / WRMSR (SDM 26.1.3): always without MSR bitmaps; else the bitmap bit, and MSRs outside
// 0-1FFFH and C0000000H-C0001FFFH always exit.
export function exitMsr(write: bool): bool {
  const ecx = S.getReg32(S.RCX);
  let exit = true;
  if ((proc() & PROC_MSR_BITMAPS) != 0) {
    let off: i32 = -1;
    if (ecx <= 0x1fff) off = 0;
    else if (ecx >= 0xc0000000 && ecx <= 0xc0001fff) off = 1024;
    if (off >= 0) {
      const bit = ecx & 0x1fff;
      const byte = rd(F.MSR_BITMAP) + <u64>(off + (write ? 2048 : 0)) + <u64>(bit >> 3);
      exit = (physRead(byte, 1) & (1 << (bit & 7))) != 0;
    }
  }
  if (!exit) return false;
  instrExit(write ? X.EXIT_WRMSR : X.EXIT_RDMSR, 0, 0);
  return true;
}

// Control-register accesses (SDM 26.1.3, qualification Table 28-3).
function crExit(n: u32, type: u32, reg: u32): bool {
  instrExit(X.EXIT_CR_ACCESS, <u64>(n | (type << 4) | (reg << 8)), 0);
  return true;
}
export function exitMovCr(toCr: bool, n: u32, reg: u32, v: u64): bool {
  const p = proc();
  if (toCr) {
    if (n == 0) { if (((v ^ rd(F.CR0_SHADOW)) & rd(F.CR0_MASK)) != 0) return crExit(0, 0, reg); return false; }
    if (n == 4) { if (((v ^ rd(F.CR4_SHADOW)) & rd(F.CR4_MASK)) != 0) return crExit(4, 0, reg); return false; }
    if (n == 3) {
      if ((p & PROC_CR3_LOAD) == 0) return false;
      const cnt = <u32>rd(F.CR3_TARGET_COUNT);
      for (let i: u32 = 0; i < cnt; i++) if (rd(F.CR3_TARGET0 + i * 2) == v) return false;
      return crExit(3, 0, reg);
    }
    if (n == 8 && (p & PROC_CR8_LOAD) != 0) return crExit(8, 0, reg);
    if (n == 8 && (p & VA.PROC_TPR_SHADOW) != 0) return VA.cr8Write(v);   // to VTPR (vapic.ts)
    return false;
  }
  if (n == 3 && (p & PROC_CR3_STORE) != 0) return crExit(3, 1, reg);
  if (n == 8 && (p & PROC_CR8_STORE) != 0) return crExit(8, 1, reg);
  return false;
}
// MOV from CR0/CR4 reads the read shadow for the bits L1 owns (SDM 26.3).
export function crRead(n: u32, v: u64): u64 {
  if (n == 0) { const m = rd(F.CR0_MASK); return (v & ~m) | (rd(F.CR0_SHADOW) & m); }
  if (n == 4) { const m = rd(F.CR4_MASK); return (v & ~m) | (rd(F.CR4_SHADOW) & m); }
  if (n == 8 && (proc() & VA.PROC_TPR_SHADOW) != 0) return VA.cr8Read();   // VTPR (vapic.ts)
  return v;
}
// A MOV to CR0/CR4 that did not exit leaves the bits L1 owns unchanged.
export function crWrite(n: u32, v: u64): u64 {
  if (n == 0) { const m = rd(F.CR0_MASK); return (v & ~m) | (S.cr0 & m); }
  if (n == 4) { const m = rd(F.CR4_MASK); return (v & ~m) | (S.cr4 & m); }
  return v;
}
// CLTS exits when L1 owns CR0.TS and its shadow has TS = 1; otherwise an owned TS is unchanged.
export function exitClts(): bool {
  const m = rd(F.CR0_MASK), sh = rd(F.CR0_SHADOW);
  if ((m & 8) != 0 && (sh & 8) != 0) return crExit(0, 2, 0);
  return false;
}
export function cltsOwned(): bool { return (rd(F.CR0_MASK) & 8) != 0; }

// MOV DR (qualification Table 28-4).
export function exitMovDr(toDr: bool, n: u32, reg: u32): bool {
  if ((proc() & PROC_MOV_DR) == 0) return false;
  instrExit(X.EXIT_DR_ACCESS, <u64>(n | (toDr ? 0 : 16) | (reg << 8)), 0);
  return true;
}

// Exceptions (SDM 26.2): the exception bitmap, #PF through the error-code mask/match.
export function exitException(vec: u32, err: u32, hasErr: bool): bool {
  if (vec == E.VEC_EPT) {
    // EPT violation / misconfiguration (SDM 29.3.3): qualification, guest-physical and
    // guest-linear addresses.
    F.vmcsWrite(F.GUEST_PHYSICAL_ADDR, E.eptGpa);
    if (E.eptExitReason == E.EXIT_EPT_VIOLATION && (E.eptQual & 0x80) != 0) F.vmcsWrite(F.GUEST_LINEAR_ADDR, E.eptGla);
    vmExit(E.eptExitReason, E.eptQual, 0, 0);
    return true;
  }
  if (vec == VA.VEC_APIC) return VA.apicExit(false);   // APIC-access VM exit (vapic.ts)
  if (vec > 31) return false;
  const bm = <u32>rd(F.EXCEPTION_BITMAP);
  let exit = (bm & (1 << vec)) != 0;
  if (vec == 14) {
    const match = (err & <u32>rd(F.PF_ERR_MASK)) == <u32>rd(F.PF_ERR_MATCH);
    exit = exit ? match : !match;
  }
  if (!exit) return false;
  // Interruption information: vector, type 3 (hardware exception), error code valid, valid.
  F.vmcsWrite(F.EXIT_INTR_INFO, <u64>(vec | (3 << 8) | (hasErr ? 0x800 : 0) | 0x80000000));
  if (hasErr) F.vmcsWrite(F.EXIT_INTR_ERROR, <u64>err);
  let qual: u64 = 0;
  if (vec == 14) qual = faultAddr;
  else if (vec == 1) qual = S.getDr(6) & 0x600f;
  vmExit(X.EXIT_EXCEPTION, qual, 0, 0);
  return true;
}
// EPT-violation #VE (secondary control 18, SDM 26.5.7): a pending EPT violation (VEC_EPT) whose
// deciding EPT entry has bit 63 ("suppress #VE") clear becomes a virtualization exception when
// CR0.PE = 1, no event is being delivered through the IDT, and the 32 bits at offset 4 of the
// virtualization-exception information area are 0. The area (an L1-physical page) receives what
// the VM exit would have saved (Table 26-1: exit reason 48 at 0, FFFFFFFFH at 4, qualification at
// 8, guest-linear address at 16, guest-physical address at 24, EPTP index at 32). Returns true:
// the caller (cpu/interrupts.ts deliverFault) then handles vector 20 like any exception (the
// exception bitmap, else delivery through L2's IDT, no error code).
export const VEC_VE: u32 = 20;
export function veConvert(): bool {
  if (E.eptExitReason != E.EXIT_EPT_VIOLATION || E.eptSuppressVe || !S.protMode || X.deliveringEvent()) return false;
  if ((proc() & C.PROC_ACTIVATE_SECONDARY) == 0 || (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_VE) == 0) return false;
  const a = rd(F.VE_INFO_ADDR);
  if (<u32>physRead(a + 4, 4) != 0) return false;
  physWrite(a, 4, <u64>E.EXIT_EPT_VIOLATION);
  physWrite(a + 4, 4, 0xffffffff);
  // The qualification an exit would have saved, incl. "NMI unblocking due to IRET" (bit 12).
  physWrite(a + 8, 8, E.eptQual | (X.iretNmiPending() ? 0x1000 : 0));
  physWrite(a + 16, 8, (E.eptQual & 0x80) != 0 ? E.eptGla : 0);
  physWrite(a + 24, 8, E.eptGpa);
  physWrite(a + 32, 2, rd(F.EPTP_INDEX) & 0xffff);
  return true;
}

// A #DB trap in L2 (single-step, data/I/O breakpoints; cpu/interrupts.ts singleStepTrap) with
// #DB in the exception bitmap: the DR6-format bits go into the exit qualification and DR6 is
// not modified (SDM 27.1, 28.2.1 Table 28-1); RIP is already past the instruction.
// An MTF VM exit due at the same boundary has priority over these traps: the #DB is recorded in
// the pending-debug-exceptions field instead (SDM 26.7.2 / 28.3.4).
export function exitDbTrap(bits: u32): bool {
  if (mtfDue()) {
    X.setPendingDbg(<u64>(bits & 0x400f));
    vmExit(X.EXIT_MTF, 0, 0, 0);
    return true;
  }
  if ((<u32>rd(F.EXCEPTION_BITMAP) & 2) == 0) return false;
  F.vmcsWrite(F.EXIT_INTR_INFO, <u64>(1 | (3 << 8) | 0x80000000));
  vmExit(X.EXIT_EXCEPTION, <u64>(bits & 0x600f), 0, 0);
  return true;
}
export function exitTripleFault(): bool { X.setIdtVectoring(0, 0); vmExit(X.EXIT_TRIPLE_FAULT, 0, 0, 0); return true; }

// A fault `nv` while delivering hardware exception `vec` in L2 (cpu/interrupts.ts deliverFault):
// the exit that follows (exception bitmap, EPT) reports `vec` in the IDT-vectoring
// information (SDM 28.2.4). EPT violations/misconfigurations exit here.
export function deliveredOk(): void { X.setIdtVectoring(0, 0); X.setIretNmi(false); }
// An interrupt (type 0), NMI (2) or software interrupt/exception (4-6) about to be delivered
// through L2's IDT: an exit its delivery causes (EPT violation, intercepted fault, triple
// fault) reports it as IDT-vectoring information (SDM 28.2.4), with the instruction length for
// types 4-6. deliveredOk() drops it once delivery completed.
export function noteEvent(vec: u32, type: u32): void {
  const len = type >= 4 ? <u32>(D.nextRip - D.instrStart) : 0;
  X.setIdtVectoring(vec | (type << 8) | 0x80000000, 0, len);
}
export function faultDuringDelivery(vec: u32, err: u32, hasErr: bool, nv: u32): bool {
  if (vec <= 31) X.setIdtVectoring(vec | (3 << 8) | (hasErr ? 0x800 : 0) | 0x80000000, err);
  if (nv == E.VEC_EPT) return exitException(nv, 0, false);
  if (nv == VA.VEC_APIC) return VA.apicExit(true);
  return false;
}

// External interrupts with "external-interrupt exiting" (RFLAGS.IF does not block them then,
// SDM 26.3). With "acknowledge interrupt on exit" the vector is taken and reported.
export function exitExtIntr(): bool {
  if ((<u32>rd(F.PIN_CONTROLS) & PIN_EXT_INTR) == 0) return false;
  let info: u32 = 0;
  if ((<u32>rd(F.EXIT_CONTROLS) & X.XC_ACK_INTR) != 0) {
    const v = intAck();
    if (v < 0) return false;
    if (VID.posted(<u32>v & 0xff)) return true;   // posted-interrupt notification (vid.ts)
    info = (<u32>v & 0xff) | 0x80000000;
  }
  F.vmcsWrite(F.EXIT_INTR_INFO, <u64>info);   // a halted L2 is saved in the HLT state
  vmExit(X.EXIT_EXT_INTR, 0, 0, 0);
  return true;
}
export function extIntrExiting(): bool { return (<u32>rd(F.PIN_CONTROLS) & PIN_EXT_INTR) != 0; }

// VMX instructions in non-root operation (SDM 26.1.2): unconditional, with the
// VM-exit instruction-information field (Tables 28-13/28-14) and the displacement as the
// qualification for memory operands. The operand encoding is re-read from the instruction.
export function exitVmxInstr(reason: u32): void {
  let info: u32 = 0;
  let qual: u64 = 0;
  if (reason != X.EXIT_VMCALL && reason != X.EXIT_VMLAUNCH && reason != X.EXIT_VMRESUME && reason != X.EXIT_VMXOFF) {
    const r = operandInfo();
    info = r; qual = dispOut;
  }
  instrExit(reason, qual, info);
}

let dispOut: u64 = 0;
function codeByte(i: u64): u32 {
  const off = D.instrStart + i;
  const lin = S.code64 ? off : (S.segBase(S.CS) + off) & 0xffffffff;
  const b = <u32>readLin(lin, 1);
  if (faultPending) clearFault();
  return b;
}
// Instruction information of the ModRM operand (already decoded by the handler).
function operandInfo(): u32 {
  const asz: u32 = D.adSize == 2 ? 0 : (D.adSize == 4 ? 1 : 2);
  let info: u32 = asz << 7;
  const isRw = D.opcode == 0x178 || D.opcode == 0x179 || D.opcode == 0x138;   // + INVEPT/INVVPID
  if (isRw) info |= (D.modReg & 15) << 28;
  dispOut = 0;
  if (D.modMod == 3) return info | (1 << 10) | ((D.modRm & 15) << 3);
  info |= D.eaSeg << 15;
  // Locate the ModRM byte: skip prefixes and the two opcode bytes.
  let i: u64 = 0;
  for (; i < 14; i++) {
    const b = codeByte(i);
    const pfx = b == 0x66 || b == 0x67 || b == 0xf2 || b == 0xf3 || b == 0xf0 || b == 0x2e || b == 0x36
      || b == 0x3e || b == 0x26 || b == 0x64 || b == 0x65 || (S.code64 && (b & 0xf0) == 0x40);
    if (!pfx) break;
  }
  i += D.opcode == 0x138 ? 3 : 2;   // 0F xx or 0F 38 xx
  const modrm = codeByte(i++);
  const mod = modrm >> 6, rm = modrm & 7;
  let baseReg: i32 = -1, idxReg: i32 = -1, scale: u32 = 0;
  let disp: u64 = 0;
  if (D.adSize == 2) {
    // SDM Vol.2 Table 2-1: BX+SI BX+DI BP+SI BP+DI SI DI BP BX.
    if (!(mod == 0 && rm == 6)) {
      baseReg = rm < 2 || rm == 7 ? 3 : (rm < 4 || rm == 6 ? 5 : (rm == 4 ? 6 : 7));
      if (rm < 4) idxReg = (rm & 1) != 0 ? 7 : 6;
    }
    if (mod == 0 && rm == 6) { disp = <u64>(codeByte(i) | (codeByte(i + 1) << 8)); }
    else if (mod == 1) disp = <u64><i64><i8>codeByte(i);
    else if (mod == 2) disp = <u64><i64><i16>(codeByte(i) | (codeByte(i + 1) << 8));
  } else {
    const rexB: u32 = D.rexB, rexX: u32 = D.rexX;
    let noBaseDisp32 = false;
    if (rm == 4) {
      const sib = codeByte(i++);
      scale = sib >> 6;
      const ix = ((sib >> 3) & 7) | rexX;
      if (ix != 4) idxReg = <i32>ix;
      if ((sib & 7) == 5 && mod == 0) noBaseDisp32 = true;
      else baseReg = <i32>((sib & 7) | rexB);
    } else if (rm == 5 && mod == 0) {
      noBaseDisp32 = true;   // disp32 (RIP-relative in 64-bit mode: reported without a base)
    } else baseReg = <i32>(rm | rexB);
    if (noBaseDisp32 || mod == 2) {
      disp = <u64><i64><i32>(codeByte(i) | (codeByte(i + 1) << 8) | (codeByte(i + 2) << 16) | (codeByte(i + 3) << 24));
    } else if (mod == 1) disp = <u64><i64><i8>codeByte(i);
  }
  info |= scale;
  if (idxReg >= 0) info |= <u32>idxReg << 18; else info |= 1 << 22;
  if (baseReg >= 0) info |= <u32>baseReg << 23; else info |= 1 << 27;
  dispOut = disp;
  return info;
}

// The VMX-preemption timer (SDM 26.5.1) counts down by 1 each time bit X of the TSC changes,
// X = IA32_VMX_MISC[4:0] (caps.ts PREEMPT_RATE), in C0 and in HLT alike. Its TSC is the raw
// time-stamp counter (host time at cpu/tsc.ts TSC_GHZ, unaffected by TSC offsetting or
// writes to IA32_TSC); V.timerDeadline is the raw TSC value at which it reaches 0.
export function timerNow(): u64 { return <u64>(nowNs() * TSC_GHZ); }
export function armTimer(value: u32): void {
  V.setTimerDeadline(timerNow() + (<u64>value << <u64>C.PREEMPT_RATE));
}
// The value VMREAD would see now (saved on exits with "save VMX-preemption timer value").
export function timerValue(): u64 {
  const now = timerNow();
  return now >= V.timerDeadline ? 0 : (V.timerDeadline - now) >> <u64>C.PREEMPT_RATE;
}
// For the host's scheduler (index.ts vmxTimerNs): host time in ns at which the timer of the
// running L2 expires, or -1. A halted L2 returns to the host (run() = HLT), which must call
// run() again by then.
export function timerDeadlineNs(): f64 {
  if (!V.nonRoot || !V.timerArmed) return -1;
  return <f64>V.timerDeadline / TSC_GHZ;
}

// Between L2 instructions (cpu/run.ts via checkInterrupts while V.vmxPoll): the
// VMX-preemption timer (reason 52), the monitor trap flag (37) and interrupt-window exiting
// (reason 7: RFLAGS.IF = 1 and no STI / MOV SS blocking, which run.ts has already honoured).
// A monitor-trap-flag exit is due at this boundary (the control, or a pending MTF VM exit
// injected at VM entry, SDM 27.6.? / 26.2.1.3 type 7).
function mtfDue(): bool {
  return ((proc() & PROC_MTF) != 0 || V.mtfForced) && S.icount + inFlight() >= V.mtfAt;
}
export function pollExits(): bool {
  if (!V.vmxPoll) return false;
  // A pending INIT (SDM 25.2, reason 3) ranks above the preemption timer and MTF (SDM 6.9).
  if (V.initPending) {
    V.setInitPending(false);
    vmExit(X.EXIT_INIT, 0, 0, 0);
    return true;
  }
  if (VA.pollApicWrite()) return true;   // APIC-write emulation (vapic.ts)
  if (V.timerArmed && timerNow() >= V.timerDeadline) {
    vmExit(X.EXIT_PREEMPT_TIMER, 0, 0, 0);   // a halted L2 is saved in the HLT state
    return true;
  }
  if (mtfDue()) {
    vmExit(X.EXIT_MTF, 0, 0, 0);
    return true;
  }
  // NMI-window exiting (reason 8): no virtual-NMI blocking and no MOV-SS blocking (SDM 26.7.6).
  if ((proc() & PROC_NMI_WINDOW) != 0 && !nmiBlocked && !(intShadow && movSsShadow)) {
    vmExit(X.EXIT_NMI_WINDOW, 0, 0, 0);
    return true;
  }
  if ((proc() & PROC_INTR_WINDOW) != 0 && (getRflags() & 0x200) != 0) {
    vmExit(X.EXIT_INTR_WINDOW, 0, 0, 0);
    return true;
  }
  if (VA.pollVirq()) return true;   // virtual-interrupt delivery (vid.ts)
  return false;
}

// How far the interpreter's fast loop (cpu/run.ts) may run before pollExits must look again:
// it returns the remaining budget `left` at which to stop. Interrupt-window and monitor-trap
// exits need a look after every instruction; the preemption timer is looked at every
// TIMER_POLL instructions, or at once when it has run out (the host also ends its slices at
// the deadline, timerDeadlineNs).
const TIMER_POLL: u32 = 256;
export function fastLoopFloor(left: u32): u32 {
  if (!V.vmxPoll) return 0;
  if ((proc() & (PROC_MTF | PROC_INTR_WINDOW | PROC_NMI_WINDOW)) != 0 || V.mtfForced || V.initPending) return left;
  if (VID.wakePending()) return left;   // a recognized virtual interrupt waits for RFLAGS.IF (vid.ts)
  if (!V.timerArmed) return 0;
  if (timerNow() >= V.timerDeadline) return left;
  return left > TIMER_POLL ? left - TIMER_POLL : 0;
}

// MONITOR / MWAIT with their controls (SDM 26.1.3): reasons 39 / 36. The MWAIT qualification's
// bit 0 says whether the monitor hardware was armed (SDM 28.2.1).
export function exitMonitor(): bool {
  if ((proc() & PROC_MONITOR) == 0) return false;
  instrExit(X.EXIT_MONITOR, 0, 0);
  return true;
}
export function exitMwait(armed: bool): bool {
  if ((proc() & PROC_MWAIT) == 0) return false;
  instrExit(X.EXIT_MWAIT, armed ? 1 : 0, 0);
  return true;
}
// PAUSE in L2 (SDM 26.1.3): "PAUSE exiting" exits (reason 40) at any CPL and has priority;
// otherwise "PAUSE-loop exiting" (secondary control 10) applies at CPL 0 only. Time is the raw
// TSC (timerNow: a counter at the TSC's rate). A PAUSE more than PLE_Gap ticks after the
// previous CPL-0 PAUSE, or the first CPL-0 PAUSE after VM entry, starts a new loop; a PAUSE
// more than PLE_Window ticks after the start of the current loop exits (reason 40).
export const PLE_GAP: u32 = 0x4020, PLE_WINDOW: u32 = 0x4022;
let pleFresh = true;
let pleLast: u64 = 0, pleStart: u64 = 0;
export function pleReset(): void { pleFresh = true; }
export function exitPause(): bool {
  const p = proc();
  if ((p & PROC_PAUSE) != 0) {
    instrExit(X.EXIT_PAUSE, 0, 0);
    return true;
  }
  if (S.cpl != 0 || (p & C.PROC_ACTIVATE_SECONDARY) == 0 || (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_PLE) == 0) return false;
  const now = timerNow();
  let exit = false;
  if (pleFresh || now - pleLast > rd(PLE_GAP)) { pleStart = now; pleFresh = false; }
  else exit = now - pleStart > rd(PLE_WINDOW);
  pleLast = now;
  if (!exit) return false;
  instrExit(X.EXIT_PAUSE, 0, 0);
  return true;
}
// RDRAND / RDSEED with their secondary controls: reasons 57 / 61; instruction information:
// destination register in bits 6:3, operand size in bits 12:11 (0 16, 1 32, 2 64 bits).
export function exitRdrand(seed: bool): bool {
  if ((proc() & C.PROC_ACTIVATE_SECONDARY) == 0) return false;
  if ((<u32>rd(F.PROC2_CONTROLS) & (seed ? C.PROC2_RDSEED : C.PROC2_RDRAND)) == 0) return false;
  const s = D.opSize;
  const info = ((<u32>D.modRm & 15) << 3) | ((s == 2 ? 0 : (s == 4 ? 1 : 2)) << 11);
  instrExit(seed ? X.EXIT_RDSEED : X.EXIT_RDRAND, 0, info);
  return true;
}
// Descriptor-table exiting (secondary control 2), after the CPL / UMIP checks. `ident` is the
// instruction identity of bits 29:28: SGDT 0, SIDT 1, LGDT 2, LIDT 3 (reason 46, GDTR/IDTR) or
// SLDT 0, STR 1, LLDT 2, LTR 3 (reason 47, LDTR/TR). Qualification: the displacement of a
// memory operand (SDM 28.2.1); instruction information as Tables 28-10 / 28-11.
export function exitDescTable(ident: u32, ldtTr: bool): bool {
  if ((proc() & C.PROC_ACTIVATE_SECONDARY) == 0 || (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_DESC_TABLE) == 0) return false;
  let info = operandInfo() | (ident << 28);
  let qual = dispOut;
  if (D.modMod == 3) qual = 0;
  if (!ldtTr && D.opSize != 2) info |= 1 << 11;                  // operand size 32 (16 = 0)
  instrExit(ldtTr ? X.EXIT_LDTR_TR : X.EXIT_GDTR_IDTR, qual, info);
  return true;
}

// Virtual NMIs (SDM 25.6.1, 26.3): with the pin control, the core's NMI blocking of L2 is the
// virtual-NMI blocking (set by an injected NMI, cleared by IRET), and real NMIs exit regardless.
export function virtualNmis(): bool { return (<u32>rd(F.PIN_CONTROLS) & PIN_VIRT_NMI) != 0; }

// IRET in L2 (SDM 26.3): "NMI exiting" = 0: NMI blocking is the real one and IRET removes it;
// "NMI exiting" = 1 and "virtual NMIs" = 0: IRET does not affect NMI blocking; both 1: IRET
// removes virtual-NMI blocking. A task-switching IRET is a VM exit (reason 9) and changes
// nothing.
export function iretUnblocksNmi(taskSwitch: bool): bool {
  if (taskSwitch) return false;
  const pin = <u32>rd(F.PIN_CONTROLS);
  return (pin & PIN_NMI) == 0 || (pin & PIN_VIRT_NMI) != 0;
}
// The IRET unblocked NMIs: a VM exit caused by a fault of this IRET (exception bitmap, EPT
// violation, PML full) reports "NMI unblocking due to IRET" (exit.ts); dropped when the IRET
// completes or its fault is delivered in L2 (deliveredOk).
export function noteIretNmiUnblock(): void { X.setIretNmi(true); }
export function iretDone(): void { X.setIretNmi(false); }

// LMSW (SDM 26.1.3): exits when it would change a CR0 bit (PE, MP, EM, TS) that L1 owns to a
// value other than the shadow's (PE can only be set). Qualification: type 3, operand type,
// source data (Table 28-3).
export function exitLmsw(src: u64): bool {
  const m = rd(F.CR0_MASK) & 0xf, sh = rd(F.CR0_SHADOW);
  const exit = ((src ^ sh) & m & 0xe) != 0 || ((m & 1) != 0 && (sh & 1) == 0 && (src & 1) != 0);
  if (!exit) return false;
  const qual = <u64>(3 << 4) | (D.modMod != 3 ? 0x40 : 0) | ((src & 0xffff) << 16);
  instrExit(X.EXIT_CR_ACCESS, qual, 0);
  return true;
}
// INVLPG with "INVLPG exiting": qualification = the linear address.
export function exitInvlpg(lin: u64): bool {
  if ((proc() & PROC_INVLPG) == 0) return false;
  instrExit(X.EXIT_INVLPG, lin, 0);
  return true;
}
// INVPCID (SDM 25.6.2, 26.1.3): #UD in L2 unless "enable INVPCID" (secondary control 12); with it,
// "INVLPG exiting" makes INVPCID exit (reason 58) with the displacement as the qualification
// (SDM 28.2.1) and the instruction information of INVEPT/INVPCID/INVVPID (reg2 = the type
// register, bits 31:28).
function invpcidOn(): bool {
  return (proc() & C.PROC_ACTIVATE_SECONDARY) != 0 && (<u32>rd(F.PROC2_CONTROLS) & C.PROC2_INVPCID) != 0;
}
export function invpcidUd(): bool { return !invpcidOn(); }
export function exitInvpcid(): bool {
  if ((proc() & PROC_INVLPG) == 0 || !invpcidOn()) return false;
  const info = operandInfo();
  instrExit(X.EXIT_INVPCID, dispOut, info);
  return true;
}
// INT3 / INTO (type 6, software exception) and INT1 (type 5) against the exception bitmap:
// interruption information, instruction length; the saved RIP is the instruction's.
export function exitSoftException(vec: u32, type: u32): bool {
  if ((<u32>rd(F.EXCEPTION_BITMAP) & (1 << vec)) == 0) return false;
  F.vmcsWrite(F.EXIT_INTR_INFO, <u64>(vec | (type << 8) | 0x80000000));
  instrExit(X.EXIT_EXCEPTION, 0, 0);
  return true;
}

// NMIs with "NMI exiting" (SDM 26.2): exit reason 0, interruption type 2 (NMI), vector 2.
// L1 resumes with NMIs blocked (its handler's IRET unblocks them), exit.ts.
export function exitNmi(): bool {
  if ((<u32>rd(F.PIN_CONTROLS) & PIN_NMI) == 0) return false;
  F.vmcsWrite(F.EXIT_INTR_INFO, <u64>(2 | (2 << 8) | 0x80000000));
  X.setNmiExit();
  vmExit(X.EXIT_EXCEPTION, 0, 0, 0);
  return true;
}

// Task switches (SDM 26.1.2, unconditional): qualification = TSS selector | source << 30
// (0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT). `reason` is sys_task.ts TS_*
// (JMP 0, CALL 1, INT 2, IRET 3).
export function exitTaskSwitch(sel: u32, reason: u32): bool {
  const src: u32 = reason == 0 ? 2 : (reason == 1 ? 0 : (reason == 2 ? 3 : 1));
  const qual = <u64>(sel & 0xffff) | (<u64>src << 30);
  if (src == 3) vmExit(X.EXIT_TASK_SWITCH, qual, 0, 0);
  else instrExit(X.EXIT_TASK_SWITCH, qual, 0);
  return true;
}

// Shared VMX spec harness: a 64-bit L1 (the spec) with VMXON done, a VMCS for a 64-bit L2 that
// shares L1's page tables, and helpers to run L1/L2 code and check VM exits.
import * as S from "../../assembly/cpu/state";
import { setSegment, setCr, setNested } from "../../assembly/index";
import { setup, poke, w32, w64, r32, r64, desc, AR_CODE64_0, AR_DATA32_0 } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { writeMsr } from "../../assembly/cpu/msr";
import { deliverFault, checkInterrupts, shutdown } from "../../assembly/cpu/interrupts";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { VMCS_REVISION } from "../../assembly/vmx/caps";

export const VMXON_PA: u32 = 0x20000, VMCS_A: u32 = 0x21000, PTR: u32 = 0x3000;
export const CODE: u32 = 0x7c00, HOST_RIP: u32 = 0x7d00, GUEST_RIP: u32 = 0x8000;
export const IOBM_A: u32 = 0x23000, IOBM_B: u32 = 0x24000, MSRBM: u32 = 0x25000;
export const STATUS: u64 = 0x8d5, ZF: u64 = 0x40;

export function exec(bytes: u8[]): u32 {
  poke(CODE, bytes);
  S.setRip(CODE);
  step();
  if (faultPending) { const v = faultVector + 1; clearFault(); return v; }
  return 0;
}
// One L2 instruction at GUEST_RIP (entered with VMLAUNCH before).
export function guest(bytes: u8[]): u32 {
  poke(GUEST_RIP, bytes);
  step();
  if (faultPending) { const v = faultVector + 1; return v; }   // left pending for deliverFault
  return 0;
}

// L1: 64-bit, CPL0, identity map of 2 MiB, in VMX root with VMCS_A current and a complete,
// valid VMCS for a 64-bit L2 at GUEST_RIP.
export function l1(): void {
  setNested(true);
  setup();
  w64(0x500, 0);
  w64(0x508, desc(0, 0xfffff, 0x9b, 0xc));
  w64(0x510, desc(0, 0xfffff, 0x93, 0xc));
  w64(0x518, desc(0, 0xfffff, 0x9b, 0xa));
  w64(0x540, desc(0x700, 0x67, 0x8b, 0)); w64(0x548, 0);
  S.setGdtr(0x500, 0x4f);
  w64(0x10000, 0x11007); w64(0x11000, 0x12007); w64(0x12000, 0x87);
  setCr(4, 0x2020); setCr(3, 0x10000); setCr(0xc0000080, 0x500); setCr(0, 0x80000031);
  setSegment(S.CS, 0x18, 0, 0xffffffff, AR_CODE64_0);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32_0);
  setSegment(S.TR, 0x40, 0x700, 0x67, 0x8b);
  S.setReg64(S.RSP, 0x9000);
  writeMsr(0x3a, 5);
  w32(VMXON_PA, VMCS_REVISION); w32(VMCS_A, VMCS_REVISION);
  w64(PTR, VMXON_PA); S.setReg64(S.RAX, PTR);
  expect(exec([0xf3, 0x0f, 0xc7, 0x30])).toBe(0);          // VMXON
  w64(PTR, VMCS_A);
  expect(exec([0x66, 0x0f, 0xc7, 0x30])).toBe(0);          // VMCLEAR
  expect(exec([0x0f, 0xc7, 0x30])).toBe(0);                // VMPTRLD
  // Controls: the TRUE must-be-1 bits, 64-bit host, IA-32e guest.
  wr(F.PIN_CONTROLS, 0x16);
  wr(F.PROC_CONTROLS, 0x04006172);
  wr(F.EXIT_CONTROLS, 0x00036dfb | 0x200);
  wr(F.ENTRY_CONTROLS, 0x000011fb | 0x200);
  wr(F.VMCS_LINK_POINTER, 0xffffffffffffffff);
  // Host state = L1's current state, resuming at HOST_RIP.
  wr(F.HOST_CR0, S.cr0); wr(F.HOST_CR3, S.cr3); wr(F.HOST_CR4, S.cr4);
  wr(F.HOST_SEL0 + 0, 0x10); wr(F.HOST_SEL0 + 2, 0x18); wr(F.HOST_SEL0 + 4, 0x10);
  wr(F.HOST_SEL0 + 6, 0x10); wr(F.HOST_SEL0 + 8, 0x10); wr(F.HOST_SEL0 + 10, 0x10);
  wr(F.HOST_TR_SEL, 0x40); wr(F.HOST_TR_BASE, 0x700);
  wr(F.HOST_GDTR_BASE, 0x500); wr(F.HOST_IDTR_BASE, 0x1000);
  wr(F.HOST_RSP, 0x9000); wr(F.HOST_RIP, HOST_RIP);
  // Guest state: 64-bit, flat, same GDT and page tables.
  wr(F.GUEST_CR0, S.cr0); wr(F.GUEST_CR3, S.cr3); wr(F.GUEST_CR4, S.cr4); wr(F.GUEST_DR7, 0x400);
  for (let s: u32 = 0; s < 6; s++) {
    wr(F.GUEST_SEL0 + s * 2, s == S.CS ? 0x18 : 0x10);
    wr(F.GUEST_LIMIT0 + s * 2, 0xffffffff);
    wr(F.GUEST_AR0 + s * 2, s == S.CS ? AR_CODE64_0 : AR_DATA32_0);
    wr(F.GUEST_BASE0 + s * 2, 0);
  }
  wr(F.GUEST_AR0 + 12, 0x10000);                             // LDTR unusable
  wr(F.GUEST_SEL0 + 14, 0x40); wr(F.GUEST_LIMIT0 + 14, 0x67); wr(F.GUEST_AR0 + 14, 0x8b); wr(F.GUEST_BASE0 + 14, 0x700);
  wr(F.GUEST_GDTR_BASE, 0x500); wr(F.GUEST_GDTR_LIMIT, 0x4f);
  wr(F.GUEST_IDTR_BASE, 0x1000); wr(F.GUEST_IDTR_LIMIT, 0xfff);
  wr(F.GUEST_RSP, 0x9800); wr(F.GUEST_RIP, GUEST_RIP); wr(F.GUEST_RFLAGS, 2);
}
export function launch(): void {
  expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
  expect(V.nonRoot).toBe(true);
  expect(S.rip).toBe(GUEST_RIP);
}
export function resume(nextRip: u64): void {
  wr(F.GUEST_RIP, nextRip);
  expect(exec([0x0f, 0x01, 0xc3])).toBe(0);
  expect(V.nonRoot).toBe(true);
}
export function exited(reason: u64): void {
  expect(V.nonRoot).toBe(false);
  expect(rd(F.EXIT_REASON)).toBe(reason);
  expect(S.rip).toBe(HOST_RIP);
  expect(S.getReg64(S.RSP)).toBe(0x9000);
}

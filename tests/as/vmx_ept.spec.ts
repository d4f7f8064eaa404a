// EPT and VPID: L1 (this spec) runs a 64-bit L2 on its own page tables through an EPT built
// here; translations, violations with their qualification, misconfigurations, execute-only
// pages, paging-structure accesses, INVEPT/INVVPID and TLB tags.
import * as S from "../../assembly/cpu/state";
import { setSegment, setCr, setNested, setIntrLine } from "../../assembly/index";
import { setup, poke, w32, w64, r32, r64, desc, AR_CODE64_0, AR_DATA32_0 } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { writeMsr } from "../../assembly/cpu/msr";
import { deliverFault, checkInterrupts, shutdown } from "../../assembly/cpu/interrupts";
import { portOut } from "../../assembly/host";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { VMCS_REVISION } from "../../assembly/vmx/caps";
import { tlbTag } from "../../assembly/mmu/tlb";
function tlbTagNow(): u32 { return tlbTag; }

import { VMXON_PA, VMCS_A, PTR, CODE, HOST_RIP, GUEST_RIP, IOBM_A, IOBM_B, MSRBM, STATUS, ZF, exec, guest, l1, launch, resume, exited } from "./vmx_harness";


const EPT_PML4: u32 = 0x30000, EPT_PDPT: u32 = 0x31000, EPT_PD: u32 = 0x32000, EPT_PT: u32 = 0x33000, EPT_PT0: u32 = 0x34000;
const EPTP: u64 = EPT_PML4 | 6 | (3 << 3);
const WB: u64 = 6 << 3;

// EPT: GPA 0-2M identity (2M page, RWX); GPA 2M+4K*i through EPT_PT:
//   0x200000 -> 0x300000 read-only, 0x201000 not present, 0x202000 write-only (misconfigured),
//   0x203000 -> 0x303000 execute-only, 0x204000 -> 0x304000 RWX.
function buildEpt(): void {
  w64(EPT_PML4, EPT_PDPT | 7);
  w64(EPT_PDPT, EPT_PD | 7);
  w64(EPT_PD, 0 | 7 | WB | 0x80);
  w64(EPT_PD + 8, EPT_PT | 7);
  w64(EPT_PT + 0, 0x300000 | 1 | WB);
  w64(EPT_PT + 16, 0x302000 | 2 | WB);
  w64(EPT_PT + 24, 0x303000 | 4 | WB);
  w64(EPT_PT + 32, 0x304000 | 7 | WB);
  // L1's (= L2's) page tables also map linear 2M-4M to physical 2M-4M.
  w64(0x12008, 0x200087);
}
function enableEpt(vpid: bool): void {
  buildEpt();
  wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000);
  wr(F.PROC2_CONTROLS, vpid ? 0x22 : 0x2);
  wr(F.EPT_POINTER, EPTP);
  if (vpid) wr(F.VIRTUAL_PROCESSOR_ID, 5);
}

describe("EPT", () => {
  it("translates L2-physical through EPT and reports violations with their qualification", () => {
    l1();
    enableEpt(false);
    w32(0x300010, 0x11223344);
    launch();
    S.setReg64(S.RAX, 0x200010);
    expect(guest([0x8b, 0x18])).toBe(0);                      // MOV EBX, [RAX]: GPA 0x200010 -> 0x300010
    expect(S.getReg64(S.RBX)).toBe(0x11223344);
    S.setRip(GUEST_RIP);
    expect(guest([0x89, 0x18])).toBe(256 + 1);                // MOV [RAX], EBX: read-only in EPT
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x18a);             // write; R; linear valid; final translation
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x200010);
    expect(rd(F.GUEST_LINEAR_ADDR)).toBe(0x200010);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP);
    expect(r32(0x300010)).toBe(0x11223344);                   // nothing written
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x201008);
    expect(guest([0x8b, 0x18])).toBe(256 + 1);                // not present
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x181);
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x201008);
    resume(GUEST_RIP);
    S.setReg64(S.RAX, 0x202000);
    expect(guest([0x8b, 0x18])).toBe(256 + 1);                // write-only entry: misconfiguration
    deliverFault();
    exited(49);
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x202000);
    expect(V.nonRoot).toBe(false);
  });
  it("execute-only pages run but cannot be read", () => {
    l1();
    enableEpt(false);
    poke(0x303000, [0xb8, 0x2a, 0, 0, 0]);                   // MOV EAX, 42 (at GPA 0x203000)
    wr(F.GUEST_RIP, 0x203000);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(true);
    step();
    expect(faultPending).toBe(false);
    expect(S.getReg64(S.RAX)).toBe(42);
    expect(S.rip).toBe(0x203005);
    S.setRip(GUEST_RIP);
    S.setReg64(S.RAX, 0x203000);
    expect(guest([0x8b, 0x18])).toBe(256 + 1);
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x1a1);             // read; X only; linear valid, final
  });
  it("reports a violation on the guest's paging-structure access (qualification bit 8 = 0)", () => {
    l1();
    enableEpt(false);
    // GPA 0-2M through 4K EPT entries, with the page holding L2's PDPT (0x11000) absent.
    w64(EPT_PD, EPT_PT0 | 7);
    for (let i: u32 = 0; i < 512; i++) w64(EPT_PT0 + i * 8, i == 0x11 ? 0 : (<u64>i << 12) | 7 | WB);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(true);
    step();                                                   // the fetch at 0x8000 walks L2's tables
    expect(faultPending).toBe(true);
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x81);              // read of a paging entry, linear valid
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x11000);
    expect(rd(F.GUEST_LINEAR_ADDR)).toBe(GUEST_RIP);
  });
  it("with EPT A/D flags the paging-structure violation reports read and write (bits 0, 1)", () => {
    l1();
    enableEpt(false);
    wr(F.EPT_POINTER, EPTP | 0x40);                           // EPTP bit 6: accessed/dirty flags
    w64(EPT_PD, EPT_PT0 | 7);
    for (let i: u32 = 0; i < 512; i++) w64(EPT_PT0 + i * 8, i == 0x11 ? 0 : (<u64>i << 12) | 7 | WB);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    step();
    expect(faultPending).toBe(true);
    deliverFault();
    exited(48);
    expect(rd(F.EXIT_QUALIFICATION)).toBe(0x83);              // read + write, linear valid, not final
    expect(rd(F.GUEST_PHYSICAL_ADDR)).toBe(0x11000);
  });
  it("checks the EPTP and the VPID at VM entry", () => {
    l1();
    enableEpt(true);
    wr(F.EPT_POINTER, EPT_PML4 | 6 | (4 << 3));               // 5-level walk: not offered
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.EPT_POINTER, EPTP);
    wr(F.VIRTUAL_PROCESSOR_ID, 0);                            // VPID 0 with "enable VPID"
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.VIRTUAL_PROCESSOR_ID, 5);
    launch();
  });
  it("keeps TLB entries across VM entry and exit with VPID (tagged), flushes without", () => {
    for (let pass = 0; pass < 2; pass++) {
      const vpid = pass == 0;
      l1();
      enableEpt(vpid);
      w32(0x5000, 0xaaaa); w32(0x205000, 0xbbbb);
      w64(0x12010, 0x87);                                     // L1 linear 4M-6M -> physical 0-2M
      S.setReg64(S.RAX, 0x405000);
      expect(exec([0x8b, 0x18])).toBe(0);                     // L1 reads 0x405000: TLB filled (tag 0)
      expect(S.getReg64(S.RBX)).toBe(0xaaaa);
      launch();
      expect(tlbTagNow()).toBe(vpid ? 1 : 0);
      expect(guest([0x0f, 0xa2])).toBe(0);
      exited(10);
      expect(tlbTagNow()).toBe(0);
      // L1 changes the PDE without INVLPG: with VPID its TLB entry survived the entry and exit
      // (it still reads the old frame, as hardware may); without VPID they flushed it.
      w64(0x12010, 0x200087);
      S.setReg64(S.RAX, 0x405000);
      expect(exec([0x8b, 0x18])).toBe(0);
      expect(S.getReg64(S.RBX)).toBe(vpid ? 0xaaaa : 0xbbbb);
    }
  });
  it("INVEPT / INVVPID in VMX root: types and VMfail(28)", () => {
    l1();
    w64(0x3200, EPTP); w64(0x3208, 0);
    S.setReg64(S.RAX, 0x3200);
    S.setReg64(S.RCX, 2);
    expect(exec([0x66, 0x0f, 0x38, 0x80, 0x08])).toBe(0);    // INVEPT RCX, [RAX]: global
    expect(getRflags() & STATUS).toBe(0);
    S.setReg64(S.RCX, 1);
    expect(exec([0x66, 0x0f, 0x38, 0x80, 0x08])).toBe(0);    // single-context, valid EPTP
    expect(getRflags() & STATUS).toBe(0);
    S.setReg64(S.RCX, 3);
    expect(exec([0x66, 0x0f, 0x38, 0x80, 0x08])).toBe(0);
    expect(getRflags() & STATUS).toBe(ZF);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(28);
    w64(0x3200, 0);                                           // VPID 0
    S.setReg64(S.RCX, 1);
    expect(exec([0x66, 0x0f, 0x38, 0x81, 0x08])).toBe(0);    // INVVPID single-context, VPID 0
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(28);
    S.setReg64(S.RCX, 2);
    expect(exec([0x66, 0x0f, 0x38, 0x81, 0x08])).toBe(0);    // all-context
    expect(getRflags() & STATUS).toBe(0);
    expect(exec([0x66, 0x0f, 0x38, 0x81, 0xc8])).toBe(7);    // register operand: #UD
    // In L2: INVEPT exits (reason 50) with the type register in reg2.
    launch();
    S.setReg64(S.RAX, 0x3200);
    expect(guest([0x66, 0x0f, 0x38, 0x80, 0x08])).toBe(0);
    exited(50);
    expect(rd(F.EXIT_INSTR_INFO)).toBe((2 << 7) | (3 << 15) | (1 << 22) | (1 << 28));
  });
});

describe("unrestricted guest", () => {
  it("runs a real-mode L2 under EPT; without the control the same state fails entry", () => {
    l1();
    buildEpt();
    wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000);
    wr(F.PROC2_CONTROLS, 0x80);                               // unrestricted without EPT
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(rd(F.VM_INSTRUCTION_ERROR)).toBe(7);
    wr(F.PROC2_CONTROLS, 0x82);
    wr(F.EPT_POINTER, EPTP);
    wr(F.ENTRY_CONTROLS, 0x000011fb);                         // not IA-32e
    wr(F.GUEST_CR0, 0x30); wr(F.GUEST_CR3, 0); wr(F.GUEST_CR4, 0x2000);
    for (let s: u32 = 0; s < 6; s++) {
      wr(F.GUEST_SEL0 + s * 2, 0); wr(F.GUEST_BASE0 + s * 2, 0); wr(F.GUEST_LIMIT0 + s * 2, 0xffff);
      wr(F.GUEST_AR0 + s * 2, s == S.CS ? 0x9b : 0x93);
    }
    wr(F.GUEST_AR0 + 14, 0x8b);
    poke(GUEST_RIP, [0xb8, 0x34, 0x12, 0x0f, 0xa2]);         // MOV AX, 0x1234 (16-bit); CPUID
    S.setReg64(S.RAX, 0xffff0000);
    expect(exec([0x0f, 0x01, 0xc2])).toBe(0);
    expect(V.nonRoot).toBe(true);
    expect(S.protMode).toBe(false);
    step();
    expect(faultPending).toBe(false);
    expect(S.getReg64(S.RAX)).toBe(0xffff1234);
    step();
    exited(10);
    expect(rd(F.GUEST_RIP)).toBe(GUEST_RIP + 3);
    expect(rd(F.EXIT_INSTR_LEN)).toBe(2);
    expect(rd(F.ENTRY_CONTROLS) & 0x200).toBe(0);             // IA-32e mode guest saved as 0
    // Same real-mode state without "unrestricted guest": VM-entry failure (CR0.PE/PG fixed).
    wr(F.PROC2_CONTROLS, 0x2);
    wr(F.GUEST_RIP, GUEST_RIP);
    expect(exec([0x0f, 0x01, 0xc3])).toBe(0);
    exited(0x80000021);
  });
});

describe("EPT accessed and dirty flags", () => {
  it("sets A on every entry used, D on the leaf for writes (EPTP bit 6)", () => {
    l1();
    enableEpt(false);
    wr(F.EPT_POINTER, EPTP | 0x40);
    launch();
    S.setReg64(S.RAX, 0x204010);
    expect(guest([0x8b, 0x18])).toBe(0);                      // read GPA 0x204010
    expect(r64(EPT_PML4) & 0x300).toBe(0x100);
    expect(r64(EPT_PD + 8) & 0x300).toBe(0x100);
    expect(r64(EPT_PT + 32) & 0x300).toBe(0x100);             // leaf: accessed, not dirty
    expect(r64(EPT_PD) & 0x100).toBe(0x100);                  // the 2M page holding L2's code/tables
    S.setRip(GUEST_RIP);
    S.setReg64(S.RBX, 0x5a);
    expect(guest([0x89, 0x18])).toBe(0);                      // write: the TLB entry had no W yet
    expect(r64(EPT_PT + 32) & 0x300).toBe(0x300);
    expect(r32(0x304010)).toBe(0x5a);
  });
});

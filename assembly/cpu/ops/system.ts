// Dispatcher for the OWN_SYS opcodes (cpu/exec.ts). The semantics live in
// sys_seg.ts (segments, descriptor tables), sys_far.ts (far transfers, INT, IRET),
// sys_io.ts (port I/O), sys_ctrl.ts (CR/DR/MSR, flags, fast system calls),
// sys_task.ts (task switching).
import { raiseUD, faultPending } from "../fault";
import * as S from "../state";
import { ES, CS, SS, DS, FS, GS } from "../state";
import * as Dec from "../decode";
import * as Seg from "./sys_seg";
import * as Far from "./sys_far";
import * as Io from "./sys_io";
import * as Ctl from "./sys_ctrl";
import * as Mon from "./sys_monitor";
import * as Vmx from "../../vmx/instr";
import * as VF from "../../vmx/vmfunc";
import { eptpOk } from "../../vmx/entry";

export function execSystem(op: u32): void {
  // None of these instructions is lockable (SDM Vol.2 LOCK): #UD.
  if (Dec.lockPrefix) { raiseUD(); return; }
  switch (op) {
    case 0x06: Seg.pushSeg(ES); return;
    case 0x07: Seg.popSeg(ES); return;
    case 0x0e: Seg.pushSeg(CS); return;
    case 0x16: Seg.pushSeg(SS); return;
    case 0x17: Seg.popSeg(SS); return;
    case 0x1e: Seg.pushSeg(DS); return;
    case 0x1f: Seg.popSeg(DS); return;
    case 0x6c: Io.insOp(true); return;
    case 0x6d: Io.insOp(false); return;
    case 0x6e: Io.outsOp(true); return;
    case 0x6f: Io.outsOp(false); return;
    case 0x8c: Seg.movFromSeg(); return;
    case 0x8e: Seg.movToSeg(); return;
    case 0x9a: Far.farDirect(true); return;
    case 0x9c: Ctl.pushf(); return;
    case 0x9d: Ctl.popf(); return;
    case 0xc4: Seg.loadFarPtr(ES); return;
    case 0xc5: Seg.loadFarPtr(DS); return;
    case 0xca: Far.farRet(true); return;
    case 0xcb: Far.farRet(false); return;
    case 0xcc: Far.int3(); return;
    case 0xcd: Far.intN(); return;
    case 0xce: Far.into(); return;
    case 0xcf: Far.iretOp(); return;
    case 0xe4: Io.inOp(true, true); return;
    case 0xe5: Io.inOp(false, true); return;
    case 0xe6: Io.outOp(true, true); return;
    case 0xe7: Io.outOp(false, true); return;
    case 0xea: Far.farDirect(false); return;
    case 0xec: Io.inOp(true, false); return;
    case 0xed: Io.inOp(false, false); return;
    case 0xee: Io.outOp(true, false); return;
    case 0xef: Io.outOp(false, false); return;
    case 0xf1: Far.int1(); return;
    case 0xf4: Ctl.hlt(); return;
    case 0xfa: Ctl.cliSti(false); return;
    case 0xfb: Ctl.cliSti(true); return;
    // ---- 0F map ----
    case 0x100: Seg.group6(); return;
    case 0x101: group7(); return;
    case 0x102: Seg.larLsl(false); return;
    case 0x103: Seg.larLsl(true); return;
    case 0x105: Ctl.syscall(); return;
    case 0x106: Ctl.clts(); return;
    case 0x107: Ctl.sysret(); return;
    case 0x108: case 0x109: Ctl.invd(); return;   // INVD, WBINVD: no caches to manage
    case 0x120: Ctl.movCr(false); return;
    case 0x121: Ctl.movDr(false); return;
    case 0x122: Ctl.movCr(true); return;
    case 0x123: Ctl.movDr(true); return;
    case 0x130: Ctl.wrmsr(); return;
    case 0x131: Ctl.rdtsc(); return;
    case 0x132: Ctl.rdmsr(); return;
    case 0x133: Ctl.rdpmc(); return;
    case 0x134: Ctl.sysenter(); return;
    case 0x135: Ctl.sysexit(); return;
    case 0x178: Vmx.vmread(); return;
    case 0x179: Vmx.vmwrite(); return;
    case 0x1a0: Seg.pushSeg(FS); return;
    case 0x1a1: Seg.popSeg(FS); return;
    case 0x1a2: Ctl.cpuidOp(); return;
    case 0x1a8: Seg.pushSeg(GS); return;
    case 0x1a9: Seg.popSeg(GS); return;
    case 0x1b2: Seg.loadFarPtr(SS); return;
    case 0x1b4: Seg.loadFarPtr(FS); return;
    case 0x1b5: Seg.loadFarPtr(GS); return;
    default: raiseUD(); return;   // 0A, 24-27, 36, 37 (GETSEC), AA (RSM)
  }
}

// 0F 01 (SDM Vol.2 Table A-6, group 7).
function group7(): void {
  Dec.decodeModrm();
  if (faultPending) return;
  const r = (Dec.modrm >> 3) & 7;
  if (Dec.modMod != 3) {
    switch (r) {
      case 0: Seg.sgdtSidt(false); return;
      case 1: Seg.sgdtSidt(true); return;
      case 2: Seg.lgdtLidt(false); return;
      case 3: Seg.lgdtLidt(true); return;
      case 4: Seg.smsw(); return;
      case 6: Seg.lmsw(); return;
      case 7: Seg.invlpg(); return;
      default: raiseUD(); return;
    }
  }
  switch (Dec.modrm) {
    case 0xc8: Mon.monitor(); return;
    case 0xc9: Mon.mwait(); return;
    case 0xca: Ctl.clacStac(false); return;
    case 0xcb: Ctl.clacStac(true); return;
    case 0xc1: Vmx.vmcall(); return;
    case 0xc2: Vmx.vmlaunch(false); return;
    case 0xc3: Vmx.vmlaunch(true); return;
    case 0xc4: Vmx.vmxoff(); return;
    case 0xd4: VF.vmfunc(eptpOk); return;   // VMFUNC (vmx/vmfunc.ts)
    case 0xd0: Ctl.xgetbv(); return;
    case 0xd1: Ctl.xsetbv(); return;
    case 0xf8: Ctl.swapgs(); return;
    case 0xf9: Ctl.rdtscp(); return;
    default: break;
  }
  if (r == 4) { Seg.smsw(); return; }
  if (r == 6) { Seg.lmsw(); return; }
  raiseUD();   // VMFUNC (D4: only in VMX non-root), others
}

// FF /3 (CALL m16:xx) and FF /5 (JMP m16:xx): decoded by the integer group-5 handler
// (ModRM already consumed), executed here with the far-transfer rules.
export function farIndirect(isCall: bool): void {
  if (Dec.lockPrefix) { raiseUD(); return; }
  Far.farIndirectImpl(isCall);
}
export { S };

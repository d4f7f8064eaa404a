// VMX instructions (SDM Vol.3C chapter 31): VMXON, VMXOFF, VMCLEAR, VMPTRLD, VMPTRST,
// VMREAD, VMWRITE, VMCALL, VMLAUNCH/VMRESUME (the checks before VM entry).
// Conventions (SDM 31.2): VMsucceed clears CF PF AF ZF SF OF; VMfailInvalid sets CF;
// VMfailValid(n) sets ZF and writes n to the VM-instruction error field.
import * as S from "../cpu/state";
import { requestStop } from "../cpu/run";
import * as D from "../cpu/decode";
import { raiseUD, raiseGP, faultPending } from "../cpu/fault";
import { setStatusFlags, F_CF, F_ZF, F_STATUS } from "../cpu/flags";
import { readMem, writeMem } from "../cpu/segmem";
import { featureControl } from "../cpu/msr";
import { PHYS_ADDR_BITS } from "../cpu/cpuid";
import { CR4_VALID } from "../cpu/control";
import * as V from "./vstate";
import { fieldSlot, readField, writeField, encReadOnly, VM_INSTRUCTION_ERROR, vmcsWrite } from "./fields";
import { VMCS_REVISION, CR0_FIXED0, CR0_FIXED1, CR4_FIXED0, VMX_MISC, MISC_VMWRITE_ALL } from "./caps";
import { makeCurrent, clearVmcs, flushCurrent, regionRevision, shadowRead, shadowWrite } from "./vmcs";
import * as F from "./fields";
import { vmcsRead, encHigh, encWidth, W16, W32 } from "./fields";
import { physRead } from "../mmu/phys";
import { exitVmxInstr } from "./intercept";
import * as X from "./exit";
import { vmEntry, eptpOk, ENTRY_BAD_CTLS, ENTRY_BAD_HOST } from "./entry";
import { tlbFlushEverything } from "../mmu/access";
import { isCanonical } from "../cpu/segmem";

// SDM 31.4 VM-instruction error numbers.
export const ERR_VMCALL_ROOT: u32 = 1, ERR_VMCLEAR_BAD_ADDR: u32 = 2, ERR_VMCLEAR_VMXON: u32 = 3;
export const ERR_VMLAUNCH_NOT_CLEAR: u32 = 4, ERR_VMRESUME_NOT_LAUNCHED: u32 = 5;
export const ERR_VMRESUME_AFTER_VMXOFF: u32 = 6, ERR_ENTRY_BAD_CTLS: u32 = 7, ERR_ENTRY_BAD_HOST: u32 = 8;
export const ERR_VMPTRLD_BAD_ADDR: u32 = 9, ERR_VMPTRLD_VMXON: u32 = 10, ERR_VMPTRLD_BAD_REV: u32 = 11;
export const ERR_UNSUPPORTED_FIELD: u32 = 12, ERR_WRITE_RO: u32 = 13, ERR_VMXON_ROOT: u32 = 15;
export const ERR_ENTRY_BAD_EXEC_PTR: u32 = 16, ERR_ENTRY_EXEC_NOT_LAUNCHED: u32 = 17;
export const ERR_ENTRY_EXEC_NOT_VMXON: u32 = 18, ERR_VMCALL_NOT_CLEAR: u32 = 19;
export const ERR_VMCALL_BAD_EXIT_CTLS: u32 = 20, ERR_VMCALL_BAD_MSEG: u32 = 22, ERR_VMXOFF_DUAL: u32 = 23;
export const ERR_VMCALL_BAD_SMM: u32 = 24, ERR_ENTRY_BAD_EXEC_CTLS: u32 = 25, ERR_ENTRY_MOV_SS: u32 = 26;
export const ERR_INVALID_INVEPT: u32 = 28;

const PA_RSVD: u64 = ~(((<u64>1) << <u64>PHYS_ADDR_BITS) - 1);

export function vmSucceed(): void { setStatusFlags(F_STATUS, 0); }
export function vmFailInvalid(): void { setStatusFlags(F_STATUS, F_CF); }
export function vmFailValid(err: u32): void {
  setStatusFlags(F_STATUS, F_ZF);
  vmcsWrite(VM_INSTRUCTION_ERROR, <u64>err);
}
// VMfail(n): VMfailValid when there is a current VMCS, else VMfailInvalid.
export function vmFail(err: u32): void {
  if (V.curVmcs != V.NO_PTR) vmFailValid(err); else vmFailInvalid();
}

// The #UD conditions shared by the VMX instructions other than VMXON (SDM 31.3 operation
// sections): outside VMX operation, real mode, virtual-8086 mode, compatibility mode.
function udCommon(): bool {
  if (!V.nested || !V.vmxOn || !S.protMode || S.vm86 || (S.longMode && !S.code64)) { raiseUD(); return true; }
  return false;
}
// Non-root execution is a VM exit with `reason` (caller returns); root at CPL > 0 is #GP(0).
function rootCpl0(reason: u32): bool {
  if (V.nonRoot) { exitVmxInstr(reason); return false; }
  if (S.cpl != 0) { raiseGP(0); return false; }
  return true;
}
@inline function badPa(a: u64): bool { return (a & 0xfff) != 0 || (a & PA_RSVD) != 0; }

// 64-bit memory operand (ModRM decoded, memory form checked by the caller).
function readPtrOperand(): u64 { return readMem(D.eaSeg, D.eaAddr(), 8); }

// CR0/CR4 values allowed in VMX operation (SDM 24.8, A.7, A.8).
export function crFixedOk(cr0: u64, cr4: u64): bool {
  const f0 = V.nonRoot && V.unrestricted ? CR0_FIXED0 & ~(S.CR0_PE | S.CR0_PG) : CR0_FIXED0;
  return (cr0 & f0) == f0 && (cr0 & ~CR0_FIXED1) == 0
    && (cr4 & CR4_FIXED0) == CR4_FIXED0 && (cr4 & ~CR4_VALID) == 0;
}

// F3 0F C7 /6 (memory): VMXON m64.
export function vmxon(): void {
  if (!V.nested || D.modMod == 3 || !S.protMode || (S.cr4 & S.CR4_VMXE) == 0 || S.vm86 || (S.longMode && !S.code64)) {
    raiseUD(); return;
  }
  if (!V.vmxOn) {
    // SDM 24.7: IA32_FEATURE_CONTROL must be locked with VMX outside SMX enabled.
    if (S.cpl != 0 || !crFixedOk(S.cr0, S.cr4) || (featureControl & 1) == 0 || (featureControl & 4) == 0) {
      raiseGP(0); return;
    }
    const addr = readPtrOperand();
    if (faultPending) return;
    if (badPa(addr)) { vmFailInvalid(); return; }
    const rev = regionRevision(addr);
    if ((rev & 0x7fffffff) != VMCS_REVISION || (rev >> 31) != 0) { vmFailInvalid(); return; }
    V.setVmxOn(true, addr);
    V.setCurVmcs(V.NO_PTR, false);
    vmSucceed();
    return;
  }
  if (!rootCpl0(X.EXIT_VMXON)) return;
  vmFail(ERR_VMXON_ROOT);
}

// 0F 01 C4: VMXOFF.
export function vmxoff(): void {
  if (udCommon() || !rootCpl0(X.EXIT_VMXOFF)) return;
  // The current VMCS is written back so its data and launch state survive (a later VMXON
  // starts with no current VMCS; SDM 24.11.1).
  flushCurrent();
  V.setCurVmcs(V.NO_PTR, false);
  V.setVmxOn(false, 0);
  vmSucceed();
  // A held INIT is no longer blocked (SDM 24.8): the host delivers it after this instruction.
  if (V.initPending) { V.setInitPending(false); V.setInitAfterVmxoff(true); requestStop(); }
}

// 66 0F C7 /6 (memory): VMCLEAR m64.
export function vmclear(): void {
  if (D.modMod == 3) { raiseUD(); return; }
  if (udCommon() || !rootCpl0(X.EXIT_VMCLEAR)) return;
  const addr = readPtrOperand();
  if (faultPending) return;
  if (badPa(addr)) { vmFail(ERR_VMCLEAR_BAD_ADDR); return; }
  if (addr == V.vmxonPtr) { vmFail(ERR_VMCLEAR_VMXON); return; }
  clearVmcs(addr);
  vmSucceed();
}

// 0F C7 /6 (memory): VMPTRLD m64.
export function vmptrld(): void {
  if (D.modMod == 3) { raiseUD(); return; }
  if (udCommon() || !rootCpl0(X.EXIT_VMPTRLD)) return;
  const addr = readPtrOperand();
  if (faultPending) return;
  if (badPa(addr)) { vmFail(ERR_VMPTRLD_BAD_ADDR); return; }
  if (addr == V.vmxonPtr) { vmFail(ERR_VMPTRLD_VMXON); return; }
  const rev = regionRevision(addr);
  // Bit 31 (shadow VMCS) is accepted: "VMCS shadowing" is offered.
  if ((rev & 0x7fffffff) != VMCS_REVISION) { vmFail(ERR_VMPTRLD_BAD_REV); return; }
  makeCurrent(addr);
  vmSucceed();
}

// 0F C7 /7 (memory): VMPTRST m64.
export function vmptrst(): void {
  if (D.modMod == 3) { raiseUD(); return; }
  if (udCommon() || !rootCpl0(X.EXIT_VMPTRST)) return;
  writeMem(D.eaSeg, D.eaAddr(), 8, V.curVmcs);
  if (faultPending) return;
  vmSucceed();
}

// Operand size of VMREAD/VMWRITE: 64 bits in 64-bit mode, else 32 (SDM 31 VMREAD).
@inline function vmOpSize(): u32 { return S.code64 ? 8 : 4; }

// 0F 78: VMREAD r/m, r (reg = field encoding).
export function vmread(): void {
  D.decodeModrm();
  if (faultPending) return;
  if (D.prefix66 || D.repPrefix != 0) { raiseUD(); return; }   // 66/F2/F3 0F 78 are other (AMD) instructions
  if (V.nonRoot && !udCommon() && shadowAccess(false)) return;
  if (udCommon() || !rootCpl0(X.EXIT_VMREAD)) return;
  if (V.curVmcs == V.NO_PTR) { vmFailInvalid(); return; }
  const size = vmOpSize();
  const enc = S.getRegSized(D.modReg, size, false);
  const slot = fieldSlot(enc);
  if (slot < 0) { vmFailValid(ERR_UNSUPPORTED_FIELD); return; }
  let v = readField(<u32>slot, <u32>enc);
  if (size == 4) v &= 0xffffffff;
  if (D.modMod == 3) S.setRegSized(D.modRm, size, v, false);
  else { writeMem(D.eaSeg, D.eaAddr(), size, v); if (faultPending) return; }
  vmSucceed();
}

// 0F 79: VMWRITE r, r/m (reg = field encoding, r/m = value).
export function vmwrite(): void {
  D.decodeModrm();
  if (faultPending) return;
  if (D.prefix66 || D.repPrefix != 0) { raiseUD(); return; }
  if (V.nonRoot && !udCommon() && shadowAccess(true)) return;
  if (udCommon() || !rootCpl0(X.EXIT_VMWRITE)) return;
  if (V.curVmcs == V.NO_PTR) { vmFailInvalid(); return; }
  const size = vmOpSize();
  const enc = S.getRegSized(D.modReg, size, false);
  const slot = fieldSlot(enc);
  if (slot < 0) { vmFailValid(ERR_UNSUPPORTED_FIELD); return; }
  // The VM-exit information fields are read-only unless IA32_VMX_MISC bit 29 is 1.
  if (encReadOnly(<u32>enc) && (VMX_MISC & MISC_VMWRITE_ALL) == 0) { vmFailValid(ERR_WRITE_RO); return; }
  let v: u64;
  if (D.modMod == 3) v = S.getRegSized(D.modRm, size, false);
  else { v = readMem(D.eaSeg, D.eaAddr(), size); if (faultPending) return; }
  writeField(<u32>slot, <u32>enc, v);
  vmSucceed();
}

// 0F 01 C1: VMCALL.
export function vmcall(): void {
  if (!V.nested || !V.vmxOn) { raiseUD(); return; }
  if (V.nonRoot) { exitVmxInstr(X.EXIT_VMCALL); return; }
  if (S.vm86 || (S.longMode && !S.code64)) { raiseUD(); return; }
  if (S.cpl != 0) { raiseGP(0); return; }
  vmFail(ERR_VMCALL_ROOT);   // no dual-monitor treatment of SMM
}

// 0F 01 C2 / C3: VMLAUNCH / VMRESUME (SDM 31 VMLAUNCH/VMRESUME, then entry.ts).
export function vmlaunch(resume: bool): void {
  if (udCommon() || !rootCpl0(resume ? X.EXIT_VMRESUME : X.EXIT_VMLAUNCH)) return;
  if (V.curVmcs == V.NO_PTR || V.curShadow) { vmFailInvalid(); return; }   // a shadow VMCS cannot be entered
  if (V.movSsBlocking) { vmFailValid(ERR_ENTRY_MOV_SS); return; }          // events blocked by MOV SS
  if (!resume && V.curLaunched) { vmFailValid(ERR_VMLAUNCH_NOT_CLEAR); return; }
  if (resume && !V.curLaunched) { vmFailValid(ERR_VMRESUME_NOT_LAUNCHED); return; }
  const r = vmEntry(!resume);
  if (r == ENTRY_BAD_CTLS) vmFailValid(ERR_ENTRY_BAD_CTLS);
  else if (r == ENTRY_BAD_HOST) vmFailValid(ERR_ENTRY_BAD_HOST);
}

// 0F C7 /6 and /7 memory forms (called from the integer group-9 handler, ModRM decoded).
export function group9Vmx(k: u32): void {
  if (D.lockPrefix) { raiseUD(); return; }
  if (k == 6) {
    if (D.repPrefix == 0xf3) vmxon();
    else if (D.prefix66 && D.repPrefix == 0) vmclear();
    else if (D.repPrefix == 0) vmptrld();
    else raiseUD();
    return;
  }
  if (D.repPrefix == 0 && !D.prefix66) vmptrst();
  else raiseUD();
}

// 66 0F 38 80 / 81: INVEPT / INVVPID r, m128 (SDM 31 INVEPT, INVVPID). ModRM decoded; the
// register operand is the type (64 bits in 64-bit mode, else 32). Both invalidate the whole
// TLB (over-invalidation is allowed; cached entries are per context, ept.ts).
export function invEptVpid(vpid: bool): void {
  if (D.modMod == 3) { raiseUD(); return; }
  if (udCommon() || !rootCpl0(vpid ? X.EXIT_INVVPID : X.EXIT_INVEPT)) return;
  const type = S.code64 ? S.getReg64(D.modReg) : <u64>S.getReg32(D.modReg);
  const lo = readMem(D.eaSeg, D.eaAddr(), 8);
  if (faultPending) return;
  const hi = readMem(D.eaSeg, D.eaAddr() + 8, 8);
  if (faultPending) return;
  if (vpid) {
    // Types 0-3 supported; the descriptor's bits 63:16 are reserved.
    if (type > 3 || (lo >> 16) != 0) { vmFail(ERR_INVALID_INVEPT); return; }
    if (type != 2 && (lo & 0xffff) == 0) { vmFail(ERR_INVALID_INVEPT); return; }
    if (type == 0 && !isCanonical(hi)) { vmFail(ERR_INVALID_INVEPT); return; }
  } else {
    // Types 1 (single-context) and 2 (global); single-context checks the EPTP.
    if (type != 1 && type != 2) { vmFail(ERR_INVALID_INVEPT); return; }
    if (type == 1 && !eptpOk(lo)) { vmFail(ERR_INVALID_INVEPT); return; }
  }
  tlbFlushEverything();
  vmSucceed();
}

// VMREAD / VMWRITE in VMX non-root operation with "VMCS shadowing" (SDM 25.10, 31 VMREAD):
// if the field's bit in the VMREAD/VMWRITE bitmap is 0 the instruction works on the shadow VMCS
// named by the VMCS link pointer, else (or with encoding bits 63:15 set) it is a VM exit.
// Returns true when handled here (done, or a fault raised).
function shadowAccess(write: bool): bool {
  if (!V.shadowing) return false;
  const size = vmOpSize();
  const enc = S.getRegSized(D.modReg, size, false);
  if ((enc >> 15) != 0) return false;
  const bm = vmcsRead(write ? F.VMWRITE_BITMAP : F.VMREAD_BITMAP);
  if ((physRead(bm + (enc >> 3), 1) & (1 << <u64>(enc & 7))) != 0) return false;
  if (S.cpl != 0) { raiseGP(0); return true; }
  const link = vmcsRead(F.VMCS_LINK_POINTER);
  if (link == V.NO_PTR) { vmFailInvalid(); return true; }
  const slot = fieldSlot(enc);
  if (slot < 0) { shadowFail(link, ERR_UNSUPPORTED_FIELD); return true; }
  if (!write) {
    let v = shadowRead(link, <u32>slot);
    if (encHigh(<u32>enc)) v >>= 32;
    if (size == 4) v &= 0xffffffff;
    if (D.modMod == 3) S.setRegSized(D.modRm, size, v, false);
    else { writeMem(D.eaSeg, D.eaAddr(), size, v); if (faultPending) return true; }
    vmSucceed();
    return true;
  }
  if (encReadOnly(<u32>enc) && (VMX_MISC & MISC_VMWRITE_ALL) == 0) { shadowFail(link, ERR_WRITE_RO); return true; }
  let v: u64;
  if (D.modMod == 3) v = S.getRegSized(D.modRm, size, false);
  else { v = readMem(D.eaSeg, D.eaAddr(), size); if (faultPending) return true; }
  // Same width rules as writeField, applied to the in-memory copy.
  const w = encWidth(<u32>enc);
  let nv: u64;
  if (encHigh(<u32>enc)) nv = (shadowRead(link, <u32>slot) & 0xffffffff) | (v << 32);
  else nv = w == W16 ? v & 0xffff : (w == W32 ? v & 0xffffffff : v);
  shadowWrite(link, <u32>slot, nv);
  vmSucceed();
  return true;
}
// VMfailValid for a shadow access: the error goes into the VM-instruction error field of the
// current VMCS (the one L1 entered L2 with), not the shadow VMCS (SDM 31 VMREAD: VMfailValid
// names the current VMCS; kvm-unit-tests vmx_vmcs_shadow_test reads it there).
function shadowFail(link: u64, err: u32): void {
  vmFailValid(err);
}

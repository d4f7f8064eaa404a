// Control registers, EFER and debug registers with their architectural checks
// (SDM 2.5, 2.6, 9.8.5, 4.10.4 for TLB invalidation, 17.2 for DRn).
import * as S from "./state";
import {
  CR0_PE, CR0_PG, CR0_CD, CR0_NW, CR0_WP, CR0_ET, CR4_PAE, CR4_PGE, CR4_PSE, CR4_PCIDE, CR4_SMEP,
  CR4_SMAP, CR4_OSXSAVE, CR4_LA57, EFER_LME, EFER_LMA, EFER_NXE, EFER_SCE, AR_L,
} from "./state";
import { raiseGP, raiseFault, faultPending, EXC_DB } from "./fault";
import { tlbFlushAll, tlbCr3Written, loadPdptes } from "../mmu/access";
import { invalidateFetch } from "./decode";
import { dataBpMask, syncDataBps } from "./databp";
import * as C from "./cpuid";
import { tprWrite } from "../host";
import { syncMode } from "./descriptors";
import { nested, vmxOn } from "../vmx/vstate";
import { crFixedOk } from "../vmx/instr";

// CR0 bits that exist: PE MP EM TS ET NE WP AM NW CD PG.
const CR0_VALID: u64 = 0xe005003f;
// CR4 bits this core accepts (others are reserved => #GP).
export const CR4_VALID: u64 = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400
  | (C.FEAT_UMIP ? 0x800 : 0) | (C.FEAT_LA57 ? 0x1000 : 0) | (C.FEAT_VMX ? 0x2000 : 0)
  | (C.FEAT_FSGSBASE ? 0x10000 : 0) | (C.FEAT_PCID ? 0x20000 : 0) | (C.FEAT_XSAVE ? 0x40000 : 0)
  | (C.FEAT_SMEP ? 0x100000 : 0) | (C.FEAT_SMAP ? 0x200000 : 0);
export const EFER_VALID: u64 = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;

// Physical-address mask for CR3 (bits above MAXPHYADDR are reserved in long/PAE modes).
const PA_MASK: u64 = ((<u64>1) << <u64>C.PHYS_ADDR_BITS) - 1;

function afterModeChange(): void {
  syncMode();
  invalidateFetch();
}

// MOV CR0 (SDM Vol.2 MOV CR, 2.5, 9.8.5). Returns false with #GP raised.
export function writeCr0(v: u64): bool {
  if ((v >> 32) != 0) { raiseGP(0); return false; }
  v = (v & CR0_VALID) | CR0_ET;   // ET is hardwired to 1
  if ((v & CR0_PG) != 0 && (v & CR0_PE) == 0) { raiseGP(0); return false; }
  if ((v & CR0_NW) != 0 && (v & CR0_CD) == 0) { raiseGP(0); return false; }
  if (vmxOn && !crFixedOk(v, S.cr4)) { raiseGP(0); return false; }   // SDM 24.8: fixed bits in VMX operation
  const old = S.cr0;
  let efer = S.efer;
  if ((v & CR0_PG) != 0 && (old & CR0_PG) == 0 && (efer & EFER_LME) != 0) {
    // SDM 9.8.5: activating IA-32e mode needs PAE and must not run from a CS with L=1.
    if ((S.cr4 & CR4_PAE) == 0 || (S.segAttr(S.CS) & AR_L) != 0) { raiseGP(0); return false; }
    efer |= EFER_LMA;
  }
  if ((v & CR0_PG) == 0 && (old & CR0_PG) != 0 && (efer & EFER_LMA) != 0) {
    if (S.code64) { raiseGP(0); return false; }   // cannot leave long mode from 64-bit code
    efer &= ~EFER_LMA;
  }
  if ((v & CR0_PE) == 0 && (efer & EFER_LMA) != 0) { raiseGP(0); return false; }
  S.setCr0Raw(v);
  S.setEferRaw(efer);
  // SDM 4.4.1: enabling PAE paging (outside IA-32e mode) loads the PDPTEs; a reserved
  // bit in a present PDPTE makes the MOV fail with #GP(0).
  if ((v & CR0_PG) != 0 && (S.cr4 & CR4_PAE) != 0 && (efer & EFER_LMA) == 0 &&
      (((old ^ v) & (CR0_PG | CR0_CD | CR0_NW)) != 0)) {
    if (!loadPdptes()) { S.setCr0Raw(old); S.setEferRaw(S.efer); raiseGP(0); return false; }
  }
  // SDM 4.10.4.1: changing PG, WP or PE invalidates all TLB entries (incl. global).
  if (((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) != 0) tlbFlushAll(false);
  if (((old ^ v) & (CR0_PG | CR0_PE)) != 0 || efer != S.efer) afterModeChange();
  else syncMode();
  return true;
}

export function writeCr3(v: u64): bool {
  // SDM 4.10.4.1: with PCIDE, bit 63 set means "do not flush" and is not stored.
  let noFlush = false;
  if ((S.cr4 & CR4_PCIDE) != 0) { noFlush = (v >> 63) != 0; v &= ~((<u64>1) << 63); }
  // SDM 4.5: in IA-32e mode bits above MAXPHYADDR are reserved.
  if (S.longMode && (v & ~PA_MASK) != 0) { raiseGP(0); return false; }
  const old = S.cr3;
  S.setCr3Raw(S.longMode ? v : v & 0xffffffff);
  if (S.pagingOn && (S.cr4 & CR4_PAE) != 0 && !S.longMode && !loadPdptes()) {
    S.setCr3Raw(old); raiseGP(0); return false;
  }
  tlbCr3Written(noFlush);
  invalidateFetch();
  return true;
}

export function writeCr4(v: u64): bool {
  if ((v & ~CR4_VALID) != 0) { raiseGP(0); return false; }
  // CR4.VMXE: reserved with --nested off; cannot be cleared in VMX operation (SDM 24.8).
  if ((v & S.CR4_VMXE) != 0 && !nested) { raiseGP(0); return false; }
  if (vmxOn && !crFixedOk(S.cr0, v)) { raiseGP(0); return false; }
  const old = S.cr4;
  // SDM 2.5: PAE cannot be cleared in IA-32e mode; LA57 cannot change while LMA.
  if (S.longMode && (v & CR4_PAE) == 0) { raiseGP(0); return false; }
  if (S.longMode && ((old ^ v) & CR4_LA57) != 0) { raiseGP(0); return false; }
  if ((v & CR4_PCIDE) != 0 && (old & CR4_PCIDE) == 0 && ((S.cr3 & 0xfff) != 0 || !S.longMode)) { raiseGP(0); return false; }
  S.setCr4Raw(v);
  // SDM 4.4.1: a change of PAE, PGE, PSE or SMEP under PAE paging reloads the PDPTEs.
  if (S.pagingOn && (v & CR4_PAE) != 0 && !S.longMode &&
      ((old ^ v) & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) != 0) {
    if (!loadPdptes()) { S.setCr4Raw(old); raiseGP(0); return false; }
  }
  // SDM 4.10.4.1: changing PGE, PAE, PSE, PCIDE, SMEP, SMAP or LA57 flushes everything.
  if (((old ^ v) & (CR4_PGE | CR4_PAE | CR4_PSE | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_LA57)) != 0) {
    tlbFlushAll(false);
    invalidateFetch();
  }
  return true;
}

export function writeCr8(v: u64): bool {
  if ((v & ~(<u64>0xf)) != 0) { raiseGP(0); return false; }
  S.setCr8(v);
  tprWrite(<u32>v);   // TPR[7:4] = CR8[3:0] (SDM 11.8.6): the APIC re-evaluates INTR now
  return true;
}

// WRMSR IA32_EFER (SDM 2.2.1): LME may not change while paging is on; LMA is read-only
// (writes must match the current value on hardware: we ignore the written LMA).
export function writeEfer(v: u64): bool {
  if ((v & ~EFER_VALID) != 0) { raiseGP(0); return false; }
  const old = S.efer;
  if (S.pagingOn && ((old ^ v) & EFER_LME) != 0) { raiseGP(0); return false; }
  const nv = (v & ~EFER_LMA) | (old & EFER_LMA);
  S.setEferRaw(nv);
  if (((old ^ nv) & EFER_NXE) != 0) tlbFlushAll(false);
  afterModeChange();
  return true;
}

// ---- debug registers (SDM 17.2) ----
// Enabled instruction breakpoints (bit n: DRn, R/W = 00), kept in sync with DR7 so the run
// loop tests one global per instruction.
export let execBpMask: u32 = 0;
export let ioBpMask: u32 = 0;      // R/W = 10: I/O breakpoints (only with CR4.DE, SDM 17.2.4)
export function syncBreakpoints(): void {
  const d7 = <u32>S.getDr(7);
  let m: u32 = 0, io: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if (((d7 >> (n * 2)) & 3) == 0) continue;
    const rw = (d7 >> (16 + n * 4)) & 3;
    if (rw == 0) m |= 1 << n;
    else if (rw == 2) io |= 1 << n;
  }
  execBpMask = m;
  ioBpMask = io;
  // Data breakpoints: re-derive the watched pages and drop cached fast-path translations.
  const hadData = dataBpMask != 0;
  syncDataBps();
  if (hadData || dataBpMask != 0) tlbFlushAll(false);
}
// Bits of DR6.B0-B3 for I/O breakpoints matching an access to [port, port+size).
// The #DB is a trap taken after the instruction (interrupts.ts pendingDbTrap).
export function ioBreakpoints(port: u32, size: u32): u32 {
  if ((S.cr4 & S.CR4_DE) == 0) return 0;
  const d7 = <u32>S.getDr(7);
  let hit: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if ((ioBpMask & (1 << n)) == 0) continue;
    const lenCode = (d7 >> (18 + n * 4)) & 3;
    const len: u32 = lenCode == 0 ? 1 : (lenCode == 1 ? 2 : (lenCode == 3 ? 4 : 8));
    const a = <u32>S.getDr(n) & 0xffff & ~(len - 1);
    if (port < a + len && a < port + size) hit |= 1 << n;
  }
  return hit;
}
// SDM 17.3.1.1: an instruction breakpoint is a fault taken before the instruction when
// RF = 0. Returns true with #DB raised (DR6.Bn set).
export function execBreakpoint(): bool {
  const lin: u64 = S.code64 ? S.rip : (S.segBase(S.CS) + S.rip) & 0xffffffff;
  let hit: u32 = 0;
  for (let n: u32 = 0; n < 4; n++) {
    if ((execBpMask & (1 << n)) != 0 && S.getDr(n) == lin) hit |= 1 << n;
  }
  if (hit == 0) return false;
  S.setDr(6, (S.getDr(6) & ~(<u64>0xf)) | <u64>hit);
  raiseFault(EXC_DB, 0, false);
  return true;
}
export function readDr(n: u32): u64 {
  if (n == 4) n = 6;
  if (n == 5) n = 7;
  if (n == 6) return (S.getDr(6) & 0x0001e00f) | 0xffff0ff0;
  if (n == 7) return (S.getDr(7) & 0xffff2bff) | 0x400;
  return S.getDr(n);
}
export function writeDr(n: u32, v: u64): bool {
  if (n == 4) n = 6;
  if (n == 5) n = 7;
  if (n >= 6 && (v >> 32) != 0) { raiseGP(0); return false; }
  if (n < 4 && S.code64 == false) v &= 0xffffffff;
  if (n == 6) v = (v & 0x0001e00f) | 0xffff0ff0;
  else if (n == 7) v = (v & 0xffff2bff) | 0x400;
  S.setDr(n, v);
  if (n == 7 || (n < 4 && dataBpMask != 0)) syncBreakpoints();
  return !faultPending;
}

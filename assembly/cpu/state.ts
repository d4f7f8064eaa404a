// Architectural state of the one vCPU this core instance runs.
// One owner: every other module reads/writes CPU state through this file.
// Registers live in linear memory so they can be indexed by ModRM numbers and
// so the host can read them through the exported pointers without a call.

// ---- general-purpose registers -------------------------------------------
export const RAX: u32 = 0, RCX: u32 = 1, RDX: u32 = 2, RBX: u32 = 3;
export const RSP: u32 = 4, RBP: u32 = 5, RSI: u32 = 6, RDI: u32 = 7;

export const REGS: usize = memory.data(16 * 8, 16);

@inline export function getReg64(r: u32): u64 { return load<u64>(REGS + (<usize>r << 3)); }
@inline export function setReg64(r: u32, v: u64): void { store<u64>(REGS + (<usize>r << 3), v); }
@inline export function getReg32(r: u32): u32 { return load<u32>(REGS + (<usize>r << 3)); }
// SDM 3.4.1.1: a 32-bit destination zero-extends into the full 64-bit register.
@inline export function setReg32(r: u32, v: u32): void { store<u64>(REGS + (<usize>r << 3), <u64>v); }
@inline export function getReg16(r: u32): u32 { return <u32>load<u16>(REGS + (<usize>r << 3)); }
@inline export function setReg16(r: u32, v: u32): void { store<u16>(REGS + (<usize>r << 3), <u16>v); }

// 8-bit register number r (0..15). Without a REX prefix 4..7 are AH,CH,DH,BH.
@inline export function getReg8(r: u32, rexPresent: bool): u32 {
  if (!rexPresent && r >= 4 && r < 8) return <u32>load<u8>(REGS + (<usize>(r - 4) << 3) + 1);
  return <u32>load<u8>(REGS + (<usize>r << 3));
}
@inline export function setReg8(r: u32, v: u32, rexPresent: bool): void {
  if (!rexPresent && r >= 4 && r < 8) store<u8>(REGS + (<usize>(r - 4) << 3) + 1, <u8>v);
  else store<u8>(REGS + (<usize>r << 3), <u8>v);
}

// Generic by operand size in bytes (1, 2, 4, 8). Size 1 assumes REX rules (caller passes).
export function getRegSized(r: u32, size: u32, rexPresent: bool): u64 {
  if (size == 8) return getReg64(r);
  if (size == 4) return <u64>getReg32(r);
  if (size == 2) return <u64>getReg16(r);
  return <u64>getReg8(r, rexPresent);
}
export function setRegSized(r: u32, size: u32, v: u64, rexPresent: bool): void {
  if (size == 8) setReg64(r, v);
  else if (size == 4) setReg32(r, <u32>v);
  else if (size == 2) setReg16(r, <u32>v);
  else setReg8(r, <u32>v, rexPresent);
}

// ---- instruction pointer ---------------------------------------------------
// rip is the committed instruction pointer (start of the next instruction to run).
export let rip: u64 = 0xfff0;
@inline export function setRip(v: u64): void { rip = v; }

// ---- segment registers -----------------------------------------------------
// Order is the ModRM/SDM sreg encoding. LDTR and TR share the same storage.
export const ES: u32 = 0, CS: u32 = 1, SS: u32 = 2, DS: u32 = 3, FS: u32 = 4, GS: u32 = 5;
export const LDTR: u32 = 6, TR: u32 = 7;

// Per segment (32 bytes): selector u16 @0, access rights u32 @4, limit u32 @8, base u64 @16.
// Access rights use the VMX layout (SDM 24.4.1): bits 3:0 type, 4 S, 6:5 DPL, 7 P,
// 12 AVL, 13 L, 14 D/B, 15 G, 16 unusable. Limit is the expanded byte limit.
export const SEGS: usize = memory.data(8 * 32, 16);
export const AR_TYPE: u32 = 0xf, AR_S: u32 = 1 << 4, AR_P: u32 = 1 << 7, AR_AVL: u32 = 1 << 12;
export const AR_L: u32 = 1 << 13, AR_DB: u32 = 1 << 14, AR_G: u32 = 1 << 15, AR_UNUSABLE: u32 = 1 << 16;

@inline export function segSel(s: u32): u32 { return <u32>load<u16>(SEGS + (<usize>s << 5)); }
@inline export function segAttr(s: u32): u32 { return load<u32>(SEGS + (<usize>s << 5) + 4); }
@inline export function segLimit(s: u32): u32 { return load<u32>(SEGS + (<usize>s << 5) + 8); }
@inline export function segBase(s: u32): u64 { return load<u64>(SEGS + (<usize>s << 5) + 16); }
@inline export function segDpl(s: u32): u32 { return (segAttr(s) >> 5) & 3; }

// Raw store of a hidden-part + selector. Callers that change CS, SS or anything that
// affects the mode must call updateMode() afterwards (loadSegment in system code does).
export function setSeg(s: u32, sel: u32, base: u64, limit: u32, attr: u32): void {
  const p = SEGS + (<usize>s << 5);
  store<u16>(p, <u16>sel);
  store<u32>(p + 4, attr);
  store<u32>(p + 8, limit);
  store<u64>(p + 16, base);
}
@inline export function setSegBase(s: u32, base: u64): void { store<u64>(SEGS + (<usize>s << 5) + 16, base); }

// Real-mode / VM86 style load: base = sel << 4, attributes unchanged except as given.
export function setSegReal(s: u32, sel: u32): void {
  const p = SEGS + (<usize>s << 5);
  store<u16>(p, <u16>sel);
  store<u64>(p + 16, <u64>(sel & 0xffff) << 4);
}

// ---- descriptor-table registers -------------------------------------------
export let gdtrBase: u64 = 0;
export let gdtrLimit: u32 = 0xffff;
export let idtrBase: u64 = 0;
export let idtrLimit: u32 = 0xffff;
export function setGdtr(base: u64, limit: u32): void { gdtrBase = base; gdtrLimit = limit; }
export function setIdtr(base: u64, limit: u32): void { idtrBase = base; idtrLimit = limit; }

// ---- control registers -----------------------------------------------------
export const CR0_PE: u64 = 1, CR0_MP: u64 = 2, CR0_EM: u64 = 4, CR0_TS: u64 = 8, CR0_ET: u64 = 0x10;
export const CR0_NE: u64 = 0x20, CR0_WP: u64 = 1 << 16, CR0_AM: u64 = 1 << 18, CR0_NW: u64 = 1 << 29;
export const CR0_CD: u64 = 1 << 30, CR0_PG: u64 = 1 << 31;
export const CR4_VME: u64 = 1, CR4_PVI: u64 = 2, CR4_TSD: u64 = 4, CR4_DE: u64 = 8, CR4_PSE: u64 = 0x10;
export const CR4_PAE: u64 = 0x20, CR4_MCE: u64 = 0x40, CR4_PGE: u64 = 0x80, CR4_PCE: u64 = 0x100;
export const CR4_OSFXSR: u64 = 0x200, CR4_OSXMMEXCPT: u64 = 0x400, CR4_UMIP: u64 = 0x800;
export const CR4_LA57: u64 = 0x1000, CR4_VMXE: u64 = 0x2000, CR4_FSGSBASE: u64 = 0x10000;
export const CR4_PCIDE: u64 = 0x20000, CR4_OSXSAVE: u64 = 0x40000, CR4_SMEP: u64 = 0x100000;
export const CR4_SMAP: u64 = 0x200000, CR4_PKE: u64 = 0x400000;
export const EFER_SCE: u64 = 1, EFER_LME: u64 = 0x100, EFER_LMA: u64 = 0x400, EFER_NXE: u64 = 0x800;

export let cr0: u64 = 0x60000010;
export let cr2: u64 = 0;
export let cr3: u64 = 0;
export let cr4: u64 = 0;
export let cr8: u64 = 0;
export let efer: u64 = 0;
export let xcr0: u64 = 1;
// Debug registers DR0..DR7 (DR4/5 alias 6/7 per SDM 17.2.2 when CR4.DE=0).
export const DRS: usize = memory.data(8 * 8, 8);
@inline export function getDr(n: u32): u64 { return load<u64>(DRS + (<usize>n << 3)); }
@inline export function setDr(n: u32, v: u64): void { store<u64>(DRS + (<usize>n << 3), v); }

// Raw setters. Semantic writes (checks, TLB flush, mode update) live in system code.
export function setCr0Raw(v: u64): void { cr0 = v; }
export function setCr2(v: u64): void { cr2 = v; }
export function setCr3Raw(v: u64): void { cr3 = v; }
export function setCr4Raw(v: u64): void { cr4 = v; }
export function setCr8(v: u64): void { cr8 = v; }
export function setEferRaw(v: u64): void { efer = v; }
export function setXcr0(v: u64): void { xcr0 = v; }

// ---- derived mode ----------------------------------------------------------
// Recomputed by updateMode() whenever CR0, EFER, CS or SS changes, so the hot path
// only tests these cached values.
export let cpl: u32 = 0;
export let longMode: bool = false;   // EFER.LMA
export let code64: bool = false;     // LMA && CS.L: 64-bit mode
export let codeDefault32: bool = false; // CS.D (or 64-bit mode default operand size 32)
export let stack32: bool = false;    // SS.B: 32-bit stack pointer (64-bit mode: RSP)
export let protMode: bool = false;   // CR0.PE
export let vm86: bool = false;       // RFLAGS.VM in protected mode
export let pagingOn: bool = false;   // CR0.PG

// Bumped whenever anything the instruction fetcher caches may be stale: a TLB flush
// (mmu/access.ts) or a change of CPL/mode (updateMode).
export let codeEpoch: u32 = 0;
@inline export function bumpCodeEpoch(): void { codeEpoch++; }

// CPL watch for performance counters that count at one privilege level only (cpu/pmu.ts sets
// both; a function reference so this file imports nothing).
export let pmuCplWatch: bool = false;
function noHook(): void {}
let pmuCplHook: () => void = noHook;
export function setPmuCplWatch(on: bool, hook: () => void): void { pmuCplWatch = on; pmuCplHook = hook; }

export function updateMode(): void {
  codeEpoch++;
  const oldCpl = cpl;
  protMode = (cr0 & CR0_PE) != 0;
  pagingOn = (cr0 & CR0_PG) != 0 && protMode;
  longMode = (efer & EFER_LMA) != 0;
  const csAttr = segAttr(CS);
  code64 = longMode && (csAttr & AR_L) != 0;
  codeDefault32 = code64 || (csAttr & AR_DB) != 0;
  stack32 = code64 || (segAttr(SS) & AR_DB) != 0;
  if (!protMode) cpl = 0;
  else if (vm86) cpl = 3;
  else cpl = segDpl(SS);  // SDM 5.5: CPL is SS.DPL (equals CS.DPL except for conforming code)
  if (pmuCplWatch && cpl != oldCpl) pmuCplHook();   // USR/OS-filtered counters (cpu/pmu.ts)
}
export function setVm86(v: bool): void { vm86 = v; }
// CPL normally follows CS.DPL; SDM 5.5 (conforming code) lets CS.DPL differ, so allow an override.
export function setCpl(v: u32): void {
  const old = cpl;
  cpl = v;
  if (pmuCplWatch && v != old) pmuCplHook();
}

// ---- miscellaneous per-CPU state -------------------------------------------
export let halted: bool = false;
export function setHalted(v: bool): void { halted = v; }
// Instructions retired since reset (also drives --tsc icount).
export let icount: u64 = 0;
@inline export function addIcount(n: u64): void { icount += n; }
export let tscOffset: i64 = 0;
export function setTscOffset(v: i64): void { tscOffset = v; }

// ---- SSE / x87 register file -----------------------------------------------
// XMM0..15, 16 bytes each. x87/MMX: 8 x 16-byte slots (80-bit values, FXSAVE layout).
export const XMM: usize = memory.data(16 * 16, 16);
export const FPR: usize = memory.data(8 * 16, 16);
@inline export function xmmPtr(r: u32): usize { return XMM + (<usize>r << 4); }
export let mxcsr: u32 = 0x1f80;
export function setMxcsr(v: u32): void { mxcsr = v; }
export let fpuCw: u32 = 0x37f;
export let fpuSw: u32 = 0;
export let fpuTw: u32 = 0xffff; // full tag word, all empty
export let fpuTop: u32 = 0;
export function setFpuCw(v: u32): void { fpuCw = v; }
export function setFpuSw(v: u32): void { fpuSw = v; }
export function setFpuTw(v: u32): void { fpuTw = v; }
export function setFpuTop(v: u32): void { fpuTop = v; }

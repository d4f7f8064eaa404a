// Test harness for the SSE specs: a small guest RAM in static data, flat 32-bit protected
// mode (or 64-bit mode with identity-mapped 2 MiB page), code at CODE, data at DATA.
import * as S from "../../assembly/cpu/state";
import { physInit } from "../../assembly/mmu/phys";
import { initDispatch, step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, faultError, clearFault } from "../../assembly/cpu/fault";
import { invalidateFetch } from "../../assembly/cpu/decode";
import { setRflags, getRflags } from "../../assembly/cpu/flags";
import { tlbFlushAll } from "../../assembly/mmu/access";

export const RAM_SIZE: u32 = 0x40000;
export const RAM: usize = memory.data(RAM_SIZE, 4096);
export const CODE: u32 = 0x10000;
export const DATA: u32 = 0x20000;
export const NO_FAULT: u32 = 0xff;

let codeLen: u32 = 0;

function common(): void {
  initDispatch();
  physInit(RAM, <u64>RAM_SIZE);
  for (let i: u32 = 0; i < 16; i++) { S.setReg64(i, 0); store<u64>(S.xmmPtr(i), 0); store<u64>(S.xmmPtr(i) + 8, 0); }
  for (let i: usize = 0; i < 128; i += 8) store<u64>(S.FPR + i, 0);
  S.setMxcsr(0x1f80); S.setFpuCw(0x37f); S.setFpuSw(0); S.setFpuTw(0xffff); S.setFpuTop(0);
  setRflags(2);
  S.setXcr0(3);
  clearFault();
  codeLen = 0;
  S.rip = <u64>CODE;
}

// Flat 32-bit protected mode, paging off, CR4.OSFXSR|OSXMMEXCPT|OSXSAVE.
export function setup32(): void {
  common();
  S.cr0 = S.CR0_PE | S.CR0_ET | S.CR0_NE;
  S.cr4 = S.CR4_OSFXSR | S.CR4_OSXMMEXCPT | S.CR4_OSXSAVE;
  S.efer = 0;
  S.setSeg(S.CS, 8, 0, 0xffffffff, 0xc09b);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) S.setSeg(s, 16, 0, 0xffffffff, 0xc093);
  S.updateMode();
  tlbFlushAll(false);
  invalidateFetch();
}

// 64-bit mode: PML4 @0x1000 -> PDPT @0x2000 -> PD @0x3000, PD[0] = 2 MiB page at 0.
export function setup64(): void {
  common();
  store<u64>(RAM + 0x1000, 0x2003); store<u64>(RAM + 0x2000, 0x3003); store<u64>(RAM + 0x3000, 0x83);
  S.cr3 = 0x1000;
  S.cr0 = S.CR0_PE | S.CR0_ET | S.CR0_NE | S.CR0_PG;
  S.cr4 = S.CR4_OSFXSR | S.CR4_OSXMMEXCPT | S.CR4_OSXSAVE | S.CR4_PAE;
  S.efer = S.EFER_LME | S.EFER_LMA;
  S.setSeg(S.CS, 8, 0, 0xffffffff, 0xa09b);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) S.setSeg(s, 16, 0, 0xffffffff, 0xc093);
  S.updateMode();
  tlbFlushAll(false);
  invalidateFetch();
}

// Append instruction bytes at CODE.
export function code(bytes: u8[]): void {
  for (let i = 0; i < bytes.length; i++) store<u8>(RAM + <usize>CODE + <usize>codeLen + <usize>i, bytes[i]);
  codeLen += <u32>bytes.length;
  invalidateFetch();
}

// Execute n instructions from RIP; returns the first fault vector (RIP left at the faulting
// instruction) or NO_FAULT.
export function run(n: i32): u32 {
  for (let i = 0; i < n; i++) {
    step();
    if (faultPending) { const v = faultVector; clearFault(); return v; }
  }
  return NO_FAULT;
}
export function lastError(): u32 { return faultError; }

export function setX(r: u32, lo: u64, hi: u64): void { store<u64>(S.xmmPtr(r), lo); store<u64>(S.xmmPtr(r) + 8, hi); }
export function setX32(r: u32, a: u32, b: u32, c: u32, d: u32): void {
  const p = S.xmmPtr(r); store<u32>(p, a); store<u32>(p + 4, b); store<u32>(p + 8, c); store<u32>(p + 12, d);
}
export function xlo(r: u32): u64 { return load<u64>(S.xmmPtr(r)); }
export function xhi(r: u32): u64 { return load<u64>(S.xmmPtr(r) + 8); }
export function x32(r: u32, i: u32): u32 { return load<u32>(S.xmmPtr(r) + <usize>(i << 2)); }
export function mem64(a: u32): u64 { return load<u64>(RAM + <usize>a); }
export function setMem64(a: u32, v: u64): void { store<u64>(RAM + <usize>a, v); }
export function mem32(a: u32): u32 { return load<u32>(RAM + <usize>a); }
export function setMem32(a: u32, v: u32): void { store<u32>(RAM + <usize>a, v); }
export function mem16(a: u32): u32 { return <u32>load<u16>(RAM + <usize>a); }
export function mem8(a: u32): u32 { return <u32>load<u8>(RAM + <usize>a); }
export function flags(): u64 { return getRflags() & 0x8d5; }
export function rip(): u64 { return S.rip; }

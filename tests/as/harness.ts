// Shared helpers for the core specs: guest RAM, mode setup (flat 32-bit protected mode,
// 64-bit long mode with identity-mapped 4-level page tables), code loading and running.
import * as S from "../../assembly/cpu/state";
import { initDispatch, step } from "../../assembly/cpu/exec";
import { reset } from "../../assembly/index";
import { physInit } from "../../assembly/mmu/phys";
import { dcInit, DC_BYTES } from "../../assembly/cpu/dcache";
import { faultPending, faultVector, faultError, clearFault } from "../../assembly/cpu/fault";
import { getRflags, setRflags } from "../../assembly/cpu/flags";
import { invalidateFetch } from "../../assembly/cpu/decode";
import { tlbFlushAll } from "../../assembly/mmu/access";

export const RAM_SIZE: u32 = 4 << 20;
export const CODE: u64 = 0x10000;
export const DATA: u64 = 0x20000;
export const STACK_TOP: u64 = 0x80000;

let ram: usize = 0;

export function ramPtr(): usize { return ram; }

export function boot(): void {
  if (ram == 0) {
    const raw = heap.alloc(<usize>RAM_SIZE + 0x10000);
    ram = (raw + 0xffff) & ~(<usize>0xffff);
    physInit(ram, <u64>RAM_SIZE);
    initDispatch();
    dcInit((heap.alloc(DC_BYTES + 64) + 63) & ~(<usize>63));  // decoded-instruction cache
  }
  memory.fill(ram, 0, <usize>RAM_SIZE);
  reset();
  clearFault();
}

// Flat 32-bit protected mode, paging off: CS = 0x08 code (D=1), data 0x10 everywhere.
export function mode32(): void {
  boot();
  S.setSeg(S.CS, 0x08, 0, 0xffffffff, 0xc09b);
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) S.setSeg(s, 0x10, 0, 0xffffffff, 0xc093);
  S.cr0 = 0x60000011;  // PE, ET
  S.cr0 &= ~(<u64>0x60000000);
  S.updateMode();
  tlbFlushAll(false);
  invalidateFetch();
  S.setReg64(S.RSP, STACK_TOP);
  setRflags(2);
}

// Real mode (after reset: CS base 0xffff0000 -> use base 0 for the specs).
export function mode16(): void {
  boot();
  S.setSeg(S.CS, <u32>(CODE >> 4), CODE, 0xffff, 0x9b);  // code runs at CS:0 = CODE
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) S.setSeg(s, 0, 0, 0xffff, 0x93);
  S.updateMode();
  invalidateFetch();
  S.setReg64(S.RSP, 0x8000);
}

// 64-bit mode: PML4 at 0x1000 -> PDPT 0x2000 -> PD 0x3000 with 2 MiB identity pages.
export function mode64(): void {
  boot();
  store<u64>(ram + 0x1000, 0x2003);
  store<u64>(ram + 0x2000, 0x3003);
  for (let i: u32 = 0; i < 2; i++) store<u64>(ram + 0x3000 + <usize>(i * 8), (<u64>i << 21) | 0x83);
  S.cr3 = 0x1000;
  S.cr4 = S.CR4_PAE;
  S.efer = S.EFER_LME | S.EFER_LMA;
  S.cr0 = S.CR0_PE | S.CR0_PG | S.CR0_ET;
  S.setSeg(S.CS, 0x08, 0, 0xffffffff, 0xa09b);  // L=1, D=0
  for (let s: u32 = 0; s < 6; s++) if (s != S.CS) S.setSeg(s, 0x10, 0, 0xffffffff, 0xc093);
  S.updateMode();
  tlbFlushAll(false);
  invalidateFetch();
  S.setReg64(S.RSP, STACK_TOP);
  setRflags(2);
}

function hexVal(c: i32): u32 {
  if (c >= 48 && c <= 57) return <u32>(c - 48);
  if (c >= 97 && c <= 102) return <u32>(c - 87);
  return <u32>(c - 55);
}
// Write bytes given as hex text ("48 01 d8") at guest-physical pa; returns the length.
export function poke(pa: u64, hex: string): u32 {
  let n: u32 = 0;
  let i = 0;
  while (i < hex.length) {
    const c = hex.charCodeAt(i);
    if (c == 32) { i++; continue; }
    const v = (hexVal(c) << 4) | hexVal(hex.charCodeAt(i + 1));
    store<u8>(ram + <usize>pa + <usize>n, <u8>v);
    n++;
    i += 2;
  }
  return n;
}

export let lastFault: i32 = -1;
export let lastError: u32 = 0;
// Load code at CODE and run until RIP leaves it at its end, a fault, or maxSteps.
// Returns the fault vector or -1. On a fault RIP is left at the faulting instruction.
export function run(hex: string, maxSteps: u32 = 100000): i32 {
  return runAt(CODE, hex, maxSteps);
}
export function runAt(at: u64, hex: string, maxSteps: u32 = 100000): i32 {
  const n = poke(at, hex);
  invalidateFetch();
  const cs = S.segBase(S.CS);
  const end = at - cs + <u64>n;
  S.rip = at - cs;
  lastFault = -1;
  for (let i: u32 = 0; i < maxSteps; i++) {
    step();
    if (faultPending) {
      lastFault = <i32>faultVector;
      lastError = faultError;
      clearFault();
      return lastFault;
    }
    if (S.rip == end) break;
  }
  return -1;
}

// Register / memory / flag shorthands.
@inline export function R(r: u32): u64 { return S.getReg64(r); }
@inline export function setR(r: u32, v: u64): void { S.setReg64(r, v); }
export function m64(pa: u64): u64 { return load<u64>(ram + <usize>pa); }
export function m32(pa: u64): u32 { return load<u32>(ram + <usize>pa); }
export function m16(pa: u64): u32 { return <u32>load<u16>(ram + <usize>pa); }
export function m8(pa: u64): u32 { return <u32>load<u8>(ram + <usize>pa); }
export function setM64(pa: u64, v: u64): void { store<u64>(ram + <usize>pa, v); }
export function setM32(pa: u64, v: u32): void { store<u32>(ram + <usize>pa, v); }
export function setM8(pa: u64, v: u32): void { store<u8>(ram + <usize>pa, <u8>v); }
// Status flags only (CF PF AF ZF SF OF).
export function flags(): u64 { return getRflags() & 0x8d5; }
export function setFlags(v: u64): void { setRflags(v | 2); }

export const CF: u64 = 1, PF: u64 = 4, AF: u64 = 0x10, ZF: u64 = 0x40, SF: u64 = 0x80, OF: u64 = 0x800;
export const DF: u64 = 0x400;
export const RAX: u32 = 0, RCX: u32 = 1, RDX: u32 = 2, RBX: u32 = 3, RSP: u32 = 4, RBP: u32 = 5;
export const RSI: u32 = 6, RDI: u32 = 7, R8: u32 = 8, R9: u32 = 9, R10: u32 = 10, R11: u32 = 11;
export const R12: u32 = 12, R13: u32 = 13, R14: u32 = 14, R15: u32 = 15;

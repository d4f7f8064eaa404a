// Shared helpers for the system specs: guest RAM outside the test runtime's heap,
// byte pokes, descriptor builders.
import { initDispatch } from "../../assembly/cpu/exec";
import { physInit } from "../../assembly/mmu/phys";
import { reset } from "../../assembly/index";

export const RAM: u32 = 4 << 20;
let base: usize = 0;

export function setup(): void {
  if (base == 0) {
    const raw = heap.alloc(<usize>RAM + 0x10000);
    base = (raw + 0xffff) & ~(<usize>0xffff);
    initDispatch();
  }
  memory.fill(base, 0, RAM);
  physInit(base, <u64>RAM);
  reset();
}
export function ram(): usize { return base; }
export function poke(addr: u32, bytes: u8[]): void {
  for (let i = 0; i < bytes.length; i++) store<u8>(base + <usize>addr + <usize>i, bytes[i]);
}
export function w8(a: u32, v: u32): void { store<u8>(base + <usize>a, <u8>v); }
export function w16(a: u32, v: u32): void { store<u16>(base + <usize>a, <u16>v); }
export function w32(a: u32, v: u32): void { store<u32>(base + <usize>a, v); }
export function w64(a: u32, v: u64): void { store<u64>(base + <usize>a, v); }
export function r8(a: u32): u32 { return <u32>load<u8>(base + <usize>a); }
export function r16(a: u32): u32 { return <u32>load<u16>(base + <usize>a); }
export function r32(a: u32): u32 { return load<u32>(base + <usize>a); }
export function r64(a: u32): u64 { return load<u64>(base + <usize>a); }

// Segment descriptor: base, limit (raw 20 bits), access byte, flags nibble (G D L AVL).
export function desc(b: u32, limit: u32, access: u32, flags: u32): u64 {
  const lo: u32 = (limit & 0xffff) | ((b & 0xffff) << 16);
  const hi: u32 = ((b >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags << 20) | (b & 0xff000000);
  return (<u64>hi << 32) | <u64>lo;
}
// 32-bit interrupt/trap/call gate: selector, offset, type/access byte (e.g. 0x8e).
export function gate32(sel: u32, off: u32, access: u32): u64 {
  const lo: u32 = (off & 0xffff) | (sel << 16);
  const hi: u32 = (off & 0xffff0000) | (access << 8);
  return (<u64>hi << 32) | <u64>lo;
}
// 64-bit IDT gate (16 bytes) at addr.
export function gate64(addr: u32, sel: u32, off: u64, access: u32, ist: u32): void {
  w64(addr, gate32(sel, <u32>off, access) | (<u64>ist << 32));
  w64(addr + 8, off >> 32);
}

// Access bytes.
export const CODE0: u32 = 0x9b, DATA0: u32 = 0x93, CODE3: u32 = 0xfb, DATA3: u32 = 0xf3;
// Hidden attributes (state.ts layout) for flat 32-bit segments.
export const AR_CODE32_0: u32 = 0xc09b, AR_DATA32_0: u32 = 0xc093;
export const AR_CODE32_3: u32 = 0xc0fb, AR_DATA32_3: u32 = 0xc0f3;
export const AR_CODE64_0: u32 = 0xa09b, AR_CODE64_3: u32 = 0xa0fb;

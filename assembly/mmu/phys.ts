// Guest-physical memory: the one place a guest-physical address becomes a host
// (wasm linear memory) address. EPT plugs in above this layer (vmx/ept.ts will
// translate L2-physical to L1-physical before calling here).
import { mmioRead, mmioWrite } from "../host";

export let ramBase: usize = 0;  // host address of guest-physical 0
export let ramSize: u64 = 0;    // bytes of RAM starting at guest-physical 0

export function physInit(base: usize, size: u64): void {
  ramBase = base;
  ramSize = size;
}

// Host address for [pa, pa+size) if it is ordinary RAM, else 0 (MMIO / unmapped).
// (pa < ramSize first: pa + size must not wrap around 2^64 into RAM.)
@inline export function physHost(pa: u64, size: u32): usize {
  return pa < ramSize && pa + <u64>size <= ramSize ? ramBase + <usize>pa : 0;
}

// Physical accesses. MMIO goes to the host in 32-bit pieces (addresses above 4 GiB
// that are not RAM read as all-ones, as on a PC with nothing decoding them).
export function physRead(pa: u64, size: u32): u64 {
  const h = physHost(pa, size);
  if (h != 0) {
    if (size == 4) return <u64>load<u32>(h);
    if (size == 1) return <u64>load<u8>(h);
    if (size == 8) return load<u64>(h);
    return <u64>load<u16>(h);
  }
  if (pa >= 0x100000000) return size == 8 ? 0xffffffffffffffff : ((<u64>1 << (<u64>size * 8)) - 1);
  if (size == 8) {
    const lo = <u64>mmioRead(<u32>pa, 4);
    const hi = <u64>mmioRead(<u32>pa + 4, 4);
    return lo | (hi << 32);
  }
  return <u64>mmioRead(<u32>pa, size);
}

export function physWrite(pa: u64, size: u32, v: u64): void {
  const h = physHost(pa, size);
  if (h != 0) {
    if (size == 4) store<u32>(h, <u32>v);
    else if (size == 1) store<u8>(h, <u8>v);
    else if (size == 8) store<u64>(h, v);
    else store<u16>(h, <u16>v);
    return;
  }
  if (pa >= 0x100000000) return;
  if (size == 8) {
    mmioWrite(<u32>pa, 4, <u32>v);
    mmioWrite(<u32>pa + 4, 4, <u32>(v >> 32));
    return;
  }
  mmioWrite(<u32>pa, size, <u32>v);
}

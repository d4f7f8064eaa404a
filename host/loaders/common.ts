// Shared loader plumbing: a clear one-line error, and the boot-state helper.
import type { Core } from "../core";

/** A rejected image: the message is one line naming the problem. */
export class LoadError extends Error {
  constructor(message: string) { super(message); this.name = "LoadError"; }
}

export function hex(v: number | bigint): string { return "0x" + v.toString(16); }

/** Copy bytes to guest-physical pa, checking they fit in RAM. */
export function copyToRam(core: Core, pa: number, bytes: Uint8Array, what: string): void {
  if (pa < 0 || pa + bytes.length > core.ramBytes) {
    throw new LoadError(`${what} [${hex(pa)}, ${hex(pa + bytes.length)}) is outside guest RAM (${core.ramBytes >> 20} MiB)`);
  }
  core.ram.set(bytes, pa);
}
export function zeroRam(core: Core, pa: number, len: number, what: string): void {
  if (pa < 0 || pa + len > core.ramBytes) {
    throw new LoadError(`${what} [${hex(pa)}, ${hex(pa + len)}) is outside guest RAM (${core.ramBytes >> 20} MiB)`);
  }
  core.ram.fill(0, pa, pa + len);
}

// Access-rights words (VMX layout, SDM 24.4.1).
export const AR_CODE32 = 0xc09b;  // present, S, execute/read accessed, D=1, G=1
export const AR_DATA32 = 0xc093;  // present, S, read/write accessed, D=1, G=1
export const AR_CODE16 = 0x009b;
export const AR_DATA16 = 0x0093;

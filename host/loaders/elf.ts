// Minimal ELF reader: the header and PT_LOAD program headers of ELF32/ELF64 x86 images.
import { LoadError, hex } from "./common";

export interface ElfSegment { paddr: number; vaddr: number; offset: number; filesz: number; memsz: number }
export interface ElfImage { class: 32 | 64; machine: number; entry: number; segments: ElfSegment[] }

export const EM_386 = 3, EM_X86_64 = 62;

export function isElf(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

export function parseElf(b: Uint8Array, name: string): ElfImage {
  if (!isElf(b)) throw new LoadError(`${name}: not an ELF file`);
  if (b.length < 52) throw new LoadError(`${name}: truncated ELF header (${b.length} bytes)`);
  const cls = b[4];
  if (cls !== 1 && cls !== 2) throw new LoadError(`${name}: bad ELF class ${cls}`);
  if (b[5] !== 1) throw new LoadError(`${name}: not a little-endian ELF file`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const is64 = cls === 2;
  if (is64 && b.length < 64) throw new LoadError(`${name}: truncated ELF header (${b.length} bytes)`);
  const machine = dv.getUint16(18, true);
  const entry = is64 ? Number(dv.getBigUint64(24, true)) : dv.getUint32(24, true);
  const phoff = is64 ? Number(dv.getBigUint64(32, true)) : dv.getUint32(28, true);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  const phnum = dv.getUint16(is64 ? 56 : 44, true);
  const minEnt = is64 ? 56 : 32;
  if (phnum === 0) throw new LoadError(`${name}: ELF file has no program headers`);
  if (phentsize < minEnt) throw new LoadError(`${name}: bad ELF program header size ${phentsize}`);
  if (phoff + phnum * phentsize > b.length) throw new LoadError(`${name}: truncated ELF (program headers end at ${hex(phoff + phnum * phentsize)}, file is ${hex(b.length)} bytes)`);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (dv.getUint32(o, true) !== 1) continue;  // PT_LOAD
    let s: ElfSegment;
    if (is64) {
      s = {
        offset: Number(dv.getBigUint64(o + 8, true)), vaddr: Number(dv.getBigUint64(o + 16, true)),
        paddr: Number(dv.getBigUint64(o + 24, true)), filesz: Number(dv.getBigUint64(o + 32, true)),
        memsz: Number(dv.getBigUint64(o + 40, true)),
      };
    } else {
      s = {
        offset: dv.getUint32(o + 4, true), vaddr: dv.getUint32(o + 8, true), paddr: dv.getUint32(o + 12, true),
        filesz: dv.getUint32(o + 16, true), memsz: dv.getUint32(o + 20, true),
      };
    }
    if (s.offset + s.filesz > b.length) throw new LoadError(`${name}: truncated ELF (segment ${i} data ends at ${hex(s.offset + s.filesz)}, file is ${hex(b.length)} bytes)`);
    if (s.memsz < s.filesz) throw new LoadError(`${name}: ELF segment ${i} has memsz < filesz`);
    segments.push(s);
  }
  if (!segments.length) throw new LoadError(`${name}: ELF file has no loadable segments`);
  return { class: is64 ? 64 : 32, machine, entry, segments };
}

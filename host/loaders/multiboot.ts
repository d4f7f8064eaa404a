// Multiboot v1 loading as QEMU's `-kernel` does it (hw/i386/multiboot.c + the multiboot
// option ROM): header in the first 8192 bytes, ELF32 PT_LOAD segments at their physical
// addresses or the a.out kludge (flag 16) address fields; info structure at 0x9500, memory
// map at 0x9000; the kernel's buffer is followed (page aligned) by the module table,
// command lines and boot loader name, then each module page aligned.
import type { Core } from "../core";
import { SEG } from "../core";
import { parseElf, isElf, EM_X86_64 } from "./elf";
import { LoadError, hex, copyToRam, zeroRam, AR_CODE32, AR_DATA32 } from "./common";

export const MULTIBOOT_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
export const MBI_ADDR = 0x9500;
export const MMAP_ADDR = 0x9000;
/** The GDT the option ROM would leave loaded (0x08 code32, 0x10 data32, 0x18 code16, 0x20 data16). */
export const GDT_ADDR = 0x9fe00;
export const BOOT_STACK = 0x6f08;   // where QEMU+SeaBIOS leave ESP (undefined by the spec)
export const BOOTLOADER_NAME = "nestvm";

export interface MultibootModule {
  /** The module's bytes. */
  data: Uint8Array;
  /** Its command line as QEMU passes it: "file arg..." (the whole --initrd item). */
  cmdline: string;
}
export interface MultibootOptions {
  /** Image name for the command line (QEMU passes the -kernel path). */
  name?: string;
  /** Kernel arguments (QEMU -append). */
  append?: string;
  modules?: MultibootModule[];
}
export interface MultibootHeader {
  offset: number; flags: number;
  headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number;
}
export interface MultibootResult {
  entry: number; loadAddr: number; loadEnd: number; mbi: number;
  modules: { start: number; end: number; cmdline: string }[];
}

/** Find a valid multiboot header in the first 8192 bytes (4-byte aligned, checksum ok). */
export function findMultibootHeader(b: Uint8Array): MultibootHeader | null {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lim = Math.min(8192 - 48, b.length - 12);
  for (let i = 0; i <= lim; i += 4) {
    if (dv.getUint32(i, true) !== MULTIBOOT_MAGIC) continue;
    const flags = dv.getUint32(i + 4, true);
    if (((MULTIBOOT_MAGIC + flags + dv.getUint32(i + 8, true)) >>> 0) !== 0) continue;
    const f = (k: number) => (i + k + 4 <= b.length ? dv.getUint32(i + k, true) : 0);
    return { offset: i, flags, headerAddr: f(12), loadAddr: f(16), loadEndAddr: f(20), bssEndAddr: f(24), entryAddr: f(28) };
  }
  return null;
}

const pageAlign = (v: number) => (v + 0xfff) & ~0xfff;
const enc = new TextEncoder();

/** The e820 map SeaBIOS reports under QEMU for `ramBytes` of RAM (below 4 GiB). Checked
 *  against QEMU 7.2 -kernel with an Intel-vendor CPU: same entries, mem_lower 639, and
 *  mem_upper, modules, cmdline and info addresses identical (QEMU adds a reserved
 *  0xfd00000000 HyperTransport range only for AMD-vendor CPUs). */
export function e820Map(ramBytes: number): { base: number; length: number; type: number }[] {
  const top = ramBytes - 0x20000;   // SeaBIOS keeps the top 128 KiB for its tables
  return [
    { base: 0, length: 0x9fc00, type: 1 },
    { base: 0x9fc00, length: 0x400, type: 2 },
    { base: 0xf0000, length: 0x10000, type: 2 },
    { base: 0x100000, length: top - 0x100000, type: 1 },
    { base: top, length: 0x20000, type: 2 },
    { base: 0xfffc0000, length: 0x40000, type: 2 },
  ];
}

export function loadMultiboot(core: Core, image: Uint8Array, opts: MultibootOptions = {}): MultibootResult {
  const name = opts.name ?? "kernel";
  const append = opts.append ?? "";
  const mods = opts.modules ?? [];
  const ram = core.ramBytes;
  if (ram < 2 << 20) throw new LoadError(`multiboot needs at least 2 MiB of RAM`);
  const hdr = findMultibootHeader(image);
  if (!hdr) throw new LoadError(`${name}: not a multiboot image (no valid multiboot header in the first 8192 bytes)`);
  if (hdr.flags & 0x4) { /* VBE info requested: like QEMU, we provide none */ }

  let loadAddr: number, kernelSize: number, entry: number;
  const pieces: { pa: number; bytes: Uint8Array; zero: number }[] = [];
  if (!(hdr.flags & 0x10000)) {
    if (!isElf(image)) throw new LoadError(`${name}: multiboot header without address fields (flag 16) and not an ELF file`);
    const elf = parseElf(image, name);
    if (elf.machine === EM_X86_64 || elf.class === 64) throw new LoadError(`${name}: cannot load a 64-bit ELF via multiboot, give a 32-bit one`);
    let lo = Infinity, hi = 0;
    for (const s of elf.segments) {
      if (s.memsz === 0) continue;
      lo = Math.min(lo, s.paddr); hi = Math.max(hi, s.paddr + s.memsz);
      if (s.paddr + s.memsz > ram) throw new LoadError(`${name}: ELF segment [${hex(s.paddr)}, ${hex(s.paddr + s.memsz)}) is outside guest RAM (${ram >> 20} MiB)`);
      pieces.push({ pa: s.paddr, bytes: image.subarray(s.offset, s.offset + s.filesz), zero: s.memsz - s.filesz });
    }
    if (lo === Infinity) throw new LoadError(`${name}: ELF file has no non-empty loadable segments`);
    loadAddr = lo; kernelSize = hi - lo; entry = elf.entry;
  } else {
    loadAddr = hdr.loadAddr;
    if (hdr.headerAddr < hdr.loadAddr) throw new LoadError(`${name}: invalid multiboot header: header_addr ${hex(hdr.headerAddr)} < load_addr ${hex(hdr.loadAddr)}`);
    const textOffset = hdr.offset - (hdr.headerAddr - hdr.loadAddr);
    if (textOffset < 0) throw new LoadError(`${name}: invalid multiboot header: header_addr - load_addr exceeds the header's file offset`);
    let loadSize: number;
    if (hdr.loadEndAddr) {
      if (hdr.loadEndAddr < loadAddr) throw new LoadError(`${name}: invalid multiboot header: load_end_addr ${hex(hdr.loadEndAddr)} < load_addr ${hex(loadAddr)}`);
      loadSize = hdr.loadEndAddr - loadAddr;
    } else {
      loadSize = image.length - textOffset;
    }
    if (textOffset + loadSize > image.length) throw new LoadError(`${name}: truncated image: load_end_addr needs ${hex(textOffset + loadSize)} bytes, file has ${hex(image.length)}`);
    if (hdr.bssEndAddr) {
      if (hdr.bssEndAddr < loadAddr + loadSize) throw new LoadError(`${name}: invalid multiboot header: bss_end_addr ${hex(hdr.bssEndAddr)} < load end ${hex(loadAddr + loadSize)}`);
      kernelSize = hdr.bssEndAddr - loadAddr;
    } else kernelSize = loadSize;
    entry = hdr.entryAddr;
    pieces.push({ pa: loadAddr, bytes: image.subarray(textOffset, textOffset + loadSize), zero: kernelSize - loadSize });
  }
  if (loadAddr + kernelSize > ram) throw new LoadError(`${name}: kernel [${hex(loadAddr)}, ${hex(loadAddr + kernelSize)}) is outside guest RAM (${ram >> 20} MiB)`);
  // A kernel loaded over 0x9000-0x95ff is accepted: it is written after the map and info block
  // (below), as QEMU does, and kvm-unit-tests' realmode image depends on exactly that.

  // The buffer after the kernel: module table, command lines, loader name, then modules.
  const kcmd = `${name} ${append}`;
  const modCmdLen = mods.reduce((n, m) => n + enc.encode(m.cmdline).length + 1, 0);
  const cmdlineLen = enc.encode(kcmd).length + 1 + modCmdLen;
  const offMbinfo = pageAlign(kernelSize);
  let bufSize = pageAlign(offMbinfo + 16 * mods.length + cmdlineLen + BOOTLOADER_NAME.length + 1);
  let offCmd = offMbinfo + 16 * mods.length;
  const offLoader = offCmd + cmdlineLen;
  const phys = loadAddr;
  const modPlacements: { pa: number; data: Uint8Array; cmdPa: number; cmdline: string }[] = [];
  const strings: { pa: number; s: Uint8Array }[] = [];
  const addString = (s: string) => {
    const bytes = enc.encode(s + "\0");
    const pa = phys + offCmd; strings.push({ pa, s: bytes }); offCmd += bytes.length; return pa;
  };
  for (const m of mods) {
    const cmdPa = addString(m.cmdline);
    const offs = bufSize;
    modPlacements.push({ pa: phys + offs, data: m.data, cmdPa, cmdline: m.cmdline });
    bufSize = pageAlign(offs + m.data.length);
  }
  const kcmdPa = addString(kcmd);
  const loaderPa = phys + offLoader;
  strings.push({ pa: loaderPa, s: enc.encode(BOOTLOADER_NAME + "\0") });
  if (phys + bufSize > ram) throw new LoadError(`${name}: kernel and modules need RAM up to ${hex(phys + bufSize)}, guest RAM is ${ram >> 20} MiB`);

  const dv = core.ramView;
  // Memory map (each entry preceded by its size, 20) and the info structure.
  const map = e820Map(ram);
  let o = MMAP_ADDR;
  for (const e of map) {
    dv.setUint32(o, 20, true);
    dv.setBigUint64(o + 4, BigInt(e.base), true);
    dv.setBigUint64(o + 12, BigInt(e.length), true);
    dv.setUint32(o + 20, e.type, true);
    o += 24;
  }
  // mem_upper: contiguous usable RAM from 1 MiB (as the option ROM computes it).
  let upper = 0x100000;
  for (let again = true; again;) {
    again = false;
    for (const e of map) if (e.type === 1 && e.base <= upper && upper < e.base + e.length) { upper = e.base + e.length; again = true; }
  }
  core.ram.fill(0, MBI_ADDR, MBI_ADDR + 88);
  dv.setUint32(MBI_ADDR + 0, 0x1 | 0x2 | 0x4 | 0x8 | 0x40 | 0x200, true);
  dv.setUint32(MBI_ADDR + 4, 639, true);                          // int 0x12: 639 KiB (1 KiB EBDA)
  dv.setUint32(MBI_ADDR + 8, (upper - 0x100000) >>> 10, true);
  dv.setUint32(MBI_ADDR + 12, 0x8000ffff, true);                  // boot device
  dv.setUint32(MBI_ADDR + 16, kcmdPa, true);
  dv.setUint32(MBI_ADDR + 20, mods.length, true);
  dv.setUint32(MBI_ADDR + 24, phys + offMbinfo, true);
  dv.setUint32(MBI_ADDR + 44, o - MMAP_ADDR, true);               // mmap_length
  dv.setUint32(MBI_ADDR + 48, MMAP_ADDR, true);                   // mmap_addr
  dv.setUint32(MBI_ADDR + 64, loaderPa, true);                    // boot_loader_name

  // Commit to RAM, after the map and info block: QEMU's multiboot option ROM builds those in real
  // mode and reads the kernel blob (image, bss, module table, strings, modules) last, so a kernel
  // linked over 0x9000-0x95ff (kvm-unit-tests' realmode) overwrites them and keeps its own bytes.
  for (const p of pieces) {
    copyToRam(core, p.pa, p.bytes, `${name}: segment`);
    zeroRam(core, p.pa + p.bytes.length, p.zero, `${name}: bss`);
  }
  zeroRam(core, phys + offMbinfo, bufSize - offMbinfo, "multiboot data");
  for (const s of strings) copyToRam(core, s.pa, s.s, "multiboot string");
  modPlacements.forEach((m, i) => {
    copyToRam(core, m.pa, m.data, `module ${i}`);
    const e = phys + offMbinfo + 16 * i;
    dv.setUint32(e, m.pa, true); dv.setUint32(e + 4, m.pa + m.data.length, true);
    dv.setUint32(e + 8, m.cmdPa, true); dv.setUint32(e + 12, 0, true);
  });

  enterProtected32(core, entry);
  core.setReg(0, MULTIBOOT_BOOTLOADER_MAGIC);                     // EAX
  core.setReg(3, MBI_ADDR);                                       // EBX
  core.setReg(1, entry);                                          // ECX (the ROM jumps via ECX)
  return {
    entry, loadAddr, loadEnd: loadAddr + kernelSize, mbi: MBI_ADDR,
    modules: modPlacements.map((m) => ({ start: m.pa, end: m.pa + m.data.length, cmdline: m.cmdline })),
  };
}

/** Write the boot GDT: null, 0x08 code32, 0x10 data32, 0x18 code16, 0x20 data16 (all base 0). */
export function writeBootGdt(core: Core): void {
  const g = [
    [0, 0], [0x0000ffff, 0x00cf9a00], [0x0000ffff, 0x00cf9200], [0x0000ffff, 0x00009e00], [0x0000ffff, 0x00009200],
  ];
  const dv = core.ramView;
  g.forEach(([lo, hi], i) => { dv.setUint32(GDT_ADDR + 8 * i, lo, true); dv.setUint32(GDT_ADDR + 8 * i + 4, hi, true); });
}

/** The state the multiboot option ROM leaves: 32-bit flat protected mode, paging off, IF=0. */
export function enterProtected32(core: Core, entry: number): void {
  core.reset();
  writeBootGdt(core);
  for (let i = 0; i < 8; i++) core.setReg(i, 0);
  core.setReg(4, BOOT_STACK);
  core.setGdt(GDT_ADDR, 5 * 8 - 1);
  core.setIdt(0, 0x3ff);
  core.setCr(0, 0x11);                                   // PE, ET
  core.setSegment(SEG.CS, 0x08, 0, 0xffffffff, AR_CODE32);
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) core.setSegment(s, 0x10, 0, 0xffffffff, AR_DATA32);
  core.rflags = 2n;                                      // IF=0, DF=0
  core.rip = BigInt(entry >>> 0);
}

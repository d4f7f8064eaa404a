// Raw flat binaries.
//  mode 'protected' (default): loaded at `addr` (default 0x100000), entered at `entry`
//    (default addr) in the same state as a multiboot kernel: 32-bit flat protected mode,
//    paging off, IF=0, GDT 0x08 code / 0x10 data at 0x9fe00, ESP=0x6f08, EAX=EBX=0.
//  mode 'real': loaded at `addr` (default 0x7c00, the boot-sector convention) and entered
//    in real mode with CS=0, IP=entry, DS=ES=SS=0, SP=0x7c00, DL=0x80, IF=0.
import type { Core } from "../core";
import { SEG } from "../core";
import { LoadError, hex, copyToRam } from "./common";
import { enterProtected32 } from "./multiboot";

export interface FlatOptions {
  mode?: "protected" | "real";
  addr?: number;
  entry?: number;
  name?: string;
}
export interface FlatResult { addr: number; entry: number; mode: "protected" | "real" }

export function loadFlat(core: Core, image: Uint8Array, opts: FlatOptions = {}): FlatResult {
  const mode = opts.mode ?? "protected";
  const name = opts.name ?? "image";
  const addr = opts.addr ?? (mode === "real" ? 0x7c00 : 0x100000);
  const entry = opts.entry ?? addr;
  if (image.length === 0) throw new LoadError(`${name}: empty image`);
  if (addr + image.length > core.ramBytes) throw new LoadError(`${name}: image [${hex(addr)}, ${hex(addr + image.length)}) is outside guest RAM (${core.ramBytes >> 20} MiB)`);
  if (mode === "real") {
    if (addr + image.length > 0x100000 || entry > 0xffff) throw new LoadError(`${name}: a real-mode image must fit below 1 MiB with an entry point below 0x10000`);
    core.reset();
    copyToRam(core, addr, image, name);
    for (let i = 0; i < 8; i++) core.setReg(i, 0);
    core.setReg(2, 0x80);          // DL: boot drive
    core.setReg(4, 0x7c00);
    core.setSegment(SEG.CS, 0, 0, 0xffff, 0x9b);
    for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) core.setSegment(s, 0, 0, 0xffff, 0x93);
    core.setIdt(0, 0x3ff);
    core.rflags = 2n;
    core.rip = BigInt(entry);
  } else {
    copyToRam(core, addr, image, name);
    enterProtected32(core, entry);
  }
  return { addr, entry, mode };
}

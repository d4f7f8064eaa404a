// Linux boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry, as QEMU's -kernel does
// for a bzImage: the protected-mode kernel at 1 MiB, the "zero page" (struct boot_params) with
// the image's setup header, the e820 map, the command line and the initrd, then
//   32-bit flat protected mode, paging off, IF = 0, a GDT with __BOOT_CS = 0x10 and
//   __BOOT_DS = 0x18, CS = 0x10, DS = ES = SS = 0x18, ESI = boot_params, EBP = EDI = EBX = 0,
//   EIP = code32_start.
import type { Core } from "../core";
import { SEG } from "../core";
import { LoadError, copyToRam, zeroRam, hex, AR_CODE32, AR_DATA32 } from "./common";
import { e820Map } from "./multiboot";
import { ACPI_AREA } from "../platform/acpi";

export interface LinuxOptions {
  /** Kernel command line (QEMU -append). */
  cmdline?: string;
  /** initramfs / initrd image (QEMU -initrd). */
  initrd?: Uint8Array;
  name?: string;
}
export interface LinuxResult { version: number; kernelEnd: number; initrd?: { start: number; end: number }; bootParams: number }

// Guest-physical layout below 1 MiB (free in the e820 map; the kernel copies what it needs early).
const GDT_ADDR = 0x6000;
const BOOT_PARAMS = 0x7000;
const CMDLINE = 0x20000;
const KERNEL = 0x100000;

/** The setup header's "HdrS" signature at 0x202 with a boot protocol version. */
export function isBzImage(b: Uint8Array): boolean {
  return b.length > 0x260 && b[0x1fe] === 0x55 && b[0x1ff] === 0xaa &&
    b[0x202] === 0x48 && b[0x203] === 0x64 && b[0x204] === 0x72 && b[0x205] === 0x53;
}

/** The memory types a PC BIOS leaves in the MTRRs (SeaBIOS under QEMU does the same): without
 *  them Linux finds the MTRRs disabled and turns PAT off too. Fixed ranges: WB below 640 KiB,
 *  UC for the VGA window, WP for the ROM area; variable range 0: the MMIO hole above 3 GiB (the
 *  most RAM a machine has) UC; default type WB, MTRRs and fixed ranges enabled. */
export function firmwareMtrrs(core: Core): void {
  const WB = 0x0606060606060606n, WP = 0x0505050505050505n;
  const set = (msr: number, v: bigint) => { if (!core.setMsr(msr, v)) throw new Error(`firmware MTRR ${hex(msr)} rejected`); };
  set(0x250, WB); set(0x258, WB); set(0x259, 0n);                 // 64K 00000, 16K 80000, 16K A0000
  for (let i = 0; i < 8; i++) set(0x268 + i, WP);                 // 4K C0000 .. F8000
  set(0x200, 0xc0000000n | 0n);                                   // PHYSBASE0: 3 GiB, UC
  set(0x201, ((1n << 40n) - 1n) & ~0x3fffffffn | 0x800n);         // PHYSMASK0: 1 GiB, valid
  set(0x2ff, 0xc06n);                                             // E, FE, default WB
}

export function loadLinux(core: Core, image: Uint8Array, opts: LinuxOptions = {}): LinuxResult {
  const name = opts.name ?? "bzImage";
  if (!isBzImage(image)) throw new LoadError(`${name}: not a Linux bzImage (no "HdrS" setup header)`);
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const version = dv.getUint16(0x206, true);
  // 2.02: cmd_line_ptr; 2.03: initrd_addr_max; below that the 32-bit entry is not described.
  if (version < 0x0203) throw new LoadError(`${name}: Linux boot protocol ${(version >> 8)}.${version & 0xff} is too old (2.03 or later needed)`);
  const loadflags = image[0x211];
  if (!(loadflags & 1)) throw new LoadError(`${name}: not a bzImage (LOADED_HIGH clear: a zImage)`);
  let setupSects = image[0x1f1];
  if (setupSects === 0) setupSects = 4;
  const pmOffset = (setupSects + 1) * 512;
  if (pmOffset >= image.length) throw new LoadError(`${name}: truncated (setup of ${pmOffset} bytes, file of ${image.length})`);
  const pm = image.subarray(pmOffset);
  // The decompressor needs init_size bytes from the load address (2.10+; else assume 4x).
  const initSize = version >= 0x020a ? dv.getUint32(0x260, true) : pm.length * 4;
  const ram = core.ramBytes;
  const top = e820Map(ram)[3].base + e820Map(ram)[3].length;   // end of usable RAM above 1 MiB
  if (KERNEL + Math.max(initSize, pm.length) > top) {
    throw new LoadError(`${name}: needs ${Math.ceil((KERNEL + Math.max(initSize, pm.length)) / 2 ** 20)} MiB of RAM to decompress (have ${ram >> 20} MiB)`);
  }
  const cmd = new TextEncoder().encode(opts.cmdline ?? "");
  const cmdMax = version >= 0x0206 ? dv.getUint32(0x238, true) : 255;
  if (cmd.length > cmdMax) throw new LoadError(`${name}: command line of ${cmd.length} bytes is longer than the kernel's ${cmdMax}`);

  // Where the initrd goes, checked before anything in the machine changes.
  let initrd: LinuxResult["initrd"];
  if (opts.initrd && opts.initrd.length) {
    // As high as the kernel allows (initrd_addr_max) and RAM has, page aligned, above the
    // decompressor's working area.
    const max = Math.min(dv.getUint32(0x22c, true) + 1, top);
    const start = Math.floor((max - opts.initrd.length) / 4096) * 4096;
    if (start < KERNEL + initSize) throw new LoadError(`${name}: initrd of ${opts.initrd.length} bytes does not fit below ${hex(max)} (give the machine more RAM)`);
    initrd = { start, end: start + opts.initrd.length };
  }

  core.reset();
  firmwareMtrrs(core);
  copyToRam(core, KERNEL, pm, "kernel");

  // The zero page: the image's setup header (0x1f1 up to 0x202 + its length byte), then what the
  // loader fills in.
  zeroRam(core, BOOT_PARAMS, 0x1000, "boot_params");
  const hdrEnd = Math.min(0x202 + image[0x201], 0x1000);
  copyToRam(core, BOOT_PARAMS + 0x1f1, image.subarray(0x1f1, hdrEnd), "setup header");
  const bp = core.ramView;
  const p8 = (o: number, v: number) => bp.setUint8(BOOT_PARAMS + o, v);
  const p16 = (o: number, v: number) => bp.setUint16(BOOT_PARAMS + o, v, true);
  const p32 = (o: number, v: number) => bp.setUint32(BOOT_PARAMS + o, v >>> 0, true);
  p16(0x1fa, 0xffff);                        // vid_mode: "normal"
  p8(0x210, 0xff);                           // type_of_loader: undefined boot loader
  p8(0x211, (loadflags | 0x80) & ~0x20);     // CAN_USE_HEAP, not QUIET
  p16(0x224, 0xfe00);                        // heap_end_ptr (real-mode setup only)
  copyToRam(core, CMDLINE, Uint8Array.from([...cmd, 0]), "command line");
  p32(0x228, CMDLINE);                       // cmd_line_ptr
  if (version >= 0x020e) bp.setBigUint64(BOOT_PARAMS + 0x070, BigInt(ACPI_AREA), true);   // acpi_rsdp_addr

  if (initrd) {
    copyToRam(core, initrd.start, opts.initrd!, "initrd");
    p32(0x218, initrd.start); p32(0x21c, opts.initrd!.length);
  } else {
    p32(0x218, 0); p32(0x21c, 0);            // no initrd: not the image's ramdisk_image/size
  }

  const map = e820Map(ram);
  map.forEach((e, i) => {
    const o = BOOT_PARAMS + 0x2d0 + 20 * i;
    bp.setBigUint64(o, BigInt(e.base), true); bp.setBigUint64(o + 8, BigInt(e.length), true); bp.setUint32(o + 16, e.type, true);
  });
  p8(0x1e8, map.length);                     // e820_entries

  // GDT: null, unused, 0x10 flat code, 0x18 flat data.
  const g = [[0, 0], [0, 0], [0x0000ffff, 0x00cf9a00], [0x0000ffff, 0x00cf9200]];
  g.forEach(([lo, hi], i) => { bp.setUint32(GDT_ADDR + 8 * i, lo, true); bp.setUint32(GDT_ADDR + 8 * i + 4, hi, true); });
  core.setGdt(GDT_ADDR, g.length * 8 - 1);
  core.setIdt(0, 0x3ff);
  core.setCr(0, 0x11);                       // PE, ET; paging off
  core.setSegment(SEG.CS, 0x10, 0, 0xffffffff, AR_CODE32);
  for (const s of [SEG.DS, SEG.ES, SEG.SS, SEG.FS, SEG.GS]) core.setSegment(s, 0x18, 0, 0xffffffff, AR_DATA32);
  for (let i = 0; i < 8; i++) core.setReg(i, 0);
  core.setReg(6, BOOT_PARAMS);               // ESI
  core.rflags = 2n;
  core.rip = BigInt(dv.getUint32(0x214, true) || KERNEL);   // code32_start
  return { version, kernelEnd: KERNEL + pm.length, initrd, bootParams: BOOT_PARAMS };
}

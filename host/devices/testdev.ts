// QEMU's pc-testdev (hw/misc/pc-testdev.c behaviour, which kvm-unit-tests relies on):
// ports 0xE0-0xE3 a 32-bit scratch register (any width/offset), port 0xE4 "flush page"
// (a write of a physical address; here nothing is cached per page, so it is accepted),
// ports 0x2000+n raise (non-zero) / lower (zero) interrupt line n (0-23), and 64 KiB of
// "iomem" at 0xFF000000 that reads back what was written (MMIO, so every access exits).
import type { IoBus, MmioBus } from "../bus";

export const TESTDEV_IOMEM = 0xff000000;
export const TESTDEV_IOMEM_LEN = 0x10000;

export class PcTestDev {
  scratch = 0;
  readonly iomem = new Uint8Array(TESTDEV_IOMEM_LEN);
  lastFlush = -1;
  setIrq: (line: number, level: boolean) => void = () => {};
  /** Called with the physical page of a 0xE4 write (decode caches could drop it). */
  onFlushPage: (pa: number) => void = () => {};

  attach(io: IoBus, mmio: MmioBus): void {
    io.register(0xe0, 4, {
      width: 4,
      read: (p, size) => {
        const sh = (p & 3) * 8;
        const mask = size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1;
        return ((this.scratch >>> sh) & mask) >>> 0;
      },
      write: (p, size, v) => {
        const sh = (p & 3) * 8;
        const mask = ((size >= 4 ? 0xffffffff : (1 << (size * 8)) - 1) << sh) >>> 0;
        this.scratch = ((this.scratch & ~mask) | ((v << sh) & mask)) >>> 0;
      },
    });
    io.register(0xe4, 4, {
      width: 4,
      read: () => 0xffffffff,
      write: (p, size, v) => { if (p === 0xe4 && size === 4) { this.lastFlush = v & ~0xfff; this.onFlushPage(this.lastFlush >>> 0); } },
    });
    io.register(0x2000, 24, {
      width: 1,
      read: () => 0xff,
      write: (p, _s, v) => this.setIrq(p - 0x2000, v !== 0),
    });
    mmio.register(TESTDEV_IOMEM, TESTDEV_IOMEM_LEN, {
      read: (off, size) => {
        let v = 0;
        for (let i = 0; i < size && off + i < TESTDEV_IOMEM_LEN; i++) v |= this.iomem[off + i] << (8 * i);
        return v >>> 0;
      },
      write: (off, size, v) => {
        for (let i = 0; i < size && off + i < TESTDEV_IOMEM_LEN; i++) this.iomem[off + i] = (v >>> (8 * i)) & 0xff;
      },
    });
  }
  reset(): void { this.scratch = 0; }
}

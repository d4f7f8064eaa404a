// PCI configuration mechanism #1 (0xCF8 address, 0xCFC-0xCFF data) on bus 0, with the
// functions of QEMU's i440FX machine that software probes: 00:00.0 i440FX host bridge
// (8086:1237), 00:01.0 PIIX3 ISA bridge (8086:7000), 00:01.3 PIIX4 ACPI (8086:7113, PMBA 0x600),
// and QEMU's pci-testdev (1b36:0005) at 00:02.0 with its BARs already assigned the way a BIOS
// leaves them (memory BAR0 4 KiB, I/O BAR1 256 bytes, decoding enabled).
// Port 0xCF9 (PIIX reset control register): writing bit 2 requests a reset.
import type { IoBus, MmioBus, PortDevice } from "../bus";

export interface BarSpec { size: number; io: boolean; addr: number; handler: { read(off: number, size: number): number; write(off: number, size: number, v: number): void } }

export class PciFunction {
  readonly cfg = new Uint8Array(256);
  readonly wmask = new Uint8Array(256);
  readonly bars: (BarSpec | undefined)[] = [];
  constructor(readonly devfn: number, vendor: number, device: number, classCode: number, rev = 0, headerType = 0) {
    const dv = new DataView(this.cfg.buffer);
    dv.setUint16(0, vendor, true); dv.setUint16(2, device, true);
    this.cfg[8] = rev;
    this.cfg[9] = classCode & 0xff; this.cfg[10] = (classCode >> 8) & 0xff; this.cfg[11] = (classCode >> 16) & 0xff;
    this.cfg[0x0e] = headerType;
    dv.setUint16(6, 0x0200, true);           // status: medium DEVSEL timing (as QEMU)
    this.wmask[4] = 0x07; this.wmask[5] = 0x05;   // command: IO, MEM, master, SERR, INTx disable
    this.wmask[0x0c] = 0xff; this.wmask[0x0d] = 0xff;  // cache line size, latency timer
    this.wmask[0x3c] = 0xff;                 // interrupt line
  }
  get dv(): DataView { return new DataView(this.cfg.buffer); }
  read(off: number, size: number): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.cfg[(off + i) & 0xff] << (8 * i);
    return v >>> 0;
  }
}

export class PciHost {
  private addr = 0;
  readonly functions = new Map<number, PciFunction>();   // devfn (bus 0) -> function
  onReset: (hard: boolean) => void = () => {};
  private io?: IoBus;

  constructor() {}

  add(f: PciFunction): PciFunction { this.functions.set(f.devfn, f); return f; }

  /** Give function f a BAR (index 0-5); it is decoded at `addr` when enabled. */
  addBar(f: PciFunction, index: number, bar: BarSpec): void {
    f.bars[index] = bar;
    const off = 0x10 + 4 * index;
    f.dv.setUint32(off, (bar.addr | (bar.io ? 1 : 0)) >>> 0, true);
    const mask = (~(bar.size - 1) & (bar.io ? 0xfffffffc : 0xfffffff0)) >>> 0;
    for (let i = 0; i < 4; i++) f.wmask[off + i] = (mask >>> (8 * i)) & 0xff;
  }

  private barAddr(f: PciFunction, i: number): number {
    const b = f.bars[i];
    if (!b) return 0;
    const v = f.dv.getUint32(0x10 + 4 * i, true);
    return (v & (b.io ? 0xfffffffc : 0xfffffff0)) >>> 0;
  }
  private decodes(f: PciFunction, io: boolean): boolean { return (f.cfg[4] & (io ? 1 : 2)) !== 0; }

  /** MMIO inside the PCI hole: the function whose enabled memory BAR covers pa. */
  mmioRead(pa: number, size: number): number {
    for (const f of this.functions.values()) {
      if (!this.decodes(f, false)) continue;
      f.bars.forEach(() => {});
      for (let i = 0; i < f.bars.length; i++) {
        const b = f.bars[i];
        if (!b || b.io) continue;
        const base = this.barAddr(f, i);
        if (pa >= base && pa < base + b.size) return b.handler.read(pa - base, size);
      }
    }
    return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
  }
  mmioWrite(pa: number, size: number, v: number): void {
    for (const f of this.functions.values()) {
      if (!this.decodes(f, false)) continue;
      for (let i = 0; i < f.bars.length; i++) {
        const b = f.bars[i];
        if (!b || b.io) continue;
        const base = this.barAddr(f, i);
        if (pa >= base && pa < base + b.size) { b.handler.write(pa - base, size, v); return; }
      }
    }
  }
  private ioMapped = new Map<string, [number, number]>();
  /** Re-register I/O BARs after the guest moved or enabled them. */
  private remapIo(): void {
    const io = this.io;
    if (!io) return;
    for (const [key, [base, size]] of this.ioMapped) { io.unregister(base, size); this.ioMapped.delete(key); }
    for (const f of this.functions.values()) {
      if (!this.decodes(f, true)) continue;
      for (let i = 0; i < f.bars.length; i++) {
        const b = f.bars[i];
        if (!b || !b.io) continue;
        const base = this.barAddr(f, i);
        if (base === 0 || base + b.size > 0x10000) continue;
        let clash = false;
        for (let p = base; p < base + b.size; p++) if (io.claimed(p)) { clash = true; break; }
        if (clash) continue;
        const h = b.handler;
        const dev: PortDevice = { width: 4, read: (p, s) => h.read(p - base, s), write: (p, s, v) => h.write(p - base, s, v) };
        io.register(base, b.size, dev);
        this.ioMapped.set(`${f.devfn}:${i}`, [base, b.size]);
      }
    }
  }

  configRead(devfn: number, off: number, size: number): number {
    const f = this.functions.get(devfn);
    if (!f) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    return f.read(off, size);
  }
  configWrite(devfn: number, off: number, size: number, v: number): void {
    const f = this.functions.get(devfn);
    if (!f) return;
    let ioChange = false;
    for (let i = 0; i < size; i++) {
      const o = (off + i) & 0xff, m = f.wmask[o];
      const b = (v >>> (8 * i)) & 0xff;
      const nv = (f.cfg[o] & ~m) | (b & m);
      if (nv !== f.cfg[o] && (o === 4 || (o >= 0x10 && o < 0x28))) ioChange = true;
      f.cfg[o] = nv;
    }
    if (ioChange) this.remapIo();
  }

  attach(io: IoBus, mmio: MmioBus, hole: [number, number] = [0xe0000000, 0xfec00000]): void {
    this.io = io;
    io.register(0xcf8, 4, {
      width: 4,
      read: (p, size) => {
        if (p === 0xcf8 && size === 4) return this.addr;
        if (p === 0xcf9 && size === 1) return 0;      // reset control register
        return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
      },
      write: (p, size, v) => {
        if (p === 0xcf8 && size === 4) this.addr = v & 0x80fffffc;
        else if (p === 0xcf9 && size === 1 && (v & 4)) this.onReset((v & 2) !== 0);   // bit 1: hard (full) reset
      },
    });
    io.register(0xcfc, 4, {
      width: 4,
      read: (p, size) => {
        if (!(this.addr & 0x80000000) || ((this.addr >> 16) & 0xff) !== 0) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
        return this.configRead((this.addr >> 8) & 0xff, (this.addr & 0xfc) + (p & 3), size);
      },
      write: (p, size, v) => {
        if (!(this.addr & 0x80000000) || ((this.addr >> 16) & 0xff) !== 0) return;
        this.configWrite((this.addr >> 8) & 0xff, (this.addr & 0xfc) + (p & 3), size, v);
      },
    });
    mmio.register(hole[0], hole[1] - hole[0], {
      read: (off, size) => this.mmioRead(hole[0] + off, size),
      write: (off, size, v) => this.mmioWrite(hole[0] + off, size, v),
    });
    this.remapIo();
  }
}

const PCI_TEST_NAMES = ["no-eventfd", "wildcard-eventfd", "datamatch-eventfd"];
const IOTEST_MEMSIZE = 2048, IOTEST_IOSIZE = 128;

/** QEMU's pci-testdev: BAR0 (memory) and BAR1 (I/O) run access tests the guest selects. */
export class PciTestDev {
  private current = -1;
  private hdrs: Uint8Array[] = [];
  constructor() {
    const types = ["mmio", "portio"];
    for (let i = 0; i < 6; i++) {
      const name = `${types[Math.floor(i / 3)]}-${PCI_TEST_NAMES[i % 3]}`;
      const h = new Uint8Array(16 + name.length + 1);
      const dv = new DataView(h.buffer);
      h[0] = i;                                     // test
      h[1] = 1;                                     // width
      dv.setUint32(4, (i < 3 ? IOTEST_MEMSIZE : IOTEST_IOSIZE) + i, true);   // offset
      h[8] = i % 3 === 1 ? 0xce : 0xfa;             // data (wildcard: no match needed)
      for (let k = 0; k < name.length; k++) h[16 + k] = name.charCodeAt(k);
      this.hdrs.push(h);
    }
  }
  count(test: number): number { return new DataView(this.hdrs[test].buffer).getUint32(12, true); }
  private readByte(off: number): number {
    if (this.current < 0) return 0;
    const h = this.hdrs[this.current];
    return off + 1 >= h.length ? 0 : h[off];
  }
  private writeByte(type: number, off: number, v: number, size: number): void {
    if (off === 0) { this.current = v < 3 ? type * 3 + v : -1; if (this.current >= 0) new DataView(this.hdrs[this.current].buffer).setUint32(12, 0, true); return; }
    if (this.current < 0) return;
    const h = this.hdrs[this.current], dv = new DataView(h.buffer);
    if (off !== dv.getUint32(4, true)) return;
    const match = this.current % 3 !== 1;
    if (match && (size !== 1 || v !== h[8])) return;
    dv.setUint32(12, dv.getUint32(12, true) + 1, true);
  }
  handler(type: 0 | 1): BarSpec["handler"] {
    return {
      read: (off, size) => { let v = 0; for (let i = 0; i < size; i++) v |= this.readByte(off + i) << (8 * i); return v >>> 0; },
      // max access size 1 in QEMU: a wider access is split into byte accesses
      write: (off, size, v) => { for (let i = 0; i < size; i++) this.writeByte(type, off + i, (v >>> (8 * i)) & 0xff, 1); },
    };
  }
}

export const PCI_TESTDEV_MEM = 0xfebff000;
export const PCI_TESTDEV_IO = 0xc000;

/** The i440FX-like bus: host bridge, PIIX3 ISA bridge, PIIX4 PM, pci-testdev. */
export function makeI440fx(): { host: PciHost; testdev: PciTestDev } {
  const host = new PciHost();
  const hb = host.add(new PciFunction(0x00, 0x8086, 0x1237, 0x060000, 0x02));
  hb.dv.setUint16(0x2c, 0x1af4, true); hb.dv.setUint16(0x2e, 0x1100, true);
  host.add(new PciFunction(0x08, 0x8086, 0x7000, 0x060100, 0x00, 0x80));
  const pm = host.add(new PciFunction(0x0b, 0x8086, 0x7113, 0x068000, 0x03));
  pm.dv.setUint32(0x40, 0x601, true);     // PMBA: I/O 0x600
  pm.cfg[0x80] = 1;                       // PMIOSE: PM I/O enabled
  pm.cfg[0x3c] = 9; pm.cfg[0x3d] = 1;     // SCI on IRQ9, INTA
  const td = new PciTestDev();
  const t = host.add(new PciFunction(0x10, 0x1b36, 0x0005, 0x00ff00, 0x00));
  host.addBar(t, 0, { size: IOTEST_MEMSIZE * 2, io: false, addr: PCI_TESTDEV_MEM, handler: td.handler(0) });
  host.addBar(t, 1, { size: IOTEST_IOSIZE * 2, io: true, addr: PCI_TESTDEV_IO, handler: td.handler(1) });
  t.cfg[4] = 0x03;                        // I/O + memory decoding on (as the BIOS leaves it)
  return { host, testdev: td };
}

// Port-I/O and MMIO registries. Devices claim port ranges / physical ranges; the
// machine loop never needs to know which devices exist. Unclaimed ports and MMIO
// read all-ones and ignore writes (as on a PC with nothing decoding the address).

export interface PortDevice {
  /** Largest access the device handles natively (1, 2 or 4); wider accesses are split. */
  readonly width?: number;
  read(port: number, size: number): number;
  write(port: number, size: number, value: number): void;
}

export interface MmioDevice {
  read(offset: number, size: number): number;
  write(offset: number, size: number, value: number): void;
}

const ONES = [0, 0xff, 0xffff, 0xffffff, 0xffffffff];

export class IoBus {
  private map: (PortDevice | undefined)[] = new Array(0x10000);

  /** Claim ports [base, base+count). Throws if any port is already claimed. */
  register(base: number, count: number, dev: PortDevice): void {
    for (let p = base; p < base + count; p++) {
      if (this.map[p & 0xffff]) throw new Error(`I/O port 0x${p.toString(16)} is already claimed`);
    }
    for (let p = base; p < base + count; p++) this.map[p & 0xffff] = dev;
  }
  unregister(base: number, count: number): void {
    for (let p = base; p < base + count; p++) this.map[p & 0xffff] = undefined;
  }
  claimed(port: number): boolean { return this.map[port & 0xffff] !== undefined; }

  read(port: number, size: number): number {
    port &= 0xffff;
    const dev = this.map[port];
    if (!dev) {
      if (size === 1) return 0xff;
      // Byte-wise so that a wide access straddling a claimed port still reaches it.
      let v = 0;
      for (let i = 0; i < size; i++) v |= this.read(port + i, 1) << (8 * i);
      return v >>> 0;
    }
    const w = dev.width ?? 4;
    if (size <= w) return (dev.read(port, size) & ONES[size]) >>> 0;
    let v = 0;
    for (let i = 0; i < size; i += w) v |= (this.read(port + i, w) & ONES[w]) << (8 * i);
    return v >>> 0;
  }

  write(port: number, size: number, value: number): void {
    port &= 0xffff;
    const dev = this.map[port];
    if (!dev) {
      if (size === 1) return;
      for (let i = 0; i < size; i++) this.write(port + i, 1, (value >>> (8 * i)) & 0xff);
      return;
    }
    const w = dev.width ?? 4;
    if (size <= w) { dev.write(port, size, (value & ONES[size]) >>> 0); return; }
    for (let i = 0; i < size; i += w) this.write(port + i, w, (value >>> (8 * i)) & ONES[w]);
  }
}

interface MmioRange { base: number; end: number; dev: MmioDevice }

export class MmioBus {
  private ranges: MmioRange[] = [];

  /** Claim guest-physical [base, base+size) (below 4 GiB, above RAM). */
  register(base: number, size: number, dev: MmioDevice): void {
    const end = base + size;
    for (const r of this.ranges) {
      if (base < r.end && r.base < end) throw new Error(`MMIO range 0x${base.toString(16)} overlaps 0x${r.base.toString(16)}`);
    }
    this.ranges.push({ base, end, dev });
  }
  private find(pa: number): MmioRange | undefined {
    for (const r of this.ranges) if (pa >= r.base && pa < r.end) return r;
    return undefined;
  }
  read(pa: number, size: number): number {
    const r = this.find(pa);
    if (!r) return ONES[size] ?? 0xffffffff;
    return (r.dev.read(pa - r.base, size) & (ONES[size] ?? 0xffffffff)) >>> 0;
  }
  write(pa: number, size: number, value: number): void {
    const r = this.find(pa);
    if (r) r.dev.write(pa - r.base, size, value >>> 0);
  }
}

// QEMU's fw_cfg, I/O port interface (docs/specs/fw_cfg.txt in QEMU): selector at 0x510
// (16-bit write), data at 0x511 (byte reads advance through the selected item; reading
// past the end gives 0). No DMA interface (the ID item says so: bit 1 clear).
import type { IoBus } from "../bus";

export const FW_CFG_PORT_SEL = 0x510;
export const FW_CFG_PORT_DATA = 0x511;
export const FW_CFG = {
  SIGNATURE: 0x00, ID: 0x01, UUID: 0x02, RAM_SIZE: 0x03, NOGRAPHIC: 0x04, NB_CPUS: 0x05,
  MACHINE_ID: 0x06, KERNEL_ADDR: 0x07, KERNEL_SIZE: 0x08, KERNEL_CMDLINE: 0x09, INITRD_ADDR: 0x0a,
  INITRD_SIZE: 0x0b, BOOT_DEVICE: 0x0c, NUMA: 0x0d, BOOT_MENU: 0x0e, MAX_CPUS: 0x0f, FILE_DIR: 0x19,
  FILE_FIRST: 0x20, ACPI_TABLES: 0x8000, IRQ0_OVERRIDE: 0x8002,
} as const;

function le(n: number | bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(n);
  for (let i = 0; i < bytes; i++) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

export interface FwCfgOptions { ramBytes: number; cpus: number; maxCpus?: number }

export class FwCfg {
  private items = new Map<number, Uint8Array>();
  private files: { name: string; key: number; data: Uint8Array }[] = [];
  private sel = 0;
  private off = 0;

  constructor(opts: FwCfgOptions) {
    this.set(FW_CFG.SIGNATURE, new TextEncoder().encode("QEMU"));
    this.set(FW_CFG.ID, le(1, 4));                          // traditional interface only
    this.set(FW_CFG.UUID, new Uint8Array(16));
    this.set(FW_CFG.RAM_SIZE, le(opts.ramBytes, 8));
    this.set(FW_CFG.NOGRAPHIC, le(1, 2));
    this.set(FW_CFG.NB_CPUS, le(opts.cpus, 2));
    this.set(FW_CFG.MAX_CPUS, le(opts.maxCpus ?? opts.cpus, 2));
    this.set(FW_CFG.IRQ0_OVERRIDE, le(1, 4));                  // IRQ0 -> IOAPIC pin 2 override exists
    this.set(FW_CFG.BOOT_MENU, le(0, 2));
    this.rebuildDir();
  }

  set(key: number, data: Uint8Array): void { this.items.set(key & 0xffff, data); }
  get(key: number): Uint8Array | undefined { return this.items.get(key & 0xffff); }

  /** Add a named file (listed in the FILE_DIR item, big-endian as the spec says). */
  addFile(name: string, data: Uint8Array): number {
    const key = FW_CFG.FILE_FIRST + this.files.length;
    this.files.push({ name, key, data });
    this.set(key, data);
    this.rebuildDir();
    return key;
  }
  private rebuildDir(): void {
    const d = new Uint8Array(4 + 64 * this.files.length);
    const dv = new DataView(d.buffer);
    dv.setUint32(0, this.files.length, false);
    this.files.forEach((f, i) => {
      const o = 4 + 64 * i;
      dv.setUint32(o, f.data.length, false);
      dv.setUint16(o + 4, f.key, false);
      d.set(new TextEncoder().encode(f.name).subarray(0, 55), o + 8);
    });
    this.items.set(FW_CFG.FILE_DIR, d);
  }

  select(key: number): void { this.sel = key & 0xffff; this.off = 0; }
  readByte(): number {
    const it = this.items.get(this.sel);
    if (!it || this.off >= it.length) return 0;
    return it[this.off++];
  }

  attach(io: IoBus): void {
    io.register(FW_CFG_PORT_SEL, 2, {
      width: 2,
      read: (p, size) => {
        if (p !== FW_CFG_PORT_SEL || size !== 1) {
          // A 16-bit read at 0x510 / byte read at 0x511: the data port is the byte at 0x511.
          if (p === FW_CFG_PORT_DATA) return this.readByte();
          return 0;
        }
        return 0;
      },
      write: (p, size, v) => {
        if (p === FW_CFG_PORT_SEL && size === 2) this.select(v);
        else if (p === FW_CFG_PORT_SEL && size === 1) this.select(v);   // byte write: QEMU takes it too
        // data writes are ignored (the write channel is deprecated)
      },
    });
  }
  reset(): void { this.sel = 0; this.off = 0; }
}

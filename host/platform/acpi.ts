// ACPI tables (ACPI 6.x spec layouts; contents modelled on what QEMU's pc machine gives an OS),
// written into guest RAM in the BIOS area where an OS searches for the RSDP (16-byte aligned
// in 0xE0000-0xFFFFF; the multiboot e820 map marks 0xF0000-0xFFFFF reserved):
// RSDP (rev 2) -> RSDT + XSDT -> FACP (PM timer, PM1 blocks, reset register 0xCF9 <- 6,
// FACS, DSDT), APIC (MADT: CPUs, IOAPIC, ISA overrides, LINT1 NMI), HPET.
import { IOAPIC_BASE } from "../devices/ioapic";
import { APIC_DEFAULT_BASE } from "../devices/apic";
import { HPET_BASE, HPET_CAP_ID } from "../devices/hpet";
import { PM_BASE, SLP_TYP_S3, SLP_TYP_S5 } from "../devices/acpipm";

export const ACPI_AREA = 0xf0000;     // RSDP here, the tables right after it
export const ACPI_AREA_END = 0xf2000;
const OEM_ID = "NESTVM";
const OEM_TABLE = "NESTVMPC";

export interface AcpiOptions { cpus: number; sciIrq?: number }
export interface AcpiLayout { rsdp: number; tables: Record<string, number> }

/** Sum of bytes mod 256 (an ACPI checksum makes the table sum to 0). */
export function acpiSum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s = (s + b[off + i]) & 0xff;
  return s;
}

class Writer {
  dv: DataView;
  constructor(readonly ram: Uint8Array, public pos: number) { this.dv = new DataView(ram.buffer, ram.byteOffset, ram.byteLength); }
  align(n: number): void { this.pos = (this.pos + n - 1) & ~(n - 1); }
  str(at: number, s: string, len: number): void { for (let i = 0; i < len; i++) this.ram[at + i] = i < s.length ? s.charCodeAt(i) : 0x20; }
  /** Standard 36-byte header; returns the table's address. Length/checksum are fixed by end(). */
  header(sig: string, rev: number): number {
    const a = this.pos;
    this.ram.fill(0, a, a + 36);
    this.str(a, sig, 4);
    this.ram[a + 8] = rev;
    this.str(a + 10, OEM_ID, 6);
    this.str(a + 16, OEM_TABLE, 8);
    this.dv.setUint32(a + 24, 1, true);
    this.str(a + 28, "NVMP", 4);
    this.dv.setUint32(a + 32, 1, true);
    this.pos = a + 36;
    return a;
  }
  end(a: number): void {
    const len = this.pos - a;
    this.dv.setUint32(a + 4, len, true);
    this.ram[a + 9] = 0;
    this.ram[a + 9] = (256 - acpiSum(this.ram, a, len)) & 0xff;
  }
  u8(v: number): void { this.dv.setUint8(this.pos, v); this.pos += 1; }
  u16(v: number): void { this.dv.setUint16(this.pos, v, true); this.pos += 2; }
  u32(v: number): void { this.dv.setUint32(this.pos, v >>> 0, true); this.pos += 4; }
  u64(v: number | bigint): void { this.dv.setBigUint64(this.pos, BigInt(v), true); this.pos += 8; }
  /** Generic Address Structure (12 bytes). */
  gas(space: number, bits: number, access: number, addr: number | bigint): void {
    this.u8(space); this.u8(bits); this.u8(0); this.u8(access); this.u64(addr);
  }
  zero(n: number): void { this.ram.fill(0, this.pos, this.pos + n); this.pos += n; }
}

/** Write the tables into guest RAM (index = guest-physical address). */
export function buildAcpi(ram: Uint8Array, opts: AcpiOptions): AcpiLayout {
  ram.fill(0, ACPI_AREA, ACPI_AREA_END);
  const w = new Writer(ram, ACPI_AREA + 0x40);   // RSDP first (36 bytes, 16-aligned at ACPI_AREA)
  const tables: Record<string, number> = {};
  const sci = opts.sciIrq ?? 9;

  // FACS: 64-byte aligned, no checksum.
  w.align(64);
  const facs = w.pos;
  w.str(facs, "FACS", 4);
  w.dv.setUint32(facs + 4, 64, true);
  w.pos += 64;
  tables.FACS = facs;

  // DSDT: only the sleep-state packages (the devices are discoverable through the other
  // tables). Name(_S3_, Package(4){SLP_TYP_S3, SLP_TYP_S3, 0, 0}) and the same for _S5_
  // (ACPI 6.4 sec. 7.4.2; AML: NameOp, NameSeg, PackageOp, PkgLength, NumElements, data).
  w.align(16);
  const dsdt = w.header("DSDT", 1);
  for (const [name, typ] of [["_S3_", SLP_TYP_S3], ["_S5_", SLP_TYP_S5]] as const) {
    w.u8(0x08); w.str(w.pos, name, 4); w.pos += 4;
    w.u8(0x12); w.u8(6); w.u8(4);
    for (const b of [typ, typ, 0, 0]) w.u8(b);   // ZeroOp (0x00) / OneOp (0x01): the types are 0 and 1
  }
  w.end(dsdt);
  tables.DSDT = dsdt;

  // FADT (revision 3 layout, 244 bytes).
  w.align(16);
  const facp = w.header("FACP", 3);
  w.u32(facs); w.u32(dsdt);
  w.u8(0); w.u8(0);                 // reserved, preferred PM profile: unspecified
  w.u16(sci);
  w.u32(0);                         // SMI_CMD 0: no SMM, the machine is in ACPI mode (SCI_EN set)
  w.u8(0); w.u8(0); w.u8(0); w.u8(0);
  w.u32(PM_BASE); w.u32(0);         // PM1a/b event
  w.u32(PM_BASE + 4); w.u32(0);     // PM1a/b control
  w.u32(0);                         // PM2 control
  w.u32(PM_BASE + 8);               // PM timer
  w.u32(0); w.u32(0);               // GPE0/1
  w.u8(4); w.u8(2); w.u8(0); w.u8(4);   // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
  w.u8(0); w.u8(0); w.u8(0); w.u8(0);   // GPE0/1 len, GPE1 base, CST_CNT
  w.u16(0xfff); w.u16(0xfff);       // no C2/C3
  w.u16(0); w.u16(0); w.u8(0); w.u8(0);
  w.u8(0); w.u8(0); w.u8(0x32);     // DAY/MON alarm, CENTURY at CMOS 0x32
  w.u16(0);                         // IAPC_BOOT_ARCH
  w.u8(0);
  // flags: WBINVD | PROC_C1 | SLP_BUTTON | RTC_S4 | RESET_REG_SUP (PM timer is 24-bit)
  w.u32((1 << 0) | (1 << 2) | (1 << 5) | (1 << 7) | (1 << 10));
  w.gas(1, 8, 1, 0xcf9);            // reset register: I/O port 0xCF9
  w.u8(0x06);                       // reset value
  w.zero(3);
  w.u64(facs); w.u64(dsdt);         // X_FIRMWARE_CTRL, X_DSDT
  w.gas(1, 32, 2, PM_BASE);         // X_PM1a_EVT
  w.gas(0, 0, 0, 0);
  w.gas(1, 16, 2, PM_BASE + 4);     // X_PM1a_CNT
  w.gas(0, 0, 0, 0);
  w.gas(0, 0, 0, 0);                // X_PM2_CNT
  w.gas(1, 32, 3, PM_BASE + 8);     // X_PM_TMR
  w.gas(0, 0, 0, 0); w.gas(0, 0, 0, 0);
  w.end(facp);
  tables.FACP = facp;

  // MADT
  w.align(16);
  const madt = w.header("APIC", 3);
  w.u32(APIC_DEFAULT_BASE);
  w.u32(1);                         // PCAT_COMPAT: dual 8259s present
  for (let i = 0; i < opts.cpus; i++) { w.u8(0); w.u8(8); w.u8(i); w.u8(i); w.u32(1); }
  w.u8(1); w.u8(12); w.u8(0); w.u8(0); w.u32(IOAPIC_BASE); w.u32(0);
  // ISA IRQ0 -> GSI 2 (conforming), and PCI IRQs 5, 9, 10, 11 level / active high (as QEMU).
  const iso = (src: number, gsi: number, flags: number) => { w.u8(2); w.u8(10); w.u8(0); w.u8(src); w.u32(gsi); w.u16(flags); };
  iso(0, 2, 0);
  for (const irq of [5, 9, 10, 11]) iso(irq, irq, 0xd);
  w.u8(4); w.u8(6); w.u8(0xff); w.u16(0); w.u8(1);   // LINT1 of all processors is NMI
  w.end(madt);
  tables.APIC = madt;

  // HPET
  w.align(16);
  const hpet = w.header("HPET", 1);
  w.u32(HPET_CAP_ID);
  w.gas(0, 0, 0, HPET_BASE);
  w.u8(0);                          // HPET number
  w.u16(0x80);                      // minimum tick in periodic mode
  w.u8(0);                          // page protection
  w.end(hpet);
  tables.HPET = hpet;

  const list = [facp, madt, hpet];
  w.align(16);
  const rsdt = w.header("RSDT", 1);
  for (const t of list) w.u32(t);
  w.end(rsdt);
  tables.RSDT = rsdt;
  w.align(16);
  const xsdt = w.header("XSDT", 1);
  for (const t of list) w.u64(t);
  w.end(xsdt);
  tables.XSDT = xsdt;
  if (w.pos > ACPI_AREA_END) throw new Error("ACPI tables overflow their area");

  // RSDP (ACPI 2.0+, 36 bytes)
  const r = ACPI_AREA;
  w.str(r, "RSD PTR ", 8);
  w.str(r + 9, OEM_ID, 6);
  ram[r + 15] = 2;
  w.dv.setUint32(r + 16, rsdt, true);
  w.dv.setUint32(r + 20, 36, true);
  w.dv.setBigUint64(r + 24, BigInt(xsdt), true);
  ram[r + 8] = (256 - acpiSum(ram, r, 20)) & 0xff;
  ram[r + 32] = (256 - acpiSum(ram, r, 36)) & 0xff;
  return { rsdp: r, tables };
}

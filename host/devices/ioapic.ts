// I/O APIC (82093AA-style, version 0x20 with 24 redirection entries) at 0xFEC00000:
// IOREGSEL at +0x00, IOWIN at +0x10, EOI register at +0x40 (version 0x20 has one).
// Inputs are GSIs 0-23; ISA IRQ0 (the PIT) arrives on pin 2 (the MADT's interrupt source
// override), as on a PC. Edge pins deliver on a rising edge when unmasked; level pins deliver
// while asserted and set remote IRR until the local APIC broadcasts an EOI for the vector.
import type { MmioBus, MmioDevice } from "../bus";

export const IOAPIC_BASE = 0xfec00000;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x20;

const MASKED = 1 << 16, TRIGGER_LEVEL = 1 << 15, REMOTE_IRR = 1 << 14, DELIV_STATUS = 1 << 12;
/** Bits of the low dword the guest can write (remote IRR and delivery status are read-only). */
const RW_LOW = 0x0001afff;   // vector, delivery mode, dest mode, polarity, trigger, mask

/** What the IOAPIC sends to the local APICs (an interrupt message on the APIC bus). */
export interface ApicMessage {
  vector: number;
  /** 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT. */
  deliveryMode: number;
  /** false: physical (dest = APIC ID), true: logical (dest = MDA). */
  logical: boolean;
  dest: number;
  level: boolean;
}

export class IoApic implements MmioDevice {
  id = 0;
  private sel = 0;
  readonly lo = new Uint32Array(IOAPIC_PINS);
  readonly hi = new Uint32Array(IOAPIC_PINS);
  /** Input pin levels (level-triggered state, edge detection). */
  private levels = 0;
  /** Deliver a message to the local APIC bus. */
  deliver: (msg: ApicMessage) => void = () => {};

  constructor(readonly base = IOAPIC_BASE) { this.reset(); }

  attach(mmio: MmioBus): void { mmio.register(this.base, 0x1000, this); }

  reset(): void {
    this.sel = 0; this.levels = 0; this.id = 0;
    for (let i = 0; i < IOAPIC_PINS; i++) { this.lo[i] = MASKED; this.hi[i] = 0; }
  }

  /** Drive GSI `gsi` (0-23). GSI 0 is the ISA IRQ0 line, which is wired to pin 2. */
  setIrq(gsi: number, level: boolean): void {
    const pin = gsi === 0 ? 2 : gsi;
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const bit = 1 << pin;
    const was = (this.levels & bit) !== 0;
    if (level) this.levels |= bit; else this.levels &= ~bit;
    const e = this.lo[pin];
    if (e & TRIGGER_LEVEL) {
      if (level) this.service(pin);
    } else if (level && !was) {
      // 82093AA: edge requests on a masked pin are ignored.
      if (!(e & MASKED)) this.send(pin);
    }
  }

  /** Level pins: deliver if asserted, unmasked and no EOI outstanding. */
  private service(pin: number): void {
    const e = this.lo[pin];
    if (!(e & TRIGGER_LEVEL) || (e & MASKED) || (e & REMOTE_IRR) || !(this.levels & (1 << pin))) return;
    this.lo[pin] = e | REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const e = this.lo[pin];
    this.deliver({
      vector: e & 0xff, deliveryMode: (e >> 8) & 7, logical: (e & (1 << 11)) !== 0,
      dest: this.hi[pin] >>> 24, level: (e & TRIGGER_LEVEL) !== 0,
    });
  }

  /** EOI broadcast from a local APIC (or the EOI register): clear remote IRR of pins with this vector. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.lo[pin];
      if ((e & 0xff) === vector && (e & REMOTE_IRR)) {
        this.lo[pin] = e & ~REMOTE_IRR;
        this.service(pin);   // still asserted: deliver again
      }
    }
  }

  /** Remote IRR of a pin (tests). */
  remoteIrr(pin: number): boolean { return (this.lo[pin] & REMOTE_IRR) !== 0; }

  private readReg(): number {
    const r = this.sel;
    switch (r) {
      case 0: return (this.id & 0xf) << 24;
      case 1: return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
      case 2: return (this.id & 0xf) << 24;     // arbitration ID
    }
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (r - 0x10) >> 1;
      return (r & 1 ? this.hi[pin] : this.lo[pin]) >>> 0;
    }
    return 0xffffffff;
  }

  private writeReg(v: number): void {
    const r = this.sel;
    if (r === 0) { this.id = (v >>> 24) & 0xf; return; }
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (r - 0x10) >> 1;
      if (r & 1) { this.hi[pin] = v & 0xff000000; return; }
      let e = (this.lo[pin] & (REMOTE_IRR | DELIV_STATUS)) | (v & RW_LOW);
      if (!(e & TRIGGER_LEVEL)) e &= ~REMOTE_IRR;   // remote IRR is undefined for edge: keep it clear
      this.lo[pin] = e >>> 0;
      this.service(pin);    // an unmasked level pin that is asserted fires now
    }
  }

  read(off: number, size: number): number {
    const reg = off & ~3, sh = (off & 3) * 8;
    let v: number;
    if (reg === 0x00) v = this.sel;
    else if (reg === 0x10) v = this.readReg();
    else v = 0;
    return size === 4 ? v >>> 0 : (v >>> sh) & (size === 1 ? 0xff : 0xffff);
  }

  write(off: number, size: number, value: number): void {
    const reg = off & ~3;
    if (size !== 4) value = (value << ((off & 3) * 8)) >>> 0;
    if (reg === 0x00) this.sel = value & 0xff;
    else if (reg === 0x10) this.writeReg(value >>> 0);
    else if (reg === 0x40) this.eoi(value & 0xff);
  }
}

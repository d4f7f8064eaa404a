// Intel 8259A programmable interrupt controller, master (0x20/0x21) + slave (0xa0/0xa1)
// cascaded on master IRQ2, with the PIIX edge/level control registers (ELCR, 0x4d0/0x4d1).
import type { IoBus, PortDevice } from "../bus";

class Chip {
  irr = 0; isr = 0; imr = 0;
  lastLevel = 0;        // input levels seen (edge detection)
  elcr = 0;             // 1 = level-triggered input
  elcrMask: number;
  vectorBase = 0;
  priorityAdd = 0;      // rotation: IRQ (priorityAdd) has the highest priority
  initStep = 0;         // 0 = ready (OCW), 1 = expect ICW2, 2 = ICW3, 3 = ICW4
  needIcw4 = false;
  single = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialMask = false;
  specialFullyNested = false;
  readIsr = false;
  poll = false;

  constructor(elcrMask: number) { this.elcrMask = elcrMask; }

  reset(): void {
    this.irr = 0; this.isr = 0; this.imr = 0; this.lastLevel = 0; this.vectorBase = 0;
    this.priorityAdd = 0; this.initStep = 0; this.needIcw4 = false; this.single = false;
    this.autoEoi = false; this.rotateOnAutoEoi = false; this.specialMask = false;
    this.specialFullyNested = false; this.readIsr = false; this.poll = false;
  }

  setInput(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      if (level) { this.irr |= bit; this.lastLevel |= bit; } else { this.irr &= ~bit; this.lastLevel &= ~bit; }
    } else if (level) {
      if (!(this.lastLevel & bit)) this.irr |= bit;
      this.lastLevel |= bit;
    } else {
      this.lastLevel &= ~bit;
    }
  }

  /** Priority index (0 = highest) of the highest-priority bit in mask, 8 if none. */
  priority(mask: number): number {
    if (!mask) return 8;
    let p = 0;
    while (!(mask & (1 << ((p + this.priorityAdd) & 7)))) p++;
    return p;
  }

  /** The IRQ this chip would signal now, or -1. */
  pending(isMaster: boolean): number {
    const req = this.priority(this.irr & ~this.imr);
    if (req === 8) return -1;
    let inService = this.isr;
    if (this.specialMask) inService &= ~this.imr;          // special mask mode: masked ISR bits don't block
    if (isMaster && this.specialFullyNested) inService &= ~(1 << 2); // slave may nest
    const cur = this.priority(inService);
    return req < cur ? (req + this.priorityAdd) & 7 : -1;
  }

  /** INTA for `irq` on this chip. */
  ack(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if (!(this.elcr & bit)) this.irr &= ~bit;
  }

  writeCommand(v: number): void {
    if (v & 0x10) {                         // ICW1
      this.irr &= this.elcr & this.lastLevel; // edge requests are forgotten
      this.isr = 0; this.imr = 0; this.priorityAdd = 0; this.specialMask = false;
      this.readIsr = false; this.poll = false; this.autoEoi = false; this.rotateOnAutoEoi = false;
      this.specialFullyNested = false;
      this.lastLevel &= this.elcr;
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.initStep = 1;
    } else if (v & 0x08) {                  // OCW3
      if (v & 0x04) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 1) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
    } else {                                // OCW2
      const cmd = v >> 5, irq = v & 7;
      switch (cmd) {
        case 0: this.rotateOnAutoEoi = false; break;
        case 4: this.rotateOnAutoEoi = true; break;
        case 1: case 5: {                   // non-specific EOI (and rotate)
          const p = this.priority(this.isr);
          if (p !== 8) {
            const i = (p + this.priorityAdd) & 7;
            this.isr &= ~(1 << i);
            if (cmd === 5) this.priorityAdd = (i + 1) & 7;
          }
          break;
        }
        case 3: this.isr &= ~(1 << irq); break;               // specific EOI
        case 7: this.isr &= ~(1 << irq); this.priorityAdd = (irq + 1) & 7; break;
        case 6: this.priorityAdd = (irq + 1) & 7; break;      // set priority
        default: break;
      }
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 0: this.imr = v; break;                            // OCW1
      case 1: this.vectorBase = v & 0xf8; this.initStep = this.single ? (this.needIcw4 ? 3 : 0) : 2; break;
      case 2: this.initStep = this.needIcw4 ? 3 : 0; break;   // ICW3: cascade wiring is fixed
      case 3: this.autoEoi = (v & 2) !== 0; this.specialFullyNested = (v & 0x10) !== 0; this.initStep = 0; break;
    }
  }
}

export class Pic8259 {
  readonly master = new Chip(0xf8);  // IRQ0-2 cannot be level-triggered
  readonly slave = new Chip(0xde);   // nor IRQ8, IRQ13
  private output = false;
  /** Called whenever the INTR output to the CPU changes. */
  onIntr: (level: boolean) => void = () => {};

  attach(io: IoBus): void {
    const dev = (chip: Chip, isMaster: boolean): PortDevice => ({
      width: 1,
      read: (port) => this.readPort(chip, isMaster, port & 1),
      write: (port, _s, v) => { if (port & 1) chip.writeData(v); else chip.writeCommand(v); this.update(); },
    });
    io.register(0x20, 2, dev(this.master, true));
    io.register(0xa0, 2, dev(this.slave, false));
    io.register(0x4d0, 2, {
      width: 1,
      read: (port) => (port === 0x4d0 ? this.master.elcr : this.slave.elcr),
      write: (port, _s, v) => {
        const c = port === 0x4d0 ? this.master : this.slave;
        c.elcr = v & c.elcrMask;
        this.update();
      },
    });
  }

  reset(): void { this.master.reset(); this.slave.reset(); this.master.elcr = 0; this.slave.elcr = 0; this.update(); }

  /** Set the level of ISA IRQ line 0-15. Edge-triggered lines latch a request on 0 -> 1. */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq - 8, level);
    this.update();
  }
  /** An edge: raise then lower (for devices that pulse, like PIT periodic ticks). */
  pulseIrq(irq: number): void { this.setIrq(irq, true); this.setIrq(irq, false); }

  get intrLevel(): boolean { return this.output; }

  private update(): void {
    const slaveOut = this.slave.pending(false) >= 0;
    this.master.setInput(2, slaveOut);
    // The cascade input must stay high until INTA (8259A datasheet); if the slave's request
    // went away, the master's request goes with it.
    if (!slaveOut) this.master.irr &= ~4;
    const out = this.master.pending(true) >= 0;
    if (out !== this.output) { this.output = out; this.onIntr(out); }
  }

  /** INTA cycle: the vector of the highest-priority request; spurious IRQ7/15 if it went away. */
  acknowledge(): number {
    let vec: number;
    const irq = this.master.pending(true);
    if (irq < 0) {
      vec = this.master.vectorBase + 7;      // spurious master IRQ7: ISR not set
    } else {
      this.master.ack(irq);
      if (irq === 2) {
        const irq2 = this.slave.pending(false);
        if (irq2 >= 0) { this.slave.ack(irq2); vec = this.slave.vectorBase + irq2; }
        else vec = this.slave.vectorBase + 7; // spurious slave IRQ15
      } else {
        vec = this.master.vectorBase + irq;
      }
    }
    this.update();
    return vec;
  }

  private readPort(chip: Chip, isMaster: boolean, a: number): number {
    if (chip.poll) {                           // OCW3 poll: this read acknowledges
      chip.poll = false;
      const irq = chip.pending(isMaster);
      if (irq < 0) return 0;
      chip.ack(irq);
      if (isMaster && irq === 2) {
        const s = this.slave.pending(false);
        if (s >= 0) this.slave.ack(s);
      }
      this.update();
      return 0x80 | irq;
    }
    if (a === 1) return chip.imr;
    return chip.readIsr ? chip.isr : chip.irr;
  }
}

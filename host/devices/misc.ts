// Small ISA devices: isa-debug-exit (0xf4), POST code port (0x80), system control port A (0x92).
import type { IoBus } from "../bus";

/** QEMU's isa-debug-exit: writing v makes the machine exit with status (v << 1) | 1. */
export class DebugExit {
  constructor(private onExit: (status: number) => void, readonly port = 0xf4, readonly size = 4) {}
  attach(io: IoBus): void {
    io.register(this.port, this.size, {
      width: 4,
      read: () => 0xffffffff,
      write: (p, _s, v) => { if (p === this.port) this.onExit(((v << 1) | 1) >>> 0); },
    });
  }
}

/** Port 0x80: POST codes. Writes are recorded (last value) and otherwise ignored. */
export class PostPort {
  last = 0;
  attach(io: IoBus): void {
    io.register(0x80, 1, { width: 1, read: () => 0xff, write: (_p, _s, v) => { this.last = v; } });
  }
}

/** Port 0x92 (system control port A): bit 1 = fast A20 gate, bit 0 = fast reset. */
export class Port92 {
  private value = 0x02;           // A20 enabled
  constructor(private onReset: () => void) {}
  attach(io: IoBus): void {
    io.register(0x92, 1, {
      width: 1,
      read: () => this.value,
      write: (_p, _s, v) => {
        const old = this.value;
        this.value = v & 0x03;
        // A rising bit 0 pulses INIT; the bit stays set (cleared only by a hard reset), which
        // is how firmware tells a soft reset from a power-on one.
        if ((v & 1) && !(old & 1)) this.onReset();
      },
    });
  }
  get a20(): boolean { return (this.value & 2) !== 0; }
  reset(): void { this.value = 0x02; }
}

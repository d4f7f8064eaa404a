// 8042 keyboard controller, as far as firmware and OSes use it without a keyboard: the
// status/command port 0x64 and data port 0x60, the controller command byte, self tests, and
// the output port whose bit 0 drives the CPU reset line (on PIIX-class chipsets RC# becomes
// INIT#: a soft reset that keeps memory and port 0x92). No keyboard is attached, so no scan
// codes and no IRQ 1.
import type { IoBus } from "../bus";

const ST_OBF = 0x01;      // output buffer full (data for the CPU at 0x60)
const ST_SYS = 0x04;      // system flag: POST passed
const ST_CMD = 0x08;      // last write was to 0x64
const ST_UNLOCKED = 0x10; // keyboard not inhibited

export class I8042 {
  private status = ST_SYS | ST_UNLOCKED;
  private out = 0;                 // output buffer
  private commandByte = 0x45;      // IRQ1 enable, system flag, translate
  private outputPort = 0x03;       // bit 0: reset line released, bit 1: A20
  private pending = -1;            // command that expects a data byte at 0x60
  constructor(private onReset: () => void) {}

  attach(io: IoBus): void {
    io.register(0x60, 1, { width: 1, read: () => this.readData(), write: (_p, _s, v) => this.writeData(v & 0xff) });
    io.register(0x64, 1, { width: 1, read: () => this.status, write: (_p, _s, v) => this.command(v & 0xff) });
  }

  reset(): void {
    this.status = ST_SYS | ST_UNLOCKED; this.out = 0; this.commandByte = 0x45;
    this.outputPort = 0x03; this.pending = -1;
  }

  get a20(): boolean { return (this.outputPort & 2) !== 0; }

  private reply(v: number): void { this.out = v & 0xff; this.status |= ST_OBF; }

  private readData(): number {
    this.status &= ~ST_OBF;
    return this.out;
  }

  private command(c: number): void {
    this.status |= ST_CMD;
    switch (c) {
      case 0x20: this.reply(this.commandByte); break;            // read command byte
      case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: this.pending = c; break;
      case 0xaa: this.reply(0x55); break;                         // controller self test
      case 0xab: case 0xa9: this.reply(0x00); break;              // port tests: no error
      case 0xad: this.commandByte |= 0x10; break;                 // disable keyboard
      case 0xae: this.commandByte &= ~0x10; break;                // enable keyboard
      case 0xa7: this.commandByte |= 0x20; break;                 // disable aux
      case 0xa8: this.commandByte &= ~0x20; break;                // enable aux
      case 0xd0: this.reply(this.outputPort); break;              // read output port
      case 0xdd: this.outputPort &= ~2; break;                    // A20 off
      case 0xdf: this.outputPort |= 2; break;                     // A20 on
      default:
        // 0xF0-0xFF pulse output-port bits low for ~6 us; bit 0 low is the reset line.
        if (c >= 0xf0 && (c & 1) === 0) this.onReset();
    }
  }

  private writeData(v: number): void {
    this.status &= ~ST_CMD;
    const c = this.pending;
    this.pending = -1;
    if (c === 0x60) { this.commandByte = v; return; }
    if (c === 0xd1) {
      this.outputPort = v | 0;
      if ((v & 1) === 0) { this.outputPort |= 1; this.onReset(); }   // reset line pulsed
      return;
    }
    if (c === 0xd2 || c === 0xd3) { this.reply(v); return; }      // echo as if from kbd/aux
    // 0xd4 (to aux) and bytes for the absent keyboard: the keyboard would answer; it is absent.
  }
}

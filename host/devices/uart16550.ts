// National 16550A UART (COM1 at 0x3f8, IRQ4). Transmission is instantaneous (THR is
// always empty again right after a write), so LSR.THRE/TEMT read 1 and the THRE interrupt
// fires as soon as it is enabled or after each write. Received bytes wait in a host-side
// queue until the receiver (1 byte, or the 16-byte FIFO) has room, so host input is never
// lost. The interrupt line is not gated by MCR.OUT2 (QEMU does not gate it either).
import type { IoBus } from "../bus";

const LSR_DR = 0x01, LSR_OE = 0x02, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40;
const IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08;
const MCR_LOOP = 0x10;

export class Uart16550 {
  ier = 0; lcr = 0; mcr = 0; scr = 0; dll = 0x0c; dlm = 0; fcr = 0;
  private lsrErr = 0;                 // OE/PE/FE/BI, cleared by reading LSR
  private rx: number[] = [];          // receiver buffer / FIFO
  private input: number[] = [];       // host bytes not yet in the receiver
  private thrIntPending = false;
  private msrDelta = 0;
  private prevMsr = 0;
  private irqLevel = false;
  private out: number[] = [];
  setIrq: (level: boolean) => void = () => {};
  /** Receives transmitted bytes (batched: call flush() to deliver). */
  onOutput: (bytes: Uint8Array) => void = () => {};
  /** Called when host input arrives (the machine wakes a halted CPU). */
  onInput: () => void = () => {};

  constructor(readonly base = 0x3f8) { this.prevMsr = this.msrLines(); }

  attach(io: IoBus): void {
    io.register(this.base, 8, { width: 1, read: (p) => this.read(p - this.base), write: (p, _s, v) => this.write(p - this.base, v) });
  }

  reset(): void {
    this.ier = 0; this.lcr = 0; this.mcr = 0; this.scr = 0; this.dll = 0x0c; this.dlm = 0; this.fcr = 0;
    this.lsrErr = 0; this.rx = []; this.thrIntPending = false; this.msrDelta = 0;
    this.prevMsr = this.msrLines();
    this.update();
  }

  private get fifoOn(): boolean { return (this.fcr & 1) !== 0; }
  private get rxCapacity(): number { return this.fifoOn ? 16 : 1; }
  private get trigger(): number { return [1, 4, 8, 14][this.fcr >> 6]; }

  /** Host -> guest bytes (keyboard / stdin). */
  receive(bytes: Uint8Array | number[]): void {
    for (const b of bytes) this.input.push(b & 0xff);
    this.fillRx();
    this.update();
    this.onInput();
  }
  /** True if guest-visible input is waiting anywhere. */
  get hasInput(): boolean { return this.rx.length > 0 || this.input.length > 0; }

  private fillRx(): void {
    if (this.mcr & MCR_LOOP) return;  // loopback disconnects the serial input
    while (this.input.length && this.rx.length < this.rxCapacity) this.rx.push(this.input.shift()!);
  }

  private rxByte(b: number): void {   // a byte arriving at the receiver (loopback)
    if (this.rx.length >= this.rxCapacity) { this.lsrErr |= LSR_OE; return; }
    this.rx.push(b);
  }

  flush(): void {
    if (this.out.length) { const b = Uint8Array.from(this.out); this.out = []; this.onOutput(b); }
  }

  /** MSR status bits 7:4 from the modem lines (loopback wires them to MCR). */
  private msrLines(): number {
    if (this.mcr & MCR_LOOP) {
      const m = this.mcr;
      return ((m & 0x02) ? 0x10 : 0) | ((m & 0x01) ? 0x20 : 0) | ((m & 0x04) ? 0x40 : 0) | ((m & 0x08) ? 0x80 : 0);
    }
    return 0xb0;                        // DCD, DSR, CTS asserted; no ring
  }
  private updateMsr(): void {
    const now = this.msrLines(), prev = this.prevMsr;
    if ((now ^ prev) & 0x10) this.msrDelta |= 0x01;          // DCTS
    if ((now ^ prev) & 0x20) this.msrDelta |= 0x02;          // DDSR
    if ((prev & 0x40) && !(now & 0x40)) this.msrDelta |= 0x04; // TERI: RI trailing edge
    if ((now ^ prev) & 0x80) this.msrDelta |= 0x08;          // DDCD
    this.prevMsr = now;
  }

  /** IIR interrupt identification (bits 3:0), by priority. */
  private intId(): number {
    if ((this.ier & IER_RLS) && (this.lsrErr & (LSR_OE | 0x0c | LSR_BI))) return 0x06;
    if (this.ier & IER_RDA) {
      if (this.rx.length >= (this.fifoOn ? this.trigger : 1)) return 0x04;
      if (this.fifoOn && this.rx.length > 0) return 0x0c;   // character timeout (immediate here)
    }
    if ((this.ier & IER_THRE) && this.thrIntPending) return 0x02;
    if ((this.ier & IER_MS) && this.msrDelta) return 0x00;
    return 0x01;
  }

  private update(): void {
    const lvl = this.intId() !== 0x01;
    if (lvl !== this.irqLevel) { this.irqLevel = lvl; this.setIrq(lvl); }
  }

  read(r: number): number {
    const dlab = (this.lcr & 0x80) !== 0;
    let v = 0xff;
    switch (r) {
      case 0:
        if (dlab) { v = this.dll; break; }
        v = this.rx.length ? this.rx.shift()! : 0;
        this.fillRx();
        break;
      case 1: v = dlab ? this.dlm : this.ier; break;
      case 2: {
        const id = this.intId();
        v = id | (this.fifoOn ? 0xc0 : 0);
        if (id === 0x02) this.thrIntPending = false;  // reading IIR clears a THRE interrupt
        break;
      }
      case 3: v = this.lcr; break;
      case 4: v = this.mcr; break;
      case 5:
        v = (this.rx.length ? LSR_DR : 0) | this.lsrErr | LSR_THRE | LSR_TEMT;
        this.lsrErr = 0;
        break;
      case 6:
        v = this.msrLines() | this.msrDelta;
        this.msrDelta = 0;
        break;
      case 7: v = this.scr; break;
    }
    this.update();
    return v;
  }

  write(r: number, v: number): void {
    const dlab = (this.lcr & 0x80) !== 0;
    switch (r) {
      case 0:
        if (dlab) { this.dll = v; break; }
        if (this.mcr & MCR_LOOP) this.rxByte(v);
        else { this.out.push(v); if (this.out.length >= 4096) this.flush(); }
        this.thrIntPending = true;         // transmitted at once: THR empty again
        break;
      case 1:
        if (dlab) { this.dlm = v; break; }
        // Enabling ETBEI while THR is empty raises a THRE interrupt.
        if ((v & IER_THRE) && !(this.ier & IER_THRE)) this.thrIntPending = true;
        this.ier = v & 0x0f;
        break;
      case 2: {
        const wasOn = this.fifoOn;
        if (((v & 1) !== 0) !== wasOn) this.rx = [];   // toggling the FIFO enable clears it
        if (v & 0x02) { this.rx = []; this.lsrErr &= ~LSR_OE; }
        this.fcr = v & 0xc9;
        if (!(v & 1)) this.fcr = 0;
        this.fillRx();
        break;
      }
      case 3: this.lcr = v; break;
      case 4: {
        const wasLoop = (this.mcr & MCR_LOOP) !== 0;
        this.mcr = v & 0x1f;
        this.updateMsr();
        if (wasLoop && !(this.mcr & MCR_LOOP)) this.fillRx();
        break;
      }
      case 5: break;                        // LSR is read-only (factory test only)
      case 6: break;
      case 7: this.scr = v; break;
    }
    this.update();
  }
}

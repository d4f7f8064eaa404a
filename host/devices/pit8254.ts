// Intel 8254 programmable interval timer: three channels clocked at 1.193182 MHz from the
// machine's virtual time, modes 0-5, LSB/MSB/word access, counter latch, read-back,
// channel 0 on IRQ0, channel 2 gated by port 0x61 (which also carries speaker/refresh bits).
// Counters are computed from elapsed time, never ticked, so the cost does not depend on
// the frequency the guest programs.
import type { IoBus } from "../bus";

export const PIT_HZ = 1193182;
const NS_PER_TICK = 1e9 / PIT_HZ;

function toBcd(v: number): number {
  return (v % 10) | (Math.floor(v / 10) % 10) << 4 | (Math.floor(v / 100) % 10) << 8 | (Math.floor(v / 1000) % 10) << 12;
}
function fromBcd(v: number): number {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

class Channel {
  mode = 0;
  rw = 3;            // 1 LSB, 2 MSB, 3 LSB then MSB
  bcd = false;
  reload = 0x10000;  // N (0 means 65536, or 10000 in BCD)
  loadNs = -1;       // virtual time counting started; -1 = no count loaded / waiting for gate
  gate: boolean;
  writeLow = false;  // next write of an rw=3 count is the MSB
  pendingLsb = 0;
  readHigh = false;  // next live read of an rw=3 count returns the MSB
  latched: number[] = [];  // bytes of a latched count still to be read
  status: number | null = null;
  nullCount = true;
  outAtLoad = false;
  periodsSeen = 0;   // periodic modes: periods already signalled
  fired = false;     // one-shot modes: terminal count already signalled

  constructor(gate: boolean) { this.gate = gate; }

  ticks(now: number): number { return Math.floor((now - this.loadNs) / NS_PER_TICK + 1e-9); }

  /** The counting element (CE) at virtual time now. */
  count(now: number): number {
    const n = this.reload;
    if (this.loadNs < 0) return this.reload & 0xffff;
    const t = this.ticks(now);
    switch (this.mode) {
      case 0: case 1: case 4: case 5: return ((n - t) % 0x10000 + 0x10000) % 0x10000;
      case 2: return n - (t % n);
      case 3: {
        // The counter decrements by two; the first half-period runs from N (N-1 if odd).
        const half = Math.ceil(n / 2);
        const phase = t % n;
        const inHalf = phase < half ? phase : phase - half;
        return ((n & ~1) - 2 * inHalf) & 0xffff;
      }
    }
    return 0;
  }

  out(now: number): boolean {
    if (this.loadNs < 0) return this.mode === 0 ? this.outAtLoad : true;
    const t = this.ticks(now), n = this.reload;
    switch (this.mode) {
      case 0: return t >= n;
      case 1: return t >= n;
      case 2: return (t % n) !== n - 1;
      case 3: return (t % n) < Math.ceil(n / 2);
      case 4: case 5: return t !== n;
    }
    return true;
  }

  readStatus(now: number): number {
    return (this.out(now) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  latchCount(now: number): void {
    if (this.latched.length) return;  // a second latch is ignored until the first is read
    let c = this.count(now);
    if (this.bcd) c = toBcd(c % 10000);
    if (this.rw === 1) this.latched = [c & 0xff];
    else if (this.rw === 2) this.latched = [c >> 8];
    else this.latched = [c & 0xff, (c >> 8) & 0xff];
  }

  read(now: number): number {
    if (this.status !== null) { const s = this.status; this.status = null; return s; }
    if (this.latched.length) return this.latched.shift()!;
    let c = this.count(now);
    if (this.bcd) c = toBcd(c % 10000);
    if (this.rw === 1) return c & 0xff;
    if (this.rw === 2) return (c >> 8) & 0xff;
    const v = this.readHigh ? (c >> 8) & 0xff : c & 0xff;
    this.readHigh = !this.readHigh;
    return v;
  }

  write(v: number, now: number): void {
    let value: number;
    if (this.rw === 1) value = v;
    else if (this.rw === 2) value = v << 8;
    else if (!this.writeLow) { this.pendingLsb = v; this.writeLow = true; if (this.mode === 0) { this.loadNs = -1; this.outAtLoad = false; } return; }
    else { value = this.pendingLsb | (v << 8); this.writeLow = false; }
    this.load(value, now);
  }

  load(value: number, now: number): void {
    let n = this.bcd ? fromBcd(value) : value;
    if (n === 0) n = this.bcd ? 10000 : 0x10000;
    if ((this.mode === 2 || this.mode === 3) && n === 1) n = 2; // count 1 is illegal in modes 2/3
    this.reload = n;
    this.nullCount = false;
    this.periodsSeen = 0;
    this.fired = false;
    // Modes 1 and 5 wait for a gate trigger; the others start on the next clock.
    if (this.mode === 1 || this.mode === 5) { this.loadNs = -1; return; }
    this.loadNs = this.gate ? now : -1;
  }

  setMode(mode: number, rw: number, bcd: boolean): void {
    this.mode = mode > 5 ? mode - 4 : mode;
    this.rw = rw; this.bcd = bcd;
    this.writeLow = false; this.readHigh = false;
    this.latched = []; this.status = null;
    this.loadNs = -1; this.nullCount = true;
    this.outAtLoad = false;        // mode 0: OUT goes low on the control word; others high
    this.periodsSeen = 0; this.fired = false;
  }

  setGate(g: boolean, now: number): void {
    if (g === this.gate) return;
    this.gate = g;
    if (this.nullCount) return;
    if (g) {
      // Rising edge: modes 1, 5 trigger; modes 2, 3 restart from N; 0/4 resume (approximation: restart).
      this.loadNs = now; this.periodsSeen = 0; this.fired = false;
    } else if (this.mode === 2 || this.mode === 3) {
      this.loadNs = -1;            // counting stops, OUT goes high
    }
  }
}

export class Pit8254 {
  readonly ch = [new Channel(true), new Channel(true), new Channel(false)];
  private speakerData = false;
  /** Pulse / set IRQ0. */
  setIrq0: (level: boolean) => void = () => {};
  pulseIrq0: () => void = () => {};
  private irq0Level = false;
  constructor(private now: () => number) {}

  attach(io: IoBus): void {
    io.register(0x40, 4, { width: 1, read: (p) => this.readPort(p), write: (p, _s, v) => this.writePort(p, v) });
    io.register(0x61, 1, { width: 1, read: () => this.read61(), write: (_p, _s, v) => this.write61(v) });
  }

  reset(): void {
    for (let i = 0; i < 3; i++) {
      const c = new Channel(i !== 2);
      Object.assign(this.ch[i], c);
    }
    this.speakerData = false;
    if (this.irq0Level) { this.irq0Level = false; this.setIrq0(false); }
  }

  readPort(port: number): number {
    const now = this.now();
    if (port === 0x43) return 0xff;     // the control register is write-only
    return this.ch[port - 0x40].read(now);
  }

  writePort(port: number, v: number): void {
    const now = this.now();
    if (port !== 0x43) {
      const c = this.ch[port - 0x40];
      c.write(v, now);
      if (port === 0x40) this.tick(now);
      return;
    }
    const sel = v >> 6;
    if (sel === 3) {                     // read-back command
      for (let i = 0; i < 3; i++) {
        if (!(v & (2 << i))) continue;
        const c = this.ch[i];
        if (!(v & 0x20)) c.latchCount(now);
        if (!(v & 0x10) && c.status === null) c.status = c.readStatus(now);
      }
      return;
    }
    const c = this.ch[sel];
    const rw = (v >> 4) & 3;
    if (rw === 0) { c.latchCount(now); return; }
    c.setMode((v >> 1) & 7, rw, (v & 1) !== 0);
    if (sel === 0) this.tick(now);
  }

  read61(): number {
    const now = this.now();
    const refresh = Math.floor(now / 15085) & 1;   // DRAM refresh toggles every ~15 us
    return (this.ch[2].gate ? 1 : 0) | (this.speakerData ? 2 : 0) | (refresh ? 0x10 : 0) | (this.ch[2].out(now) ? 0x20 : 0);
  }
  write61(v: number): void {
    this.ch[2].setGate((v & 1) !== 0, this.now());
    this.speakerData = (v & 2) !== 0;
  }

  /** Bring IRQ0 up to date with virtual time `now`. */
  tick(now: number): void {
    const c = this.ch[0];
    if (c.loadNs < 0) {
      const lvl = c.mode === 0 ? c.outAtLoad : false;
      if (lvl !== this.irq0Level) { this.irq0Level = lvl; this.setIrq0(lvl); }
      return;
    }
    switch (c.mode) {
      case 0: case 1: {                 // OUT goes (and stays) high at terminal count
        const lvl = c.out(now);
        if (lvl !== this.irq0Level) { this.irq0Level = lvl; this.setIrq0(lvl); }
        break;
      }
      case 2: case 3: {                 // one rising edge per period (missed periods coalesce)
        if (this.irq0Level) { this.irq0Level = false; this.setIrq0(false); }
        const periods = Math.floor(c.ticks(now) / c.reload);
        if (periods > c.periodsSeen) { c.periodsSeen = periods; this.pulseIrq0(); }
        break;
      }
      case 4: case 5: {                 // one strobe at terminal count
        if (this.irq0Level) { this.irq0Level = false; this.setIrq0(false); }
        if (!c.fired && c.ticks(now) >= c.reload) { c.fired = true; this.pulseIrq0(); }
        break;
      }
    }
  }

  /** Virtual time of the next IRQ0 event, or Infinity. */
  nextDeadline(now: number): number {
    const c = this.ch[0];
    if (c.loadNs < 0) return Infinity;
    const at = (t: number) => c.loadNs + t * NS_PER_TICK;
    switch (c.mode) {
      case 0: case 1: return c.out(now) ? Infinity : at(c.reload);
      case 2: case 3: return at((c.periodsSeen + 1) * c.reload);
      case 4: case 5: return c.fired ? Infinity : at(c.reload);
    }
    return Infinity;
  }
}

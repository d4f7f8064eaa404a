// MC146818 RTC + CMOS RAM (index 0x70 with NMI-mask bit 7, data 0x71). Time comes from a
// wall-clock base plus the machine's virtual time; status B selects BCD/binary and 12/24 h.
// Memory-size bytes are filled as QEMU's pc_cmos_init does.
import type { IoBus } from "../bus";

const SEC = 0, MIN = 2, HOUR = 4, WDAY = 6, MDAY = 7, MON = 8, YEAR = 9;
const A = 0x0a, B = 0x0b, C = 0x0c, D = 0x0d, CENTURY = 0x32;
const B_SET = 0x80, B_24H = 0x02, B_BIN = 0x04;

export class Cmos {
  readonly ram = new Uint8Array(128);
  /** IRQ8 output (edge-triggered at the PIC: raised when C.IRQF sets, lowered when C is read). */
  setIrq: (level: boolean) => void = () => {};
  /** An alarm interrupt was raised (C.AF set with B.AIE): the chipset's RTC_STS wake event. */
  onAlarm: () => void = () => {};
  private lastNs = 0;                     // virtual time flags were last brought up to date
  private irqLevel = false;
  index = 0;
  nmiDisabled = false;
  /** Seconds since the epoch at virtual time 0, adjusted when the guest sets the clock. */
  private baseSec: number;
  private frozen: number | null = null;   // seconds while status B.SET holds the clock

  constructor(private now: () => number, memBytes: number, startEpochMs = Date.now()) {
    this.baseSec = Math.floor(startEpochMs / 1000);
    this.initRam(memBytes);
  }

  private initRam(memBytes: number): void {
    const r = this.ram;
    r.fill(0);
    r[A] = 0x26;                   // 32.768 kHz time base, 1024 Hz periodic rate
    r[B] = B_24H;                  // BCD, 24 h
    r[D] = 0x80;                   // RAM/time valid
    r[0x15] = 640 & 0xff; r[0x16] = 640 >> 8;          // base memory (KiB)
    const ext = Math.min(0xffff, Math.max(0, Math.floor(memBytes / 1024) - 1024));
    r[0x17] = r[0x30] = ext & 0xff; r[0x18] = r[0x31] = ext >> 8;  // KiB above 1 MiB
    const above16 = memBytes > 16 << 20 ? Math.min(0xffff, Math.floor((memBytes - (16 << 20)) / 65536)) : 0;
    r[0x34] = above16 & 0xff; r[0x35] = above16 >> 8;  // 64 KiB units above 16 MiB
    r[0x5b] = r[0x5c] = r[0x5d] = 0;                   // 64 KiB units above 4 GiB
    r[0x5f] = 0;                                       // CPUs - 1
    r[0x14] = 0x06;                                    // equipment: FPU, PS/2 mouse
  }

  attach(io: IoBus): void {
    io.register(0x70, 2, {
      width: 1,
      read: (p) => (p === 0x70 ? 0xff : this.readData()),
      write: (p, _s, v) => { if (p === 0x70) { this.index = v & 0x7f; this.nmiDisabled = (v & 0x80) !== 0; } else this.writeData(v); },
    });
  }

  private seconds(): number {
    return this.frozen ?? this.baseSec + Math.floor(this.now() / 1e9);
  }

  private enc(v: number): number {
    return this.ram[B] & B_BIN ? v : ((Math.floor(v / 10) << 4) | (v % 10));
  }
  private dec(v: number): number {
    return this.ram[B] & B_BIN ? v : ((v >> 4) * 10 + (v & 0xf));
  }

  private encHour(h: number): number {
    if (this.ram[B] & B_24H) return this.enc(h);
    const pm = h >= 12;
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.enc(h12) | (pm ? 0x80 : 0);
  }
  private decHour(v: number): number {
    if (this.ram[B] & B_24H) return this.dec(v);
    const h12 = this.dec(v & 0x7f) % 12;
    return h12 + (v & 0x80 ? 12 : 0);
  }

  readData(): number {
    const i = this.index;
    const d = new Date(this.seconds() * 1000);
    switch (i) {
      case SEC: return this.enc(d.getUTCSeconds());
      case MIN: return this.enc(d.getUTCMinutes());
      case HOUR: return this.encHour(d.getUTCHours());
      case WDAY: return this.enc(d.getUTCDay() + 1);
      case MDAY: return this.enc(d.getUTCDate());
      case MON: return this.enc(d.getUTCMonth() + 1);
      case YEAR: return this.enc(d.getUTCFullYear() % 100);
      case CENTURY: return this.enc(Math.floor(d.getUTCFullYear() / 100));
      case A: {
        // Update-in-progress during the last 244 us before each second boundary.
        const frac = this.now() % 1e9;
        const uip = this.frozen === null && frac >= 1e9 - 244e3;
        return (this.ram[A] & 0x7f) | (uip ? 0x80 : 0);
      }
      case C: {
        this.tick(this.now());
        const v = this.ram[C];
        this.ram[C] = 0;           // reading C clears the flags and the interrupt
        this.updateIrq();
        return v;
      }
      default: return this.ram[i];
    }
  }

  writeData(v: number): void {
    const i = this.index;
    if (i <= YEAR || i === CENTURY) {
      // Setting a time field: rebuild the base from the fields as they would read now.
      const d = new Date(this.seconds() * 1000);
      const f = { s: d.getUTCSeconds(), m: d.getUTCMinutes(), h: d.getUTCHours(), day: d.getUTCDate(), mon: d.getUTCMonth(), y: d.getUTCFullYear() };
      switch (i) {
        case SEC: f.s = this.dec(v); break;
        case MIN: f.m = this.dec(v); break;
        case HOUR: f.h = this.decHour(v); break;
        case MDAY: f.day = this.dec(v); break;
        case MON: f.mon = this.dec(v) - 1; break;
        case YEAR: f.y = Math.floor(f.y / 100) * 100 + this.dec(v); break;
        case CENTURY: f.y = this.dec(v) * 100 + (f.y % 100); break;
        default: this.ram[i] = v; return;  // alarms and weekday are plain storage
      }
      const secs = Math.floor(Date.UTC(f.y, f.mon, f.day, f.h, f.m, f.s) / 1000);
      if (this.frozen !== null) this.frozen = secs;
      else this.baseSec = secs - Math.floor(this.now() / 1e9);
      return;
    }
    switch (i) {
      case A: this.tick(this.now()); this.ram[A] = v & 0x7f; break;  // UIP is read-only
      case B: {
        const wasSet = (this.ram[B] & B_SET) !== 0;
        if (v & B_SET && !wasSet) this.frozen = this.seconds();
        if (!(v & B_SET) && wasSet && this.frozen !== null) {
          this.baseSec = this.frozen - Math.floor(this.now() / 1e9);
          this.frozen = null;
        }
        this.tick(this.now());
        this.ram[B] = v;
        if (v & B_SET) this.ram[B] &= ~0x10;           // SET clears UIE
        this.updateIrq();
        break;
      }
      case C: case D: break;                            // read-only
      default: this.ram[i] = v;
    }
  }

  /** Periodic-interrupt period in ns (status A rate select with the 32.768 kHz divider), or 0. */
  private periodNs(): number {
    const rate = this.ram[A] & 0x0f, div = (this.ram[A] >> 4) & 7;
    if (rate === 0 || div !== 2) return 0;
    const r = rate < 3 ? rate + 7 : rate;        // rates 1, 2 behave as 8, 9
    return 1e9 / (32768 >> (r - 1));
  }

  private updateIrq(): void {
    const c = this.ram[C] & 0x70, b = this.ram[B] & 0x70;
    if (c & b) this.ram[C] |= 0x80; else this.ram[C] &= 0x7f;
    const lvl = (this.ram[C] & 0x80) !== 0;
    if (lvl !== this.irqLevel) { this.irqLevel = lvl; this.setIrq(lvl); }
  }

  private alarmMatches(): boolean {
    const r = this.ram;
    const d = new Date(this.seconds() * 1000);
    const m = (alarm: number, v: number) => (alarm & 0xc0) === 0xc0 || alarm === v;
    return m(r[1], this.enc(d.getUTCSeconds())) && m(r[3], this.enc(d.getUTCMinutes())) && m(r[5], this.encHour(d.getUTCHours()));
  }

  /** Set PF / UF / AF for the periods and seconds that passed since the last call. */
  tick(now: number): void {
    const last = this.lastNs;
    if (now <= last) return;
    this.lastNs = now;
    const p = this.periodNs();
    if (p && Math.floor(now / p) > Math.floor(last / p)) this.ram[C] |= 0x40;
    if (!(this.ram[B] & B_SET) && Math.floor(now / 1e9) > Math.floor(last / 1e9)) {
      this.ram[C] |= 0x10;
      if (this.alarmMatches()) {
        this.ram[C] |= 0x20;
        if (this.ram[B] & 0x20) this.onAlarm();
      }
    }
    this.updateIrq();
  }

  /** Next virtual time an enabled RTC interrupt can fire, or Infinity. */
  nextDeadline(now: number): number {
    const b = this.ram[B];
    let d = Infinity;
    const p = this.periodNs();
    if ((b & 0x40) && p) d = (Math.floor(now / p) + 1) * p;
    if ((b & 0x30) && !(b & B_SET)) d = Math.min(d, (Math.floor(now / 1e9) + 1) * 1e9);
    return d;
  }

  reset(): void {
    this.ram[B] &= ~0x70; this.ram[C] = 0; this.updateIrq();
  }
}

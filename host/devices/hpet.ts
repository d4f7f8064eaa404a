// HPET (IA-PC HPET spec 1.0a) at 0xFED00000 as QEMU's: 3 timers, 64-bit main counter at
// 100 MHz (period 10,000,000 fs) computed from virtual time, one-shot and periodic timers,
// 32-bit mode, edge or level interrupts routed to IOAPIC pins, and the legacy replacement
// route (timer 0 -> IRQ0, timer 1 -> IRQ8, the PIT and RTC outputs disconnected).
import type { MmioBus, MmioDevice } from "../bus";

export const HPET_BASE = 0xfed00000;
export const HPET_TIMERS = 3;
export const HPET_PERIOD_FS = 10_000_000;     // 10 ns per tick
const NS_PER_TICK = HPET_PERIOD_FS / 1e6;
/** Capabilities low dword: vendor 8086, legacy route capable, 64-bit counter, 3 timers, rev 1. */
export const HPET_CAP_ID = (0x8086a001 | ((HPET_TIMERS - 1) << 8)) >>> 0;
const CFG_ENABLE = 1n, CFG_LEGACY = 2n;
const TN_LEVEL = 1n << 1n, TN_INT_EN = 1n << 2n, TN_PERIODIC = 1n << 3n, TN_PER_CAP = 1n << 4n,
  TN_SIZE_CAP = 1n << 5n, TN_SETVAL = 1n << 6n, TN_32BIT = 1n << 8n, TN_FSB_EN = 1n << 14n;
const TN_RW = (TN_LEVEL | TN_INT_EN | TN_PERIODIC | TN_SETVAL | TN_32BIT | (0x1fn << 9n) | TN_FSB_EN);
/** Interrupt routing capability: IOAPIC pins 2 (timer 0 only in QEMU: any), 8, 11, 20-23. */
export const HPET_INT_CAP = 0x00f00904;
const M64 = (1n << 64n) - 1n, M32 = 0xffffffffn;

class Timer {
  config = TN_PER_CAP | TN_SIZE_CAP | (BigInt(HPET_INT_CAP) << 32n);
  cmp = M64;
  period = 0n;
  nextNs = Infinity;
  constructor(readonly index: number) { if (index > 0) this.config &= ~TN_PER_CAP; }
  get route(): number { return Number((this.config >> 9n) & 0x1fn); }
  get periodic(): boolean { return (this.config & TN_PERIODIC) !== 0n; }
  get is32(): boolean { return (this.config & TN_32BIT) !== 0n; }
}

export class Hpet implements MmioDevice {
  config = 0n;
  isr = 0n;
  private counterBase = 0n;    // counter value at enableNs (or the frozen value when disabled)
  private enableNs = 0;
  readonly timers: Timer[] = [];
  /** Drive an interrupt line (GSI); legacy routes use ISA IRQ 0 and 8. */
  setIrq: (gsi: number, level: boolean) => void = () => {};
  /** Called when legacy replacement is switched (the machine disconnects PIT/RTC). */
  onLegacy: (on: boolean) => void = () => {};

  constructor(private nowNs: () => number, readonly base = HPET_BASE) {
    for (let i = 0; i < HPET_TIMERS; i++) this.timers.push(new Timer(i));
    // Timer 0 alone is periodic-capable on real chipsets; QEMU makes all three so.
    for (const t of this.timers) t.config |= TN_PER_CAP;
  }
  attach(mmio: MmioBus): void { mmio.register(this.base, 0x400, this); }

  reset(): void {
    this.config = 0n; this.isr = 0n; this.counterBase = 0n;
    for (const t of this.timers) { t.config = TN_PER_CAP | TN_SIZE_CAP | (BigInt(HPET_INT_CAP) << 32n); t.cmp = M64; t.period = 0n; t.nextNs = Infinity; }
  }

  get enabled(): boolean { return (this.config & CFG_ENABLE) !== 0n; }
  get legacy(): boolean { return (this.config & CFG_LEGACY) !== 0n; }

  counter(now = this.nowNs()): bigint {
    if (!this.enabled) return this.counterBase;
    return (this.counterBase + BigInt(Math.floor((now - this.enableNs) / NS_PER_TICK))) & M64;
  }
  /** Virtual time at which the counter reaches value c (the next time, modulo the width). */
  private timeOf(t: Timer, now: number): number {
    const cur = this.counter(now);
    const mask = t.is32 ? M32 : M64;
    let delta = (t.cmp - cur) & mask;
    if (delta === 0n) delta = mask + 1n;   // equal now: next match after a full wrap
    const ticksFromBase = Number(cur - this.counterBase) + Number(delta);
    return this.enableNs + ticksFromBase * NS_PER_TICK;
  }
  private arm(t: Timer, now: number): void {
    t.nextNs = this.enabled ? this.timeOf(t, now) : Infinity;
  }
  private rearmAll(now: number): void { for (const t of this.timers) this.arm(t, now); }

  private gsiOf(t: Timer): number {
    if (this.legacy && t.index === 0) return 0;
    if (this.legacy && t.index === 1) return 8;
    return t.route;
  }
  private fire(t: Timer): void {
    const level = (t.config & TN_LEVEL) !== 0n;
    if (level) this.isr |= 1n << BigInt(t.index);
    if (!(t.config & TN_INT_EN)) return;
    const gsi = this.gsiOf(t);
    if (level) this.setIrq(gsi, true);
    else { this.setIrq(gsi, true); this.setIrq(gsi, false); }
  }

  tick(now: number): void {
    for (const t of this.timers) {
      if (now < t.nextNs) continue;
      this.fire(t);
      if (t.periodic && t.period !== 0n) {
        // advance the comparator past now (missed periods collapse)
        const mask = t.is32 ? M32 : M64;
        const cur = this.counter(now);
        const behind = (cur - t.cmp) & mask;
        if (behind < (mask >> 1n)) t.cmp = (t.cmp + (behind / t.period + 1n) * t.period) & mask;
        this.arm(t, now);
      } else {
        // one-shot: next match after the counter wraps (effectively never)
        t.nextNs = Infinity;
      }
    }
  }
  nextDeadline(_now: number): number {
    let d = Infinity;
    for (const t of this.timers) d = Math.min(d, t.nextNs);
    return d;
  }

  private read64(off: number): bigint {
    switch (off) {
      case 0x000: return (BigInt(HPET_PERIOD_FS) << 32n) | BigInt(HPET_CAP_ID);
      case 0x010: return this.config;
      case 0x020: return this.isr;
      case 0x0f0: return this.counter();
    }
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_TIMERS) {
      const t = this.timers[(off - 0x100) >> 5];
      switch (off & 0x1f) {
        case 0x00: return t.config;
        case 0x08: return t.is32 ? t.cmp & M32 : t.cmp;
        case 0x10: return 0n;
      }
    }
    return 0n;
  }

  private write64(off: number, v: bigint, mask: bigint): void {
    const now = this.nowNs();
    const merge = (old: bigint) => (old & ~mask) | (v & mask);
    switch (off) {
      case 0x010: {
        const wasEn = this.enabled, wasLeg = this.legacy;
        const cur = this.counter(now);
        this.config = merge(this.config) & 3n;
        if (this.enabled !== wasEn) {
          this.counterBase = cur;
          this.enableNs = now;
        }
        if (this.legacy !== wasLeg) this.onLegacy(this.legacy);
        this.rearmAll(now);
        return;
      }
      case 0x020: {
        // write 1 to clear a level-triggered status bit (and deassert the line)
        const clr = v & mask & this.isr;
        for (const t of this.timers) if (clr & (1n << BigInt(t.index))) this.setIrq(this.gsiOf(t), false);
        this.isr &= ~clr;
        return;
      }
      case 0x0f0:
        if (this.enabled) return;   // the counter may only be written while halted
        this.counterBase = merge(this.counterBase);
        return;
    }
    if (off >= 0x100 && off < 0x100 + 0x20 * HPET_TIMERS) {
      const t = this.timers[(off - 0x100) >> 5];
      switch (off & 0x1f) {
        case 0x00: {
          const nv = merge(t.config);
          t.config = (t.config & ~TN_RW) | (nv & TN_RW);
          if (!(t.config & TN_PER_CAP)) t.config &= ~TN_PERIODIC;
          if (t.is32) { t.cmp &= M32; t.period &= M32; }
          break;
        }
        case 0x08: {
          let nv = merge(t.periodic && !(t.config & TN_SETVAL) ? t.period : t.cmp);
          if (t.is32) nv &= M32;
          if (!t.periodic || (t.config & TN_SETVAL)) t.cmp = nv;
          if (t.periodic) t.period = nv;
          t.config &= ~TN_SETVAL;
          break;
        }
        default: return;
      }
      this.arm(t, now);
    }
  }

  read(off: number, size: number): number {
    const q = off & ~7, sh = BigInt((off & 7) * 8);
    const v = this.read64(q) >> sh;
    return Number(v & (size === 8 ? M32 : (1n << BigInt(size * 8)) - 1n)) >>> 0;
  }
  write(off: number, size: number, value: number): void {
    const q = off & ~7, sh = BigInt((off & 7) * 8);
    const mask = ((1n << BigInt(size * 8)) - 1n) << sh;
    this.write64(q, BigInt(value >>> 0) << sh, mask);
  }
}

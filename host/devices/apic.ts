// Local APIC (SDM Vol.3 ch. 11 "Advanced Programmable Interrupt Controller"), one per vCPU:
// xAPIC MMIO at the relocatable IA32_APIC_BASE (default 0xFEE00000) and the x2APIC MSR view
// (0x800-0x8ff) for when the core forwards MSRs. Timer counts at a 1 GHz bus clock from
// virtual time (as QEMU's APIC), one-shot / periodic / TSC-deadline.
// The ApicBus connects the local APICs, the IOAPIC and IPIs (one message bus, SDM 11.6).
import type { ApicMessage } from "./ioapic";

export const APIC_DEFAULT_BASE = 0xfee00000;
export const APIC_VERSION = 0x50014;          // version 0x14, max LVT entry 5 (6 LVTs)
const BASE_BSP = 1 << 8, BASE_EXTD = 1 << 10, BASE_EN = 1 << 11;
const LVT_MASKED = 1 << 16;
// LVT indices (register = 0x320 + 0x10 * i)
export const LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PERF = 2, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;
const LVT_WRITABLE = [0x000710ff | (3 << 17), 0x000117ff, 0x000117ff, 0x0001f7ff, 0x0001f7ff, 0x000110ff];
// Delivery modes
export const DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6, DM_EXTINT = 7;
// ESR bits
const ESR_SEND_ILLEGAL = 1 << 5, ESR_RECV_ILLEGAL = 1 << 6, ESR_ILLEGAL_REG = 1 << 7;

function hiBit256(a: Uint32Array): number {
  for (let w = 7; w >= 0; w--) if (a[w]) return w * 32 + 31 - Math.clz32(a[w]);
  return -1;
}
const setBit = (a: Uint32Array, v: number) => { a[v >> 5] |= 1 << (v & 31); };
const clrBit = (a: Uint32Array, v: number) => { a[v >> 5] &= ~(1 << (v & 31)); };
const tstBit = (a: Uint32Array, v: number) => (a[v >> 5] & (1 << (v & 31))) !== 0;

export interface ApicClock {
  /** Virtual time in ns. */
  nowNs(): number;
  /** The guest TSC now, and its rate in ticks per ns (for TSC-deadline mode); optional. */
  tsc?(): bigint;
  tscPerNs?(): number;
}

export class LocalApic {
  /** IA32_APIC_BASE (the core owns the MSR today; the machine mirrors it here). */
  base = APIC_DEFAULT_BASE | BASE_EN;
  id: number;
  tpr = 0;
  ldr = 0;
  dfr = 0xffffffff;
  svr = 0xff;
  readonly isr = new Uint32Array(8);
  readonly tmr = new Uint32Array(8);
  readonly irr = new Uint32Array(8);
  esr = 0;
  private esrPending = 0;
  icrLo = 0;
  icrHi = 0;
  readonly lvt = new Uint32Array(6);
  lvtCmci = LVT_MASKED;
  timerInitial = 0;
  divideConf = 0;
  private timerStartNs = 0;     // virtual time the current count was (re)loaded
  private timerNextNs = Infinity; // next expiry (one-shot/periodic), or Infinity
  private timerStopped = false;   // count held at 0: an expired one-shot switched to periodic
  tscDeadline = 0n;
  private deadlineNs = Infinity;
  /** Set when LINT0 (ExtINT from the PIC) or a bus message changes what is pending. */
  onChange: () => void = () => {};
  bus: ApicBus | undefined;
  /** x2APIC mode exists only when CPUID.1:ECX[21] advertises it; otherwise IA32_APIC_BASE
   *  bit 10 is reserved (#GP). The core does not advertise it yet. */
  x2apicSupported = false;

  constructor(readonly index: number, readonly clock: ApicClock, readonly bsp = index === 0) {
    this.id = index;
    this.reset();
  }

  reset(): void {
    this.base = APIC_DEFAULT_BASE | BASE_EN | (this.bsp ? BASE_BSP : 0);
    this.id = this.index;
    this.softReset();
  }

  /** INIT: everything but the ID and IA32_APIC_BASE returns to the power-up state (SDM 11.4.7.3). */
  softReset(): void {
    this.tpr = 0; this.ldr = 0; this.dfr = 0xffffffff; this.svr = 0xff;
    this.isr.fill(0); this.tmr.fill(0); this.irr.fill(0);
    this.esr = 0; this.esrPending = 0; this.icrLo = 0; this.icrHi = 0;
    this.lvt.fill(LVT_MASKED); this.lvtCmci = LVT_MASKED;
    // Like QEMU (and every PC BIOS): the BSP's LINT0 is ExtINT so the 8259 reaches the CPU.
    if (this.bsp) this.lvt[LVT_LINT0] = DM_EXTINT << 8;
    this.timerInitial = 0; this.divideConf = 0; this.timerNextNs = Infinity; this.timerStopped = false;
    this.tscDeadline = 0n; this.deadlineNs = Infinity;
  }

  get hwEnabled(): boolean { return (this.base & BASE_EN) !== 0; }
  get x2apic(): boolean { return (this.base & (BASE_EN | BASE_EXTD)) === (BASE_EN | BASE_EXTD); }
  get swEnabled(): boolean { return (this.svr & 0x100) !== 0; }
  get mmioBase(): number { return (this.base & ~0xfff) >>> 0; }

  // ---- priority (SDM 11.8.3.1) ----
  get ppr(): number {
    const isrv = hiBit256(this.isr);
    const isrc = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= isrc ? this.tpr & 0xff : isrc;
  }
  /** The vector the APIC would deliver now, or -1. */
  pendingVector(): number {
    if (!this.hwEnabled) return -1;
    const v = hiBit256(this.irr);
    if (v < 0) return -1;
    return (v & 0xf0) > (this.ppr & 0xf0) ? v : -1;
  }
  /** LINT0 in ExtINT mode and unmasked (or the APIC off): the 8259's INTR reaches the CPU. */
  acceptsPic(): boolean {
    if (!this.hwEnabled) return true;
    const l = this.lvt[LVT_LINT0];
    return !(l & LVT_MASKED) && ((l >> 8) & 7) === DM_EXTINT;
  }

  /** INTA: move the highest pending IRR vector to ISR. -1 if nothing is deliverable. */
  acknowledge(): number {
    const v = this.pendingVector();
    if (v < 0) {
      // Something pending but blocked by PPR when the CPU asked: a spurious interrupt.
      if (hiBit256(this.irr) >= 0 && this.hwEnabled) return this.svr & 0xff;
      return -1;
    }
    clrBit(this.irr, v);
    setBit(this.isr, v);
    this.onChange();
    return v;
  }

  /** Accept an interrupt with this vector (fixed / lowest priority delivery). */
  acceptFixed(vector: number, level: boolean): void {
    if (!this.hwEnabled) return;
    if (vector < 16) { this.error(ESR_RECV_ILLEGAL); return; }
    setBit(this.irr, vector);
    if (level) setBit(this.tmr, vector); else clrBit(this.tmr, vector);
    this.onChange();
  }

  private error(bits: number): void {
    this.esrPending |= bits;
    const l = this.lvt[LVT_ERROR];
    if (!(l & LVT_MASKED) && (l & 0xff) >= 16) { setBit(this.irr, l & 0xff); clrBit(this.tmr, l & 0xff); this.onChange(); }
  }

  /** Deliver through a local vector table entry (timer, LINT, error...). */
  private fireLvt(i: number): void {
    const l = this.lvt[i];
    if ((l & LVT_MASKED) || !this.hwEnabled) return;
    const dm = (l >> 8) & 7;
    if (dm === DM_NMI) { this.bus?.nmi(this.index); return; }
    if (dm === DM_EXTINT) { this.onChange(); return; }
    if (dm === DM_FIXED) {
      const level = i === LVT_LINT0 || i === LVT_LINT1 ? ((l >> 15) & 1) === 1 : false;
      this.acceptFixed(l & 0xff, level);
    }
  }

  /** A performance-monitoring counter overflowed with its interrupt enabled (the core's PMU,
   *  assembly/cpu/pmu.ts): deliver through LVT_PERF, then set its mask bit, as Intel processors
   *  and KVM do (the PMI handler unmasks it again; SDM 11.5.1, 21.6.3.5.8). */
  perfInterrupt(): void {
    const l = this.lvt[LVT_PERF];
    if ((l & LVT_MASKED) || !this.hwEnabled) return;
    this.fireLvt(LVT_PERF);
    this.lvt[LVT_PERF] = l | LVT_MASKED;
  }

  /** LINT0/LINT1 input pins (LINT1 is NMI on a PC). */
  lint(pin: 0 | 1): void { this.fireLvt(pin === 0 ? LVT_LINT0 : LVT_LINT1); }

  eoi(): void {
    const v = hiBit256(this.isr);
    if (v < 0) return;
    clrBit(this.isr, v);
    // Level-triggered: broadcast the EOI to the IOAPIC(s) unless suppressed (SVR bit 12 is
    // not writable here: version 0x14 without directed-EOI support).
    if (tstBit(this.tmr, v)) this.bus?.eoiBroadcast(v);
    this.onChange();
  }

  // ---- timer ----
  private get divisor(): number {
    const d = (this.divideConf & 3) | ((this.divideConf & 8) >> 1);
    return 1 << ((d + 1) & 7);
  }
  private get timerMode(): number { return (this.lvt[LVT_TIMER] >> 17) & 3; }
  /** Current count register from virtual time. */
  currentCount(now = this.clock.nowNs()): number {
    if (this.timerMode === 2 || this.timerInitial === 0 || this.timerStopped) return 0;
    const ticks = Math.floor((now - this.timerStartNs) / this.divisor);
    if (this.timerMode === 1) return this.timerInitial - (ticks % this.timerInitial);
    return ticks >= this.timerInitial ? 0 : this.timerInitial - ticks;
  }
  private startTimer(now: number): void {
    this.timerStartNs = now;
    this.timerStopped = false;
    this.timerNextNs = this.timerInitial && this.timerMode !== 2 ? now + this.timerInitial * this.divisor : Infinity;
  }
  private tscToNs(deadline: bigint): number {
    if (deadline === 0n) return Infinity;
    const now = this.clock.nowNs();
    if (!this.clock.tsc || !this.clock.tscPerNs) return Infinity;
    const delta = Number(deadline - this.clock.tsc());
    return delta <= 0 ? now : now + Math.ceil(delta / this.clock.tscPerNs());
  }
  writeTscDeadline(v: bigint): void {
    this.tscDeadline = BigInt.asUintN(64, v);
    this.deadlineNs = this.timerMode === 2 ? this.tscToNs(this.tscDeadline) : Infinity;
    if (this.deadlineNs !== Infinity) this.tick(this.clock.nowNs());
  }
  readTscDeadline(): bigint { return this.timerMode === 2 ? this.tscDeadline : 0n; }

  tick(now: number): void {
    if (this.timerMode === 2) {
      if (this.deadlineNs !== Infinity && now >= this.deadlineNs &&
          (!this.clock.tsc || this.clock.tsc() >= this.tscDeadline)) {
        this.deadlineNs = Infinity; this.tscDeadline = 0n;
        this.fireLvt(LVT_TIMER);
      }
      return;
    }
    if (now < this.timerNextNs) return;
    this.fireLvt(LVT_TIMER);
    if (this.timerMode === 1 && this.timerInitial) {
      const period = this.timerInitial * this.divisor;
      // Missed periods collapse into one interrupt (the IRR bit holds one).
      const n = Math.floor((now - this.timerStartNs) / period);
      this.timerNextNs = this.timerStartNs + (n + 1) * period;
    } else {
      this.timerNextNs = Infinity;
    }
  }
  nextDeadline(_now: number): number { return this.timerMode === 2 ? this.deadlineNs : this.timerNextNs; }

  // ---- register file (offset = MMIO offset; x2APIC MSR 0x800 + off/16) ----
  readReg(off: number): number {
    switch (off) {
      case 0x20: return this.x2apic ? this.id >>> 0 : (this.id & 0xff) << 24 >>> 0;
      case 0x30: return APIC_VERSION;
      case 0x80: return this.tpr;
      case 0x90: return 0;            // APR: arbitration is not modelled (reads 0, as QEMU)
      case 0xa0: return this.ppr;
      case 0xb0: return 0;
      case 0xc0: return 0;
      case 0xd0: return this.x2apic ? this.x2Ldr() : this.ldr;
      case 0xe0: return this.x2apic ? 0 : this.dfr;
      case 0xf0: return this.svr;
      case 0x280: return this.esr;
      case 0x2f0: return this.lvtCmci;
      case 0x300: return this.icrLo;
      case 0x310: return this.icrHi;
      case 0x380: return this.timerInitial;
      case 0x390: return this.currentCount();
      case 0x3e0: return this.divideConf;
    }
    if (off >= 0x100 && off < 0x180) return this.isr[(off - 0x100) >> 4];
    if (off >= 0x180 && off < 0x200) return this.tmr[(off - 0x180) >> 4];
    if (off >= 0x200 && off < 0x280) return this.irr[(off - 0x200) >> 4];
    if (off >= 0x320 && off < 0x380) return this.lvt[(off - 0x320) >> 4];
    return 0;
  }
  /** Logical ID in x2APIC mode is derived from the x2APIC ID (SDM 11.12.10.2). */
  x2Ldr(): number { return (((this.id >>> 4) << 16) | (1 << (this.id & 0xf))) >>> 0; }

  writeReg(off: number, v: number): void {
    v >>>= 0;
    const now = this.clock.nowNs();
    switch (off) {
      case 0x20: if (!this.x2apic) this.id = v >>> 24; return;
      case 0x80: this.tpr = v & 0xff; this.onChange(); return;
      case 0xb0: this.eoi(); return;
      case 0xd0: if (!this.x2apic) this.ldr = v & 0xff000000; return;
      case 0xe0: if (!this.x2apic) this.dfr = (v | 0x0fffffff) >>> 0; return;
      case 0xf0:
        this.svr = v & 0x1ff;   // vector + software enable (focus checking, EOI suppression: not supported)
        if (!(v & 0x100)) { for (let i = 0; i < 6; i++) this.lvt[i] |= LVT_MASKED; this.lvtCmci |= LVT_MASKED; }
        this.onChange();
        return;
      case 0x280: this.esr = this.esrPending; this.esrPending = 0; return;
      case 0x2f0: this.lvtCmci = (v & 0x000117ff) | (this.swEnabled ? 0 : LVT_MASKED); return;
      case 0x300: this.icrLo = v & 0x000ccfff; this.sendIpi(); return;
      case 0x310: if (!this.x2apic) this.icrHi = v & 0xff000000; return;
      case 0x380:
        if (this.timerMode === 2) return;   // ignored in TSC-deadline mode
        this.timerInitial = v; this.startTimer(now); return;
      case 0x3e0: {
        const cur = this.currentCount(now), oldDiv = this.divisor;
        this.divideConf = v & 0xb;
        // keep the current count continuous across a divisor change
        if (this.timerInitial && this.timerMode !== 2 && cur) {
          const elapsedTicks = this.timerInitial - cur;
          this.timerStartNs = now - elapsedTicks * this.divisor;
          const left = cur * this.divisor;
          this.timerNextNs = now + left;
          void oldDiv;
        }
        return;
      }
    }
    if (off >= 0x320 && off < 0x380) {
      const i = (off - 0x320) >> 4;
      let nv = v & LVT_WRITABLE[i];
      if (!this.swEnabled) nv |= LVT_MASKED;
      if (i === LVT_TIMER) {
        const oldMode = this.timerMode;
        this.lvt[i] = nv;
        const mode = this.timerMode;
        if (mode === 3) this.lvt[i] = (nv & ~(3 << 17)) | (oldMode << 17);   // reserved mode: keep
        if (this.timerMode !== oldMode && (oldMode === 2 || this.timerMode === 2)) {
          // Entering or leaving TSC-deadline mode disarms the timer (SDM 11.5.4.1).
          this.timerInitial = 0; this.timerNextNs = Infinity; this.timerStopped = false;
          this.tscDeadline = 0n; this.deadlineNs = Infinity;
        } else if (this.timerMode !== oldMode && this.timerInitial && !this.timerStopped) {
          // One-shot <-> periodic: the count carries on from where it is (as KVM; apic.flat
          // "TMCCT should not be reset"). An expired one-shot stays at 0 in periodic mode.
          const now = this.clock.nowNs(), period = this.timerInitial * this.divisor;
          const n = Math.floor((now - this.timerStartNs) / period);
          if (this.timerMode === 1) {
            if (n >= 1) { this.timerStopped = true; this.timerNextNs = Infinity; }
          } else {
            this.timerStartNs += n * period;          // the period in progress is the last one
            this.timerNextNs = this.timerStartNs + period;
          }
        }
        return;
      }
      this.lvt[i] = nv;
      this.onChange();
      return;
    }
  }

  // ---- IPIs (ICR, SDM 11.6.1) ----
  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff, dm = (lo >> 8) & 7, logical = (lo & (1 << 11)) !== 0;
    const level = (lo & (1 << 15)) !== 0, assert = (lo & (1 << 14)) !== 0, shorthand = (lo >> 18) & 3;
    const dest = this.x2apic ? this.icrHi : this.icrHi >>> 24;
    if ((dm === DM_FIXED || dm === DM_LOWEST) && vector < 16) { this.error(ESR_SEND_ILLEGAL); return; }
    // SDM 11.6.1: the level flag (bit 14) has no meaning on Pentium 4 and later and is always
    // issued as 1; only INIT with trigger mode level and level 0 is "INIT level de-assert",
    // which these processors do not support (a no-op).
    this.bus?.ipi(this, { vector, deliveryMode: dm, logical, dest, level: false }, shorthand,
      dm === DM_INIT && level && !assert);
  }

  /** Does this APIC match a destination (SDM 11.6.2)? */
  matches(dest: number, logical: boolean, broadcastAll = 0xff): boolean {
    if (!logical) return dest === broadcastAll || dest === (this.x2apic ? this.id : this.id & 0xff);
    if (this.x2apic) {
      const ldr = this.x2Ldr();
      if (dest === 0xffffffff) return true;
      return (dest >>> 16) === (ldr >>> 16) && (dest & ldr & 0xffff) !== 0;
    }
    const ldr = this.ldr >>> 24;
    if (dest === 0xff) return true;
    if ((this.dfr >>> 28) === 0xf) return (ldr & dest) !== 0;         // flat model
    return (ldr >> 4) === (dest >> 4) && (ldr & dest & 0xf) !== 0;     // cluster model
  }

  // ---- MMIO (xAPIC) ----
  mmioRead(off: number, size: number): number {
    if (this.x2apic) return 0xffffffff >>> (32 - 8 * size);   // xAPIC window is gone in x2APIC mode
    const reg = off & 0xff0;
    const v = (off & 0xf) < 4 ? this.readReg(reg) >>> 0 : 0;
    const sh = (off & 3) * 8;
    return size === 4 ? v : (v >>> sh) & (size === 1 ? 0xff : 0xffff);
  }
  mmioWrite(off: number, size: number, value: number): void {
    if (this.x2apic) return;
    if ((off & 0xf) >= 4) return;
    if (size !== 4) value = (value << ((off & 3) * 8)) >>> 0;   // narrow writes: QEMU-like, widen
    this.writeReg(off & 0xff0, value);
  }

  // ---- x2APIC MSRs (0x800-0x8ff; SDM 11.12.1) and IA32_TSC_DEADLINE ----
  /** RDMSR: the value, or undefined for #GP. */
  msrRead(index: number): bigint | undefined {
    if (index === 0x6e0) return this.readTscDeadline();
    if (index < 0x800 || index > 0x8ff || !this.x2apic) return undefined;
    const off = (index - 0x800) << 4;
    if (off === 0x300) return (BigInt(this.icrHi >>> 0) << 32n) | BigInt(this.icrLo >>> 0);
    if (off === 0x310 || off === 0xb0 || off === 0x3f0 || off === 0x90 || off === 0xc0 || off === 0xe0) return undefined;
    if (!this.validReg(off)) return undefined;
    return BigInt(this.readReg(off) >>> 0);
  }
  /** WRMSR: false for #GP. */
  msrWrite(index: number, value: bigint): boolean {
    if (index === 0x6e0) { this.writeTscDeadline(value); return true; }
    if (index < 0x800 || index > 0x8ff || !this.x2apic) return false;
    const off = (index - 0x800) << 4;
    const lo = Number(value & 0xffffffffn) >>> 0, hi = Number(value >> 32n) >>> 0;
    switch (off) {
      case 0x300: this.icrHi = hi; this.icrLo = lo & 0x000ccfff; this.sendIpi(); return true;
      case 0x3f0:   // SELF IPI
        if (value >> 8n) return false;
        this.acceptFixed(lo & 0xff, false);
        return true;
      case 0x20: case 0x30: case 0xa0: case 0xd0: case 0x390: case 0x310: case 0xe0: case 0x90: case 0xc0:
        return false;   // read-only or absent in x2APIC mode
      case 0xb0: if (value !== 0n) return false; this.eoi(); return true;
    }
    if (hi !== 0 && off !== 0x300) return false;
    if (!this.validReg(off) || (off >= 0x100 && off < 0x280)) return false;
    if (off === 0x280 && lo !== 0) return false;
    this.writeReg(off, lo);
    return true;
  }
  // No LVT CMCI (0x2f0): the version register's max LVT entry is 5 (SDM 11.5.1), so x2APIC
  // MSR 0x82f is #GP like any absent register (kvm-unit-tests msr.flat checks this).
  private validReg(off: number): boolean {
    return [0x20, 0x30, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x280, 0x300, 0x310,
      0x320, 0x330, 0x340, 0x350, 0x360, 0x370, 0x380, 0x390, 0x3e0, 0x3f0].includes(off) ||
      (off >= 0x100 && off < 0x280);
  }

  /** IA32_APIC_BASE write rules (SDM 11.12.5): returns false for #GP. */
  writeBase(v: number | bigint): boolean {
    const nv = Number(BigInt(v) & 0xffffffffn) >>> 0;
    const en = (nv & BASE_EN) !== 0, extd = (nv & BASE_EXTD) !== 0;
    const wasX2 = this.x2apic, wasEn = this.hwEnabled;
    if (extd && !this.x2apicSupported) return false;     // reserved bit without x2APIC
    if (extd && !en) return false;                       // invalid state
    if (wasX2 && en && !extd) return false;              // x2APIC -> xAPIC directly
    if (!wasEn && en && extd) return false;              // disabled -> x2APIC directly
    this.base = ((nv & ~0x2ff) | (this.base & BASE_BSP)) >>> 0;
    if (!en && wasEn) { this.softReset(); this.svr = 0xff; }
    // Entering x2APIC mode: the x2APIC ID is the initial APIC ID, whatever the guest wrote to
    // the xAPIC ID register (SDM 11.12.5.1); it stays so if the APIC goes back to xAPIC later.
    if (extd && !wasX2) this.id = this.index;
    this.onChange();
    return true;
  }
}

export interface BusTarget { apic: LocalApic }

/** The APIC bus: local APICs and the IOAPIC. */
export class ApicBus {
  readonly apics: LocalApic[] = [];
  /** EOI broadcast to the IOAPIC(s). */
  onEoi: (vector: number) => void = () => {};
  /** NMI, INIT, SIPI to vCPU `index` (the machine/scheduler acts on them). */
  onNmi: (index: number) => void = () => {};
  onInit: (index: number) => void = () => {};
  onSipi: (index: number, vector: number) => void = () => {};

  add(a: LocalApic): void { a.bus = this; this.apics.push(a); }
  nmi(index: number): void { this.onNmi(index); }
  eoiBroadcast(vector: number): void { this.onEoi(vector); }

  private targets(msg: ApicMessage, from: LocalApic | undefined): LocalApic[] {
    const out: LocalApic[] = [];
    const bcast = from?.x2apic ? 0xffffffff : 0xff;
    for (const a of this.apics) if (a.hwEnabled && a.matches(msg.dest, msg.logical, bcast)) out.push(a);
    return out;
  }

  /** A message from the IOAPIC (or an MSI). */
  deliver(msg: ApicMessage): void { this.dispatch(msg, this.targets(msg, undefined)); }

  ipi(from: LocalApic, msg: ApicMessage, shorthand: number, initDeassert = false): void {
    if (initDeassert) return;
    let t: LocalApic[];
    switch (shorthand) {
      case 1: t = [from]; break;                                    // self
      case 2: t = this.apics.filter((a) => a.hwEnabled); break;    // all including self
      case 3: t = this.apics.filter((a) => a !== from && a.hwEnabled); break;
      default: t = this.targets(msg, from);
    }
    // SDM table 10-3 lists "self" with any mode but fixed as invalid, i.e. unspecified. KVM and
    // QEMU deliver INIT and NMI to self (kvm-unit-tests init resets the BSP that way), so nestvm
    // does too; lowest priority, SMI and start-up to self are dropped.
    if (shorthand === 1 && msg.deliveryMode !== DM_FIXED && msg.deliveryMode !== DM_INIT && msg.deliveryMode !== DM_NMI) return;
    this.dispatch(msg, t);
  }

  private dispatch(msg: ApicMessage, t: LocalApic[]): void {
    if (!t.length) return;
    switch (msg.deliveryMode) {
      case DM_LOWEST: {
        // Lowest priority: the APIC with the lowest PPR (ties: lowest index).
        let best = t[0];
        for (const a of t) if ((a.ppr & 0xf0) < (best.ppr & 0xf0)) best = a;
        best.acceptFixed(msg.vector, msg.level);
        return;
      }
      case DM_FIXED: for (const a of t) a.acceptFixed(msg.vector, msg.level); return;
      case DM_NMI: for (const a of t) this.onNmi(a.index); return;
      case DM_INIT: for (const a of t) { a.softReset(); this.onInit(a.index); } return;
      case DM_SIPI: for (const a of t) this.onSipi(a.index, msg.vector); return;
      case DM_EXTINT: for (const a of t) a.onChange(); return;
      default: return;   // SMI: not modelled
    }
  }
}

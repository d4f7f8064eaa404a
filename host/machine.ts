// The machine: wasm core + RAM + ISA devices + the run loop (time slices, timers, HLT
// sleeps, yielding to the event loop). Runtime-agnostic: Node, Deno and browsers.
import { Core, CoreAbort, RUN_HLT, RUN_SHUTDOWN, RUN_BREAK } from "./core";
import { IoBus, MmioBus } from "./bus";
import { Pic8259 } from "./devices/pic8259";
import { Pit8254 } from "./devices/pit8254";
import { Uart16550 } from "./devices/uart16550";
import { Cmos } from "./devices/cmos";
import { DebugExit, PostPort, Port92 } from "./devices/misc";
import { I8042 } from "./devices/i8042";
import { FIRMWARE_PORT, RESET_STUB_ADDR, resetStub, postAction } from "./firmware";
import { IoApic } from "./devices/ioapic";
import { ApicBus, LocalApic } from "./devices/apic";
import { Hpet } from "./devices/hpet";
import { AcpiPm, SLP_TYP_S3, SLP_TYP_S5, PM1_WAK_STS } from "./devices/acpipm";
import { PcTestDev } from "./devices/testdev";
import { makeI440fx, type PciHost, type PciTestDev } from "./devices/pci";
import { FwCfg } from "./platform/fwcfg";
import { buildAcpi, type AcpiLayout } from "./platform/acpi";
import { loadMultiboot, type MultibootOptions, type MultibootResult } from "./loaders/multiboot";
import { loadFlat, type FlatOptions, type FlatResult } from "./loaders/flat";
import { loadLinux, firmwareMtrrs, type LinuxOptions, type LinuxResult } from "./loaders/linux";
import { Scheduler, QUANTUM, QUANTUM_IPI, type Vcpu } from "./scheduler";

export type TscMode = "realtime" | "icount";
export interface MachineOptions {
  /** Guest RAM in bytes (default 128 MiB, at most 3 GiB). */
  memBytes?: number;
  /** Bytes the guest writes to COM1 (batched). */
  serialOut?: (bytes: Uint8Array) => void;
  /** Called once with a function that feeds bytes to COM1's receiver. */
  serialIn?: (push: (bytes: Uint8Array) => void) => void;
  /** 'realtime': virtual time follows the host clock; 'icount': 1 instruction = nsPerInstruction ns, HLT skips ahead. */
  tsc?: TscMode;
  nsPerInstruction?: number;
  /** Wall-clock time the RTC starts from (ms since epoch; default now). */
  rtcEpochMs?: number;
  /** Number of vCPUs (default 1, at most 16): vCPU 0 starts at reset, the others wait for
   *  INIT/SIPI (docs/smp.md). fw_cfg and the ACPI MADT report this count. */
  cpus?: number;
  /** Alternative wasm core bytes (default: the one embedded in the bundle). */
  wasm?: Uint8Array;
  /** Offer Intel VMX to the guest (default true); false behaves like a CPU without VMX. */
  nested?: boolean;
  /** On a reset request or triple fault, reset and run the firmware's POST (host/firmware.ts)
   *  instead of stopping (default false, like QEMU -no-reboot). */
  reboot?: boolean;
}
export type StopReason = "exit" | "shutdown" | "halt" | "timeout" | "stopped" | "breakpoint" | "error";
export interface RunOptions {
  /** Wall-clock limit for this run() call. */
  maxSeconds?: number;
  /** Instruction limit for this run() call. */
  maxInstructions?: number | bigint;
}
export interface RunResult {
  /** exit: isa-debug-exit written; shutdown: triple fault or reset request (QEMU -no-reboot);
   *  halt: HLT with interrupts disabled (nothing can wake the CPU); timeout: a limit hit;
   *  stopped: stop() called; breakpoint: a vCPU is about to execute an instruction at a host
   *  breakpoint (setBreakpoint; `cpu` says which, and stays selected); error: the core aborted
   *  or a device threw (see message). */
  reason: StopReason;
  cpu?: number;
  exitCode?: number;
  message?: string;
  instructions: bigint;
  seconds: number;
}

const MAX_MEM = 3 * 1024 * 1024 * 1024;
export const MAX_CPUS = 16;
const SLICE_MIN = 10_000, SLICE_MAX = 2_000_000;
const YIELD_MS = 10;
// Realtime clock inside a slice: at most this many ns per retired instruction. The interpreter
// needs ~5, a nested VM exit round trip ~25 on average over its ~100-300 instructions, so
// measured costs are not capped; a stall between two instructions shows as at most ~100 ns.
const REALTIME_MAX_NS_PER_INSN = 100;

const perfNow: () => number =
  typeof performance !== "undefined" && typeof performance.now === "function" ? () => performance.now() : () => Date.now();

/** Give the event loop a turn: setImmediate (Node/Deno), else MessageChannel, else setTimeout. */
function makeYield(): () => Promise<void> {
  const g = globalThis as unknown as { setImmediate?: (f: () => void) => void; MessageChannel?: typeof MessageChannel };
  if (typeof g.setImmediate === "function") { const si = g.setImmediate; return () => new Promise((r) => si(r)); }
  if (typeof g.MessageChannel === "function") {
    const ch = new g.MessageChannel();
    const queue: (() => void)[] = [];
    ch.port1.onmessage = () => { const f = queue.shift(); if (f) f(); };
    return () => new Promise((r) => { queue.push(r); ch.port2.postMessage(0); });
  }
  return () => new Promise((r) => setTimeout(r, 0));
}
const yieldNow = makeYield();

export class Machine {
  readonly core: Core;
  readonly io = new IoBus();
  readonly mmio = new MmioBus();
  readonly pic = new Pic8259();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly cmos: Cmos;
  readonly post = new PostPort();
  readonly port92: Port92;
  readonly i8042: I8042;
  readonly debugExit: DebugExit;
  readonly ioapic = new IoApic();
  readonly apicBus = new ApicBus();
  /** Local APIC of each vCPU (APIC ID = index). */
  readonly apics: LocalApic[] = [];
  /** The vCPUs and which one the core runs (host/scheduler.ts). */
  readonly sched: Scheduler;
  /** Instructions retired by all vCPUs before the current core.run (see totalIcount). */
  private retiredBase = 0n;
  private runStartIc = 0n;
  /** The INTR input of the CPU as last computed (APIC pending or ExtINT from the 8259). */
  intrLevel = false;
  readonly hpet: Hpet;
  readonly acpiPm: AcpiPm;
  readonly testdev = new PcTestDev();
  readonly pci: PciHost;
  readonly pciTestdev: PciTestDev;
  readonly fwcfg: FwCfg;
  readonly cpus: number;
  acpi!: AcpiLayout;
  private hpetLegacy = false;
  readonly tsc: TscMode;
  readonly memBytes: number;
  private nsPerInsn: number;
  private skippedNs = 0;        // icount mode: virtual time skipped while halted
  private rtNs = 0;             // realtime mode: the clock (ns), its wall time and instruction
  private rtWall = 0;           // count at the last read (nowNs)
  private rtIcount = 0n;
  private t0 = perfNow();
  private exitStatus: number | undefined;
  private resetRequested = false;
  private resetHard = false;
  private resetSource = "";
  private firmwareCall = false;
  /** PM1 control SLP_EN was written with this sleep type (-1: none); handled between slices. */
  private sleepRequest = -1;
  /** In ACPI S3 (suspend to RAM): nothing runs until a wake event. */
  private suspended = false;
  private readonly reboot: boolean;
  /** Repeats the last load (the firmware's "boot" after a reset). */
  private bootAgain: (() => void) | undefined;
  private stopRequested = false;
  private errorMessage: string | undefined;
  private wake: (() => void) | null = null;
  private slice = 100_000;
  private insPerMs = 20_000;    // measured guest speed (instructions per wall ms), for deadlines
  private running = false;
  /** Devices with timers: polled between slices. Issue 3's devices can add theirs here. */
  readonly timers: { tick(now: number): void; nextDeadline(now: number): number }[] = [];

  private constructor(core: Core, opts: MachineOptions) {
    this.core = core;
    this.memBytes = core.ramBytes;
    this.tsc = opts.tsc ?? "realtime";
    core.setNested(opts.nested ?? true);
    core.setPmuRefCycles(this.tsc === "icount");
    this.nsPerInsn = opts.nsPerInstruction ?? 1;
    const now = () => this.nowNs();
    this.pit = new Pit8254(now);
    this.uart = new Uart16550(0x3f8);
    this.cmos = new Cmos(now, this.memBytes, opts.rtcEpochMs);
    this.port92 = new Port92(() => this.requestReset(false, "port 0x92"));
    this.reboot = opts.reboot ?? false;
    this.i8042 = new I8042(() => this.requestReset(false, "8042"));
    this.i8042.attach(this.io);
    this.io.register(FIRMWARE_PORT, 1, { width: 1, read: () => 0xff, write: () => { this.firmwareCall = true; this.core.requestStop(); } });
    this.debugExit = new DebugExit((status) => { this.exitStatus = status; this.core.requestStop(); });

    this.pic.onIntr = () => this.updateIntr();
    this.pic.attach(this.io);
    // Interrupt routing as on a PC: every ISA IRQ goes to both the 8259 pair and the IOAPIC
    // (IRQ0 on IOAPIC pin 2); the local APIC takes the 8259's INTR through LINT0 (ExtINT).
    const ncpu = opts.cpus ?? 1;
    if (!Number.isInteger(ncpu) || ncpu < 1 || ncpu > MAX_CPUS) throw new RangeError(`cpus must be 1..${MAX_CPUS} (got ${ncpu})`);
    for (let i = 0; i < ncpu; i++) {
      const lapic = new LocalApic(i, {
        nowNs: now,
        tsc: () => this.guestTsc(),
        tscPerNs: () => this.tscPerNs(),
      });
      lapic.x2apicSupported = true;   // the core advertises x2APIC (CPUID.1:ECX[21]) and forwards its MSRs
      lapic.onChange = () => this.apicChanged(i);
      this.apics.push(lapic);
      this.apicBus.add(lapic);
      this.timers.push(lapic);
    }
    this.sched = new Scheduler(core, this.apics);
    this.retiredBase = core.icountNow; this.runStartIc = core.icountNow;
    // Every switch (selectCpu, INIT/SIPI processing, resets) swaps the core's instruction
    // counter for the other vCPU's: close the count before, restart it after.
    this.sched.onSwitch = (loaded) => {
      if (!loaded) this.retiredBase = this.totalIcount;
      else this.runStartIc = this.core.icountNow;
    };
    this.apicBus.onEoi = (v) => this.ioapic.eoi(v);
    this.apicBus.onNmi = (i) => this.sched.nmi(i);
    this.apicBus.onInit = (i) => this.sched.init(i);
    this.sched.onBspInit = () => this.firmwarePost();
    this.apicBus.onSipi = (i, v) => this.sched.sipi(i, v);
    this.ioapic.deliver = (msg) => this.apicBus.deliver(msg);
    this.ioapic.attach(this.mmio);
    // HPET legacy replacement disconnects the PIT (IRQ0) and RTC (IRQ8) outputs.
    this.pit.setIrq0 = (l) => { if (!this.hpetLegacy) this.setIrq(0, l); };
    this.pit.pulseIrq0 = () => { if (!this.hpetLegacy) { this.setIrq(0, true); this.setIrq(0, false); } };
    this.hpet = new Hpet(now);
    this.hpet.setIrq = (g, l) => this.setIrq(g, l);
    this.hpet.onLegacy = (on) => { this.hpetLegacy = on; if (on) { this.setIrq(0, false); this.setIrq(8, false); } };
    this.hpet.attach(this.mmio);
    this.timers.push(this.hpet);
    this.acpiPm = new AcpiPm(now);
    this.acpiPm.reset();
    this.acpiPm.attach(this.io);
    this.acpiPm.onSleep = (typ) => { this.sleepRequest = typ; this.core.requestStop(); };
    this.testdev.setIrq = (n, l) => this.setIrq(n, l);
    this.testdev.attach(this.io, this.mmio);
    const pci = makeI440fx();
    this.pci = pci.host; this.pciTestdev = pci.testdev;
    this.pci.onReset = (hard) => this.requestReset(hard, "port 0xcf9");
    this.pci.attach(this.io, this.mmio);
    this.cpus = ncpu;
    this.fwcfg = new FwCfg({ ramBytes: this.memBytes, cpus: this.cpus });
    this.fwcfg.attach(this.io);
    this.acpi = buildAcpi(core.ram, { cpus: this.cpus });
    this.pit.attach(this.io);
    this.timers.push(this.pit);
    this.uart.setIrq = (l) => this.setIrq(4, l);
    const out = opts.serialOut;
    if (out) this.uart.onOutput = out;
    this.uart.onInput = () => this.wakeUp();
    this.uart.attach(this.io);
    this.cmos.setIrq = (l) => { if (!this.hpetLegacy) this.setIrq(8, l); };
    this.cmos.attach(this.io);
    this.cmos.onAlarm = () => this.acpiPm.rtcAlarm();
    this.timers.push(this.cmos);
    // An L2's VMX-preemption timer (the core counts it; a halted L2 waits for it here).
    // With several vCPUs each keeps the deadline it had when it last stopped (Vcpu.wakeNs).
    this.timers.push({ tick() {}, nextDeadline: () => {
      const d = core.vmxTimerNs;
      let dl = d < 0 ? Infinity : d;
      if (this.sched.count > 1) for (const v of this.sched.vcpus) if (v.index !== this.sched.cur && v.wakeNs < dl) dl = v.wakeNs;
      return dl;
    } });
    this.post.attach(this.io);
    this.port92.attach(this.io);
    this.debugExit.attach(this.io);
    if (opts.serialIn) opts.serialIn((b) => this.uart.receive(b));
  }

  static async create(opts: MachineOptions = {}): Promise<Machine> {
    const mem = opts.memBytes ?? 128 * 1024 * 1024;
    if (!Number.isInteger(mem) || mem < 1024 * 1024 || mem > MAX_MEM) {
      throw new RangeError(`memory size must be between 1 MiB and 3 GiB (got ${mem} bytes)`);
    }
    let m: Machine | undefined;
    // The core may call back during init() (before the Machine exists): answer neutrally.
    const core = await Core.create(mem, {
      portIn: (p, s) => (m ? m.io.read(p, s) : 0xffffffff),
      portOut: (p, s, v) => { if (m) m.io.write(p, s, v); },
      mmioRead: (pa, s) => (m ? m.mmioRead(pa, s) : 0xffffffff),
      mmioWrite: (pa, s, v) => { if (m) m.mmioWrite(pa, s, v); },
      intAck: () => (m ? m.intAck() : -1),
      nowNs: () => (m ? m.nowNs() : 0),
      msrRead: (i) => (m ? m.msrRead(i) : undefined),
      msrWrite: (i, v) => (m ? m.msrWrite(i, v) : false),
      tprWrite: (cr8) => { if (m) m.tprWrite(cr8); },
      pmi: () => { if (m) m.pmi(); },
      abort: (msg) => { if (m) m.errorMessage = msg; },
    }, opts.wasm);
    m = new Machine(core, opts);
    return m;
  }

  /** Drive GSI n (0-23): ISA IRQs 0-15 reach the 8259s too; IRQ0 is IOAPIC pin 2. */
  setIrq(n: number, level: boolean): void {
    if (n < 16) this.pic.setIrq(n, level);
    this.ioapic.setIrq(n, level);
  }

  /** A vCPU's APIC changed what it has pending. */
  private apicChanged(i: number): void {
    if (i === this.sched.cur) { this.updateIntr(); return; }
    // An interrupt for a vCPU that is not loaded (IPI, IOAPIC): end the quantum so it runs soon.
    if (this.apics[i].pendingVector() >= 0) this.sched.prefer(i);
  }
  /** Is an interrupt pending for vCPU v (its APIC, or the 8259 through the BSP's LINT0)? */
  private intrFor(v: Vcpu): boolean {
    const a = v.apic;
    return a.pendingVector() >= 0 || (v.index === 0 && this.pic.intrLevel && a.acceptsPic());
  }
  /** Instructions retired by all vCPUs, including the quantum in flight. */
  get totalIcount(): bigint { return this.retiredBase + (this.core.icountNow - this.runStartIc); }
  /** The vCPU whose state is in the core now (its APIC answers MMIO, MSRs and INTA). */
  get curCpu(): number { return this.sched.cur; }
  /** Load vCPU i into the core (tests, debuggers); run() ends with vCPU 0 loaded. */
  selectCpu(i: number): void {
    if (i < 0 || i >= this.cpus) throw new RangeError(`no vCPU ${i}`);
    this.sched.switchTo(i);
    this.updateIntr();
  }

  /** The guest TSC (0 if the core cannot tell) and its rate per virtual ns. */
  guestTsc(): bigint {
    const raw = this.core.raw as unknown as { getMsr?: (i: number) => bigint };
    return raw.getMsr ? BigInt.asUintN(64, raw.getMsr(0x10)) : 0n;
  }
  tscPerNs(): number { return this.tsc === "icount" ? 1 / this.nsPerInsn : 2.0; }

  mmioRead(pa: number, size: number): number {
    const apic = this.apics[this.sched.cur];
    if (pa >= 0xfee00000 || ((pa & ~0xfff) >>> 0) === apic.mmioBase) {
      if (((pa & ~0xfff) >>> 0) === apic.mmioBase && apic.hwEnabled) return apic.mmioRead(pa & 0xfff, size);
    }
    return this.mmio.read(pa, size);
  }
  mmioWrite(pa: number, size: number, value: number): void {
    const apic = this.apics[this.sched.cur];
    if (pa >= 0xfee00000 || ((pa & ~0xfff) >>> 0) === apic.mmioBase) {
      if (((pa & ~0xfff) >>> 0) === apic.mmioBase && apic.hwEnabled) {
        const tpr = apic.tpr;
        apic.mmioWrite(pa & 0xfff, size, value);
        if (apic.tpr !== tpr) this.core.setCr8Mirror(apic.tpr >> 4);
        return;
      }
    }
    this.mmio.write(pa, size, value);
  }

  // ---- hooks for the core (env.msrRead / env.msrWrite / env.tprWrite, host/core.ts) ----
  /** RDMSR forwarded by the core for IA32_APIC_BASE (0x1b), IA32_TSC_DEADLINE (0x6e0) and
   *  the x2APIC range 0x800-0x8ff: the value, or undefined for #GP(0). */
  msrRead(index: number, cpu = this.sched.cur): bigint | undefined {
    const apic = this.apics[cpu];
    if (!apic) return undefined;
    if (index === 0x1b) return BigInt(apic.base >>> 0);
    return apic.msrRead(index);
  }
  /** WRMSR forwarded by the core (same MSRs): false for #GP(0). */
  msrWrite(index: number, value: bigint, cpu = this.sched.cur): boolean {
    const apic = this.apics[cpu];
    if (!apic) return false;
    if (index === 0x1b) {
      if (value >> 40n) return false;            // above MAXPHYADDR (assembly/cpu/cpuid.ts: 40)
      return apic.writeBase(value);
    }
    const ok = apic.msrWrite(index, value);
    if (ok && index === 0x808 && cpu === this.sched.cur) this.core.setCr8Mirror(apic.tpr >> 4);
    return ok;
  }
  /** MOV to CR8 forwarded by the core: TPR[7:4] = CR8[3:0] (SDM 11.8.6). */
  tprWrite(cr8: number, cpu = this.sched.cur): void {
    const apic = this.apics[cpu];
    if (!apic) return;
    apic.tpr = (cr8 & 0xf) << 4;
    this.updateIntr();
  }

  /** A performance-counter overflow with PMI enabled on the loaded vCPU (env.pmi). */
  pmi(cpu = this.sched.cur): void { this.apics[cpu]?.perfInterrupt(); }

  /** INTA: the local APIC's highest deliverable vector, else the 8259's through LINT0 (ExtINT). */
  intAck(): number {
    const cur = this.sched.cur;
    const apic = this.apics[cur];
    let v = apic.pendingVector() >= 0 ? apic.acknowledge() : -1;
    if (v < 0 && cur === 0 && this.pic.intrLevel && apic.acceptsPic()) v = this.pic.acknowledge();
    this.updateIntr();
    return v;
  }

  /** Recompute the loaded vCPU's INTR input (the 8259 reaches only the BSP, through LINT0). */
  updateIntr(): void {
    const cur = this.sched?.cur ?? 0;
    const apic = this.apics[cur];
    if (!apic) { this.intrLevel = this.pic.intrLevel; this.core.setIntrLine(this.intrLevel); return; }
    if (cur !== 0 && this.pic.intrLevel && this.apics[0].acceptsPic()) this.sched.prefer(0);
    const level = apic.pendingVector() >= 0 || (cur === 0 && this.pic.intrLevel && apic.acceptsPic());
    this.intrLevel = level;
    this.core.setIntrLine(level);
  }

  /** Virtual time in ns since the machine started (drives PIT, RTC and RDTSC). */
  nowNs(): number {
    // icount: deterministic time from instructions retired (live inside a slice) plus the
    // time skipped over in HLT. The core's RDTSC reads this too (core TSC mode 0 = nowNs
    // at 2 GHz), so TSC, PIT and RTC agree and all advance across skipped HLT time.
    // With several vCPUs the clock counts the instructions of all of them (one host CPU
    // running them in turn, like QEMU's round-robin TCG).
    if (this.tsc === "icount") return Number(this.totalIcount) * this.nsPerInsn + this.skippedNs;
    // realtime: wall time, except that inside a slice the clock advances at most
    // REALTIME_MAX_NS_PER_INSN per instruction retired since the last read. A host stall (the OS
    // descheduling this process, a GC pause) in the middle of a few guest instructions then does
    // not show up as a huge guest-visible delta between two RDTSCs (kvm-unit-tests vmx
    // rdtsc_vmexit_diff_test, preemption timer during HLT, APIC timer reads); the time is caught
    // up at the next slice boundary (syncRealtime), so the clock still tracks wall time.
    const w = (perfNow() - this.t0) * 1e6;
    const ic = this.totalIcount;
    const dw = w - this.rtWall;
    if (dw > 0) {
      const di = Number(ic - this.rtIcount);
      this.rtNs += Math.min(dw, Math.max(di, 1) * REALTIME_MAX_NS_PER_INSN);
      this.rtWall = w;
      this.rtIcount = ic;
    }
    return this.rtNs;
  }
  /** Between slices (and after sleeping): the realtime clock catches up with wall time. */
  private syncRealtime(): void {
    if (this.tsc === "icount") return;
    const w = (perfNow() - this.t0) * 1e6;
    if (w > this.rtNs) this.rtNs = w;
    this.rtWall = w;
    this.rtIcount = this.totalIcount;
  }

  // ---- loading ----
  // Each loader becomes the reboot target (bootAgain) only once it loaded: a rejected image
  // leaves the one loaded before as it was, reboots included.
  loadMultiboot(image: Uint8Array, opts: MultibootOptions = {}): MultibootResult {
    const r = loadMultiboot(this.core, image, opts);
    this.installFirmware();
    this.bootAgain = () => { loadMultiboot(this.core, image, opts); this.installFirmware(); };
    return r;
  }
  /** A Linux bzImage with the 32-bit boot protocol (QEMU -kernel/-append/-initrd). */
  loadLinux(image: Uint8Array, opts: LinuxOptions = {}): LinuxResult {
    const load = () => {
      const r = loadLinux(this.core, image, opts);
      // The BIOS programs the MTRRs of every processor alike (Linux checks that they agree).
      for (let i = 1; i < this.cpus; i++) { this.selectCpu(i); firmwareMtrrs(this.core); }
      if (this.cpus > 1) this.selectCpu(0);
      this.installFirmware();
      return r;
    };
    const r = load();
    this.bootAgain = () => { load(); };
    return r;
  }
  loadFlat(image: Uint8Array, opts: FlatOptions = {}): FlatResult {
    const r = loadFlat(this.core, image, opts);
    this.installFirmware();
    this.bootAgain = () => { loadFlat(this.core, image, opts); this.installFirmware(); };
    return r;
  }
  /** The reset-vector stub in the reserved BIOS area, unless the image put something there. */
  private installFirmware(): void {
    const ram = this.core.ram;
    if (ram.length < RESET_STUB_ADDR + 16) return;
    if (ram.subarray(RESET_STUB_ADDR, RESET_STUB_ADDR + 16).some((b) => b !== 0)) return;
    ram.set(resetStub(), RESET_STUB_ADDR);
  }
  /** Guest RAM (guest-physical 0 at index 0); re-fetch after anything that may grow memory. */
  get ram(): Uint8Array { return this.core.ram; }

  // ---- control ----
  /** Ask a running run() to return 'stopped' (at the next slice boundary). */
  stop(): void { this.stopRequested = true; this.core.requestStop(); this.wakeUp(); }
  private requestReset(hard: boolean, source: string): void {
    this.resetRequested = true; this.resetHard ||= hard; this.resetSource = source; this.core.requestStop();
  }

  /** A reset when rebooting is on: INIT (soft: CPU and local APICs; RAM, devices and port
   *  0x92 keep their state) or a full reset, then the firmware's POST. */
  private rebootNow(hard: boolean): void {
    this.resetRequested = false; this.resetHard = false;
    if (hard) this.reset();
    else {
      // INIT# reaches every processor: the BSP goes to the firmware, the APs wait for a SIPI.
      this.selectCpu(0);
      this.core.reset();
      this.sched.cloneResetState();
      for (const a of this.apics) a.reset();
      this.updateIntr();
    }
    this.firmwarePost();
  }
  /** SeaBIOS-style POST decision (host/firmware.ts). */
  private firmwarePost(): void {
    this.selectCpu(0);   // the BSP runs the firmware
    const act = postAction(this.cmos.ram[0x0f], this.core.ram);
    if (act.kind === "boot") {
      if (!this.bootAgain) throw new CoreAbort("reset: no image to boot again");
      this.core.reset();
      this.bootAgain();
      return;
    }
    this.cmos.ram[0x0f] = 0;
    this.core.reset();
    if (act.eoi) this.io.write(0x20, 1, 0x20);
    this.core.setSegment(1, act.cs, act.cs << 4, 0xffff, 0x9b);
    this.core.rip = BigInt(act.ip);
  }
  /** ACPI S3: the processors, their local APICs and the interrupt controllers and timers lose
   *  power; RAM (self-refresh), the RTC/CMOS and the PM1 wake logic keep theirs. */
  private enterS3(): void {
    this.suspended = true;
    this.selectCpu(0);
    this.core.reset();
    this.sched.cloneResetState();
    for (const a of this.apics) a.reset();
    this.pic.reset(); this.pit.reset(); this.ioapic.reset(); this.hpet.reset(); this.hpetLegacy = false;
    this.updateIntr();
  }
  /** Wake from S3: WAK_STS, then the firmware's resume path, which (as SeaBIOS does) enters the
   *  FACS firmware waking vector in real mode (ACPI 6.4 sec. 5.2.10: CS = vector >> 4,
   *  IP = vector & 0xF) or boots again when the OS left it 0. */
  private resumeFromS3(): void {
    this.suspended = false;
    this.acpiPm.pm1Status |= PM1_WAK_STS;
    this.selectCpu(0);
    const facs = this.acpi.tables.FACS;
    const vec = facs === undefined ? 0 : new DataView(this.core.ram.buffer, this.core.ram.byteOffset).getUint32(facs + 12, true);
    this.core.reset();
    if (vec === 0) {
      if (!this.bootAgain) throw new CoreAbort("S3 resume: no waking vector and no image to boot again");
      this.bootAgain();
      return;
    }
    const cs = (vec >>> 4) & 0xffff;
    this.core.setSegment(1, cs, cs << 4, 0xffff, 0x9b);
    this.core.rip = BigInt(vec & 0xf);
  }
  private wakeUp(): void { const w = this.wake; this.wake = null; if (w) w(); }

  /** CPU and device reset (RAM is kept; load an image again to boot). */
  reset(): void {
    this.selectCpu(0);
    this.core.reset();
    this.sched.cloneResetState();
    this.pic.reset(); this.pit.reset(); this.uart.reset(); this.port92.reset(); this.i8042.reset(); this.cmos.reset();
    this.ioapic.reset(); for (const a of this.apics) a.reset();
    this.hpet.reset(); this.hpetLegacy = false; this.acpiPm.reset(); this.testdev.reset(); this.fwcfg.reset();
    this.acpi = buildAcpi(this.core.ram, { cpus: this.cpus });
    this.exitStatus = undefined; this.resetRequested = false; this.errorMessage = undefined;
    this.suspended = false; this.sleepRequest = -1;
    this.stopRequested = false;
    this.updateIntr();
  }

  /** Feed bytes to the serial port's receiver. */
  sendSerial(bytes: Uint8Array | string): void {
    this.uart.receive(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  }

  private serviceTimers(now: number): void { for (const t of this.timers) t.tick(now); }
  private nextDeadline(now: number): number {
    let d = Infinity;
    for (const t of this.timers) d = Math.min(d, t.nextDeadline(now));
    return d;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, Math.max(0, Math.min(ms, 2_000_000_000)));
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  async run(opts: RunOptions = {}): Promise<RunResult> {
    if (this.running) throw new Error("Machine.run() is already running");
    this.running = true;
    const wall0 = perfNow();
    const wallEnd = opts.maxSeconds !== undefined ? wall0 + opts.maxSeconds * 1000 : Infinity;
    const ic0 = this.totalIcount;
    const icEnd = opts.maxInstructions !== undefined ? ic0 + BigInt(opts.maxInstructions) : undefined;
    this.stopRequested = false;
    let lastYield = perfNow();
    const sched = this.sched, smp = sched.count > 1;
    const intrFor = (v: Vcpu) => this.intrFor(v);
    const finish = (reason: StopReason, extra: Partial<RunResult> = {}): RunResult => {
      this.running = false;
      this.uart.flush();
      if (smp && reason !== "breakpoint") this.selectCpu(0);   // callers inspect the BSP's state after run()
      return { reason, instructions: this.totalIcount - ic0, seconds: (perfNow() - wall0) / 1000, ...extra };
    };
    try {
      for (;;) {
        if (this.errorMessage !== undefined) return finish("error", { message: this.errorMessage });
        if (this.exitStatus !== undefined) return finish("exit", { exitCode: this.exitStatus });
        if (this.resetRequested) {
          if (!this.reboot) return finish("shutdown", { message: `reset requested (${this.resetSource})` });
          this.rebootNow(this.resetHard);
          continue;
        }
        if (this.firmwareCall) { this.firmwareCall = false; this.firmwarePost(); continue; }
        if (this.sleepRequest >= 0) {
          const typ = this.sleepRequest;
          this.sleepRequest = -1;
          if (typ === SLP_TYP_S5) return finish("shutdown", { message: "ACPI power off (S5)" });
          if (typ === SLP_TYP_S3) this.enterS3();
          continue;   // other sleep types (S1, S4) are not offered by the DSDT: ignored
        }
        if (this.stopRequested) { this.stopRequested = false; return finish("stopped"); }
        if (this.suspended) {
          if (perfNow() >= wallEnd) return finish("timeout", { message: "time limit reached (in S3)" });
          this.syncRealtime();
          this.serviceTimers(this.nowNs());
          if (this.acpiPm.wakeEvent) { this.resumeFromS3(); continue; }
          if (!this.acpiPm.wakeEnabled || !(this.cmos.ram[0x0b] & 0x20)) {
            return finish("shutdown", { message: "ACPI S3 sleep with no wake event enabled (RTC alarm with PM1 RTC_EN)" });
          }
          if ((await this.idle(wallEnd, false)) === "slept") lastYield = perfNow();
          continue;
        }
        let budget = this.slice;
        if (icEnd !== undefined) {
          const left = icEnd - this.totalIcount;
          if (left <= 0n) return finish("timeout", { message: "instruction limit reached" });
          if (left < BigInt(budget)) budget = Number(left);
        }
        if (perfNow() >= wallEnd) return finish("timeout", { message: "time limit reached" });
        this.syncRealtime();
        const tnow = this.nowNs();
        this.serviceTimers(tnow);
        if (sched.hasEvents) sched.processEvents();
        // Which vCPU runs: the loaded one when it is the only one, else round robin.
        const v = smp ? sched.pick(intrFor, tnow) : sched.current;
        if (!v) {
          // Every vCPU is halted or waits for a SIPI.
          const w = await this.idle(wallEnd, true);
          if (w === "dead") return finish("halt", { message: "HLT with interrupts disabled" });
          if (w === "slept") { lastYield = perfNow(); continue; }
          if (perfNow() - lastYield >= YIELD_MS) { await yieldNow(); lastYield = perfNow(); }
          continue;
        }
        if (v.index !== sched.cur) this.selectCpu(v.index);
        this.updateIntr();
        // End the slice near the next timer deadline so interrupts are not late by a whole
        // slice: exactly in icount mode, by the measured instruction rate in realtime mode.
        const dl = this.nextDeadline(tnow);
        if (dl !== Infinity) {
          const toDl = this.tsc === "icount" ? Math.ceil((dl - tnow) / this.nsPerInsn) : Math.floor(((dl - tnow) / 1e6) * this.insPerMs);
          budget = Math.max(this.tsc === "icount" ? 1 : 1000, Math.min(budget, toDl));
        }
        // Quanta only matter when another vCPU could run now: an IPI, SIPI or NMI for one that
        // sleeps ends the slice (Scheduler.prefer), and timers bound it by their deadline.
        if (smp && (sched.boosted || sched.vcpus.some((x) => x !== v && sched.runnable(x, intrFor, tnow)))) {
          budget = Math.min(budget, sched.boosted ? QUANTUM_IPI : QUANTUM);
        }

        const ts = perfNow();
        const ic = this.core.icount;
        const r = this.core.run(budget);
        const dt = perfNow() - ts;
        const done = this.core.icount - ic;
        this.retiredBase += done; this.runStartIc = this.core.icountNow;
        v.instructions += done;
        if (this.core.takeInit()) this.sched.init(v.index);
        this.uart.flush();
        if (r === 0 && budget === this.slice) {  // adapt: aim for ~2-5 ms per slice
          if (dt < 2 && this.slice < SLICE_MAX) this.slice = Math.min(SLICE_MAX, this.slice * 2);
          else if (dt > 5 && this.slice > SLICE_MIN) this.slice = Math.max(SLICE_MIN, this.slice >> 1);
        }
        if (dt > 0.5) this.insPerMs = 0.7 * this.insPerMs + 0.3 * (Number(done) / dt);
        if (r === RUN_BREAK) return finish("breakpoint", { cpu: v.index });
        if (r === RUN_SHUTDOWN) {
          if (!this.reboot) return finish("shutdown", { message: "triple fault" });
          this.rebootNow(true);
          continue;
        }
        v.halted = r === RUN_HLT;
        if (smp) { const d = this.core.vmxTimerNs; v.wakeNs = d < 0 ? Infinity : d; }
        if (v.halted) v.haltIf = (this.core.rflags & 0x200n) !== 0n;
        if (r === RUN_HLT && !smp && this.exitStatus === undefined && !this.stopRequested && !this.resetRequested) {
          if (!v.haltIf && this.core.vmxTimerNs < 0) return finish("halt", { message: "HLT with interrupts disabled" });
          // Wake at once if the HLT ended the slice with an interrupt already pending.
          this.serviceTimers(this.nowNs());
          this.updateIntr();
          if (!this.intrLevel && !this.uart.hasInput && (await this.idle(wallEnd, false)) === "slept") {
            lastYield = perfNow();
            continue;
          }
        }
        if (perfNow() - lastYield >= YIELD_MS) { await yieldNow(); lastYield = perfNow(); }
      }
    } catch (e) {
      const msg = e instanceof CoreAbort ? e.message
        : this.errorMessage ?? `${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      this.errorMessage = msg;
      return finish("error", { message: msg });
    }
  }

  /** Nothing can run: skip (icount) or sleep to the next timer, input, stop() or the time limit.
   *  Returns true if nothing can ever wake a vCPU (all halted with IF = 0 or waiting for SIPI). */
  private async idle(wallEnd: number, checkDead: boolean): Promise<"dead" | "slept" | "skipped" | "busy"> {
    const now = this.nowNs();
    if (checkDead) {
      this.serviceTimers(now);
      if (this.sched.hasEvents) return "busy";
      if (this.sched.vcpus.every((v) => v.state !== "run" || (v.halted && !v.haltIf && !v.nmiPending && v.wakeNs === Infinity))) {
        return this.exitStatus === undefined && !this.stopRequested && !this.resetRequested ? "dead" : "busy";
      }
      if (this.sched.vcpus.some((v) => this.sched.runnable(v, (x) => this.intrFor(x), now)) || this.uart.hasInput) return "busy";
    }
    const dl = this.nextDeadline(now);
    if (this.tsc === "icount" && dl !== Infinity) {
      this.skippedNs += Math.max(0, dl - now) + 1;   // jump virtual time to the next timer
      return "skipped";
    }
    // Sleep until the next timer, input, stop() or the time limit (re-checked each second).
    const ms = Math.min(dl === Infinity ? 1000 : (dl - now) / 1e6, wallEnd - perfNow(), 1000);
    if (ms > 0) await this.sleep(ms);
    return "slept";
  }
}

export interface RunImageOptions extends MachineOptions, RunOptions {
  /** 'multiboot' (default when the image has a multiboot header), 'flat', or 'real' (flat, real mode). */
  format?: "multiboot" | "flat" | "real";
  name?: string;
  append?: string;
  modules?: MultibootOptions["modules"];
  loadAddr?: number;
}
export interface RunImageResult {
  serial: string;
  exitCode?: number;
  reason: StopReason;
  message?: string;
  instructions: bigint;
  seconds: number;
}

/** Boot an image, run it to the end, and return everything it printed on COM1. */
export async function runImage(image: Uint8Array, opts: RunImageOptions = {}): Promise<RunImageResult> {
  const chunks: Uint8Array[] = [];
  const user = opts.serialOut;
  const m = await Machine.create({ ...opts, serialOut: (b) => { chunks.push(b); if (user) user(b); } });
  const fmt = opts.format ?? "multiboot";
  if (fmt === "multiboot") m.loadMultiboot(image, { name: opts.name, append: opts.append, modules: opts.modules });
  else m.loadFlat(image, { mode: fmt === "real" ? "real" : "protected", addr: opts.loadAddr, name: opts.name });
  const r = await m.run({ maxSeconds: opts.maxSeconds ?? 60, maxInstructions: opts.maxInstructions });
  let len = 0;
  for (const c of chunks) len += c.length;
  const all = new Uint8Array(len);
  let o = 0;
  for (const c of chunks) { all.set(c, o); o += c.length; }
  return { serial: new TextDecoder().decode(all), exitCode: r.exitCode, reason: r.reason, message: r.message, instructions: r.instructions, seconds: r.seconds };
}

// The machine: wasm core + RAM + ISA devices + the run loop (time slices, timers, HLT
// sleeps, yielding to the event loop). Runtime-agnostic: Node, Deno and browsers.
import { Core, CoreAbort, RUN_HLT, RUN_SHUTDOWN } from "./core";
import { IoBus, MmioBus } from "./bus";
import { Pic8259 } from "./devices/pic8259";
import { Pit8254 } from "./devices/pit8254";
import { Uart16550 } from "./devices/uart16550";
import { Cmos } from "./devices/cmos";
import { DebugExit, PostPort, Port92 } from "./devices/misc";
import { loadMultiboot, type MultibootOptions, type MultibootResult } from "./loaders/multiboot";
import { loadFlat, type FlatOptions, type FlatResult } from "./loaders/flat";

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
  /** Alternative wasm core bytes (default: the one embedded in the bundle). */
  wasm?: Uint8Array;
}
export type StopReason = "exit" | "shutdown" | "halt" | "timeout" | "stopped" | "error";
export interface RunOptions {
  /** Wall-clock limit for this run() call. */
  maxSeconds?: number;
  /** Instruction limit for this run() call. */
  maxInstructions?: number | bigint;
}
export interface RunResult {
  /** exit: isa-debug-exit written; shutdown: triple fault or reset request (QEMU -no-reboot);
   *  halt: HLT with interrupts disabled (nothing can wake the CPU); timeout: a limit hit;
   *  stopped: stop() called; error: the core aborted or a device threw (see message). */
  reason: StopReason;
  exitCode?: number;
  message?: string;
  instructions: bigint;
  seconds: number;
}

const MAX_MEM = 3 * 1024 * 1024 * 1024;
const SLICE_MIN = 10_000, SLICE_MAX = 2_000_000;
const YIELD_MS = 10;

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
  readonly debugExit: DebugExit;
  readonly tsc: TscMode;
  readonly memBytes: number;
  private nsPerInsn: number;
  private skippedNs = 0;        // icount mode: virtual time skipped while halted
  private t0 = perfNow();
  private exitStatus: number | undefined;
  private resetRequested = false;
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
    this.nsPerInsn = opts.nsPerInstruction ?? 1;
    const now = () => this.nowNs();
    this.pit = new Pit8254(now);
    this.uart = new Uart16550(0x3f8);
    this.cmos = new Cmos(now, this.memBytes, opts.rtcEpochMs);
    this.port92 = new Port92(() => this.requestReset());
    this.debugExit = new DebugExit((status) => { this.exitStatus = status; this.core.requestStop(); });

    this.pic.onIntr = (level) => this.core.setIntrLine(level);
    this.pic.attach(this.io);
    this.pit.setIrq0 = (l) => this.pic.setIrq(0, l);
    this.pit.pulseIrq0 = () => this.pic.pulseIrq(0);
    this.pit.attach(this.io);
    this.timers.push(this.pit);
    this.uart.setIrq = (l) => this.pic.setIrq(4, l);
    const out = opts.serialOut;
    if (out) this.uart.onOutput = out;
    this.uart.onInput = () => this.wakeUp();
    this.uart.attach(this.io);
    this.cmos.setIrq = (l) => this.pic.setIrq(8, l);
    this.cmos.attach(this.io);
    this.timers.push(this.cmos);
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
      mmioRead: (pa, s) => (m ? m.mmio.read(pa, s) : 0xffffffff),
      mmioWrite: (pa, s, v) => { if (m) m.mmio.write(pa, s, v); },
      intAck: () => (m ? m.pic.acknowledge() : -1),
      nowNs: () => (m ? m.nowNs() : 0),
      abort: (msg) => { if (m) m.errorMessage = msg; },
    }, opts.wasm);
    m = new Machine(core, opts);
    return m;
  }

  /** Virtual time in ns since the machine started (drives PIT, RTC and RDTSC). */
  nowNs(): number {
    // icount: deterministic time from instructions retired (live inside a slice) plus the
    // time skipped over in HLT. The core's RDTSC reads this too (core TSC mode 0 = nowNs
    // at 2 GHz), so TSC, PIT and RTC agree and all advance across skipped HLT time.
    if (this.tsc === "icount") return Number(this.core.icountNow) * this.nsPerInsn + this.skippedNs;
    return (perfNow() - this.t0) * 1e6;
  }

  // ---- loading ----
  loadMultiboot(image: Uint8Array, opts: MultibootOptions = {}): MultibootResult { return loadMultiboot(this.core, image, opts); }
  loadFlat(image: Uint8Array, opts: FlatOptions = {}): FlatResult { return loadFlat(this.core, image, opts); }
  /** Guest RAM (guest-physical 0 at index 0); re-fetch after anything that may grow memory. */
  get ram(): Uint8Array { return this.core.ram; }

  // ---- control ----
  /** Ask a running run() to return 'stopped' (at the next slice boundary). */
  stop(): void { this.stopRequested = true; this.core.requestStop(); this.wakeUp(); }
  private requestReset(): void { this.resetRequested = true; this.core.requestStop(); }
  private wakeUp(): void { const w = this.wake; this.wake = null; if (w) w(); }

  /** CPU and device reset (RAM is kept; load an image again to boot). */
  reset(): void {
    this.core.reset();
    this.pic.reset(); this.pit.reset(); this.uart.reset(); this.port92.reset(); this.cmos.reset();
    this.exitStatus = undefined; this.resetRequested = false; this.errorMessage = undefined;
    this.stopRequested = false;
    this.core.setIntrLine(this.pic.intrLevel);
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
    const ic0 = this.core.icount;
    const icEnd = opts.maxInstructions !== undefined ? ic0 + BigInt(opts.maxInstructions) : undefined;
    this.stopRequested = false;
    let lastYield = perfNow();
    const finish = (reason: StopReason, extra: Partial<RunResult> = {}): RunResult => {
      this.running = false;
      this.uart.flush();
      return { reason, instructions: this.core.icount - ic0, seconds: (perfNow() - wall0) / 1000, ...extra };
    };
    try {
      for (;;) {
        if (this.errorMessage !== undefined) return finish("error", { message: this.errorMessage });
        if (this.exitStatus !== undefined) return finish("exit", { exitCode: this.exitStatus });
        if (this.resetRequested) return finish("shutdown", { message: "reset requested (port 0x92)" });
        if (this.stopRequested) { this.stopRequested = false; return finish("stopped"); }
        let budget = this.slice;
        if (icEnd !== undefined) {
          const left = icEnd - this.core.icount;
          if (left <= 0n) return finish("timeout", { message: "instruction limit reached" });
          if (left < BigInt(budget)) budget = Number(left);
        }
        if (perfNow() >= wallEnd) return finish("timeout", { message: "time limit reached" });
        const tnow = this.nowNs();
        this.serviceTimers(tnow);
        // End the slice near the next timer deadline so interrupts are not late by a whole
        // slice: exactly in icount mode, by the measured instruction rate in realtime mode.
        const dl = this.nextDeadline(tnow);
        if (dl !== Infinity) {
          const toDl = this.tsc === "icount" ? Math.ceil((dl - tnow) / this.nsPerInsn) : Math.floor(((dl - tnow) / 1e6) * this.insPerMs);
          budget = Math.max(this.tsc === "icount" ? 1 : 1000, Math.min(budget, toDl));
        }

        const ts = perfNow();
        const ic = this.core.icount;
        const r = this.core.run(budget);
        const dt = perfNow() - ts;
        this.uart.flush();
        if (r === 0 && budget === this.slice) {  // adapt: aim for ~2-5 ms per slice
          if (dt < 2 && this.slice < SLICE_MAX) this.slice = Math.min(SLICE_MAX, this.slice * 2);
          else if (dt > 5 && this.slice > SLICE_MIN) this.slice = Math.max(SLICE_MIN, this.slice >> 1);
        }
        if (dt > 0.5) this.insPerMs = 0.7 * this.insPerMs + 0.3 * (Number(this.core.icount - ic) / dt);
        if (r === RUN_SHUTDOWN) return finish("shutdown", { message: "triple fault" });
        if (r === RUN_HLT && this.exitStatus === undefined && !this.stopRequested && !this.resetRequested) {
          if ((this.core.rflags & 0x200n) === 0n) return finish("halt", { message: "HLT with interrupts disabled" });
          const now = this.nowNs();
          this.serviceTimers(now);
          if (!this.pic.intrLevel && !this.uart.hasInput) {
            const dl = this.nextDeadline(now);
            if (this.tsc === "icount" && dl !== Infinity) {
              this.skippedNs += Math.max(0, dl - now) + 1;   // jump virtual time to the next timer
            } else {
              // Sleep until the next timer, input, stop() or the time limit (re-checked each second).
              const ms = Math.min(dl === Infinity ? 1000 : (dl - now) / 1e6, wallEnd - perfNow(), 1000);
              if (ms > 0) await this.sleep(ms);
              lastYield = perfNow();
              continue;
            }
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

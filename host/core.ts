// The wasm core: instantiation, the imports it calls, and typed wrappers for its exports.
// Runtime-agnostic (Node, Deno, browsers). The wasm bytes are embedded by esbuild
// (`nestvm-core.wasm` is resolved by scripts/build.mjs to build/core.wasm or core.debug.wasm).
import coreWasm from "nestvm-core.wasm";

/** What the core calls back into the host for (see assembly/host.ts). */
export interface CoreHost {
  portIn(port: number, size: number): number;
  portOut(port: number, size: number, value: number): void;
  mmioRead(pa: number, size: number): number;
  mmioWrite(pa: number, size: number, value: number): void;
  intAck(): number;
  nowNs(): number;
  /** RDMSR of an MSR the host owns (IA32_APIC_BASE 0x1b, IA32_TSC_DEADLINE 0x6e0, x2APIC
   *  0x800-0x8ff): the value, or undefined for #GP(0). Absent: always #GP(0). */
  msrRead?(index: number): bigint | undefined;
  /** WRMSR of the same MSRs: false for #GP(0). Absent: always #GP(0). */
  msrWrite?(index: number, value: bigint): boolean;
  /** MOV to CR8 (value 0-15): TPR[7:4] = CR8 (SDM 11.8.6). */
  tprWrite?(cr8: number): void;
  /** The core hit an AssemblyScript abort (a bug in the core): the machine must stop. */
  abort(message: string): void;
}

/** Thrown out of an import to unwind the wasm stack; the machine turns it into reason 'error'. */
export class CoreAbort extends Error {
  constructor(message: string) { super(message); this.name = "CoreAbort"; }
}

interface RawExports {
  memory: WebAssembly.Memory;
  init(ramBytes: number): number;
  reset(): void;
  run(budget: number): number;
  requestStop(): void;
  setIntrLine(level: number): void;
  raiseNmi(): void;
  getRamBase(): number;
  regsPtr(): number;
  xmmPtr(): number;
  getReg(i: number): bigint;
  setReg(i: number, v: bigint): void;
  getRip(): bigint;
  setRip(v: bigint): void;
  getFlags(): bigint;
  setFlags(v: bigint): void;
  getIcount(): bigint;
  getIcountNow?(): bigint;
  setTscMode?(mode: number): void;
  setNested?(on: number): void;
  vmxTimerNs?(): number;
  isHalted(): number;
  setSegment(s: number, sel: number, base: bigint, limit: number, attr: number): void;
  getSegSel(s: number): number;
  getSegBase(s: number): bigint;
  getSegLimit(s: number): number;
  getSegAttr(s: number): number;
  setGdt(base: bigint, limit: number): void;
  setIdt(base: bigint, limit: number): void;
  getCr(n: number): bigint;
  setCr(n: number, v: bigint): void;
  setCr8Mirror?(v: number): void;
}

export const RUN_BUDGET = 0, RUN_HLT = 1, RUN_SHUTDOWN = 2, RUN_HOST_STOP = 3;
export const REG = { RAX: 0, RCX: 1, RDX: 2, RBX: 3, RSP: 4, RBP: 5, RSI: 6, RDI: 7 } as const;
export const SEG = { ES: 0, CS: 1, SS: 2, DS: 3, FS: 4, GS: 5, LDTR: 6, TR: 7 } as const;
export const EFER = 0xc0000080;

let modulePromise: Promise<WebAssembly.Module> | undefined;
function compiled(bytes?: Uint8Array): Promise<WebAssembly.Module> {
  if (bytes) return WebAssembly.compile(bytes as BufferSource);
  if (!modulePromise) {
    if (!coreWasm || coreWasm.length === 0) throw new Error("nestvm: the wasm core is not embedded in this bundle");
    modulePromise = WebAssembly.compile(coreWasm as BufferSource);
  }
  return modulePromise;
}

/** Read an AssemblyScript string (UTF-16LE, byte length at ptr-4) defensively. */
function readAsString(mem: WebAssembly.Memory, ptr: number): string {
  ptr >>>= 0;
  const buf = mem.buffer;
  if (ptr < 4 || ptr > buf.byteLength) return "";
  const len = new DataView(buf).getUint32(ptr - 4, true);
  if (len > 4096 || ptr + len > buf.byteLength) return "";
  const u16 = new Uint16Array(buf.slice(ptr, ptr + (len & ~1)));
  let s = "";
  for (const c of u16) s += String.fromCharCode(c);
  return s;
}

/** One instance of the wasm core with guest RAM of `ramBytes` at ramBase. */
export class Core {
  readonly raw: RawExports;
  readonly ramBytes: number;
  readonly ramBase: number;
  private u8View!: Uint8Array;
  private dvView!: DataView;

  private constructor(raw: RawExports, ramBytes: number) {
    this.raw = raw;
    this.ramBytes = ramBytes;
    const base = raw.init(ramBytes) >>> 0;
    if (base === 0) throw new Error(`cannot allocate ${ramBytes} bytes of guest RAM in wasm memory`);
    this.ramBase = base;
    this.refreshViews();
  }

  static async create(ramBytes: number, host: CoreHost, wasmBytes?: Uint8Array): Promise<Core> {
    const mod = await compiled(wasmBytes);
    let memRef: WebAssembly.Memory | undefined;
    const env = {
      portIn: (port: number, size: number) => host.portIn(port & 0xffff, size) | 0,
      portOut: (port: number, size: number, value: number) => host.portOut(port & 0xffff, size, value >>> 0),
      mmioRead: (pa: number, size: number) => host.mmioRead(pa >>> 0, size) | 0,
      mmioWrite: (pa: number, size: number, value: number) => host.mmioWrite(pa >>> 0, size, value >>> 0),
      intAck: () => host.intAck() | 0,
      nowNs: () => host.nowNs(),
      msrRead: (index: number, out: number) => {
        const v = host.msrRead ? host.msrRead(index >>> 0) : undefined;
        if (v === undefined || !memRef) return 0;
        new DataView(memRef.buffer).setBigUint64(out >>> 0, BigInt.asUintN(64, v), true);
        return 1;
      },
      msrWrite: (index: number, value: bigint) =>
        (host.msrWrite ? host.msrWrite(index >>> 0, BigInt.asUintN(64, value)) : false) ? 1 : 0,
      tprWrite: (cr8: number) => { host.tprWrite?.(cr8 & 0xf); },
      abort: (msg: number, file: number, line: number, col: number) => {
        const m = memRef ? readAsString(memRef, msg) : "";
        const f = memRef ? readAsString(memRef, file) : "";
        const text = `core abort: ${m || "(no message)"}${f ? ` at ${f}:${line}:${col}` : ""}`;
        host.abort(text);
        throw new CoreAbort(text);
      },
    };
    const inst = await WebAssembly.instantiate(mod, { env });
    const raw = inst.exports as unknown as RawExports;
    memRef = raw.memory;
    return new Core(raw, ramBytes);
  }

  /** Views are detached when memory grows: re-create them lazily. */
  private refreshViews(): void {
    const buf = this.raw.memory.buffer;
    this.u8View = new Uint8Array(buf, this.ramBase, this.ramBytes);
    this.dvView = new DataView(buf, this.ramBase, this.ramBytes);
  }
  /** Guest RAM, guest-physical 0 at index 0. */
  get ram(): Uint8Array {
    if (this.u8View.buffer !== this.raw.memory.buffer || this.u8View.byteLength === 0) this.refreshViews();
    return this.u8View;
  }
  get ramView(): DataView {
    if (this.dvView.buffer !== this.raw.memory.buffer || this.dvView.byteLength === 0) this.refreshViews();
    return this.dvView;
  }

  reset(): void { this.raw.reset(); }
  /** Offer VMX to the guest (CPUID, CR4.VMXE, VMX MSRs and instructions), as `--nested on|off`. */
  setNested(on: boolean): void { this.raw.setNested?.(on ? 1 : 0); }
  run(budget: number): number { return this.raw.run(budget >>> 0) >>> 0; }
  /** Host time (ns, as nowNs) at which the running L2's VMX-preemption timer expires, or -1. */
  get vmxTimerNs(): number { return this.raw.vmxTimerNs ? this.raw.vmxTimerNs() : -1; }
  requestStop(): void { this.raw.requestStop(); }
  setIntrLine(level: boolean): void { this.raw.setIntrLine(level ? 1 : 0); }
  raiseNmi(): void { this.raw.raiseNmi(); }
  getReg(i: number): bigint { return BigInt.asUintN(64, this.raw.getReg(i)); }
  setReg(i: number, v: bigint | number): void { this.raw.setReg(i, BigInt.asIntN(64, BigInt(v))); }
  get rip(): bigint { return BigInt.asUintN(64, this.raw.getRip()); }
  set rip(v: bigint) { this.raw.setRip(BigInt.asIntN(64, v)); }
  get rflags(): bigint { return BigInt.asUintN(64, this.raw.getFlags()); }
  set rflags(v: bigint) { this.raw.setFlags(BigInt.asIntN(64, v)); }
  get icount(): bigint { return BigInt.asUintN(64, this.raw.getIcount()); }
  /** Instructions retired including the slice in flight (valid inside I/O callbacks). */
  get icountNow(): bigint {
    return BigInt.asUintN(64, this.raw.getIcountNow ? this.raw.getIcountNow() : this.raw.getIcount());
  }
  get halted(): boolean { return this.raw.isHalted() !== 0; }
  setSegment(s: number, sel: number, base: bigint | number, limit: number, attr: number): void {
    this.raw.setSegment(s, sel, BigInt.asIntN(64, BigInt(base)), limit | 0, attr | 0);
  }
  getSegment(s: number): { sel: number; base: bigint; limit: number; attr: number } {
    return {
      sel: this.raw.getSegSel(s) >>> 0, base: BigInt.asUintN(64, this.raw.getSegBase(s)),
      limit: this.raw.getSegLimit(s) >>> 0, attr: this.raw.getSegAttr(s) >>> 0,
    };
  }
  setGdt(base: number, limit: number): void { this.raw.setGdt(BigInt(base), limit); }
  setIdt(base: number, limit: number): void { this.raw.setIdt(BigInt(base), limit); }
  getCr(n: number): bigint { return BigInt.asUintN(64, this.raw.getCr(n)); }
  setCr(n: number, v: bigint | number): void { this.raw.setCr(n, BigInt.asIntN(64, BigInt(v))); }
  /** CR8 = TPR[7:4] after the host's APIC changed TPR (no TLB flush, unlike setCr). */
  setCr8Mirror(v: number): void {
    if (this.raw.setCr8Mirror) this.raw.setCr8Mirror(v & 0xf); else this.setCr(8, v & 0xf);
  }
}

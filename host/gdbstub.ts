// A GDB remote-serial-protocol stub for a Machine, as QEMU's -gdb offers: gdb (or any client
// of the protocol) reads and writes registers and memory, sets breakpoints, single-steps and
// continues the guest, and interrupts it with Ctrl-C. vCPUs are threads (ids 1..N).
//
// Platform-neutral: bytes go in through receive() and out through the `send` callback, so the
// CLI puts it on a TCP socket (host/cli) and a page could put it on a WebSocket.
//
// What the guest sees: nothing. Breakpoints are the core's host breakpoints (never written into
// guest memory, unlike INT3 patching), memory is read and written through a side-effect-free
// translation of the current vCPU's linear addresses (its paging, and its EPT when it runs an
// L2), and MMIO is never touched (reads of it fail with E14).
import type { Machine, RunResult } from "./machine";
import { REG, SEG, EFER } from "./core";
import type { Core } from "./core";

const enc = new TextEncoder();
/** Longest packet kept while waiting for its '#' (gdb sends at most the PacketSize we offer, 0x4000). */
const MAX_PACKET = 0x40000;
const isHex = (s: string) => s.length > 0 && !/[^0-9a-fA-F]/.test(s);

// Registers in gdb's numbering for the target (the order of the 'g' packet): the i386 or amd64
// core and SSE sets, then the segment bases and the system registers this stub describes too.
// `get` reads the vCPU's value; `set` exists for the registers gdb may change (GPRs, IP, flags).
export type GdbArch = "i386" | "x86-64";
interface RegDef {
  name: string; bits: number; type: string; group?: string; feature: string;
  get(c: Core): Uint8Array | bigint; set?(c: Core, v: bigint): void;
}

function registers(arch: GdbArch): RegDef[] {
  const w = arch === "x86-64" ? 64 : 32;
  const core = "org.gnu.gdb.i386.core", sse = "org.gnu.gdb.i386.sse";
  const gpr = (name: string, i: number, type = w === 64 ? "int64" : "int32"): RegDef =>
    ({ name, bits: w, type, feature: core, get: (c) => c.getReg(i), set: (c, v) => c.setReg(i, v) });
  const regs: RegDef[] = arch === "x86-64"
    ? [gpr("rax", REG.RAX), gpr("rbx", REG.RBX), gpr("rcx", REG.RCX), gpr("rdx", REG.RDX), gpr("rsi", REG.RSI),
       gpr("rdi", REG.RDI), gpr("rbp", REG.RBP, "data_ptr"), gpr("rsp", REG.RSP, "data_ptr"),
       ...[8, 9, 10, 11, 12, 13, 14, 15].map((n) => gpr(`r${n}`, n))]
    : [gpr("eax", REG.RAX), gpr("ecx", REG.RCX), gpr("edx", REG.RDX), gpr("ebx", REG.RBX),
       gpr("esp", REG.RSP, "data_ptr"), gpr("ebp", REG.RBP, "data_ptr"), gpr("esi", REG.RSI), gpr("edi", REG.RDI)];
  regs.push({ name: w === 64 ? "rip" : "eip", bits: w, type: "code_ptr", feature: core, get: (c) => c.rip, set: (c, v) => { c.rip = v; } });
  regs.push({ name: "eflags", bits: 32, type: "i386_eflags", feature: core, get: (c) => c.rflags, set: (c, v) => { c.rflags = v; } });
  for (const [name, sg] of [["cs", SEG.CS], ["ss", SEG.SS], ["ds", SEG.DS], ["es", SEG.ES], ["fs", SEG.FS], ["gs", SEG.GS]] as const) {
    regs.push({ name, bits: 32, type: "int32", feature: core, get: (c) => BigInt(c.getSegment(sg).sel) });
  }
  for (let i = 0; i < 8; i++) regs.push({ name: `st${i}`, bits: 80, type: "i387_ext", feature: core, get: (c) => c.fpuSt(i) });
  ["fctrl", "fstat", "ftag"].forEach((name, i) => regs.push({ name, bits: 32, type: "int", group: "float", feature: core, get: (c) => BigInt(c.fpuReg(i)) }));
  // FIP/FDP/FOP are not kept by the core (FSTENV stores 0 too, cpu/ops/x87.ts): 0 is what the guest sees.
  for (const name of ["fiseg", "fioff", "foseg", "fooff", "fop"]) regs.push({ name, bits: 32, type: "int", group: "float", feature: core, get: () => 0n });
  for (let i = 0; i < (w === 64 ? 16 : 8); i++) regs.push({ name: `xmm${i}`, bits: 128, type: "vec128", feature: sse, get: (c) => c.xmm(i) });
  regs.push({ name: "mxcsr", bits: 32, type: "i386_mxcsr", group: "vector", feature: sse, get: (c) => BigInt(c.mxcsr) });
  // The segment bases go with the system registers, not in gdb's "org.gnu.gdb.i386.segments":
  // gdb 13 asserts on that feature in an i386 description without the AVX-512/PKU features.
  const sys = "org.nestvm.x86.system";
  regs.push({ name: "fs_base", bits: 64, type: "int", feature: sys, get: (c) => c.getSegment(SEG.FS).base });
  regs.push({ name: "gs_base", bits: 64, type: "int", feature: sys, get: (c) => c.getSegment(SEG.GS).base });
  for (const n of [0, 2, 3, 4, 8]) regs.push({ name: `cr${n}`, bits: 64, type: "int", group: "system", feature: sys, get: (c) => c.getCr(n) });
  regs.push({ name: "efer", bits: 64, type: "int", group: "system", feature: sys, get: (c) => c.getMsr(EFER) });
  return regs;
}
/** The 'g' packet holds the core and SSE registers (what gdb's built-in layouts have). */
const gCount = (regs: RegDef[]) => regs.findIndex((r) => r.name === "fs_base");

/** The target description gdb asks for with qXfer:features:read:target.xml. */
export function targetXml(arch: GdbArch = "x86-64"): string {
  const regs = registers(arch);
  // The flag and vector types gdb's own i386 feature files define; a stub's description must too.
  const eflags = `<flags id="i386_eflags" size="4">${["CF", "", "PF", "", "AF", "", "ZF", "SF", "TF", "IF", "DF", "OF", "", "", "NT", "", "RF", "VM", "AC", "VIF", "VIP", "ID"]
    .map((n, b) => (n ? `<field name="${n}" start="${b}" end="${b}"/>` : "")).join("")}</flags>`;
  const mxcsr = `<flags id="i386_mxcsr" size="4">${["IE", "DE", "ZE", "OE", "UE", "PE", "DAZ", "IM", "DM", "ZM", "OM", "UM", "PM", "FZ"]
    .map((n, b) => `<field name="${n}" start="${b}" end="${b}"/>`).join("")}</flags>`;
  const vec128 = `<vector id="v4f" type="ieee_single" count="4"/><vector id="v2d" type="ieee_double" count="2"/>` +
    `<vector id="v16i8" type="int8" count="16"/><vector id="v8i16" type="int16" count="8"/>` +
    `<vector id="v4i32" type="int32" count="4"/><vector id="v2i64" type="int64" count="2"/>` +
    `<union id="vec128"><field name="v4_float" type="v4f"/><field name="v2_double" type="v2d"/>` +
    `<field name="v16_int8" type="v16i8"/><field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>` +
    `<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>`;
  const types: Record<string, string> = { "org.gnu.gdb.i386.core": eflags, "org.gnu.gdb.i386.sse": vec128 + mxcsr };
  let body = "";
  for (const f of [...new Set(regs.map((r) => r.feature))]) {
    body += `<feature name="${f}">${types[f] ?? ""}`;
    regs.forEach((r, i) => {
      if (r.feature === f) body += `<reg name="${r.name}" bitsize="${r.bits}" regnum="${i}" type="${r.type}"${r.group ? ` group="${r.group}"` : ""}/>`;
    });
    body += "</feature>";
  }
  return `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">` +
    `<architecture>${arch === "x86-64" ? "i386:x86-64" : "i386"}</architecture>${body}</target>`;
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
function leBytes(v: bigint, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) { b[i] = Number(v & 0xffn); v >>= 8n; }
  return b;
}
function fromHex(s: string): Uint8Array | undefined {
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) return undefined;
  const b = new Uint8Array(s.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
  return b;
}
const leValue = (b: Uint8Array) => b.reduceRight((v, x) => (v << 8n) | BigInt(x), 0n);

export interface GdbStubOptions {
  /** Register layout and target description: gdb only accepts the one matching the ELF it
   *  debugs (i386 for ELF32 kernels, x86-64 for ELF64), as with QEMU. Default x86-64. */
  arch?: GdbArch;
  /** Called once when the client detaches or kills the session (the CLI ends or resumes). */
  onDetach?: (kill: boolean) => void;
  /** The guest ended while the client ran it (isa-debug-exit, shutdown, error): after W/X. */
  onExit?: (r: RunResult) => void;
}

export class GdbStub {
  private buf = "";
  private noAck = false;
  private running: Promise<void> | null = null;
  private breakpoints = new Set<bigint>();
  /** gdb thread for register/memory access (Hg) and for stepping (Hc); 1-based vCPU index. */
  private gThread = 1;
  private exited = false;
  /** The vCPU that reported the last stop. */
  private stopThread = 1;
  /** The signal of the last stop ('?' reports it again). */
  private lastSig = 5;

  private readonly regs: RegDef[];
  private readonly arch: GdbArch;

  constructor(private readonly m: Machine, private readonly send: (bytes: Uint8Array) => void, private readonly opts: GdbStubOptions = {}) {
    this.arch = opts.arch ?? "x86-64";
    this.regs = registers(this.arch);
  }

  /** Bytes from the client. */
  receive(data: Uint8Array | string): void {
    // Byte by byte (a spread of a large chunk overflows the call stack).
    if (typeof data === "string") this.buf += data;
    else for (let i = 0; i < data.length; i += 0x2000) this.buf += String.fromCharCode.apply(null, Array.from(data.subarray(i, i + 0x2000)));
    for (;;) {
      if (!this.buf.length) return;
      const c = this.buf[0];
      if (c === "\x03") { this.buf = this.buf.slice(1); this.interrupt(); continue; }
      if (c === "+" || c === "-") { this.buf = this.buf.slice(1); continue; }   // acks: no retransmission kept
      if (c !== "$") { this.buf = this.buf.slice(1); continue; }
      const end = this.buf.indexOf("#");
      if (end < 0 || this.buf.length < end + 3) {
        // A packet that never ends: drop it (NAK) rather than buffer without bound.
        if (this.buf.length > MAX_PACKET) { this.buf = ""; if (!this.noAck) this.raw("-"); }
        return;
      }
      const body = this.buf.slice(1, end);
      const sum = parseInt(this.buf.slice(end + 1, end + 3), 16);
      this.buf = this.buf.slice(end + 3);
      if (!this.noAck) {
        let s = 0;
        for (let i = 0; i < body.length; i++) s = (s + body.charCodeAt(i)) & 0xff;
        if (s !== sum) { this.raw("-"); continue; }
        this.raw("+");
      }
      this.packet(unescape(body));
    }
  }

  /** The guest is running under `c`/`s`: Ctrl-C stops it (reported as SIGINT). */
  private interrupt(): void { if (this.running) this.m.stop(); }

  private raw(s: string): void { this.send(enc.encode(s)); }
  private reply(s: string): void {
    // Escape '#', '$', '}' and '*' (run-length marker) as '}' + (c ^ 0x20).
    let e = "";
    for (const ch of s) e += ch === "#" || ch === "$" || ch === "}" || ch === "*" ? "}" + String.fromCharCode(ch.charCodeAt(0) ^ 0x20) : ch;
    let sum = 0;
    for (let i = 0; i < e.length; i++) sum = (sum + e.charCodeAt(i)) & 0xff;
    this.raw(`$${e}#${sum.toString(16).padStart(2, "0")}`);
  }

  private packet(p: string): void {
    if (this.running) {
      // While the guest runs only Ctrl-C means anything (gdb's all-stop mode).
      return;
    }
    const cmd = p[0];
    switch (cmd) {
      case "?": return this.reply(this.exited ? "W00" : this.stopReply(this.lastSig));
      case "q": return this.query(p);
      case "Q":
        if (p === "QStartNoAckMode") { this.reply("OK"); this.noAck = true; return; }
        return this.reply("");
      case "H": {
        if (p[1] !== "g" && p[1] !== "c") return this.reply("E22");
        const t = this.threadId(p.slice(2));
        if (t === undefined) return this.reply("E22");
        if (p[1] === "g" && t > 0) this.gThread = t;
        return this.reply("OK");
      }
      case "T": return this.reply(this.threadId(p.slice(1)) !== undefined ? "OK" : "E22");
      case "g": return this.reply(this.readAll());
      case "G": return this.reply(this.writeAll(p.slice(1)));
      case "p": return this.reply(isHex(p.slice(1)) ? this.readOne(parseInt(p.slice(1), 16)) : "E22");
      case "P": {
        const [n, v] = p.slice(1).split("=");
        return this.reply(isHex(n) ? this.writeOne(parseInt(n, 16), v ?? "") : "E22");
      }
      case "m": return this.reply(this.readMem(p.slice(1)));
      case "M": return this.reply(this.writeMem(p.slice(1)));
      case "Z": case "z": return this.reply(this.breakpoint(cmd === "Z", p.slice(1)));
      case "c": return this.resume(false, p.slice(1));
      case "s": return this.resume(true, p.slice(1));
      case "v":
        if (p === "vMustReplyEmpty") return this.reply("");
        if (p === "vCont?") return this.reply("vCont;c;s");
        if (p.startsWith("vCont;")) return this.vCont(p.slice(6));
        if (p.startsWith("vKill")) { this.reply("OK"); this.opts.onDetach?.(true); return; }
        return this.reply("");
      case "D": this.reply("OK"); this.opts.onDetach?.(false); return;
      case "k": this.opts.onDetach?.(true); return;
      default: return this.reply("");
    }
  }

  private query(p: string): void {
    if (p.startsWith("qSupported")) return this.reply("PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;vContSupported+");
    if (p.startsWith("qXfer:features:read:target.xml:")) {
      const args = p.slice("qXfer:features:read:target.xml:".length).split(",");
      if (args.length !== 2 || !args.every(isHex)) return this.reply("E00");
      const [off, len] = args.map((x) => parseInt(x, 16));
      const xml = targetXml(this.arch);
      const part = xml.slice(off, off + len);
      return this.reply((off + len >= xml.length ? "l" : "m") + part);
    }
    if (p.startsWith("qXfer:")) return this.reply("E00");
    if (p === "qAttached") return this.reply("1");
    if (p === "qC") return this.reply(`QC${this.stopThread.toString(16)}`);
    if (p === "qfThreadInfo") return this.reply("m" + [...Array(this.m.cpus).keys()].map((i) => (i + 1).toString(16)).join(","));
    if (p === "qsThreadInfo") return this.reply("l");
    if (p.startsWith("qThreadExtraInfo,")) {
      const t = this.threadId(p.slice(17));
      if (!t) return this.reply("E22");
      const vmx = this.onThread(t, () => ["", ", VMX root", ", VMX non-root (L2)"][this.m.core.vmxState] ?? "");
      return this.reply(hex(enc.encode(`vCPU ${t - 1}${vmx}`)));
    }
    if (p === "qOffsets") return this.reply("Text=0;Data=0;Bss=0");
    if (p === "qSymbol::") return this.reply("OK");
    return this.reply("");
  }

  /** "-1" (all), "0" (any) or a vCPU thread id; undefined if there is no such vCPU. */
  private threadId(s: string): number | undefined {
    if (s === "-1" || s === "0") return 0;
    const t = parseInt(s, 16);
    return t >= 1 && t <= this.m.cpus ? t : undefined;
  }

  private stopReply(sig: number): string {
    this.lastSig = sig;
    return `T${sig.toString(16).padStart(2, "0")}thread:${this.stopThread.toString(16)};`;
  }

  /** Run the register/memory access on the vCPU gdb selected, then go back. */
  private onCpu<T>(f: () => T): T { return this.onThread(this.gThread, f); }
  private onThread<T>(thread: number, f: () => T): T {
    const prev = this.m.curCpu, want = Math.max(1, thread) - 1;
    if (want !== prev) this.m.selectCpu(want);
    try { return f(); } finally { if (want !== prev) this.m.selectCpu(prev); }
  }

  private regBytes(n: number): Uint8Array | undefined {
    const r = this.regs[n];
    if (!r) return undefined;
    const v = r.get(this.m.core);
    return v instanceof Uint8Array ? v : leBytes(v, r.bits / 8);
  }
  private readAll(): string {
    return this.onCpu(() => { let s = ""; for (let n = 0; n < gCount(this.regs); n++) s += hex(this.regBytes(n)!); return s; });
  }
  private readOne(n: number): string {
    return this.onCpu(() => { const b = this.regBytes(n); return b ? hex(b) : "E45"; });
  }
  /** A changed value: only registers with `set` may change (E45 for the rest). */
  private writeReg(n: number, b: Uint8Array): boolean {
    if (hex(b) === hex(this.regBytes(n)!)) return true;
    const r = this.regs[n];
    if (!r.set) return false;
    // A 32-bit register of the i386 layout replaces the low half only.
    const cur = r.get(this.m.core) as bigint;
    r.set(this.m.core, r.bits === 32 ? (cur & ~0xffffffffn) | leValue(b) : leValue(b));
    return true;
  }
  private writeOne(n: number, v: string): string {
    const r = this.regs[n], b = fromHex(v);
    if (!r || !b || b.length !== r.bits / 8) return "E22";
    return this.onCpu(() => (this.writeReg(n, b) ? "OK" : "E45"));
  }
  private writeAll(v: string): string {
    const b = fromHex(v);
    if (!b) return "E22";
    return this.onCpu(() => {
      // All or nothing: a register that cannot change (E45) leaves every register as it was.
      const parts: [number, Uint8Array][] = [];
      let off = 0;
      for (let n = 0; n < gCount(this.regs) && off < b.length; n++) {
        const len = this.regs[n].bits / 8, part = b.subarray(off, off + len);
        off += len;
        if (part.length !== len) continue;
        if (!this.regs[n].set && hex(part) !== hex(this.regBytes(n)!)) return "E45";
        parts.push([n, part]);
      }
      for (const [n, part] of parts) this.writeReg(n, part);
      return "OK";
    });
  }

  private range(s: string): [bigint, number] | undefined {
    const [a, l] = s.split(",");
    if (!a || !l || /[^0-9a-fA-F]/.test(a + l)) return undefined;
    const len = parseInt(l, 16);
    return len > 0x10000 ? undefined : [BigInt.asUintN(64, BigInt("0x" + a)), len];
  }
  /** Physical address of each byte: undefined where the linear address is unmapped or not RAM. */
  private phys(addr: bigint, i: number): bigint | undefined {
    const lin = BigInt.asUintN(64, addr + BigInt(i));
    const pa = this.m.core.debugTranslate(lin);
    return pa !== undefined && pa < BigInt(this.m.core.ramBytes) ? pa : undefined;
  }
  private readMem(s: string): string {
    const r = this.range(s);
    if (!r) return "E22";
    const [addr, len] = r;
    return this.onCpu(() => {
      const out: number[] = [];
      const ram = this.m.core.ram;
      for (let i = 0; i < len; i++) {
        const pa = this.phys(addr, i);
        if (pa === undefined) break;   // a short read: gdb asks again for the rest, then sees E14
        out.push(ram[Number(pa)]);
      }
      return out.length ? hex(Uint8Array.from(out)) : "E14";
    });
  }
  private writeMem(s: string): string {
    const colon = s.indexOf(":");
    const r = this.range(s.slice(0, colon));
    const data = fromHex(s.slice(colon + 1));
    if (colon < 0 || !r || !data || data.length !== r[1]) return "E22";
    const [addr, len] = r;
    return this.onCpu(() => {
      const pas: bigint[] = [];
      for (let i = 0; i < len; i++) {
        const pa = this.phys(addr, i);
        if (pa === undefined) return "E14";   // all or nothing
        pas.push(pa);
      }
      pas.forEach((pa, i) => this.m.core.debugWrite8(pa, data[i]));
      return "OK";
    });
  }

  /** Z0/Z1 (software and hardware breakpoints are the same here), on every vCPU. */
  private breakpoint(set: boolean, s: string): string {
    const [type, a] = s.split(",");
    if (type !== "0" && type !== "1") return "";   // watchpoints: not supported
    if (!a || /[^0-9a-fA-F]/.test(a)) return "E22";
    const lin = BigInt.asUintN(64, BigInt("0x" + a));
    if (set && !this.breakpoints.has(lin) && this.breakpoints.size >= 64) return "E28";
    const prev = this.m.curCpu;
    for (let i = 0; i < this.m.cpus; i++) {
      this.m.selectCpu(i);
      if (set) this.m.core.hostBpSet(lin); else this.m.core.hostBpClear(lin);
    }
    this.m.selectCpu(prev);
    if (set) this.breakpoints.add(lin); else this.breakpoints.delete(lin);
    return "OK";
  }

  private vCont(actions: string): void {
    // All-stop: the first action applies to the whole machine ("c", "s" or "s:thread").
    const a = actions.split(";")[0];
    if (a[0] === "c") return this.resume(false, "");
    if (a[0] === "s") {
      const t = a.includes(":") ? this.threadId(a.split(":")[1]) : 0;
      if (t === undefined) return this.reply("E22");   // no such vCPU
      if (t) this.gThread = t;
      return this.resume(true, "");
    }
    this.reply("E22");
  }

  /** c / s [addr]: run the guest; the stop reply is sent when it stops. */
  private resume(step: boolean, addr: string): void {
    if (this.exited) return this.reply("W00");
    if (addr && !isHex(addr)) return this.reply("E22");
    if (addr) this.onCpu(() => { this.m.core.rip = BigInt("0x" + addr); });
    // Every vCPU may sit at a breakpoint it reported: none of them stops there again at once.
    const prev = this.m.curCpu;
    for (let i = 0; i < this.m.cpus; i++) { this.m.selectCpu(i); this.m.core.hostBpResume(); }
    this.m.selectCpu(step ? Math.max(1, this.gThread) - 1 : prev);
    this.running = (async () => {
      let r: RunResult;
      try {
        r = await this.m.run(step ? { maxInstructions: 1 } : {});
      } catch (e) {
        r = { reason: "error", message: String(e), instructions: 0n, seconds: 0 };
      }
      this.running = null;
      this.reply(this.stopFor(r, step));
      if (this.exited) this.opts.onExit?.(r);
    })();
  }

  private stopFor(r: RunResult, step: boolean): string {
    switch (r.reason) {
      case "breakpoint": this.stopThread = (r.cpu ?? 0) + 1; this.gThread = this.stopThread; return this.stopReply(5);
      case "stopped": this.stopThread = this.m.curCpu + 1; return this.stopReply(2);
      case "timeout": this.stopThread = this.m.curCpu + 1; return this.stopReply(step ? 5 : 2);
      case "halt": this.stopThread = this.m.curCpu + 1; return this.stopReply(5);
      case "exit": this.exited = true; return `W${((r.exitCode ?? 0) & 0xff).toString(16).padStart(2, "0")}`;
      default: this.exited = true; return "X09";   // shutdown (triple fault, reset without --reboot), error
    }
  }

  /** Resolves when the guest is not running on behalf of the client. */
  get idle(): Promise<void> { return this.running ?? Promise.resolve(); }
}

/** Binary-escaped packet bodies ('}' + (c ^ 0x20)) as gdb sends them. */
function unescape(s: string): string {
  if (!s.includes("}")) return s;
  let o = "";
  for (let i = 0; i < s.length; i++) o += s[i] === "}" ? String.fromCharCode(s.charCodeAt(++i) ^ 0x20) : s[i];
  return o;
}

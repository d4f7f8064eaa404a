// The `nestvm` command (Node; also runs under Deno's Node compatibility).
//   nestvm run IMAGE [--mem 128M] [--smp N] [--append STR] [--initrd "f1 args,f2"] [--serial stdio|FILE]
//                    [--max-seconds N] [--max-instructions N] [--tsc realtime|icount] [--flat[=real]]
//                    [--gdb PORT]
//   nestvm demo [same options]
//   nestvm bench exits [--smoke] [--reps N] [--no-qemu]   (runs scripts/bench-exits.mjs of the checkout)
// Exit status: the isa-debug-exit status ((v << 1) | 1, low 8 bits) if the guest wrote one;
// 0 on a clean halt (HLT with IF=0) or stop; 4 on shutdown (triple fault / reset);
// 124 on timeout; 70 if the core failed; 64 on a usage error; 66 if a file cannot be read;
// 65 if an image is rejected; 71 if the --gdb port cannot be listened on; 130 after Ctrl-C.
// Problems are one line on stderr.
import { readFileSync, openSync, writeSync, closeSync } from "node:fs";
import { basename } from "node:path";
import { spawnSync } from "node:child_process";
import { createServer, type Socket } from "node:net";
import { fileURLToPath } from "node:url";
import { Machine, MAX_CPUS } from "../machine";
import { LoadError } from "../loaders/common";
import { findMultibootHeader } from "../loaders/multiboot";
import { isBzImage } from "../loaders/linux";
import { GdbStub, type GdbArch } from "../gdbstub";
import type { RunResult } from "../machine";
import demoImage from "nestvm-demo.bin";
import demoL2a from "nestvm-demo-l2a.bin";
import demoL2b from "nestvm-demo-l2b.bin";

const USAGE = `usage: nestvm run IMAGE [options]
       nestvm demo [options]
       nestvm bench exits [--smoke] [--reps N] [--no-qemu]   VM-exit latency (needs the source checkout)
options:
  --mem SIZE            guest RAM, e.g. 128M, 1G (default 128M; a plain number is MiB, like QEMU -m)
  --smp N               N vCPUs, 1-16 (default 1); APs start with INIT/SIPI (QEMU -smp N)
  --append STR          kernel command line (QEMU -append)
  --initrd FILES        multiboot modules: "file1 args,file2" (QEMU -initrd; ",," is a literal comma)
  --serial stdio|FILE   where COM1 goes (default stdio; FILE is created or truncated)
  --max-seconds N       stop after N seconds of wall time (exit status 124)
  --max-instructions N  stop after N instructions (exit status 124)
  --tsc realtime|icount virtual time follows the host clock, or the instruction count
  --reboot              on a reset request or triple fault, reset and boot again (default: stop)
  --flat[=real]         IMAGE is a raw binary: 32-bit protected mode at 0x100000, or real mode at 0x7c00
  --gdb PORT            wait for gdb on localhost:PORT before the first instruction (QEMU -s -S;
                        'target remote :PORT'); 0 picks a free port. The limits apply after detach
  --gdb-arch i386|x86-64  gdb's register layout (default: x86-64 for an ELF64 image or a bzImage, else i386;
                        a 64-bit kernel in an ELF32 file wants x86-64 and gdb's
                        'set architecture i386:x86-64' before 'target remote')`;

class UsageError extends Error {}

function die(msg: string, code: number): never {
  process.stderr.write(`nestvm: ${msg}\n`);
  process.exit(code);
}

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgGtT]?)[bB]?$/.exec(s.trim());
  if (!m) throw new UsageError(`invalid memory size '${s}' (use e.g. 128M or 1G)`);
  const mul: Record<string, number> = { "": 1 << 20, k: 1 << 10, m: 1 << 20, g: 1 << 30, t: 2 ** 40 };
  const v = Math.floor(Number(m[1]) * mul[m[2].toLowerCase()]);
  return v;
}

/** QEMU's get_opt_value: split on ',' with ',,' meaning a literal comma. */
export function splitInitrd(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ",") {
      if (s[i + 1] === ",") { cur += ","; i++; continue; }
      out.push(cur); cur = "";
    } else cur += s[i];
  }
  out.push(cur);
  return out;
}

interface Args {
  cmd: "run" | "demo"; image?: string; mem: number; append: string; initrd?: string;
  serial: string; maxSeconds?: number; maxInstructions?: bigint; tsc: "realtime" | "icount"; flat?: "protected" | "real";
  nested: boolean; smp: number;
  reboot?: boolean;
  gdb?: number;
  gdbArch?: "i386" | "x86-64";
}

function parseArgs(argv: string[]): Args {
  if (argv.length === 0) throw new UsageError("missing command (run or demo)");
  const cmd = argv[0];
  if (cmd !== "run" && cmd !== "demo") throw new UsageError(`unknown command '${cmd}' (expected run or demo)`);
  const a: Args = { cmd, mem: 128 << 20, append: "", serial: "stdio", tsc: "realtime", nested: true, smp: 1 };
  const rest = argv.slice(1);
  const value = (opt: string, i: number, inline?: string): string => {
    if (inline !== undefined) return inline;
    if (i + 1 >= rest.length) throw new UsageError(`option ${opt} needs a value`);
    return rest[i + 1];
  };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith("-") || arg === "-") {
      if (cmd === "demo") throw new UsageError(`'demo' takes no image (got '${arg}')`);
      if (a.image !== undefined) throw new UsageError(`unexpected argument '${arg}' (image already given: ${a.image})`);
      a.image = arg;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).replace(/^-+/, "--");
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
    const take = () => { const v = value(name, i, inline); if (inline === undefined) i++; return v; };
    switch (name) {
      case "--mem": case "--m": a.mem = parseSize(take()); break;
      case "--append": a.append = take(); break;
      case "--smp": {
        const v = take(); const n = Number(v);
        if (!/^\d+$/.test(v) || n < 1 || n > MAX_CPUS) throw new UsageError(`invalid --smp '${v}' (1 to ${MAX_CPUS} vCPUs)`);
        a.smp = n; break;
      }
      case "--initrd": a.initrd = take(); break;
      case "--serial": a.serial = take(); if (a.serial === "") throw new UsageError("--serial needs stdio or a file name"); break;
      case "--max-seconds": {
        const v = take(); const n = Number(v);
        if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new UsageError(`invalid --max-seconds '${v}' (a positive number)`);
        a.maxSeconds = n; break;
      }
      case "--max-instructions": {
        const v = take();
        if (!/^\d+$/.test(v) || BigInt(v) === 0n) throw new UsageError(`invalid --max-instructions '${v}' (a positive integer)`);
        a.maxInstructions = BigInt(v); break;
      }
      case "--tsc": {
        const v = take();
        if (v !== "realtime" && v !== "icount") throw new UsageError(`invalid --tsc '${v}' (realtime or icount)`);
        a.tsc = v; break;
      }
      case "--nested": {
        const v = take();
        if (v !== "on" && v !== "off") throw new UsageError(`invalid --nested '${v}' (on or off)`);
        a.nested = v === "on"; break;
      }
      case "--reboot": a.reboot = true; break;
      case "--gdb": {
        const v = take().replace(/^tcp::/, "");
        const n = Number(v);
        if (!/^\d+$/.test(v) || n > 65535) throw new UsageError(`invalid --gdb port '${v}' (0 to 65535)`);
        a.gdb = n; break;
      }
      case "--gdb-arch": {
        const v = take();
        if (v !== "i386" && v !== "x86-64") throw new UsageError(`invalid --gdb-arch '${v}' (i386 or x86-64)`);
        a.gdbArch = v; break;
      }
      case "--flat":
        if (inline !== undefined && inline !== "real" && inline !== "protected") throw new UsageError(`invalid --flat mode '${inline}' (real or protected)`);
        a.flat = inline === "real" ? "real" : "protected"; break;
      case "--help": process.stdout.write(USAGE + "\n"); process.exit(0);
      default: throw new UsageError(`unknown option '${arg}'`);
    }
  }
  if (cmd === "run" && a.image === undefined) throw new UsageError("missing IMAGE for 'run'");
  if (a.mem < 2 << 20 || a.mem > 3 * 2 ** 30) throw new UsageError(`memory size ${a.mem} bytes is out of range (2M to 3G)`);
  return a;
}

function readFile(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    die(`cannot read ${what} '${path}': ${why}`, 66);
  }
}

// `nestvm bench exits`: the benchmark script lives in the checkout (scripts/, next to build/
// where this bundle is); it needs guests/bin and build/host.mjs there. Exit status is the script's.
function benchCommand(args: string[]): never {
  if (args[0] !== "exits") die(`unknown benchmark '${args[0] ?? ""}' (expected: bench exits)`, 64);
  const script = fileURLToPath(new URL("../scripts/bench-exits.mjs", import.meta.url));
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const r = spawnSync(process.execPath, [...(isDeno ? ["run", "-A"] : []), script, ...args.slice(1)], { stdio: "inherit" });
  if (r.error) die(`cannot run ${script}: ${r.error.message}`, 66);
  process.exit(r.status ?? 70);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") { process.stdout.write(USAGE + "\n"); return; }
  if (argv[0] === "bench") { benchCommand(argv.slice(1)); return; }
  let a: Args;
  try { a = parseArgs(argv); } catch (e) {
    if (e instanceof UsageError) die(`${e.message} (see nestvm --help)`, 64);
    throw e;
  }

  let image: Uint8Array, name: string;
  if (a.cmd === "demo") {
    if (!demoImage || demoImage.length === 0) die("this build has no demo image (build guests/bin/demo.elf, then rebuild)", 66);
    image = demoImage; name = demoL2a.length ? "minivisor.elf" : "demo.elf";
  } else {
    image = readFile(a.image!, "image"); name = a.image!;
  }
  // The demo is the bundled L1 hypervisor with its two L2 guests as modules (when built).
  const demoModules = a.cmd === "demo" && a.initrd === undefined && demoL2a.length && demoL2b.length
    ? [{ data: demoL2a, cmdline: "l2-hello.elf" }, { data: demoL2b, cmdline: "l2-count.elf" }]
    : undefined;
  const modules = demoModules ? demoModules : a.initrd !== undefined
    ? splitInitrd(a.initrd).map((item) => {
        const file = item.split(" ")[0];
        if (!file) die(`empty module name in --initrd '${a.initrd}'`, 64);
        return { data: readFile(file, "module"), cmdline: item };
      })
    : [];

  // The --serial file is created (truncated) only once the image loaded and the gdb port listens:
  // a rejected image or option leaves the user's file as it was.
  let serialFd: number | undefined;
  const openSerial = () => {
    if (a.serial === "stdio" || serialFd !== undefined) return;
    try { serialFd = openSync(a.serial, "w"); } catch (e) { die(`cannot open serial file '${a.serial}': ${(e as Error).message}`, 66); }
  };
  let writeOut: (b: Uint8Array) => void;
  if (a.serial === "stdio") writeOut = (b) => { process.stdout.write(b); };
  else writeOut = (b) => { openSerial(); writeSync(serialFd!, b); };

  const useStdin = a.serial === "stdio";
  // On a terminal, keys go to the guest as typed (raw mode, like QEMU -nographic); Ctrl-A x quits
  // and Ctrl-A Ctrl-A sends a Ctrl-A.
  const rawTty = useStdin && process.stdin.isTTY === true && typeof process.stdin.setRawMode === "function";
  let quitByKey = false;
  let m: Machine | undefined;
  const m0 = await Machine.create({
    memBytes: a.mem, tsc: a.tsc, serialOut: writeOut, nested: a.nested, cpus: a.smp, reboot: a.reboot,
    serialIn: useStdin ? (push) => {
      let escape = false;
      process.stdin.on("data", (d: Uint8Array) => {
        if (!rawTty) { push(new Uint8Array(d)); return; }
        const out: number[] = [];
        for (const b of d) {
          if (escape) {
            escape = false;
            if (b === 0x78 /* x */) { quitByKey = true; m?.stop(); return; }
            if (b === 0x01) out.push(0x01);
            continue;
          }
          if (b === 0x01) escape = true; else out.push(b);
        }
        if (out.length) push(Uint8Array.from(out));
      });
    } : undefined,
  });
  m = m0;
  if (rawTty) {
    process.stdin.setRawMode(true);
    process.on("exit", () => { try { process.stdin.setRawMode(false); } catch { /* gone */ } });
  }
  try {
    if (a.flat) m.loadFlat(image, { mode: a.flat, name: basename(name) });
    else if (isBzImage(image)) {
      // Linux: --append is the command line, --initrd one initramfs file (as QEMU -kernel).
      if (modules.length > 1) die(`a Linux kernel takes one --initrd file (got ${modules.length})`, 64);
      m.loadLinux(image, { name, cmdline: a.append, initrd: modules[0]?.data });
    }
    else if (!findMultibootHeader(image)) die(`${name}: not a multiboot image or Linux bzImage (no multiboot header in the first 8192 bytes; use --flat for a raw binary)`, 65);
    else m.loadMultiboot(image, { name, append: a.append, modules });
  } catch (e) {
    if (e instanceof LoadError) die(e.message, 65);
    throw e;
  }

  let interrupted = false;
  process.on("SIGINT", () => { interrupted = true; m.stop(); });
  // gdb accepts only the register layout of the ELF it debugs: ELF64 (and a bzImage, whose
  // vmlinux is ELF64 on x86-64) -> x86-64, else i386.
  const elf64 = (image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46 && image[4] === 2) || isBzImage(image);
  if (a.gdb === undefined) openSerial();
  const r = (a.gdb !== undefined ? await debugSession(m, a.gdb, a.gdbArch ?? (elf64 ? "x86-64" : "i386"), openSerial) : undefined)
    ?? await m.run({ maxSeconds: a.maxSeconds, maxInstructions: a.maxInstructions });
  if (useStdin) process.stdin.destroy();
  if (serialFd !== undefined) closeSync(serialFd);
  switch (r.reason) {
    case "exit": process.exit(r.exitCode! & 0xff);
    case "halt": process.exit(0);
    case "stopped": process.exit(interrupted && !quitByKey ? 130 : 0);
    case "shutdown": die(`guest shut down: ${r.message ?? "shutdown"} after ${r.instructions} instructions`, 4);
    case "timeout": die(`timeout: ${r.message ?? ""} after ${r.instructions} instructions (${r.seconds.toFixed(2)} s)`, 124);
    case "error": die(`emulator error: ${r.message ?? "unknown"}`, 70);
  }
}

/** Serve one gdb connection on localhost:port. Returns how the guest ended if it ended under the
 *  debugger (or gdb killed it), or undefined when gdb detached or disconnected: then the guest
 *  runs on without it. */
async function debugSession(m: Machine, port: number, arch: GdbArch, listening: () => void): Promise<RunResult | undefined> {
  const server = createServer();
  await new Promise<void>((res, rej) => {
    server.once("error", (e) => rej(e));
    server.listen(port, "127.0.0.1", () => res());
  }).catch((e) => die(`--gdb: cannot listen on localhost:${port}: ${(e as Error).message}`, 71));
  listening();
  const addr = server.address();
  process.stderr.write(`nestvm: waiting for gdb on localhost:${typeof addr === "object" && addr ? addr.port : port} ('target remote :PORT')\n`);
  const sock = await new Promise<Socket>((res) => server.once("connection", res));
  server.close();
  return new Promise<RunResult | undefined>((done) => {
    let finished = false;
    const end = (r: RunResult | undefined) => { if (!finished) { finished = true; sock.end(); done(r); } };
    const stub = new GdbStub(m, (b) => { if (!sock.destroyed) sock.write(b); }, {
      arch,
      onDetach: (kill) => end(kill ? { reason: "stopped", instructions: 0n, seconds: 0 } : undefined),
      onExit: (r) => end(r),
    });
    sock.on("data", (d: Uint8Array) => stub.receive(d));
    // gdb gone while the guest runs for it: stop that run, so the guest goes on under the limits.
    sock.on("close", () => { if (!finished) m.stop(); void stub.idle.then(() => end(undefined)); });
    sock.on("error", () => { /* close follows */ });
  });
}

main().catch((e) => die(`internal error: ${e instanceof Error ? e.message : String(e)}`, 70));

// The gdb stub end to end: a breakpoint inside an L2 guest of the bundled L1 hypervisor (the
// debugger is L0: neither L1 nor L2 notices), and the CLI's --gdb driven by a real gdb when the
// system has one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { spawn, spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";
import { ROOT } from "../qemu/qemu.mjs";

const hostPath = join(ROOT, "build", "host.mjs");
const host = existsSync(hostPath) ? await import(pathToFileURL(hostPath).href) : null;
const bin = (n) => join(ROOT, "guests", "bin", `${n}.elf`);
const hasGdb = spawnSync("sh", ["-c", "command -v gdb"]).status === 0;

function client(stub) {
  let rx = "";
  const waiters = [];
  const pump = () => {
    for (;;) {
      rx = rx.replace(/^\++/, "");
      const m = /^\$([^#]*)#[0-9a-f]{2}/.exec(rx);
      if (!m || !waiters.length) return;
      rx = rx.slice(m[0].length);
      waiters.shift()(m[1]);
    }
  };
  return {
    onBytes(b) { rx += Buffer.from(b).toString("latin1"); pump(); },
    cmd(body) {
      let sum = 0;
      for (const c of body) sum = (sum + c.charCodeAt(0)) & 0xff;
      const p = new Promise((res) => waiters.push(res));
      stub().receive(`$${body}#${sum.toString(16).padStart(2, "0")}`);
      pump();
      return p;
    },
  };
}

test("gdb stub: a breakpoint in an L2 guest under the minivisor; memory read through L2 paging and L1's EPT", { skip: !host, timeout: 120_000 }, async () => {
  const m = await host.Machine.create({ memBytes: 256 << 20 });
  const l2 = readFileSync(bin("l2-hello"));
  m.loadMultiboot(readFileSync(bin("minivisor")), { name: "minivisor.elf", modules: [{ data: l2, cmdline: "l2-hello.elf" }] });
  let stub;
  const c = client(() => stub);
  stub = new host.GdbStub(m, (b) => c.onBytes(b));
  // l2-hello's main is at 0x100080 (its ELF loads file offset 0x1000 at 0x100000); the
  // minivisor's own code at that address runs once in VMX root before any L2 exists.
  assert.equal(await c.cmd("Z0,100080,1"), "OK");
  let where = "";
  for (let i = 0; i < 4 && !where.includes("non-root"); i++) {
    assert.equal(await c.cmd("c"), "T05thread:1;");
    where = Buffer.from(await c.cmd("qThreadExtraInfo,1"), "hex").toString();
  }
  assert.equal(where, "vCPU 0, VMX non-root (L2)");
  assert.equal(await c.cmd("m100080,8"), l2.subarray(0x1080, 0x1088).toString("hex"));
  assert.equal(m.core.vmxState, 2);
  // Detach: the run goes on to the end as without a debugger.
  assert.equal(await c.cmd("z0,100080,1"), "OK");
  const r = await m.run({ maxSeconds: 60 });
  assert.equal(r.reason, "exit");
  assert.equal(r.exitCode, 1);
});

test("nestvm run --gdb: a real gdb breaks at main, steps and reads registers and memory", { skip: !hasGdb || !host, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "nestvm-gdb-"));
  const serial = join(dir, "serial.txt");
  const vm = spawn(process.execPath, [join(ROOT, "build", "nestvm.mjs"), "run", bin("hello"), "--gdb", "0", "--serial", serial], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  const port = await new Promise((res, rej) => {
    vm.stderr.on("data", (d) => { err += d; const m = /localhost:(\d+)/.exec(err); if (m) res(m[1]); });
    vm.on("exit", () => rej(new Error(err)));
  });
  const exited = new Promise((res) => vm.on("exit", (code) => res(code)));
  const g = spawnSync("gdb", ["-q", "-batch", "-nx", bin("hello"), "-ex", `target remote :${port}`,
    "-ex", "break main", "-ex", "continue", "-ex", "info registers eip", "-ex", "stepi", "-ex", "info registers eip",
    "-ex", "x/2xb 0x100000", "-ex", "info threads", "-ex", "continue"], { encoding: "utf8", timeout: 60_000 });
  const out = g.stdout + g.stderr;
  const nm = spawnSync("nm", [bin("hello")], { encoding: "utf8" }).stdout;
  const main = parseInt(/^([0-9a-f]+) T main$/m.exec(nm)[1], 16);
  assert.match(out, /Breakpoint 1, 0x[0-9a-f]+ in main \(\)/, out);
  assert.match(out, /eip\s+0x([0-9a-f]+)\s+0x[0-9a-f]+ <main\+(\d+)>/, out);
  const eips = [...out.matchAll(/^eip\s+0x([0-9a-f]+)/gm)].map((m) => parseInt(m[1], 16));
  assert.equal(eips.length, 2, out);
  assert.ok(eips[0] > main && eips[0] < main + 16, out);            // after the prologue gdb skips
  assert.ok(eips[1] > eips[0] && eips[1] <= eips[0] + 15, out);     // stepi: one instruction further
  assert.match(out, /0x100000 <__image_start>:\s+0x02\s+0xb0/, out);  // multiboot magic 0x1BADB002
  assert.match(out, /Thread 1 \(vCPU 0\)/, out);
  assert.match(out, /exited with code 01/, out);
  assert.equal(await exited, 1);
  assert.equal(readFileSync(serial, "utf8"), "hello from nestvm guest\n");
});

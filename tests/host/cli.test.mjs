import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const cli = join(dirname(fileURLToPath(import.meta.url)), "../../build/nestvm.mjs");
const dir = mkdtempSync(join(tmpdir(), "nestvm-cli-"));
function run(args, opts = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20000, input: "", ...opts });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function oneLine(r, re) {
  assert.match(r.err, re);
  assert.equal(r.err.trim().split("\n").length, 1, `expected one line, got: ${r.err}`);
}

test("CLI: usage errors name the problem in one line, exit 64", () => {
  let r = run([]); assert.equal(r.code, 64); oneLine(r, /missing command/);
  r = run(["frobnicate"]); assert.equal(r.code, 64); oneLine(r, /unknown command 'frobnicate'/);
  r = run(["run"]); assert.equal(r.code, 64); oneLine(r, /missing IMAGE/);
  r = run(["run", "x", "--bogus"]); assert.equal(r.code, 64); oneLine(r, /unknown option '--bogus'/);
  r = run(["run", "x", "--mem", "12Q"]); assert.equal(r.code, 64); oneLine(r, /invalid memory size '12Q'/);
  r = run(["run", "x", "--mem", "1M"]); assert.equal(r.code, 64); oneLine(r, /out of range/);
  r = run(["run", "x", "--tsc", "fast"]); assert.equal(r.code, 64); oneLine(r, /invalid --tsc 'fast'/);
  r = run(["run", "x", "--max-seconds", "-1"]); assert.equal(r.code, 64); oneLine(r, /invalid --max-seconds/);
  r = run(["run", "x", "--append"]); assert.equal(r.code, 64); oneLine(r, /--append needs a value/);
  r = run(["run", "a", "b"]); assert.equal(r.code, 64); oneLine(r, /unexpected argument 'b'/);
});

test("CLI: unreadable or bad images, exit 66 / 65", () => {
  let r = run(["run", join(dir, "missing.elf")]); assert.equal(r.code, 66); oneLine(r, /cannot read image .*missing\.elf.*no such file/);
  r = run(["run", dir]); assert.equal(r.code, 66); oneLine(r, /is a directory/);
  const junk = join(dir, "junk.bin"); writeFileSync(junk, Buffer.alloc(4096, 0x41));
  r = run(["run", junk]); assert.equal(r.code, 65); oneLine(r, /not a multiboot image/);
  // multiboot header, but a truncated ELF behind it
  const h = Buffer.alloc(64); h.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  h.writeUInt32LE(0x1badb002, 52); h.writeUInt32LE(0, 56); h.writeUInt32LE((-0x1badb002) >>> 0, 60);
  h.writeUInt16LE(52, 42); h.writeUInt16LE(4, 44); h.writeUInt32LE(52, 28);
  const tr = join(dir, "trunc.elf"); writeFileSync(tr, h);
  r = run(["run", tr]); assert.equal(r.code, 65); oneLine(r, /truncated ELF/);
  r = run(["run", junk, "--initrd", join(dir, "nomod")]); assert.equal(r.code, 66); oneLine(r, /cannot read module/);
});

test("CLI: --serial FILE is created; shutdown exits non-zero with one line; other files untouched", () => {
  const img = join(dir, "ud.bin"); writeFileSync(img, Buffer.from([0x0f, 0xff]));
  const before = readFileSync(img);
  const ser = join(dir, "serial.txt"); writeFileSync(ser, "old contents");
  const r = run(["run", img, "--flat", "--serial", ser, "--max-seconds", "5"]);
  assert.equal(r.code, 4);
  oneLine(r, /guest shut down/);
  assert.ok(existsSync(ser));
  assert.equal(statSync(ser).size, 0);                 // truncated like QEMU -serial file:
  assert.deepEqual(readFileSync(img), before);
});

test("CLI: --help prints usage and exits 0", () => {
  const r = run(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /usage: nestvm run IMAGE/);
});

// A minimal bzImage (2.15 setup header; the 32-bit entry writes exit status 0x43).
function writeBzImage(path) {
  const img = Buffer.alloc(1024 + 8);
  img[0x1f1] = 1; img[0x1fe] = 0x55; img[0x1ff] = 0xaa; img[0x201] = 0x6a;
  img.write("HdrS", 0x202, "latin1"); img.writeUInt16LE(0x020f, 0x206); img[0x211] = 1;
  img.writeUInt32LE(0x100000, 0x214); img.writeUInt32LE(0x37ffffff, 0x22c); img.writeUInt32LE(2047, 0x238); img.writeUInt32LE(0x10000, 0x260);
  img.set([0xb8, 0x21, 0, 0, 0, 0xe7, 0xf4, 0xf4], 1024);
  writeFileSync(path, img);
  return path;
}

test("CLI: bad --gdb / --gdb-arch values, exit 64; a port in use, exit 71; the --serial file untouched", async () => {
  const img = writeBzImage(join(dir, "gdb-bz.img"));
  const ser = join(dir, "gdb-serial.txt");
  for (const port of ["-1", "70000", "abc", "", "1e3", "0x10", "65536", "12 34"]) {
    writeFileSync(ser, "keep me");
    const r = run(["run", img, "--gdb", port, "--serial", ser]);
    assert.equal(r.code, 64, `--gdb '${port}': ${r.err}`); oneLine(r, /invalid --gdb port/);
    assert.equal(readFileSync(ser, "utf8"), "keep me");
  }
  for (const arch of ["", "x86_64", "arm", "i386 "]) {
    const r = run(["run", img, "--gdb", "0", `--gdb-arch=${arch}`]);
    assert.equal(r.code, 64, `--gdb-arch '${arch}'`); oneLine(r, /invalid --gdb-arch/);
  }
  const { createServer } = await import("node:net");
  const srv = createServer();
  await new Promise((res) => srv.listen(0, "127.0.0.1", res));
  try {
    writeFileSync(ser, "keep me");
    const r = run(["run", img, "--gdb", String(srv.address().port), "--serial", ser]);
    assert.equal(r.code, 71); oneLine(r, /--gdb: cannot listen on localhost:\d+: .*EADDRINUSE/);
    assert.equal(readFileSync(ser, "utf8"), "keep me", "the serial file is opened only after the port listens");
  } finally { srv.close(); }
});

test("CLI: a bzImage with two --initrd files, or a missing/unreadable one: one line, nothing written", () => {
  const img = writeBzImage(join(dir, "rd-bz.img"));
  const a = join(dir, "rd-a"), b = join(dir, "rd-b"), ser = join(dir, "rd-serial.txt");
  writeFileSync(a, "AAAA"); writeFileSync(b, "BBBB");
  const check = (args, code, re) => {
    writeFileSync(ser, "keep me");
    const r = run(["run", img, "--serial", ser, ...args]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.err}`); oneLine(r, re);
    assert.equal(readFileSync(ser, "utf8"), "keep me");
    assert.equal(readFileSync(a, "utf8"), "AAAA"); assert.equal(readFileSync(b, "utf8"), "BBBB");
  };
  check(["--initrd", `${a},${b}`], 64, /a Linux kernel takes one --initrd file \(got 2\)/);
  check(["--initrd", join(dir, "rd-missing")], 66, /cannot read module .*rd-missing.*no such file/);
  check(["--initrd", dir], 66, /cannot read module .*is a directory/);
  check(["--initrd", ""], 64, /empty module name/);
  check(["--initrd", `${a},`], 64, /empty module name/);
  // A rejected bzImage (initrd that does not fit in 2 MiB) does not touch the serial file either.
  const big = join(dir, "rd-big"); writeFileSync(big, Buffer.alloc(3 << 20));
  check(["--mem", "4M", "--initrd", big], 65, /initrd of 3145728 bytes does not fit/);
  // And the good case boots: exit status 0x43, the serial file created empty.
  writeFileSync(ser, "keep me");
  const r = run(["run", img, "--serial", ser, "--initrd", a, "--max-seconds", "5"]);
  assert.equal(r.code, 0x43, r.err);
  assert.equal(readFileSync(ser, "utf8"), "");
});

test("CLI: gdb disconnecting while the guest runs: the --max-seconds limit still ends the run", async () => {
  const { spawn } = await import("node:child_process");
  const { connect } = await import("node:net");
  const img = join(dir, "spin.bin"); writeFileSync(img, Buffer.from([0xeb, 0xfe]));   // jmp $
  const p = spawn(process.execPath, [cli, "run", img, "--flat", "--gdb", "0", "--max-seconds", "1"], { stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  const port = await new Promise((res, rej) => {
    p.stderr.on("data", (d) => { err += d; const m = /localhost:(\d+)/.exec(err); if (m) res(Number(m[1])); });
    p.on("exit", () => rej(new Error(`exited early: ${err}`)));
  });
  const code = new Promise((res) => p.on("exit", (c) => res(c)));
  const s = connect(port, "127.0.0.1");
  await new Promise((res) => s.on("connect", res));
  s.write("+$c#63");
  await new Promise((res) => setTimeout(res, 300));
  s.destroy();
  const timer = setTimeout(() => p.kill(), 15000);
  assert.equal(await code, 124, err);          // was: ran on forever, without the limit
  clearTimeout(timer);
  assert.match(err, /timeout: time limit reached/);
});

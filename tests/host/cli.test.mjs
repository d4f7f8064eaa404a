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

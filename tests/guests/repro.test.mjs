// The committed guest images must be reproducible: rebuild into a temp dir and compare bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const GUESTS = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "guests");
const have = (cmd) => spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
const first = (cmd) => (spawnSync(cmd, ["--version"], { encoding: "utf8" }).stdout || "").split("\n")[0];

function skipReason() {
  for (const t of ["gcc", "ld", "objcopy", "bash"]) if (!have(t)) return `${t} not installed`;
  const lib32 = spawnSync("gcc", ["-m32", "-print-libgcc-file-name"], { encoding: "utf8" }).stdout.trim();
  if (!lib32 || !existsSync(lib32)) return "gcc has no 32-bit multilib (gcc-multilib)";
  const want = readFileSync(join(GUESTS, "bin", "TOOLCHAIN"), "utf8").trim();
  const got = [first("gcc"), first("ld"), first("objcopy")].join("\n");
  if (got !== want) return `toolchain differs from the one recorded in guests/bin/TOOLCHAIN (${want.split("\n")[0]})`;
  return null;
}

test("guest images rebuild byte-for-byte", (t) => {
  const reason = skipReason();
  if (reason) { t.skip(reason); return; }
  const out = mkdtempSync(join(tmpdir(), "guests-"));
  try {
    const r = spawnSync("bash", [join(GUESTS, "build.sh"), out], { encoding: "utf8" });
    assert.equal(r.status, 0, `build.sh failed:\n${r.stderr}`);
    const committed = readdirSync(join(GUESTS, "bin")).filter((f) => f.endsWith(".elf")).sort();
    const rebuilt = readdirSync(out).filter((f) => f.endsWith(".elf")).sort();
    assert.deepEqual(rebuilt, committed);
    assert.ok(committed.length >= 5, `only ${committed.length} images`);
    for (const f of committed) {
      const a = readFileSync(join(GUESTS, "bin", f)), b = readFileSync(join(out, f));
      assert.ok(a.equals(b), `${f} differs from a fresh build`);
    }
  } finally { rmSync(out, { recursive: true, force: true }); }
});

test("every guest directory has an image and an expected.txt", () => {
  const dirs = readdirSync(GUESTS, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(GUESTS, d.name, "build.conf"))).map((d) => d.name);
  for (const d of dirs) {
    assert.ok(existsSync(join(GUESTS, "bin", `${d}.elf`)), `${d}.elf missing`);
    if (d !== "bench") assert.ok(existsSync(join(GUESTS, d, "expected.txt")), `${d}/expected.txt missing`);
  }
});

// The VMX test programs (guests/vmxtests/<name>): each is an L1 that checks VMX instruction
// results, VM-entry checks, exit conditions and qualifications, EPT and an L1 -> L2 -> L3 chain,
// printing `PASS name` / `FAIL name: got X want Y`. Under nestvm every check must pass and the
// output (without `info:` lines) must equal guests/vmxtests/<name>/expected.txt, which lists
// every check (bochs.txt next to it is the same program under Bochs 2.7, see README.md there).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../qemu/qemu.mjs";

const hostPath = join(ROOT, "build", "host.mjs");
const host = existsSync(hostPath) ? await import(pathToFileURL(hostPath).href) : null;
const DIR = join(ROOT, "guests", "vmxtests");
const names = readdirSync(DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(DIR, d.name, "build.conf"))).map((d) => d.name).sort();
const strip = (s) => s.split("\n").filter((l) => l && !l.startsWith("info:")).join("\n");

test("there are VMX test programs", () => {
  assert.deepEqual(names, ["entry", "ept", "exits", "instr", "nest", "pmu"]);
});

for (const name of names) {
  test(`vmxtests/${name}: every check passes under nestvm`, { skip: !host, timeout: 60_000 }, async () => {
    const image = readFileSync(join(ROOT, "guests", "bin", `vmxtests-${name}.elf`));
    const r = await host.runImage(image, { name: `vmxtests-${name}.elf`, memBytes: 128 << 20, maxSeconds: 30 });
    const fails = r.serial.split("\n").filter((l) => l.startsWith("FAIL"));
    assert.deepEqual(fails, [], r.serial);
    const m = r.serial.match(new RegExp(`^${name}: (\\d+) checks, (\\d+) passed, 0 failed$`, "m"));
    assert.ok(m && Number(m[1]) > 10 && m[1] === m[2], r.serial);
    assert.equal(strip(r.serial), strip(readFileSync(join(DIR, name, "expected.txt"), "utf8")));
    assert.equal(r.reason, "exit");
    assert.equal(r.exitCode, 1);   // isa-debug-exit value 0
  });
}

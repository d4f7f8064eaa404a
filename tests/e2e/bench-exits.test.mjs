// npm run bench:exits --smoke through the CLI (`nestvm bench exits`), nestvm columns only: the
// payload runs as an L2 under the minivisor and as a plain guest, and the JSON holds a
// consistent figure for every exit reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ROOT } from "../qemu/qemu.mjs";

const cli = join(ROOT, "build", "nestvm.mjs");
const ready = existsSync(cli) && existsSync(join(ROOT, "build", "host.mjs")) && existsSync(join(ROOT, "guests", "bin", "l2-bench.elf"));

test("nestvm bench exits --smoke: every exit reason timed under L1, split and counted", { skip: !ready, timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "bench-exits-"));
  try {
    const out = join(dir, "r.json");
    const r = spawnSync(process.execPath, [cli, "bench", "exits", "--smoke", "--no-qemu", "--out", out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\| cpuid +\| \d+ \/ \d+ +\|/);
    const j = JSON.parse(readFileSync(out, "utf8"));
    assert.deepEqual(Object.keys(j.reasons), ["cpuid", "vmcall", "io-in-0x3fd", "rdmsr-tsc", "ept-violation"]);
    for (const [k, x] of Object.entries(j.reasons)) {
      const n = x.nestvmL2;
      assert.ok(n.nsMean > 0 && n.cyclesMin <= n.cyclesMean, k);
      assert.equal(n.nsMean, n.cyclesMean / 2, k); // realtime TSC: 2 cycles per host ns
      assert.ok(n.l1Exits >= 64, `${k}: ${n.l1Exits} L1 exits`);
      const i = x.nestvmL2Insns;
      assert.ok(i.total > 20 && i.total < 2000, `${k}: ${i.total} instructions`);
      // Minimums: a host pause (GC, tier-up) inside one of 64 round trips can swamp a mean.
      if (k !== "vmcall") assert.ok(x.nestvm1.cyclesMin > 0 && x.nestvm1.cyclesMin < n.cyclesMin, `${k}: one level ${x.nestvm1.cyclesMin} cycles`);
      if (k === "io-in-0x3fd") { assert.equal(n.l1HandlerNs, null); assert.equal(i.l1Handler, null); continue; } // mixed statistics
      // Each timed round trip contains its handler; cpuid has one untimed exit (l2.h's detection).
      assert.ok(n.l1HandlerNs > 0, k);
      if (k !== "cpuid") assert.equal(n.l1Exits, 64, k);
      if (n.l1Exits === 64) assert.ok(n.l1HandlerNs < n.nsMean, `${k}: L1 handler ${n.l1HandlerNs} of ${n.nsMean} ns`);
      assert.equal(i.total, i.l1Handler + i.rest, k);
      assert.ok(i.l1Handler > 10 && i.rest > 10, `${k}: ${JSON.stringify(i)}`);
    }
    // The EPT-violation handler (lazy mapping) runs more L1 code than the ping hypercall.
    assert.ok(j.reasons["ept-violation"].nestvmL2Insns.l1Handler > j.reasons.vmcall.nestvmL2Insns.l1Handler);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test("nestvm bench with an unknown benchmark is a usage error", { skip: !ready }, () => {
  const r = spawnSync(process.execPath, [cli, "bench", "mips"], { encoding: "utf8" });
  assert.equal(r.status, 64);
  assert.match(r.stderr, /unknown benchmark 'mips'/);
});

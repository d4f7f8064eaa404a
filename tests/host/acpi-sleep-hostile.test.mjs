import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

// Hostile ACPI sleep requests: every SLP_TYP, repeated requests, a wake event already pending
// when the guest sleeps, byte-wide PM1 accesses, --reboot, reset() and time limits in S3. Each
// ends architecturally with the documented messages (host/README.md "ACPI PM1 block").
//
// Real-mode guest (nasm source: tests/host/acpi-sleep-hostile.asm):
//   [0x500] = 0; FACS.firmware_waking_vector = resume
//   if alarm: PM1 RTC_EN; RTC alarm every second; B |= AIE; read C
//     if alarm == 2: spin until PM1 status RTC_STS (a wake event pending before sleeping)
//   next: ax = list[[0x504]]; if ax == 0xffff: out 0xf4, word [0x500] (count | wakes << 8)
//         [0x504] += 2; byte [0x500]++; PM1 control (0x604) = ax (as two byte writes if bytewise)
//         jmp next
//   resume (16-aligned): ds = 0; [0x502] = PM1 status; PM1 status = it (clear); byte [0x501]++; jmp 0:next
// Parameters at +0x100: dd FACS address, dw alarm, dw bytewise, dw list..., 0xffff.
const CODE = Buffer.from("31c08ed866c706000500000000c7060405000066a1007d6689c366c1e8048ec083e30f2666c7470cb07c0000833e047d007441ba0206b80004efb10188c8e670b0c0e67180c10280f90772f0b00be670e4710c2088c4b00be67088e0e671b00ce670e471833e047d027509ba0006eda9000474f78b3604058b84087d83f8ff741d8306040502fe060005ba0406833e067d007503efebddee4288e0eeebd6660fb706000566e7f4f4909090909090909031c08ed8ba0006eda30205effe060105ea747c", "hex");
const SLP_EN = 0x2000;
const typ = (t) => SLP_EN | (t << 10);

async function sleeper(list, { alarm = 0, bytewise = 0, tsc = "icount", maxSeconds = 20, reboot = false, cpus = 1 } = {}) {
  const m = await Machine.create({ memBytes: 4 << 20, tsc, reboot, cpus });
  const img = new Uint8Array(0x200);
  img.set(CODE);
  const dv = new DataView(img.buffer);
  dv.setUint32(0x100, m.acpi.tables.FACS, true);
  dv.setUint16(0x104, alarm, true); dv.setUint16(0x106, bytewise, true);
  [...list, 0xffff].forEach((v, i) => dv.setUint16(0x108 + 2 * i, v, true));
  m.loadFlat(img, { mode: "real" });
  const r = await m.run({ maxSeconds });
  const out = r.reason === "exit" ? r.exitCode >> 1 : undefined;
  return { m, r, writes: m.ram[0x500], wakes: m.ram[0x501], status: m.ram[0x502] | (m.ram[0x503] << 8), out };
}

test("ACPI sleep: every SLP_TYP 0..7, without and with a wake source", async () => {
  for (let t = 0; t < 8; t++) {
    const a = await sleeper([typ(t)]);
    const b = await sleeper([typ(t)], { alarm: 1 });
    if (t === 0) {                       // S5
      for (const x of [a, b]) { assert.equal(x.r.reason, "shutdown"); assert.equal(x.r.message, "ACPI power off (S5)"); }
    } else if (t === 1) {                // S3
      assert.equal(a.r.reason, "shutdown");
      assert.equal(a.r.message, "ACPI S3 sleep with no wake event enabled (RTC alarm with PM1 RTC_EN)");
      assert.equal(b.r.reason, "exit", b.r.message);
      assert.equal(b.out, 0x0101);       // one write, one wake
      assert.equal(b.status, 0x8400);    // WAK_STS | RTC_STS
    } else {                             // not in the DSDT: ignored, the guest goes on
      for (const x of [a, b]) { assert.equal(x.r.reason, "exit", `SLP_TYP ${t}: ${x.r.message}`); assert.equal(x.out, 0x0001); }
    }
  }
});

test("ACPI sleep: repeated requests, S3 again after waking, then S5", async () => {
  const x = await sleeper([typ(1), typ(1), typ(5), typ(1), typ(7), typ(0), typ(1)], { alarm: 1 });
  assert.equal(x.r.reason, "shutdown");
  assert.equal(x.r.message, "ACPI power off (S5)");
  assert.equal(x.writes, 6);             // the write after S5 never ran
  assert.equal(x.wakes, 3);
  assert.ok(x.m.nowNs() >= 3e9 - 1 && x.m.nowNs() < 4.1e9, `slept 3 times: ${x.m.nowNs()}`);
  // The same with two vCPUs (the AP waits for its SIPI before and after each S3).
  const y = await sleeper([typ(1), typ(1), typ(0)], { alarm: 1, cpus: 2 });
  assert.equal(y.r.message, "ACPI power off (S5)");
  assert.equal(y.wakes, 2);
  // PM1 control reads back without SLP_EN.
  assert.equal(x.m.acpiPm.pm1Control & SLP_EN, 0);
});

test("ACPI S3 with the wake event already pending: wakes at once", async () => {
  // Realtime: in icount mode the wait for the alarm would be a billion instructions.
  const x = await sleeper([typ(1)], { alarm: 2, tsc: "realtime" });
  assert.equal(x.r.reason, "exit", x.r.message);
  assert.equal(x.out, 0x0101);
  assert.equal(x.status, 0x8400);
  assert.ok(x.m.nowNs() < 1.5e9, `woke at once: ${x.m.nowNs()}`);   // the alarm came at 1 s, before SLP_EN
});

test("ACPI PM1 control written a byte at a time (low, then high byte with SLP_EN)", async () => {
  const x = await sleeper([typ(1), typ(3)], { alarm: 1, bytewise: 1 });
  assert.equal(x.r.reason, "exit", x.r.message);
  assert.equal(x.out, 0x0102);
  assert.equal(x.status, 0x8400);
  const y = await sleeper([typ(0)], { bytewise: 1 });
  assert.equal(y.r.message, "ACPI power off (S5)");
});

test("ACPI sleep with --reboot: S5 still powers off, S3 still resumes", async () => {
  const a = await sleeper([typ(0)], { reboot: true });
  assert.equal(a.r.reason, "shutdown"); assert.equal(a.r.message, "ACPI power off (S5)");
  const b = await sleeper([typ(1)], { reboot: true, alarm: 1 });
  assert.equal(b.r.reason, "exit"); assert.equal(b.out, 0x0101);
});

test("ACPI S3: the run() time limit in S3, run() again, and reset() while suspended", async () => {
  const x = await sleeper([typ(1)], { alarm: 1, tsc: "realtime", maxSeconds: 0.2 });
  assert.equal(x.r.reason, "timeout");
  assert.equal(x.r.message, "time limit reached (in S3)");
  assert.equal(x.wakes, 0);
  // Still suspended: the next run() sleeps on until the alarm, then resumes.
  const r2 = await x.m.run({ maxSeconds: 5 });
  assert.equal(r2.reason, "exit", r2.message);
  assert.equal(x.m.ram[0x501], 1);
  // reset() while suspended: the machine is awake and boots what is loaded again.
  const y = await sleeper([typ(1)], { alarm: 1, tsc: "realtime", maxSeconds: 0.2 });
  assert.equal(y.r.message, "time limit reached (in S3)");
  y.m.reset();
  const img = new Uint8Array(0x200); img.set(CODE);
  new DataView(img.buffer).setUint16(0x108, 0xffff, true);
  y.m.loadFlat(img, { mode: "real" });
  const r3 = await y.m.run({ maxSeconds: 5 });
  assert.equal(r3.reason, "exit", r3.message);
  assert.equal(r3.exitCode >> 1, 0);
  assert.equal(y.m.acpiPm.pm1Status, 0);
});

test("ACPI S3: Machine.reset() while run() sleeps in S3 boots the image again", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "realtime" });
  const img = new Uint8Array(0x200); img.set(CODE);
  const dv = new DataView(img.buffer);
  dv.setUint32(0x100, m.acpi.tables.FACS, true); dv.setUint16(0x104, 1, true);
  [typ(1), 0xffff].forEach((v, i) => dv.setUint16(0x108 + 2 * i, v, true));
  m.loadFlat(img, { mode: "real" });
  const p = m.run({ maxSeconds: 10 });
  await new Promise((res) => setTimeout(res, 200));
  m.reset();                                   // the reset vector's firmware boots the image again
  const r = await p;
  assert.equal(r.reason, "exit", r.message);
  assert.equal(r.exitCode >> 1, 0x0101);       // the second boot slept and woke once
});

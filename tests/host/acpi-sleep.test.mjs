import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

// Real-mode boot sector (nasm; source in the comments), the same steps as kvm-unit-tests' s3:
//   FACS.firmware_waking_vector (FACS + 12) = resume       ; FACS address patched at 0x84
//   PM1 enable (0x602) = RTC_EN; RTC alarm 1/3/5 = 0xC0 (every second); B |= AIE; read C
//   byte [0x500] = 0; PM1 control (0x604) = word at 0x88 (SLP_EN | SLP_TYP << 10)
//   spin: byte [0x500] = 1; jmp spin       ; must not run: the OUT put the machine to sleep
//   resume (16-aligned): [0x502] = PM1 status; out 0xf4, dword byte [0x500]
const S3_SECTOR = Uint8Array.from(Buffer.from(
  "31c08ed866a1847c6689c366c1e8048ec083e30f2666c7470c707c0000ba0206b80004efb9010588c8e670b0c0e6" +
  "7180c10280f90772f0b00be670e4710c2088c4b00be67088e0e671b00ce670e471c606000500ba0406a1887cefc6" +
  "06000501ebf9909090909090909090909090909031c08ed8ba0006eda30205660fb606000566e7f4000000000024", "hex"));
const FACS_AT = 0x84, SLP_AT = 0x88;

async function sleepGuest(pm1Cnt, opts = {}) {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount", ...opts });
  const img = S3_SECTOR.slice();
  new DataView(img.buffer).setUint32(FACS_AT, m.acpi.tables.FACS, true);
  new DataView(img.buffer).setUint16(SLP_AT, pm1Cnt, true);
  m.loadFlat(img, { mode: "real" });
  const r = await m.run({ maxSeconds: 20 });
  return { m, r };
}

test("ACPI S3: SLP_TYP 1 suspends; the RTC alarm (RTC_EN) wakes the machine at the FACS waking vector", async () => {
  const { m, r } = await sleepGuest(0x2400);
  assert.equal(r.reason, "exit", r.message);
  assert.equal(r.exitCode, 1);                       // byte [0x500] = 0: nothing ran after SLP_EN
  assert.equal(m.ram[0x502] | (m.ram[0x503] << 8), 0x8400);   // WAK_STS | RTC_STS
  // The alarm fires at the next whole second of virtual time: the machine slept until then.
  assert.ok(m.nowNs() >= 1e9 - 1 && m.nowNs() < 2.1e9, `woke at ${m.nowNs()} ns`);
});

test("ACPI S5: SLP_TYP 0 powers the machine off", async () => {
  const { m, r } = await sleepGuest(0x2000);
  assert.equal(r.reason, "shutdown");
  assert.equal(r.message, "ACPI power off (S5)");
  assert.equal(m.ram[0x500], 0);
});

test("ACPI S3 without a wake source stops with a message instead of sleeping forever", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount" });
  // mov dx, 0x604; mov ax, 0x2400; out dx, ax; hlt
  m.loadFlat(Uint8Array.from([0xba, 0x04, 0x06, 0xb8, 0x00, 0x24, 0xef, 0xf4]), { mode: "real" });
  const r = await m.run({ maxSeconds: 20 });
  assert.equal(r.reason, "shutdown");
  assert.match(r.message, /S3 sleep with no wake event enabled/);
});

test("DSDT names \\_S3 and \\_S5 with the sleep types the PM1 control register acts on", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  const d = m.acpi.tables.DSDT, len = m.ram[d + 4] | (m.ram[d + 5] << 8);
  const aml = Buffer.from(m.ram.subarray(d + 36, d + len)).toString("hex");
  assert.equal(aml, "085f53335f1206040101000008" + "5f53355f120604" + "00000000");
  let sum = 0;
  for (let i = 0; i < len; i++) sum = (sum + m.ram[d + i]) & 0xff;
  assert.equal(sum, 0);
});

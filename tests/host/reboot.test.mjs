import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine } from "../../build/host.mjs";

// Real-mode boot sector (assembled with nasm; source in the comments):
//   inc byte [0x500]                      ; boots so far
//   boot 1: reset through the 8042 (command 0xFE)           -> firmware boots again
//   boot 2: 40:67 = resume, CMOS 0x0F = 0x0A, 8042 reset     -> firmware resumes at 40:67
//   resume: print 'R', inc byte [0x501], jmp ffff:0000       -> firmware boots again (0x0F = 0)
//   boot 3: print 'B', out 0xf4, [0x500]                     -> exit status (3 << 1) | 1
const REBOOT_SECTOR = Uint8Array.from(Buffer.from(
  "31c08ed8fe060005803e0005037326803e0005027514c7066704417cc70669040000b00fe670b00ae671" +
  "e464a80275fab0fee664f4b042baf803eea00005e6f4f4b052baf803ee31c08ed8fe060105ea0000ffff", "hex"));

async function boot(opts) {
  let out = "";
  const m = await Machine.create({ memBytes: 4 << 20, serialOut: (b) => { out += Buffer.from(b).toString("latin1"); }, ...opts });
  m.loadFlat(REBOOT_SECTOR, { mode: "real" });
  const r = await m.run({ maxSeconds: 20 });
  return { m, r, out };
}

test("--reboot: 8042 reset, CMOS shutdown status 0x0A resume via 40:67, and a far jump to FFFF:0000 reboot", async () => {
  const { m, r, out } = await boot({ reboot: true });
  assert.equal(r.reason, "exit", r.message);
  assert.equal(r.exitCode, 7);               // third boot
  assert.equal(out, "RB");
  assert.equal(m.ram[0x501], 1);             // resumed once
  assert.equal(m.cmos.ram[0x0f], 0);         // the firmware cleared the shutdown status
  assert.equal(m.io.read(0x92, 1) & 1, 0);   // no port 0x92 reset happened
});

test("without --reboot a reset request stops the machine (QEMU -no-reboot)", async () => {
  const { m, r, out } = await boot({});
  assert.equal(r.reason, "shutdown");
  assert.equal(out, "");
  assert.equal(m.ram[0x500], 1);
});

test("port 0x92 keeps bit 0 once set; a machine (hard) reset clears it", async () => {
  const m = await Machine.create({ memBytes: 4 << 20, reboot: true });
  m.io.write(0x92, 1, 0x03);
  assert.equal(m.io.read(0x92, 1), 0x03);
  m.reset();
  assert.equal(m.io.read(0x92, 1), 0x02);
});

test("8042: self test, command byte, output port read/write", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  m.io.write(0x64, 1, 0xaa);
  assert.equal(m.io.read(0x64, 1) & 1, 1);   // output buffer full
  assert.equal(m.io.read(0x60, 1), 0x55);
  assert.equal(m.io.read(0x64, 1) & 1, 0);
  m.io.write(0x64, 1, 0x60); m.io.write(0x60, 1, 0x47);
  m.io.write(0x64, 1, 0x20);
  assert.equal(m.io.read(0x60, 1), 0x47);
  m.io.write(0x64, 1, 0xd0);
  assert.equal(m.io.read(0x60, 1) & 3, 3);   // reset line released, A20 on
  m.io.write(0x64, 1, 0xdd);
  m.io.write(0x64, 1, 0xd0);
  assert.equal(m.io.read(0x60, 1) & 3, 1);
});

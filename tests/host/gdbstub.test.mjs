import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine, GdbStub, targetXml } from "../../build/host.mjs";

// Flat 32-bit guest at 0x100000 (nasm; source in the comments):
//   100000 mov eax, 1
//   100005 loop: inc eax
//   100006 cmp byte [0x100020], 0
//   10000d je loop
//   10000f mov [0x100100], eax
//   100014 out 0xf4, eax                 ; exit status (eax << 1) | 1
//   100016 hlt
//   100020 flag: dd 0
const GUEST = Uint8Array.from(Buffer.from("b80100000040803d200010000074f6a300011000e7f4f490909090909090909000000000", "hex"));

/** A gdb-side client: frames packets, checks acks and reply checksums. */
class Client {
  constructor(stub) { this.stub = stub; this.rx = ""; this.waiters = []; }
  onBytes(b) { this.rx += Buffer.from(b).toString("latin1"); this.pump(); }
  pump() {
    for (;;) {
      while (this.rx[0] === "+") this.rx = this.rx.slice(1);
      const m = /^\$([^#]*)#([0-9a-f]{2})/.exec(this.rx);
      if (!m || !this.waiters.length) return;
      this.rx = this.rx.slice(m[0].length);
      let sum = 0;
      for (const c of m[1]) sum = (sum + c.charCodeAt(0)) & 0xff;
      assert.equal(parseInt(m[2], 16), sum, `checksum of reply ${m[1]}`);
      this.waiters.shift()(m[1]);
    }
  }
  sendRaw(s) { this.stub.receive(Buffer.from(s, "latin1")); }
  cmd(body) {
    let sum = 0;
    for (const c of body) sum = (sum + c.charCodeAt(0)) & 0xff;
    const p = new Promise((res) => { this.waiters.push(res); });
    this.sendRaw(`$${body}#${sum.toString(16).padStart(2, "0")}`);
    this.pump();
    return p;
  }
}

async function session(opts = {}) {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount" });
  m.loadFlat(GUEST);
  let client;
  const stub = new GdbStub(m, (b) => client.onBytes(b), opts);
  client = new Client(stub);
  return { m, stub, c: client };
}
const le32 = (hex, i) => Buffer.from(hex.slice(i * 8, i * 8 + 8), "hex").readUInt32LE(0);

test("gdb stub: i386 target description, registers, breakpoints, step, Ctrl-C, memory, exit", async () => {
  const { m, c } = await session({ arch: "i386" });
  assert.match(await c.cmd("qSupported:multiprocess+;swbreak+;xmlRegisters=i386"), /qXfer:features:read\+/);
  const xml = (await c.cmd("qXfer:features:read:target.xml:0,ffff")).slice(1);
  assert.match(xml, /<architecture>i386<\/architecture>/);
  assert.match(xml, /<reg name="eip" bitsize="32" regnum="8" type="code_ptr"\/>/);
  assert.match(xml, /<reg name="cr3" bitsize="64"/);
  assert.equal(await c.cmd("?"), "T05thread:1;");
  assert.equal(await c.cmd("qfThreadInfo"), "m1");
  let g = await c.cmd("g");
  assert.equal(g.length, (16 * 4 + 8 * 10 + 8 * 4 + 8 * 16 + 4) * 2);   // i386 core + SSE layout
  assert.equal(le32(g, 8), 0x100000);                                // eip
  assert.equal(le32(g, 10) & 0xffff, m.core.getSegment(1).sel);      // cs

  // A breakpoint the guest never sees: stop before the instruction, twice (the resume does not
  // stop again at once), then remove it and single-step.
  assert.equal(await c.cmd("Z0,100005,1"), "OK");
  assert.equal(await c.cmd("c"), "T05thread:1;");
  assert.equal(await c.cmd("p8"), "05001000");
  assert.equal(await c.cmd("p0"), "01000000");                       // eax: inc not yet run
  assert.equal(await c.cmd("c"), "T05thread:1;");
  assert.equal(await c.cmd("p0"), "02000000");                       // one loop iteration
  assert.equal(m.ram[0x100005 - 0x0], 0x40);                         // memory still holds INC
  assert.equal(await c.cmd("z0,100005,1"), "OK");
  assert.equal(await c.cmd("s"), "T05thread:1;");
  assert.equal(await c.cmd("p8"), "06001000");
  assert.equal(await c.cmd("p0"), "03000000");

  // Continue into the endless loop, then Ctrl-C.
  const stopped = c.cmd("c");
  await new Promise((r) => setTimeout(r, 50));
  c.sendRaw("\x03");
  assert.equal(await stopped, "T02thread:1;");
  const eip = le32(await c.cmd("g"), 8);
  assert.ok(eip >= 0x100005 && eip <= 0x10000d, `eip ${eip.toString(16)}`);

  // Memory: read code, write the flag, reject what is not RAM.
  assert.equal(await c.cmd("m100000,5"), "b801000000");
  assert.equal(await c.cmd("M100020,1:01"), "OK");
  assert.equal(await c.cmd("m100020,4"), "01000000");
  assert.equal(await c.cmd("mfee00000,4"), "E14");                   // local APIC MMIO: never touched
  assert.equal(await c.cmd("M8000000,1:00"), "E14");                 // beyond RAM

  // Registers: eax and eip are writable, cs is not; then run to the guest's exit.
  assert.equal(await c.cmd("P0=41000000"), "OK");
  assert.equal(await c.cmd("P8=0f001000"), "OK");
  assert.equal(await c.cmd("Pa=10000000"), "E45");
  assert.equal(await c.cmd("c"), "W83");                             // (0x41 << 1) | 1
  assert.equal(m.ram[0x100100], 0x41);
});

test("gdb stub: x86-64 layout, bad checksum NAK, no-ack mode, watchpoints unsupported", async () => {
  const { c } = await session();
  assert.match(targetXml(), /<architecture>i386:x86-64<\/architecture>/);
  const g = await c.cmd("g");
  assert.equal(g.length, (16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4) * 2);
  assert.equal(Buffer.from(g.slice(16 * 16, 16 * 16 + 16), "hex").readBigUInt64LE(0), 0x100000n);   // rip
  let got = "";
  const save = c.onBytes.bind(c);
  c.onBytes = (b) => { got += Buffer.from(b).toString("latin1"); };
  c.sendRaw("$g#00");
  assert.equal(got, "-");
  c.onBytes = save;
  assert.equal(await c.cmd("QStartNoAckMode"), "OK");
  assert.equal(await c.cmd("Z2,100020,4"), "");                      // write watchpoints: not offered
  assert.equal(await c.cmd("vCont?"), "vCont;c;s");
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine, isBzImage } from "../../build/host.mjs";

// A synthetic bzImage: boot sector + 1 setup sector with a 2.15 setup header, then a 32-bit
// payload that reports ESI's boot_params.type_of_loader and the first command-line byte:
//   movzx eax, byte [esi+0x210] ; mov edx, [esi+0x228] ; movzx edx, byte [edx] ; shl edx, 8
//   or eax, edx ; out 0xf4, eax           (exit status ((loader | cmd[0] << 8) << 1) | 1)
function bzImage({ version = 0x020f, loadflags = 1, payload } = {}) {
  const pm = payload ?? Uint8Array.from(Buffer.from("0fb686100200008b96280200000fb612c1e20809d0e7f4", "hex"));
  const img = new Uint8Array(1024 + pm.length);
  const dv = new DataView(img.buffer);
  img[0x1f1] = 1;                            // setup_sects
  img[0x1fe] = 0x55; img[0x1ff] = 0xaa;
  img[0x200] = 0xeb; img[0x201] = 0x6a;      // jump over the header (its length byte)
  img.set([0x48, 0x64, 0x72, 0x53], 0x202);  // "HdrS"
  dv.setUint16(0x206, version, true);
  img[0x211] = loadflags;
  dv.setUint32(0x214, 0x100000, true);       // code32_start
  dv.setUint32(0x22c, 0x37ffffff, true);     // initrd_addr_max
  dv.setUint32(0x238, 2047, true);           // cmdline_size
  dv.setUint32(0x260, 0x10000, true);        // init_size
  img.set(pm, 1024);
  return img;
}

test("Linux boot protocol: zero page, e820, command line, initrd, 32-bit entry state", async () => {
  const m = await Machine.create({ memBytes: 64 << 20, tsc: "icount" });
  const img = bzImage();
  assert.ok(isBzImage(img));
  const initrd = new Uint8Array(10000).fill(0xab);
  const r = m.loadLinux(img, { cmdline: "console=ttyS0 x", initrd });
  const c = m.core, dv = new DataView(m.ram.buffer, m.ram.byteOffset);
  const bp = r.bootParams;
  assert.equal(c.getReg(6), BigInt(bp));                       // ESI
  assert.equal(c.rip, 0x100000n);
  assert.equal(c.getSegment(1).sel, 0x10);                     // __BOOT_CS
  assert.equal(c.getSegment(3).sel, 0x18);                     // __BOOT_DS
  assert.equal(c.getCr(0) & 0x80000001n, 1n);                  // PE, paging off
  assert.equal(c.rflags & 0x200n, 0n);                         // IF = 0
  assert.equal(m.ram[bp + 0x210], 0xff);                       // type_of_loader
  assert.equal(dv.getUint16(bp + 0x206, true), 0x020f);        // the image's header was copied
  const cmd = dv.getUint32(bp + 0x228, true);
  assert.equal(Buffer.from(m.ram.subarray(cmd, cmd + 16)).toString("latin1"), "console=ttyS0 x\0");
  const rd = dv.getUint32(bp + 0x218, true);
  assert.equal(dv.getUint32(bp + 0x21c, true), 10000);
  assert.equal(rd % 4096, 0);
  assert.ok(rd + 10000 <= (64 << 20) - 0x20000, "initrd below the reserved top");
  assert.equal(m.ram[rd + 9999], 0xab);
  assert.equal(m.ram[bp + 0x1e8], 6);                          // e820 entries
  assert.equal(dv.getBigUint64(bp + 0x2d0 + 3 * 20, true), 0x100000n);
  assert.equal(dv.getUint32(bp + 0x2d0 + 3 * 20 + 16, true), 1);
  assert.equal(dv.getBigUint64(bp + 0x70, true), 0xf0000n);    // acpi_rsdp_addr
  assert.equal(c.getMsr(0x2ff), 0xc06n);                       // MTRRs on, default WB, as a BIOS leaves them
  const run = await m.run({ maxSeconds: 5 });
  assert.equal(run.reason, "exit");
  assert.equal(run.exitCode, (((0x63 << 8) | 0xff) << 1) | 1);   // "c" and 0xff read through ESI
});

test("Linux boot protocol: one-line errors for what cannot boot", async () => {
  const m = await Machine.create({ memBytes: 4 << 20 });
  assert.throws(() => m.loadLinux(new Uint8Array(4096)), /not a Linux bzImage/);
  assert.throws(() => m.loadLinux(bzImage({ version: 0x0201 })), /boot protocol 2\.1 is too old/);
  assert.throws(() => m.loadLinux(bzImage({ loadflags: 0 })), /LOADED_HIGH clear/);
  assert.throws(() => m.loadLinux(bzImage(), { cmdline: "x".repeat(3000) }), /command line of 3000 bytes/);
  assert.throws(() => m.loadLinux(bzImage(), { initrd: new Uint8Array(8 << 20) }), /initrd of 8388608 bytes does not fit/);
});

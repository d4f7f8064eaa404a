import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine, Hpet, HPET_CAP_ID, FwCfg, FW_CFG, acpiSum, PM_TIMER_HZ } from "../../build/host.mjs";

const mk = (opts = {}) => Machine.create({ memBytes: 16 << 20, ...opts });

test("HPET: capabilities, counter from virtual time, enable/halt, counter writes", () => {
  const clk = { t: 0 };
  const h = new Hpet(() => clk.t);
  assert.equal(h.read(0, 4), 0x8086a201);
  assert.equal(HPET_CAP_ID, 0x8086a201);
  assert.equal(h.read(4, 4), 10_000_000);           // 10 ns period
  clk.t = 1000;
  assert.equal(h.read(0xf0, 4), 0);                 // halted
  h.write(0x10, 4, 1);
  clk.t = 1000 + 12345;
  assert.equal(h.read(0xf0, 4), 1234);
  h.write(0xf0, 4, 5);                              // ignored while running
  assert.equal(h.read(0xf0, 4), 1234);
  h.write(0x10, 4, 0);
  clk.t += 1e6;
  assert.equal(h.read(0xf0, 4), 1234);              // frozen
  h.write(0xf0, 4, 0xfffffff0); h.write(0xf4, 4, 1);
  h.write(0x10, 4, 1);
  clk.t += 200;
  assert.equal(h.read(0xf0, 4), 0x00000004);
  assert.equal(h.read(0xf4, 4), 2);                 // carried into the high dword
});

test("HPET timers: one-shot and periodic, routing and legacy replacement", () => {
  const clk = { t: 0 };
  const h = new Hpet(() => clk.t);
  const irqs = [];
  h.setIrq = (g, l) => { if (l) irqs.push([g, clk.t]); };
  const t0 = 0x100, t1 = 0x120;
  assert.equal(h.read(t0 + 4, 4), 0x00f00904);     // routing capability
  h.write(t1, 4, (11 << 9) | 4);                   // timer 1: one-shot, route 11, enabled
  h.write(t1 + 8, 4, 100); h.write(t1 + 12, 4, 0);  // at counter 100 = 1000 ns (high dword resets from ~0)
  h.write(0x10, 4, 1);
  assert.equal(h.nextDeadline(0), 1000);
  h.tick(999); assert.deepEqual(irqs, []);
  clk.t = 1000; h.tick(1000); assert.deepEqual(irqs, [[11, 1000]]);
  clk.t = 5000; h.tick(5000); assert.equal(irqs.length, 1);   // one-shot
  // timer 0 periodic, 32-bit, with SETVAL: first at 600, then every 50 ticks
  h.write(t0, 4, (1 << 3) | (1 << 6) | (1 << 2) | (1 << 8) | (2 << 9));
  h.write(t0 + 8, 4, 600);
  h.write(t0 + 8, 4, 50);
  assert.equal(h.read(t0 + 8, 4), 600);
  clk.t = 6000; h.tick(6000);
  assert.deepEqual(irqs[1], [2, 6000]);
  assert.equal(h.read(t0 + 8, 4), 650);
  assert.equal(h.nextDeadline(6000), 6500);
  // legacy replacement: timer 0 -> IRQ0, timer 1 -> IRQ8
  let leg = null; h.onLegacy = (on) => { leg = on; };
  h.write(0x10, 4, 3);
  assert.equal(leg, true);
  clk.t = 6500; h.tick(6500);
  assert.deepEqual(irqs[2], [0, 6500]);
  // level-triggered status: set on fire, write 1 to clear
  h.write(t1, 4, (11 << 9) | 4 | 2);
  h.write(t1 + 8, 4, 700);
  clk.t = 7000; h.tick(7000);
  assert.equal(h.read(0x20, 4) & 2, 2);
  h.write(0x20, 4, 2);
  assert.equal(h.read(0x20, 4) & 2, 0);
});

test("fw_cfg: signature, ID, CPUs, RAM size, file directory", async () => {
  const m = await mk({ cpus: 2 });
  const item = (key, n) => { m.io.write(0x510, 2, key); const b = []; for (let i = 0; i < n; i++) b.push(m.io.read(0x511, 1)); return b; };
  assert.equal(String.fromCharCode(...item(FW_CFG.SIGNATURE, 4)), "QEMU");
  assert.deepEqual(item(FW_CFG.ID, 4), [1, 0, 0, 0]);
  assert.deepEqual(item(FW_CFG.NB_CPUS, 2), [2, 0]);
  assert.deepEqual(item(FW_CFG.MAX_CPUS, 2), [2, 0]);
  assert.deepEqual(item(FW_CFG.RAM_SIZE, 8), [0, 0, 0, 1, 0, 0, 0, 0]);   // 16 MiB
  assert.deepEqual(item(0x11, 8), [0, 0, 0, 0, 0, 0, 0, 0]);              // unknown item: zeros
  assert.deepEqual(item(FW_CFG.SIGNATURE, 6).slice(4), [0, 0]);            // past the end: 0
  const f = new FwCfg({ ramBytes: 1 << 20, cpus: 1 });
  const key = f.addFile("etc/test", new Uint8Array([7, 8, 9]));
  f.select(FW_CFG.FILE_DIR);
  const dir = []; for (let i = 0; i < 4 + 64; i++) dir.push(f.readByte());
  assert.deepEqual(dir.slice(0, 4), [0, 0, 0, 1]);        // big-endian count
  assert.deepEqual(dir.slice(4, 8), [0, 0, 0, 3]);        // size
  assert.deepEqual(dir.slice(8, 10), [0, key]);           // select
  assert.equal(String.fromCharCode(...dir.slice(12, 20)), "etc/test");
});

test("ACPI: RSDP found in the BIOS area, every checksum valid, table contents", async () => {
  const m = await mk({ cpus: 2 });
  const ram = m.ram, dv = new DataView(ram.buffer, ram.byteOffset);
  let rsdp = -1;
  for (let a = 0xe0000; a < 0x100000; a += 16) if (String.fromCharCode(...ram.subarray(a, a + 8)) === "RSD PTR ") { rsdp = a; break; }
  assert.ok(rsdp >= 0xe0000 && rsdp % 16 === 0);
  assert.equal(acpiSum(ram, rsdp, 20), 0);
  assert.equal(acpiSum(ram, rsdp, 36), 0);
  assert.equal(ram[rsdp + 15], 2);
  const sig = (a) => String.fromCharCode(...ram.subarray(a, a + 4));
  const len = (a) => dv.getUint32(a + 4, true);
  const rsdt = dv.getUint32(rsdp + 16, true), xsdt = Number(dv.getBigUint64(rsdp + 24, true));
  assert.equal(sig(rsdt), "RSDT"); assert.equal(sig(xsdt), "XSDT");
  const tabs = {};
  for (let i = 0; i < (len(rsdt) - 36) / 4; i++) { const a = dv.getUint32(rsdt + 36 + 4 * i, true); tabs[sig(a)] = a; }
  for (let i = 0; i < (len(xsdt) - 36) / 8; i++) assert.equal(Number(dv.getBigUint64(xsdt + 36 + 8 * i, true)), tabs[sig(Number(dv.getBigUint64(xsdt + 36 + 8 * i, true)))]);
  assert.deepEqual(Object.keys(tabs).sort(), ["APIC", "FACP", "HPET"]);
  const facp = tabs.FACP;
  const dsdt = dv.getUint32(facp + 40, true), facs = dv.getUint32(facp + 36, true);
  for (const a of [rsdt, xsdt, facp, tabs.APIC, tabs.HPET, dsdt]) assert.equal(acpiSum(ram, a, len(a)), 0, sig(a));
  assert.equal(sig(dsdt), "DSDT"); assert.equal(sig(facs), "FACS"); assert.equal(facs % 64, 0);
  assert.equal(len(facp), 244);
  assert.equal(dv.getUint32(facp + 76, true), 0x608);            // PM_TMR_BLK
  assert.equal(ram[facp + 91], 4);
  assert.ok(dv.getUint32(facp + 112, true) & (1 << 10));         // RESET_REG_SUP
  assert.equal(ram[facp + 116], 1);                              // reset reg in I/O space
  assert.equal(Number(dv.getBigUint64(facp + 120, true)), 0xcf9);
  assert.equal(ram[facp + 128], 6);
  // MADT: LAPIC address, 2 CPUs, IOAPIC at 0xfec00000, IRQ0 -> GSI 2
  const madt = tabs.APIC;
  assert.equal(dv.getUint32(madt + 36, true), 0xfee00000);
  const ents = [];
  for (let o = madt + 44; o < madt + len(madt); o += ram[o + 1]) ents.push([ram[o], o]);
  assert.deepEqual(ents.filter(([t]) => t === 0).map(([, o]) => ram[o + 3]), [0, 1]);
  const io = ents.find(([t]) => t === 1)[1];
  assert.equal(dv.getUint32(io + 4, true), 0xfec00000);
  const isos = ents.filter(([t]) => t === 2).map(([, o]) => [ram[o + 3], dv.getUint32(o + 4, true), dv.getUint16(o + 8, true)]);
  assert.deepEqual(isos[0], [0, 2, 0]);
  assert.ok(ents.some(([t, o]) => t === 4 && ram[o + 5] === 1));
  // HPET table
  assert.equal(dv.getUint32(tabs.HPET + 36, true), 0x8086a201);
  assert.equal(Number(dv.getBigUint64(tabs.HPET + 44, true)), 0xfed00000);
});

test("ACPI PM timer counts at 3.579545 MHz from virtual time; PM1 control", async () => {
  const m = await mk({ tsc: "icount" });
  const a = m.io.read(0x608, 4);
  m.core.setReg(0, 0);
  // advance virtual time by 1 ms (icount: skipped time counts too)
  const before = m.nowNs();
  m["skippedNs"] += 1e6;
  const b = m.io.read(0x608, 4);
  assert.ok(m.nowNs() - before >= 1e6);
  const ticks = (b - a) & 0xffffff;
  assert.ok(Math.abs(ticks - PM_TIMER_HZ / 1000) <= 2, String(ticks));
  assert.equal(m.io.read(0x604, 2) & 1, 1);                      // SCI_EN: ACPI mode
});

test("PCI config: host bridge, PIIX, pci-testdev and its BARs", async () => {
  const m = await mk();
  const cfg = (dev, fn, off, size = 4) => { m.io.write(0xcf8, 4, (0x80000000 | (dev << 11) | (fn << 8) | (off & 0xfc)) >>> 0); return m.io.read(0xcfc + (off & 3), size); };
  const wcfg = (dev, fn, off, v) => { m.io.write(0xcf8, 4, (0x80000000 | (dev << 11) | (fn << 8) | off) >>> 0); m.io.write(0xcfc, 4, v); };
  assert.equal(cfg(0, 0, 0), 0x12378086);
  assert.equal(cfg(0, 0, 8) >>> 8, 0x060000);
  assert.equal(cfg(1, 0, 0), 0x70008086);
  assert.equal(cfg(1, 0, 0xe, 1), 0x80);
  assert.equal(cfg(1, 3, 0), 0x71138086);
  assert.equal(cfg(2, 0, 0), 0x00051b36);
  assert.equal(cfg(2, 0, 2, 2), 0x0005);
  assert.equal(cfg(3, 0, 0), 0xffffffff);                        // empty slot
  assert.equal(m.io.read(0xcf8, 4), 0x80001800);             // address register reads back
  const bar0 = cfg(2, 0, 0x10), bar1 = cfg(2, 0, 0x14);
  assert.equal(bar0, 0xfebff000);
  assert.equal(bar1, 0xc001);
  // size probing
  wcfg(2, 0, 0x10, 0xffffffff); assert.equal(cfg(2, 0, 0x10), 0xfffff000);
  wcfg(2, 0, 0x10, bar0);
  wcfg(2, 0, 0x14, 0xffffffff); assert.equal(cfg(2, 0, 0x14), 0xffffff01);
  wcfg(2, 0, 0x14, bar1);
  // the testdev protocol through both BARs: select test 0, read its name, hit the offset
  m.mmioWrite(0xfebff000, 1, 0);
  const off = m.mmioRead(0xfebff004, 4);
  assert.equal(off, 2048);
  let name = ""; for (let i = 16; ; i++) { const c = m.mmioRead(0xfebff000 + i, 1); if (!c) break; name += String.fromCharCode(c); }
  assert.equal(name, "mmio-no-eventfd");
  const data = m.mmioRead(0xfebff008, 1);
  m.mmioWrite(0xfebff000 + off, 1, data);
  assert.equal(m.pciTestdev.count(0), 1);
  m.io.write(0xc000, 1, 2);                                      // portio-datamatch-eventfd
  const poff = m.io.read(0xc004, 4);
  assert.equal(poff, 128 + 5);
  m.io.write(0xc000 + poff, 1, 0xfa);
  m.io.write(0xc000 + poff, 1, 0x11);                           // data mismatch: not counted
  assert.equal(m.pciTestdev.count(5), 1);
});

test("pc-testdev: scratch ports, IRQ lines to PIC and IOAPIC, iomem", async () => {
  const m = await mk();
  m.io.write(0xe0, 4, 0x11223344);
  assert.equal(m.io.read(0xe0, 4), 0x11223344);
  assert.equal(m.io.read(0xe2, 2), 0x1122);
  m.io.write(0xe1, 1, 0xaa);
  assert.equal(m.io.read(0xe0, 4), 0x1122aa44);
  m.mmioWrite(0xff000010, 4, 0xdeadbeef);
  assert.equal(m.mmioRead(0xff000012, 2), 0xdead);
  assert.equal(m.mmioRead(0xff00fffe, 2), 0);
  m.io.write(0xe4, 4, 0x12345);
  assert.equal(m.testdev.lastFlush, 0x12000);
  // line 14 -> IOAPIC pin 14 (vector 0x70), and the 8259 IRR
  m.mmioWrite(0xfec00000, 4, 0x10 + 28); m.mmioWrite(0xfec00010, 4, 0x8070);
  m.mmioWrite(0xfee000f0, 4, 0x1ff);
  m.io.write(0x2000 + 14, 1, 1);
  assert.ok(m.ioapic.remoteIrr(14));
  assert.equal(m.intAck(), 0x70);
  m.io.write(0xa0, 1, 0x0a);                                     // read slave IRR
  assert.equal(m.io.read(0xa0, 1) & 0x40, 0x40);
  m.io.write(0x2000 + 14, 1, 0);
  m.mmioWrite(0xfee000b0, 4, 0);
  assert.ok(!m.ioapic.remoteIrr(14));
});

test("port 0xCF9 bit 2 resets the machine", async () => {
  const m = await mk();
  m.io.write(0xcf9, 1, 0x06);
  const r = await m.run({ maxSeconds: 2 });
  assert.equal(r.reason, "shutdown");
});

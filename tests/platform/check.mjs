// The platform smoke check shared by tests/platform/deno.mjs and the Chromium page:
// exercises build/host.mjs (or the `nestvm` global) without Node-only APIs.
// Returns a list of failures (empty = pass).
export async function platformCheck(nestvm, demo, log = () => {}) {
  const fails = [];
  const check = (ok, what) => { if (!ok) fails.push(what); log(`${ok ? "ok  " : "FAIL"} ${what}`); };
  const { Machine, runImage } = nestvm;
  const m = await Machine.create({ memBytes: 8 << 20 });
  check(m.io.read(0x1234, 4) === 0xffffffff, "unclaimed port reads all-ones");
  check(m.io.read(0x3fd, 1) === 0x60, "UART LSR reads THRE|TEMT");
  // a.out-kludge multiboot image: header at 0, loaded at 1 MiB
  const img = new Uint8Array(64);
  const dv = new DataView(img.buffer);
  dv.setUint32(0, 0x1badb002, true); dv.setUint32(4, 0x10000, true); dv.setUint32(8, (-(0x1badb002 + 0x10000)) >>> 0, true);
  dv.setUint32(12, 0x100000, true); dv.setUint32(16, 0x100000, true); dv.setUint32(20, 0, true);
  dv.setUint32(24, 0x101000, true); dv.setUint32(28, 0x100020, true);
  img.set([0x0f, 0xff], 0x20);                            // UD0
  const r = m.loadMultiboot(img, { name: "smoke", append: "x" });
  check(r.entry === 0x100020 && m.core.getReg(0) === 0x2badb002n, "multiboot load sets entry and EAX");
  const res = await m.run({ maxSeconds: 5 });
  check(res.reason !== "error" && res.reason !== "timeout", `run() ends with an architectural outcome (${res.reason})`);
  if (demo && demo.length) {
    const d = await runImage(demo, { name: "demo.elf", maxSeconds: 60 });
    log(d.serial);
    check((d.reason === "exit" || d.reason === "halt") && d.serial.length > 0, `demo boots and prints (${d.reason})`);
  } else {
    log("(no demo image in this build: demo boot skipped)");
  }
  return fails;
}

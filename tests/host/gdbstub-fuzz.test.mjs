import { test } from "node:test";
import assert from "node:assert/strict";
import { Machine, GdbStub } from "../../build/host.mjs";

// The gdb stub against hostile clients: garbage, broken framing, malformed arguments for every
// command, commands at the wrong time. It never throws, every reply is a well-formed packet, and
// the machine still runs afterwards.

// Flat 32-bit guest: mov eax, 1; loop: inc eax; cmp byte [0x100020], 0; je loop;
// mov [0x100100], eax; out 0xf4, eax; hlt; ... flag: dd 0
const GUEST = Uint8Array.from(Buffer.from("b80100000040803d200010000074f6a300011000e7f4f490909090909090909000000000", "hex"));

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}
const sum = (body) => { let s = 0; for (const c of body) s = (s + c.charCodeAt(0)) & 0xff; return s.toString(16).padStart(2, "0"); };
const frame = (body) => `$${body}#${sum(body)}`;

/** A stub whose output is parsed strictly: acks, NAKs and checksummed packets only. */
async function setup(opts = {}) {
  const m = await Machine.create({ memBytes: 4 << 20, tsc: "icount", cpus: opts.cpus ?? 1 });
  m.loadFlat(GUEST);
  const out = { raw: "", replies: [], detached: 0, exits: 0 };
  const stub = new GdbStub(m, (b) => {
    out.raw += Buffer.from(b).toString("latin1");
    for (;;) {
      while (out.raw[0] === "+" || out.raw[0] === "-") out.raw = out.raw.slice(1);
      if (!out.raw.length) return;
      const x = /^\$([^#$]*)#([0-9a-f]{2})/.exec(out.raw);
      assert.ok(x, `malformed output: ${JSON.stringify(out.raw.slice(0, 80))}`);
      assert.equal(x[2], sum(x[1]), `checksum of ${x[1].slice(0, 40)}`);
      out.replies.push(x[1]);
      out.raw = out.raw.slice(x[0].length);
    }
  }, { arch: opts.arch, onDetach: () => { out.detached++; }, onExit: () => { out.exits++; } });
  const send = (s) => { assert.doesNotThrow(() => stub.receive(Buffer.from(s, "latin1")), `receive(${JSON.stringify(s.slice(0, 60))})`); };
  /** One packet, its reply (or undefined when there is none). */
  const ask = async (body) => {
    const n = out.replies.length;
    send(frame(body));
    await stub.idle;
    return out.replies.length > n ? out.replies[out.replies.length - 1] : undefined;
  };
  return { m, stub, out, send, ask };
}
const ERR = /^(E[0-9a-fA-F]{2})?$/;

test("gdb stub: malformed arguments for every command get E.. or an empty reply", { timeout: 30000 }, async () => {
  const { m, ask, send, out } = await setup({ arch: "i386" });
  const bad = {
    m: ["", ",", "zz,4", "100000", "100000,", "100000,zz", "100000,-4", "-100000,4", "100000,10001", "100000,ffffffffffffffffff"],
    M: ["", "100000,4", "100000,4:", "100000,4:0102", "100000,2:zzzz", "100000,1:010203", "zz,1:00", "100000,-1:00", "ffffffffffffffff,1:00"],
    X: ["100000,1:a", "", "zz"],
    p: ["", "zz", "-1", "ffff", "ffffffffffffffffffff", "8zz"],
    P: ["", "=", "zz=00", "8", "8=", "8=zz", "8=00", "ffff=00000000", "-1=00", "30=0100000000000000"],
    G: ["z", "0", "000"],
    Z: ["", "0", "0,", "0,zz", "0,,1", "2,100000,1", "9,0,0", "0,-5,1"],
    z: ["", "0", "0,zz", "0,-5,1"],
    H: ["", "g", "gzz", "g99", "c-2", "x1"],
    T: ["", "zz", "99", "-5"],
    q: ["Xfer:features:read:target.xml:", "Xfer:features:read:target.xml:zz,10", "Xfer:features:read:target.xml:0", "Xfer:features:read:target.xml:-5,10",
      "Xfer:features:read:target.xml:10,-5", "Xfer:features:read:other.xml:0,10", "Xfer:memory-map:read::0,10", "ThreadExtraInfo,", "ThreadExtraInfo,zz",
      "ThreadExtraInfo,99", "ThreadExtraInfo,-1", "Rcmd,zz", "Bogus"],
    Q: ["", "Bogus"],
    v: ["", "Cont;", "Cont;x", "Cont;s:zz", "Cont;s:99", "File:open:", "Bogus"],
    c: ["zz", "-1", "0x100000"],
    s: ["zz", "-1"],
    "!": [""], A: ["x"], b: ["x"], B: ["x"], i: [""], R: ["00"], t: ["x"], "\x7f": [""],
  };
  for (const [cmd, args] of Object.entries(bad)) {
    for (const a of args) {
      const r = await ask(cmd + a);
      assert.ok(r !== undefined && ERR.test(r), `${cmd}${a}: ${r}`);
    }
  }
  // Nothing changed: the guest is still at its entry with its registers and code.
  assert.equal(m.core.rip, 0x100000n);
  assert.equal(m.ram[0x100000], 0xb8);
  // The G packet is all or nothing: a changed segment register (read-only here) changes nothing.
  const g = await ask("g");
  const eaxChanged = "78563412" + g.slice(8);
  const csChanged = eaxChanged.slice(0, 10 * 8) + "99000000" + eaxChanged.slice(11 * 8);
  assert.equal(await ask("G" + csChanged), "E45");
  assert.equal(await ask("g"), g, "G E45 left every register as it was");
  assert.equal(await ask("G" + eaxChanged), "OK");
  assert.equal(m.core.getReg(0), 0x12345678n);
  // qXfer: offsets beyond the document are an empty last part.
  assert.equal(await ask("qXfer:features:read:target.xml:ffffff,10"), "l");
  assert.equal(await ask("qXfer:features:read:target.xml:ffffffffffffffffffff,ffffffffffffffffffff"), "l");
  // Bad checksums are NAKed and dropped, and so are never-ending packets.
  const n = out.replies.length;
  send("$g#00"); send("$g#zz"); send("$g#"); send("#00"); send("junk\x00\xff+-");
  send("$" + "a".repeat(0x50000));
  assert.equal(out.replies.length, n, "no reply to a broken packet");
  assert.equal(await ask("?"), "T05thread:1;", "the framing recovers");
  // A huge packet in one receive() (a spread of it would overflow the stack), and a huge valid one.
  send("x".repeat(1 << 20));
  assert.equal(await ask("M100200,1:" + "00".repeat(0x8000)), "E22");
  assert.equal(await ask("m100000," + "4"), "b8010000");
  // Ctrl-C while nothing runs: nothing happens.
  send("\x03\x03");
  assert.equal(out.replies.length, n + 3);
  // Run, then Ctrl-C; commands sent while running are ignored (all-stop), not answered late.
  send(frame("c")); send(frame("g")); send(frame("m100000,4")); send("\x03");
  await new Promise((r) => setTimeout(r, 0));
  const st = await ask("?");
  assert.ok(out.replies.includes("T02thread:1;"), out.replies.slice(-4).join(" "));
  assert.equal(st, "T02thread:1;", "? repeats the last stop (SIGINT)");
  // Let the guest exit, then everything after: W00 for run requests, registers still readable.
  assert.equal(await ask("M100020,1:01"), "OK");
  const w = await ask("c");
  assert.match(w, /^W[0-9a-f]{2}$/);
  for (const c of ["c", "s", "vCont;c", "c100000"]) assert.equal(await ask(c), "W00", c);
  assert.equal(await ask("?"), "W00");
  assert.match(await ask("g"), /^[0-9a-f]+$/);
  assert.equal(await ask("D"), "OK");
});

test("gdb stub: seeded fuzz of packets, framing and timing", { timeout: 30000 }, async () => {
  const t0 = Date.now();
  for (const [seed, cpus, arch] of [[0x9db1, 1, "i386"], [0x5eed2, 2, "x86-64"]]) {
    const { m, stub, send, ask, out } = await setup({ cpus, arch });
    const next = rng(seed);
    const hexs = (n) => Array.from({ length: n }, () => "0123456789abcdef"[next() & 15]).join("");
    const num = () => [() => hexs(1 + (next() % 20)), () => "", () => "-" + hexs(2), () => "zz", () => "100000", () => "ffffffffffffffff", () => hexs(2)][next() % 7]();
    const cmds = [
      () => `m${num()},${num()}`, () => `M${num()},${num()}:${hexs(2 * (next() % 8))}`, () => `X${num()},${num()}:${hexs(4)}`,
      () => `p${num()}`, () => `P${num()}=${hexs(2 * (next() % 20))}`, () => "g", () => `G${hexs(next() % 2000)}`,
      () => `Z${next() % 4},${num()},1`, () => `z${next() % 4},${num()},1`, () => `Hg${num()}`, () => `Hc${num()}`, () => `T${num()}`,
      () => `qXfer:features:read:target.xml:${num()},${num()}`, () => `qThreadExtraInfo,${num()}`, () => "qfThreadInfo", () => "qC",
      () => "?", () => `vCont;${["s", "s:1", "s:2", "s:zz", "x", ""][next() % 6]}`, () => "s", () => `s${num()}`, () => "QStartNoAckMode",
      () => String.fromCharCode(...Array.from({ length: next() % 12 }, () => 0x20 + (next() % 95))),
    ];
    let noAck = false;
    for (let i = 0; i < 1500; i++) {
      const body = cmds[next() % cmds.length]();
      if (body === "QStartNoAckMode") noAck = true;
      const r = next() % 10;
      if (r === 0) send(`$${body}#${hexs(2)}`);                       // random checksum
      else if (r === 1) send(String.fromCharCode(...Array.from({ length: next() % 16 }, () => next() & 0xff)));   // garbage
      else if (r === 2) { send(frame("c")); send(frame(body)); send("\x03"); }   // run, a command while running, Ctrl-C
      else if (r === 3) { const f = frame(body); const k = next() % (f.length + 1); send(f.slice(0, k)); send(f.slice(k)); }   // split
      else { const reply = await ask(body); assert.ok(reply !== undefined || noAck || /^[\x00-\x1f]|^$|^k/.test(body) || body.startsWith("$"), `no reply to ${body}`); }
      await stub.idle;
      assert.ok(m.curCpu >= 0 && m.curCpu < cpus, "a valid vCPU is selected");
    }
    // The machine still works: a clean session can read it and run it to an architectural end.
    await stub.idle;
    assert.equal(out.raw.length < 0x100, true);
    const r = await m.run({ maxInstructions: 5000 });
    assert.ok(["exit", "halt", "shutdown", "timeout", "stopped", "breakpoint"].includes(r.reason), `${r.reason}: ${r.message}`);
  }
  assert.ok(Date.now() - t0 < 5000, `fuzz took ${Date.now() - t0} ms`);
});

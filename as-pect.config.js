// as-pect configuration for the wasm core's unit specs (tests/as/*.spec.ts).
// Run: npm run test:as   (asp --config as-pect.config.js --as-config as-pect.asconfig.json)
// Host imports are fakes: ports and MMIO read as all-ones and writes are dropped, except
//  port 0xE0: loopback latch (OUT stores, IN returns it); port 0xE1: OUT sets the vector
//  intAck() returns (-1 until then); port 0xE2: IN returns the number of OUTs so far.
//  nowNs() advances 500 ns per call.
//  msrRead/msrWrite: IA32_APIC_BASE (0x1b) is a plain register (0xfee00900 at start); every
//  other forwarded MSR is #GP(0). tprWrite(cr8): port 0xE3 IN returns the last value (-1 none).
//  pmi(): port 0xE4 IN returns the number of calls so far.
let latch = 0, ackVector = -1, outs = 0, pmis = 0, clock = 0, apicBase = 0xfee00900n, lastTpr = -1, memRef;
export default {
  entries: ["tests/as/**/*.spec.ts"],
  include: ["tests/as/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const mask = (size) => (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1);
    const env = {
      memory,
      portIn(port, size) {
        if (port === 0xe0) return (latch & mask(size)) | 0;
        if (port === 0xe2) return outs;
        if (port === 0xe3) return lastTpr;
        if (port === 0xe4) return pmis;
        return mask(size) | 0;
      },
      portOut(port, size, value) {
        outs++;
        if (port === 0xe0) latch = value >>> 0;
        if (port === 0xe1) ackVector = value & 0xff;
      },
      mmioRead(_pa, size) { return mask(size) | 0; },
      mmioWrite() {},
      intAck() { return ackVector; },
      nowNs() { clock += 500; return clock; },
      msrRead(index, out) {
        if (index !== 0x1b || !memRef) return 0;
        new DataView(memRef.buffer).setBigUint64(out >>> 0, apicBase, true);
        return 1;
      },
      msrWrite(index, value) {
        if (index !== 0x1b) return 0;
        apicBase = BigInt.asUintN(64, value);
        return 1;
      },
      tprWrite(cr8) { lastTpr = cr8 >>> 0; },
      pmi() { pmis++; },
    };
    const res = await instantiate(binary, createImports({ env }));
    const inst = res.instance ?? res;
    memRef = inst.exports.memory;
    return res;
  },
  outputBinary: false,
};

// as-pect configuration for the wasm core's unit specs (tests/as/*.spec.ts).
// Run: npm run test:as   (asp --config as-pect.config.js --as-config as-pect.asconfig.json)
// Host imports are fakes: ports and MMIO read as all-ones and writes are dropped, except
//  port 0xE0: loopback latch (OUT stores, IN returns it); port 0xE1: OUT sets the vector
//  intAck() returns (-1 until then); port 0xE2: IN returns the number of OUTs so far.
//  nowNs() advances 500 ns per call.
let latch = 0, ackVector = -1, outs = 0, clock = 0;
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
    };
    return instantiate(binary, createImports({ env }));
  },
  outputBinary: false,
};

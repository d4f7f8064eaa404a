// as-pect configuration for the wasm core's unit specs (tests/as/*.spec.ts).
// Run: npm run test:as   (asp --config as-pect.config.js --as-config as-pect.asconfig.json)
export default {
  entries: ["tests/as/**/*.spec.ts"],
  include: ["tests/as/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    // The core's host imports. Specs run without devices: ports and MMIO read as
    // all-ones, writes are dropped, no interrupt is pending, time is fixed.
    const env = {
      memory,
      portIn: (_port, size) => (size === 4 ? -1 : (1 << (size * 8)) - 1),
      portOut: () => {},
      mmioRead: (_pa, size) => (size === 4 ? -1 : (1 << (size * 8)) - 1),
      mmioWrite: () => {},
      intAck: () => -1,
      nowNs: () => 0,
    };
    return instantiate(binary, createImports({ env }));
  },
  outputBinary: false,
};

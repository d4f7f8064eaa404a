// as-pect: specs for assembly/ live in tests/as/*.spec.ts. Host imports are stubbed:
// port reads and MMIO reads return all-ones and are logged in globalThis.__io for specs.
export default {
  entries: ["tests/as/**/*.spec.ts"],
  include: ["tests/as/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const io = (globalThis.__io = []);
    const env = {
      memory,
      portIn: (port, size) => { io.push(["in", port, size]); return -1; },
      portOut: (port, size, value) => { io.push(["out", port, size, value]); },
      mmioRead: (pa, size) => { io.push(["mr", pa >>> 0, size]); return -1; },
      mmioWrite: (pa, size, value) => { io.push(["mw", pa >>> 0, size, value >>> 0]); },
      intAck: () => -1,
      nowNs: () => 0,
    };
    return instantiate(binary, createImports({ env }));
  },
  outputBinary: false,
};

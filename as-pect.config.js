// Minimal as-pect config (created by the sse engineer; the integer engineer owns the real one).
export default {
  entries: ["tests/as/**/*.spec.ts"],
  include: ["tests/as/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(memory, createImports, instantiate, binary) {
    const env = {
      memory,
      portIn: () => 0xffffffff, portOut: () => {},
      mmioRead: () => 0xffffffff, mmioWrite: () => {},
      intAck: () => -1, nowNs: () => 0,
    };
    return instantiate(binary, createImports({ env }));
  },
  outputBinary: false,
};

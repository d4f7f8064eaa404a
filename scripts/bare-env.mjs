// The wasm core's imports for tools that run it without the host's devices (differential
// tester, microbenchmarks, oracles): ports and MMIO read all-ones, no interrupts, time fixed,
// host-owned MSRs (APIC) give #GP. One list, so a new core import is added in one place.
export function bareEnv(overrides = {}) {
  return {
    portIn: () => -1, portOut: () => {}, mmioRead: () => -1, mmioWrite: () => {},
    intAck: () => -1, nowNs: () => 0,
    msrRead: () => 0, msrWrite: () => 0, tprWrite: () => {}, pmi: () => {},
    abort: (m, f, l, c) => { throw new Error(`wasm abort at ${l}:${c}`); },
    ...overrides,
  };
}

// Imports from the TypeScript host. Each is a wasm -> JS call (~4 ns), so the core
// only calls these for what the host owns: port I/O, MMIO of host devices,
// interrupt acknowledge, and time.

// Port I/O. size is 1, 2 or 4 bytes. Unclaimed ports read as all-ones (host decides).
@external("env", "portIn") export declare function portIn(port: u32, size: u32): u32;
@external("env", "portOut") export declare function portOut(port: u32, size: u32, value: u32): void;
// Memory-mapped I/O below 4 GiB that is not RAM (APIC, IOAPIC, HPET, testdev iomem...).
@external("env", "mmioRead") export declare function mmioRead(pa: u32, size: u32): u32;
@external("env", "mmioWrite") export declare function mmioWrite(pa: u32, size: u32, value: u32): void;
// Interrupt acknowledge: the vector of the highest-priority pending external interrupt
// (the INTA cycle of the PIC/APIC), or -1 if it went away.
@external("env", "intAck") export declare function intAck(): i32;
// Host clock for RDTSC in realtime mode: nanoseconds since the machine started, as f64.
@external("env", "nowNs") export declare function nowNs(): f64;
// Local APIC MSRs the host owns (IA32_APIC_BASE 0x1b, IA32_TSC_DEADLINE 0x6e0, x2APIC
// 0x800-0x8ff): RDMSR stores the u64 at `out` and returns 1, or returns 0 for #GP(0);
// WRMSR returns 1, or 0 for #GP(0).
@external("env", "msrRead") export declare function msrRead(index: u32, out: usize): u32;
@external("env", "msrWrite") export declare function msrWrite(index: u32, value: u64): u32;
// MOV to CR8 (TPR[7:4] = CR8[3:0], SDM 11.8.6): the host's APIC re-evaluates INTR at once.
@external("env", "tprWrite") export declare function tprWrite(cr8: u32): void;
// A performance counter overflowed with its INT bit set (cpu/pmu.ts): the local APIC sends its
// LVT performance-counter interrupt (SDM 21.6.3.5.8). May be called inside an instruction.
@external("env", "pmi") export declare function pmi(): void;

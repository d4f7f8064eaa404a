// The embedding API (build/host.mjs, and the `nestvm` global of build/nestvm.iife.js).
export { Machine, runImage } from "./machine";
export type { MachineOptions, RunOptions, RunResult, RunImageOptions, RunImageResult, StopReason, TscMode } from "./machine";
export { Core, CoreAbort, REG, SEG, EFER } from "./core";
export { IoBus, MmioBus } from "./bus";
export type { PortDevice, MmioDevice } from "./bus";
export { Pic8259 } from "./devices/pic8259";
export { Pit8254, PIT_HZ } from "./devices/pit8254";
export { Uart16550 } from "./devices/uart16550";
export { Cmos } from "./devices/cmos";
export { DebugExit, PostPort, Port92 } from "./devices/misc";
export { loadMultiboot, findMultibootHeader, e820Map, MBI_ADDR, MMAP_ADDR, GDT_ADDR, BOOTLOADER_NAME } from "./loaders/multiboot";
export { loadFlat } from "./loaders/flat";
export { parseElf } from "./loaders/elf";
export { LoadError } from "./loaders/common";

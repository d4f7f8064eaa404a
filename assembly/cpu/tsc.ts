// Time-stamp counter (SDM 18.17). Two sources, chosen by the host:
//  realtime (default): host nowNs() at a nominal 2.0 GHz;
//  icount: instructions retired (state.icount plus the slice in flight).
// IA32_TSC writes and IA32_TSC_ADJUST move a common offset (SDM 18.17.3).
import { nowNs } from "../host";
import { icount } from "./state";
import { inFlight } from "./run";

export const TSC_REALTIME: u32 = 0, TSC_ICOUNT: u32 = 1;
export let tscMode: u32 = TSC_REALTIME;
export const TSC_GHZ: f64 = 2.0;

let offset: u64 = 0;      // guest TSC = raw + offset
export let tscAdjust: u64 = 0;

function raw(): u64 {
  if (tscMode == TSC_ICOUNT) return icount + inFlight();
  return <u64>(nowNs() * TSC_GHZ);
}
export function setTscMode(m: u32): void {
  const cur = readTsc();
  tscMode = m == TSC_ICOUNT ? TSC_ICOUNT : TSC_REALTIME;
  offset = cur - raw();     // keep the guest-visible TSC continuous across the switch
}
export function readTsc(): u64 { return raw() + offset; }
// WRMSR IA32_TSC: TSC_ADJUST moves by the same amount (SDM 18.17.3).
export function writeTsc(v: u64): void {
  const cur = readTsc();
  offset += v - cur;
  tscAdjust += v - cur;
}
export function writeTscAdjust(v: u64): void {
  offset += v - tscAdjust;
  tscAdjust = v;
}
export function resetTsc(): void { offset = 0 - raw(); tscAdjust = 0; }

// Virtual-interrupt delivery and posted-interrupt processing (SDM Vol.3C 30.1.3-30.1.5, 30.2,
// 30.6). State lives where the SDM puts it: RVI/SVI in the guest interrupt status field (0810H),
// VTPR/VPPR/VISR/VIRR/VICR on the virtual-APIC page (vapic.ts vapicPage), the EOI-exit bitmaps
// in the VMCS, the PIR and the outstanding-notification bit in L1's posted-interrupt descriptor.
// A recognized virtual interrupt sets `V.vmxPoll`; intercept.ts pollExits delivers it through
// the L2 IDT when RFLAGS.IF = 1 (STI / MOV SS blocking is honoured by cpu/run.ts), after NMIs
// and external interrupts (which exit: VID requires external-interrupt exiting).
import * as S from "../cpu/state";
import { getRflags } from "../cpu/flags";
import { physRead, physWrite } from "../mmu/phys";
import { deliverEvent, EV_EXT, intrLine, nmiPending, nmiBlocked } from "../cpu/interrupts";
import { vmcsRead as rd, vmcsWrite as wr } from "./fields";
import * as V from "./vstate";
import { vmExit } from "./exit";
import * as M from "../cpu/msr";

export const PROC2_VID: u32 = 1 << 9;
export const PIN_POSTED: u32 = 1 << 7;
export const GUEST_INTR_STATUS: u32 = 0x0810, EOI_EXIT0: u32 = 0x201c;
export const PI_VECTOR: u32 = 0x0002, PI_DESC_ADDR: u32 = 0x2016;
export const EXIT_VIRT_EOI: u32 = 45;
const PROC_INTR_WINDOW: u32 = 1 << 2;
const OFF_TPR: u64 = 0x80, OFF_PPR: u64 = 0xa0, OFF_ISR: u64 = 0x100, OFF_IRR: u64 = 0x200;

export let vidOn: bool = false;       // the running L2 has "virtual-interrupt delivery"
export let postedOn: bool = false;    // ... and "process posted interrupts"
let page: u64 = 0;                    // virtual-APIC page
let pending: bool = false;            // a virtual interrupt has been recognized (30.2.1)

export function enter(pin: u32, p2: u32, vapicPage: u64): void {
  vidOn = (p2 & PROC2_VID) != 0;
  postedOn = vidOn && (pin & PIN_POSTED) != 0;
  page = vapicPage;
  pending = false;
}

@inline function rvi(): u32 { return <u32>rd(GUEST_INTR_STATUS) & 0xff; }
@inline function svi(): u32 { return (<u32>rd(GUEST_INTR_STATUS) >> 8) & 0xff; }
function setStatus(r: u32, s: u32): void { wr(GUEST_INTR_STATUS, <u64>((r & 0xff) | ((s & 0xff) << 8))); }
@inline function regAddr(base: u64, v: u32): u64 { return page + base + (<u64>(v >> 5) << 4); }
function setBit(base: u64, v: u32): void { const a = regAddr(base, v); physWrite(a, 4, physRead(a, 4) | (<u64>1 << <u64>(v & 31))); }
function clrBit(base: u64, v: u32): void { const a = regAddr(base, v); physWrite(a, 4, physRead(a, 4) & ~(<u64>1 << <u64>(v & 31))); }
// Highest set vector of a 256-bit register (ISR/IRR layout: 8 dwords at 16-byte steps), or 0.
function highest(base: u64): u32 {
  for (let i: i32 = 7; i >= 0; i--) {
    const d = <u32>physRead(page + base + (<u64>i << 4), 4);
    if (d != 0) return (<u32>i << 5) + 31 - <u32>clz(d);
  }
  return 0;
}

// PPR virtualization (30.1.3).
function pprVirtualize(): void {
  const vtpr = <u32>physRead(page + OFF_TPR, 4) & 0xff;
  const s = svi();
  const vppr = (vtpr >> 4) >= (s >> 4) ? vtpr : s & 0xf0;
  physWrite(page + OFF_PPR, 4, vppr);
}
// Evaluation of pending virtual interrupts (30.2.1).
export function evaluate(): void {
  if ((<u32>rd(0x4002) & PROC_INTR_WINDOW) != 0) { pending = false; return; }
  const vppr = <u32>physRead(page + OFF_PPR, 4) & 0xff;
  pending = (rvi() >> 4) > (vppr >> 4);
  if (pending) V.setVmxPoll(true);
}
// At VM entry (SDM 27.3.2.5 "Updating Non-Register State"): PPR virtualization and evaluation.
export function atEntry(): void {
  if (!vidOn) return;
  pprVirtualize();
  evaluate();
}
// TPR virtualization with virtual-interrupt delivery (30.1.2): no TPR-threshold exit.
export function tprVirtualize(): void { pprVirtualize(); evaluate(); }

// Between instructions (intercept.ts pollExits): deliver a recognized virtual interrupt
// (30.2.2). Returns true if one was delivered.
export function pollDeliver(): bool { return deliver(false); }
// `afterAck`: right after a posted-interrupt notification was acknowledged (the host's line may
// not have dropped yet).
function deliver(afterAck: bool): bool {
  if (!pending) return false;
  if ((getRflags() & 0x200) == 0 || (intrLine && !afterAck) || (nmiPending && !nmiBlocked)) return false;
  const v = rvi();
  setBit(OFF_ISR, v);
  physWrite(page + OFF_PPR, 4, <u64>(v & 0xf0));
  clrBit(OFF_IRR, v);
  setStatus(highest(OFF_IRR), v);
  pending = false;
  S.setHalted(false);
  deliverEvent(v, 0, false, EV_EXT, S.rip);
  evaluate();
  return true;
}

// EOI virtualization (30.1.4), trap-like: `next` is the RIP after the instruction. Returns
// true if it caused the EOI-induced VM exit (reason 45, qualification = the vector).
export function eoiVirtualize(next: u64): bool {
  const v = svi();
  clrBit(OFF_ISR, v);
  setStatus(rvi(), highest(OFF_ISR));
  pprVirtualize();
  if ((rd(EOI_EXIT0 + ((v >> 6) << 1)) & (<u64>1 << <u64>(v & 63))) != 0) {
    S.setRip(next);
    vmExit(EXIT_VIRT_EOI, <u64>v, 0, 0);
    return true;
  }
  evaluate();
  return false;
}

// Self-IPI virtualization (30.1.5): vector `v` becomes requested.
export function selfIpi(v: u32): void {
  setBit(OFF_IRR, v);
  if (v > rvi()) setStatus(v, svi());
  evaluate();
}
// A virtualized write of ICR low (30.4.3.3 with VID): a fixed, edge, physical self-IPI with a
// vector >= 16 and no reserved bits is virtualized; anything else is an APIC-write exit.
export function icrLowIsSelfIpi(icr: u32): bool {
  // Reserved bits 31:20, 17:16 and 13 clear, shorthand 01 (self), edge (15), fixed (10:8).
  return (icr & 0xffffa700) == 0x00040000 && (icr & 0xf0) != 0;
}

// Posted-interrupt processing (30.6): the external interrupt `vec` was acknowledged in L2 with
// "process posted interrupts". Returns true if it was the notification vector and has been
// processed here (no VM exit).
export function posted(vec: u32): bool {
  if (!postedOn || vec != (<u32>rd(PI_VECTOR) & 0xff)) return false;
  const d = rd(PI_DESC_ADDR);
  physWrite(d + 32, 1, physRead(d + 32, 1) & 0xfe);   // outstanding-notification bit (256)
  hostEoi();
  let top: u32 = 0;
  for (let i: u32 = 0; i < 8; i++) {
    const pir = <u32>physRead(d + <u64>(i * 4), 4);
    if (pir == 0) continue;
    physWrite(d + <u64>(i * 4), 4, 0);
    const a = page + OFF_IRR + (<u64>i << 4);
    physWrite(a, 4, physRead(a, 4) | <u64>pir);
    top = (i << 5) + 31 - <u32>clz(pir);
  }
  if (top > rvi()) setStatus(top, svi());
  evaluate();
  // Deliver at this boundary (SDM 30.2.2): a halted L2 wakes here, the run loop would otherwise
  // return to the host as still halted.
  deliver(true);
  return true;
}
// A halted L2 with a recognized virtual interrupt is not idle (intercept.ts pollExits).
export function wakePending(): bool { return pending; }

// EOI to L1's local APIC (the host device): the x2APIC EOI MSR in x2APIC mode, else the EOI
// register of the xAPIC page.
function hostEoi(): void {
  const base = M.readMsr(0x1b);
  if ((base & 0x400) != 0) M.writeMsr(0x80b, 0);
  else physWrite((base & 0xfffff000) + 0xb0, 4, 0);
}

// Randomised check of the permission/fault rules (4-level, PAE, 32-bit) against an independent
// flag-by-flag model of SDM 4.6-4.8 (structured like kvm-unit-tests' x86/access.c):
// PTE/PDE bits x access kind x CR0.WP / EFER.NXE / CR4.SMEP / CR4.SMAP / RFLAGS.AC,
// optionally with a prior supervisor read that leaves a TLB entry behind.
import * as S from "../../assembly/cpu/state";
import { setRflags } from "../../assembly/cpu/flags";
import { readLin, writeLin, codePage, tlbFlushPage, loadPdptes } from "../../assembly/mmu/access";
import { faultPending, faultError, faultAddr, clearFault } from "../../assembly/cpu/fault";
import {
  fresh, setCpl, w64, r64, w32, r32, long4, L4, PML4E, PDPTE, PDE, PTE, PRWU,
} from "./lib/mmu-setup";

const F_PTE_P = 0, F_PTE_W = 1, F_PTE_U = 2, F_PTE_A = 3, F_PTE_D = 4, F_PTE_NX = 5, F_PTE_51 = 6;
const F_PDE_P = 7, F_PDE_W = 8, F_PDE_U = 9, F_PDE_A = 10, F_PDE_D = 11, F_PDE_PS = 12, F_PDE_NX = 13;
const F_PDE_51 = 14, F_PDE_13 = 15, F_USER = 16, F_WRITE = 17, F_FETCH = 18, F_TWICE = 19;
const F_NXE = 20, F_WP = 21, F_SMEP = 22, F_SMAP = 23, F_AC = 24, F_PTE_55 = 25;
const NFLAGS = 26;

// Paging modes under test and their layouts.
const M4 = 0, MPAE = 1, M32 = 2;
let mode = M4;
let pdeAt: u64 = 0, pteAt: u64 = 0, ptBase: u64 = 0, bigFrame: u64 = 0, linT: u64 = 0;

let rng: u32 = 0x12345678;
function next(): u32 { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }
@inline function f(m: u32, bit: i32): bool { return (m & (1 << bit)) != 0; }

const NX: u64 = <u64>1 << 63;
const B51: u64 = <u64>1 << 51;

function entry(m: u32, base: u64, p: i32, w: i32, u: i32, a: i32, d: i32, nx: i32, b51: i32): u64 {
  let e = base;
  if (f(m, p)) e |= 1;
  if (f(m, w)) e |= 2;
  if (f(m, u)) e |= 4;
  if (f(m, a)) e |= 0x20;
  if (f(m, d)) e |= 0x40;
  if (f(m, nx)) e |= NX;
  if (f(m, b51)) e |= B51;
  return e;
}

// Model results.
let expFault = false;
let expErr: u32 = 0;
let expPde: u64 = 0, expPte: u64 = 0;
let ignorePdeA = false;

function model(m: u32, pde: u64, pte: u64): void {
  const ps = f(m, F_PDE_PS);
  const user = f(m, F_USER), write = f(m, F_WRITE), fetch = f(m, F_FETCH);
  const nxe = f(m, F_NXE), wp = f(m, F_WP), smep = f(m, F_SMEP), smap = f(m, F_SMAP), ac = f(m, F_AC);
  expPde = pde; expPte = pte; expFault = false; expErr = 1; ignorePdeA = false;
  if (user) expErr |= 4;
  if (write) expErr |= 2;
  if (fetch && (nxe || smep)) expErr |= 16;
  if (mode == M32 && fetch && !smep) expErr &= ~16;   // no PAE: I/D only with SMEP
  // 32-bit paging has no XD and no address bits to spare: bit 21 of a 4M PDE is the only
  // reserved bit (F_PDE_13 sets it there). PAE also reserves bits 62:52 (F_PTE_55).
  const pdeValid = f(m, F_PDE_P) && !f(m, F_PDE_51) && !(ps && f(m, F_PDE_13)) && !(f(m, F_PDE_NX) && !nxe);
  const pteValid = pdeValid && (ps || (f(m, F_PTE_P) && !f(m, F_PTE_51) && !(f(m, F_PTE_NX) && !nxe) &&
    !(mode == MPAE && f(m, F_PTE_55))));
  // A prior supervisor read (CPL 0, AC=1) succeeds exactly when the walk is valid.
  if (f(m, F_TWICE) && pteValid) {
    expPde |= 0x20;
    if (!ps) expPte |= 0x20;
  }
  if (!f(m, F_PDE_P)) { expFault = true; expErr &= ~1; return; }
  if (!pdeValid) { expFault = true; expErr |= 8; return; }
  // Walk continues to the PTE before permissions are judged: not-present / reserved wins.
  if (!ps) {
    if (!f(m, F_PTE_P)) { expFault = true; expErr &= ~1; if (!f(m, F_TWICE)) ignorePdeA = false; return; }
    if (!pteValid) { expFault = true; expErr |= 8; return; }
  }
  const uPage = f(m, F_PDE_U) && (ps || f(m, F_PTE_U));
  const wPage = f(m, F_PDE_W) && (ps || f(m, F_PTE_W));
  const xd = f(m, F_PDE_NX) || (!ps && f(m, F_PTE_NX));
  if (user && !uPage) expFault = true;
  if (write && !wPage && (wp || user)) expFault = true;
  if (fetch && xd) expFault = true;
  if (fetch && !user && uPage && smep) expFault = true;
  // SMAP: supervisor data access to a user page with AC=0 (explicit accesses at CPL 0).
  if (!fetch && !user && uPage && smap && !ac) expFault = true;
  if (expFault) return;
  expPde |= 0x20;
  if (ps) { if (write) expPde |= 0x40; }
  else { expPte |= 0x20; if (write) expPte |= 0x40; }
}

function readEnt(a: u64): u64 { return mode == M32 ? <u64>r32(a) : r64(a); }

// m with the flags a mode cannot express cleared.
function legal(m: u32): u32 {
  if (mode == M32) m &= ~((1 << F_PTE_NX) | (1 << F_PDE_NX) | (1 << F_PTE_51) | (1 << F_PDE_51) | (1 << F_PTE_55));
  return m;
}

function setupMode(md: i32): void {
  mode = md;
  fresh();
  if (md == M4) {
    w64(PML4E, 0x2000 | PRWU);
    w64(PDPTE, 0x3000 | PRWU);
    long4(false);
    pdeAt = PDE; pteAt = PTE; ptBase = 0x4000; bigFrame = 0x200000; linT = L4;
  } else if (md == MPAE) {
    // PDPT at 0x1020 (entry 1 -> PD 0x5000), PD entry 2, PT 0x6000 entry 3.
    w64(0x1028, 0x5000 | 1);
    S.cr3 = 0x1020;
    expect<bool>(loadPdptes()).toBe(true);
    pdeAt = 0x5010; pteAt = 0x6018; ptBase = 0x6000; bigFrame = 0x200000;
    linT = (<u64>1 << 30) | (<u64>2 << 21) | (<u64>3 << 12);
  } else {
    // PD at 0x1000 entry 3, PT 0x2000 entry 7; 4M pages map physical 0.
    S.cr3 = 0x1000;
    pdeAt = 0x100c; pteAt = 0x201c; ptBase = 0x2000; bigFrame = 0;
    linT = (<u64>3 << 22) | (<u64>7 << 12);
  }
}

function runModel(md: i32, n: i32): void {
  setupMode(md);
  let checked = 0, faults = 0;
  for (let i = 0; i < n; i++) {
    const m = legal(next() & ((1 << NFLAGS) - 1));
    if (f(m, F_WRITE) && f(m, F_FETCH)) continue;
    const ps = f(m, F_PDE_PS);
    let pde = entry(m, ps ? bigFrame : ptBase, F_PDE_P, F_PDE_W, F_PDE_U, F_PDE_A, F_PDE_D, F_PDE_NX, F_PDE_51);
    if (ps) { pde |= 0x80; if (f(m, F_PDE_13)) pde |= mode == M32 ? 0x200000 : 0x2000; }
    let pte = entry(m, 0x10000, F_PTE_P, F_PTE_W, F_PTE_U, F_PTE_A, F_PTE_D, F_PTE_NX, F_PTE_51);
    if (f(m, F_PTE_55)) pte |= <u64>1 << 55;
    if (mode == M32) { w32(pdeAt, <u32>pde); w32(pteAt, <u32>pte); } else { w64(pdeAt, pde); w64(pteAt, pte); }
    S.cr0 = 0x60000010 | S.CR0_PE | S.CR0_PG | (f(m, F_WP) ? S.CR0_WP : 0);
    S.cr4 = (mode == M32 ? S.CR4_PSE : S.CR4_PAE) | (f(m, F_SMEP) ? S.CR4_SMEP : 0) | (f(m, F_SMAP) ? S.CR4_SMAP : 0);
    S.efer = (mode == M4 ? S.EFER_LME | S.EFER_LMA : 0) | (f(m, F_NXE) ? S.EFER_NXE : 0);
    S.updateMode();
    tlbFlushPage(linT);   // only linT's page is ever cached, so this is a full flush here
    clearFault();
    model(m, pde, pte);
    if (f(m, F_TWICE)) {
      setCpl(0); setRflags(2 | 0x40000);
      readLin(linT, 1);
      clearFault();
    }
    setCpl(f(m, F_USER) ? 3 : 0);
    setRflags(f(m, F_AC) ? 2 | 0x40000 : 2);
    const lin = linT + 0x40;
    if (f(m, F_FETCH)) codePage(lin);
    else if (f(m, F_WRITE)) writeLin(lin, 4, 0x5a5a5a5a);
    else readLin(lin, 4);
    const got = faultPending;
    const ok = got == expFault && (!got || (faultError == expErr && faultAddr == lin)) &&
      readEnt(pteAt) == expPte &&
      (ignorePdeA ? ((readEnt(pdeAt) ^ expPde) & ~(<u64>0x20)) == 0 : readEnt(pdeAt) == expPde);
    if (!ok) {
      log<string>("mode " + mode.toString() + " mismatch for flags 0x" + m.toString(16) + " fault " + got.toString() + "/" +
        expFault.toString() + " err 0x" + faultError.toString(16) + "/0x" + expErr.toString(16) +
        " pte 0x" + readEnt(pteAt).toString(16) + "/0x" + expPte.toString(16) +
        " pde 0x" + readEnt(pdeAt).toString(16) + "/0x" + expPde.toString(16));
      expect<bool>(ok).toBe(true);
      break;
    }
    if (got) faults++;
    clearFault();
    checked++;
  }
  setCpl(0); setRflags(2);
  expect<i32>(checked).toBeGreaterThan(n * 2 / 3);
  expect<i32>(faults).toBeGreaterThan(n / 6);
  expect<i32>(checked - faults).toBeGreaterThan(n / 60);
}

describe("permission model (randomised)", () => {
  test("4-level: 40000 random combinations agree with the model", () => { runModel(M4, 40000); });
  test("PAE: 30000 random combinations agree with the model", () => { runModel(MPAE, 30000); });
  test("32-bit: 30000 random combinations agree with the model", () => { runModel(M32, 30000); });
});

// Robustness: a valid VMCS with random fields corrupted, then VMLAUNCH and random L2 code under
// EPT, must always end in an architectural outcome (VMfail, entry failure, exits, faults) and
// never in a wasm trap or a hang. Deterministic (xorshift seed).
import * as S from "../../assembly/cpu/state";
import { setSegment, setCr, setNested, setIntrLine, run } from "../../assembly/index";
import { setup, poke, w32, w64, r32, desc, AR_CODE64_0, AR_DATA32_0 } from "./sys_helpers";
import { step } from "../../assembly/cpu/exec";
import { faultPending, faultVector, clearFault } from "../../assembly/cpu/fault";
import { getRflags } from "../../assembly/cpu/flags";
import { writeMsr } from "../../assembly/cpu/msr";
import { deliverFault, checkInterrupts, shutdown } from "../../assembly/cpu/interrupts";
import { portOut } from "../../assembly/host";
import * as V from "../../assembly/vmx/vstate";
import * as F from "../../assembly/vmx/fields";
import { vmcsRead as rd, vmcsWrite as wr } from "../../assembly/vmx/fields";
import { VMCS_REVISION } from "../../assembly/vmx/caps";

import { VMXON_PA, VMCS_A, PTR, CODE, HOST_RIP, GUEST_RIP, IOBM_A, IOBM_B, MSRBM, STATUS, ZF, exec, guest, l1, launch, resume, exited } from "./vmx_harness";


let seed: u64 = 0x243f6a8885a308d3;
function rnd(): u64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed; }

describe("VMX fuzz", () => {
  it("corrupted VMCS fields and random L2 code end architecturally", () => {
    let launched = 0, failedEntry = 0, vmfail = 0, exits = 0;
    for (let iter = 0; iter < 150; iter++) {
      l1();
      // EPT for half of the runs: GPA 0-4M identity with 2M pages, some permissions random.
      if ((iter & 1) != 0) {
        w64(0x30000, 0x31007); w64(0x31000, 0x32007);
        w64(0x32000, 0x87 | (6 << 3)); w64(0x32008, 0x200000 | 0x80 | (rnd() & 0x3f));
        wr(F.PROC_CONTROLS, 0x04006172 | 0x80000000);
        wr(F.PROC2_CONTROLS, (rnd() & 1) != 0 ? 0x22 : 0x2);
        wr(F.EPT_POINTER, 0x3001e);
        wr(F.VIRTUAL_PROCESSOR_ID, 1 + (rnd() & 3));
      }
      wr(F.EXCEPTION_BITMAP, rnd() & 0xffffffff);
      wr(F.PIN_CONTROLS, 0x16 | (rnd() & 0x41));
      wr(F.PREEMPT_TIMER, rnd() & 63);
      const n = <u32>(rnd() % 3);
      for (let k: u32 = 0; k < n; k++) {
        const row = <u32>(rnd() % F.NFIELDS);
        const enc = F.rowEnc(row);
        if (F.fieldSlot(<u64>enc) < 0 || F.encReadOnly(enc)) continue;
        let v = rnd();
        if ((rnd() & 1) != 0) v &= 0xffff;
        wr(enc, v);
      }
      const code = new Array<u8>(24);
      for (let i = 0; i < 24; i++) code[i] = <u8>rnd();
      poke(GUEST_RIP, code);
      poke(HOST_RIP, [0xf4]);
      S.setRip(CODE);
      poke(CODE, [0x0f, 0x01, 0xc2]);
      step();
      if (faultPending) { clearFault(); continue; }
      if (!V.nonRoot) {
        if ((rd(F.EXIT_REASON) & 0x80000000) != 0) failedEntry++; else vmfail++;
        continue;
      }
      launched++;
      setIntrLine((rnd() & 7) == 0);
      run(200);
      setIntrLine(false);
      if (!V.nonRoot) exits++;
    }
    expect(launched + failedEntry + vmfail).toBeGreaterThan(100);
    expect(launched).toBeGreaterThan(10);
    expect(exits).toBeGreaterThan(5);
  });
});

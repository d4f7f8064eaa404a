// PIIX4-style ACPI power-management I/O block at 0x600 (as QEMU's pc: PMBA 0x600):
// PM1a_EVT (0x600 status, 0x602 enable), PM1a_CNT (0x604), PM timer (0x608, 24-bit,
// 3.579545 MHz from virtual time). No SCI sources are modelled beyond the timer-overflow
// status bit, which is computed on read.
import type { IoBus } from "../bus";

export const PM_BASE = 0x600;
export const PM_TIMER_HZ = 3579545;
export const PM_TIMER_PORT = PM_BASE + 8;
// Sleep types as the DSDT's \_S3 and \_S5 packages name them (host/platform/acpi.ts); the
// values are QEMU's PIIX4 ones, which kvm-unit-tests' s3 test writes without reading the DSDT.
export const SLP_TYP_S3 = 1;
export const SLP_TYP_S5 = 0;
export const PM1_RTC = 0x0400;      // PM1 status RTC_STS / enable RTC_EN
export const PM1_WAK_STS = 0x8000;  // PM1 status: the system woke from a sleeping state

export class AcpiPm {
  pm1Status = 0;
  pm1Enable = 0;
  pm1Control = 0;
  /** PM1 control SLP_EN with a sleep type: the machine decides what S-states mean. */
  onSleep: (slpTyp: number) => void = () => {};
  constructor(private nowNs: () => number, readonly base = PM_BASE) {}

  /** The 24-bit PM timer value. */
  timer(now = this.nowNs()): number {
    return Math.floor((now * PM_TIMER_HZ) / 1e9) & 0xffffff;
  }

  attach(io: IoBus): void {
    // Byte-wide registers (a word access is split low byte first, as the bus does): a guest may
    // write PM1 control's high byte (SLP_EN, SLP_TYP) or clear a status bit of the high byte alone.
    io.register(this.base, 4, {
      width: 1,
      read: (p) => {
        // TMR_STS (bit 0): the timer's bit 23 toggled since the last clear; computed lazily.
        const o = p - this.base;
        return ((o < 2 ? this.pm1Status : this.pm1Enable) >> (8 * (o & 1))) & 0xff;
      },
      write: (p, _s, v) => {
        const o = p - this.base, sh = 8 * (o & 1);
        if (o < 2) this.pm1Status &= ~(v << sh);                                  // write 1 to clear
        else this.pm1Enable = ((this.pm1Enable & ~(0xff << sh)) | (v << sh)) & 0x0521;
      },
    });
    io.register(this.base + 4, 2, {
      width: 1,
      read: (p) => (this.pm1Control >> (8 * (p - this.base - 4))) & 0xff,
      write: (p, _s, v) => {
        const sh = 8 * (p - this.base - 4);
        const w = (this.pm1Control & ~(0xff << sh)) | (v << sh);
        this.pm1Control = w & ~0x2000;                        // SLP_EN reads 0
        if (sh && (v & 0x20)) this.onSleep((w >> 10) & 7);    // SLP_EN is in the high byte
      },
    });
    io.register(this.base + 8, 4, {
      width: 4,
      read: (p, size) => {
        const t = this.timer();
        const sh = (p - this.base - 8) * 8;
        return size === 4 ? t : (t >>> sh) & (size === 1 ? 0xff : 0xffff);
      },
      write: () => {},
    });
  }
  /** The RTC alarm fired: RTC_STS, and whether it is a wake event (RTC_EN). */
  rtcAlarm(): void { this.pm1Status |= PM1_RTC; }
  get wakeEvent(): boolean { return (this.pm1Status & this.pm1Enable & PM1_RTC) !== 0; }
  get wakeEnabled(): boolean { return (this.pm1Enable & PM1_RTC) !== 0; }
  reset(): void { this.pm1Status = 0; this.pm1Enable = 0; this.pm1Control = 1; /* SCI_EN: ACPI mode, no SMM */ }
}

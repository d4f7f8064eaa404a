/* modes: 32-bit protected mode (entry) -> 16-bit protected mode -> real mode -> back to
   32-bit protected mode; then -> IA-32e compatibility mode -> 64-bit mode -> a far call into
   compatibility-mode code -> back out of long mode. Far jumps, calls and returns between
   all of them. The switch code is modes.S; results are checked here. */
#include "rt.h"

extern u8 low_start[], low_end[], low_res[];
extern volatile u64 mode_res[16];
void to_pm16_real_and_back(void);
void to_long_and_back(u32 cr3);
static u64 pml4[512] __attribute__((aligned(4096))), pdpt[512] __attribute__((aligned(4096))),
  pd[512] __attribute__((aligned(4096)));
extern char lm64[];

#define LOWRES(off, T) (*(volatile T *)(uptr)(0x8000 + (low_res - low_start) + (off)))

int main(void) {
  printf("modes: protected, 16-bit, real, compatibility and 64-bit mode\n");
  memcpy((void *)0x8000, low_start, low_end - low_start);
  to_pm16_real_and_back();
  check("16-bit PM: CS", LOWRES(0, u16), SEL_CODE16);
  check("16-bit PM: 16-bit add", LOWRES(2, u16), 0x2345);
  check("16-bit PM: 0x66 prefix gives 32-bit operand", LOWRES(4, u32), 0x12345679);
  check("16-bit PM: push is 2 bytes", LOWRES(8, u16), 2);
  check("real mode: CS after far jump", LOWRES(10, u16), 0);
  check("real mode: CR0.PE clear", LOWRES(12, u16), 0);
  check("real mode: ES base = selector << 4", LOWRES(14, u16), 0xbeef);
  check("real mode: CS in a far-called routine", LOWRES(16, u16), 0x800);
  check("real mode: far return restores SP", LOWRES(18, u16), 0x7000);
  u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs));
  check("back in 32-bit PM: CS", cs, SEL_CODE32);
  check("back in 32-bit PM: CR0.PE", read_cr0() & 1, 1);

  for (int i = 0; i < 512; i++) pd[i] = ((u64)i << 21) | 0x83;
  pml4[0] = (uptr)pdpt | 3; pdpt[0] = (uptr)pd | 3;
  to_long_and_back((u32)(uptr)pml4);
  check("compatibility mode: EFER.LMA and LME", mode_res[0] & 0x500, 0x500);
  check("64-bit mode: 64-bit add", mode_res[1], 0x2468acf12ull);
  check("64-bit mode: push is 8 bytes", mode_res[2], 8);
  check("64-bit mode: RIP-relative LEA", mode_res[3], (uptr)lm64);
  check("64-bit mode: CS", mode_res[4], SEL_CODE64);
  check("far call to compatibility mode and back: result", mode_res[5], 0x3001);
  check("compatibility mode: CS", mode_res[8], SEL_CODE32);
  check("64-bit mode after far return: CS", mode_res[6], SEL_CODE64);
  check("64-bit mode: 64-bit shift", mode_res[7], 0xffffffff);
  check("PG=0 leaves long mode: LMA clear, LME set", mode_res[9] & 0x500, 0x100);
  check("EFER.LME cleared", rdmsr(MSR_EFER) & 0x500, 0);
  check("back in 32-bit PM: paging off", read_cr0() >> 31, 0);
  int x = 7; for (int i = 0; i < 10; i++) x = x * 3 + i;
  check("C code still works", x, 428100);
  return done();
}

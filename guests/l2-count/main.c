/* L2 payload for the minivisor: counts with busy loops between lines (so the preemption
   timer slices it against the other L2), and writes and reads back memory at 4 MiB+, which
   the minivisor backs lazily on EPT violations. Runs as a plain guest too. */
#include "l2.h"
static u32 work(u32 n) {
  u32 x = n * 2654435761u;
  for (int i = 0; i < 20000; i++) x = x * 1103515245u + 12345u;
  return x;
}
int main(void) {
  printf("count: start (minivisor %s)\n", under_minivisor() ? "yes" : "no");
  u32 sum = 0;
  for (u32 i = 1; i <= 8; i++) {
    sum += work(i);
    printf("count %u\n", i);
  }
  printf("count: checksum 0x%08x\n", sum);
  /* 16 pages at 4 MiB + 64 KiB: untouched before, so zero, then written and read back */
  volatile u32 *lazy = (volatile u32 *)0x410000;
  u32 bad = 0;
  for (int p = 0; p < 16; p++) bad += lazy[p * 1024] != 0;
  for (int p = 0; p < 16; p++) lazy[p * 1024 + 3] = 0x1000 + p;
  for (int p = 0; p < 16; p++) bad += lazy[p * 1024 + 3] != (u32)(0x1000 + p);
  printf("count: lazy memory %s\n", bad ? "BAD" : "ok");
  return bad ? 1 : 0;
}

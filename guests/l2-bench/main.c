/* L2 exit-latency payload: times round trips (L2 -> exit -> handler -> entry -> L2) with
   RDTSC for CPUID, VMCALL, an emulated I/O port (COM1 LSR), RDMSR of IA32_TIME_STAMP_COUNTER
   (trapped by the minivisor's MSR bitmap) and an EPT violation (first touch of a lazily backed
   page). Prints min and mean guest TSC cycles per round trip. Without the minivisor it times
   the same instructions natively (VMCALL skipped). The figures are host-dependent: "info:" lines. */
#include "l2.h"
#define N 64
static u64 tmin, tsum;
static void rec(u64 t) { if (t < tmin) tmin = t; tsum += t; }
static void report(const char *what) {
  printf("info: %s min %lu mean %lu cycles (%d round trips)\n", what, (unsigned long)tmin, (unsigned long)(tsum / N), N);
}
static inline u64 tsc(void) { u32 lo, hi; __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory"); return ((u64)hi << 32) | lo; }
int main(void) {
  int mv = under_minivisor();
  printf("bench: exit round trips, minivisor %s\n", mv ? "yes" : "no");
  u32 a, b, c, d;
  tmin = ~0ull; tsum = 0;
  for (int i = 0; i < N; i++) { u64 t = tsc(); cpuid(0, 0, &a, &b, &c, &d); rec(tsc() - t); }
  report("cpuid");
  if (mv) {
    tmin = ~0ull; tsum = 0;
    for (int i = 0; i < N; i++) { u64 t = tsc(); vmcall(HC_PING, 0, 0); rec(tsc() - t); }
    report("vmcall");
  }
  tmin = ~0ull; tsum = 0;
  for (int i = 0; i < N; i++) { u64 t = tsc(); (void)inb(0x3fd); rec(tsc() - t); }
  report("io-in-0x3fd");
  tmin = ~0ull; tsum = 0;
  for (int i = 0; i < N; i++) { u64 t = tsc(); (void)rdmsr(0x10); rec(tsc() - t); }
  report("rdmsr-tsc");
  tmin = ~0ull; tsum = 0;
  volatile u32 *lazy = (volatile u32 *)0x500000;
  for (int i = 0; i < N; i++) { u64 t = tsc(); (void)lazy[i * 1024]; rec(tsc() - t); }
  report("ept-violation");
  return 0;
}

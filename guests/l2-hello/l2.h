/* Helpers shared by the L2 payloads (guests/l2-*): detection of the minivisor and its
   hypercalls. The payloads are ordinary 32-bit multiboot guests and also run without it. */
#pragma once
#include "rt.h"
static inline int under_minivisor(void) {
  u32 a, b, c, d;
  cpuid(0x40000000, 0, &a, &b, &c, &d);
  return !memcmp(&b, "Mini", 4) && !memcmp(&c, "Viso", 4) && !memcmp(&d, "r L1", 4);
}
/* minivisor hypercalls: EAX = number, EBX/ECX = arguments, result in EAX */
#define HC_PING 0
#define HC_PUTS 1
#define HC_EXIT 2
#define HC_YIELD 3
static inline u32 vmcall(u32 nr, u32 b, u32 c) {
  u32 r;
  __asm__ volatile("vmcall" : "=a"(r) : "a"(nr), "b"(b), "c"(c) : "memory");
  return r;
}

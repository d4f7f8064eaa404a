/* L2 payload for the minivisor: greets, identifies its hypervisor with CPUID, pings it with
   VMCALL, prints through a hypercall, executes HLT (a yield under the minivisor) and exits
   through isa-debug-exit. Runs as a plain guest too (then without the VMCALLs). */
#include "l2.h"
int main(void) {
  printf("hello from L2\n");
  u32 a, b, c, d;
  int mv = under_minivisor();
  cpuid(1, 0, &a, &b, &c, &d);
  /* under the minivisor: VMX hidden, hypervisor bit set; natively host-dependent (info:) */
  printf("%scpuid.1: vmx %u hypervisor %u\n", mv ? "" : "info: ", (c >> 5) & 1, c >> 31);
  printf("under minivisor: %s\n", mv ? "yes" : "no");
  if (mv) {
    printf("vmcall ping: 0x%x\n", vmcall(HC_PING, 0, 0));
    static const char msg[] = "printed by a hypercall\n";
    vmcall(HC_PUTS, (u32)(uptr)msg, sizeof msg - 1);
  }
  for (int i = 0; i < 3; i++) {
    printf("hello hlt %d\n", i);
    if (mv) __asm__ volatile("hlt");   /* natively (IF=0, no interrupts) HLT would never end */
  }
  printf("hello done\n");
  return 0;
}

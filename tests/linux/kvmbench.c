/* kvmbench: VM-exit round-trip latency of a guest run through /dev/kvm, timed from inside the
   guest the same way as guests/l2-bench (lfence; rdtsc; lfence around one instruction, 64 round
   trips per test). Run inside Linux on nestvm, Linux KVM (kvm-intel) is the L1 hypervisor and the
   guest is an L2; run on a host's /dev/kvm, the same binary gives the one-level reference.
   scripts/bench-exits.mjs --linux builds it with gcc -static and runs it both ways.

   The guest runs in 64-bit long mode (identity map of 1 GiB with 2 MiB pages; the mode KVM
   guests normally run in) or, with mode 32, in 32-bit protected mode with paging off and flat
   segments, the mode guests/l2-bench runs in under the minivisor; unlike real mode, neither needs
   operand-size prefixes or segment arithmetic around CPUID/RDMSR/RDTSC. Its code is the block of
   .code64/.code32 loops below, copied to guest-physical 0x1000. Each test is one loop:
     start = TSC; <instruction>; delta[i] = TSC - start     (i = 0..63)
   then HLT, which (no in-kernel irqchip) exits to this program; the deltas are read from guest
   memory. Tests:
     nop            nothing between the RDTSC pairs: the cost of the timing itself, no exit
     cpuid          CPUID leaf 0: exit, emulated in the kernel (kvm_emulate_cpuid)
     vmcall         VMCALL with RAX=0: exit, kvm_emulate_hypercall answers -KVM_ENOSYS in RAX
     io-in-0x3fd    IN al, 0x3fd: exit, no in-kernel device there, so KVM_RUN returns
                    KVM_EXIT_IO to this program, which answers 0x60 (16550 LSR: THRE|TEMT)
     rdmsr-apicbase RDMSR 0x1b (IA32_APIC_BASE): exit, emulated in the kernel (kvm_get_msr_common)
     rdmsr-tsc      RDMSR 0x10 (IA32_TIME_STAMP_COUNTER): KVM clears its read intercept in the
                    MSR bitmap, so no exit to KVM (the CPU applies the TSC offset)
     ept-violation  a load from a page of a fresh, never-touched memslot (one new page per round
                    trip, a new range per repetition): EPT violation, KVM faults the host page in
                    (get_user_pages) and installs the EPT entry
   The TSC the guest reads is the L1 TSC plus KVM's offset (no scaling: KVM_SET_TSC_KHZ is not
   used), so guest cycles count at the L1 TSC rate. This program measures that rate against
   CLOCK_MONOTONIC_RAW over the whole run and prints it.
   Per test it also prints KVM's per-vCPU statistics that changed (KVM_GET_STATS_FD: exits,
   io_exits, halt_exits, irq_exits, l1d_flush, pf_taken, ...), counted over the 64 round trips
   plus the final HLT.
     kvmbench [reps [mode]]  reps measured repetitions after one warm-up (default 9);
                             mode 64 (default) or 32
   A test that has not reached its HLT after TEST_TIMEOUT_S is reported and dropped (under the
   host's PVM, VMCALL never completes).
   Output lines (parsed by scripts/bench-exits.mjs):
     kvmbench: rep R TEST min MIN median MED mean MEAN cycles (64 round trips)[ stats: name=delta ...]
     kvmbench: tsc MHZ MHz (rdtsc vs CLOCK_MONOTONIC_RAW over MS ms)
     kvmbench: done */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#define N 64
#define TEST_TIMEOUT_S 2      /* a test that has not reached its HLT by then is dropped */
#define CODE_GPA 0x1000
#define RES_GPA 0x10000          /* u64 delta[N] */
#define VAR_GPA 0x10f00          /* u32: lazy base for ept-violation; +4: VMCALL's RAX */
#define PT_GPA 0x20000           /* long mode: PML4, PDPT, PD */
#define LOW_SIZE 0x100000        /* slot 0: 1 MiB, touched by this program */
#define LAZY_GPA 0x1000000       /* slot 1: 16 MiB.. never touched by this program */
#define LAZY_SIZE (64u << 20)

/* The guest. ebp = i; esi:edi = start TSC; eax..edx are free for the instruction. */
__asm__(
  ".pushsection .rodata\n"
  ".globl g_code, g_code_end\n"
  "g_code:\n"
  ".code32\n"
  ".macro BENCH name, sfx\n"
  "g_\\name\\sfx:\n"
  "  xor %ebp, %ebp\n"
  "1:\n"
  "  lfence; rdtsc; lfence\n"
  "  mov %eax, %esi; mov %edx, %edi\n"
  "  BODY_\\name\n"
  "  lfence; rdtsc; lfence\n"
  "  sub %esi, %eax; sbb %edi, %edx\n"
  "  mov %eax, 0x10000(,%ebp,8); mov %edx, 0x10004(,%ebp,8)\n"
  "  inc %ebp; cmp $64, %ebp; jb 1b\n"
  "  hlt\n"
  ".endm\n"
  ".macro BODY_nop\n.endm\n"
  ".macro BODY_cpuid\n  xor %eax, %eax; xor %ecx, %ecx; cpuid\n.endm\n"
  ".macro BODY_vmcall\n  xor %eax, %eax; xor %ebx, %ebx; xor %ecx, %ecx; xor %edx, %edx; vmcall; mov %eax, 0x10f04\n.endm\n"
  ".macro BODY_io\n  mov $0x3fd, %edx; in %dx, %al\n.endm\n"
  ".macro BODY_msrapic\n  mov $0x1b, %ecx; rdmsr\n.endm\n"
  ".macro BODY_msrtsc\n  mov $0x10, %ecx; rdmsr\n.endm\n"
  ".macro BODY_ept\n  mov %ebp, %ebx; shl $12, %ebx; add 0x10f00, %ebx; mov (%ebx), %eax\n.endm\n"
  ".code32\n"
  "BENCH nop, 32\n"
  "BENCH cpuid, 32\n"
  "BENCH vmcall, 32\n"
  "BENCH io, 32\n"
  "BENCH msrapic, 32\n"
  "BENCH msrtsc, 32\n"
  "BENCH ept, 32\n"
  ".code64\n"
  "BENCH nop, 64\n"
  "BENCH cpuid, 64\n"
  "BENCH vmcall, 64\n"
  "BENCH io, 64\n"
  "BENCH msrapic, 64\n"
  "BENCH msrtsc, 64\n"
  "BENCH ept, 64\n"
  ".code64\n"
  "g_code_end:\n"
  ".popsection\n");
extern const unsigned char g_code[], g_code_end[], g_nop32[], g_cpuid32[], g_vmcall32[], g_io32[], g_msrapic32[], g_msrtsc32[], g_ept32[],
  g_nop64[], g_cpuid64[], g_vmcall64[], g_io64[], g_msrapic64[], g_msrtsc64[], g_ept64[];

static const struct { const char *name; const unsigned char *entry32, *entry64; } tests[] = {
  { "nop", g_nop32, g_nop64 }, { "cpuid", g_cpuid32, g_cpuid64 }, { "vmcall", g_vmcall32, g_vmcall64 },
  { "io-in-0x3fd", g_io32, g_io64 }, { "rdmsr-apicbase", g_msrapic32, g_msrapic64 },
  { "rdmsr-tsc", g_msrtsc32, g_msrtsc64 }, { "ept-violation", g_ept32, g_ept64 },
};
#define NTESTS (int)(sizeof tests / sizeof tests[0])

static void die(const char *m) { perror(m); exit(1); }
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory"); return ((uint64_t)hi << 32) | lo; }
static double now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC_RAW, &t); return t.tv_sec * 1e9 + t.tv_nsec; }

/* KVM's binary statistics (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD): single-value
   counters only. */
#define MAXSTATS 96
static int stats_fd = -1, nstats;
static char stat_name[MAXSTATS][48];
static uint64_t stat_off[MAXSTATS];
static void stats_open(int vcpu) {
  stats_fd = ioctl(vcpu, KVM_GET_STATS_FD, 0);
  if (stats_fd < 0) return;
  struct kvm_stats_header h;
  if (pread(stats_fd, &h, sizeof h, 0) != sizeof h) { stats_fd = -1; return; }
  size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;
  char *buf = malloc(dsz * h.num_desc);
  if (!buf || pread(stats_fd, buf, dsz * h.num_desc, h.desc_offset) != (ssize_t)(dsz * h.num_desc)) { stats_fd = -1; return; }
  for (unsigned i = 0; i < h.num_desc && nstats < MAXSTATS; i++) {
    struct kvm_stats_desc *d = (struct kvm_stats_desc *)(buf + i * dsz);
    if (d->size != 1 || (d->flags & KVM_STATS_TYPE_MASK) == KVM_STATS_TYPE_PEAK) continue;
    snprintf(stat_name[nstats], sizeof stat_name[0], "%s", d->name);
    stat_off[nstats++] = h.data_offset + d->offset;
  }
  free(buf);
}
static void stats_read(uint64_t *v) {
  for (int i = 0; i < nstats; i++) if (pread(stats_fd, &v[i], 8, stat_off[i]) != 8) v[i] = 0;
}

static int cmp_u64(const void *a, const void *b) { uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b; return x < y ? -1 : x > y; }
static void on_alarm(int sig) { (void)sig; } /* interrupts KVM_RUN (EINTR) */

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct sigaction sa = { .sa_handler = on_alarm }; /* no SA_RESTART */
  sigaction(SIGALRM, &sa, NULL);
  int reps = argc > 1 ? atoi(argv[1]) : 9;
  int mode = argc > 2 ? atoi(argv[2]) : 64;
  if (mode != 32 && mode != 64) { fprintf(stderr, "kvmbench: mode 32 or 64\n"); return 2; }
  if (reps < 1 || (uint64_t)(reps + 1) * N * 4096 > LAZY_SIZE) { fprintf(stderr, "kvmbench: reps 1..%u\n", LAZY_SIZE / (N * 4096) - 1); return 2; }
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul); /* only used without unrestricted guest */
  unsigned char *low = mmap(NULL, LOW_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char *lazy = mmap(NULL, LAZY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (low == MAP_FAILED || lazy == MAP_FAILED) die("mmap");
  memcpy(low + CODE_GPA, g_code, g_code_end - g_code);
  struct kvm_userspace_memory_region r0 = { .slot = 0, .guest_phys_addr = 0, .memory_size = LOW_SIZE, .userspace_addr = (unsigned long)low };
  struct kvm_userspace_memory_region r1 = { .slot = 1, .guest_phys_addr = LAZY_GPA, .memory_size = LAZY_SIZE, .userspace_addr = (unsigned long)lazy };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0) < 0 || ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  /* The CPUID KVM supports, as a VMM would set it (CPUID leaf 0 then returns a real vendor). */
  struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid = { .c.nent = 256 };
  if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
  if (ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0) die("KVM_SET_CPUID2");
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");
  struct kvm_sregs s;
  if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
  struct kvm_segment code = { .base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1 };
  struct kvm_segment data = code;
  data.selector = 16; data.type = 3;
  if (mode == 64) {
    /* Long mode: identity map of the first 1 GiB with 2 MiB pages (PML4 0x20000, PDPT 0x21000,
       PD 0x22000), so every page the guest touches is already mapped in its own page tables. */
    uint64_t *pml4 = (uint64_t *)(low + PT_GPA), *pdpt = pml4 + 512, *pd = pml4 + 1024;
    pml4[0] = (PT_GPA + 0x1000) | 3; pdpt[0] = (PT_GPA + 0x2000) | 3;
    for (int i = 0; i < 512; i++) pd[i] = ((uint64_t)i << 21) | 0x83; /* P, RW, PS */
    code.l = 1; code.db = 0;
    s.cr3 = PT_GPA; s.cr4 = 0x20; /* PAE */ s.efer = 0x500; /* LME, LMA */
    s.cr0 = 0x80000011; /* PG, ET, PE */
  } else {
    s.cr0 = 0x11; /* PE, ET; paging off */
    s.cr4 = 0; s.efer = 0;
  }
  s.cs = code; s.ds = s.es = s.fs = s.gs = s.ss = data;
  if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
  stats_open(vcpu);
  static uint64_t st0[MAXSTATS], st1[MAXSTATS];
  volatile uint32_t *var = (volatile uint32_t *)(low + VAR_GPA);
  const volatile uint64_t *res = (const volatile uint64_t *)(low + RES_GPA);
  int skip[NTESTS] = { 0 };
  double t0 = now_ns();
  uint64_t c0 = rdtsc();
  for (int rep = 0; rep <= reps; rep++) {
    for (int t = 0; t < NTESTS; t++) {
      var[0] = LAZY_GPA + (uint32_t)rep * N * 4096;
      var[1] = 0x12345678;
      struct kvm_regs g = { .rip = CODE_GPA + ((mode == 64 ? tests[t].entry64 : tests[t].entry32) - g_code), .rflags = 2 };
      if (ioctl(vcpu, KVM_SET_REGS, &g) < 0) die("KVM_SET_REGS");
      if (stats_fd >= 0) stats_read(st0);
      if (skip[t]) continue;
      int ins = 0, timedout = 0;
      alarm(TEST_TIMEOUT_S);
      for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
          if (errno == EINTR) { timedout = 1; break; }
          die("KVM_RUN");
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN && run->io.port == 0x3fd && run->io.size == 1) {
          *((unsigned char *)run + run->io.data_offset) = 0x60;
          ins++;
          continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT) break;
        printf("kvmbench: %s: unexpected exit %d (hw reason 0x%llx)\n", tests[t].name, run->exit_reason,
               (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return 1;
      }
      alarm(0);
      if (stats_fd >= 0) stats_read(st1);
      if (timedout) {
        printf("kvmbench: %s: no HLT after %d s (%d port reads); skipped from now on\n", tests[t].name, TEST_TIMEOUT_S, ins);
        if (stats_fd >= 0) {
          printf("kvmbench: %s stats:", tests[t].name);
          for (int i = 0; i < nstats; i++) if (st1[i] != st0[i]) printf(" %s=%lld", stat_name[i], (long long)(st1[i] - st0[i]));
          printf("\n");
        }
        skip[t] = 1;
        continue;
      }
      uint64_t d[N], sum = 0;
      for (int i = 0; i < N; i++) { d[i] = res[i]; sum += d[i]; }
      qsort(d, N, sizeof d[0], cmp_u64);
      if (rep == 0) printf("kvmbench: warmup %s", tests[t].name); else printf("kvmbench: rep %d %s", rep, tests[t].name);
      printf(" min %llu median %llu mean %llu cycles (%d round trips)", (unsigned long long)d[0], (unsigned long long)((d[N / 2 - 1] + d[N / 2]) / 2),
             (unsigned long long)(sum / N), N);
      if (stats_fd >= 0) {
        printf(" stats:");
        for (int i = 0; i < nstats; i++) if (st1[i] != st0[i]) printf(" %s=%lld", stat_name[i], (long long)(st1[i] - st0[i]));
      }
      printf("\n");
      if (t == 3 && ins != N) { printf("kvmbench: io-in-0x3fd: %d port reads reached userspace, not %d\n", ins, N); return 1; }
      if (t == 2 && var[1] != (uint32_t)-1000) { printf("kvmbench: vmcall returned eax 0x%x, not -KVM_ENOSYS\n", var[1]); return 1; }
    }
  }
  uint64_t c1 = rdtsc();
  double t1 = now_ns();
  printf("kvmbench: mode %d-bit\n", mode);
  printf("kvmbench: tsc %.3f MHz (rdtsc vs CLOCK_MONOTONIC_RAW over %.0f ms)\n", (c1 - c0) * 1e3 / (t1 - t0), (t1 - t0) / 1e6);
  printf("kvmbench: done\n");
  return 0;
}

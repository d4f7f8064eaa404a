/* SMP: the BSP starts the APs with INIT / SIPI / SIPI (SDM 9.4.4 / 11.6.1) through its xAPIC,
   every CPU increments a shared counter with LOCK, IPIs go BSP -> AP -> BSP (fixed, physical and
   broadcast), and an INIT + SIPI restarts one AP. Only the BSP prints, so the output does not
   depend on the order the CPUs run in. Needs 2..16 CPUs (QEMU -smp 4, nestvm --smp 4). */
#include "rt.h"

#define APIC_BASE 0xfee00000UL
#define APIC_ID 0x20
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_ICR_LO 0x300
#define APIC_ICR_HI 0x310
#define ICR_INIT 0x00000500
#define ICR_SIPI 0x00000600
#define ICR_ASSERT 0x00004000
#define ICR_LEVEL 0x00008000
#define ICR_ALL_BUT_SELF 0x000c0000
#define VEC_PING 0x40
#define VEC_PONG 0x41
#define MAXCPU 16
#define COUNT 20000

extern u8 ap_tramp[], ap_tramp_end[], ap_tramp_gdt[];
extern volatile u32 ap_ticket;
extern u64 boot_pdpt[];

static u64 apic_pd[512] __attribute__((aligned(4096)));
static struct { u16 limit; u64 base; } __attribute__((packed)) idtr;

static volatile u32 online;                 /* APs that reached ap_main */
static volatile u32 started[MAXCPU];        /* times each APIC ID started */
static volatile u32 cpuid_id[MAXCPU];       /* CPUID.1:EBX[31:24] seen by each AP */
static volatile u32 counter;                /* LOCK-incremented by every CPU */
static volatile u32 counted;                /* CPUs that finished counting */
static volatile u32 pings[MAXCPU];          /* VEC_PING taken by each AP */
static volatile u32 pinged;                 /* VEC_PING taken by all APs */
static volatile u32 pongs;                  /* VEC_PONG taken by the BSP */
static volatile u32 pong_from;              /* bit mask of APs that answered */

static inline u32 apic_read(u32 r) { return *(volatile u32 *)(APIC_BASE + r); }
static inline void apic_write(u32 r, u32 v) { *(volatile u32 *)(APIC_BASE + r) = v; }
static inline u32 my_id(void) { return apic_read(APIC_ID) >> 24; }
static inline void pause_(void) { __asm__ volatile("pause" ::: "memory"); }

static void ipi(u32 dest, u32 lo) {
  apic_write(APIC_ICR_HI, dest << 24);
  apic_write(APIC_ICR_LO, lo);
}

static void hook(struct frame *f) {
  if (f->vec == VEC_PING) {
    u32 id = my_id();
    if (id < MAXCPU) pings[id]++;
    __atomic_fetch_add(&pinged, 1, __ATOMIC_SEQ_CST);
    apic_write(APIC_EOI, 0);
    ipi(0, VEC_PONG);                        /* answer the BSP (APIC ID 0) */
  } else if (f->vec == VEC_PONG) {
    __atomic_fetch_add(&pongs, 1, __ATOMIC_SEQ_CST);
    apic_write(APIC_EOI, 0);
  } else {
    trap_default(f);
  }
}

/* Wait until *p reaches want (pausing), at most `spins` iterations; returns the last value. */
static u32 wait_for(volatile u32 *p, u32 want, u32 spins) {
  while (*p < want && spins--) pause_();
  return *p;
}

void ap_main(void) {
  __asm__ volatile("lidt %0" :: "m"(idtr));
  u32 id = my_id();
  u32 a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  apic_write(APIC_SVR, 0x1ff);
  if (id < MAXCPU) { cpuid_id[id] = b >> 24; __atomic_fetch_add(&started[id], 1, __ATOMIC_SEQ_CST); }
  __atomic_fetch_add(&online, 1, __ATOMIC_SEQ_CST);
  if (started[id < MAXCPU ? id : 0] == 1) {
    for (int i = 0; i < COUNT; i++) __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
    __atomic_fetch_add(&counted, 1, __ATOMIC_SEQ_CST);
  }
  for (;;) __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static u32 fwcfg_cpus(void) {
  outw(0x510, 0x05);                         /* FW_CFG_NB_CPUS */
  u32 lo = inb(0x511), hi = inb(0x511);
  return lo | hi << 8;
}

static void start_aps(void) {
  ipi(0, ICR_INIT | ICR_ASSERT | ICR_LEVEL | ICR_ALL_BUT_SELF);
  ipi(0, ICR_INIT | ICR_LEVEL | ICR_ALL_BUT_SELF);   /* de-assert */
  for (volatile int i = 0; i < 10000; i++) pause_();
  for (int k = 0; k < 2; k++) {
    ipi(0, ICR_SIPI | ICR_ASSERT | ICR_ALL_BUT_SELF | (0x8000 >> 12));
    for (volatile int i = 0; i < 1000; i++) pause_();
  }
}

int main(void) {
  printf("smp: 64-bit mode\n");
  u32 n = fwcfg_cpus();
  printf("info: %u CPUs\n", n);
  if (n < 2 || n > MAXCPU) { printf("not ok 1 - needs 2..%d CPUs, fw_cfg says %u\n", MAXCPU, n); return 1; }
  /* The xAPIC page: 2 MiB uncached page at 0xfee00000 in a PD for 3..4 GiB. */
  apic_pd[(APIC_BASE >> 21) & 511] = (APIC_BASE & ~0x1fffffUL) | 0x9b;   /* P RW PWT PCD PS */
  boot_pdpt[3] = (u64)(uptr)apic_pd | 3;
  write_cr3(read_cr3());
  outb(0x21, 0xff); outb(0xa1, 0xff);        /* 8259s masked: only APIC interrupts */
  idt_init();
  trap_hook = hook;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  apic_write(APIC_SVR, 0x1ff);
  check("BSP APIC ID", my_id(), 0);

  /* Trampoline at 0x8000 with the GDT descriptor of the shared GDT. */
  extern u8 gdt_desc[];
  memcpy((void *)0x8000, ap_tramp, ap_tramp_end - ap_tramp);
  memcpy((void *)(0x8000 + (ap_tramp_gdt - ap_tramp)), gdt_desc, 6);
  start_aps();
  check("APs online after INIT/SIPI/SIPI", wait_for(&online, n - 1, 50000000), n - 1);
  int ids_ok = 1;
  for (u32 i = 1; i < n; i++) if (started[i] != 1 || cpuid_id[i] != i) ids_ok = 0;
  ok(ids_ok, "each AP has its APIC ID (xAPIC ID register and CPUID.1:EBX[31:24])");

  for (int i = 0; i < COUNT; i++) __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
  wait_for(&counted, n - 1, 50000000);
  check("LOCK XADD counter from every CPU", counter, COUNT * n);

  /* Fixed IPIs to each AP by physical APIC ID; each answers with an IPI to the BSP. */
  sti();
  for (u32 i = 1; i < n; i++) {
    u32 want = pongs + 1;
    ipi(i, VEC_PING);
    wait_for(&pongs, want, 50000000);
  }
  check("IPI to each AP answered by an IPI back", pongs, n - 1);
  int each = 1;
  for (u32 i = 1; i < n; i++) if (pings[i] != 1) each = 0;
  ok(each, "each AP took exactly one IPI");

  /* Broadcast to all but self. The answers may coalesce in the BSP's IRR (one bit per vector),
     so count what the APs took. */
  ipi(0, VEC_PING | ICR_ALL_BUT_SELF);
  check("broadcast IPI taken by every AP", wait_for(&pinged, 2 * (n - 1), 50000000), 2 * (n - 1));
  each = 1;
  for (u32 i = 1; i < n; i++) if (pings[i] != 2) each = 0;
  ok(each, "each AP took the broadcast once");

  /* INIT + SIPI to AP 1 alone: it runs the trampoline again. */
  u32 before = online;
  ipi(1, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
  ipi(1, ICR_INIT | ICR_LEVEL);
  for (volatile int i = 0; i < 10000; i++) pause_();
  ipi(1, ICR_SIPI | ICR_ASSERT | (0x8000 >> 12));
  check("INIT + SIPI restart AP 1", wait_for(&online, before + 1, 50000000), before + 1);
  check("AP 1 started twice", started[1], 2);
  for (volatile int i = 0; i < 100000; i++) pause_();   /* let any late answer land */
  u32 want = pongs + 1;
  ipi(1, VEC_PING);
  check("restarted AP 1 takes IPIs", wait_for(&pongs, want, 50000000), want);
  cli();
  return done();
}

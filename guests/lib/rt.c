#include <stdarg.h>
#include "rt.h"

#define COM1 0x3f8
static int serial_ready;
static void serial_init(void) {
  outb(COM1 + 1, 0x00);   /* no interrupts */
  outb(COM1 + 3, 0x80);   /* DLAB */
  outb(COM1 + 0, 0x01);   /* 115200 baud */
  outb(COM1 + 1, 0x00);
  outb(COM1 + 3, 0x03);   /* 8N1 */
  outb(COM1 + 2, 0xC7);   /* FIFO on, cleared */
  outb(COM1 + 4, 0x03);   /* DTR, RTS */
  serial_ready = 1;
}
void putchar_(int c) {
  if (!serial_ready) serial_init();
  while (!(inb(COM1 + 5) & 0x20)) {}
  outb(COM1, (u8)c);
}
void puts_(const char *s) { while (*s) putchar_(*s++); }

static void put_num(u64 v, int base, int upper, int width, int zero, int neg) {
  char buf[24]; int n = 0;
  const char *dig = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do { buf[n++] = dig[v % (unsigned)base]; v /= (unsigned)base; } while (v);
  int len = n + neg;
  if (neg && zero) putchar_('-');
  for (; len < width; len++) putchar_(zero ? '0' : ' ');
  if (neg && !zero) putchar_('-');
  while (n) putchar_(buf[--n]);
}

int printf(const char *fmt, ...) {
  va_list ap; va_start(ap, fmt);
  for (; *fmt; fmt++) {
    if (*fmt != '%') { putchar_(*fmt); continue; }
    fmt++;
    int zero = 0, width = 0, lng = 0;
    if (*fmt == '0') { zero = 1; fmt++; }
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    while (*fmt == 'l' || *fmt == 'z') { lng += (*fmt == 'z') ? (sizeof(size_t) == 8 ? 2 : 0) : 1; fmt++; }
    if (lng == 1 && sizeof(long) == 8) lng = 2;
    u64 v; int neg = 0;
    switch (*fmt) {
    case 'd': case 'i': {
      int64_t s = lng >= 2 ? va_arg(ap, int64_t) : va_arg(ap, int);
      if (s < 0) { neg = 1; v = (u64)-s; } else v = (u64)s;
      put_num(v, 10, 0, width, zero, neg); break; }
    case 'u': v = lng >= 2 ? va_arg(ap, u64) : va_arg(ap, unsigned); put_num(v, 10, 0, width, zero, 0); break;
    case 'x': case 'X': v = lng >= 2 ? va_arg(ap, u64) : va_arg(ap, unsigned); put_num(v, 16, *fmt == 'X', width, zero, 0); break;
    case 'p': v = (uptr)va_arg(ap, void *); put_num(v, 16, 0, width, 1, 0); break;
    case 'c': putchar_(va_arg(ap, int)); break;
    case 's': { const char *s = va_arg(ap, const char *); int l = (int)strlen(s);
      for (; l < width; l++) putchar_(' ');
      puts_(s); break; }
    case '%': putchar_('%'); break;
    default: putchar_('%'); putchar_(*fmt); break;
    }
  }
  va_end(ap);
  return 0;
}

void exit(int code) {
  outl(0xf4, (u32)code);          /* isa-debug-exit: QEMU exits with (code << 1) | 1 */
  for (;;) __asm__ volatile("cli; hlt");
}

int tests_run, tests_failed;
void check(const char *what, u64 got, u64 want) {
  tests_run++;
  if (got == want) printf("ok %d - %s\n", tests_run, what);
  else { tests_failed++; printf("not ok %d - %s (got 0x%llx want 0x%llx)\n", tests_run, what, (unsigned long long)got, (unsigned long long)want); }
}
void ok(int cond, const char *what) {
  tests_run++;
  if (cond) printf("ok %d - %s\n", tests_run, what);
  else { tests_failed++; printf("not ok %d - %s\n", tests_run, what); }
}
int done(void) {
  printf("# %d tests: %d ok, %d not ok\n", tests_run, tests_run - tests_failed, tests_failed);
  return tests_failed ? 1 : 0;
}

void *memcpy(void *d, const void *s, size_t n) { u8 *a = d; const u8 *b = s; while (n--) *a++ = *b++; return d; }
void *memset(void *d, int c, size_t n) { u8 *a = d; while (n--) *a++ = (u8)c; return d; }
int memcmp(const void *x, const void *y, size_t n) {
  const u8 *a = x, *b = y;
  for (; n; n--, a++, b++) if (*a != *b) return *a < *b ? -1 : 1;
  return 0;
}
size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }

/* ---- descriptor tables ---- */
#ifdef __x86_64__
static u64 idt[512] __attribute__((aligned(16)));
#else
static u64 idt[256] __attribute__((aligned(16)));
#endif
volatile struct trapinfo last_trap;
volatile uptr fixup_ip, fault_ip_want, fault_next_ip;
uptr user_eflags = 2;
u8 user_stack[8192] __attribute__((aligned(16)));
extern char user_return[];

static void default_hook(struct frame *f) {
  if (f->vec == 0x80 && (u32)F_AX(f) == USER_EXIT) {   /* back from enter_user */
    f->ip = (uptr)user_return;
#ifdef __x86_64__
    f->cs = SEL_CODE64; f->ss = SEL_DATA;
#else
    f->cs = SEL_CODE32;
#endif
    f->flags = 2;
    return;
  }
  last_trap.vec = f->vec; last_trap.err = f->err; last_trap.ip = f->ip;
  last_trap.cs = f->cs; last_trap.flags = f->flags;
  last_trap.cr2 = read_cr2(); last_trap.count++;
  if (fixup_ip) { f->ip = fixup_ip; fixup_ip = 0; f->flags &= ~(uptr)0x100; return; }
  printf("not ok - unexpected trap vector %u error 0x%x at ip 0x%lx\n", (unsigned)f->vec, (unsigned)f->err, (unsigned long)f->ip);
  exit(3);
}
void (*trap_hook)(struct frame *f) = default_hook;
void trap_dispatch(struct frame *f) { trap_hook(f); }
void trap_default(struct frame *f) { default_hook(f); }

void idt_set(int vec, uptr h, int type, int dpl, int ist) {
#ifdef __x86_64__
  u16 cs = SEL_CODE64;
  idt[vec * 2] = (h & 0xffff) | ((u64)cs << 16) | ((u64)(ist & 7) << 32) |
                 ((u64)(0x80 | (dpl << 5) | type) << 40) | ((u64)((h >> 16) & 0xffff) << 48);
  idt[vec * 2 + 1] = (u64)h >> 32;
#else
  (void)ist;
  u16 cs = SEL_CODE32;
  idt[vec] = (h & 0xffff) | ((u64)cs << 16) | ((u64)(0x80 | (dpl << 5) | type) << 40) |
             ((u64)((h >> 16) & 0xffff) << 48);
#endif
}
void idt_set_present(int vec, int present) {
#ifdef __x86_64__
  u64 *e = &idt[vec * 2];
#else
  u64 *e = &idt[vec];
#endif
  if (present) *e |= 1ull << 47; else *e &= ~(1ull << 47);
}
void idt_init(void) {
  for (int i = 0; i < 256; i++) idt_set(i, vector_table[i], 0xE, i == 0x80 ? 3 : 0, 0);
  struct { u16 limit; uptr base; } __attribute__((packed)) d = { sizeof(idt) - 1, (uptr)idt };
  __asm__ volatile("lidt %0" :: "m"(d));
}
void gdt_set(int sel, u32 base, u32 limit, u8 access, u8 flags4) {
  gdt[sel >> 3] = (limit & 0xffff) | ((u64)(base & 0xffffff) << 16) | ((u64)access << 40) |
                  ((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags4 & 0xf) << 52) |
                  ((u64)(base >> 24) << 56);
}

struct tss tss __attribute__((aligned(16)));
u8 ring0_stack[8192] __attribute__((aligned(16)));
u8 ist_stack[8192] __attribute__((aligned(16)));
void tss_init(void) {
  memset(&tss, 0, sizeof tss);
#ifdef __x86_64__
  tss.rsp[0] = (uptr)(ring0_stack + sizeof ring0_stack);
  tss.ist[0] = (uptr)(ist_stack + sizeof ist_stack);
  tss.iomap = sizeof tss;
  gdt_set(SEL_TSS, (u32)(uptr)&tss, sizeof tss - 1, 0x89, 0);
  gdt[(SEL_TSS >> 3) + 1] = 0;
#else
  tss.esp0 = (uptr)(ring0_stack + sizeof ring0_stack);
  tss.ss0 = SEL_DATA;
  tss.iomap = sizeof tss;
  gdt_set(SEL_TSS, (u32)(uptr)&tss, sizeof tss - 1, 0x89, 0);
#endif
  ltr(SEL_TSS);
}

void print_trap(const char *what) {
  printf("%s: vector %u error 0x%x\n", what, (unsigned)last_trap.vec, (unsigned)last_trap.err);
}

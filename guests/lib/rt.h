/* Shared freestanding runtime for nestvm test guests (32-bit and 64-bit builds). */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include "gdt.h"

typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef uintptr_t uptr;

/* ---- output, exit, tests ---- */
void putchar_(int c);
void puts_(const char *s);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void exit(int code) __attribute__((noreturn));
void check(const char *what, u64 got, u64 want);  /* ok N - what / not ok N - what (got X want Y) */
void ok(int cond, const char *what);
int done(void);                                   /* prints the summary; returns exit code */
extern int tests_run, tests_failed;
extern u32 mb_magic, mb_info;

void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- CPU helpers ---- */
static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outw(u16 p, u16 v) { __asm__ volatile("outw %0, %1" :: "a"(v), "Nd"(p)); }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d) {
  __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 rdmsr(u32 m) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(m)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 m, u64 v) { __asm__ volatile("wrmsr" :: "c"(m), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
#define CR_RW(n) \
  static inline uptr read_cr##n(void) { uptr v; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
  static inline void write_cr##n(uptr v) { __asm__ volatile("mov %0, %%cr" #n :: "r"(v) : "memory"); }
CR_RW(0) CR_RW(2) CR_RW(3) CR_RW(4)
static inline void invlpg(const volatile void *p) { __asm__ volatile("invlpg (%0)" :: "r"(p) : "memory"); }
static inline uptr read_flags(void) { uptr f; __asm__ volatile("pushf; pop %0" : "=r"(f)); return f; }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void ltr(u16 s) { __asm__ volatile("ltr %0" :: "r"(s)); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_CSTAR 0xC0000083
#define MSR_FMASK 0xC0000084
#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176

/* ---- descriptor tables ---- */
struct frame {
#ifdef __x86_64__
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
  u64 vec, err, ip, cs, flags, sp, ss;
#else
  u32 es, ds, edi, esi, ebp, esp0, ebx, edx, ecx, eax;
  u32 vec, err, ip, cs, flags, sp, ss;   /* sp, ss only on a privilege change */
#endif
};
#ifdef __x86_64__
#define F_AX(f) ((f)->rax)
#else
#define F_AX(f) ((f)->eax)
#endif
extern u64 gdt[];
extern const uptr vector_table[256];
/* Called for every vector; the default records the trap and resumes at fixup_ip (see TRY). */
extern void (*trap_hook)(struct frame *f);
void trap_default(struct frame *f);   /* the default hook, for hooks that chain to it */
void idt_init(void);   /* all 256 vectors -> stubs, interrupt gates, DPL 0, loads IDTR */
void idt_set(int vec, uptr handler, int type, int dpl, int ist);
void idt_set_present(int vec, int present);
void gdt_set(int sel, u32 base, u32 limit, u8 access, u8 flags4);
void tss_init(void);   /* TSS descriptor at SEL_TSS, loads TR; stacks below */
#ifdef __x86_64__
struct tss { u32 r0; u64 rsp[3]; u64 r1; u64 ist[7]; u64 r2; u16 r3, iomap; } __attribute__((packed));
#else
struct tss { u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags, eax, ecx, edx, ebx,
             esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt; u16 trap, iomap; };
#endif
extern struct tss tss;
extern u8 ring0_stack[8192], ist_stack[8192];   /* TSS.RSP0/ESP0 and IST1 stacks */

/* The default trap hook records the last trap here. */
struct trapinfo { uptr vec, err, ip, cr2, cs, flags; int count; };
extern volatile struct trapinfo last_trap;
extern volatile uptr fixup_ip, fault_ip_want, fault_next_ip;
/* Ring 3: enter_user runs fn at CPL 3 on ustack with EFLAGS = user_eflags; it returns when
   fn returns (through INT 0x80 with EAX = USER_EXIT, handled by the default trap hook). */
#define USER_EXIT 0xE417
int enter_user(void (*fn)(void), void *ustack);
extern uptr user_eflags;
extern u8 user_stack[8192];

/* TRY(setup, insn, : outputs : inputs : clobbers): run setup then insn; if they trap, the
   default hook records the trap and resumes after them. fault_ip_want is the address of insn,
   fault_next_ip the address after it. */
#ifdef __x86_64__
#define TRY_PRE "movq $2f, fault_ip_want(%%rip)\n\tmovq $1f, fixup_ip(%%rip)\n\tmovq $1f, fault_next_ip(%%rip)\n\t"
#else
#define TRY_PRE "movl $2f, fault_ip_want\n\tmovl $1f, fixup_ip\n\tmovl $1f, fault_next_ip\n\t"
#endif
#define TRY(setup, insn, ...) do { last_trap.vec = 0xff; last_trap.count = 0; \
  __asm__ volatile(TRY_PRE setup "\n2:\t" insn "\n1:\n\t" __VA_ARGS__); fixup_ip = 0; } while (0)
void print_trap(const char *what);

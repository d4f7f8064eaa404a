/* exceptions: each architectural exception raised on purpose, in 64-bit mode (exceptions.elf)
   or 32-bit protected mode (exceptions32.elf, same source). Checks the vector, the error code,
   CR2 for #PF and the saved instruction pointer (the faulting instruction for faults, the next
   one for traps). */
#include "rt.h"

#ifdef __x86_64__
#define SP "rsp"
#define AXR "rax"
#else
#define SP "esp"
#define AXR "eax"
#endif
#define NOERR ((uptr)-1)
static char name[96];
static const char *cat(const char *a, const char *b) {
  size_t n = strlen(a); memcpy(name, a, n); memcpy(name + n, b, strlen(b) + 1); return name;
}
/* trap: ip is the next instruction; fault: ip is the faulting instruction */
static void expect(const char *what, unsigned vec, uptr err, int trap) {
  check(cat(what, " vector"), last_trap.vec, vec);
  if (err != NOERR) check(cat(what, " error code"), last_trap.err, err);
  check(cat(what, trap ? " saved ip is next instruction" : " saved ip is faulting instruction"),
        last_trap.ip, trap ? fault_next_ip : fault_ip_want);
}

#ifndef __x86_64__
/* 32-bit: identity map the first 1 GiB with 4 MiB pages so #PF can be tested */
static u32 pd[1024] __attribute__((aligned(4096)));
static void paging32_on(void) {
  for (u32 i = 0; i < 256; i++) pd[i] = (i << 22) | 0x87;
  write_cr4(read_cr4() | 0x10);           /* PSE */
  write_cr3((uptr)pd);
  write_cr0(read_cr0() | 0x80000000);
}
#endif

static volatile u32 ac_buf[4];
static void user_ac(void) {
  TRY("", "movl 1(%0), %%eax", :: "r"(ac_buf) : "eax", "memory");
}
static void user_priv(void) {
  TRY("", "cli", ::: "memory");                                 /* IOPL 0 at CPL 3 -> #GP(0) */
  TRY("", "mov %%cr0, %%" AXR, ::: "eax");
}

int main(void) {
#ifdef __x86_64__
  printf("exceptions: 64-bit mode\n");
#else
  printf("exceptions: 32-bit protected mode\n");
#endif
  idt_init();
  tss_init();
#ifdef __x86_64__
  idt_set(8, vector_table[8], 0xE, 0, 1);    /* #DF on IST1 */
#endif

  TRY("xorl %%ecx, %%ecx", "divl %%ecx", ::: "eax", "ecx", "edx");
  expect("#DE div by zero", 0, NOERR, 0);
  TRY("movl $0x80000000, %%eax\n\tcltd\n\tmovl $-1, %%ecx", "idivl %%ecx", ::: "eax", "ecx", "edx");
  expect("#DE idiv overflow", 0, NOERR, 0);
  TRY("pushf\n\torl $0x100, (%%" SP ")\n\tpopf\n\tnop", "nop", ::: "memory", "cc");
  /* the trap comes after the first nop executed with TF=1 */
  check("#DB single step vector", last_trap.vec, 1);
  check("#DB single step ip after first nop", last_trap.ip, fault_ip_want);
  uptr dr6; __asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
  check("#DB single step DR6.BS", (dr6 >> 14) & 1, 1);
  TRY("", "int3", ::: "memory");
  expect("#BP int3", 3, NOERR, 1);
#ifdef __x86_64__
  TRY("", ".byte 0xce", ::: "memory");
  expect("INTO in 64-bit mode is #UD", 6, NOERR, 0);
  TRY("", ".byte 0x62, 0x00", ::: "memory");          /* BOUND opcode: not valid as BOUND here */
  check("0x62 in 64-bit mode faults #UD", last_trap.vec, 6);
#else
  TRY("movb $0x7f, %%al\n\taddb $1, %%al", "into", ::: "eax", "cc");
  expect("#OF into", 4, NOERR, 1);
  TRY("movb $1, %%al", "into", ::: "eax", "cc");
  check("into without OF does not trap", last_trap.count, 0);
  static volatile int32_t bounds[2] = { 10, 20 };
  TRY("movl $25, %%eax", "boundl %%eax, (%0)", :: "r"(bounds) : "eax");
  expect("#BR bound", 5, NOERR, 0);
  TRY("movl $15, %%eax", "boundl %%eax, (%0)", :: "r"(bounds) : "eax");
  check("bound in range does not trap", last_trap.count, 0);
#endif
  TRY("", "ud2", ::: "memory");
  expect("#UD ud2", 6, NOERR, 0);
  TRY("", ".byte 0x0f, 0xff", ::: "memory");
  expect("#UD 0f ff", 6, NOERR, 0);
  write_cr0(read_cr0() | 8);                      /* CR0.TS */
  TRY("", "fldz\n\tfstp %%st(0)", ::: "memory");
  expect("#NM with CR0.TS", 7, NOERR, 0);
  __asm__ volatile("clts");
  TRY("", "fldz\n\tfstp %%st(0)", ::: "memory");
  check("no #NM after CLTS", last_trap.count, 0);

  /* #GP with error codes */
  TRY("movw $0x7f8, %%ax", "movw %%ax, %%fs", ::: "eax");
  expect("#GP selector beyond GDT limit", 13, 0x7f8, 0);
  TRY("movw $0x13, %%ax", "movw %%ax, %%fs", ::: "eax");
  expect("#GP data selector RPL 3 > DPL 0", 13, 0x10, 0);
  TRY("movw $0x58, %%ax", "movw %%ax, %%fs", ::: "eax");
  expect("#GP system descriptor into FS", 13, 0x58, 0);
  TRY("movw $0x10, %%ax", "ltr %%ax", ::: "eax");
  expect("#GP ltr with a data segment", 13, 0x10, 0);
#ifdef __x86_64__
  TRY("movabs $0x8000000000000000, %%rax", "movq (%%rax), %%rax", ::: "rax");
  expect("#GP non-canonical address", 13, 0, 0);
  TRY("movw $0x10, %%ax\n\tmovw %%ax, %%ss\n\tmovw $0, %%ax", "movw %%ax, %%ss", ::: "eax");
  check("null SS at CPL 0 in 64-bit mode is allowed", last_trap.count, 0);
  __asm__ volatile("movw %0, %%ss" :: "r"((u16)SEL_DATA));
#else
  TRY("xorl %%eax, %%eax", "movw %%ax, %%ss", ::: "eax");
  expect("#GP null SS in 32-bit mode", 13, 0, 0);
  TRY("movl $0x100, %%eax", "movw %%ax, %%ds", ::: "eax");
  expect("#GP selector beyond limit into DS", 13, 0x100, 0);
  __asm__ volatile("movw %0, %%ds" :: "r"((u16)SEL_DATA));
#endif
  /* #NP and #SS: a not-present data descriptor */
  gdt_set(SEL_SPARE, 0, 0xfffff, 0x13, 0xc);     /* data, DPL 0, P = 0 */
  TRY("movw $0x68, %%ax", "movw %%ax, %%fs", ::: "eax");
  expect("#NP not-present data segment", 11, 0x68, 0);
  TRY("movw $0x68, %%ax", "movw %%ax, %%ss", ::: "eax");
  expect("#SS not-present stack segment", 12, 0x68, 0);
  gdt_set(SEL_SPARE, 0, 0xfffff, 0x93, 0xc);
  TRY("movw $0x68, %%ax", "movw %%ax, %%fs", ::: "eax");
  check("present data segment loads", last_trap.count, 0);
#ifndef __x86_64__
  /* #TS: IRET with NT=1 returns to the task in the TSS back link; a null/LDT link faults */
  tss.link = 0x0c;
  TRY("pushfl\n\torl $0x4000, (%%esp)\n\tpopfl\n\tpushfl\n\tpushl %%cs\n\tpushl $1f", "iret", ::: "memory");
  expect("#TS IRET to back link in LDT", 10, 0x0c, 0);
  __asm__ volatile("pushfl\n\tandl $~0x4000, (%%esp)\n\tpopfl" ::: "memory", "cc");
  tss.link = 0;
  paging32_on();
#endif
  /* #PF */
  volatile u32 *unmapped = (volatile u32 *)(uptr)0x40000010;
  TRY("", "movl (%0), %%eax", :: "r"(unmapped) : "eax");
  expect("#PF read not present", 14, 0, 0);
  check("#PF read CR2", last_trap.cr2, 0x40000010);
  TRY("", "movl %%eax, (%0)", :: "r"(unmapped + 4) : "memory");
  expect("#PF write not present", 14, 2, 0);
  check("#PF write CR2", last_trap.cr2, 0x40000020);
  /* #AC (CR0.AM, EFLAGS.AC, CPL 3) is not tested: QEMU TCG does not implement alignment
     checking, so TCG and KVM cannot agree on an expected output. Only the no-fault case. */
  write_cr0(read_cr0() | 0x40000);
  user_eflags = 0x2;
  enter_user(user_ac, user_stack + sizeof user_stack);
  check("no #AC with EFLAGS.AC clear", last_trap.count, 0);
  enter_user(user_priv, user_stack + sizeof user_stack);
  expect("#GP mov from CR0 at CPL 3", 13, 0, 0);
  /* #DF: #GP while IDT[13] is not present -> #NP during delivery -> double fault */
  idt_set_present(13, 0);
  TRY("movw $0x7f8, %%ax", "movw %%ax, %%fs", ::: "eax");
  check("#DF vector", last_trap.vec, 8);
  check("#DF error code", last_trap.err, 0);
  idt_set_present(13, 1);
  TRY("movw $0x7f8, %%ax", "movw %%ax, %%fs", ::: "eax");
  check("#GP delivered again after repair", last_trap.vec, 13);
  return done();
}

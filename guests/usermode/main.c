/* usermode: CPL 3 entry by IRET, INT 0x80 with the TSS stack switch, a call gate, and the
   fast system calls: SYSCALL/SYSRET in 64-bit mode (usermode.elf), SYSENTER/SYSEXIT in
   32-bit protected mode (usermode32.elf, same source). */
#include "rt.h"

static volatile uptr u_cs, u_ss, u_res, u_res2, k_cs, k_ss, k_sp, k_ret, k_flags, k_arg;

static void hook(struct frame *f) {
  if (f->vec == 0x80 && F_AX(f) == 1) {
    u16 ss; __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    k_cs = f->cs; k_ss = f->ss; k_sp = (uptr)f; k_flags = f->flags; k_ret = ss;
    F_AX(f) += 0x100;
    return;
  }
  trap_default(f);
}

#ifdef __x86_64__
__asm__(".text\n"
  "syscall_entry:\n\t"
  "movq %rcx, k_ret(%rip)\n\tmovq %r11, k_flags(%rip)\n\t"
  "movl %cs, %eax\n\tmovq %rax, k_cs(%rip)\n\tmovl %ss, %eax\n\tmovq %rax, k_ss(%rip)\n\t"
  "leaq (%rdi,%rdi), %rax\n\tsysretq\n"
  "gate_target:\n\t"
  "movq 8(%rsp), %rax\n\tmovq %rax, k_cs(%rip)\n\tmovq 24(%rsp), %rax\n\tmovq %rax, k_ss(%rip)\n\t"
  "movl %cs, %eax\n\tmovq %rax, k_ret(%rip)\n\tmovq %rsp, k_sp(%rip)\n\tlretq\n");
#else
__asm__(".text\n"
  "sysenter_entry:\n\t"
  "movl %cs, %ebx\n\tmovl %ebx, k_cs\n\tmovl %ss, %ebx\n\tmovl %ebx, k_ss\n\tmovl %esp, k_sp\n\t"
  "leal (%eax,%eax,2), %eax\n\tsysexit\n"
  "gate_target:\n\t"
  "movl 4(%esp), %eax\n\tmovl %eax, k_cs\n\tmovl 8(%esp), %eax\n\tmovl %eax, k_arg\n\t"
  "movl 16(%esp), %eax\n\tmovl %eax, k_ss\n\tmovl %cs, %eax\n\tmovl %eax, k_ret\n\tmovl %esp, k_sp\n\tlret $4\n");
#endif
extern char syscall_entry[], sysenter_entry[], gate_target[];

static void user_basic(void) {
  u16 cs, ss; __asm__ volatile("mov %%cs, %0\n\tmov %%ss, %1" : "=r"(cs), "=r"(ss));
  u_cs = cs; u_ss = ss;
  uptr r = 1;
  __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
  u_res = r;
}
static void user_fast(void) {
#ifdef __x86_64__
  uptr r;
  __asm__ volatile("movl $21, %%edi\n\tsyscall" : "=a"(r) : : "rcx", "r11", "rdi", "memory");
  u_res = r;
  u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs)); u_cs = cs;
#else
  uptr r = 14;
  __asm__ volatile("movl %%esp, %%ecx\n\tmovl $1f, %%edx\n\tsysenter\n1:" : "+a"(r) : : "ecx", "edx", "ebx", "memory");
  u_res = r;
  u16 cs, ss; __asm__ volatile("mov %%cs, %0\n\tmov %%ss, %1" : "=r"(cs), "=r"(ss)); u_cs = cs; u_ss = ss;
#endif
}
static void user_gate(void) {
  static volatile u32 farptr[2] = { 0, SEL_SPARE | 3 };
#ifdef __x86_64__
  __asm__ volatile("lcall *%0" :: "m"(farptr) : "rax", "memory");
#else
  __asm__ volatile("pushl $0x1234\n\tlcall *%0" :: "m"(farptr) : "eax", "memory");
#endif
  u16 cs; __asm__ volatile("mov %%cs, %0" : "=r"(cs)); u_cs = cs;
  u_res2 = 1;
}

int main(void) {
  printf("usermode: %s\n", sizeof(void *) == 8 ? "64-bit mode" : "32-bit protected mode");
  idt_init();
  tss_init();
  trap_hook = hook;
  u8 *stack_lo = ring0_stack, *stack_hi = ring0_stack + sizeof ring0_stack;
#ifdef __x86_64__
  const uptr UCS = SEL_UCODE64 | 3, USS = SEL_UDATA64 | 3;
#else
  const uptr UCS = SEL_UCODE32 | 3, USS = SEL_UDATA | 3;
#endif
  enter_user(user_basic, user_stack + sizeof user_stack);
  check("IRET to CPL 3: CS", u_cs, UCS);
  check("IRET to CPL 3: SS", u_ss, USS);
  check("INT 0x80 from CPL 3 returns result", u_res, 0x101);
  check("INT 0x80 frame: user CS", k_cs, UCS);
  check("INT 0x80 frame: user SS", k_ss, USS);
  ok(k_sp >= (uptr)stack_lo && k_sp < (uptr)stack_hi, "INT 0x80 switched to the TSS ring-0 stack");
#ifdef __x86_64__
  check("INT 0x80 in 64-bit mode loads null SS", k_ret, 0);
#else
  check("INT 0x80 loads SS0 from the TSS", k_ret, SEL_DATA);
#endif
  check("INT 0x80 frame: IF clear in user flags", k_flags & 0x200, 0);

#ifdef __x86_64__
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);                         /* SCE */
  wrmsr(MSR_STAR, ((u64)SEL_UCODE32 << 48) | ((u64)SEL_CODE64 << 32));
  wrmsr(MSR_LSTAR, (uptr)syscall_entry);
  wrmsr(MSR_FMASK, 0x4700);
  k_ret = 0;
  enter_user(user_fast, user_stack + sizeof user_stack);
  check("SYSCALL: kernel CS from STAR", k_cs, SEL_CODE64);
  check("SYSCALL: kernel SS = STAR CS + 8", k_ss, SEL_DATA64);
  ok(k_ret > (uptr)user_fast && k_ret < (uptr)user_fast + 64, "SYSCALL: RCX holds the return RIP");
  check("SYSCALL: R11 holds RFLAGS", k_flags & 0xfff, 0x202 & 0x2);
  check("SYSRET: result", u_res, 42);
  check("SYSRET: CS = STAR[63:48] + 16 | 3", u_cs, SEL_UCODE64 | 3);
#else
  wrmsr(MSR_SYSENTER_CS, SEL_CODE32);
  wrmsr(MSR_SYSENTER_ESP, (uptr)(ring0_stack + sizeof ring0_stack));
  wrmsr(MSR_SYSENTER_EIP, (uptr)sysenter_entry);
  enter_user(user_fast, user_stack + sizeof user_stack);
  check("SYSENTER: CS from SYSENTER_CS", k_cs, SEL_CODE32);
  check("SYSENTER: SS = SYSENTER_CS + 8", k_ss, SEL_DATA);
  check("SYSENTER: ESP from SYSENTER_ESP", k_sp, (uptr)(ring0_stack + sizeof ring0_stack));
  check("SYSEXIT: result", u_res, 42);
  check("SYSEXIT: CS = SYSENTER_CS + 16 | 3", u_cs, SEL_UCODE32 | 3);
  check("SYSEXIT: SS = SYSENTER_CS + 24 | 3", u_ss, SEL_UDATA | 3);
#endif

  /* call gate, DPL 3, to ring 0 code */
#ifdef __x86_64__
  uptr t = (uptr)gate_target;
  gdt[SEL_SPARE >> 3] = (t & 0xffff) | ((u64)SEL_CODE64 << 16) | ((u64)0xEC << 40) | ((u64)((t >> 16) & 0xffff) << 48);
  gdt[(SEL_SPARE >> 3) + 1] = t >> 32;
#else
  uptr t = (uptr)gate_target;
  gdt[SEL_SPARE >> 3] = (t & 0xffff) | ((u64)SEL_CODE32 << 16) | (1ull << 32) | ((u64)0xEC << 40) | ((u64)((t >> 16) & 0xffff) << 48);
#endif
  enter_user(user_gate, user_stack + sizeof user_stack);
  check("call gate: runs at CPL 0", k_ret, sizeof(void *) == 8 ? SEL_CODE64 : SEL_CODE32);
  check("call gate: caller CS pushed", k_cs, UCS);
  check("call gate: caller SS pushed", k_ss, USS);
  ok(k_sp >= (uptr)stack_lo && k_sp < (uptr)stack_hi, "call gate: stack from the TSS");
#ifndef __x86_64__
  check("call gate: parameter copied", k_arg, 0x1234);
#endif
  check("far return to CPL 3", u_cs, UCS);
  check("user code continued", u_res2, 1);
  return done();
}

/* enter_user(fn, ustack): IRET to CPL 3 at fn with the stack at ustack (user_eflags);
   fn's return address is user_exit_stub, which does INT 0x80 with EAX = 0xE417; the default
   trap hook then resumes kernel code at user_return, which returns from enter_user. */
#include "gdt.h"
        .text
        .globl enter_user, user_return, user_exit_stub
enter_user:
#ifdef __x86_64__
        push %rbx
        push %rbp
        push %r12
        push %r13
        push %r14
        push %r15
        movq %rsp, user_saved_sp(%rip)
        andq $-16, %rsi
        subq $8, %rsi
        movq $user_exit_stub, (%rsi)
        pushq $(SEL_UDATA64 | 3)
        pushq %rsi
        pushq user_eflags(%rip)
        pushq $(SEL_UCODE64 | 3)
        pushq %rdi
        iretq
user_return:
        movq user_saved_sp(%rip), %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbp
        pop %rbx
        xorl %eax, %eax
        ret
#else
        push %ebp
        push %ebx
        push %esi
        push %edi
        movl %esp, user_saved_sp
        movl 20(%esp), %ecx
        movl 24(%esp), %edx
        andl $-16, %edx
        subl $4, %edx
        movl $user_exit_stub, (%edx)
        movw $(SEL_UDATA | 3), %ax
        movw %ax, %ds
        movw %ax, %es
        pushl $(SEL_UDATA | 3)
        pushl %edx
        pushl user_eflags
        pushl $(SEL_UCODE32 | 3)
        pushl %ecx
        iret
user_return:
        movw $SEL_DATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movl user_saved_sp, %esp
        pop %edi
        pop %esi
        pop %ebx
        pop %ebp
        xorl %eax, %eax
        ret
#endif
user_exit_stub:
        movl $0xE417, %eax
        int $0x80
        ud2
        .data
        .align 8
user_saved_sp: .quad 0

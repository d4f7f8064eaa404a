/* Mode switches for the modes guest. The 16-bit parts run from a copy of low_start..low_end
   at LOW_BASE (copied by main.c); LOW(x) is the address of x in that copy. Results go to
   mode_res (in the low copy: low_res) and are checked in C. */
#include "gdt.h"
#define LOW_BASE 0x8000
#define LOW(x) (LOW_BASE + ((x) - low_start))

        .text
        .code32
/* void to_pm16_real_and_back(void): 32-bit PM -> 16-bit PM -> real mode -> 32-bit PM */
        .globl to_pm16_real_and_back
to_pm16_real_and_back:
        pushal
        movl %esp, saved_esp
        ljmp $SEL_CODE16, $LOW(pm16)
back32:
        movw $SEL_DATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movl saved_esp, %esp
        movw %cs, %ax
        movw %ax, low_res_cs32_copy
        popal
        ret

/* void to_long_and_back(u32 cr3): 32-bit PM -> IA-32e (compat) -> 64-bit -> compat call ->
   64-bit -> compat -> paging off -> 32-bit PM */
        .globl to_long_and_back
to_long_and_back:
        pushal
        movl 36(%esp), %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x20, %eax
        movl %eax, %cr4
        movl $0xC0000080, %ecx
        rdmsr
        orl $0x100, %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax
        movl %eax, %cr0
        /* now IA-32e compatibility mode: still 32-bit code */
        movl $0xC0000080, %ecx
        rdmsr
        movl %eax, mode_res + 0          /* EFER in compatibility mode (LMA expected) */
        ljmp $SEL_CODE64, $lm64
        .code64
        .globl lm64
lm64:
        movabs $0x123456789, %rax
        addq %rax, %rax
        movq %rax, mode_res + 8(%rip)          /* 0x2468acf12 */
        movq %rsp, %rbx
        pushq $0
        subq %rsp, %rbx
        popq %rax
        movq %rbx, mode_res + 16(%rip)         /* push size: 8 */
        leaq lm64(%rip), %rax
        movq %rax, mode_res + 24(%rip)         /* == lm64 */
        movw %cs, %ax
        movzwl %ax, %eax
        movq %rax, mode_res + 32(%rip)         /* SEL_CODE64 */
        movl $0x1000, %eax
        lcall *compat_fn_ptr(%rip)             /* m16:32 far call into compatibility mode */
        movq %rax, mode_res + 40(%rip)         /* returned from compat: 0x1000 * 3 + 1 */
        movw %cs, %ax
        movzwl %ax, %eax
        movq %rax, mode_res + 48(%rip)         /* SEL_CODE64 again */
        movabs $0xffffffff00000000, %rax
        movq %rax, %rdx
        shrq $32, %rdx
        movq %rdx, mode_res + 56(%rip)         /* 0xffffffff */
        ljmp *leave_ptr(%rip)                  /* to compatibility mode, then legacy */
        .code32
compat_fn:
        movw %cs, %dx
        movzwl %dx, %edx
        movl %edx, mode_res + 64         /* SEL_CODE32 in compat mode */
        leal 1(%eax,%eax,2), %eax
        lret
leave_lm:
        movl %cr0, %eax
        andl $0x7fffffff, %eax
        movl %eax, %cr0                  /* paging off: LMA clears */
        movl $0xC0000080, %ecx
        rdmsr
        movl %eax, mode_res + 72         /* EFER after PG=0 (LME set, LMA clear) */
        andl $~0x100, %eax
        wrmsr
        movl %cr4, %eax
        andl $~0x20, %eax
        movl %eax, %cr4
        ljmp $SEL_CODE32, $1f
1:      popal
        ret

        .data
        .align 8
compat_fn_ptr: .long compat_fn
               .word SEL_CODE32
        .align 8
leave_ptr:     .long leave_lm
               .word SEL_CODE32
        .align 4
saved_esp: .long 0
        .globl mode_res
        .align 8
mode_res: .fill 16, 8, 0

/* ---- low-memory trampoline (16-bit code), copied to LOW_BASE ---- */
        .section .rodata
        .globl low_start, low_end, low_res, low_res_cs32_copy
        .align 16
low_start:
        .code16
pm16:
        movw $SEL_DATA16, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw $0x7000, %sp
        movw %cs, LOW(low_res) + 0              /* SEL_CODE16 */
        movw $0x1234, %ax
        addw $0x1111, %ax
        movw %ax, LOW(low_res) + 2              /* 0x2345 */
        movl $0x12345678, %eax                  /* operand-size prefix in 16-bit code */
        incl %eax
        movl %eax, LOW(low_res) + 4             /* 0x12345679 */
        movw %sp, %bx
        pushw %ax
        subw %sp, %bx
        popw %ax
        movw %bx, LOW(low_res) + 8              /* push size: 2 */
        /* to real mode */
        movl %cr0, %eax
        andl $~1, %eax
        movl %eax, %cr0
        ljmp $0, $LOW(rm)
rm:
        xorw %ax, %ax
        movw %ax, %ds
        movw %ax, %ss
        movw $0x7000, %sp
        movw %cs, LOW(low_res) + 10             /* 0 */
        smsw %ax
        andw $1, %ax
        movw %ax, LOW(low_res) + 12             /* PE: 0 */
        movw $(LOW_BASE >> 4), %ax
        movw %ax, %es
        movw $0xbeef, %es:(LOW(low_res) + 14 - LOW_BASE)   /* real-mode segment base = sel << 4 */
        lcall $(LOW_BASE >> 4), $(rmfar - low_start)
        movw %ax, LOW(low_res) + 16             /* CS seen inside: LOW_BASE >> 4 */
        movw %sp, LOW(low_res) + 18             /* 0x7000 after lret */
        /* back to protected mode: GDTR still loaded */
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $SEL_CODE32, $back32
rmfar:
        movw %cs, %ax
        lret
        .align 4
low_res: .fill 8, 4, 0
low_res_cs32_copy: .word 0
        .align 16
low_end:
        .code32

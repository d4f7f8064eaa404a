/* Multiboot v1 header and entry. 32-bit guests call main() in 32-bit protected mode;
   64-bit guests (built with -m64, __x86_64__) enter long mode here first: identity map of
   the first 1 GiB with 2 MiB pages, PAE, EFER.LME, PG, then a far jump to 64-bit code. */
#include "gdt.h"
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, want memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .section .text.entry, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        movl $stack_top, %esp
        movl %eax, mb_magic
        movl %ebx, mb_info
        lgdt gdt_desc
        ljmp $SEL_CODE32, $1f
1:      movw $SEL_DATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        /* x87/SSE usable: CR0.MP=1, EM=0, TS=0; CR4.OSFXSR, OSXMMEXCPT */
        movl %cr0, %eax
        andl $~0xC, %eax
        orl $0x22, %eax
        movl %eax, %cr0
        movl %cr4, %eax
        orl $0x600, %eax
        movl %eax, %cr4
        fninit
        /* clear bss */
        movl $__bss_start, %edi
        movl $__image_end, %ecx
        subl %edi, %ecx
        xorl %eax, %eax
        rep stosb
#ifdef __x86_64__
        /* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] = i*2M | PS|RW|P */
        movl $boot_pdpt, %eax
        orl $7, %eax
        movl %eax, boot_pml4
        movl $boot_pd, %eax
        orl $7, %eax
        movl %eax, boot_pdpt
        xorl %ecx, %ecx
2:      movl %ecx, %eax
        shll $21, %eax
        orl $0x87, %eax          /* P RW US PS: user code may run anywhere */
        movl %eax, boot_pd(,%ecx,8)
        incl %ecx
        cmpl $512, %ecx
        jb 2b
        movl %cr4, %eax
        orl $0x20, %eax          /* PAE */
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx
        rdmsr
        orl $0x100, %eax         /* LME */
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax    /* PG */
        movl %eax, %cr0
        ljmp $SEL_CODE64, $3f
        .code64
3:      movq $stack_top, %rsp
        call main
        movl %eax, %edi
        call exit
4:      hlt
        jmp 4b
#else
        call main
        pushl %eax
        call exit
4:      hlt
        jmp 4b
#endif

        .data
        .align 16
        .globl gdt, gdt_desc
gdt:
        .quad 0                           /* 0x00 null */
        .quad 0x00cf9b000000ffff          /* 0x08 code32 ring 0 */
        .quad 0x00cf93000000ffff          /* 0x10 data ring 0 */
        .quad 0x00cffb000000ffff          /* 0x18 code32 ring 3 */
        .quad 0x00cff3000000ffff          /* 0x20 data ring 3 */
        .quad 0x00affb000000ffff          /* 0x28 code64 ring 3 */
        .quad 0x00cff3000000ffff          /* 0x30 data ring 3 */
        .quad 0x00af9b000000ffff          /* 0x38 code64 ring 0 */
        .quad 0x00cf93000000ffff          /* 0x40 data ring 0 */
        .quad 0x00009b000000ffff          /* 0x48 code16 ring 0, limit 64K */
        .quad 0x000093000000ffff          /* 0x50 data16 ring 0, limit 64K */
        .quad 0, 0                        /* 0x58 TSS (16 bytes in long mode) */
        .fill GDT_SPARE, 8, 0             /* 0x68.. spare entries for tests */
gdt_end:
        .align 4
        .word 0
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt
        .long 0

        .globl mb_magic, mb_info
        .align 4
mb_magic: .long 0
mb_info:  .long 0

        .bss
        .align 4096
#ifdef __x86_64__
        .globl boot_pml4, boot_pdpt, boot_pd
boot_pml4: .space 4096
boot_pdpt: .space 4096
boot_pd:   .space 4096
#endif
        .globl stack_top
        .space 16384
stack_top:

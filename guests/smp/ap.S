/* AP start-up trampoline. The BSP copies [ap_tramp, ap_tramp_end) to 0x8000 and sends a SIPI
   with vector 0x08, so an AP starts here in real mode at CS:IP = 0800:0000. It loads the shared
   GDT, enters protected mode, turns on PAE + long mode with the BSP's page tables, takes a
   stack by ticket and calls ap_main() in 64-bit mode. */
#include "gdt.h"
#define TRAMP 0x8000
#define ADDR(x) ((x) - ap_tramp + TRAMP)

        .text
        .globl ap_tramp, ap_tramp_end, ap_tramp_gdt
        .code16
ap_tramp:
        cli
        xorw %ax, %ax
        movw %ax, %ds
        lgdtl ADDR(ap_tramp_gdt)
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $SEL_CODE32, $ADDR(ap32)
        .code32
ap32:
        movw $SEL_DATA, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movl %cr4, %eax
        orl $0x620, %eax          /* PAE, OSFXSR, OSXMMEXCPT */
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx
        rdmsr
        orl $0x100, %eax          /* LME */
        wrmsr
        movl %cr0, %eax
        andl $~0xC, %eax
        orl $0x80000022, %eax     /* PG, NE, MP */
        movl %eax, %cr0
        ljmp $SEL_CODE64, $ap64
        .align 8
ap_tramp_gdt:
        .word 0                   /* limit and base: filled in by the BSP */
        .long 0
ap_tramp_end:

        .code64
ap64:
        movl $1, %eax
        lock xaddl %eax, ap_ticket(%rip)
        andl $31, %eax
        incl %eax
        shll $12, %eax
        leaq ap_stacks(%rip), %rsp
        addq %rax, %rsp           /* top of stack number ticket+1 */
        fninit
        call ap_main
1:      cli
        hlt
        jmp 1b

        .bss
        .align 4096
        .globl ap_ticket
ap_ticket: .long 0
        .align 4096
ap_stacks: .space 4096 * 32

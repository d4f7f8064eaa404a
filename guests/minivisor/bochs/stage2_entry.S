        .code32
        .section .text.entry, "ax"
        .globl _start
_start: movl $0x7c00, %esp
        call stage2
1:      hlt
        jmp 1b

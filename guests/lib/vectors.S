/* Interrupt/exception entry stubs for all 256 vectors. Each pushes a zero error code
   where the CPU does not push one, then the vector, saves the general registers and calls
   trap_dispatch(struct frame *). The handler may change any frame field (e.g. ip). */
        .text
        .altmacro
.macro STUB n
        .align 16
vec_\n:
.if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
.else
        push $0
.endif
        push $\n
        jmp trap_common
.endm
.macro ADDR n
#ifdef __x86_64__
        .quad vec_\n
#else
        .long vec_\n
#endif
.endm
        .globl vector_stubs_start
vector_stubs_start:
        .set i, 0
        .rept 256
        STUB %i
        .set i, i + 1
        .endr

trap_common:
#ifdef __x86_64__
        push %rax
        push %rcx
        push %rdx
        push %rbx
        push %rbp
        push %rsi
        push %rdi
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
        movq %rsp, %rdi
        movq %rsp, %rbx
        andq $-16, %rsp
        cld
        call trap_dispatch
        movq %rbx, %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rdi
        pop %rsi
        pop %rbp
        pop %rbx
        pop %rdx
        pop %rcx
        pop %rax
        add $16, %rsp
        iretq
#else
        pusha
        push %ds
        push %es
        movl $0x10, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %esp, %eax
        push %eax
        cld
        call trap_dispatch
        add $4, %esp
        pop %es
        pop %ds
        popa
        add $8, %esp
        iret
#endif

        .section .rodata
        .align 8
        .globl vector_table
vector_table:
        .set i, 0
        .rept 256
        ADDR %i
        .set i, i + 1
        .endr

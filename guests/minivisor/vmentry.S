/* VM entry/exit trampoline for the minivisor (64-bit host).
   int vm_enter(struct gregs *g, int launched): loads the L2's general registers from *g and
   executes VMLAUNCH (launched == 0) or VMRESUME. On a VM exit the CPU continues at vm_exit_point
   with RSP = HOST_RSP (written here, pointing at the saved g); the L2's registers are stored
   back into *g and 0 is returned. If the VM instruction itself fails (VMfailInvalid: CF=1,
   VMfailValid: ZF=1, SDM 31.2) it returns 1 (invalid) or 2 (valid, see VM-instruction error). */
        .code64
        .text
        .globl vm_enter, vm_exit_point
vm_enter:
        pushq %rbp
        pushq %rbx
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        pushq %rdi
        movl $0x6C14, %eax            /* HOST_RSP */
        vmwrite %rsp, %rax
        testl %esi, %esi
        movq 0*8(%rdi), %rax
        movq 1*8(%rdi), %rbx
        movq 2*8(%rdi), %rcx
        movq 3*8(%rdi), %rdx
        movq 4*8(%rdi), %rsi
        movq 6*8(%rdi), %rbp
        movq 7*8(%rdi), %r8
        movq 8*8(%rdi), %r9
        movq 9*8(%rdi), %r10
        movq 10*8(%rdi), %r11
        movq 11*8(%rdi), %r12
        movq 12*8(%rdi), %r13
        movq 13*8(%rdi), %r14
        movq 14*8(%rdi), %r15
        movq 5*8(%rdi), %rdi
        jnz 1f
        vmlaunch
        jmp 2f
1:      vmresume
2:      movl $1, %eax
        jc 3f
        movl $2, %eax
3:      popq %rdi
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbx
        popq %rbp
        ret

vm_exit_point:
        pushq %rdi                     /* the L2's RDI; the saved g is above it */
        movq 8(%rsp), %rdi
        movq %rax, 0*8(%rdi)
        movq %rbx, 1*8(%rdi)
        movq %rcx, 2*8(%rdi)
        movq %rdx, 3*8(%rdi)
        movq %rsi, 4*8(%rdi)
        movq %rbp, 6*8(%rdi)
        movq %r8, 7*8(%rdi)
        movq %r9, 8*8(%rdi)
        movq %r10, 9*8(%rdi)
        movq %r11, 10*8(%rdi)
        movq %r12, 11*8(%rdi)
        movq %r13, 12*8(%rdi)
        movq %r14, 13*8(%rdi)
        movq %r15, 14*8(%rdi)
        popq %rax
        movq %rax, 5*8(%rdi)
        xorl %eax, %eax
        jmp 3b

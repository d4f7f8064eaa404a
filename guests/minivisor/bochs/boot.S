/* Boot sector of the Bochs test disk (see README.md here): the BIOS loads it at 0x7c00.
   It enables A20, reads the following `nsect` sectors (the stage2 loader and the bundle of
   multiboot images) to linear 0x8000 with INT 13h AH=42h, switches to 32-bit protected mode
   and jumps to the stage2 loader at 0x8000. */
        .code16
        .text
        .globl _start
_start:
        cli
        xorw %ax, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw $0x7c00, %sp
        movb %dl, drive
        inb $0x92, %al                 /* fast A20 */
        orb $2, %al
        andb $0xfe, %al
        outb %al, $0x92
        movw nsect, %cx                /* sectors left */
        movl $1, lba
1:      testw %cx, %cx
        jz 3f
        movw %cx, %ax
        cmpw $32, %ax
        jbe 2f
        movw $32, %ax
2:      movw %ax, dap_count
        movw $dap, %si
        movb drive, %dl
        pushw %cx
        pushw %ax
        movb $0x42, %ah
        int $0x13
        popw %ax
        popw %cx
        jc fail
        subw %ax, %cx
        movzwl %ax, %eax
        addl %eax, lba
        shlw $5, %ax                   /* sectors * 512 / 16 = paragraphs */
        addw %ax, dap_seg
        jmp 1b
3:      lgdt gdt_desc
        movl %cr0, %eax
        orl $1, %eax
        movl %eax, %cr0
        ljmpl $0x08, $pm
fail:   movb $0x0e, %ah
        movb $'!', %al
        int $0x10
        hlt
        jmp fail

        .code32
pm:     movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movl $0x7c00, %esp
        movl $0x8000, %eax
        jmp *%eax

        .align 8
gdt:    .quad 0
        .quad 0x00cf9b000000ffff
        .quad 0x00cf93000000ffff
gdt_desc:
        .word 23
        .long gdt
drive:  .byte 0
        .align 4
dap:    .byte 16, 0
dap_count: .word 0
dap_off:   .word 0
dap_seg:   .word 0x0800
lba:    .long 0, 0
        .org 0x1fa
nsect:  .word 0                        /* patched by mkdisk.py */
        .word 0
        .byte 0x55, 0xaa

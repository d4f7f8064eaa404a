bits 16
org 0x7c00
start:
  xor ax, ax
  mov ds, ax
  mov dword [0x500], 0
  mov word [0x504], 0
  mov eax, [facs]
  mov ebx, eax
  shr eax, 4
  mov es, ax
  and bx, 0xf
  mov dword [es:bx+12], resume
  cmp word [alarm], 0
  je next
  mov dx, 0x602
  mov ax, 0x400
  out dx, ax
  mov cl, 1
.al:
  mov al, cl
  out 0x70, al
  mov al, 0xc0
  out 0x71, al
  add cl, 2
  cmp cl, 7
  jb .al
  mov al, 0x0b
  out 0x70, al
  in al, 0x71
  or al, 0x20
  mov ah, al
  mov al, 0x0b
  out 0x70, al
  mov al, ah
  out 0x71, al
  mov al, 0x0c
  out 0x70, al
  in al, 0x71
  cmp word [alarm], 2
  jne next
.wait:
  mov dx, 0x600
  in ax, dx
  test ax, 0x400
  jz .wait
next:
  mov si, [0x504]
  mov ax, [list + si]
  cmp ax, 0xffff
  je done
  add word [0x504], 2
  inc byte [0x500]
  mov dx, 0x604
  cmp word [bytewise], 0
  jne .bw
  out dx, ax
  jmp next
.bw:
  out dx, al
  inc dx
  mov al, ah
  out dx, al
  jmp next
done:
  movzx eax, word [0x500]
  out 0xf4, eax
  hlt
align 16
resume:
  xor ax, ax
  mov ds, ax
  mov dx, 0x600
  in ax, dx
  mov [0x502], ax
  out dx, ax
  inc byte [0x501]
  jmp 0:next
  times 0x100-($-$$) db 0
facs: dd 0
alarm: dw 0
bytewise: dw 0
list: dw 0xffff

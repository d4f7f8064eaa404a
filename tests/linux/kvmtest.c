/* Runs a tiny real-mode guest through /dev/kvm: when Linux runs inside nestvm, its KVM is the
   L1 hypervisor and this guest is L2. Prints what the guest writes to port 0x3f8 and the exits
   it took (tests/linux/boot.mjs builds it with gcc -static and checks the lines; the same
   program under the host's /dev/kvm prints the same). KVM_SET_CPUID2 is never called, so
   KVM's CPUID for the guest is empty and leaf 0 returns zeros. */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static void die(const char *m) { perror(m); exit(1); }

int main(void) {
  /* mov dx,0x3f8; add al,bl; add al,'0'; out dx,al; mov al,'\n'; out dx,al;
     mov cx,1000; l: in al,dx (0xec); loop l; xor ax,ax; cpuid; hlt */
  const unsigned char code[] = { 0xba, 0xf8, 0x03, 0x00, 0xd8, 0x04, '0', 0xee, 0xb0, '\n', 0xee,
                                 0xb9, 0xe8, 0x03, 0xec, 0xe2, 0xfd, 0x31, 0xc0, 0x0f, 0xa2, 0xf4 };
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  printf("kvm: api version %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");
  unsigned char *mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memcpy(mem + 0x1000, code, sizeof code);
  struct kvm_userspace_memory_region r = { .slot = 0, .guest_phys_addr = 0, .memory_size = 0x10000, .userspace_addr = (unsigned long)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs s;
  if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0) die("KVM_GET_SREGS");
  s.cs.base = 0; s.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0) die("KVM_SET_SREGS");
  struct kvm_regs g = { .rip = 0x1000, .rax = 2, .rbx = 2, .rflags = 2 };
  if (ioctl(vcpu, KVM_SET_REGS, &g) < 0) die("KVM_SET_REGS");
  int outs = 0, ins = 0;
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    if (run->exit_reason == KVM_EXIT_IO) {
      if (run->io.direction == KVM_EXIT_IO_OUT) { outs++; printf("kvm: L2 out 0x%x '%c'\n", run->io.port, *((char *)run + run->io.data_offset) == '\n' ? '~' : *((char *)run + run->io.data_offset)); }
      else { ins++; *((char *)run + run->io.data_offset) = 0x20; }
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT) break;
    printf("kvm: unexpected exit %d (hw reason 0x%llx)\n", run->exit_reason, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
    return 1;
  }
  if (ioctl(vcpu, KVM_GET_REGS, &g) < 0) die("KVM_GET_REGS");
  printf("kvm: L2 halted at rip 0x%llx after %d OUTs and %d INs, eax 0x%llx (CPUID leaf 0 vendor ebx 0x%llx)\n",
         (unsigned long long)g.rip, outs, ins, (unsigned long long)g.rax, (unsigned long long)g.rbx);
  return 0;
}

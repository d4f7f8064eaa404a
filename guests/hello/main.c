/* Minimal guest: one line on the serial port, then isa-debug-exit with 0. */
#include "rt.h"
int main(void) {
  printf("hello from nestvm guest\n");
  return 0;
}

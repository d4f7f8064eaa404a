#!/bin/bash
N=${N:-300}
r(){ node "$(dirname "$0")/run.mjs" "$@" 2>&1 | tail -1; }
for op in 10 14 15 20 21 22 23 24 25 28 29 2b 30 31 32 33 34 35 37 38 39 3a 3b 3c 3d 3e 3f 40 41; do r 660f38${op}c1 i $N 100; done
r 660f3817c1 i $N 101 1; r 660f3817c1 s $N 102 1
for imm in 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f; do r 660f3a08c1$imm s 100 103; r 660f3a09c1$imm d 100 104; r 660f3a0ac1$imm s 100 105; r 660f3a0bc1$imm d 100 106; done
for imm in 00 05 0a 0f 33 a5 ff; do r 660f3a0cc1$imm i 50 107; r 660f3a0dc1$imm i 50 108; r 660f3a0ec1$imm i 50 109; r 660f3a42c1$imm i 50 110; r 660f3a21c1$imm i 50 111; done
for imm in 00 03 07 0b 0f; do r 660f3a14c0$imm i 50 112; r 660f3a15c0$imm i 50 113; r 660f3a16c0$imm i 50 114; r 66480f3a16c0$imm i 50 115; r 660f3a17c0$imm i 50 116; r 660f3a20c0$imm i 50 117; r 660f3a22c0$imm i 50 118; r 66480f3a22c0$imm i 50 119; done
for imm in ff f1 31 72 b4 f8 1f 33; do r 660f3a40c1$imm s 200 120; r 660f3a41c1$imm d 200 121; done

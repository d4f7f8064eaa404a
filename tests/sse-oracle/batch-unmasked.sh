#!/bin/bash
N=${N:-400}
r(){ UNMASK=1 node "$(dirname "$0")/run.mjs" "$@" 2>&1 | tail -1; }
for op in 58 5c 59 5e 5d 5f 51; do r f30f${op}c1 s $N 2; r 0f${op}c1 s $N 3; r f20f${op}c1 d $N 4; r 660f${op}c1 d $N 5; done
for p in 00 01 02 03 04 05 06 07; do r 0fc2c1$p s 200 6; r 660fc2c1$p d 200 8; done
r 0f2fc1 s $N 10; r 0f2ec1 s $N 11; r 660f2fc1 d $N 12; r 660f2ec1 d $N 13
r f30f5ac1 s $N 14; r 0f5ac1 s $N 15; r 660f5bc1 s $N 16; r f30f5bc1 s $N 17; r f30f2dc1 s $N 18; r f3480f2dc1 s $N 19; r f30f2cc1 s $N 20
r 0f5bc1 i $N 22; r f30f2ac0 i $N 23; r f3480f2ac0 i $N 24; r f2480f2ac0 i $N 26
r f20f5ac1 d $N 27; r 660f5ac1 d $N 28; r f20fe6c1 d $N 29; r 660fe6c1 d $N 30; r f20f2dc1 d $N 31; r f2480f2dc1 d $N 32
r 660fd0c1 d $N 36; r 660f7cc1 d $N 37; r f20fd0c1 s $N 39; r f20f7cc1 s $N 40
for imm in 00 01 02 03 04 08 0c; do r 660f3a08c1$imm s 100 103; r 660f3a0bc1$imm d 100 106; done
for imm in ff f1 31; do r 660f3a40c1$imm s 200 120; r 660f3a41c1$imm d 200 121; done

#!/bin/bash
N=${N:-1500}
r(){ node "$(dirname "$0")/run.mjs" "$@" 2>&1 | tail -1; }
for op in 58 5c 59 5e 5d 5f 51; do r f30f${op}c1 s $N 2; r 0f${op}c1 s $N 3; r f20f${op}c1 d $N 4; r 660f${op}c1 d $N 5; done
for p in 00 01 02 03 04 05 06 07; do r 0fc2c1$p s 400 6; r f30fc2c1$p s 400 7; r 660fc2c1$p d 400 8; r f20fc2c1$p d 400 9; done
r 0f2fc1 s $N 10 1; r 0f2ec1 s $N 11 1; r 660f2fc1 d $N 12 1; r 660f2ec1 d $N 13 1
r f30f5ac1 s $N 14; r 0f5ac1 s $N 15; r 660f5bc1 s $N 16; r f30f5bc1 s $N 17; r f30f2dc1 s $N 18; r f3480f2dc1 s $N 19; r f30f2cc1 s $N 20; r f3480f2cc1 s $N 21
r 0f5bc1 i $N 22; r f30f2ac0 i $N 23; r f3480f2ac0 i $N 24; r f20f2ac0 i $N 25; r f2480f2ac0 i $N 26
r f20f5ac1 d $N 27; r 660f5ac1 d $N 28; r f20fe6c1 d $N 29; r 660fe6c1 d $N 30; r f20f2dc1 d $N 31; r f2480f2dc1 d $N 32; r f20f2cc1 d $N 33; r f2480f2cc1 d $N 34
r f30fe6c1 i $N 35; r 660fd0c1 d $N 36; r 660f7cc1 d $N 37; r 660f7dc1 d $N 38; r f20fd0c1 s $N 39; r f20f7cc1 s $N 40; r f20f7dc1 s $N 41

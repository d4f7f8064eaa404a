#!/bin/bash
N=${N:-300}
r(){ node "$(dirname "$0")/run.mjs" "$@" 2>&1 | tail -1; }
for op in 60 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 74 75 76 d1 d2 d3 d4 d5 d8 d9 da db dc dd de df e0 e1 e2 e3 e4 e5 e8 e9 ea eb ec ed ee ef f1 f2 f3 f4 f5 f6 f8 f9 fa fb fc fd fe 14 15 54 55 56 57 10 28 6f 7e d6 12 16; do r 660f${op}c1 i $N 50; done
for op in 10 12 16 28 14 15 54 55 56 57 50; do r 0f${op}c1 i $N 51; done
r f30f10c1 i $N 52; r f20f10c1 i $N 53; r f30f7ec1 i $N 54; r f30f6fc1 i $N 55; r f20f12c1 i $N 56; r f30f12c1 i $N 57; r f30f16c1 i $N 58
for imm in 00 1b e4 4e 93 ff; do r 660f70c1$imm i 60 59; r f30f70c1$imm i 60 60; r f20f70c1$imm i 60 61; r 0fc6c1$imm i 60 62; r 660fc6c1$imm i 60 63; done
for imm in 00 01 03 07 08 0f 10 11 1f 20 21 3f 40 41 ff; do for g in d1 e1 f1; do r 660f71${g}$imm i 40 64; r 660f72${g}$imm i 40 65; done; r 660f73d1$imm i 40 66; r 660f73f1$imm i 40 67; r 660f73d9$imm i 40 68; r 660f73f9$imm i 40 69; done
r 660fd7c1 i $N 70; for imm in 0 3 7 9; do r 660fc5c10$imm i 40 71; r 660fc4c00$imm i 40 72; done
r 660f6ec0 i $N 73; r 66480f6ec0 i $N 74; r 660f7ec0 i $N 75; r 66480f7ec0 i $N 76
for op in 00 01 02 03 04 05 06 07 08 09 0a 0b 1c 1d 1e; do r 660f38${op}c1 i $N 77; done
for imm in 00 01 05 08 0f 10 11 1f 20 ff; do r 660f3a0fc1$imm i 40 78; done
r 660f2bc1 i 10 79

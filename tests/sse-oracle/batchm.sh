#!/bin/bash
N=${N:-200}
r(){ node "$(dirname "$0")/run.mjs" "$@" 2>&1 | tail -1; }
for op in 60 61 62 63 64 65 66 67 68 69 6a 6b 74 75 76 d1 d2 d3 d4 d5 d8 d9 da db dc dd de df e0 e1 e2 e3 e4 e5 e8 e9 ea eb ec ed ee ef f1 f2 f3 f4 f5 f6 f8 f9 fa fb fc fd fe 6f; do r 0f${op}c1 m $N 80; done
for imm in 00 1b e4 93; do r 0f70c1$imm m 40 81; done
for imm in 00 01 07 0f 10 1f 20 3f 40 ff; do for g in d1 e1 f1; do r 0f71${g}$imm m 30 82; r 0f72${g}$imm m 30 83; done; r 0f73d1$imm m 30 84; r 0f73f1$imm m 30 85; done
r 0fd7c1 m $N 86; for imm in 0 3 5; do r 0fc5c10$imm m 40 87; r 0fc4c00$imm m 40 88; done
r 0f6ec0 m $N 89; r 480f6ec0 m $N 90; r 0f7ec0 m $N 91; r 480f7ec0 m $N 92
for op in 00 01 02 03 04 05 06 07 08 09 0a 0b 1c 1d 1e; do r 0f38${op}c1 m $N 93; done
for imm in 00 01 05 08 0f 10 ff; do r 0f3a0fc1$imm m 40 94; done
r f30fd6c1 m 50 95; r f20fd6c1 m 50 96

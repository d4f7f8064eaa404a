#!/usr/bin/env bash
# Builds the native executor for the differential test (run.mjs calls this when needed).
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-../../build/diff-native}
mkdir -p "$(dirname "$out")"
gcc -O2 -Wall -Wextra -o "$out" native.c

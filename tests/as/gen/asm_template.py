#!/usr/bin/env python3
"""Expand A64`...`, A32`...`, A16`...` in a spec template into machine-code hex strings
(assembled with GNU as, Intel syntax; ';' separates lines). Usage:
  python3 tests/as/gen/asm_template.py tests/as/gen/integer.spec.in.ts > tests/as/integer.spec.ts"""
import re, subprocess, sys, tempfile

def assemble(bits, text):
    d = tempfile.mkdtemp()
    body = "\n".join(x.strip() for x in text.split(";"))
    open(f"{d}/a.s", "w").write(f".intel_syntax noprefix\n.code{bits}\n{body}\n")
    subprocess.check_call(["as", "--64", "-o", f"{d}/a.o", f"{d}/a.s"])
    subprocess.check_call(["objcopy", "-O", "binary", "-j", ".text", f"{d}/a.o", f"{d}/a.bin"])
    return " ".join(f"{b:02x}" for b in open(f"{d}/a.bin", "rb").read())

src = open(sys.argv[1]).read()
out = re.sub(r"A(64|32|16)`([^`]*)`", lambda m: f'"{assemble(m.group(1), m.group(2))}" /* {m.group(2)} */', src)
print("// GENERATED from tests/as/gen/" + sys.argv[1].split("/")[-1] + " by tests/as/gen/asm_template.py; edit the template.")
sys.stdout.write(out)

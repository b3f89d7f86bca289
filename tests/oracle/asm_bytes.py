#!/usr/bin/env python3
"""Authoring aid for the oracle tests: 32-bit assembly -> C++ byte lines.

The tests hold machine code as bytes with the assembly in a comment; this
turns NASM source into those lines, one instruction per line:

    echo 'add eax, [ebx+4]' | tests/oracle/asm_bytes.py
    0x03, 0x43, 0x04,  // add eax, [ebx+4]

With --expand FILE it rewrites FILE in place, replacing each block

    /*asm
    <assembly lines>
    asm*/

by the byte lines of its assembly (indented like the /*asm line), so a test
can be written in assembly first; run clang-format on FILE afterwards to
align the comments. Code is assembled with `bits 32` and
`org 0x101000` (kCodeAddress in differential.h) unless the block's first
line is another `org`. Needs nasm.
"""
import os
import re
import subprocess
import sys
import tempfile

ORG = 0x101000


def assemble(lines, org=ORG):
    """Returns [(bytes, source)] for each source line of the assembly.

    The listing gives each line's offset and length; the bytes come from the
    binary, because the listing shows label-dependent values relative to the
    section instead of the org address."""
    src = ["bits 32", "org 0x%x" % org] + lines
    with tempfile.TemporaryDirectory() as d:
        asm, lst, out = (os.path.join(d, n) for n in ("a.asm", "a.lst", "a.bin"))
        with open(asm, "w") as f:
            f.write("\n".join(src) + "\n")
        r = subprocess.run(["nasm", "-f", "bin", "-o", out, "-l", lst, asm],
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("nasm failed:\n" + r.stderr + "\n".join(src))
        listing = open(lst).read().splitlines()
        binary = open(out, "rb").read()
    hexfield = r"([0-9A-F\[\]()]+?)(-?)"
    result = []  # [offset, length, source, continues]
    for line in listing:
        m = re.match(r"\s*\d+ ([0-9A-F]{8}) " + hexfield + r"(?:\s+(.*))?$", line)
        if m:
            length = len(re.sub(r"[\[\]()]", "", m.group(2))) // 2
            if result and result[-1][3] and not m.group(4):
                result[-1][1] += length  # continuation of a long line
                result[-1][3] = m.group(3) == "-"
            else:
                result.append([int(m.group(1), 16), length, (m.group(4) or "").strip(),
                               m.group(3) == "-"])
            continue
        m = re.match(r"\s*\d+\s+(.*)$", line)
        text = m.group(1).strip() if m else ""
        if text and text not in ("bits 32", "org 0x%x" % org):
            result.append([None, 0, text, False])
    return [(binary[o:o + n] if o is not None else b"", s) for o, n, s, _ in result]


def cpp_lines(lines, indent):
    """A block may start with `org ADDRESS` for code placed elsewhere."""
    org = ORG
    if lines and lines[0].startswith("org "):
        org, lines = int(lines[0].split()[1], 0), lines[1:]
    out = []
    for b, s in assemble(lines, org):
        s = re.sub(r"\s+", " ", s)
        if b:
            out.append(indent + "".join("0x%02x, " % x for x in b) + " // " + s)
        else:
            out.append(indent + "// " + s.lstrip("; "))
    return out


def expand(path):
    text = open(path).read().splitlines()
    out, block, indent = [], None, ""
    for line in text:
        if block is None and line.strip() == "/*asm":
            block, indent = [], line[: len(line) - len(line.lstrip())]
        elif block is not None and line.strip() == "asm*/":
            out.extend(cpp_lines(block, indent))
            block = None
        elif block is not None:
            block.append(line.strip())
        else:
            out.append(line)
    if block is not None:
        sys.exit("unterminated /*asm block")
    open(path, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--expand":
        expand(sys.argv[2])
    else:
        print("\n".join(cpp_lines([l.rstrip() for l in sys.stdin], "")))

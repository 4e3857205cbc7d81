#!/usr/bin/env python3
"""Vendor the upstream Pod Security Admission fixtures into testdata/psa/.

Reads ../shared/conformance/psa (4,537 files from kubernetes/pod-security-admission
at 8f84a87c7f617f64a4ddc1aea24aeeb7a2e07cb8, test/testdata/) and writes each distinct
file content once, as testdata/psa/pods/<sha256-prefix>.yaml, plus INDEX.tsv: the
upstream index with one more column, `blob`, naming the content file. Byte-for-byte:
nothing in a fixture is changed.
"""
import hashlib
import pathlib
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/conformance/psa")
dst = pathlib.Path("testdata/psa")
(dst / "pods").mkdir(parents=True, exist_ok=True)
lines = (src / "INDEX.tsv").read_text().splitlines()
out = [lines[0] + "\tblob"]
blobs = set()
for line in lines[1:]:
    path = line.split("\t")[0]
    data = (src / path).read_bytes()
    blob = hashlib.sha256(data).hexdigest()[:16]
    if blob not in blobs:
        (dst / "pods" / f"{blob}.yaml").write_bytes(data)
        blobs.add(blob)
    out.append(f"{line}\t{blob}")
(dst / "INDEX.tsv").write_text("\n".join(out) + "\n")
print(f"{len(lines) - 1} fixtures, {len(blobs)} distinct contents")

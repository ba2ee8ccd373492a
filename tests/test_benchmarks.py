"""Smoke test of the scale benchmark: it builds its inputs, measures everything once and prints its table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_scale.py"


def test_bench_scale_quick_prints_its_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--apps", "20", "--no-download",
         "--work", str(tmp_path / "work"), "--scratch", str(tmp_path / "scratch")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "byte-compiled" in out
    assert "| measurement" in out and "| verdict |" in out
    for row in ("| render --all ", "20 apps, 80 manifests", "| diff --base HEAD~1 --head HEAD",
                "| peak RSS, render --app", "| peak RSS, render --all"):
        assert row in out, row
    # a peer that is not on this machine is reported as skipped, never an error
    for peer in ("kubectl kustomize", "helm template, layered chart", "helm template, flat chart"):
        line = next(line for line in out.splitlines() if line.startswith(f"| {peer}"))
        assert "skipped" in line or "ours = " in line, line
    assert "DIFFERS" not in out
    assert "manifests/s" in out

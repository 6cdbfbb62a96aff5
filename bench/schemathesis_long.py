"""The nightly security run: tests/security with many more schemathesis examples and a random seed.

`make test` runs the suite derandomized with 3 examples per operation and strategy (the same
requests every time, within its time budget). Nightly, this runs it with more examples and a fresh
seed, so the generator explores new inputs; the seed is printed and saved with the figures, so a
failure can be replayed with `SCHEMATHESIS_SEED=<seed> SCHEMATHESIS_EXAMPLES=<n> pytest tests/security`.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    seed = os.environ.get("SCHEMATHESIS_SEED") or str(random.randrange(1, 2**31))
    examples = os.environ.get("SCHEMATHESIS_EXAMPLES", "50")
    env = dict(os.environ, SCHEMATHESIS_SEED=seed, SCHEMATHESIS_EXAMPLES=examples)
    print(f"security-long: seed {seed}, {examples} examples per operation and strategy", flush=True)
    (ROOT / "var" / "security").mkdir(parents=True, exist_ok=True)
    (ROOT / "var" / "security" / "long-seed.txt").write_text(f"{seed} {examples}\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/security/test_schemathesis.py"]
    return subprocess.call(cmd, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())

"""Write the manifest of an upstream model's weights: every state-dict name and its shape.

Our neural backends are our own code with upstream's parameter names and shapes, so that
upstream's checkpoints load. This script imports upstream's *own* model definitions from a
checkout of their repository, builds the model and writes what its state dict holds to
`tests/data/manifests/<model>.json`; `tests/unit/test_wav2lip.py` checks our module
against it, so a drift on either side shows up as a failing test instead of as
checkpoints that no longer load.

    python -m scripts.model_manifest --model wav2lip --upstream /path/to/Wav2Lip

(`fetch github:Rudrabha/Wav2Lip` and `git archive HEAD | tar -x` give such a checkout;
upstream's `models` package is plain torch.)
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "tests" / "data" / "manifests"


def _wav2lip(upstream: Path) -> tuple[Any, str]:
    sys.path.insert(0, str(upstream))
    models = importlib.import_module("models")
    return models.Wav2Lip(), "Rudrabha/Wav2Lip models/wav2lip.py: Wav2Lip"


# model name -> builder of upstream's model from a checkout (and where the class lives).
MODELS: dict[str, Callable[[Path], tuple[Any, str]]] = {"wav2lip": _wav2lip}


def manifest(model: Any) -> dict[str, list[int]]:
    """name -> shape of every parameter and buffer, in the state dict's order."""
    return {name: list(tensor.shape) for name, tensor in model.state_dict().items()}


def _commit(upstream: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(upstream), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="wav2lip")
    parser.add_argument("--upstream", type=Path, required=True, help="upstream checkout")
    parser.add_argument("--commit", help="upstream commit, when the checkout has no .git")
    parser.add_argument("--out", type=Path, help="default: tests/data/manifests/<model>.json")
    args = parser.parse_args(argv)
    model, source = MODELS[args.model](args.upstream.resolve())
    tensors = manifest(model)
    data = {
        "model": args.model,
        "source": source,
        "commit": args.commit or _commit(args.upstream),
        "parameters": sum(int(p.numel()) for p in model.parameters()),
        "tensors": tensors,
    }
    out = args.out or MANIFESTS / f"{args.model}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out}: {len(tensors)} tensors, {data['parameters']:,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

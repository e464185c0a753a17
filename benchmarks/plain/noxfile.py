"""The plain-nox way: the demo matrix as a user would write it by hand (the benchmark's baseline).

One nox session per cell of ``matrix/demo.toml`` (same Pythons, same pins), on nox's default
backend: virtualenv + pip. Each session installs the cell's pins and runs ``predict.py``, which
loads ``artifacts/demo/model.joblib`` and predicts the golden set. Nothing here is tuned for the
benchmark except ``--only-binary :all:`` (see ``benchmarks/README.md``): without it pip tries to
build scikit-learn 1.3.2 for Python 3.13 from source (it failed after almost 2 minutes here),
where driftmatrix reports ``build-error`` at once (it installs wheels only too).

``benchmarks/run.py`` checks that these cells are exactly the demo matrix's.
"""

from __future__ import annotations

from pathlib import Path

import nox

HERE = Path(__file__).parent
DEMO = HERE.parent.parent / "artifacts" / "demo"

# (python, scikit-learn, numpy): the cells of matrix/demo.toml, copied by hand.
CELLS = [
    ("3.10", "1.3.2", "1.26.4"),
    ("3.12", "1.3.2", "1.26.4"),
    ("3.10", "1.4.2", "1.26.4"),
    ("3.12", "1.7.2", "2.2.6"),
    ("3.13", "1.9.1", "2.3.5"),
    ("3.10", "1.2.2", "1.26.4"),
    ("3.13", "1.3.2", "1.26.4"),
]


@nox.session
@nox.parametrize(
    "python,sklearn,numpy",
    CELLS,
    ids=[f"py{py}-scikit-learn{sk}-numpy{np}" for py, sk, np in CELLS],
)
def cell(session: nox.Session, sklearn: str, numpy: str) -> None:
    """Install the cell's pins, then load the model and predict the golden set."""
    session.install("--only-binary", ":all:", f"scikit-learn=={sklearn}", f"numpy=={numpy}")
    session.run(
        "python", str(HERE / "predict.py"), str(DEMO / "model.joblib"), str(DEMO / "golden.csv")
    )

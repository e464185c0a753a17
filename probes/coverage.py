"""The coverage probe: what the golden set exercises of the model, and what it misses.

A comparison is only as good as the rows it compares on: a golden set without a row of class 2
cannot show that class 2's predictions changed. This probe records, on the golden set as the
model sees it:

* ``classes``: per class of the model, the golden rows whose target (when the job names a
  target column) and whose prediction is that class;
* ``categories``: per categorical input of every fitted encoder (anything with ``categories_``,
  at any depth of a Pipeline or ColumnTransformer), the levels it knows that no golden row has;
* ``missing``: per feature column, the golden rows with a missing value;
* ``leaves``: for tree models (anything with ``apply``), the share of leaves the golden rows
  reach (the mean over the trees of an ensemble);
* ``gaps``: the misses above, one sentence each ("class 2 has no golden row").
"""

from __future__ import annotations

import csv
import math

from .load import class_path
from .predict import build_input, fitted_feature_names
from .steps import column_parts

#: Levels listed per encoder input (the count is always exact).
MAX_LEVELS = 20


def run(ctx, record: dict) -> None:
    """Fill ``classes``, ``categories``, ``missing``, ``leaves`` and ``gaps``."""
    estimator, golden, job = ctx.estimator, ctx.golden, ctx.job
    gaps = []
    classes = _classes(ctx, _target_values(job))
    record["classes"] = classes
    for entry in classes:
        if entry.get("target_rows") == 0:
            gaps.append("class {!r} has no golden row".format(entry["class"]))
        elif entry.get("target_rows") is None and entry["predicted_rows"] == 0:
            gaps.append("no golden row is predicted as class {!r}".format(entry["class"]))
    record["missing"] = {
        name: sum(1 for value in golden.values[name] if _is_missing(value))
        for name in golden.columns
    }
    features, _kind, _note = build_input(estimator, golden)
    categories = []
    for path, encoder, data in _encoders(estimator, features):
        categories.extend(_levels(path, encoder, data))
    record["categories"] = categories
    for entry in categories:
        if entry["unseen_levels"]:
            gaps.append(
                "{} level(s) of {} have no golden row (e.g. {})".format(
                    entry["unseen_levels"],
                    entry["input"],
                    ", ".join(repr(level) for level in entry["unseen"][:3]),
                )
            )
    leaves = _leaves(estimator, features)
    if leaves is not None:
        record["leaves"] = leaves
    record["gaps"] = gaps


def _target_values(job):
    """The golden set's target column as strings, or None when there is none."""
    if not job.target:
        return None
    with open(job.golden, newline="", encoding="utf-8-sig") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows or job.target not in rows[0]:
        return None
    index = rows[0].index(job.target)
    return [row[index] if index < len(row) else "" for row in rows[1:]]


def _classes(ctx, targets) -> list:
    classes = (ctx.outputs or {}).get("classes")
    if not isinstance(classes, list) or any(isinstance(c, list) for c in classes):
        return []  # a regressor, or multi-output: nothing to count per class
    predicted = (ctx.outputs or {}).get("methods", {}).get("predict") or []
    out = []
    for value in classes:
        entry = {"class": value, "predicted_rows": sum(1 for p in predicted if p == value)}
        if targets is not None:
            # The CSV holds text: "2" and "2.0" both name class 2.
            entry["target_rows"] = sum(1 for t in targets if _same_label(t, value))
        out.append(entry)
    return out


def _same_label(text: str, value) -> bool:
    if str(value) == text:
        return True
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return False


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _encoders(estimator, features, path=""):
    """``(path, fitted encoder, the data it receives)`` for every encoder in the model."""
    name = path or class_path(estimator).rsplit(".", 1)[-1]
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        data = features
        for step_name, step in steps:
            if step is None or step == "passthrough":
                continue
            yield from _encoders(step, data, "{}/{}".format(name, step_name))
            if step is steps[-1][1]:
                break
            try:
                data = step.transform(data)
            except Exception:
                return
        return
    if hasattr(estimator, "transformers_"):
        for part_name, part, selected in column_parts(estimator, features):
            if part != "passthrough" and not isinstance(selected, Exception):
                yield from _encoders(part, selected, "{}/{}".format(name, part_name))
        return
    if hasattr(estimator, "categories_"):
        yield name, estimator, features


def _levels(path: str, encoder, data) -> list:
    import numpy

    names = fitted_feature_names(encoder)
    array = numpy.asarray(data, dtype=object)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    out = []
    for index, known in enumerate(getattr(encoder, "categories_", [])):
        if index >= array.shape[1]:
            break
        present = {_key(value) for value in array[:, index].tolist()}
        unseen = [level for level in numpy.asarray(known).tolist() if _key(level) not in present]
        label = names[index] if names and index < len(names) else "input {}".format(index)
        out.append(
            {
                "encoder": path,
                "input": "{} of {}".format(label, path),
                "levels": len(known),
                "unseen_levels": len(unseen),
                "unseen": [_plain(level) for level in unseen[:MAX_LEVELS]],
            }
        )
    return out


def _key(value):
    # Golden numbers are floats; an encoder fitted on ints knows 2, not 2.0.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _plain(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else repr(value)


def _leaves(estimator, features):
    """The share of leaves the golden rows reach, for models with ``apply`` (trees)."""
    model, data = estimator, features
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list):
        model = steps[-1][1]
        try:
            for _name, step in steps[:-1]:
                if step is not None and step != "passthrough":
                    data = step.transform(data)
        except Exception:
            return None
    if not hasattr(model, "apply"):
        return None
    try:
        import numpy

        reached = numpy.asarray(model.apply(data))
        trees = getattr(model, "estimators_", None)
        trees = [model] if trees is None else list(numpy.ravel(numpy.asarray(trees, dtype=object)))
        if reached.ndim == 1:
            reached = reached.reshape(-1, 1)
        shares = []
        for index, tree in enumerate(trees[: reached.shape[1]]):
            total = int(tree.tree_.n_leaves)
            shares.append(len(set(reached[:, index].tolist())) / total if total else 0.0)
    except Exception:
        return None  # a model whose apply is not a tree's: no leaf coverage
    if not shares:
        return None
    return {"trees": len(shares), "share": round(sum(shares) / len(shares), 4)}

"""trust.py: pattern semantics, the baseline, the denied gadgets, and agreement with the spec."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftmatrix.spec import DEFAULT_TRUSTED
from driftmatrix.specparse import _GLOBAL
from driftmatrix.trust import BASELINE, DENIED, SKOPS_BASELINE, _matches, untrusted

DEMO = (
    "joblib.numpy_pickle:NumpyArrayWrapper",
    "numpy.core.multiarray:scalar",
    "numpy:dtype",
    "numpy:ndarray",
    "sklearn.ensemble._forest:ExtraTreesClassifier",
    "sklearn.tree._classes:ExtraTreeClassifier",
    "sklearn.tree._tree:Tree",
)


def test_the_default_patterns_trust_an_ordinary_model() -> None:
    assert untrusted(DEMO, DEFAULT_TRUSTED) == ()
    assert untrusted(DEMO, ["sklearn.*"]) == (
        "joblib.numpy_pickle:NumpyArrayWrapper",
        "numpy.core.multiarray:scalar",
        "numpy:dtype",
        "numpy:ndarray",
    )


@pytest.mark.parametrize(
    ("name", "pattern", "trusted"),
    [
        ("sklearn:clone", "sklearn.*", True),
        ("sklearn.tree._classes:DecisionTreeClassifier", "sklearn.*", True),
        ("sklearn.tree._classes:DecisionTreeClassifier", "sklearn.tree.*", True),
        ("sklearnx:Thing", "sklearn.*", False),
        ("sklearn_extra.cluster:KMedoids", "sklearn.*", False),
        ("numpy:dtype", "numpy.dtype", True),
        ("numpy.core:dtype", "numpy.dtype", False),
        ("numpy:dtype", "numpy.core.dtype", False),
        ("numpy:ndarray", "numpy.dtype", False),
        # A dotted qualname is getattr from the module at load time: wildcards never cover it.
        ("numpy:os.system", "numpy.*", False),
        ("sklearn.base:BaseEstimator.__setstate__", "sklearn.*", False),
        ("numpy:ndarray.item", "numpy.ndarray.item", False),
        ("numpy:ndarray.item", "numpy:ndarray.item", True),
        ("numpy.random._pickle:__randomstate_ctor", "numpy.*", True),
    ],
)
def test_pattern_semantics(name: str, pattern: str, trusted: bool) -> None:
    assert (untrusted([name], [pattern]) == ()) is trusted


def test_baseline_is_trusted_whatever_the_patterns() -> None:
    assert untrusted(BASELINE, []) == ()
    assert untrusted(["builtins:set", "copyreg:_reconstructor"], ["sklearn.*"]) == ()


@pytest.mark.parametrize(
    "name",
    [
        "numpy:load",
        "numpy.lib.npyio:load",
        "numpy.lib._npyio_impl:loadtxt",
        "numpy:memmap",
        "numpy:fromfile",
        "numpy.core.records:fromfile",
        "numpy.testing._private.utils:runstring",
        "numpy.f2py:compile",
        "numpy.distutils.exec_command:exec_command",
        "numpy.ctypeslib:load_library",
        "numpy.lib.format:read_array",
        "numpy.lib._datasource:DataSource",
        "numpy.core.fromnumeric:_wrapfunc",
        "numpy._core.fromnumeric:_wrapit",
        "numpy.core.overrides:os",
        "numpy:__builtins__",
        "scipy:__getattr__",
        "numpy:test",
        "numpy.random:test",
        "scipy.linalg:test",
        "scipy._lib._testutils:PytestTester",
        "scipy.weave.inline_tools:inline",
        "scipy.io.matlab:loadmat",
        "scipy.datasets._fetchers:face",
        "scipy._lib.decorator:FunctionMaker",
        "sklearn.utils._testing:assert_run_python_script",
        "sklearn.utils.tests.test_x:helper",
        "sklearn.datasets._base:load_files",
        "sklearn.externals.joblib:load",
        "sklearn.utils._joblib:Parallel",
        "sklearn.utils.parallel:Parallel",
        "joblib:load",
        "joblib:Parallel",
        "joblib:Memory",
        "joblib.numpy_pickle:load",
        "joblib.numpy_pickle:NumpyUnpickler",
        "joblib.numpy_pickle:NDArrayWrapper",
        "joblib.numpy_pickle_compat:NDArrayWrapper",
        "joblib.parallel:Parallel",
        "joblib.memory:Memory",
        "joblib.externals.cloudpickle.cloudpickle:_make_function",
    ],
)
def test_denied_gadgets_are_never_trusted(name: str) -> None:
    everything = ["numpy.*", "scipy.*", "sklearn.*", "joblib.*"]
    assert untrusted([name], everything) == (name,)


def test_joblibs_array_placeholder_stays_trustable() -> None:
    assert untrusted(["joblib.numpy_pickle:NumpyArrayWrapper"], ["joblib.*"]) == ()
    assert untrusted(["joblib.numpy_pickle:NumpyArrayWrapper"], ["sklearn.*"]) != ()


def test_no_baseline_name_is_denied() -> None:
    assert not [n for n in BASELINE if any(_matches(n, p, True) for p in DENIED)]


@pytest.mark.parametrize(
    "name",
    ["<ext:1>", "os:", ":system", "numpy", "numpy.:x", "numpy: x", "num py:x", "numpy:x\\n", ""],
)
def test_names_that_are_not_identifiers_are_never_trusted(name: str) -> None:
    assert untrusted([name], ["numpy.*"]) == (name,)


@pytest.mark.parametrize("pattern", ["", "*", "sklearn.**", "1abc.*", "numpy:", "a.*.b", "x y"])
def test_invalid_patterns_are_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="not a global-name pattern"):
        untrusted(["numpy:dtype"], [pattern])


def test_results_are_sorted_and_unique() -> None:
    names = ["os:system", "builtins:eval", "os:system", "numpy:dtype"]
    assert untrusted(names, ["numpy.*"]) == ("builtins:eval", "os:system")


@settings(max_examples=200, deadline=None)
@given(st.from_regex(_GLOBAL, fullmatch=True))
def test_every_pattern_the_matrix_accepts_is_accepted(pattern: str) -> None:
    untrusted(DEMO, [pattern])  # no ValueError


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=30), max_size=5))
def test_arbitrary_names_never_raise(names: list[str]) -> None:
    result = untrusted(names, DEFAULT_TRUSTED)
    assert list(result) == sorted(set(result))
    assert set(result) <= set(names)


def test_the_baseline_is_short_and_well_formed() -> None:
    assert len(BASELINE) <= 20
    assert all(re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*:[A-Za-z_]\w*", n) for n in BASELINE)


def test_the_skops_baseline_trusts_plain_containers_in_skops_files_only() -> None:
    containers = ["builtins:dict", "builtins:list", "builtins:tuple", "builtins:slice"]
    assert untrusted(containers, [], SKOPS_BASELINE) == ()
    # The pickle rules are unchanged: a pickle builds containers with opcodes, not globals.
    assert untrusted(containers, []) == ("builtins:dict", "builtins:list", "builtins:tuple")
    assert untrusted(BASELINE, []) == ()


@pytest.mark.parametrize(
    "name",
    [
        # Not value types, or pickle-only helpers: never always-allowed in a skops file.
        "builtins:map",
        "builtins:eval",
        "builtins:type",
        "builtins:getattr",
        "builtins:object",
        "functools:partial",
        "operator:methodcaller",
        "copyreg:_reconstructor",
        "_codecs:encode",
        "builtins:dict.fromkeys",
    ],
)
def test_the_skops_baseline_holds_no_callable_gadget(name: str) -> None:
    assert untrusted([name], [], SKOPS_BASELINE) == (name,)


def test_the_skops_baseline_is_short_well_formed_and_never_denied() -> None:
    assert len(SKOPS_BASELINE) <= 16
    assert list(SKOPS_BASELINE) == sorted(set(SKOPS_BASELINE))
    assert all(re.fullmatch(r"(builtins|collections):[A-Za-z]\w*", n) for n in SKOPS_BASELINE)
    assert not [n for n in SKOPS_BASELINE if any(_matches(n, p, True) for p in DENIED)]

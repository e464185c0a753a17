"""Cell values and matrix expansion (:func:`driftmatrix.cells.expand`), as a pure function."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftmatrix.cells import (
    ID_PATTERN,
    Axis,
    Cell,
    Limits,
    LimitsPatch,
    Overrides,
    expand,
    join_key,
    make_id,
    safe_version,
)
from driftmatrix.errors import MatrixError

MiB = 1024**2


def pins(**versions: str) -> tuple[tuple[str, str], ...]:
    return tuple((name.replace("_", "-"), version) for name, version in versions.items())


def axis(name: str, *values: Overrides) -> Axis:
    key = f"axes.{name}"
    return Axis(
        key,
        tuple(
            Overrides(f"{key}[{i}]", v.python, v.packages, v.limits, v.backend)
            for i, v in enumerate(values)
        ),
    )


def py(*versions: str) -> Axis:
    return axis("python", *(Overrides(python=v) for v in versions))


def pkg(name: str, *versions: str) -> Axis:
    return axis(name, *(Overrides(packages=((name, v),)) for v in versions))


def mem(*sizes: int | None) -> Axis:
    return axis(
        "limits",
        *(Overrides(limits=LimitsPatch(memory=s, given=frozenset({"memory"}))) for s in sizes),
    )


DEFAULTS = Overrides(key="defaults", python="3.11", packages=pins(scikit_learn="1.5.2"))


def ids(cells: tuple[Cell, ...]) -> list[str]:
    return [cell.id for cell in cells]


# -- ids -----------------------------------------------------------------------------------


def test_make_id_matches_the_design_example() -> None:
    limits = Limits(memory=512 * MiB, cpus=1.0)
    cell_id = make_id("3.12", pins(scikit_learn="1.5.2", numpy="2.1.3"), limits)
    assert cell_id == "py3.12-scikit-learn1.5.2-numpy2.1.3-mem512m-cpu1"


def test_make_id_orders_limits_timeout_then_backend() -> None:
    limits = Limits(memory=96 * MiB, cpus=0.5, timeout=90.0)
    cell_id = make_id("3.10", pins(numpy="1.26.4"), limits, "docker", with_timeout=True)
    assert cell_id == "py3.10-numpy1.26.4-mem96m-cpu0.5-t90s-docker"


@pytest.mark.parametrize(
    ("version", "safe"),
    [("1.5.2", "1.5.2"), ("1.5.2+cpu", "1.5.2_cpu"), ("1!2.0", "1_2.0"), ("2.0rc1", "2.0rc1")],
)
def test_safe_version_keeps_ids_shell_safe(version: str, safe: str) -> None:
    assert safe_version(version) == safe
    assert ID_PATTERN.fullmatch(make_id("3.12", (("x", version),), Limits()))


def test_join_key_quotes_like_toml_and_stays_on_one_line() -> None:
    assert join_key("axes", "scikit-learn") == "axes.scikit-learn"
    assert join_key("axes", "zope.interface") == 'axes."zope.interface"'
    assert join_key("", "name") == "name"
    assert "\n" not in join_key("axes", "a\nb")


# -- expansion -----------------------------------------------------------------------------


def test_no_axes_and_no_includes_gives_the_defaults_cell() -> None:
    (cell,) = expand(DEFAULTS)
    assert cell == Cell("py3.11-scikit-learn1.5.2", "3.11", pins(scikit_learn="1.5.2"))
    assert cell.backend == "venv" and cell.limits == Limits()


def test_product_follows_declared_order_first_axis_slowest() -> None:
    cells = expand(DEFAULTS, [py("3.10", "3.12"), pkg("numpy", "1.26.4", "2.1.3")])
    assert ids(cells) == [
        "py3.10-scikit-learn1.5.2-numpy1.26.4",
        "py3.10-scikit-learn1.5.2-numpy2.1.3",
        "py3.12-scikit-learn1.5.2-numpy1.26.4",
        "py3.12-scikit-learn1.5.2-numpy2.1.3",
    ]


def test_axes_override_defaults_but_keep_the_id_position_of_defaults() -> None:
    defaults = Overrides(python="3.11", packages=pins(scikit_learn="1.5.2", numpy="1.26.4"))
    cells = expand(defaults, [pkg("numpy", "2.1.3"), pkg("scikit-learn", "1.3.2")])
    assert ids(cells) == ["py3.11-scikit-learn1.3.2-numpy2.1.3"]


def test_packages_appear_in_ids_in_order_of_first_appearance() -> None:
    include = Overrides("include[0]", packages=pins(pandas="2.2.3", numpy="2.1.3"))
    cells = expand(DEFAULTS, [pkg("numpy", "1.26.4"), pkg("scipy", "1.13.1")], include=[include])
    assert ids(cells) == [
        "py3.11-scikit-learn1.5.2-numpy1.26.4-scipy1.13.1",
        "py3.11-scikit-learn1.5.2-numpy2.1.3-pandas2.2.3",
    ]


def test_exclude_applies_before_include() -> None:
    exclude = Overrides("exclude[0]", python="3.10", packages=pins(numpy="2.1.3"))
    include = Overrides("include[0]", python="3.10", packages=pins(numpy="2.1.3"))
    axes = [py("3.10", "3.12"), pkg("numpy", "1.26.4", "2.1.3")]
    dropped = expand(DEFAULTS, axes, exclude=[exclude])
    assert "py3.10-scikit-learn1.5.2-numpy2.1.3" not in ids(dropped)
    assert len(dropped) == 3
    readded = expand(DEFAULTS, axes, exclude=[exclude], include=[include])
    assert ids(readded)[-1] == "py3.10-scikit-learn1.5.2-numpy2.1.3"
    assert len(readded) == 4


def test_exclude_drops_only_cells_matching_all_its_keys() -> None:
    exclude = Overrides(
        "exclude[0]", python="3.12", limits=LimitsPatch(96 * MiB, given=frozenset({"memory"}))
    )
    cells = expand(DEFAULTS, [py("3.10", "3.12"), mem(512 * MiB, 96 * MiB)], exclude=[exclude])
    assert ids(cells) == [
        "py3.10-scikit-learn1.5.2-mem512m",
        "py3.10-scikit-learn1.5.2-mem96m",
        "py3.12-scikit-learn1.5.2-mem512m",
    ]


def test_include_identical_to_a_cell_is_not_duplicated() -> None:
    include = Overrides("include[0]", python="3.12")
    cells = expand(DEFAULTS, [py("3.10", "3.12")], include=[include, include])
    assert len(cells) == 2


def test_include_merges_over_defaults_not_over_product_cells() -> None:
    defaults = Overrides(python="3.11", packages=pins(numpy="1.26.4"))
    include = Overrides("include[0]", packages=pins(pandas="2.2.3"))
    cells = expand(defaults, [pkg("numpy", "2.1.3")], include=[include])
    assert cells[-1].pins == {"numpy": "1.26.4", "pandas": "2.2.3"}


def test_without_axes_the_cells_are_exactly_the_includes() -> None:
    includes = [
        Overrides("include[0]", packages=pins(numpy="1.26.4")),
        Overrides("include[1]", python="3.13", packages=pins(numpy="2.2.6"), backend="docker"),
    ]
    cells = expand(DEFAULTS, include=includes)
    assert ids(cells) == [
        "py3.11-scikit-learn1.5.2-numpy1.26.4",
        "py3.13-scikit-learn1.5.2-numpy2.2.6-docker",
    ]


def test_axis_limits_patch_the_defaults_limits() -> None:
    base = LimitsPatch(
        memory=1024 * MiB, cpus=1.0, timeout=300.0, given=frozenset({"memory", "cpus", "timeout"})
    )
    defaults = Overrides(python="3.11", limits=base)
    lifted = Overrides(limits=LimitsPatch(memory=None, given=frozenset({"memory"})))
    cells = expand(defaults, [Axis("axes.limits", (Overrides(limits=LimitsPatch()), lifted))])
    assert [cell.limits for cell in cells] == [
        Limits(memory=1024 * MiB, cpus=1.0, timeout=300.0),
        Limits(memory=None, cpus=1.0, timeout=300.0),
    ]
    assert ids(cells) == ["py3.11-mem1g-cpu1", "py3.11-cpu1"]


def test_timeout_and_backend_appear_in_ids_only_when_they_differ_from_defaults() -> None:
    defaults = Overrides(python="3.11", backend="docker")
    timeouts = Axis(
        "axes.limits",
        (
            Overrides(
                "axes.limits[0]", limits=LimitsPatch(timeout=600.0, given=frozenset({"timeout"}))
            ),
            Overrides(
                "axes.limits[1]", limits=LimitsPatch(timeout=60.0, given=frozenset({"timeout"}))
            ),
        ),
    )
    backends = axis("backend", Overrides(backend="docker"), Overrides(backend="venv"))
    assert ids(expand(defaults, [timeouts, backends])) == [
        "py3.11",
        "py3.11-venv",
        "py3.11-t60s",
        "py3.11-t60s-venv",
    ]


def test_ids_do_not_depend_on_other_cells() -> None:
    small = expand(DEFAULTS, [py("3.10"), pkg("numpy", "1.26.4")])
    large = expand(DEFAULTS, [py("3.10", "3.13"), pkg("numpy", "1.26.4", "2.2.6")])
    assert small[0] == large[0]


# -- errors --------------------------------------------------------------------------------


def test_a_cell_without_python_is_an_error_naming_where_to_set_it() -> None:
    with pytest.raises(MatrixError, match=r"defaults\.python: no Python version"):
        expand(Overrides(packages=pins(numpy="1.26.4")))
    with pytest.raises(MatrixError, match=r"include\[0\]\.python: no Python version"):
        expand(Overrides(), include=[Overrides("include[0]", packages=pins(numpy="1.26.4"))])


def test_two_cells_with_one_id_blame_the_repeated_axis_value() -> None:
    same = Overrides(limits=LimitsPatch(memory=MiB * 512, given=frozenset({"memory"})))
    equal = Axis(
        "axes.limits",
        (
            Overrides("axes.limits[0]", limits=same.limits),
            Overrides("axes.limits[1]", limits=same.limits),
        ),
    )
    with pytest.raises(MatrixError) as caught:
        expand(DEFAULTS, [py("3.10", "3.12"), equal])
    assert caught.value.key == "axes.limits[1]"
    assert "py3.10-scikit-learn1.5.2-mem512m" in caught.value.problem


def test_unsafe_ids_are_rejected() -> None:
    with pytest.raises(MatrixError, match="not safe"):
        expand(Overrides(key="defaults", python="3.12 beta"))


def test_empty_axis_exclude_without_axes_and_excluding_everything_are_errors() -> None:
    with pytest.raises(MatrixError, match=r"axes\.numpy: empty axis"):
        expand(DEFAULTS, [Axis("axes.numpy", ())])
    with pytest.raises(MatrixError, match="exclude without axes"):
        expand(DEFAULTS, exclude=[Overrides("exclude[0]", python="3.11")])
    with pytest.raises(MatrixError, match="every cell of the axes is excluded"):
        expand(DEFAULTS, [py("3.10")], exclude=[Overrides("exclude[0]", python="3.10")])


@pytest.mark.parametrize(
    ("entry", "key", "fragment"),
    [
        (Overrides("exclude[0]", python="3.11"), "exclude[0].python", "has: 3.10, 3.12"),
        (Overrides("exclude[0]", packages=pins(numpy="2.1.3")), "exclude[0].numpy", "has: 1.26.4"),
        (Overrides("exclude[0]", packages=pins(nunpy="1.26.4")), "exclude[0].nunpy", "'numpy'"),
        (Overrides("exclude[0]", backend="docker"), "exclude[0].backend", "'docker'"),
        (Overrides("exclude[0]"), "exclude[0]", "selects nothing"),
    ],
)
def test_exclude_entries_that_match_nothing_are_typos(
    entry: Overrides, key: str, fragment: str
) -> None:
    with pytest.raises(MatrixError) as caught:
        expand(DEFAULTS, [py("3.10", "3.12"), pkg("numpy", "1.26.4")], exclude=[entry])
    assert caught.value.key == key
    assert fragment in str(caught.value)


# -- fingerprints --------------------------------------------------------------------------


def test_fingerprint_is_stable_across_releases() -> None:
    # --resume trusts results whose fingerprint matches: a change here invalidates every cache.
    cell = Cell(
        "py3.12-numpy2.1.3-mem512m-cpu1",
        "3.12",
        pins(numpy="2.1.3"),
        Limits(memory=512 * MiB, cpus=1.0, timeout=600.0),
    )
    assert cell.fingerprint() == "ab6a251afa0333446fb226c0a28acdc5a8102d98cf2a41c4af27b0f098115c13"


def test_fingerprint_ignores_package_order_but_not_limits_or_backend() -> None:
    one = Cell("a", "3.12", pins(numpy="2.1.3", scipy="1.13.1"))
    assert one.fingerprint() == Cell("b", "3.12", pins(scipy="1.13.1", numpy="2.1.3")).fingerprint()
    assert one.fingerprint() != Cell("a", "3.12", one.packages, Limits(cpus=1.0)).fingerprint()
    assert one.fingerprint() != Cell("a", "3.12", one.packages, backend="docker").fingerprint()


# -- properties ----------------------------------------------------------------------------

_versions = st.lists(
    st.sampled_from(["1.0", "1.1", "2.0rc1", "2.0+cpu", "3.0.post1"]),
    min_size=1,
    max_size=3,
    unique=True,
)


@settings(max_examples=60, deadline=None)
@given(
    pythons=st.lists(
        st.sampled_from(["3.9", "3.10", "3.12.1"]), min_size=1, max_size=3, unique=True
    ),
    numpy=_versions,
    scipy=_versions,
    memories=st.lists(
        st.sampled_from([None, 96 * MiB, 512 * MiB, 1024**3]), min_size=1, max_size=3, unique=True
    ),
)
def test_expansion_is_the_full_product_with_unique_safe_ids(
    pythons: list[str], numpy: list[str], scipy: list[str], memories: list[int | None]
) -> None:
    axes = [py(*pythons), pkg("numpy", *numpy), pkg("scipy", *scipy), mem(*memories)]
    cells = expand(Overrides(key="defaults"), axes)
    assert len(cells) == len(pythons) * len(numpy) * len(scipy) * len(memories)
    assert len(set(ids(cells))) == len(cells)
    assert all(ID_PATTERN.fullmatch(cell.id) for cell in cells)
    expected = list(itertools.product(pythons, numpy, scipy, memories))
    assert [
        (c.python, c.pins["numpy"], c.pins["scipy"], c.limits.memory) for c in cells
    ] == expected
    assert expand(Overrides(key="defaults"), axes) == cells  # pure: same input, same cells

"""Which globals found by the artifact scan are trusted.

A global is ``module:qualname``, as :class:`driftmatrix.scan.ScanResult` reports it. It is trusted
when it is in the format's baseline (:data:`BASELINE` for pickles, :data:`SKOPS_BASELINE` for
skops files), or when a pattern of ``[artifact] trusted`` matches it and :data:`DENIED` does not.
Patterns (the syntax ``read.patterns`` accepts, plus a colon form):

* ``pkg.*``: any global whose module is ``pkg`` or inside it (``pkg.sub``), and whose qualname is a
  plain name. A dotted qualname (``numpy:os.system``) is reached by ``getattr`` from the module at
  load time (protocol 4), through whatever the module imported: a wildcard cannot vouch for that.
* ``pkg.mod.Name``: exactly module ``pkg.mod``, qualname ``Name``.
* ``pkg.mod:Qual.name``: exactly that global, dotted qualname allowed.

Trusting a package trusts code the loader may call with attacker-chosen arguments; :data:`DENIED`
removes the callables known to load files, run code or start processes, but cannot prove a
package has no other such gadget.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

#: Always allowed, whatever the matrix says: harmless builtins that ordinary pickles need. The
#: scanner reports names after the loader's own Python 2 mapping (``__builtin__`` is
#: ``builtins``, ``copy_reg`` is ``copyreg``), so no Python 2 spellings are needed here.
BASELINE: tuple[str, ...] = (
    # Protocols 0-2 pickle bytes as _codecs.encode(text, "latin1"); it only converts data.
    "_codecs:encode",
    # Value types pickled by REDUCE in protocols < 4/5: constructing them only builds data.
    "builtins:bytearray",
    "builtins:bytes",
    "builtins:complex",
    "builtins:frozenset",
    "builtins:range",
    "builtins:set",
    "builtins:slice",
    # Type objects kept as parameter values (dtype=float, a type check on str...); calling them
    # converts a value.
    "builtins:bool",
    "builtins:float",
    "builtins:int",
    "builtins:str",
    # copyreg._reconstructor(cls, object, state) makes protocol 0/1 instances; "object" is its
    # base argument. Both only allocate an instance of a class the scan reports separately.
    "builtins:object",
    "copyreg:_reconstructor",
    # OrderedDict(items) and defaultdict(factory) only store their arguments (the factory is a
    # global of its own, judged separately).
    "collections:OrderedDict",
    "collections:defaultdict",
)

#: Always allowed in a skops file (instead of :data:`BASELINE`): the container and value types
#: skops writes plain data with, and trusts by default itself (DictNode: dict, OrderedDict;
#: DefaultDictNode: defaultdict; ListNode, SetNode, TupleNode: list, set, tuple; SliceNode:
#: slice; BytesNode, BytearrayNode: bytes, bytearray; TypeNode, JsonNode: str, int, float, bool).
#: Every trusted name is also handed to the cell's skops loader, which then trusts it in *every*
#: node kind, so each must be harmless in all of them: imported (builtins and collections are
#: loaded already), allocated with ``__new__`` and given state (ObjectNode), called with values
#: built from the file (ConstructorFromReduceNode, ReduceNode, the container nodes), or kept as
#: a callable that estimator code calls on data (FunctionNode, TypeNode). Value types only build
#: a value from their arguments; defaultdict's factory is a node of its own, judged separately.
#: Left out although skops trusts it by default: ``builtins.map`` (a TypeNode default: it is not
#: a value type, it calls its first argument). Numpy dtypes and ufuncs, bit generators and
#: scikit-learn types, also skops defaults, are judged by the patterns like any other global.
SKOPS_BASELINE: tuple[str, ...] = (
    "builtins:bool",
    "builtins:bytearray",
    "builtins:bytes",
    "builtins:dict",
    "builtins:float",
    "builtins:int",
    "builtins:list",
    "builtins:set",
    "builtins:slice",
    "builtins:str",
    "builtins:tuple",
    "collections:OrderedDict",
    "collections:defaultdict",
)

#: Never trusted even when a pattern matches: known gadgets inside otherwise-trusted packages (they
#: load files, run code or spawn processes). Patterns as for ``trusted``; a pattern with ``*`` or
#: a colon elsewhere matches ``module:qualname`` like ``fnmatch``.
DENIED: tuple[str, ...] = (
    # numpy: test helpers exec strings (testing._private.utils.runstring) or run processes;
    # f2py and distutils compile code and run shell commands.
    "numpy.testing.*",
    "numpy.f2py.*",
    "numpy.distutils.*",
    # np.load(file, None, True) unpickles any file (allow_pickle is positional); the npyio family
    # reads (loadtxt, genfromtxt, fromregex) or writes (save*, savetxt) files; format.read_array
    # unpickles; DataSource downloads URLs to disk; memmap(file, ..., "w+") truncates any file;
    # ctypeslib.load_library loads native code; compat opens files.
    "numpy:load",
    "numpy:loadtxt",
    "numpy:genfromtxt",
    "numpy:fromregex",
    "numpy:save",
    "numpy:savez",
    "numpy:savez_compressed",
    "numpy:savetxt",
    "numpy:DataSource",
    "numpy:memmap",
    "numpy.lib.npyio:*",
    "numpy.lib._npyio_impl:*",
    "numpy.lib.format:*",
    "numpy.lib._datasource:*",
    "numpy.core.memmap:*",
    "numpy._core.memmap:*",
    "numpy.ctypeslib.*",
    "numpy.compat.*",
    "*:fromfile",
    "*:_load_from_filelike",
    # getattr gadgets: fromnumeric._wrapfunc(obj, name, *args) calls getattr(obj, name)(*args),
    # ma.core._frommethod(name) calls a method by name; _methods._dump writes a pickle file.
    "*.fromnumeric:_wrap*",
    "numpy.ma.core:_frommethod",
    "*._methods:_dump*",
    # numpy.test / scipy.test, and the same PytestTester in each subpackage (numpy.random.test,
    # scipy.linalg.test...), run pytest in the loader's process, with arbitrary arguments.
    "*:test",
    "*._pytesttester:*",
    # Test suites and test utilities of any package (sklearn.utils._testing runs Python scripts
    # in subprocesses: assert_run_python_script).
    "*._testing:*",
    "*.testing:*",
    "*.tests.*",
    "*.tests:*",
    "*.conftest:*",
    "*._testutils:*",
    # scipy: weave compiles and runs C code; scipy.io reads and writes files (loadmat, savemat,
    # wavfile, mmwrite, FortranFile, netcdf_file); datasets download files; decorator builds
    # functions with exec().
    "scipy.weave.*",
    "scipy.io.*",
    "scipy.datasets.*",
    "scipy._lib.decorator:*",
    # scikit-learn: datasets fetch_* download and write files, load_* read them; the joblib
    # re-exports (load, dump, Parallel, Memory) and Parallel itself run work in processes;
    # estimator_checks is a test harness; _build_utils runs compilers.
    "sklearn.datasets.*",
    "sklearn.externals.joblib.*",
    "sklearn.utils._joblib:*",
    "sklearn.utils.parallel:*",
    "sklearn.utils.estimator_checks:*",
    "sklearn._build_utils.*",
    # joblib: nothing but its array placeholder NumpyArrayWrapper belongs in a model file
    # (see _DENIAL_EXCEPTIONS). The rest loads pickles (load, numpy_pickle.load, Memory, the
    # store backends, NDArrayWrapper's side files with allow_pickle=True), writes files
    # (dump, BinaryZlibFile), runs work in processes (Parallel, executor, loky) or builds code
    # (externals.cloudpickle makes functions from code objects).
    "joblib.*",
    # Module attributes that reach builtins or a module's namespace (__builtins__, __dict__,
    # lazy-import __getattr__) or the import system.
    *(
        f"*:{name}"
        for name in (
            "__builtins__",
            "__loader__",
            "__spec__",
            "__import__",
            "__dict__",
            "__class__",
            "__getattr__",
            "__globals__",
        )
    ),
    # Standard modules imported by trusted modules, reached as ``pkg.mod:os``: with any
    # getattr-style call they reach everything the module offers.
    *(
        f"*:{name}"
        for name in (
            "os",
            "_os",
            "sys",
            "_sys",
            "subprocess",
            "builtins",
            "importlib",
            "pickle",
            "_pickle",
            "marshal",
            "shutil",
            "ctypes",
            "runpy",
            "socket",
            "io",
            "pty",
            "code",
            "codeop",
            "types",
            "operator",
            "inspect",
            "pydoc",
            "platform",
            "multiprocessing",
            "tempfile",
            "pathlib",
            "webbrowser",
        )
    ),
)

#: Globals under a DENIED pattern that remain trustable: joblib's array placeholder, which only
#: the loader's own array reading uses (and which the scanner interprets).
_DENIAL_EXCEPTIONS = frozenset({"joblib.numpy_pickle:NumpyArrayWrapper"})
#: ``read.patterns``' syntax (driftmatrix.specparse._GLOBAL), and the colon form.
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*(?:\.\*)?")
_COLON = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def untrusted(
    globals: Iterable[str], patterns: Sequence[str], baseline: Iterable[str] = BASELINE
) -> tuple[str, ...]:
    """The globals neither in ``baseline`` nor matched by a pattern (or matched by DENIED), sorted.

    Args:
        globals: ``module:qualname`` names, as the scanner reports them.
        patterns: ``[artifact] trusted`` patterns (``sklearn.*``, ``numpy.dtype``,
            ``pkg.mod:Qual.name``).
        baseline: The format's always-allowed names: :data:`BASELINE` (pickle, joblib) or
            :data:`SKOPS_BASELINE`.

    Raises:
        ValueError: A pattern is not one of the accepted forms.
    """
    for pattern in patterns:
        if not (_DOTTED.fullmatch(pattern) or _COLON.fullmatch(pattern)):
            raise ValueError(f"not a global-name pattern: {pattern!r}")
    allowed = frozenset(baseline)
    return tuple(
        sorted(
            {
                name
                for name in globals
                if name not in allowed
                and (
                    not _valid(name)
                    or (name not in _DENIAL_EXCEPTIONS and _matches_any(name, DENIED, True))
                    or not _matches_any(name, patterns, False)
                )
            }
        )
    )


def _valid(name: str) -> bool:
    """A global made of Python identifiers only (anything else cannot be vouched for)."""
    module, colon, qualname = name.partition(":")
    parts = [*module.split("."), *qualname.split(".")]
    return bool(colon) and all(part.isidentifier() for part in parts)


def _matches_any(name: str, patterns: Iterable[str], deny: bool) -> bool:
    return any(_matches(name, pattern, deny) for pattern in patterns)


def _matches(name: str, pattern: str, deny: bool) -> bool:
    """Whether ``pattern`` matches the global ``name`` (``module:qualname``).

    ``deny`` patterns also match dotted qualnames under a ``pkg.*`` pattern; trust does not.
    """
    module, _, qualname = name.partition(":")
    if ":" in pattern:
        return fnmatchcase(name, pattern)
    if pattern.endswith(".*"):
        prefix = pattern[:-2]
        inside = fnmatchcase(module, prefix) or fnmatchcase(module, prefix + ".*")
        return inside and (deny or "." not in qualname)
    if any(c in pattern for c in "*?["):
        return fnmatchcase(module, pattern)
    pattern_module, _, pattern_name = pattern.rpartition(".")
    return module == pattern_module and qualname == pattern_name

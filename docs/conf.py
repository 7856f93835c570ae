"""Sphinx configuration for the xloss documentation.

Built by ``nox -s docs`` twice: the HTML site with warnings as errors, and the doctest
builder, which runs every ``>>>`` example in the pages *and* in the docstrings that the
API reference pulls in.

The API reference is generated from each public module's ``__all__`` at build time
(:func:`_write_api_lists`), so it lists exactly the functions that exist: a function added
to ``__all__`` appears in the reference, with its docstring, without editing the docs.
No intersphinx mappings are configured: the build never touches the network.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))  # a fresh checkout builds without an install

import xloss  # noqa: E402

# The Keras migration examples run on JAX (installed by the docs session); TensorFlow is not.
os.environ.setdefault("KERAS_BACKEND", "jax")

project = "xloss"
author = "xloss developers"
copyright = "xloss developers"
release = xloss.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/*.inc", "_generated"]
templates_path: list[str] = []

html_theme = "furo"
html_title = f"xloss {release}"
html_static_path: list[str] = []

# -- autodoc / autosummary / numpydoc ------------------------------------------------------
autosummary_generate = False  # the stubs are written below, from __all__
autodoc_typehints = "none"  # numpydoc's Parameters section carries the types
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

# intersphinx is loaded for cross-project roles, but maps nothing: no inventory downloads.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
intersphinx_disabled_reftypes = ["*"]

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
# the generated benchmark table is included into a page, so its headings start lower down
suppress_warnings = ["myst.header"]

# -- doctest -------------------------------------------------------------------------------
doctest_test_doctest_blocks = "default"  # plain >>> blocks (pages and docstrings) run too
doctest_global_setup = """
import importlib.util as _ilu
import numpy as np
import xloss

def has(name):
    '''Whether ``name`` (e.g. "xloss.grad" or "xloss.cross_entropy") exists now.'''
    module, _, attr = name.rpartition(".")
    try:
        obj = importlib.import_module(name)
        return True
    except ImportError:
        pass
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False

import importlib

def installed(package):
    return _ilu.find_spec(package) is not None

def cuda():
    if not installed("torch"):
        return False
    import torch
    return torch.cuda.is_available()

"""

# -- the API lists, from __all__ -----------------------------------------------------------
# Which function of another library each xloss function matches (name-by-name). Only the
# names present in a module's __all__ at build time are listed.
F = "torch.nn.functional."
MATCHES: dict[str, dict[str, tuple[str, str, str]]] = {
    # name: (PyTorch, optax / Keras, SciPy / scikit-learn)
    "xloss": {
        "cross_entropy": (
            F + "cross_entropy",
            "optax.softmax_cross_entropy_with_integer_labels, optax.softmax_cross_entropy",
            "",
        ),
        "nll_loss": (F + "nll_loss", "", ""),
        "binary_cross_entropy": (
            F + "binary_cross_entropy",
            "keras.losses.binary_crossentropy",
            "sklearn.metrics.log_loss (1-D)",
        ),
        "binary_cross_entropy_with_logits": (
            F + "binary_cross_entropy_with_logits",
            "optax.sigmoid_binary_cross_entropy",
            "",
        ),
        "kl_div": (F + "kl_div", "optax.kl_divergence", "scipy.special.rel_entr (summed)"),
        "soft_margin_loss": (F + "soft_margin_loss", "", ""),
        "multilabel_soft_margin_loss": (F + "multilabel_soft_margin_loss", "", ""),
        "sigmoid_focal_loss": (
            "torchvision.ops.sigmoid_focal_loss",
            "optax.sigmoid_focal_loss",
            "",
        ),
        "gaussian_nll_loss": (F + "gaussian_nll_loss", "", ""),
        "poisson_nll_loss": (F + "poisson_nll_loss", "keras.losses.poisson (log_input=False)", ""),
        "mse_loss": (
            F + "mse_loss",
            "optax.squared_error (mean)",
            "sklearn.metrics.mean_squared_error",
        ),
        "l1_loss": (
            F + "l1_loss",
            "keras.losses.mean_absolute_error",
            "sklearn.metrics.mean_absolute_error",
        ),
        "huber_loss": (F + "huber_loss", "optax.huber_loss", ""),
        "smooth_l1_loss": (F + "smooth_l1_loss", "", ""),
        "log_cosh_loss": ("", "optax.log_cosh", ""),
    },
    "xloss.special": {
        "logsumexp": ("torch.logsumexp", "jax.nn.logsumexp", "scipy.special.logsumexp"),
        "log_softmax": ("torch.log_softmax", "jax.nn.log_softmax", "scipy.special.log_softmax"),
        "softmax": ("torch.softmax", "jax.nn.softmax", "scipy.special.softmax"),
        "sigmoid": ("torch.sigmoid", "jax.nn.sigmoid", "scipy.special.expit"),
        "log_sigmoid": (F + "logsigmoid", "jax.nn.log_sigmoid", "scipy.special.log_expit"),
        "softplus": (F + "softplus", "jax.nn.softplus", "scipy.special.softplus"),
        "xlogy": ("torch.special.xlogy", "jax.scipy.special.xlogy", "scipy.special.xlogy"),
        "xlog1py": ("torch.special.xlog1py", "jax.scipy.special.xlog1py", "scipy.special.xlog1py"),
        "entr": ("torch.special.entr", "jax.scipy.special.entr", "scipy.special.entr"),
        "rel_entr": ("", "jax.scipy.special.rel_entr", "scipy.special.rel_entr"),
    },
    "xloss.info": {
        "entropy": (
            "torch.distributions.Categorical(...).entropy()",
            "",
            "scipy.stats.entropy(pk)",
        ),
        "cross_entropy": (
            "",
            "optax.softmax_cross_entropy (logits=True)",
            "scipy.stats.entropy(pk) + scipy.stats.entropy(pk, qk)",
        ),
        "kl_divergence": (
            "torch.distributions.kl_divergence",
            "keras.losses.kl_divergence",
            "scipy.stats.entropy(pk, qk)",
        ),
        "js_divergence": ("", "", "scipy.spatial.distance.jensenshannon (squared)"),
    },
    "xloss.metrics": {
        "log_loss": ("", "", "sklearn.metrics.log_loss"),
        "perplexity": ("", "", "torchmetrics.functional.text.perplexity"),
        "bits_per_token": ("", "", ""),
        "brier_score": ("", "", "sklearn.metrics.brier_score_loss"),
        "expected_calibration_error": ("", "", "torchmetrics.functional.calibration_error"),
    },
    "xloss.grad": {},  # filled from the losses' row of the same name
    "xloss.testing": {
        "assert_close": ("torch.testing.assert_close", "", "numpy.testing.assert_allclose"),
    },
}
API_MODULES = [
    "xloss",
    "xloss.special",
    "xloss.info",
    "xloss.metrics",
    "xloss.grad",
    "xloss.testing",
]


def _public_functions(module_name: str) -> list[str] | None:
    """Public functions and classes of a module (None if the module does not exist yet)."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in dir(module) if not n.startswith("_")]
    out = []
    for name in names:
        obj = getattr(module, name, None)
        if callable(obj) and not isinstance(obj, type(os)):
            out.append(name)
    return sorted(out)


def _cell(text: str) -> str:
    if not text:
        return "—"
    return ", ".join(f"``{part.strip()}``" for part in text.split(", "))


def _write_api_lists() -> None:
    """Write ``api/generated/<module>.inc`` (autosummary + match table) and the stubs."""
    out = HERE / "api" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    for module_name in API_MODULES:
        names = _public_functions(module_name)
        lines: list[str] = []
        if names is None:
            lines += [
                ".. note::",
                "",
                f"   ``{module_name}`` is not part of this build of xloss yet.",
                "",
            ]
        elif not names:
            lines += [".. note::", "", f"   ``{module_name}`` has no public functions yet.", ""]
        else:
            lines += [".. autosummary::", "   :toctree: generated", "   :nosignatures:", ""]
            lines += [f"   {name}" for name in names]
            lines += [
                "",
                ".. list-table:: What each function matches in other libraries",
                "   :header-rows: 1",
                "   :widths: 25 25 25 25",
                "",
            ]
            lines += [
                "   * - xloss",
                "     - PyTorch",
                "     - optax / JAX / Keras",
                "     - SciPy / scikit-learn / torchmetrics",
            ]
            table = MATCHES.get(module_name, {})
            for name in names:
                torch_name, jax_name, sci_name = table.get(name, ("", "", ""))
                if module_name == "xloss.grad" and MATCHES["xloss"].get(name, ("",))[0]:
                    # the gradient of the loss of the same name: what autograd gives there
                    torch_name = "torch.autograd.grad of " + MATCHES["xloss"][name][0]
                    jax_name = "jax.value_and_grad"
                lines += [
                    f"   * - :func:`~{module_name}.{name}`",
                    f"     - {_cell(torch_name)}",
                    f"     - {_cell(jax_name)}",
                    f"     - {_cell(sci_name)}",
                ]
            lines.append("")
            for name in names:
                stub = out / f"{module_name}.{name}.rst"
                title = f"{module_name}.{name}"
                obj = getattr(importlib.import_module(module_name), name)
                directive = (
                    f".. autoclass:: {name}\n   :members:\n   :inherited-members:\n"
                    if isinstance(obj, type)
                    else f".. autofunction:: {name}\n"
                )
                text = (
                    f"{title}\n{'=' * len(title)}\n\n.. currentmodule:: {module_name}\n\n"
                    + directive
                )
                if not stub.exists() or stub.read_text() != text:
                    stub.write_text(text)
        inc = out / f"{module_name}.inc"
        text = "\n".join(lines) + "\n"
        if not inc.exists() or inc.read_text() != text:
            inc.write_text(text)
    # Stubs of functions that disappeared from __all__ would be orphans: remove them.
    listed = {f"{m}.{n}.rst" for m in API_MODULES for n in (_public_functions(m) or [])}
    for stub in out.glob("*.rst"):
        if stub.name not in listed:
            stub.unlink()


def _ensure_benchmark_table() -> None:
    """``nox -s benchmarks`` (benchmarks/report.py) writes the table; keep a placeholder."""
    table = HERE / "_generated" / "benchmarks.md"
    if not table.exists():
        table.parent.mkdir(exist_ok=True)
        table.write_text(
            "*No benchmark results in this checkout yet: run* `nox -s benchmarks` "
            "*to measure them on this machine and regenerate this table.*\n"
        )


_write_api_lists()
_ensure_benchmark_table()


# -- examples of functions that have not landed -------------------------------------------
# ``.. requires:: xloss.grad.cross_entropy ...`` at the top of a section: when every name
# exists it renders nothing and the section's examples run as usual. When one is missing it
# renders a visible note, and the doctest builder leaves that section's examples (the rest
# of the section, subsections included) unexecuted instead of failing on the missing name.
from docutils import nodes  # noqa: E402
from docutils.parsers.rst import Directive  # noqa: E402
from docutils.statemachine import StringList  # noqa: E402


def _exists(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        pass
    module, _, attr = name.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), attr)
    except ImportError:
        return False


class Requires(Directive):
    required_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        # Read this page again on every build: the answer changes as functions land.
        self.state.document.settings.env.note_reread()
        missing = [name for name in self.arguments[0].split() if not _exists(name)]
        if not missing:
            return []
        note = nodes.warning()
        names = ", ".join(f"``{name}``" for name in missing)
        text = (
            f"Not executed in this build: {names} is not part of this version of xloss yet, "
            "so the examples in this section are shown but not run."
        )
        self.state.nested_parse(StringList([text]), self.content_offset, note)
        note["xloss_requires_missing"] = True
        return [note]


def _disable_missing_examples(app, doctree) -> None:  # type: ignore[no-untyped-def]
    if app.builder.name != "doctest":
        return
    for marker in list(doctree.findall(nodes.warning)):
        if not marker.get("xloss_requires_missing"):
            continue
        section = marker.parent
        for node in list(section.findall(nodes.doctest_block)):
            node.replace_self(nodes.literal_block(node.rawsource, node.astext()))
        for node in section.findall(nodes.literal_block):
            if "testnodetype" in node:
                del node["testnodetype"]


def setup(app):  # type: ignore[no-untyped-def]
    app.add_directive("requires", Requires)
    app.connect("doctree-read", _disable_missing_examples)

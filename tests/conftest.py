"""Fixtures giving every test each selected, installed backend (``XLOSS_BACKENDS``)."""

from __future__ import annotations

import pytest

from backends import ALL, Case, make_case, selected, unavailable_reason

_SELECTED = selected()


def _params() -> list[object]:
    params = []
    for name in ALL:
        marks = []
        if name not in _SELECTED:
            marks.append(pytest.mark.skip(reason=f"{name} not selected by XLOSS_BACKENDS"))
        else:
            reason = unavailable_reason(name)
            if reason is not None:
                marks.append(pytest.mark.skip(reason=reason))
        if name in ("torch-cuda", "cupy"):
            marks.append(pytest.mark.gpu)
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(params=_params(), scope="session")
def case(request: pytest.FixtureRequest) -> Case:
    """One backend x device x mode (see ``tests/backends.py``)."""
    return make_case(request.param)


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest, case: Case) -> str:
    """A floating dtype the case supports."""
    if request.param == "float64" and not case.float64:
        pytest.skip(f"{case.name} has no float64")
    return str(request.param)

"""The supported versions matrix: ``nox`` (all cells) or ``nox -s "tests-3.12(...)"``.

Each cell installs the project with its test extras and one Django and
django-debug-toolbar pair, then runs the whole test suite (demo and browser
tests included). CI runs every cell; the interpreters come from pyenv.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

# (Python, Django, django-debug-toolbar): what pyproject's classifiers claim.
MATRIX = [
    ("3.10", "5.2", "8.0"),
    ("3.11", "5.2", "6.3"),
    ("3.12", "6.0", "7.1"),
    ("3.13", "6.1", "8.0"),
]


@nox.session
@nox.parametrize(
    "python,django,toolbar",
    MATRIX,
    ids=[f"py{p}-django{d}-toolbar{t}" for p, d, t in MATRIX],
)
def tests(session: nox.Session, django: str, toolbar: str) -> None:
    session.install(
        "-e", ".[test]", f"django=={django}.*", f"django-debug-toolbar=={toolbar}.*"
    )
    session.run("python", "-m", "pytest", "-q", *session.posargs)

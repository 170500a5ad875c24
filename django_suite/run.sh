#!/usr/bin/env bash
# Runs Django's own signal-related test modules from the installed Django's
# sdist twice, without and with every test recorded, and compares the results.
#   django_suite/run.sh [python]      (default: .venv/bin/python)
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${1:-.venv/bin/python}
MODULES="dispatch signals m2m_signals delete delete_regress many_to_many save_delete_hooks proxy_models fixtures"
version=$("$PYTHON" -m django --version)
cache=".cache/django-$version"
if [ ! -f "$cache/tests/runtests.py" ]; then
    mkdir -p .cache
    "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        "django==$version" -d .cache >/dev/null || exit 1
    rm -rf "$cache" && mkdir -p "$cache"
    tar xzf ".cache/django-$version.tar.gz" -C "$cache" --strip-components=1 || exit 1
fi
run() {
    (cd "$cache/tests" && PYTHONPATH="$PWD/../../../django_suite:$PWD/../../..:${PYTHONPATH:-}" \
        "../../../$PYTHON" runtests.py --settings="$1" --parallel=1 --noinput $MODULES 2>&1)
}
plain=$(run test_sqlite); plain_status=$?
recorded=$(run recorded_settings); recorded_status=$?
summary() {
    printf '%s\n' "$1" | grep -E "^(Ran [0-9]+ tests|OK|FAILED)" | sed 's/ in [0-9.]*s$//' | tr '\n' ' '
}
echo "Django $version suite, plain:    $(summary "$plain")"
echo "Django $version suite, recorded: $(summary "$recorded")"
if [ "$plain_status" -ne 0 ] || [ "$recorded_status" -ne 0 ] || \
   [ "$(summary "$plain")" != "$(summary "$recorded")" ]; then
    echo "Django's suite differs with recording on:"
    printf '%s\n' "$recorded" | tail -60
    exit 1
fi

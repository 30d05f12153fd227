# shellcheck shell=bash
# A Python virtual environment kept in step with pinned requirements (sourced by scripts).
#
#   venv_sync VENV REQUIREMENTS LABEL   create VENV if it is missing (with $PYTHON, default python3)
#                                       and install REQUIREMENTS into it whenever that file changed
#                                       since the last install; LABEL prefixes the progress lines
#
# The requirements' hash is kept inside the venv as .LABEL-requirements.sha256 (one per label, so
# two callers may share a venv), so an unchanged venv costs one sha256sum.

venv_sync() {
    local venv=$1 requirements=$2 label=$3 python=${PYTHON:-python3}
    if [[ ! -x $venv/bin/python ]]; then
        echo "$label: creating $venv" >&2
        "$python" -m venv "$venv" || {
            echo "$label: could not create a virtual environment with $python: install python3-venv (Debian/Ubuntu) or set PYTHON" >&2
            return 1
        }
    fi
    local stamp=$venv/.$label-requirements.sha256 want
    want=$(sha256sum "$requirements" | cut -d' ' -f1)
    if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
        echo "$label: installing $requirements into $venv" >&2
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
        echo "$want" >"$stamp"
    fi
}

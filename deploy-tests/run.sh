#!/usr/bin/env bash
# Static checks of the deployment side (Dockerfiles, compose, kustomize, Tilt,
# loadgen, just recipes). Creates/updates a virtualenv in .venv-deploy,
# installs deploy-tests/requirements.txt, optionally the npm CRD validators
# used for the cross-check, and runs pytest. Extra arguments go to pytest.
#
#   deploy-tests/run.sh            # everything
#   deploy-tests/run.sh -k compose # a subset
#
# Environment: PYTHON (default python3), DEPLOY_TESTS_VENV (default
# <repo>/.venv-deploy), DEPLOY_TESTS_NODE=0 to skip the npm install.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/.." && pwd)"
venv="${DEPLOY_TESTS_VENV:-${root}/.venv-deploy}"
python="${PYTHON:-python3}"

if [ ! -x "${venv}/bin/python" ]; then
  echo "deploy-tests: creating ${venv}" >&2
  "${python}" -m venv "${venv}"
fi

stamp="${venv}/.requirements.sha256"
want="$(cat "${here}/requirements.txt" "${root}/loadgen/requirements.txt" | sha256sum | cut -d' ' -f1)"
if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${want}" ]; then
  echo "deploy-tests: installing requirements" >&2
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${here}/requirements.txt"
  echo "${want}" > "${stamp}"
fi

# Optional: validators generated from the upstream CRDs (Gateway API, GKE,
# Knative) for test_crd_schemas.py's cross-check. Failure only skips that test.
node_dir="${venv}/node"
if [ "${DEPLOY_TESTS_NODE:-1}" = "1" ] && command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if [ ! -d "${node_dir}/node_modules/@kubernetes-models/knative" ]; then
    echo "deploy-tests: installing npm CRD validators into ${node_dir}" >&2
    mkdir -p "${node_dir}"
    npm install --prefix "${node_dir}" --no-audit --no-fund --silent \
      @kubernetes-models/gateway-api@2.0.0 @kubernetes-models/gke@4.6.2 @kubernetes-models/knative@4.0.0 \
      || echo "deploy-tests: npm install failed; the CRD cross-check will be skipped" >&2
  fi
fi

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "deploy-tests: nginx not found - the live ingress/dashboard nginx tests will be skipped" \
       "(apt-get install nginx-light to run them)" >&2
fi

export DEPLOY_TESTS_NODE_MODULES="${node_dir}/node_modules"
export PATH="${venv}/bin:${PATH}"
cd "${root}"
exec "${venv}/bin/python" -m pytest -c "${here}/pytest.ini" --rootdir "${here}" "${here}" "$@"

#!/usr/bin/env bash
# Checks of the deployment side (Dockerfiles, compose, kustomize, Tilt,
# loadgen, just recipes). Creates/updates a virtualenv in .venv-deploy with
# deploy-tests/requirements.txt, checkov and nca (network-config-analyzer) in
# venvs of their own (their pins clash with pytest's), the npm packages
# generated from the upstream CRDs plus TypeScript, and runs pytest. Extra
# arguments go to pytest.
#
#   deploy-tests/run.sh            # everything
#   deploy-tests/run.sh -k compose # a subset
#
# Needs python3, node + npm, kubectl (or kustomize), nginx, a mysql client
# and the MySQL/MariaDB in TEST_MYSQL_URL (.ci/run provides all of them).
# Environment: PYTHON (default python3), DEPLOY_TESTS_VENV (default
# <repo>/.venv-deploy).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/.." && pwd)"
venv="${DEPLOY_TESTS_VENV:-${root}/.venv-deploy}"
python="${PYTHON:-python3}"

# Reinstalls into $1 (a venv) when the files after it change.
install_requirements() {
  local target="$1" requirements="$2"
  shift 2
  if [ ! -x "${target}/bin/python" ]; then
    echo "deploy-tests: creating ${target}" >&2
    "${python}" -m venv "${target}"
  fi
  local stamp="${target}/.requirements.sha256" want
  want="$(cat "${requirements}" "$@" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "${stamp}" ] || [ "$(cat "${stamp}")" != "${want}" ]; then
    echo "deploy-tests: installing ${requirements#"${root}"/} into ${target}" >&2
    "${target}/bin/python" -m pip install --quiet --disable-pip-version-check -r "${requirements}"
    echo "${want}" > "${stamp}"
  fi
}

install_requirements "${venv}" "${here}/requirements.txt" "${root}/loadgen/requirements.txt"
# Tools whose pins clash with the above, each in a venv of its own.
for tool in checkov nca; do
  install_requirements "${venv}/${tool}" "${here}/${tool}-requirements.txt"
  ln -sf "${venv}/${tool}/bin/${tool}" "${venv}/bin/${tool}"
done

# Validators and TypeScript types generated from the upstream CRDs (Gateway
# API, GKE Gateway policies, Knative Serving): test_crd_schemas.py.
npm_packages=(@kubernetes-models/gateway-api@2.0.0 @kubernetes-models/gke@4.6.2
              @kubernetes-models/knative@4.0.0 typescript@5.9.3)
node_dir="${venv}/node"
node_stamp="${node_dir}/.packages"
if [ "$(cat "${node_stamp}" 2>/dev/null)" != "${npm_packages[*]}" ]; then
  for tool in node npm; do
    command -v "${tool}" >/dev/null || { echo "deploy-tests: ${tool} is missing (apt-get install nodejs npm)" >&2; exit 1; }
  done
  echo "deploy-tests: installing ${npm_packages[*]} into ${node_dir}" >&2
  mkdir -p "${node_dir}"
  npm install --prefix "${node_dir}" --no-audit --no-fund --silent "${npm_packages[@]}"
  echo "${npm_packages[*]}" > "${node_stamp}"
fi

export DEPLOY_TESTS_NODE_MODULES="${node_dir}/node_modules"
export PATH="${venv}/bin:${PATH}"
cd "${root}"
exec "${venv}/bin/python" -m pytest -c "${here}/pytest.ini" --rootdir "${here}" "${here}" "$@"

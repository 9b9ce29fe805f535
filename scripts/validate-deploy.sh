#!/usr/bin/env bash
# Validates everything in deploy/ offline, with the tools scripts/setup.sh installed from
# PyPI and npm: the Dockerfile (hadolint), stack.yml (a JSON schema of faas-cli's format),
# the Knative Services (@kubernetes-models/knative), the Kubernetes manifests and every
# variant of the rendered Helm chart (helm lint, kubernetes-validate --strict), and what
# each promises (deploy/validate/check.py). No cluster is needed, none is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

tools=deploy/validate/.venv/bin
[[ -x $tools/helm && -d deploy/validate/node_modules ]] || {
  echo "validate-deploy: tools missing: run scripts/setup.sh" >&2
  exit 1
}
k8s_validate=("$tools/kubernetes-validate" --strict --quiet --kubernetes-version 1.33.0)

"$tools/hadolint" deploy/Dockerfile
sh -n deploy/namespaces-entrypoint.sh
"$tools/python" deploy/validate/check.py stack deploy/openfaas/stack.yml deploy/openfaas/stack.schema.json

"${k8s_validate[@]}" deploy/knative/namespace.yaml
(cd deploy/validate && node knative.mjs ../knative/services.yaml)

"$tools/helm" lint --strict deploy/helm/judgelet
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
declare -A variants=(
  [default]=""
  [root]="--set unprivileged.runAsRoot=true"
  [namespaces]="--set tier=namespaces"
  [userns]="--set tier=namespaces --set namespaces.userNamespace=true"
  [openfaas]="--set openfaas.enabled=true --set tier=namespaces --set gateway.enabled=true"
  [gateway]="--set gateway.enabled=true"
  [replicas]="--set gateway.enabled=true --set gateway.replicas=3 --set gateway.database.secretName=judgelet-db --set gateway.persistence.claimName=unused"
)
for variant in "${!variants[@]}"; do
  # shellcheck disable=SC2086 # the flags are meant to split
  "$tools/helm" template judgelet deploy/helm/judgelet ${variants[$variant]} >"$rendered/$variant.yaml"
  "${k8s_validate[@]}" "$rendered/$variant.yaml"
  "$tools/python" deploy/validate/check.py chart "$variant" "$rendered/$variant.yaml"
done
if "$tools/helm" template judgelet deploy/helm/judgelet --set tier=none >/dev/null 2>&1; then
  echo "validate-deploy: the chart accepted an unknown tier" >&2
  exit 1
fi
if "$tools/helm" template judgelet deploy/helm/judgelet --set gateway.enabled=true --set gateway.replicas=2 >/dev/null 2>&1; then
  echo "validate-deploy: the chart gave several gateway replicas an SQLite store each" >&2
  exit 1
fi
echo "validate-deploy: ok"

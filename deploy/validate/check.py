"""What judgelet's deployment files must say, beyond their schemas.

    check.py stack STACK_YML SCHEMA_JSON
    check.py chart VARIANT RENDERED_YAML

`stack`: stack.yml against the JSON schema written from faas-cli's format, plus the
functions the report used, built from deploy/Dockerfile, in the tier a stock OpenFaaS pod
allows. `chart`: one rendering of the Helm chart, against what its values promise.
"""

import json
import os
import sys

import jsonschema
import yaml

FUNCTIONS = {"python", "c", "cpp", "grade", "pythontimeout", "cc"}


def fail(message):
    print(f"FAIL {message}", file=sys.stderr)
    sys.exit(1)


def check_stack(stack_path, schema_path):
    with open(stack_path) as f:
        stack = yaml.safe_load(f)
    with open(schema_path) as f:
        schema = json.load(f)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(stack), key=lambda e: e.path
    )
    if errors:
        fail("; ".join(f"{list(e.path)}: {e.message}" for e in errors))
    functions = stack["functions"]
    if set(functions) != FUNCTIONS:
        fail(f"stack.yml has {sorted(functions)}, wants {sorted(FUNCTIONS)}")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(stack_path))))
    for name, function in functions.items():
        if function["lang"] != "dockerfile":
            fail(f"{name}: lang must be dockerfile")
        dockerfile = os.path.join(root, function["handler"], "Dockerfile")
        if not os.path.realpath(dockerfile).endswith("deploy/Dockerfile"):
            fail(f"{name}: {dockerfile} is not deploy/Dockerfile")
        env = function.get("environment", {})
        if env.get("JUDGELET_ISOLATION") != "unprivileged":
            fail(f"{name}: a stock OpenFaaS pod gets the unprivileged tier, named explicitly")
        if function["build_args"].get("FUNCTION") != name:
            fail(f"{name}: build_args.FUNCTION must be the function")
        labels = function.get("labels", {})
        for label in ("com.openfaas.scale.min", "com.openfaas.scale.max", "com.openfaas.scale.factor"):
            if label not in labels:
                fail(f"{name}: no {label}")
        for key in ("max_inflight", "exec_timeout", "read_timeout", "write_timeout"):
            if key not in env:
                fail(f"{name}: no {key}")
    print(f"stack: {len(functions)} functions ok")


def check_chart(variant, rendered_path):
    with open(rendered_path) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    kinds = {}
    for d in documents:
        kinds.setdefault(d["kind"], []).append(d)
    deployments = kinds.get("Deployment", [])
    functions = [d for d in deployments if d["metadata"]["labels"].get("faas_function")]
    if {d["metadata"]["labels"]["faas_function"] for d in functions} != FUNCTIONS:
        fail(f"{variant}: functions rendered: {[d['metadata']['name'] for d in functions]}")
    services = {d["metadata"]["name"] for d in kinds.get("Service", [])}
    autoscalers = {d["spec"]["scaleTargetRef"]["name"] for d in kinds.get("HorizontalPodAutoscaler", [])}
    for d in deployments:
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        container = pod["containers"][0]
        security = container["securityContext"]
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
        tier = env["JUDGELET_ISOLATION"]
        if name not in services:
            fail(f"{variant}: {name} has no Service")
        if d in functions and name not in autoscalers:
            fail(f"{variant}: {name} has no HorizontalPodAutoscaler")
        if tier == "unprivileged":
            if security.get("allowPrivilegeEscalation") is not False:
                fail(f"{variant}: {name}: unprivileged pods must not escalate")
            if security["capabilities"]["drop"] != ["ALL"]:
                fail(f"{variant}: {name}: unprivileged pods drop every capability")
            if "SYS_ADMIN" in security["capabilities"].get("add", []):
                fail(f"{variant}: {name}: SYS_ADMIN in the unprivileged tier")
        else:
            if security["capabilities"]["add"] != ["SYS_ADMIN"]:
                fail(f"{variant}: {name}: the namespaces tier needs SYS_ADMIN")
            if security["appArmorProfile"]["type"] != "Unconfined":
                fail(f"{variant}: {name}: the namespaces tier needs AppArmor unconfined")
            if container["command"] != ["/usr/local/bin/judgelet-namespaces"]:
                fail(f"{variant}: {name}: the namespaces tier starts through its entrypoint")
        if name == "judgelet-gateway":
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            if "/var/lib/judgelet" not in mounts:
                fail(f"{variant}: the gateway's store needs a writable /var/lib/judgelet")
            if d["spec"]["replicas"] > 1 and "JUDGELET_DATABASE" not in env:
                fail(f"{variant}: several gateway replicas need a shared store")
        if pod["securityContext"]["seccompProfile"]["type"] != "RuntimeDefault":
            fail(f"{variant}: {name}: RuntimeDefault seccomp in every tier")
        if variant == "userns" and pod.get("hostUsers") is not False:
            fail(f"{variant}: {name}: hostUsers must be false")
        if variant == "openfaas":
            if d["metadata"]["namespace"] != "openfaas-fn":
                fail(f"{variant}: {name}: not in openfaas-fn")
            if d in functions and name != d["metadata"]["labels"]["faas_function"]:
                fail(f"{variant}: {name}: the gateway finds a function by its name")
    if variant == "openfaas" and "Namespace" in kinds:
        fail(f"{variant}: openfaas-fn belongs to OpenFaaS; the chart must not create it")
    if variant != "openfaas":
        level = kinds["Namespace"][0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        wanted = {"default": "restricted", "gateway": "restricted", "replicas": "restricted", "root": "baseline"}.get(
            variant, "privileged"
        )
        if level != wanted:
            fail(f"{variant}: namespace Pod Security {level}, wants {wanted}")
    print(f"chart {variant}: {len(deployments)} Deployments ok")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"stack": check_stack, "chart": check_chart}[command](*args)

// Validates every Knative Service in the files given against the Knative Serving schema
// (@kubernetes-models/knative), plus what judgelet's functions need: containerConcurrency
// equal to judgelet's slots, readiness on /_/ready, and the tier named explicitly.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { Service } from "@kubernetes-models/knative/serving.knative.dev/v1/Service";

let failures = 0;
let services = 0;
const fail = (where, message) => {
  console.error(`FAIL ${where}: ${message}`);
  failures += 1;
};

for (const file of process.argv.slice(2)) {
  for (const document of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (document.errors.length > 0) {
      fail(file, document.errors.map(String).join("; "));
      continue;
    }
    const object = document.toJSON();
    if (object?.kind !== "Service" || object?.apiVersion !== "serving.knative.dev/v1") {
      continue;
    }
    const where = `${file}: ${object.metadata?.name}`;
    services += 1;
    try {
      new Service(object).validate();
    } catch (error) {
      fail(where, error.message);
      continue;
    }
    const spec = object.spec.template.spec;
    const container = spec.containers[0];
    const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
    if (String(spec.containerConcurrency) !== env.JUDGELET_SLOTS) {
      fail(where, "containerConcurrency must equal JUDGELET_SLOTS");
    }
    if (container.readinessProbe?.httpGet?.path !== "/_/ready") {
      fail(where, "readiness must be probed on /_/ready");
    }
    if (!["namespaces", "unprivileged"].includes(env.JUDGELET_ISOLATION)) {
      fail(where, "JUDGELET_ISOLATION must name the tier");
    }
    if (container.ports?.some((p) => p.containerPort !== 8080)) {
      fail(where, "judgelet listens on $PORT, 8080 by default");
    }
  }
}
if (services === 0) {
  fail("knative", "no Knative Service found");
}
console.log(`knative: ${services} Services checked, ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);

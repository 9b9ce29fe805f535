// The npm piston-client 1.0.2, unchanged, against judgelet's Piston API. Run by
// crates/server/tests/compat.rs with PISTON_URL set to the server; any failure throws.
import assert from "node:assert/strict";
import { piston } from "piston-client";

const client = piston({ server: process.env.PISTON_URL });

const runtimes = await client.runtimes();
for (const language of ["python", "c", "c++", "javascript"]) {
  assert.ok(runtimes.some((r) => r.language === language), `${language} in ${JSON.stringify(runtimes)}`);
}
assert.equal(runtimes.find((r) => r.language === "javascript").runtime, "node");
console.log("ok runtimes");

// The client's default args are ["1", "2", "3"]; Piston appends a newline to stdin.
const python = await client.execute("python", "import sys\nprint(sys.argv[1:])\nprint(repr(sys.stdin.read()))", {
  stdin: "hi",
});
assert.equal(python.language, "python");
assert.equal(python.run.stdout, "['1', '2', '3']\n'hi\\n'\n", JSON.stringify(python));
assert.equal(python.run.code, 0);
assert.equal(python.run.signal, null);
assert.equal(python.compile, undefined, "an interpreted language has no compile stage");
console.log("ok python: default args, stdin");

const c = await client.execute("c", '#include <stdio.h>\nint main(int argc, char **argv) { printf("%d %s\\n", argc, argv[3]); return 0; }');
assert.equal(c.compile.code, 0, JSON.stringify(c));
assert.equal(c.run.stdout, "4 3\n", JSON.stringify(c));
console.log("ok c: its compile stage, then the run");

const broken = await client.execute("c", "int main( {");
assert.notEqual(broken.compile.code, 0, JSON.stringify(broken));
assert.match(broken.compile.stderr, /error/);
assert.deepEqual(broken.run, broken.compile, "run is a copy of compile when compilation fails");
console.log("ok compile error");

const slow = await client.execute("python", "while True: pass", { runTimeout: 1000 });
assert.equal(slow.run.status, "TO", JSON.stringify(slow));
assert.equal(slow.run.signal, "SIGKILL");
assert.equal(slow.run.code, null);
console.log("ok timeout: TO, SIGKILL");

const js = await client.execute("javascript", "console.log(6 * 7); console.error('to stderr')");
assert.equal(js.run.stdout, "42\n", JSON.stringify(js));
assert.equal(js.run.stderr, "to stderr\n");
console.log("ok javascript");

const failing = await client.execute("python", "import sys\nsys.exit(4)");
assert.equal(failing.run.status, "RE", JSON.stringify(failing));
assert.equal(failing.run.code, 4);
console.log("all piston-client checks passed");

// End-to-end tests of the page in real headless Chromium (Debian's, driven by playwright-core)
// against a real `judgelet serve` on 127.0.0.1. Takes the screenshots in docs/screenshots/.
//
//   JUDGELET_BIN=target/debug/judgelet node web/e2e/run.mjs

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const binary = resolve(root, process.env.JUDGELET_BIN || "target/debug/judgelet");
const screenshots = join(root, "docs/screenshots");
const state = mkdtempSync("/dev/shm/judgelet-e2e-");

/** Starts the server; resolves to its URL once it listens. */
function serve() {
  const server = spawn(
    binary,
    ["--state-dir", state, "--uid-base", "65100", "--uid-count", "100", "serve", "--bind", "127.0.0.1", "--port", "0", "--problems", join(root, "problems"), "--data-dir", join(state, "data")],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return new Promise((resolveUrl, reject) => {
    const lines = createInterface({ input: server.stderr });
    lines.on("line", (line) => {
      const match = line.match(/listening on (http:\/\/\S+)/);
      if (match) resolveUrl({ server, url: match[1] });
    });
    server.on("exit", (code) => reject(new Error(`judgelet serve exited with ${code}`)));
  });
}

async function typeSource(page, editor, source) {
  await page.click(`${editor} .cm-content`);
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  // insertText, not type: the editor's auto-indent must not reshape the program.
  await page.keyboard.insertText(source);
}

const tests = [];
const test = (name, body) => tests.push({ name, body });

test("a Python hello world runs and shows its output", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "python");
  await typeSource(page, "#editor", 'print("hello from the browser")\n');
  await page.click("#run");
  await page.waitForSelector("#stdout");
  assert.equal(await page.textContent("#stdout"), "hello from the browser\n");
  assert.match(await page.textContent("#run-status"), /^OK cpu [\d.]+ ms · wall [\d.]+ ms · memory [\d.]+ MiB$/);
  await page.screenshot({ path: join(screenshots, "playground.png"), fullPage: true });
});

test("Ctrl+Enter runs, and the code is kept per language", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "javascript");
  await typeSource(page, "#editor", "console.log(6 * 7)\n");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#stdout");
  assert.equal(await page.textContent("#stdout"), "42\n");
  await page.reload();
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.inputValue("#language"), "javascript");
  assert.match(await page.textContent("#editor .cm-content"), /console\.log\(6 \* 7\)/);
});

test("a C compile error shows the compiler's message with its line", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "c");
  await typeSource(page, "#editor", "int main(void) {\n  return undeclared;\n}\n");
  await page.click("#run");
  await page.waitForSelector("#compile-output");
  assert.match(await page.textContent("#run-status"), /^Compile error/);
  const message = await page.textContent("#compile-output");
  assert.match(message, /main\.c:2:\d+: error: .undeclared. undeclared/);
});

test("a Python syntax error is a compile error with its line, in the playground and in an exercise", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "python");
  await typeSource(page, "#editor", "x = 1\nif x > 0\n    print(x)\n");
  await page.click("#run");
  await page.waitForSelector("#compile-output");
  assert.equal(await page.textContent("#run-status"), "Compile error");
  assert.match(await page.textContent("#compile-output"), /main\.py", line 2[\s\S]*SyntaxError: expected ':'/);

  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="average"]');
  await page.selectOption("#submit-language", "python");
  await typeSource(page, "#submit-editor", "n = int(input()\nprint(n)\n");
  await page.click("#submit");
  // The playground's report stays in its (hidden) view: this one is the exercise's.
  await page.waitForSelector("#grade-compile-output");
  assert.equal(await page.textContent("#verdict"), "Compile error");
  assert.match(await page.textContent("#grade-compile-output"), /main\.py", line 1[\s\S]*SyntaxError/);
  assert.equal(await page.locator("#grade-result table.tests").count(), 0);
});

test("a time limit is shown with the limit", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "python");
  await typeSource(page, "#editor", "while True: pass\n");
  await page.click("#run");
  await page.waitForFunction(() => /Time limit/.test(document.querySelector("#run-status").textContent));
  assert.match(await page.textContent("#run-status"), /Time limit exceeded \(CPU time limit 2 s\)/);
});

test("a problem's wrong answer is shown on the right test, a right one accepted", async (page, url) => {
  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="average"]');
  await page.waitForSelector(".statement h1");
  assert.equal(await page.textContent(".statement h1"), "Average");
  assert.equal(await page.textContent(".samples pre"), "3\n1 2 4\n");
  await page.selectOption("#submit-language", "python");
  // Integer division: right on the sample (no: 7 // 3 = 2), so wrong at once, with a hint.
  await typeSource(page, "#submit-editor", "n = int(input())\nprint(sum(map(int, input().split())) // n)\n");
  await page.click("#submit");
  await page.waitForSelector("#verdict");
  assert.match(await page.textContent("#verdict"), /^Wrong answer · 0 of 3 tests passed/);
  assert.equal(await page.textContent("#grade-result p.muted"), "2 tests were not run after the first failure.");
  const row = page.locator('tr[data-test="sample/1"]');
  assert.equal(await row.locator("td").nth(1).textContent(), "Wrong answer");
  assert.match(await row.locator("td").nth(4).textContent(), /expected "2\.333333333", got "2"/);

  await typeSource(page, "#submit-editor", "n = int(input())\nprint(sum(map(int, input().split())) / n)\n");
  await page.click("#submit");
  await page.waitForFunction(() => /^Accepted/.test(document.querySelector("#verdict")?.textContent || ""));
  assert.match(await page.textContent("#verdict"), /^Accepted · 3 of 3 tests passed/);
  assert.equal(await page.locator("td.verdict-accepted").count(), 3);
  await page.screenshot({ path: join(screenshots, "graded.png"), fullPage: true });
});

test("a wrong answer on a secret test names the test and shows no data", async (page, url) => {
  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="average"]');
  await page.selectOption("#submit-language", "python");
  await typeSource(page, "#submit-editor", "n = int(input())\nxs = list(map(int, input().split()))\nprint(0 if n == 4 else sum(xs) / n)\n");
  await page.click("#submit");
  await page.waitForSelector("#verdict");
  assert.match(await page.textContent("#verdict"), /^Wrong answer · 2 of 3 tests passed/);
  const row = page.locator('tr[data-test="secret/2"]');
  assert.equal(await row.locator("td").nth(1).textContent(), "Wrong answer");
  assert.equal(await row.locator("td").nth(4).textContent(), "");
});

test("a compile error in an exercise shows the compiler's message, not an empty test table", async (page, url) => {
  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="hello"]');
  await page.selectOption("#submit-language", "c");
  await typeSource(page, "#submit-editor", "int main(void) { return undeclared; }\n");
  await page.click("#submit");
  await page.waitForSelector("#grade-compile-output");
  assert.equal(await page.textContent("#verdict"), "Compile error");
  assert.match(await page.textContent("#grade-compile-output"), /error: .undeclared. undeclared/);
  assert.equal(await page.locator("#grade-result table.tests").count(), 0);
  assert.doesNotMatch(await page.textContent("#grade-result"), /not run after/);
});

test("a playground compile error shows no measurements", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.selectOption("#language", "c");
  await typeSource(page, "#editor", "int main(void) { return undeclared; }\n");
  await page.click("#run");
  await page.waitForSelector("#compile-output");
  assert.equal(await page.textContent("#run-status"), "Compile error");
});

test("limits are shown with their sources, and counts in words", async (page, url) => {
  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="hello"]');
  await page.waitForSelector("#limits");
  const limits = await page.textContent("#limits");
  assert.match(limits, /time limit 1 s \(set by the problem\)/);
  assert.match(limits, /memory 1024 MiB \(the judge's default\)/);
  assert.match(limits, /output 8 MiB \(the judge's default\)/);
  assert.match(limits, /2 tests/);
  await page.click('button[data-problem="average"]');
  await page.waitForSelector("#limits");
  assert.match(await page.textContent("#limits"), /memory 256 MiB \(set by the problem\)/);
});

test("an interactive problem's sample is shown as an interaction, its secret hidden", async (page, url) => {
  await page.goto(`${url}/#exercises`);
  await page.waitForSelector("body[data-ready=true]");
  await page.click('button[data-problem="guess"]');
  await page.waitForSelector(".interaction");
  const said = await page.locator(".interaction .said").allTextContents();
  assert.deepEqual(said, ["you50", "judgelower", "you25", "judgehigher", "you37", "judgecorrect"]);
  assert.doesNotMatch(await page.textContent(".samples"), /Sample 1 input/);
  await page.screenshot({ path: join(screenshots, "interactive.png"), fullPage: true });
});

test("the page works on a narrow screen with no request leaving the server", async (page, url) => {
  const outside = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(url)) outside.push(r.url());
  });
  await page.setViewportSize({ width: 380, height: 800 });
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, "the page scrolls sideways");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.id), "nav-playground");
  assert.deepEqual(outside, []);
});

test("an overloaded or unreachable server is said, with a retry", async (page, url) => {
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  await page.route("**/function/run", (route) =>
    route.fulfill({ status: 429, headers: { "retry-after": "1" }, body: "{}" }),
  );
  await page.click("#run");
  await page.waitForSelector("#run-output [role=alert]");
  assert.match(await page.textContent("#run-output [role=alert]"), /busy\. Try again in 1 s/);
  await page.unroute("**/function/run");
  await page.click("#run-output button");
  await page.waitForSelector("#stdout");
});

const { server, url } = await serve();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
mkdirSync(screenshots, { recursive: true });
let failed = 0;
try {
  for (const { name, body } of tests) {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    try {
      await body(page, url);
      console.log(`ok - ${name}`);
    } catch (error) {
      failed += 1;
      console.log(`not ok - ${name}\n  ${String(error.stack || error).split("\n").join("\n  ")}`);
    } finally {
      await context.close();
    }
  }
} finally {
  await browser.close();
  server.kill("SIGTERM");
  rmSync(state, { recursive: true, force: true });
}
console.log(`${tests.length - failed} of ${tests.length} browser tests passed`);
process.exit(failed ? 1 : 0);

// The judgelet page: a playground (write, run, see output and measurements) and exercises
// (read a problem, submit, watch each test's verdict arrive). Talks only to its own server.

import { EditorView, basicSetup } from "codemirror";
import { keymap } from "@codemirror/view";
import { Compartment, Prec } from "@codemirror/state";
import { StreamLanguage } from "@codemirror/language";
import { cpp } from "@codemirror/lang-cpp";
import { java } from "@codemirror/lang-java";
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";
import { rust } from "@codemirror/lang-rust";
import { go } from "@codemirror/legacy-modes/mode/go";
import { marked } from "marked";

const STARTERS = {
  c: '#include <stdio.h>\n\nint main(void) {\n    printf("hello, world\\n");\n    return 0;\n}\n',
  cpp: '#include <iostream>\n\nint main() {\n    std::cout << "hello, world" << std::endl;\n}\n',
  python: 'print("hello, world")\n',
  java: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("hello, world");\n    }\n}\n',
  go: 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello, world")\n}\n',
  rust: 'fn main() {\n    println!("hello, world");\n}\n',
  javascript: 'console.log("hello, world");\n',
};

const HIGHLIGHT = {
  c: () => cpp(),
  cpp: () => cpp(),
  java: () => java(),
  javascript: () => javascript(),
  python: () => python(),
  rust: () => rust(),
  go: () => StreamLanguage.define(go),
};

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

/** An error a person can act on; `retry` when trying again may help. */
class RequestError extends Error {
  constructor(message, retry) {
    super(message);
    this.retry = retry;
  }
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new RequestError("The server cannot be reached.", true);
  }
  if (response.status === 429) {
    const after = response.headers.get("retry-after") || "1";
    throw new RequestError(`The server is busy. Try again in ${after} s.`, true);
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error.message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new RequestError(message, response.status >= 500);
  }
  return response;
}

function postJson(path, body, accept = "application/json") {
  return request(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept },
    body: JSON.stringify(body),
  });
}

function showError(target, error, again) {
  target.replaceChildren(element("p", { class: "status bad", role: "alert" }, error.message));
  if (error.retry) {
    const retry = element("button", { type: "button", class: "secondary" }, "Retry");
    retry.addEventListener("click", again);
    target.append(retry);
  }
}

function measurements(report) {
  const parts = [`cpu ${report.cpu_time_ms.toFixed(1)} ms`, `wall ${report.wall_time_ms.toFixed(1)} ms`];
  parts.push(`memory ${(report.memory_kib / 1024).toFixed(1)} MiB`);
  return parts.join(" · ");
}

function describeStatus(report) {
  const names = {
    ok: "OK",
    compile_error: "Compile error",
    run_time_error: "Run-time error",
    time_limit_exceeded: "Time limit exceeded",
    memory_limit_exceeded: "Memory limit exceeded",
    output_limit_exceeded: "Output limit exceeded",
  };
  let text = names[report.status] || report.status;
  if (report.status === "time_limit_exceeded") {
    const which = report.limit_exceeded === "wall_time" ? "wall" : "CPU";
    const limit = which === "wall" ? report.limits.wall_time_ms : report.limits.cpu_time_ms;
    text += ` (${which} time limit ${limit / 1000} s)`;
  } else if (report.status === "memory_limit_exceeded") {
    text += ` (limit ${report.limits.memory_kib / 1024} MiB)`;
  } else if (report.status === "run_time_error") {
    text += report.signal != null ? ` (signal ${report.signal})` : ` (exit code ${report.exit_code})`;
  }
  return text;
}

/** Verdicts as a person reads them. */
const VERDICTS = {
  accepted: "Accepted",
  wrong_answer: "Wrong answer",
  time_limit_exceeded: "Time limit exceeded",
  memory_limit_exceeded: "Memory limit exceeded",
  run_time_error: "Run-time error",
  output_limit_exceeded: "Output limit exceeded",
  compile_error: "Compile error",
  internal_error: "Internal error",
};
const verdictName = (verdict) => VERDICTS[verdict] || verdict;

/** "1 test", "2 tests". */
const count = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** Where a problem's limit came from, in a few words. */
function source(limit) {
  return {
    problem_yaml: "set by the problem",
    timelimit_file: "set by the problem",
    derived: "derived from the accepted solutions",
    deriving: "being derived",
    default: "the judge's default",
  }[limit.source] || limit.source;
}

function newEditor(parent, onRun) {
  const language = new Compartment();
  const view = new EditorView({
    parent,
    extensions: [
      basicSetup,
      language.of([]),
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
    ],
  });
  return {
    view,
    get text() {
      return view.state.doc.toString();
    },
    set(text, id) {
      view.dispatch({
        changes: { from: 0, to: view.state.doc.length, insert: text },
        effects: language.reconfigure(HIGHLIGHT[id] ? HIGHLIGHT[id]() : []),
      });
    },
  };
}

// ---------------------------------------------------------------- playground

let languages = [];
const stored = (id) => localStorage.getItem(`judgelet.source.${id}`);

const playground = {
  editor: null,
  language: null,

  async start() {
    this.editor = newEditor($("editor"), () => this.run());
    this.editor.view.dom.addEventListener("keyup", () => this.save());
    const select = $("language");
    for (const l of languages) select.append(element("option", { value: l.id, title: l.version }, l.name));
    select.addEventListener("change", () => this.switchTo(select.value));
    $("run").addEventListener("click", () => this.run());
    $("stdin").addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "Enter") this.run();
    });
    const last = localStorage.getItem("judgelet.language");
    this.switchTo(languages.some((l) => l.id === last) ? last : languages.find((l) => l.id === "python")?.id || languages[0]?.id);
  },

  save() {
    if (this.language) localStorage.setItem(`judgelet.source.${this.language}`, this.editor.text);
  },

  switchTo(id) {
    this.save();
    this.language = id;
    $("language").value = id;
    localStorage.setItem("judgelet.language", id);
    this.editor.set(stored(id) ?? STARTERS[id] ?? "", id);
  },

  async run() {
    this.save();
    const button = $("run");
    const status = $("run-status");
    const output = $("run-output");
    button.disabled = true;
    status.className = "status";
    status.textContent = "Running…";
    output.replaceChildren();
    try {
      const response = await postJson("/function/run", {
        language: this.language,
        source: this.editor.text,
        stdin: $("stdin").value,
      });
      const report = await response.json();
      status.className = `status ${report.status === "ok" ? "ok" : "bad"}`;
      // A program that did not compile has no measurements to show.
      const measured = report.status === "compile_error" ? [] : [" ", element("span", { class: "measure" }, measurements(report))];
      status.replaceChildren(describeStatus(report), ...measured);
      const section = (title, text, id) => {
        if (!text) return;
        output.append(element("h3", {}, title), element("pre", { class: "output", id }, text));
      };
      section("Compiler", report.status === "compile_error" ? report.compile_output : "", "compile-output");
      section("Output", report.stdout, "stdout");
      section("Errors", report.stderr, "stderr");
      if (!report.stdout && !report.stderr && report.status === "ok") {
        output.append(element("p", { class: "muted" }, "No output."));
      }
    } catch (error) {
      status.textContent = "";
      showError(output, error, () => this.run());
    } finally {
      button.disabled = false;
    }
  },
};

// ---------------------------------------------------------------- exercises

const exercises = {
  problems: [],
  editor: null,
  current: null,

  async start() {
    const list = $("problem-list");
    try {
      this.problems = await (await request("/problems")).json();
    } catch (error) {
      showError($("problem"), error, () => this.start());
      return;
    }
    list.replaceChildren();
    if (!this.problems.length) $("problem").replaceChildren(element("p", { class: "muted" }, "This server has no problems."));
    for (const problem of this.problems) {
      const button = element("button", { type: "button", "data-problem": problem.id }, problem.name);
      button.addEventListener("click", () => this.open(problem));
      list.append(element("li", {}, button));
    }
  },

  open(problem) {
    this.current = problem;
    for (const b of $("problem-list").querySelectorAll("button")) {
      b.setAttribute("aria-current", String(b.dataset.problem === problem.id));
    }
    const view = $("problem");
    const statement = element("div", { class: "statement" });
    if (problem.statement?.format === "markdown") statement.innerHTML = marked.parse(problem.statement.text);
    else if (problem.statement) statement.append(element("pre", { class: "output" }, problem.statement.text));
    else statement.append(element("p", { class: "muted" }, "No statement."));

    const { time, memory, output } = problem.limits;
    const limits = element(
      "ul",
      { class: "limits", id: "limits" },
      element("li", { title: source(time) }, time.seconds == null ? "time limit: being derived" : `time limit ${time.seconds} s (${source(time)})`),
      element("li", { title: source(memory) }, `memory ${memory.mib} MiB (${source(memory)})`),
      element("li", { title: source(output) }, `output ${output.mib} MiB (${source(output)})`),
      element("li", {}, count(problem.tests, "test")),
      element("li", {}, problem.type),
    );

    const samples = element("div", { class: "samples" });
    for (const s of problem.samples) {
      const label = s.name.replace(/^sample\//, "");
      if (s.interaction) {
        // An interactive problem's sample is a conversation; its input is the judge's secret.
        const lines = s.interaction.map((line) =>
          element("div", { class: `said by-${line.from}` }, element("span", { class: "who" }, line.from === "judge" ? "judge" : "you"), element("code", {}, line.text)),
        );
        samples.append(element("div", { class: "interaction", "data-sample": label }, element("h3", {}, `Sample interaction ${label}`), ...lines));
      } else {
        samples.append(
          element("div", {}, element("h3", {}, `Sample ${label} input`), element("pre", { class: "output" }, s.input)),
          element("div", {}, element("h3", {}, "Output"), element("pre", { class: "output" }, s.answer)),
        );
      }
    }

    const select = element("select", { id: "submit-language", "aria-label": "Language" });
    for (const l of languages) select.append(element("option", { value: l.id }, l.name));
    select.value = localStorage.getItem("judgelet.language") || "python";
    const submit = element("button", { type: "button", id: "submit" }, "Submit");
    const editorBox = element("div", { class: "editor", id: "submit-editor", "aria-label": "Solution" });
    const result = element("div", { id: "grade-result", "aria-live": "polite" });

    view.replaceChildren(
      element("h2", {}, problem.name),
      limits,
      statement,
      samples,
      element("div", { class: "toolbar" }, select, submit, element("span", { class: "hint" }, "Ctrl+Enter submits")),
      editorBox,
      result,
    );
    this.editor = newEditor(editorBox, () => this.submit());
    const key = () => `judgelet.solution.${problem.id}.${select.value}`;
    const load = () => this.editor.set(localStorage.getItem(key()) ?? STARTERS[select.value] ?? "", select.value);
    load();
    select.addEventListener("change", load);
    this.editor.view.dom.addEventListener("keyup", () => localStorage.setItem(key(), this.editor.text));
    submit.addEventListener("click", () => this.submit());
  },

  async submit() {
    const problem = this.current;
    const language = $("submit-language").value;
    const button = $("submit");
    const result = $("grade-result");
    button.disabled = true;
    const status = element("p", { class: "status", role: "status" }, "Compiling…");
    const body = element("tbody");
    const table = element(
      "table",
      { class: "tests" },
      element("thead", {}, element("tr", {}, ...["Test", "Verdict", "CPU", "Memory", "Details"].map((h) => element("th", {}, h)))),
      body,
    );
    result.replaceChildren(status, table);
    try {
      const response = await postJson(
        "/function/grade",
        { language, problem: problem.id, source: this.editor.text },
        "text/event-stream",
      );
      await readEvents(response, (event, data) => {
        if (event === "test") {
          status.textContent = "Running tests…";
          body.append(testRow(data));
        } else if (event === "report") {
          finish(status, result, data);
        } else if (event === "error") {
          throw new RequestError(data.message, true);
        }
      });
    } catch (error) {
      showError(result, error, () => this.submit());
    } finally {
      button.disabled = false;
    }
  },
};

function testRow(test) {
  const accepted = test.verdict === "accepted";
  const details = [test.hint, test.message].filter(Boolean).join("\n");
  return element(
    "tr",
    { "data-test": test.name },
    element("td", {}, test.name),
    element("td", { class: accepted ? "verdict-accepted" : "verdict-bad" }, verdictName(test.verdict)),
    element("td", {}, `${test.cpu_time_ms.toFixed(1)} ms`),
    element("td", {}, `${(test.memory_kib / 1024).toFixed(1)} MiB`),
    element("td", {}, details ? element("pre", { class: "output" }, details) : ""),
  );
}

function finish(status, result, report) {
  const passed = report.tests.filter((t) => t.verdict === "accepted").length;
  status.className = `status ${report.verdict === "accepted" ? "ok" : "bad"}`;
  status.id = "verdict";
  if (report.verdict === "compile_error") {
    // No test ran: the compiler's message is the whole answer.
    status.textContent = verdictName(report.verdict);
    result.querySelector("table.tests")?.remove();
    result.append(element("h3", {}, "Compiler"), element("pre", { class: "output", id: "grade-compile-output" }, report.compile?.output || ""));
    return;
  }
  const total = report.tests.length + report.skipped;
  let text = `${verdictName(report.verdict)} · ${passed} of ${count(total, "test")} passed`;
  if (report.score != null) text += ` · score ${report.score} of ${report.max_score}`;
  status.textContent = text;
  if (report.skipped) {
    const verb = report.skipped === 1 ? "was" : "were";
    result.append(element("p", { class: "muted" }, `${count(report.skipped, "test")} ${verb} not run after the first failure.`));
  }
}

/** Reads a server-sent event stream from a fetch response, calling `on(event, data)`. */
async function readEvents(response, on) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) on(event, JSON.parse(data.join("\n")));
    }
  }
}

// ---------------------------------------------------------------- navigation

function route() {
  const target = location.hash === "#exercises" ? "exercises" : "playground";
  $("playground").hidden = target !== "playground";
  $("exercises").hidden = target !== "exercises";
  $("nav-playground").toggleAttribute("aria-current", target === "playground");
  $("nav-exercises").toggleAttribute("aria-current", target === "exercises");
  if (target === "playground") $("nav-playground").setAttribute("aria-current", "page");
  else $("nav-exercises").setAttribute("aria-current", "page");
}

async function main() {
  window.addEventListener("hashchange", route);
  route();
  try {
    languages = await (await request("/languages")).json();
  } catch (error) {
    showError($("run-output"), error, () => location.reload());
    return;
  }
  await playground.start();
  await exercises.start();
  document.body.dataset.ready = "true";
}

main();

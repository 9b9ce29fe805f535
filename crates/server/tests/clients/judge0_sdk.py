"""The official Judge0 Python SDK (judge0==0.0.8, unchanged) against judgelet's Judge0 API.

Run by crates/server/tests/compat.rs with JUDGE0_CE_ENDPOINT (judgelet's /judge0) and
JUDGE0_CE_AUTH_HEADERS set: the SDK's own hook for a self-hosted server. Each check prints
its name; any failure raises, and the test fails with its traceback.
"""

import base64
import os

import httpx
import judge0
from judge0 import Status, Submission

client = judge0.get_client()
assert type(client) is judge0.Client, f"not the self-hosted client: {client}"
assert client.version == "1.13.1", client.version
S = Status


def check(name, submission, status, stdout=None):
    assert submission.status == status, f"{name}: {submission.status} {submission}"
    if stdout is not None:
        assert submission.stdout == stdout, f"{name}: stdout {submission.stdout!r}"
    print(f"ok {name}")


def run(language, source, **kwargs):
    return judge0.run(client=client, source_code=source, language=language, **kwargs)


check("python", run(judge0.PYTHON, "print('hello, judgelet')"), S.ACCEPTED, "hello, judgelet\n")
check("c", run(judge0.C, '#include <stdio.h>\nint main(){puts("c");}'), S.ACCEPTED, "c\n")
check(
    "c++ (the SDK sends id 52)",
    run(judge0.CPP, '#include <iostream>\nint main(){std::cout<<"cpp"<<std::endl;}'),
    S.ACCEPTED,
    "cpp\n",
)
check(
    "java",
    run(judge0.JAVA, 'public class Main { public static void main(String[] a) { System.out.println("java"); } }'),
    S.ACCEPTED,
    "java\n",
)
check("stdin", run(judge0.PYTHON, "print(sum(map(int, input().split())))", stdin="2 3 4\n"), S.ACCEPTED, "9\n")

graded = run(judge0.PYTHON, "print(int(input()) * 2)", test_cases=[("2\n", "4\n"), ("3\n", "7\n"), ("5", "10")])
assert [s.status for s in graded] == [S.ACCEPTED, S.WRONG_ANSWER, S.ACCEPTED], [s.status for s in graded]
print("ok test_cases: accepted, wrong answer, accepted (trailing whitespace ignored)")

failed = run(judge0.C, "int main() { return syntax error; }")
check("compile error", failed, S.COMPILATION_ERROR)
assert "error" in failed.compile_output, failed.compile_output

nzec = run(judge0.PYTHON, "import sys\nsys.exit(3)")
check("NZEC", nzec, S.RUNTIME_ERROR_NZEC)
assert nzec.exit_code == 3, nzec.exit_code

check("time limit", run(judge0.PYTHON, "while True: pass", cpu_time_limit=1), S.TIME_LIMIT_EXCEEDED)
check("SIGSEGV", run(judge0.C, "int main() { *(volatile int *)0 = 1; return 0; }"), S.RUNTIME_ERROR_SIGSEGV)
check("SIGFPE", run(judge0.C, "int main(int c, char **v) { volatile int n = 7, z = c - 1; return n / z; }"), S.RUNTIME_ERROR_SIGFPE)

batch = [Submission(source_code=f"print({n} * {n})", language=judge0.PYTHON) for n in range(25)]
assert client.config.max_submission_batch_size == 20
done = judge0.run(client=client, submissions=batch)
assert len(done) == 25
for n, submission in enumerate(done):
    check(f"batch {n}", submission, S.ACCEPTED, f"{n * n}\n")

pending = judge0.async_run(client=client, source_code="import time\ntime.sleep(0.3)\nprint('later')", language=judge0.PYTHON)
assert pending.token is not None and pending.status in (None, S.IN_QUEUE, S.PROCESSING), pending
check("async_run then wait", judge0.wait(client=client, submissions=pending), S.ACCEPTED, "later\n")

raw = run(judge0.C, '#include <stdio.h>\nint main(){fwrite("\\xff\\xfeok", 1, 4, stdout);}')
check("non-UTF-8 output, decoded by the SDK", raw, S.ACCEPTED, "\\xff\\xfeok")
endpoint = os.environ["JUDGE0_CE_ENDPOINT"]
exact = httpx.get(f"{endpoint}/submissions/{raw.token}", params={"base64_encoded": "true", "fields": "stdout"}).json()
assert base64.b64decode(exact["stdout"]) == b"\xff\xfeok", exact
plain = httpx.get(f"{endpoint}/submissions/{raw.token}", params={"fields": "stdout"})
assert plain.status_code == 400 and "base64_encoded=true" in plain.json()["error"], plain.text
print("ok non-UTF-8 output: exact through base64, refused as text")
print("all judge0 SDK checks passed")

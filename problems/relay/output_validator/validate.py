"""Two passes: the first output must be the input reversed, and becomes the second pass's input;
the second output must be the input itself. The pass is counted in the feedback directory,
which persists between passes. Usage: validate.py input answer feedback_dir < output"""
import os
import sys

word = open(sys.argv[1]).read().split()[0]
feedback = sys.argv[3]
counter = os.path.join(feedback, "pass.txt")
done = int(open(counter).read()) if os.path.exists(counter) else 0
with open(counter, "w") as f:
    f.write(str(done + 1))
got = sys.stdin.read().split()
expected = word[::-1] if done == 0 else word


def reject(message):
    with open(os.path.join(feedback, "judgemessage.txt"), "a") as f:
        f.write(f"pass {done + 1}: {message}\n")
    sys.exit(43)


if got != [expected]:
    reject(f"expected {expected!r}, got {' '.join(got)!r}")
if done == 0:
    with open(os.path.join(feedback, "nextpass.in"), "w") as f:
        f.write(expected + "\n")
sys.exit(42)

"""Accepts any rearrangement of the input word other than the word itself, or "impossible"
when every rearrangement is the word. Usage: validate.py input answer feedback_dir < output"""
import sys

word = open(sys.argv[1]).read().split()[0]
feedback = sys.argv[3]
got = sys.stdin.read().split()


def reject(message):
    with open(f"{feedback}/judgemessage.txt", "w") as f:
        f.write(message)
    with open(f"{feedback}/teammessage.txt", "w") as f:
        f.write("not a valid answer")
    sys.exit(43)


if len(got) != 1:
    reject(f"expected one token, got {len(got)}")
if len(set(word)) == 1:
    if got[0] != "impossible":
        reject("every rearrangement is the word itself")
    sys.exit(42)
if got[0] == word or sorted(got[0]) != sorted(word):
    reject(f"{got[0]!r} is not a different rearrangement of {word!r}")
sys.exit(42)

"""Interactive judge: thinks of the number in the input file and answers guesses.
Usage: validate.py input answer feedback_dir, the submission on stdin and stdout."""
import sys

secret = int(open(sys.argv[1]).read())
feedback = sys.argv[3]


def reject(message):
    with open(f"{feedback}/judgemessage.txt", "w") as f:
        f.write(message)
    sys.exit(43)


for number in range(1, 8):
    line = sys.stdin.readline()
    if not line:
        reject(f"no guess {number}")
    try:
        guess = int(line)
    except ValueError:
        reject(f"guess {number} is not a number: {line!r}")
    if guess == secret:
        print("correct", flush=True)
        sys.exit(42)
    print("lower" if guess > secret else "higher", flush=True)
reject("no correct guess in 7")

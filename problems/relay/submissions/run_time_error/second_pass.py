# Every test word sorts before its reverse, so only the second pass's input (the reverse) makes
# this crash: the verdict of a later pass is the case's.
word = input().strip()
assert word < word[::-1]
print(word[::-1])

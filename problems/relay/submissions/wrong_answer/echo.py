# Prints the word unchanged: wrong in the first pass.
print(input().strip())

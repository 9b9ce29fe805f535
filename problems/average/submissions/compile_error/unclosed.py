# Python checks its syntax before running anything: this is a compile error, with the line.
n = int(input())
xs = list(map(int, input().split())
print(sum(xs) / n)

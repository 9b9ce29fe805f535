n = int(input())
xs = list(map(int, input().split()))
while True:
    pass

w = input().strip()
if len(set(w)) == 1:
    print("impossible")
else:
    s = "".join(sorted(w))
    print(s if s != w else "".join(sorted(w, reverse=True)))

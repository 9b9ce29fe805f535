for g in range(1, 101):
    print(g, flush=True)
    if input() == "correct":
        break

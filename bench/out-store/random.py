import random
print(f"{random.random():.12f}")

raise RuntimeError("no idea")

from sitegen.cli import run

# Guarded: the preview's search process starts afresh and must not run the command again.
if __name__ == "__main__":
    run()

"""Allow ``python -m renderer``."""

from renderer.cli import main

if __name__ == "__main__":
    main()

"""Entry point for ``python -m seccompgen``."""

from seccompgen._cli import main

if __name__ == "__main__":
    main()

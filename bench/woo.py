"""``bench/run woo``: see bench/woo_panel.py."""

from bench.woo_panel import main

if __name__ == "__main__":
    main()

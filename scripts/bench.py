"""Run the benchmark as a plain script: same options as `dam bench` (docs/performance.md)."""

import sys

from dam_pipelines.cli import main

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]])

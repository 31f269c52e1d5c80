"""Execute chapters in place at their CPU-scale defaults, storing the outputs that the test command's
output check (tests/test_notebook_outputs.py) compares against:

    python scripts/execute_chapters.py book/mean_teacher.ipynb [book/pi_model.ipynb ...]

Each runs in a fresh kernel with the chapter's folder as working directory (as the build runs it).
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute(path, timeout=1200):
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for chapter in sys.argv[1:]:
        execute(chapter)
        print(f"executed {chapter}")

"""Write book/intro.ipynb (the book's introduction) from cells listed here; outputs come from executing it."""
import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell
cells = [
    md("""# Mean teachers are better role models

This book teaches and reproduces *Mean teachers are better role models: Weight-averaged consistency
targets improve semi-supervised deep learning results* (Tarvainen & Valpola, NIPS 2017) with
`mtlib`, a small PyTorch package whose code is the code of every chapter.

## What the paper claims
Semi-supervised learning trains on a few labeled images and many unlabeled ones. The Π model and
Temporal Ensembling add a *consistency cost*: the network's prediction for a noisy input should
agree with a *target* prediction for the same input under other noise. The quality of that target
matters: a model that teaches itself copies its own mistakes (confirmation bias, Figure 1). The paper's
answer is a *mean teacher*: the target comes from a model whose weights $\\theta'$ are an exponential
moving average (EMA) of the student's weights $\\theta$ after every training step $t$,

$$
\\theta'_t = \\alpha\\, \\theta'_{t-1} + (1-\\alpha)\\, \\theta_t ,
$$

with the consistency cost $J(\\theta) = \\mathbb{E}_{x,\\eta',\\eta}\\big[\\lVert f(x,\\theta',\\eta') - f(x,\\theta,\\eta)\\rVert^2\\big]$
(Sec. 2). Unlike Temporal Ensembling, whose targets change once per epoch, the teacher improves after
every step, and it scales to large datasets. The paper reports lower error than the Π model and
Temporal Ensembling on SVHN and CIFAR-10 (Tables 1-2), and better still with residual networks (Table 4).

## How to read and run this book
The chapters go from the toy picture of confirmation bias (Figure 1) through the Π model, Temporal
Ensembling and Mean Teacher to the tables, the training curves (Figure 3) and the ablations (Figure 4).
Every chapter is a notebook with a `parameters` cell and runs at three settings of the same code:

* **CPU scale** (what this rendered book shows): the defaults of each `parameters` cell, on real data,
  sized for a 2-core CPU. Runs are saved as results files in `book/results/cpu/` with their provenance;
  a chapter loads a file when one exists for exactly its parameters and the current `mtlib` version,
  and trains otherwise.
* **Paper scale**: the paper's protocol, run on a GPU with `papermill -p ...` or
  `python -m mtlib.reproduce` (chapter *Reproducing at paper scale*); results land in `book/results/paper/`
  and the tables chapter prints them beside the paper's numbers.
* **Smoke**: a tiny override (`mtlib.scales.SMOKE`) that continuous integration uses to execute every
  code path in seconds. Its numbers mean nothing.

**A number at CPU scale is never the paper's number.** Numbers quoted from the paper say "paper:".

## Data
CIFAR-10 here is a JPEG copy of the official images (slightly lossy: about 30 dB PSNR), so every
CIFAR-10 number in this book is on "CIFAR-10 (JPEG copy)". No copy of SVHN exists on the machines that
built this book: its code path is tested on small generated files, and its chapters run on a reader's
machine, where torchvision downloads SVHN."""),
    code("""# parameters
research_results = "research"   # results/<this>/: the search for a CPU scale below
scale_results = "cpu"           # results/<this>/: the book's CPU-scale runs"""),
    code("""import pandas as pd
from mtlib.config import RunConfig
from mtlib.scales import CPU_SCALE
from mtlib.runs import book_results_dir
from mtlib.book.tables import load_results, runs_frame
pd.set_option("display.width", 140)"""),
    md("""## Finding a CPU scale (what we tried)
The paper trains a 13-layer ConvNet (3.1 M parameters) for 150,000 steps of 100 images of 32×32
pixels: 15 million images. On this book's 2-core CPU the full-width network processes about 30 images/s,
so one paper-scale run would take almost six days. A first probe (reported when this book was planned,
not rerun here) used a quarter-width ConvNet-13 on 32×32 CIFAR-10 with 1000 labels for 2000 steps and saw
no gain at all from Mean Teacher. Consistency regularisation needs many passes over the unlabeled data;
the question is which knobs bring that within a few CPU minutes per run. The levers we measured:

* **image size**: 16×16 images (averaged down) cost a quarter of the arithmetic of 32×32;
* **width**: ConvNet-13 at 1/8 of the paper's width (16/32/64 channels);
* **fewer labels and a smaller unlabeled pool**, so that each unlabeled image is seen many times;
* **a class subset**: 4 of the 10 CIFAR-10 classes.

Each candidate below ran supervised-only and Mean Teacher with the same labels and seed (results files
in `book/results/research/`, made by `research/cpu_scale.py`); the table lists the parameters that
differ between candidates and the final test error of the student and of its EMA."""),
    code("""research = load_results(book_results_dir(research_results))
frame = runs_frame(research, columns=["classes", "n_labels", "max_train", "consistency_weight",
                                      "method", "seed"]).fillna({"max_train": 50000})
frame["classes"] = frame["classes"].fillna(10)
print("Search runs: CIFAR-10 (JPEG copy), 16x16 images, ConvNet-13 width 1/8, 3000 steps, 1 CPU thread each")
frame.sort_values(["classes", "n_labels", "method"]).reset_index(drop=True)"""),
    code("""def gain(frame, **where):
    rows = frame.loc[(frame[list(where)] == pd.Series(where)).all(axis=1)]
    sup = rows.loc[rows.method == "supervised", "ema_test_error"].mean()
    mt = rows.loc[rows.method == "mean_teacher", "ema_test_error"].min()
    return sup, mt

for label, where in [("10 classes, 1000 labels, 50k images", dict(classes=10, n_labels=1000)),
                     ("10 classes, 250 labels, 5k images", dict(classes=10, n_labels=250)),
                     ("4 classes, 100 labels, 8k images", dict(classes=4, n_labels=100))]:
    sup, mt = gain(frame, **where)
    print(f"{label:38s} supervised {sup:5.1f} %   best Mean Teacher {mt:5.1f} %   gain {sup - mt:+5.1f} points")"""),
    md("""With all ten classes the gain is at most small at this budget; with 1000 labels Mean Teacher was even
behind. The 4-class problem with 25 labels per class and a pool of 8,000 images (each unlabeled image
seen about 30 times in 3,000 steps) shows a clear gain, so it became the book's **CPU scale**: every
chapter's default parameters are the set below (`mtlib.scales.CPU_SCALE`), and the chapters check with
several seeds whether each effect still holds there."""),
    code("""print(RunConfig(**CPU_SCALE))"""),
    md("""## What holds at this scale, and what does not
Measured in the chapters that follow (each states its claim, prints the numbers and fails the build
if the claim stops holding): the Π model, Temporal Ensembling and Mean Teacher all beat supervised-only
training with the same labels; the EMA model is more accurate than its student for most of training;
and removing the consistency cost, or averaging too slowly for a 3000-step run, hurts. What does **not**
show at CPU scale is the paper's central ranking: Mean Teacher ends within test-set noise of the Π model
rather than clearly below it (Results: Tables 1 and 2, Training curves). The paper's gains over the Π
model came after far more training than a CPU can give; the paper-scale commands of the last chapter
are how to check them."""),
]
nb = nbf.v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
nb.cells[1].metadata["tags"] = ["parameters", "hide-cell"]
nbf.write(nb, "book/intro.ipynb")

"""The paper's own numbers (Tarvainen & Valpola 2017), for printing beside ours — never as ours.

Error rate percentages, (mean, std) or (value, None) where the paper gives no spread. Keys:
label counts. Rows marked "[13]" are Laine & Aila's numbers as the paper quotes them.
Note: the paper quotes Temporal Ensembling on CIFAR-10 4000 as 12.16 +- 0.31; Laine & Aila's own
paper says 12.16 +- 0.24 (Laine & Aila 2017, Table 2; the book's Settings and their sources page,
book/settings.md).
"""

from mtlib.book.style import PAPER_ROWS

SOURCE = "Tarvainen & Valpola, NIPS 2017"

# Table 1: SVHN, 73,257 training images, 10 runs (4 with all labels), EMA weights evaluated
TABLE1_SVHN = {
    "Supervised-only": {250: (27.77, 3.18), 500: (16.88, 1.30), 1000: (12.32, 0.95), 73257: (2.75, 0.10)},
    "Pi model": {250: (9.69, 0.92), 500: (6.83, 0.66), 1000: (4.95, 0.26), 73257: (2.50, 0.07)},
    "Mean Teacher": {250: (4.35, 0.50), 500: (4.18, 0.27), 1000: (3.95, 0.19), 73257: (2.50, 0.05)},
    "Pi model [13]": {500: (6.65, 0.53), 1000: (4.82, 0.17), 73257: (2.54, 0.04)},
    "Temporal Ensembling [13]": {500: (5.12, 0.13), 1000: (4.42, 0.16), 73257: (2.74, 0.06)},
    "GAN [24]": {500: (18.44, 4.8), 1000: (8.11, 1.3)},
    "VAT+EntMin [15]": {1000: (3.86, None)},
}

# Table 2: CIFAR-10, 50,000 training images, 10 runs (4 with all labels)
TABLE2_CIFAR10 = {
    "Supervised-only": {1000: (46.43, 1.21), 2000: (33.94, 0.73), 4000: (20.66, 0.57), 50000: (5.82, 0.15)},
    "Pi model": {1000: (27.36, 1.20), 2000: (18.02, 0.60), 4000: (13.20, 0.27), 50000: (6.06, 0.11)},
    "Mean Teacher": {1000: (21.55, 1.48), 2000: (15.73, 0.31), 4000: (12.31, 0.28), 50000: (5.94, 0.15)},
    "Pi model [13]": {4000: (12.36, 0.31), 50000: (5.56, 0.10)},
    "Temporal Ensembling [13]": {4000: (12.16, 0.31), 50000: (5.60, 0.10)},
    "GAN [24]": {4000: (18.63, 2.32)},
    "VAT+EntMin [15]": {4000: (10.55, None)},
}

# Table 3: SVHN 500 labels with 0 / 100k / 500k extra unlabeled images (keys: total images)
TABLE3_SVHN_EXTRA = {
    "Pi model": {73257: (6.83, 0.66), 173257: (4.49, 0.27), 573257: (3.26, 0.14)},
    "Mean Teacher": {73257: (4.18, 0.27), 173257: (3.02, 0.16), 573257: (2.46, 0.06)},
}
TABLE3_LABELS = 500   # every column of Table 3 has 500 labels; its keys count training images


def column_heading(table, key):
    """The heading over the column ``key`` of one of the tables above, as the paper prints it:
    Table 3's keys are training images (each column with ``TABLE3_LABELS`` labels), the others' label counts."""
    if table is TABLE3_SVHN_EXTRA:
        return f"{TABLE3_LABELS} labels, {key} images"
    return f"{key} labels"

# Table 4: CIFAR-10 4000 labels (10 runs) and ImageNet 2012 with 10 % of the labels
TABLE4_CIFAR10_4000 = {
    "State of the art (VAT+EntMin)": (10.55, None),
    "ConvNet Mean Teacher": (12.31, 0.28),
    "ResNet-26 Mean Teacher": (6.28, 0.15),
    "State of the art using all labels [5]": (2.86, None),
}
TABLE4_IMAGENET_10PCT = {
    "State of the art [19]": (35.24, 0.90),
    "ResNet Mean Teacher": (9.11, 0.12),
    "State of the art using all labels [10]": (3.79, None),
}

METHOD_ROWS = PAPER_ROWS   # our method names -> the paper's row names (mtlib.book.style)


def paper_error(dataset, method, n_labels):
    """(mean, std) the paper reports for ``method`` at ``n_labels``, or None if it reports none."""
    table = {"cifar10": TABLE2_CIFAR10, "svhn": TABLE1_SVHN}.get(dataset, {})
    row = table.get(METHOD_ROWS.get(method, method), {})
    return row.get(n_labels)

"""The book's two named scales besides the paper's: the CPU scale and CI's smoke override.

``CPU_SCALE`` is the one definition of the rendered book's base run: every chapter builds its runs
from it (``RunConfig(**CPU_SCALE)`` plus the chapter's own knobs and any papermill override).
``SMOKE`` is what CI passes with ``papermill -p`` to execute every code path in seconds.
"""


# The book's CPU scale (see the introduction for how it was chosen, with measurements).
CPU_SCALE = dict(
    dataset="cifar10", classes=["airplane", "automobile", "frog", "horse"], max_train=8000,
    image_size=16, width=0.125, translate=1, flip=True, input_noise=0.15,
    n_labels=100, labeled_per_batch=20, batch_size=100, steps=3000, rampup_steps=1000,
    rampdown_steps=500, consistency_weight=10.0, consistency_on="unlabeled", ema_decay=0.99,
    normalization="zca", eval_every=250, max_test=2000, threads=1,
)

# CI's tiny override: every code path, seconds per chapter, never saved among the book's results.
SMOKE = dict(
    steps=6, rampup_steps=2, rampdown_steps=2, eval_every=3, max_train=300, max_test=100,
    n_labels=40, labeled_per_batch=10, batch_size=20, results_scale="smoke", check_claims=False,
)

"""Rewrite the base-parameter lines of chapter parameters cells to mtlib.scales.CPU_SCALE.

Keeps each chapter's own parameters; replaces the lines that spell out the shared base.
    python research/set_cpu_scale.py book/*.ipynb
"""
import json
import sys

BLOCK = '''dataset = "cifar10"; classes = ["airplane", "automobile", "frog", "horse"]; max_train = 8000
image_size = 16; normalization = "zca"; max_test = 2000; width = 0.125
translate = 1; flip = True; input_noise = 0.15; n_labels = 100; labeled_per_batch = 20; batch_size = 100
steps = 3000; rampup_steps = 1000; rampdown_steps = 500; eval_every = 250
consistency_weight = 10.0; consistency_on = "unlabeled"; ema_decay = 0.99'''
SCALE = ('scale = "CPU scale: 4 CIFAR-10 classes (JPEG copy), 8000 training images at 16x16, '
         'ConvNet-13 at width 1/8, 3000 steps"')
BASE_STARTS = ("dataset =", "width =", "n_labels =", "steps =", "rampup_steps =", "consistency_weight =",
               "image_size =", "translate =")

for path in sys.argv[1:]:
    nb = json.load(open(path))
    for cell in nb["cells"]:
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        lines, out, placed = "".join(cell["source"]).splitlines(), [], False
        for line in lines:
            if line.startswith(BASE_STARTS):
                if not placed:
                    out.extend(BLOCK.splitlines())
                    placed = True
            elif line.startswith("scale ="):
                out.append(SCALE)
            else:
                out.append(line)
        cell["source"] = [l + "\n" for l in out[:-1]] + [out[-1]]
    json.dump(nb, open(path, "w"), indent=1, ensure_ascii=False)
    open(path, "a").write("\n")
    print("updated", path)

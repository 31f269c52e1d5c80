"""Re-key results files made before precision, memory format and compile left a run's identity.

Keeps every number (final, history); rewrites the config (``bf16`` -> ``precision``, no machine
paths), records how the run was computed in its provenance, stamps the results version and renames
the file to its new key. A file whose new key collides with another's goes to ``--collide DIR``.

    python scripts/rekey_results.py book/results/cpu book/results/research --collide book/results/research-fp32
"""
import argparse
import json
import os
from pathlib import Path

from mtlib.results import NOT_SAVED, RESULTS_VERSION, result_path, run_key

OLD_VERSIONS = {"0.2.0": 2}    # mtlib release -> the results version its runs compute


def rekey(data):
    config, prov = dict(data["config"]), dict(data["provenance"])
    bf16 = config.pop("bf16", False)
    config.setdefault("precision", "bf16" if bf16 else "fp32")
    for k in NOT_SAVED:
        config[k] = None
    prov.setdefault("precision", "bf16" if bf16 else "fp32")
    prov.setdefault("channels_last", config.get("channels_last", False))
    prov.setdefault("compile", config.get("compile", False))
    prov.setdefault("results_version", OLD_VERSIONS[prov["mtlib_version"]])
    return {**data, "config": config, "provenance": prov, "results_version": prov["results_version"],
            "key": run_key(config)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--collide", type=Path, required=True)
    args = ap.parse_args()
    for folder in args.folders:
        old = {path: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))}
        new, taken = {}, set()
        # the CPU scale's own (bf16) runs keep the folder; a colliding fp32 twin goes to --collide
        for path in sorted(old, key=lambda p: not old[p]["config"].get("bf16", False)):
            data = rekey(old[path])
            assert data["results_version"] == RESULTS_VERSION, path
            target = result_path(folder, data["config"])
            if target in taken:
                target = result_path(args.collide, data["config"])
            taken.add(target)
            new[path] = (target, data)
        for path in old:              # every file is read before any is written
            os.remove(path)
        for path, (target, data) in new.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(data, indent=1, sort_keys=True))
            print(f"{path.name} -> {target}")

if __name__ == "__main__":
    main()

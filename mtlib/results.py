"""What a run leaves behind: history, final metrics and provenance, saved as one JSON file.

A chapter that finds a results file for exactly its parameters and the current results version
loads it instead of training again (``result_status`` says "matching"); anything else trains.

``RESULTS_VERSION`` names what the code computes, apart from the mtlib release: bump it (and
re-run the committed results) only in a change that makes a committed run compute different
numbers, such as a new loss scaling or another order of random draws. A new parameter whose
default keeps old runs as they were goes into ``LATER_DEFAULTS`` instead, and a new knob of *how*
a run is computed (precision, memory format, device) into ``NOT_IDENTITY``.
"""
import hashlib
import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import mtlib
from mtlib.machine import cpu_capability

RESULTS_FORMAT = "mtlib-result/1"
RESULTS_VERSION = 2          # 1: mtlib 0.1.0's loss scaling; 2: the authors' scaling (mtlib 0.2.0 on)
# how a run is computed, not what: these do not enter its identity (provenance records them)
NOT_IDENTITY = ("data_root", "download", "device", "threads", "checkpoint_dir", "checkpoint_every",
                "eval_batch_size", "precision", "channels_last", "compile")
# machine-specific values that a results file does not keep (a public repository holds no paths)
NOT_SAVED = ("data_root", "checkpoint_dir")


@dataclass
class RunResult:
    config: dict
    history: list = field(default_factory=list)
    final: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def to_dict(self):
        config = {k: (None if k in NOT_SAVED else v) for k, v in self.config.items()}
        return {"format": RESULTS_FORMAT, "mtlib_version": self.provenance.get("mtlib_version"),
                "results_version": self.provenance.get("results_version"),
                "key": run_key(self.config), "config": config, "final": self.final,
                "provenance": self.provenance, "history": self.history}

    def save(self, path):
        """Write atomically (temp file + rename), so an interrupted save never leaves half a file."""
        return write_json_atomically(path, self.to_dict())

    def series(self, name):
        """(steps, values) of one history column, skipping rows without it."""
        rows = [r for r in self.history if r.get(name) is not None]
        return [r["step"] for r in rows], [r[name] for r in rows]


def write_json_atomically(path, obj):
    """Write ``obj`` as JSON to ``path`` through a temp file and a rename: never half a file; the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return path


def read_json_format(path, fmt, what):
    """The dict in the JSON file ``path`` whose "format" is ``fmt``; ValueError naming the path (``what``
    it should be) for a foreign or malformed file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{what} {path} cannot be read as JSON: {e}") from e
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ValueError(f"{what} {path} is not an mtlib {what} (format != {fmt!r})")
    return data


def load_result(path):
    """Read a results file; a foreign or malformed file raises ValueError naming the path."""
    data = read_json_format(path, RESULTS_FORMAT, "results file")
    return RunResult(config=data["config"], history=data.get("history", []),
                     final=data.get("final", {}), provenance=data.get("provenance", {}))


# parameters added after results files existed: at these values they leave a run's identity as it was
LATER_DEFAULTS = {"convnet_norm": "batchnorm", "recalibrate_batches": 0, "vat_epsilon": 8.0, "vat_xi": 1e-6,
                  "vat_power_iterations": 1, "vat_weight": 1.0, "vat_entmin_weight": 0.0, "vat_target": "student"}


def identity(config):
    """The parameters that define what a run computes."""
    return {k: v for k, v in sorted(config.items())
            if k not in NOT_IDENTITY and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])}


def run_key(config):
    """A short stable hash of the run's identity, used in file names."""
    blob = json.dumps(identity(config), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def result_path(results_dir, config):
    c = config
    name = f"{c['dataset']}-{c['method']}-{c['n_labels']}labels-seed{c['seed']}-{run_key(c)}.json"
    return Path(results_dir) / name


def checkpoint_path(config):
    """``<checkpoint_dir>/<run_key>.ckpt`` for a config dict, or None without a checkpoint_dir."""
    return Path(config["checkpoint_dir"]) / f"{run_key(config)}.ckpt" if config.get("checkpoint_dir") else None


MISSING, MATCHING, OTHER_VERSION, OTHER_PARAMETERS = "missing", "matching", "other version", "other parameters"


def result_status(results_dir, config, version=None, scanned=None):
    """(status, result) of the results file for ``config``: MISSING (no file), OTHER_PARAMETERS (its
    identity differs), OTHER_VERSION (another results version than ``version``, default
    ``RESULTS_VERSION``) or MATCHING. ``scanned``: {file name: RunResult} already read from ``results_dir``."""
    path = result_path(results_dir, config)
    if scanned is not None:
        result = scanned.get(path.name)
    else:
        result = load_result(path) if path.exists() else None
    if result is None:
        return MISSING, None
    if identity(result.config) != identity(config):
        return OTHER_PARAMETERS, result
    if result.provenance.get("results_version") != (version or RESULTS_VERSION):
        return OTHER_VERSION, result
    return MATCHING, result


def matching_results(results_dir, configs):
    """``(results, missing)``: the RunResults of ``configs`` (config dicts) whose file in ``results_dir`` is
    MATCHING, in their order, and how many of them have none (missing, or another version or parameters)."""
    found = [result_status(results_dir, c) for c in configs]
    results = [result for status, result in found if status == MATCHING]
    return results, len(found) - len(results)


def provenance(device, wall_time_s, images_per_s, how=None):
    """Where and how a run was made: versions, commit, device, CPU capability, ``how`` (the resolved
    precision, memory format, compile), timing."""
    return {
        "mtlib_version": mtlib.__version__,
        "results_version": RESULTS_VERSION,
        **(how or {}),
        "cpu_capability": cpu_capability(),
        "git_commit": _git_commit(),
        "torch_version": torch.__version__,
        "device": _device_name(device),
        "host_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "wall_time_s": round(wall_time_s, 2),
        "images_per_s": round(images_per_s, 1),
    }


def _git_commit():
    try:
        here = Path(mtlib.__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _device_name(device):
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


# ---- keyed records: any computation's result, found by its parameters and a version -------------------
# A training run's file above is one such record with its own schema (RunResult); a smaller computation
# (the toy chapter's fits) keeps a plain dict of JSON values under the same rules: the file name holds a
# hash of the parameters and the version, the file is written atomically, with provenance, and it is
# loaded only when both match.
RECORD_FORMAT = "mtlib-record/1"


def record_key(params, version):
    """A short stable hash of ``params`` (a dict of JSON values) and ``version``, used in file names."""
    blob = json.dumps({"params": params, "version": version}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def record_path(results_dir, name, params, version):
    """``results_dir/<name>-<record_key>.json``: ``name`` says what it is (e.g. ``toy-e-seed3``)."""
    return Path(results_dir) / f"{name}-{record_key(params, version)}.json"


def record_provenance(wall_time_s):
    """Where and how a record was computed: versions, commit, CPU capability, threads, timing."""
    return {"mtlib_version": mtlib.__version__, "git_commit": _git_commit(), "torch_version": torch.__version__,
            "cpu_capability": cpu_capability(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "wall_time_s": round(wall_time_s, 3)}


def save_record(path, params, version, data, provenance):
    """Write ``{format, key, version, params, data, provenance}`` to ``path`` atomically (temp file +
    rename, as :meth:`RunResult.save`); returns the path."""
    path = Path(path)
    record = {"format": RECORD_FORMAT, "key": record_key(params, version), "version": version,
              "params": params, "data": data, "provenance": provenance}
    return write_json_atomically(path, record)


def record_status(path, params, version):
    """(status, record) of the file at ``path``, with the statuses of :func:`result_status`: MISSING (no
    file), OTHER_PARAMETERS, OTHER_VERSION or MATCHING. A file that is not a record raises ValueError."""
    path = Path(path)
    if not path.exists():
        return MISSING, None
    record = read_json_format(path, RECORD_FORMAT, "record")
    if record.get("params") != params:
        return OTHER_PARAMETERS, record
    if record.get("version") != version:
        return OTHER_VERSION, record
    return MATCHING, record

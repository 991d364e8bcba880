"""Interop check 8, Determined: its own experiment-config JSON schema (the `determined` package,
0.20.1, the last release that ships it in Python; later ones validate on the master) must
accept every experiment file in configs/ and the reference lora.yaml and deepspeed.yaml.

Two levels, as Determined applies them:
- sanity validation, what `det experiment create` rejects outright: every file must pass;
- completeness, after the defaults are filled in as the master does (ExperimentConfigV0
  fill_defaults) and with what a cluster or the command line supplies (a checkpoint_storage
  type from the cluster's config, an entrypoint, which llmtune's own files do not need since
  llmtune runs itself): every file must pass, except the known gaps listed in KNOWN_GAPS.
Deliberately broken configs must be rejected, so the check can fail.

What it cannot check: anything the master decides at run time (resource pools, images,
scheduling), the searcher semantics, and the releases after 0.20.1 (their schema lives in the
Go master; INTEROP 8.1 notes searcher.max_length became optional in 0.38).

usage: check_determined.py --tool T --llmtune L --shared S --source R --out DIR
"""
import copy
import glob
import importlib.util
import os
import sys
import types

import yaml

import common

# Files whose completeness fails for a reason we know and accept, with the reason.
KNOWN_GAPS = {
    "configs/demo.yaml": ("searcher.max_length",
                          "the demo's grid searcher has no max_length (the demo sets max_steps "
                          "itself); Determined requires it before 0.38"),
}


def load_schema():
    """determined.common.schemas.expconf without the package's cluster-client imports."""
    spec = importlib.util.find_spec("determined")
    if spec is None:
        common.skip("the determined package is not installed")
    root = os.path.dirname(spec.origin)
    if not os.path.isdir(os.path.join(root, "common", "schemas", "expconf")):
        common.skip("this determined release has no experiment-config schema in Python "
                    "(only 0.20.1 and earlier ship it)")
    for name, sub in (("determined", ""), ("determined.common", "common")):
        m = types.ModuleType(name)
        m.__path__ = [os.path.join(root, sub)]
        sys.modules[name] = m
    from determined.common.schemas import expconf
    from determined.common.schemas.expconf import _v0
    return expconf, _v0


def completeness(expconf, v0, config):
    d = copy.deepcopy(config)
    d.setdefault("entrypoint", "llmtune train")
    storage = d.setdefault("checkpoint_storage", {})
    storage.setdefault("type", "shared_fs")
    storage.setdefault("host_path", "/tmp")
    try:
        c = v0.ExperimentConfigV0.from_dict(d)
        c.fill_defaults()
        return expconf.completeness_validation_errors(c.to_dict())
    except Exception as e:  # from_dict raises on a missing required key
        return [f"{type(e).__name__}: {e}"]


def main():
    a = common.parse_args(__doc__)
    lora, ds = common.need_shared(a, "fixtures/reference-configs/lora.yaml",
                                  "fixtures/reference-configs/deepspeed.yaml")
    expconf, v0 = load_schema()
    import determined.__version__ as dv
    print(f"determined {dv.__version__}")
    c = common.Checks("interop determined")
    files = sorted(glob.glob(os.path.join(a.source, "configs", "*.yaml"))) + [lora, ds]
    c.true(f"{len(files)} experiment files", len(files) >= 8)
    for path in files:
        rel = os.path.relpath(path, a.source) if path.startswith(a.source) else path
        with open(path) as f:
            config = yaml.safe_load(f)
        errors = expconf.sanity_validation_errors(config)
        c.equal(f"{rel}: sanity validation", errors, [])
        errors = completeness(expconf, v0, config)
        if rel in KNOWN_GAPS:
            key, why = KNOWN_GAPS[rel]
            c.true(f"{rel}: completeness fails only on {key} ({why})",
                   len(errors) == 1 and key.split(".")[-1] in errors[0], str(errors))
        else:
            c.equal(f"{rel}: completeness after the master's defaults", errors, [])

    broken = {
        "name": 3,
        "resources": {"slots_per_trial": "two"},
        "searcher": {"name": "single", "metric": "eval_loss", "smaller_is_better": "no"},
        "max_restarts": -1,
    }
    errors = expconf.sanity_validation_errors(broken)
    c.true(f"a broken config is rejected ({len(errors)} errors)", len(errors) >= 3, str(errors))
    with open(lora) as f:
        config = yaml.safe_load(f)
    config["searcher"]["name"] = "no_such_searcher"
    c.true("an unknown searcher is rejected", bool(completeness(expconf, v0, config)))
    config = {"name": "x", "searcer": {"name": "single"}}
    c.true("a misspelled key is rejected", bool(expconf.sanity_validation_errors(config)))
    c.finish()


if __name__ == "__main__":
    main()

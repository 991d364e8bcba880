"""Interop check 6, TensorBoard: TensorBoard's own EventAccumulator reads every event file of an
`llmtune train` run (a tiny Llama, training and validation metrics), and every scalar it finds
(tag, step, value) must be what the experiment store holds, under Transformers' tag names
(train/loss, train/learning_rate, eval/loss, ...), with nothing missing and nothing extra.

usage: check_tensorboard.py --tool T --llmtune L --shared S --source R --out DIR
"""
import glob
import os
import struct

import common


def f32(x):
    """A double as the float32 that TensorBoard's simple_value holds."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def hf_tag(group, key):
    """Transformers' TensorBoardCallback.rewrite_logs."""
    if group == "validation" and key.startswith("eval_"):
        return "eval/" + key[len("eval_"):]
    return "train/" + key


def main():
    a = common.parse_args(__doc__)
    tensorboard = common.need_module("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    llama, = common.need_shared(a, "fixtures/llama2-tokenizer")
    print(f"tensorboard {tensorboard.__version__}")
    c = common.Checks("interop tensorboard")
    model = os.path.join(a.out, "model")
    common.tiny_with_tokenizer(model, llama, seed=4, hidden_size=16, num_hidden_layers=1)
    dataset = os.path.join(a.out, "data")
    rows = common.read_sql_records(a.shared, 24)
    common.write_dataset(dataset, rows[:16], rows[16:20], rows[20:])
    runs = os.path.join(a.out, "runs")
    common.llmtune_train(a, {
        "name": "tensorboard", "searcher": {"name": "single", "metric": "eval_loss"},
        "hyperparameters": {"model": model, "dataset": dataset, "dataset_subset": "all",
                            "chat_template": "llama-2", "lora": True, "max_length": 256,
                            "training_args": {"max_steps": 8, "per_device_train_batch_size": 2,
                                              "per_device_eval_batch_size": 2,
                                              "learning_rate": 1e-3, "warmup_steps": 2,
                                              "logging_steps": 1,
                                              "evaluation_strategy": "steps", "eval_steps": 3,
                                              "save_strategy": "steps", "save_steps": 4}}},
        runs)

    expected = {}
    for group in ("training", "validation"):
        for step, metrics in common.store_metrics(runs, group).items():
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    expected[(hf_tag(group, k), step)] = f32(float(v))
    files = glob.glob(os.path.join(runs, "**", "*tfevents*"), recursive=True)
    c.true(f"the run wrote event files ({len(files)})", len(files) > 0)
    found = {}
    for path in files:
        acc = EventAccumulator(path, size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            for e in acc.Scalars(tag):
                if (tag, e.step) in found:
                    c.true(f"{tag} step {e.step} is written once", False)
                found[(tag, e.step)] = e.value
    tags = sorted({t for t, _ in expected})
    print(f"store: {len(expected)} scalars under {tags}")
    c.true("the store holds training and validation scalars",
           {"train/loss", "train/learning_rate", "eval/loss", "eval/bleu"} <= set(tags))
    only_tb, only_store = sorted(set(found) - set(expected)), sorted(set(expected) - set(found))
    c.equal(f"TensorBoard's (tag, step) pairs == the store's ({len(found)})", (only_tb, only_store),
            ([], []), f"only in TensorBoard {only_tb}, only in the store {only_store}")
    diff = [k for k in expected if k in found and found[k] != expected[k]]
    c.equal(f"every value (float32) == the store's ({len(expected)} scalars)", diff, [],
            f"{len(diff)} differ, first {diff[:1]}: tensorboard "
            f"{found[diff[0]] if diff else ''} store {expected[diff[0]] if diff else ''}")
    c.finish()


if __name__ == "__main__":
    main()

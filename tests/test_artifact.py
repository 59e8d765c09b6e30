"""textrnn's record in a checkpoint (textrnn/artifact.py): written once, read and checked in one place,
schema 0 (before the record) migrated, a newer schema refused."""

import json
from pathlib import Path

import pytest
import torch

import textrnn
from textrnn.artifact import KEY, SCHEMA_VERSION, CheckpointError, Record, read_record, write_record

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY_CLASSIFIER = FIXTURES / "legacy_v0_textrnn.ckpt"  # written by textrnn before the record
LEGACY_LM = FIXTURES / "legacy_v0_lm.ckpt"


def test_a_schema_0_checkpoint_loads_and_classifies_as_it_did():
    expected = json.loads((FIXTURES / "legacy_v0.json").read_text())
    classifier = textrnn.load(LEGACY_CLASSIFIER, device="cpu")
    assert classifier.label_names == ["food", "sports", "tech"]
    predictions = classifier.predict([row["text"] for row in expected])
    for prediction, row in zip(predictions, expected):
        assert prediction.label == row["label"]
        assert prediction.probs == pytest.approx(row["probs"], abs=1e-6)


def test_schema_0_is_migrated_to_the_record():
    checkpoint = torch.load(LEGACY_CLASSIFIER, weights_only=True)
    assert KEY not in checkpoint and "TextDataModule" in checkpoint  # the fixture is schema 0
    record = read_record(checkpoint)
    assert (record.version, record.model_class, record.task) == (0, "textrnn.models.text_rnn.TextRNN", "classification")
    assert record.label_names == ["food", "sports", "tech"] and record.max_length == 64 and record.level == "word"
    assert record.tokenizer == checkpoint["TextDataModule"]["tokenizer"]
    lm = read_record(torch.load(LEGACY_LM, weights_only=True))
    assert lm.task == "language_model" and lm.model_class.endswith(".LanguageModel") and lm.has_data


def test_a_schema_0_language_model_still_generates(capsys):
    from textrnn.cli.generate import main as generate
    from textrnn.models.pretrained import read_language_model

    assert read_language_model(str(LEGACY_LM)).hparams["hidden_size"] == 8
    assert generate(["--ckpt_path", str(LEGACY_LM), "--prompt", "the match", "--tokens", "5", "--seed", "1"]) == 0
    assert capsys.readouterr().out.startswith("the match")


def test_a_new_checkpoint_holds_one_record_that_round_trips(tiny_run):
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    stored = checkpoint[KEY]
    assert stored["version"] == SCHEMA_VERSION == 1
    assert not {"TextDataModule", "textrnn_model"} & set(checkpoint)  # the tokenizer is stored once
    record = read_record(checkpoint)
    assert record == Record(**stored) and record.task == "classification"
    assert record.data_state() == tiny_run.cli.datamodule.state_dict()  # what the data module reads back


def test_write_record_moves_the_data_modules_entry_into_the_record():
    data = {"tokenizer": "{}", "label_names": ["a", "b"], "level": "char", "max_length": 9, "multi_label": True}
    checkpoint = {"MyData": dict(data), "textrnn_model": "old", "state_dict": {}}
    write_record(checkpoint, "textrnn.models.text_cnn.TextCNN", "multi_label", data_key="MyData")
    assert set(checkpoint) == {"state_dict", KEY}
    assert read_record(checkpoint).data_state() == data


@pytest.mark.parametrize("change, message", [
    ({"version": 2}, "was written by a newer textrnn (checkpoint schema 2); this textrnn reads schemas up to 1"),
    ({"version": "1"}, "has no valid schema version (found '1')"),
    ({"colour": "red"}, "holds unknown fields ['colour']"),
    ({"task": "regression"}, "the stored task 'regression' is not valid (one of 'classification'"),
    ({"level": "byte"}, "the stored level 'byte' is not valid (one of 'word', 'char')"),
    ({"max_length": 0}, "the stored max_length 0 is not valid (a whole number >= 1)"),
    ({"label_names": ["a", "a"]}, "label_names ['a', 'a'] repeat ['a']"),
    ({"tokenizer": 5}, "the stored tokenizer is a int, not a JSON string"),
])
def test_a_bad_or_newer_record_is_one_clear_error(tiny_run, tmp_path, change, message):
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    checkpoint[KEY].update(change)
    with pytest.raises(CheckpointError) as error:
        read_record(checkpoint, "'x.ckpt'")
    assert message in str(error.value)
    torch.save(checkpoint, tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match="bad.ckpt"):  # every path reads the record through read_record
        textrnn.load(tmp_path / "bad.ckpt")


def test_a_record_that_is_not_a_dict_is_refused():
    with pytest.raises(CheckpointError, match="its 'textrnn' record is a list, not a dict"):
        read_record({KEY: [1]})
    assert read_record({"state_dict": {}}) is None  # a plain Lightning checkpoint: no record, no error


def test_the_recorded_max_length_is_what_prediction_truncates_at(tiny_run, tmp_path):
    checkpoint = torch.load(tiny_run.ckpt, weights_only=True)
    checkpoint[KEY]["max_length"] = 2
    torch.save(checkpoint, tmp_path / "short.ckpt")
    short = textrnn.load(tmp_path / "short.ckpt", device="cpu")
    full = textrnn.load(tiny_run.ckpt, device="cpu")
    assert short.tokenizer.truncation["max_length"] == 2
    text = "bread soup cake goal match team phone chip"
    assert short.predict_proba(text).tolist() == full.predict_proba("bread soup").tolist()
    assert short.predict_proba(text).tolist() != full.predict_proba(text).tolist()


def test_a_subclass_of_the_data_module_writes_checkpoints_textrnn_load_reads(tiny_datamodule, tmp_path):
    from lightning.pytorch import Trainer

    from textrnn.data import TextDataModule
    from textrnn.models import TextCNN

    class MyData(TextDataModule):
        pass

    base = tiny_datamodule()
    dm = MyData(**dict(base.hparams))
    dm.setup()
    model = TextCNN(vocab_size=dm.vocab_size, num_classes=dm.num_classes, pad_id=dm.pad_id, embedding_dim=8, num_filters=4)
    trainer = Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "mine.ckpt")
    checkpoint = torch.load(tmp_path / "mine.ckpt", weights_only=True)
    assert "MyData" not in checkpoint and checkpoint[KEY]["label_names"] == dm.label_names
    classifier = textrnn.load(tmp_path / "mine.ckpt", device="cpu")
    assert classifier.label_names == dm.label_names and len(classifier.predict(["goal", "chip"])) == 2

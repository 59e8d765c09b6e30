"""Every message pattern `textrnn/cli/errors.py` reads, produced by the installed jsonargparse and Lightning
(pinned below their next major versions in pyproject.toml): each bad argument still ends in its own one-line
error. An upgrade that rewords a message fails here, by name, instead of falling back to a raw report."""

import pytest

from reliability.reliability_helpers import one_cli_error  # exit code 2, one line, no traceback
from tiny_args import tiny_fit_args

CASES = {  # the pattern condense() or describe() reads: (extra arguments, the error line after "textrnn: error: ")
    # jsonargparse: "class_path '...': Option 'x' is not accepted"
    "class_option": (["--model.init_args.hiden_size", "16"], "unknown option 'hiden_size' for TextRNN; did you mean "
                     "'hidden_size'? valid options: vocab_size, num_classes, pad_id, embedding_dim, embeddings,"),
    # jsonargparse: "... does not accept option 'trainer.x'" / argparse: "unrecognized arguments: --x"
    "nested_key": (["--trainer.max_epochx", "1"], "unknown option 'trainer.max_epochx'; did you mean 'trainer.max_epochs'?"),
    "top_level_key": (["--seed_everythingg", "1"], "unknown option 'seed_everythingg'; did you mean 'seed_everything'?"),
    # "Parser key "x": Expected a Literal[...] ... Got value: v", the argument a Literal
    "literal_choice": (["--model.init_args.cell", "lstmm"], "model.init_args.cell: 'lstmm' is not a valid choice for "
                       "TextRNN; did you mean 'lstm'? valid choices: 'rnn', 'lstm', 'gru'"),
    # the same report for an argument of another type
    "wrong_type_int": (["--data.init_args.batch_size", "0.5"],
                       "data.init_args.batch_size (TextDataModule): expected a whole number, got '0.5'"),
    "wrong_type_float": (["--model.init_args.lr", "fast"], "model.init_args.lr (TextRNN): expected a number, got 'fast'"),
    "wrong_type_bool": (["--model.init_args.bidirectional", "maybe"],
                        "model.init_args.bidirectional (TextRNN): expected true or false, got 'maybe'"),
    # "Does not validate against any of the Union subtypes": a top-level value, an unknown class
    "union_value": (["--seed_everything", "abc"], "seed_everything: Expected a bool; Expected a int (given: abc)"),
    "unknown_class": (["--model", "NoSuchModel"], "model: Expected a path but NoSuchModel either not accessible or "
                      "invalid; Expected a dot import path string: NoSuchModel (given: NoSuchModel); valid: TextRNN, "
                      "TextCNN, SineRNN, LanguageModel"),
    # Lightning's MisconfigurationException, prefixed with the option it names
    "trainer_value": (["--trainer.max_epochs", "-5"],
                      "--trainer.max_epochs: `max_epochs` must be a non-negative integer or -1. You passed in -5."),
    "checkpoint_value": (["--checkpoint.save_top_k", "-3"],
                         "--checkpoint.save_top_k: Invalid value for save_top_k=-3. Must be >= -1"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_pattern_gives_its_one_line_error(case, tmp_path, tiny_en_csv, capsys):
    extra, expected = CASES[case]
    line = one_cli_error(capsys, tiny_fit_args(tmp_path, tiny_en_csv, *extra)).removeprefix("textrnn: error: ")
    assert line.startswith(expected), line

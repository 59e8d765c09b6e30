"""Tests for textrnn.data.tokenizer: word/char levels, English and Chinese, limits, serialisation."""

import csv

import pytest
from tokenizers import Tokenizer

from textrnn.data.tokenizer import PAD_TOKEN, UNK_TOKEN, build_tokenizer, encode_batch

MIXED = "I love NLP! 我爱自然语言处理"


def read_texts(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f)]


def test_word_level_splits_english_words_and_every_cjk_character():
    tokenizer = build_tokenizer([MIXED])
    expected = ["i", "love", "nlp", "!", "我", "爱", "自", "然", "语", "言", "处", "理"]
    assert tokenizer.encode(MIXED).tokens == expected
    assert tokenizer.token_to_id(PAD_TOKEN) == 0
    assert tokenizer.token_to_id(UNK_TOKEN) == 1
    assert tokenizer.get_vocab_size() == 2 + 12


def test_word_level_on_fixtures(tiny_en_csv, tiny_zh_csv):
    en = build_tokenizer(read_texts(tiny_en_csv))
    assert en.encode("The Striker scored, late.").tokens == ["the", "striker", "scored", UNK_TOKEN, "late", "."]
    assert en.encode("zebra").ids == [en.token_to_id(UNK_TOKEN)]  # never seen in training
    zh = build_tokenizer(read_texts(tiny_zh_csv))
    assert zh.encode("球队赢得了足球比赛。").tokens == list("球队赢得了足球比赛。")
    # Full-width punctuation and digits are folded by NFKC: "，" is ","; "１２" is "12".
    assert zh.normalizer.normalize_str("１２，") == "12,"


def test_lowercase_false_keeps_case():
    tokenizer = build_tokenizer(["Apple apple"], lowercase=False)
    assert tokenizer.encode("Apple apple").tokens == ["Apple", "apple"]
    assert tokenizer.get_vocab_size() == 4


def test_char_level_collapses_whitespace_and_keeps_one_space_token():
    tokenizer = build_tokenizer(["Ab  c\n\td 我爱"], level="char")
    assert tokenizer.encode("  AB  c\n\td 我爱 ").tokens == ["a", "b", " ", "c", " ", "d", " ", "我", "爱"]
    assert tokenizer.get_vocab_size() == 2 + 7  # a b c d space 我 爱


def test_bad_level_names_value_and_choices():
    with pytest.raises(ValueError, match=r"'words'.*'word', 'char'"):
        build_tokenizer(["x"], level="words")


@pytest.mark.parametrize("name", ["vocab_size", "min_frequency", "max_length"])
def test_bad_sizes(name):
    with pytest.raises(ValueError, match=name):
        build_tokenizer(["x"], **{name: 0})


def test_vocab_size_and_min_frequency_keep_the_most_frequent():
    texts = ["a a a a b b b c c d"]
    capped = build_tokenizer(texts, vocab_size=4)
    assert capped.get_vocab_size() == 4
    assert capped.encode("a b c d").tokens == ["a", "b", UNK_TOKEN, UNK_TOKEN]
    frequent = build_tokenizer(texts, min_frequency=2)
    assert sorted(frequent.get_vocab()) == sorted([PAD_TOKEN, UNK_TOKEN, "a", "b", "c"])


def test_truncation_to_max_length():
    tokenizer = build_tokenizer(["one two three four five"], max_length=3)
    assert tokenizer.encode("one two three four five").tokens == ["one", "two", "three"]
    assert [len(ids) for ids in encode_batch(tokenizer, ["one two three four five", "one"])] == [3, 1]


def test_encode_batch_gives_unk_for_empty_texts():
    tokenizer = build_tokenizer(["hello world"])
    hello, world = tokenizer.token_to_id("hello"), tokenizer.token_to_id("world")
    assert sorted([hello, world]) == [2, 3]
    ids = encode_batch(tokenizer, ["", "   ", "hello world", "hello zebra"])
    assert ids == [[1], [1], [hello, world], [hello, 1]]


@pytest.mark.parametrize("level", ["word", "char"])
def test_round_trip_through_json(tiny_en_csv, tiny_zh_csv, level):
    texts = read_texts(tiny_en_csv) + read_texts(tiny_zh_csv)
    tokenizer = build_tokenizer(texts, level=level, max_length=8)
    restored = Tokenizer.from_str(tokenizer.to_str())
    assert restored.to_str() == tokenizer.to_str()
    assert encode_batch(restored, texts) == encode_batch(tokenizer, texts)
    assert restored.truncation["max_length"] == 8
    assert max(map(len, encode_batch(restored, texts))) == 8

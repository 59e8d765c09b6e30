"""Write the tiny text classification fixtures in this folder (deterministic: run it, get the same bytes).

- tiny_en.csv / tiny_en.jsonl: 123 short English lines, string labels sports / tech / food, each
  class with its own keywords so a small model learns it in a few epochs; 3 exact duplicates and
  2 that differ only in case and spacing (deduplication must drop all 5).
- tiny_en_train.csv / tiny_en_test.csv: the same lines split 4:1 (the duplicates all in train) with no
  validation file, for the "carve validation from train" path.
- tiny_zh.csv: 90 Chinese lines, labels 体育 / 科技 / 美食, for character-level CJK tokenization.

Usage: python data/make_fixtures.py
"""

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

EN = {
    "sports": {
        "who": ["the team", "the striker", "the coach", "the goalkeeper", "the captain", "the league leaders"],
        "did": ["won", "lost", "scored in", "trained for", "celebrated", "was sent off in"],
        "what": ["the match", "the final", "the derby", "the championship game", "the cup tie", "the season opener"],
        "tail": ["at the stadium", "after a late goal", "before the referee ended it", "in extra time", "on penalties"],
    },
    "tech": {
        "who": ["the startup", "the chip maker", "the software team", "the app developer", "the cloud provider"],
        "did": ["released", "patched", "open sourced", "benchmarked", "shipped", "updated"],
        "what": ["a new laptop", "the smartphone app", "an algorithm", "the server firmware", "a robot", "the browser"],
        "tail": ["with faster processors", "after a security bug", "for cloud computing", "using machine learning"],
    },
    "food": {
        "who": ["the chef", "the baker", "the restaurant", "my grandmother", "the food critic", "the cafe"],
        "did": ["cooked", "baked", "tasted", "served", "seasoned", "praised"],
        "what": ["a spicy soup", "fresh bread", "the chocolate dessert", "noodles with garlic", "a cheese pie"],
        "tail": ["in the kitchen", "with fresh herbs", "for the dinner menu", "from an old recipe", "with sweet sauce"],
    },
}

ZH = {  # label: (who, did, what)
    "体育": (
        ["球队", "前锋", "教练", "守门员", "运动员"],
        ["赢得了", "输掉了", "踢进了", "备战"],
        ["足球比赛", "联赛冠军", "篮球决赛", "奥运金牌"],
    ),
    "科技": (
        ["公司", "工程师", "研究团队", "程序员", "芯片厂"],
        ["发布了", "开发了", "升级了", "测试了"],
        ["智能手机", "人工智能模型", "电脑芯片", "云计算软件"],
    ),
    "美食": (
        ["厨师", "奶奶", "餐厅", "面包师", "美食家"],
        ["做了", "品尝了", "烹饪了", "推荐了"],
        ["麻辣火锅", "红烧肉", "饺子和面条", "甜点蛋糕"],
    ),
}


def english(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for label, words in EN.items():
        seen = set()
        while len(seen) < 40:
            text = " ".join(rng.choice(words[part]) for part in ("who", "did", "what", "tail"))
            text = text[0].upper() + text[1:] + "."
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": label})
    rng.shuffle(rows)
    rows += [dict(rows[i]) for i in (3, 17, 50)]  # exact duplicates
    for i in (8, 60):  # the same text up to case and spacing
        rows.append({"text": "  " + rows[i]["text"].upper().replace(" ", "   "), "label": rows[i]["label"]})
    return rows


def chinese(rng: random.Random) -> list[dict[str, str]]:
    rows = []
    for label, (who, did, what) in ZH.items():
        seen = set()
        while len(seen) < 30:
            text = f"{rng.choice(who)}{rng.choice(did)}{rng.choice(what)}。"
            if text not in seen:
                seen.add(text)
                rows.append({"text": text, "label": label})
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    en = english(random.Random(0))
    write_csv(HERE / "tiny_en.csv", en)
    (HERE / "tiny_en.jsonl").write_text("".join(json.dumps(row) + "\n" for row in en), encoding="utf-8")
    write_csv(HERE / "tiny_en_train.csv", [row for i, row in enumerate(en) if i % 5 != 4 or i >= 120])
    write_csv(HERE / "tiny_en_test.csv", [row for i, row in enumerate(en) if i % 5 == 4 and i < 120])
    write_csv(HERE / "tiny_zh.csv", chinese(random.Random(1)))


if __name__ == "__main__":
    main()

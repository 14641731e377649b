"""Consent button words: what a click on a privacy pop-up means, whatever width, case or spacing it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.data import load_consent_words
from monitor.data.models import ConsentWords, normalise_words
from monitor.data.yamlfile import load_model
from monitor.errors import DataFileError


@pytest.fixture(scope="module")
def words() -> ConsentWords:
    return load_consent_words()


def test_spacing_is_folded(words: ConsentWords) -> None:
    assert normalise_words("同意 并继续") == normalise_words("同意并继续")
    assert words.classify("同意 并继续") == "agree"
    assert words.classify("同意\u200b并继续") == "agree"


def test_disagree_is_refuse_although_it_contains_agree(words: ConsentWords) -> None:
    assert words.classify("不同意") == "refuse"
    assert words.classify("不同意并退出") == "refuse"
    assert words.classify("Disagree") == "refuse"


def test_full_width_and_case_are_folded(words: ConsentWords) -> None:
    assert words.classify("ＡＧＲＥＥ") == "agree"
    assert words.classify("accept ALL") == "agree"
    assert words.classify("ＲＥＪＥＣＴ ＡＬＬ") == "refuse"


def test_trailing_punctuation_is_ignored(words: ConsentWords) -> None:
    assert words.classify("同意。") == "agree"
    assert words.classify("不同意，仅浏览") == "refuse"


def test_traditional_script_buttons(words: ConsentWords) -> None:
    assert words.classify("同意並繼續") == "agree"
    assert words.classify("不同意並退出") == "refuse"
    assert words.classify("僅瀏覽") == "refuse"


def test_google_ump_buttons(words: ConsentWords) -> None:
    assert words.classify("Consent") == "agree"
    assert words.classify("Do not consent") == "refuse"


@pytest.mark.parametrize("text", ["确定", "好的", "我知道了", "取消", "OK", "Continue", "Allow", "同意书", "", None])
def test_generic_or_partial_texts_mean_nothing(words: ConsentWords, text: str | None) -> None:
    assert words.classify(text) is None


def test_no_word_is_listed_twice(words: ConsentWords) -> None:
    for listed in (words.agree, words.refuse):
        folded = [normalise_words(w) for w in listed]
        assert sorted({w for w in folded if folded.count(w) > 1}) == []


def test_a_word_in_both_lists_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "consent_words.yaml"
    bad.write_text('version: "1"\nagree: [同意, Agree]\nrefuse: [拒绝, "AGREE"]\n', encoding="utf-8")
    with pytest.raises(DataFileError) as caught:
        load_model(bad, ConsentWords)
    assert "agree" in str(caught.value) and str(bad) in str(caught.value)


def test_an_impossible_date_in_any_data_file_names_its_line(tmp_path):
    from monitor.data.yamlfile import read_yaml
    from monitor.errors import DataFileError

    bad = tmp_path / "scope.yaml"
    bad.write_text("app: [location]\nsource: policy\nchecked:\n  on: 2026-02-30\n")
    with pytest.raises(DataFileError, match=r"scope.yaml:4: on: not a valid date \(day is out of range") as error:
        read_yaml(bad)
    assert "YYYY-MM-DD" in (error.value.hint or "")

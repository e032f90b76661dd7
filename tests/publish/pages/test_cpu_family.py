"""The CPU-family facts of the re-run page: the family a run's sections were made on, in words."""

from __future__ import annotations

from replicate.publish.pages import cpu_family

AVX2 = "GenuineIntel x86_64 avx2 fma"
AVX512 = "AuthenticAMD x86_64 avx2 fma avx512f avx512_vnni avx512_bf16"


def _manifest(*families: str, status: str = "done") -> dict:
    return {"sections": {f"0{i}": {"status": status, "machine": {"family": f}} for i, f in enumerate(families)}}


def test_a_run_made_on_one_family_names_it():
    assert cpu_family.run_family(_manifest(AVX512, AVX512)) == "AVX-512"
    assert cpu_family.run_family(_manifest(AVX2)) == "AVX2"
    assert cpu_family.run_family({}) == "unrecorded"


def test_a_run_whose_sections_differ_counts_each_family():
    text = cpu_family.run_family(_manifest(AVX512, AVX512, AVX2))
    assert text == "AVX-512 for 2 of its sections, AVX2 for 1 of its sections"
    # a section that did not finish made nothing the page shows
    assert cpu_family.run_family({"sections": {**_manifest(AVX512)["sections"],
                                               "x": {"status": "failed", "machine": {"family": AVX2}}}}) == "AVX-512"

"""The release commands: lot status/sign/step, spec, result, coa build/verify; exit codes and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind
from tests.integration.release_support import PASSWORD, PRODUCT, make_lot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lot(run_cli: Callable[..., Any], analyst: Any, reviewer: Any, qa_user: Any, tmp_path: Path) -> Any:
    def cli(*args: str) -> Any:
        return run_cli(*args, "--password-stdin", input=PASSWORD + "\n")

    assert (
        cli("spec", "product", PRODUCT, "--name", "WJ-MSC CM", "--reason", "p", "--as", "quinn").exit_code
        == 0
    )
    attributes = tmp_path / "attributes.json"
    attributes.write_text(
        json.dumps(
            [
                AttributeSpec(
                    "sterility", "Sterility", "Ph. Eur. 2.6.27", "", Criterion(CriterionKind.COMPLIES)
                ).to_dict(),
                AttributeSpec(
                    "ph",
                    "pH",
                    "Potentiometry",
                    "",
                    Criterion(CriterionKind.RANGE, lower=Decimal(7), upper=Decimal("7.6")),
                ).to_dict(),
            ]
        )
    )
    drafted = cli(
        "spec", "draft", PRODUCT, "--attributes", str(attributes), "--reason", "v1", "--as", "quinn", "--json"
    )
    assert drafted.exit_code == 0, drafted.output
    shown = json.loads(run_cli("spec", "show", PRODUCT, "--version", "1", "--json").stdout)["record_sha256"]
    approved = cli("spec", "approve", PRODUCT, "1", "--reason", "approve", "--as", "quinn", "--expect", shown)
    assert approved.exit_code == 0, approved.output
    return make_lot(analyst)


def enter(run_cli: Callable[..., Any], lot_number: str, code: str, value: str) -> Any:
    return run_cli(
        "result",
        "add",
        lot_number,
        code,
        value,
        "--reason",
        "QC",
        "--as",
        "ana",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )


def test_results_status_signatures_and_certificate_through_the_command_line(
    run_cli: Callable[..., Any], lot: Any, tmp_path: Path
) -> None:
    added = enter(run_cli, lot.number, "ph", "7.32")
    assert added.exit_code == 0 and json.loads(added.stdout)["verdict"] == "conforms"
    assert enter(run_cli, lot.number, "sterility", "no growth").exit_code == 0
    step = run_cli(
        "lot",
        "step",
        lot.number,
        "submit for review",
        "--reason",
        "done",
        "--as",
        "ana",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert step.exit_code == 0, step.output
    status = json.loads(run_cli("lot", "status", lot.number, "--json").stdout)
    assert status["state"] == "QC review"
    assert [a["verdict"] for a in status["attributes"]] == ["conforms", "conforms"]
    for user, meaning in (("rey", "reviewed"), ("quinn", "released")):
        signed = run_cli(
            "lot",
            "sign",
            lot.number,
            "--meaning",
            meaning,
            "--reason",
            "ok",
            "--as",
            user,
            "--expect",
            status["record_sha256"],
            "--password-stdin",
            input=PASSWORD + "\n",
        )
        assert signed.exit_code == 0, signed.output
    built = run_cli(
        "coa",
        "build",
        lot.number,
        "--out",
        str(tmp_path),
        "--as",
        "quinn",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert built.exit_code == 0, built.output
    pdf = Path(json.loads(built.stdout)["path"])
    verified = run_cli("coa", "verify", str(pdf), "--json")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["current"] is True
    data = bytearray(pdf.read_bytes())
    data[len(data) // 3] ^= 0x20
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(bytes(data))
    rejected = run_cli("coa", "verify", str(altered))
    assert rejected.exit_code == 1 and "NOT genuine" in rejected.stdout


def test_signing_with_a_wrong_password_exits_2_with_one_line(run_cli: Callable[..., Any], lot: Any) -> None:
    refused = run_cli(
        "lot",
        "sign",
        lot.number,
        "--meaning",
        "reviewed",
        "--reason",
        "x",
        "--as",
        "rey",
        "--expect",
        "0" * 64,
        "--password-stdin",
        input="wrong-password\n",
    )
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1 and "signature refused" in refused.stderr


def test_an_oos_result_reports_its_verdict_and_reason(run_cli: Callable[..., Any], lot: Any) -> None:
    added = enter(run_cli, lot.number, "ph", "7.66")
    payload = json.loads(added.stdout)
    assert payload["verdict"] == "out of specification" and "above" in payload["reason"]
    status = json.loads(run_cli("lot", "status", lot.number, "--json").stdout)
    assert [i["status"] for i in status["investigations"]] == ["open"]


def test_verify_of_a_missing_file_exits_2(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    result = run_cli("coa", "verify", str(tmp_path / "nope.pdf"))
    assert result.exit_code == 2 and "error:" in result.stderr


def test_spec_show_and_list(run_cli: Callable[..., Any], lot: Any) -> None:
    shown = json.loads(run_cli("spec", "show", PRODUCT, "--json").stdout)
    assert shown["status"] == "approved" and shown["criteria"]["ph"] == "7 – 7.6"
    listed = json.loads(run_cli("spec", "list", "--json").stdout)
    assert [(r["product"], r["version"], r["status"]) for r in listed] == [(PRODUCT, 1, "approved")]


def test_a_signature_never_takes_the_password_from_the_environment(
    run_cli: Callable[..., Any], lot: Any
) -> None:
    refused = run_cli(
        "lot",
        "sign",
        lot.number,
        "--meaning",
        "reviewed",
        "--reason",
        "x",
        "--as",
        "rey",
        "--expect",
        "0" * 64,
        env={"SECRETOME_PASSWORD": PASSWORD},
    )
    assert refused.exit_code == 2 and "--password-stdin" in refused.stderr

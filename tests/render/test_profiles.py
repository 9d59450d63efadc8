"""EHR profiles, each tested by the shape it promises (CDS Hooks response model, R4B resources)."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.communicationrequest import CommunicationRequest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from cds_service.cdshooks.models import Card, CdsResponse
from cds_service.errors import RuleSetInvalid
from cds_service.render.profiles import (
    EPIC_DETAIL_TYPE,
    EPIC_PREFERENCE_LIST,
    ProfileChoice,
    build_profiles,
)
from cds_service.rules.overrides import RuleOverride
from tests.pipeline import DEFAULT_ORDER, cards_of, run

_MODELS: dict[str, Any] = {
    "MedicationRequest": MedicationRequest,
    "ServiceRequest": ServiceRequest,
    "CommunicationRequest": CommunicationRequest,
}
CODES = {
    "add-hold-instruction": "PL-HOLD-1",
    "order-bp-monitoring": "PL-BP-2",
    "order-spo2-monitoring": "PL-SPO2-3",
}


def _statement(stmt_id: str, text: str, **extra: Any) -> dict[str, Any]:
    daily = {"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}}}
    return {
        "resourceType": "MedicationStatement",
        "id": stmt_id,
        "status": "active",
        "medicationCodeableConcept": {"text": text},
        "dosage": [daily],
        "effectivePeriod": {"start": "2026-11-20"},
        **extra,
    }


CLONAZEPAM = _statement("czp", "Clonazepam 0.5 MG Oral Tablet")
LAMOTRIGINE = _statement("ltg", "Lamotrigine 100 MG Oral Tablet")
ZOLPIDEM = _statement("zol", "Zolpidem 10 MG Oral Tablet")
PHENELZINE = _statement("mao", "Phenelzine 15 MG Oral Tablet")
OXYCODONE = _statement("oxy", "Oxycodone 5 MG Oral Tablet")
THEOPHYLLINE = _statement("theo", "Theophylline 300 MG Extended Release Tablet")
EVERYTHING = [CLONAZEPAM, LAMOTRIGINE, ZOLPIDEM, PHENELZINE, OXYCODONE, THEOPHYLLINE]
# The Sandbox's draft: category and reasonCode as objects, not arrays (not valid R4 as sent).
SANDBOX_ORDER = {
    **DEFAULT_ORDER,
    "category": {"coding": [{"code": "community"}]},
    "reasonCode": {"text": "Treatment-resistant depression"},
}


def _cards(profile: str, medications: list[dict[str, Any]] | None = None, **settings: Any):
    chosen = build_profiles(**settings)[profile]  # type: ignore[index]
    _, cards = run(medications or EVERYTHING, order=settings.pop("order", None), profile=chosen)
    return cards


def _assert_response_shape(cards: list[Card]) -> None:
    body = CdsResponse(cards=cards).to_json_dict()
    CdsResponse.model_validate(body)
    for card in cards:
        for suggestion in card.suggestions or []:
            for action in suggestion.actions:
                if action.resource is not None:
                    _MODELS[action.resource["resourceType"]].model_validate(action.resource)


def _actions(cards: list[Card]) -> list[Any]:
    return [a for c in cards for s in c.suggestions or [] for a in s.actions]


# ---------------------------------------------------------------- spec


def test_spec_response_validates_and_every_resource_is_r4b() -> None:
    _assert_response_shape(_cards("spec"))


@pytest.mark.parametrize("order", [DEFAULT_ORDER, SANDBOX_ORDER], ids=["clean", "sandbox"])
def test_spec_accepting_every_suggestion_in_order_keeps_every_hold_note(order) -> None:
    _, cards = run(EVERYTHING, order=order)
    holding = [
        card for card in cards if card.extension and "ketamineCds.holdWindows" in card.extension
    ]
    assert {card.source.topic.code for card in holding if card.source.topic} >= {"BZD", "LTG"}
    draft: dict[str, Any] = dict(order)
    for action in _actions(cards):
        if action.type == "update":  # an update replaces the resource, as a client applies it
            draft = action.resource
    MedicationRequest.model_validate(draft)
    notes = " ".join(note["text"] for note in draft.get("note", []))
    for drug in ("clonazepam", "lamotrigine", "zolpidem"):
        assert f"No {drug} from" in notes, drug


def test_spec_offers_one_hold_suggestion_per_card_naming_all_held_drugs() -> None:
    _, cards = run([CLONAZEPAM, LAMOTRIGINE])
    for card in cards:
        updates = [s for s in card.suggestions or [] if s.actions[0].type == "update"]
        assert len(updates) == 1
        assert updates[0].label == "Add the clonazepam and lamotrigine holds to the ketamine order"


def test_spec_single_hold_keeps_a_plain_label() -> None:
    _, cards = run([CLONAZEPAM])
    (card,) = cards
    assert card.suggestions is not None
    assert card.suggestions[0].label == "Add the hold to the ketamine order"


def test_spec_never_echoes_the_sandbox_drafts_invalid_fields() -> None:
    _, cards = run([CLONAZEPAM], order=SANDBOX_ORDER)
    (update,) = [a for a in _actions(cards) if a.type == "update"]
    assert update.resource is not None
    MedicationRequest.model_validate(update.resource)
    assert isinstance(update.resource["category"], list)
    assert isinstance(update.resource["reasonCode"], list)


# ---------------------------------------------------------------- epic


def test_epic_has_no_update_one_action_any_and_uuids_everywhere() -> None:
    cards = _cards("epic", preference_codes=CODES)
    _assert_response_shape(cards)
    assert all(a.type != "update" for a in _actions(cards))
    for card in cards:
        assert card.uuid
        assert card.extension is not None
        assert card.extension[EPIC_DETAIL_TYPE] == "text/markdown"
        assert card.source.topic is not None
        assert card.source.topic.code.isalnum()
        assert len(card.source.topic.code) <= 100
        if card.suggestions:
            assert card.selectionBehavior == "any"
        for suggestion in card.suggestions or []:
            assert suggestion.uuid
            assert len(suggestion.actions) == 1


def test_epic_hold_stays_card_text_without_a_preference_list_code() -> None:
    cards = _cards("epic", [CLONAZEPAM])
    (card,) = cards
    assert card.suggestions is None
    assert "No clonazepam from" in (card.detail or "")


def test_epic_hold_with_a_preference_list_code_is_a_service_request_instruction() -> None:
    (card,) = _cards("epic", [CLONAZEPAM], preference_codes=CODES)
    assert card.suggestions is not None
    (action,) = card.suggestions[0].actions
    assert (action.type, action.resource["resourceType"]) == ("create", "ServiceRequest")  # type: ignore[index]
    assert action.resource is not None
    assert action.resource["code"]["coding"] == [
        {"system": EPIC_PREFERENCE_LIST, "code": "PL-HOLD-1"}
    ]
    assert "No clonazepam from" in action.resource["note"][0]["text"]
    ServiceRequest.model_validate(action.resource)


@pytest.mark.parametrize(("topic", "drug"), [("MAOI", PHENELZINE), ("OPIOID", OXYCODONE)])
def test_epic_monitoring_orders_only_with_a_preference_list_code(topic, drug) -> None:
    without = cards_of(_cards("epic", [drug]), topic)[0]
    assert not [s for s in without.suggestions or [] if s.actions[0].type == "create"]
    with_code = cards_of(_cards("epic", [drug], preference_codes=CODES), topic)[0]
    (action,) = [a for a in _actions([with_code]) if a.type == "create"]
    assert action.resource is not None
    systems = [coding["system"] for coding in action.resource["code"]["coding"]]
    assert systems[0] == EPIC_PREFERENCE_LIST


def test_epic_cancel_is_a_delete_by_resource_id() -> None:
    xanthine = cards_of(_cards("epic", [THEOPHYLLINE]), "XANTHINE")[0]
    (action,) = _actions([xanthine])
    assert (action.type, action.resourceId, action.resource) == (
        "delete",
        "MedicationRequest/request-123",
        None,
    )


def test_epic_refuses_a_topic_code_it_cannot_store() -> None:
    epic = build_profiles()["epic"]
    epic.check_topics(["BZD", "A" * 100])
    with pytest.raises(RuleSetInvalid, match="alphanumeric"):
        epic.check_topics(["BZD-2"])
    with pytest.raises(RuleSetInvalid):
        epic.check_topics(["A" * 101])


# ---------------------------------------------------------------- oracle


def test_oracle_detail_is_a_few_short_lines_for_the_sidebar() -> None:
    cards = _cards("oracle")
    _assert_response_shape(cards)
    for card in cards:
        detail = card.detail or ""
        assert len(detail.split("\n\n")) <= 6
        assert len(detail) <= 450, (card.source.topic, len(detail))


def test_oracle_links_only_to_allowlisted_hosts() -> None:
    assert all(card.links is None for card in _cards("oracle"))
    cards = _cards("oracle", link_hosts=["doi.org"])
    hosts = {link.url.split("/")[2] for card in cards for link in card.links or []}
    assert hosts == {"doi.org"}


def test_oracle_keeps_critical_only_for_what_must_interrupt() -> None:
    overrides = {"BZD": RuleOverride(indicator="critical")}
    oracle = build_profiles()["oracle"]
    _, cards = run([CLONAZEPAM, THEOPHYLLINE], overrides=overrides, profile=oracle)
    assert cards_of(cards, "XANTHINE")[0].indicator == "critical"
    assert cards_of(cards, "BZD")[0].indicator == "warning"
    _, spec_cards = run([CLONAZEPAM, THEOPHYLLINE], overrides=overrides)
    assert cards_of(spec_cards, "BZD")[0].indicator == "critical"


# ---------------------------------------------------------------- choice


def test_profile_choice_detects_epic_from_its_request_extensions() -> None:
    choice = ProfileChoice(build_profiles())
    assert choice.choose(["com.epic.cdshooks.request.bpa-trigger-action"]).name == "epic"
    assert choice.choose(["com.example.other"]).name == "spec"
    assert choice.choose([]).name == "spec"


def test_profile_choice_configured_profile_wins_over_detection() -> None:
    choice = ProfileChoice(build_profiles(), configured="oracle")
    assert choice.choose(["com.epic.cdshooks.request.fhir-version"]).name == "oracle"

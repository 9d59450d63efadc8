"""HL7 ``non-adherence-reason-codes`` (CDS Hooks 3.0 ballot): each code's display, for the analytics.

Copied exactly from the HL7/cds-hooks CodeSystem file ``CodeSystem-non-adherence-reason-codes.json``
(6 categories, 29 sub-codes). Feedback stores only a reason's code and system, never the display an
EHR sent (it is free text): the display shown is this one, or ours from the knowledge base.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

SYSTEM = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"

DISPLAYS: Mapping[str, str] = MappingProxyType(
    {
        "cds-not-applicable": "PC CDS does not apply to patient",
        "patient-ineligible": "Patient does not meet eligibility for recommended action",
        "indication-order-exists": "Patient has indication/order for intended action",
        "action-completed": "Recommended action was already completed",
        "action-unsuccessful": "Recommended action was previously unsuccessful",
        "action-performed-no-adverse-effect": (
            "Intended action was performed previously without adverse effect"
        ),
        "action-not-priority": (
            "Recommended action is not relevant or a priority in current state of health"
        ),
        "cds-suboptimal-context": "PC CDS delivered in suboptimal context",
        "limited-time": "Could not address recommended action due to limited time",
        "wrong-time-workflow": "PC CDS delivered at wrong time in workflow or patient lifecycle",
        "inappropriate-recipient": "PC CDS delivered to inappropriate recipient/role",
        "need-more-info": (
            "Could not address recommended action due to need for more information/pending "
            "results/pending consult"
        ),
        "recipient-disagrees-evidence": (
            "Recipient disagrees with recommendation because of issues with the evidence"
        ),
        "does-not-align-latest-evidence": "Recommended action does not align with the latest evidence",
        "expert-contradicts": "Advice from expert contradicts the recommended action",
        "policy-contradicts": "Institutional policy/guideline contradicts the recommended action",
        "recipient-does-not-trust": "Recipient does not agree with or trust the recommended action",
        "recipient-concerns-outcomes": "Recipient has concerns regarding potential health outcomes",
        "risk-benefit-ratio": "Recipient assessment of risk/benefit ratio",
        "mitigate-risk-negative-outcome": "Action taken to mitigate risk of negative outcome",
        "likely-negative-health-outcomes": "Recommended action likely to have negative health outcomes",
        "patient-contraindication": "Patient has contraindication to recommended action",
        "does-not-align-preferences": (
            "Recommendation does not align with patient preferences or values"
        ),
        "patient-fears-discomfort": "Patient fears discomfort from complying with recommended action",
        "patient-does-not-want-change": (
            "Patient does not want to change behavior or believes the change is unnecessary"
        ),
        "cultural-religious-reason": (
            "Patient has a cultural or religious reason for not following recommended action"
        ),
        "prefers-alternative": "Patient prefers an alternative approach or treatment",
        "patient-refuses": "Patient refuses/declines (no context given)*",
        "not-convenient-feasible": "Recommendation is not convenient or feasible",
        "inadequate-support": "Patient has inadequate caregiver/social support",
        "service-not-available": "Treatment or service is not practically available",
        "implementation-challenges": (
            "Recommended action cannot be implemented due to technology/challenges"
        ),
        "too-costly-uncovered": "Recommended action is too costly or not covered by insurance",
        "recipient-does-not-understand": (
            "Recipient does not understand the recommended action or know how to perform the "
            "recommended action"
        ),
        "comorbidity-disability": (
            "Patient has co-morbidity or disability that hinders them from completing recommended "
            "action"
        ),
    }
)
CATEGORIES = frozenset(
    {
        "cds-not-applicable",
        "cds-suboptimal-context",
        "recipient-disagrees-evidence",
        "recipient-concerns-outcomes",
        "does-not-align-preferences",
        "not-convenient-feasible",
    }
)

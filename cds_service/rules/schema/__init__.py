"""Pydantic model of the knowledge base in ``cards/``: one module per kind of file.

These models are the source of ``cards/schema/*.schema.json`` (every field carries its description);
a test fails when those files are stale. Our own data is validated strictly (``extra="forbid"``): a
typo in a rule file must stop start-up.
"""

from cds_service.rules.schema.cases import Case, CaseExpect, CaseFile, CaseGiven
from cds_service.rules.schema.common import (
    INGREDIENT_PATTERN,
    TOPIC_PATTERN,
    Evidence,
    FieldProblem,
    Grade,
    Indicator,
    Reference,
    Status,
    Strict,
)
from cds_service.rules.schema.context import (
    ConditionSet,
    Modifier,
    PatientContextRules,
)
from cds_service.rules.schema.dose import Depot, DoseLevel, DosePolicy
from cds_service.rules.schema.manifest import (
    AppointmentCode,
    AppointmentTerms,
    Combination,
    CombinationGroup,
    KetamineTerms,
    Manifest,
)
from cds_service.rules.schema.patient import (
    HoldKinds,
    HoldWording,
    HoldWordingOverride,
    PatientInstructions,
)
from cds_service.rules.schema.rule import (
    NON_ADHERENCE_SYSTEM,
    Hold,
    IndicatorPolicy,
    Member,
    OverrideReason,
    RuleSpec,
    SuggestionKind,
    SuggestionSpec,
    Summaries,
    TopicCode,
)
from cds_service.rules.schema.stopping import Withdrawal
from cds_service.rules.schema.topics import Topic, TopicList
from cds_service.rules.schema.valuesets import (
    RXNORM_SYSTEM,
    IngredientName,
    ProductCodeTable,
    ProductSource,
    RxNormCode,
)

__all__ = [
    "INGREDIENT_PATTERN",
    "NON_ADHERENCE_SYSTEM",
    "RXNORM_SYSTEM",
    "TOPIC_PATTERN",
    "AppointmentCode",
    "AppointmentTerms",
    "Case",
    "CaseExpect",
    "CaseFile",
    "CaseGiven",
    "Combination",
    "CombinationGroup",
    "ConditionSet",
    "Depot",
    "DoseLevel",
    "DosePolicy",
    "Evidence",
    "FieldProblem",
    "Grade",
    "Hold",
    "HoldKinds",
    "HoldWording",
    "HoldWordingOverride",
    "Indicator",
    "IndicatorPolicy",
    "IngredientName",
    "KetamineTerms",
    "Manifest",
    "Member",
    "Modifier",
    "OverrideReason",
    "PatientContextRules",
    "PatientInstructions",
    "ProductCodeTable",
    "ProductSource",
    "Reference",
    "RuleSpec",
    "RxNormCode",
    "Status",
    "Strict",
    "SuggestionKind",
    "SuggestionSpec",
    "Summaries",
    "Topic",
    "TopicCode",
    "TopicList",
    "Withdrawal",
]

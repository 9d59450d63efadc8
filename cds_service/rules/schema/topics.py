"""``cards/topics.yaml``: every topic id ever used, with its status, so that no id is reused."""

from __future__ import annotations

from pydantic import Field

from cds_service.rules.schema.common import TOPIC_PATTERN, Status, Strict


class Topic(Strict):
    """One topic id: a class (a rule file) or a combination in the manifest."""

    id: str = Field(pattern=TOPIC_PATTERN, description="The topic code; never reused.")
    status: Status = Field(
        description="Must match the rule file's status (a combination is active); a retired id "
        "may have no file left."
    )
    title: str = Field(min_length=3, description="One line saying what the id was used for.")


class TopicList(Strict):
    """``cards/topics.yaml``: the register of topic ids."""

    topics: tuple[Topic, ...] = Field(
        min_length=1, description="Every topic id ever used, each listed once."
    )

"""Money: the benefits ledger (amounts, caps, enrolments) and random re-check sampling (抽查)."""

"""Use cases: the only code that combines repositories, stores, policy and (later) quotas and events."""

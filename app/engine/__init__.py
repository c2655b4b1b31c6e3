"""The answer engine: a pure core (retrieve, select quotes, verify, abstain) with no UI."""

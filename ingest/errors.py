"""Errors that name a bad input file and the reason, so a batch can report and go on."""


class IngestError(Exception):
    """One input could not be ingested; `reason` is a short human sentence."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason

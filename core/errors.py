class ApplicationError(Exception):
    """A rule of the business was broken by the caller's input.

    `code` is stable (clients branch on it); `message` is for people; `extra` carries
    details such as the offending field. Views turn it into a form error or a 400.
    """

    def __init__(self, message: str, *, code: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}

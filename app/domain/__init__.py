"""Domain services: the rules of applications, tasks, places and people.

Services take an open connection and never commit; they raise ``DomainError`` for
anything the caller did wrong, which the HTTP layer renders as a problem document.
"""

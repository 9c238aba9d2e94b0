"""Human tasks and the reviewer's actions: the inbox and completing (`worklist`), 退回/撤回/撤销
(`actions`), 转办/委派/抄送/催办 (`people`), 加签 and 会签 (`signers`), separation of duties, panels,
supervision, reminders and saved views."""

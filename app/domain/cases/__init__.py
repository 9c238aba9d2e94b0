"""Cases: an application from its start to its end — starting (`applications`), loading and saving
(`store`), what reaching a step or an end means (`effects`), messages, timers, migrations between
versions, deadlines recomputed (`rescheduling`), follow-up cases, case numbers and the 审批记录 (`record`).

Nothing is imported here: callers import the module they need, so that importing one part of the
domain never pulls in the rest."""

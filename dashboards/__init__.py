"""Role dashboards (issue 20): what an admin, an operator and a developer open the portal onto.

The top of the stack: it reads every other app's read models and access modules and writes
nothing of its own."""

"""Evaluation sets and their measures, behind `khuyencong kb eval`, `eval-understanding` and `eval-case`.

faq: top-1 accuracy and refusals of the flat FAQ; understanding: precision and recall per fact kind of single
messages; case: answers from the person's own case holding the facts they must. Each set is our own, written
for evaluation only (tests/data/), never copied into knowledge/ or dialogs/.
"""

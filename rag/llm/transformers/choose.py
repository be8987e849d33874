"""The constrained choice among options (`TransformersLLM.choose`): a greedy walk down the
options' token sequences, each step's probabilities renormalised over the tokens some option
still allows, stopped as soon as one option is left.

torch is imported only when a choice is made.
"""

from __future__ import annotations

from typing import Any

from rag.core.errors import ModelError
from rag.llm.transformers.convert import one_line


def walk(
    model: Any, cache: Any, feed: list[int], seqs: dict[str, tuple[int, ...]], abstain: str | None
) -> dict[str, float]:
    """Each option's probability, from `cache` (the prompt but `feed`, its last tokens) and the
    options' token sequences (end of turn included). The option reached gets the probability of
    its path; each option left behind an equal share of the branch it was on when the walk left
    it. `abstain` is measured at the first step but never taken. Raises ModelError on failure."""
    import torch

    share = dict.fromkeys(seqs, 0.0)
    alive, path, depth = list(seqs), 1.0, 0
    try:
        with torch.inference_mode():
            while len(alive) > 1:
                out = model(
                    input_ids=torch.tensor([feed]),
                    past_key_values=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                row = out.logits[0, -1].float()
                branches: dict[int, list[str]] = {}
                for o in alive:
                    branches.setdefault(seqs[o][depth], []).append(o)
                tokens = list(branches)
                probs = torch.softmax(row[tokens], dim=0).tolist()
                for token, p in zip(tokens, probs, strict=True):
                    for o in branches[token]:
                        share[o] = path * p / len(branches[token])
                takes = [i for i, t in enumerate(tokens) if branches[t] != [abstain]] or list(
                    range(len(tokens))
                )
                best = max(takes, key=probs.__getitem__)
                if depth == 0 and abstain is not None:  # its share stays; the walk goes on alone
                    branches = {t: [o for o in os if o != abstain] for t, os in branches.items()}
                    if not branches[tokens[best]]:
                        break
                alive, path, feed, depth = (
                    branches[tokens[best]],
                    path * probs[best],
                    [tokens[best]],
                    depth + 1,
                )
    except Exception as exc:
        raise ModelError(f"choosing failed: {one_line(exc)}") from exc
    share[alive[0]] = path
    return share

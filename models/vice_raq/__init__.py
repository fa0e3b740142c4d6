"""VICE-RAQ: learning a task from pictures of success and a few operator answers (Singh et al., RSS 2019).

A goal classifier's logit is the reward (:mod:`.classifier`); VICE trains it against states the
policy visited (replay-buffer negatives, an AIRL-style discriminator loss, mixup); RAQ (:mod:`.raq`)
asks an operator (:mod:`.operator`) whether the most promising recent state is a success; SAC from
48×48 pixels learns the policy (:mod:`.sac`), optionally with DisCor's corrected backups
(:mod:`.discor`). :mod:`.policy` is the deployable policy file and its ``load_policy``/``act`` API.
"""

"""PDDM training: online model-based RL with an ensemble and filtered MPPI (Nagabandi et al., CoRL 2019).

``config`` (run configuration dataclass + YAML), ``data`` (rollout buffer), ``trainer`` (the
iteration loop, run directory, checkpoints), ``report`` (model error, plots, videos).
"""

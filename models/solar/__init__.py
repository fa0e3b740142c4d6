"""SOLAR: structured latent representations + LQR-FLM from images (Zhang, Vikram et al., ICML 2019).

``networks`` (the FACTS encoder/decoder), ``policy`` (the deployable controller file and its API),
``vae`` (the structured VAE with the LDS prior and KL annealing), ``blds`` (the Bayesian linear
dynamical system: Normal-inverse-Wishart prior, local posteriors), ``cost`` (quadratic latent cost
from rewards), ``trainer`` (the iteration loop, run directory), ``config`` (typed run configuration).
"""

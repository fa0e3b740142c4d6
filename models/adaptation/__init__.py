"""anima.models.adaptation: adapting a latent-conditioned policy to a target robot (Peng et al., RSS 2020, Sec. VI-B)."""

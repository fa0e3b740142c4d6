"""Motion imitation for the Laikago (Peng et al., RSS 2020): observation, reward, PPO training, evaluation."""

"""The experiments of each reproduced paper, one TOML each; installed as ``mer_keras.experiments``."""

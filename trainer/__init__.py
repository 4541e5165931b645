"""trainer: a Qwen2/Llama-family causal LM trainer with vocab preflight and .apr checkpoints."""

"""Training between search rounds: harvesting trees into data, LoRA SFT of the policy, and the
step-wise PRM (a 2-class token head on the base LM, with LoRA).

Heavy libraries (torch, transformers, peft) load only inside the training functions.
"""

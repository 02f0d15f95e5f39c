"""Reference solution for the GPT-2 assignment: model, checkpoint loading, generation, tokenizer."""

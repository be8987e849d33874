"""The names settings accept for the backend and the ranking, as plain tuples: the settings
model's types are built from them and the command line offers them without importing pydantic.
"""

LLM_BACKENDS = ("auto", "transformers", "llamacpp", "fake", "openai")
FUSIONS = ("rrf", "dense", "bm25", "latent")

"""The web app (gradio). Importing the package sets the offline environment first, so that no
module of it can load gradio (or anything from Hugging Face) before that."""

from rag.core.offline import offline_environment

offline_environment()

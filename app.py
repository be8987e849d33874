"""The web app: `python app.py` serves the chat page (the code is in `rag.ui`; also `rag-app`)."""

import sys

from rag.ui.app import main

if __name__ == "__main__":
    sys.exit(main())

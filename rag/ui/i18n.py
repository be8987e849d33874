"""The page's words, in French and English, and the example questions.

Every label, hint and status line the chat page shows lives here as one `TEXT[ui][key]` table, so
that the handlers and the layout look strings up by key and switching the interface language is a
plain relabelling; kept apart from the code so translations are edited in one place.
"""

TEXT = {
    "fr": {
        "title": "Questions sur l'actualité", "ui_language": "Langue de l'interface",
        "intro": "Posez une question sur les articles : la réponse cite ses sources [n], hors ligne.",
        "tab_chat": "Discussion", "tab_docs": "Documents", "chat": "Discussion",
        "question": "Votre question",
        "placeholder": "Ex. : Quel journal a révélé l'appel entre Trump et Poutine ?",
        "send": "Envoyer", "new": "Nouvelle conversation", "examples": "Exemples de questions",
        "sources": "Sources", "sources_hint": "Les sources de la réponse s'afficheront ici.",
        "searching": "Recherche des passages…", "writing": "Rédaction de la réponse…",
        "preparing": "Préparation du modèle", "preparing_once": "une seule fois, ~1 min",
        "loading_model": "Chargement du modèle…",
        "streaming": "…", "error": "Erreur", "unexpected": "Erreur inattendue, voir le journal du serveur",
        "no_sources": "Pas de réponse dans les articles : aucune source à montrer.",
        "retrieved": "Passages retrouvés (scores)", "colon": " : ", "latency": "Latence",
        "first_token": "premier mot", "total": "total", "retrieval": "recherche",
        "wall": "avec chargement", "settings": "Réglages", "top_k": "Nombre de passages",
        "language": "Langue de la réponse", "lang_auto": "Automatique",
        "show_scores": "Afficher les scores de recherche",
        "docs_help": "Les articles indexés. Ajoutez des fichiers .txt ou .md (UTF-8, 2 Mo au plus).",
        "headers": ["Fichier", "Date", "Passages", "Titre"],
        "upload": "Fichiers à ajouter (.txt, .md)", "upload_button": "Ajouter et indexer",
        "remove": "Document à supprimer", "remove_button": "Supprimer", "indexing": "Indexation…",
        "no_file": "Choisissez d'abord un fichier.", "rejected": "Fichier refusé, rien n'a changé",
        "added": "Ajouté", "pick_document": "Choisissez d'abord un document.", "removed": "Supprimé",
    },
    "en": {
        "title": "Questions about the news", "ui_language": "Interface language",
        "intro": "Ask about the articles: the answer cites its sources [n], offline.",
        "tab_chat": "Chat", "tab_docs": "Documents", "chat": "Chat",
        "question": "Your question",
        "placeholder": "E.g. Which newspaper reported the Trump–Putin call?",
        "send": "Send", "new": "New conversation", "examples": "Example questions",
        "sources": "Sources", "sources_hint": "The answer's sources will show here.",
        "searching": "Searching the passages…", "writing": "Writing the answer…",
        "preparing": "Preparing the model", "preparing_once": "once, ~1 min",
        "loading_model": "Loading the model…",
        "streaming": "…", "error": "Error", "unexpected": "Unexpected error, see the server log",
        "no_sources": "The articles don't answer this: no sources to show.",
        "retrieved": "Retrieved passages (scores)", "colon": ": ", "latency": "Latency",
        "first_token": "first token", "total": "total", "retrieval": "retrieval",
        "wall": "with model loading", "settings": "Settings", "top_k": "Number of passages",
        "language": "Answer language", "lang_auto": "Automatic",
        "show_scores": "Show retrieval scores",
        "docs_help": "The indexed articles. Add .txt or .md files (UTF-8, 2 MB at most).",
        "headers": ["File", "Date", "Chunks", "Title"],
        "upload": "Files to add (.txt, .md)", "upload_button": "Add and index",
        "remove": "Document to remove", "remove_button": "Remove", "indexing": "Indexing…",
        "no_file": "Choose a file first.", "rejected": "File refused, nothing changed",
        "added": "Added", "pick_document": "Choose a document first.", "removed": "Removed",
    },
}  # fmt: skip
EXAMPLES = [
    ["Quel journal a révélé l'appel entre Trump et Poutine ?"],
    ["Sur quel réseau Trump a-t-il annoncé sa conversation avec Poutine ?"],
    ["Which newspaper reported the call between Trump and Putin?"],
    ["What did Trump and Putin agree to do about Ukraine?"],
]

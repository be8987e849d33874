"""The page's words, in French and English, and the corpus's example questions.

Every label, hint and status line the chat page shows lives here as one `TEXT[ui][key]` table, so
that the handlers and the layout look strings up by key and switching the interface language is a
plain relabelling; kept apart from the code so translations are edited in one place.
"""

import json
from collections.abc import Iterable
from pathlib import Path

from rag.core.errors import InputError

# Each text in French, then in English, side by side so that a translation is edited in one place.
_PAIRS = {
    "title": ("Questions sur l'actualité", "Questions about the news"),
    "ui_language": ("Langue de l'interface", "Interface language"),
    "intro": (
        "Posez une question sur les articles : la réponse cite ses sources [n], hors ligne.",
        "Ask about the articles: the answer cites its sources [n], offline.",
    ),
    "tab_chat": ("Discussion", "Chat"),
    "tab_docs": ("Documents", "Documents"),
    "chat": ("Discussion", "Chat"),
    "question": ("Votre question", "Your question"),
    "placeholder": (
        "Ex. : Quel journal a révélé l'information, et quand ?",
        "E.g. Which newspaper broke the story, and when?",
    ),
    "send": ("Envoyer", "Send"),
    "new": ("Nouvelle conversation", "New conversation"),
    "examples": ("Exemples de questions", "Example questions"),
    "sources": ("Sources", "Sources"),
    "sources_hint": (
        "Les sources de la réponse s'afficheront ici.",
        "The answer's sources will show here.",
    ),
    "searching": ("Recherche des passages…", "Searching the passages…"),
    "writing": ("Rédaction de la réponse…", "Writing the answer…"),
    "preparing": ("Préparation du modèle", "Preparing the model"),
    "preparing_once": ("une seule fois, ~1 min", "once, ~1 min"),
    "loading_model": ("Chargement du modèle…", "Loading the model…"),
    "streaming": ("…", "…"),
    "error": ("Erreur", "Error"),
    "unexpected": (
        "Erreur inattendue, voir le journal du serveur",
        "Unexpected error, see the server log",
    ),
    "no_sources": (
        "Pas de réponse dans les articles : aucune source à montrer.",
        "The articles don't answer this: no sources to show.",
    ),
    "retrieved": ("Passages retrouvés (scores)", "Retrieved passages (scores)"),
    "colon": (" : ", ": "),
    "latency": ("Latence", "Latency"),
    "first_token": ("premier mot", "first token"),
    "total": ("total", "total"),
    "retrieval": ("recherche", "retrieval"),
    "wall": ("avec chargement", "with model loading"),
    "settings": ("Réglages", "Settings"),
    "top_k": ("Nombre de passages", "Number of passages"),
    "language": ("Langue de la réponse", "Answer language"),
    "lang_auto": ("Automatique", "Automatic"),
    "show_scores": ("Afficher les scores de recherche", "Show retrieval scores"),
    "scope": ("Période et médias", "Dates and outlets"),
    "since": ("Publié depuis le (AAAA-MM-JJ)", "Published since (YYYY-MM-DD)"),
    "until": ("Publié jusqu'au (AAAA-MM-JJ)", "Published until (YYYY-MM-DD)"),
    "outlets": ("Médias (tous si vide)", "Outlets (all when empty)"),
    "no_match": (
        "Aucun article indexé ne correspond à cette période ou à ces médias.",
        "No indexed article matches these dates or outlets.",
    ),
    "scope_help": (
        "Une date choisie écarte les articles dont la date de publication est inconnue.",
        "A date set leaves out the articles whose publication date is unknown.",
    ),
    "docs_help": (
        (
            "Les articles indexés. Ajoutez des pages web enregistrées, des PDF, des fichiers Word, "
            "texte ou Markdown, des exports JSONL ou CSV (2 Mo au plus)."
        ),
        (
            "The indexed articles. Add saved web pages, PDF, Word, text or Markdown files, "
            "JSONL or CSV exports (2 MB at most)."
        ),
    ),
    "headers": (
        ["Fichier", "Date", "Média", "Passages", "Titre"],
        ["File", "Date", "Outlet", "Chunks", "Title"],
    ),
    "upload": ("Fichiers à ajouter", "Files to add"),
    "upload_button": ("Ajouter et indexer", "Add and index"),
    "remove": ("Document à supprimer", "Document to remove"),
    "remove_button": ("Supprimer", "Remove"),
    "indexing": ("Indexation…", "Indexing…"),
    "no_file": ("Choisissez d'abord un fichier.", "Choose a file first."),
    "rejected": ("Fichier refusé, rien n'a changé", "File refused, nothing changed"),
    "added": ("Ajouté", "Added"),
    "pick_document": ("Choisissez d'abord un document.", "Choose a document first."),
    "removed": ("Supprimé", "Removed"),
    "not_editor": (
        "Seuls les éditeurs peuvent ajouter ou supprimer des documents ; rien n'a changé.",
        "Only editors can add or remove documents; nothing changed.",
    ),
    "ahead": ("⏳ {n} question(s) avant la vôtre…", "⏳ {n} question(s) ahead of yours…"),
    "user_busy": (
        "Vous avez déjà {n} questions en attente : "
        "attendez leur réponse avant d'en poser d'autres.",
        "You already have {n} questions waiting: wait for their answers before asking more.",
    ),
    "login": ("Connectez-vous pour poser vos questions.", "Log in to ask your questions."),
    "signed_in": ("Connecté : {name} ({role})", "Signed in: {name} ({role})"),
}


class _Languages(dict):
    """TEXT["fr"], TEXT["en"]; any other value (an API caller's None, "", {}) reads French."""

    def __missing__(self, key):
        return self["fr"]


TEXT = _Languages(
    {lang: {key: pair[i] for key, pair in _PAIRS.items()} for i, lang in enumerate(("fr", "en"))}
)
EXAMPLES_FILE = "examples.json"  # in a source folder: a JSON list of questions on its articles


def examples(sources: Iterable[Path]) -> list[list[str]]:
    """The example questions the page offers: those of each source folder's examples.json, in
    order (one row each, as gr.Examples takes them); none where no folder has one.

    examples([Path("seeds")]) -> [["Quel journal a révélé …?"], …]"""
    rows = []
    for folder in sources:
        file = Path(folder) / EXAMPLES_FILE
        if not file.is_file():
            continue
        try:
            questions = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{file}: unreadable ({exc}) — fix or remove it") from exc
        if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
            raise InputError(f'{file}: not a JSON list of questions — write ["…?", "…?"]')
        rows += [[q] for q in questions if q.strip()]
    return rows


def page_heading(t: dict) -> str:
    """The page's title and introduction as markdown, in the words of `t` (TEXT[ui])."""
    return f"# {t['title']}\n{t['intro']}"


def language_choices(t: dict) -> list[tuple[str, str]]:
    """The answer-language choices, "automatic" first."""
    return [(t["lang_auto"], "auto"), ("Français", "fr"), ("English", "en")]

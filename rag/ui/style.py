"""The page's style sheet and the script that makes citation markers scroll to their source:
plain text that `rag.ui.app` hands to gradio."""

CSS = """
#sources { max-height: 75vh; overflow-y: auto; }
.sources h3 { margin: 0 0 .5rem; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .8rem;
  margin-bottom: .6rem; scroll-margin-top: 1rem; }
.source header { font-size: .9em; margin-bottom: .3rem; overflow-wrap: anywhere; }
.source p { white-space: pre-wrap; margin: 0; line-height: 1.45; }
.source:target, .source.flash, .source:focus { outline: 3px solid #f59e0b; outline-offset: 2px; }
.source mark { background: #fde68a; color: #111; padding: 0 .1em; }
.scores { color: var(--body-text-color-subdued); font-size: .85em; }
.note { color: var(--body-text-color); opacity: .75; }
.sources table { font-size: .8em; }
.source header cite { font-style: normal; }
@media (max-width: 640px) { #chat { height: 55vh !important; } }
"""
# Citation markers in the chat scroll to (and focus) their source, in the same tab, by keyboard too.
HEAD = """<script>
document.addEventListener("click", function (e) {
  var a = e.target.closest ? e.target.closest('a[href^="#src-"]') : null;
  if (!a) return;
  var el = document.getElementById(a.getAttribute("href").slice(1));
  if (!el) return;
  e.preventDefault(); e.stopPropagation();
  document.querySelectorAll(".source.flash").forEach(function (s) { s.classList.remove("flash"); });
  el.classList.add("flash");
  el.scrollIntoView({behavior: "smooth", block: "nearest"});
  el.focus({preventScroll: true});
}, true);
</script>"""

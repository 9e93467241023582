// Render the maths of Markdown pages and docstrings (pymdownx.arithmatex, generic mode:
// `\( ... \)` and `\[ ... \]` inside elements of class "arithmatex") with KaTeX.
// Notebook pages bring their own MathJax (mkdocs-jupyter) for their `$...$` cells, so
// only the arithmatex elements are touched here.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".arithmatex").forEach(function (element) {
    renderMathInElement(element, {
      delimiters: [
        { left: "\\(", right: "\\)", display: false },
        { left: "\\[", right: "\\]", display: true },
      ],
      throwOnError: false,
    });
  });
});

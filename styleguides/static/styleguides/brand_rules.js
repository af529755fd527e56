/* Brand rule inlines: show only the settings the chosen rule type uses. */
"use strict";
(function () {
  const FIELDS = {
    banned_term: ["terms", "case_sensitive", "whole_word"],
    required_phrase: ["terms", "match", "case_sensitive", "whole_word"],
    max_length: ["limit", "unit"],
    min_length: ["limit", "unit"],
    regex: ["pattern", "ignore_case", "mode"],
    max_sentence_length: ["max_words"],
    reading_level: ["max_grade", "min_grade"],
  };
  const ALL = ["terms", "match", "case_sensitive", "whole_word", "limit", "unit", "pattern",
    "ignore_case", "mode", "max_words", "max_grade", "min_grade"];

  function update(inline) {
    const select = inline.querySelector("select[name$='-rule_type']");
    if (!select) return;
    const wanted = FIELDS[select.value] || [];
    for (const name of ALL) {
      const box = inline.querySelector(".field-" + name);
      if (box) box.style.display = wanted.includes(name) ? "" : "none";
    }
    for (const row of inline.querySelectorAll(".brand-rule-settings .form-row")) {
      const visible = [...row.querySelectorAll("[class*='field-']")].some((box) => box.style.display !== "none");
      row.style.display = visible ? "" : "none";
    }
  }

  function wire(inline) {
    const select = inline.querySelector("select[name$='-rule_type']");
    if (!select || select.dataset.wired) return;
    select.dataset.wired = "1";
    select.addEventListener("change", () => update(inline));
    update(inline);
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".inline-related").forEach(wire);
  });
  document.addEventListener("formset:added", (event) => wire(event.target));
})();

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
    const select = inline && inline.querySelector("select[name$='-rule_type']");
    if (!select) return;
    const wanted = FIELDS[select.value] || [];
    // A row holding several fields has one .fieldBox per field; a row holding one field is the box.
    for (const row of inline.querySelectorAll(".brand-rule-settings .form-row")) {
      const boxes = row.querySelectorAll(".fieldBox");
      let anyVisible = false;
      for (const name of ALL) {
        const box = boxes.length ? row.querySelector(".fieldBox.field-" + name) : null;
        const shown = wanted.includes(name);
        if (box) box.style.display = shown ? "" : "none";
        if ((box || row.classList.contains("field-" + name)) && shown) anyVisible = true;
      }
      row.style.display = anyVisible ? "" : "none";
    }
  }

  // Delegated, so rows added with "Add another" (cloned from the empty form) work too.
  document.addEventListener("change", (event) => {
    if (event.target.matches("select[name$='-rule_type']")) {
      update(event.target.closest(".inline-related"));
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".inline-related").forEach(update);
  });
  document.addEventListener("formset:added", (event) => update(event.target));
})();

/* Brand rule inlines: show only the settings the chosen rule type uses.
 * Which fields each type uses comes from the rule type registry (styleguides/rules/), rendered
 * by the form into the select's data-rule-fields attribute: this file names no rule type. */
"use strict";
(function () {
  function update(inline) {
    const select = inline && inline.querySelector("select[name$='-rule_type']");
    if (!select || !select.dataset.ruleFields) return;
    const fields = JSON.parse(select.dataset.ruleFields);
    const all = [...new Set(Object.values(fields).flat())];
    const wanted = fields[select.value] || [];
    // A row holding several fields has one .fieldBox per field; a row holding one field is the box.
    for (const row of inline.querySelectorAll(".brand-rule-settings .form-row")) {
      const boxes = row.querySelectorAll(".fieldBox");
      let anyVisible = false;
      for (const name of all) {
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

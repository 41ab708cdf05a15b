/// AdminX's script and stylesheet (`/assets/adminx.js`, `/assets/adminx.css`): our own, no
/// third-party code, loaded under `Web.pageCSP`. The pages work without the script; it adds the
/// Copy buttons and moves focus to an error summary.
enum AdminXAssets {
    // Not reformatted: served byte for byte.
    // swift-format-ignore
    static let script = #"""
    "use strict";
    (function () {
      // A region screen readers announce ("Copied").
      const live = document.createElement("p");
      live.className = "visually-hidden";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      document.body.appendChild(live);
      function say(text) { live.textContent = ""; window.setTimeout(function () { live.textContent = text; }, 50); }

      document.querySelectorAll("button[data-copy]").forEach(function (button) {
        button.addEventListener("click", async function () {
          const target = document.getElementById(button.dataset.copy);
          if (!target) return;
          const text = target.textContent;
          try {
            await navigator.clipboard.writeText(text);
          } catch (e) {
            // No clipboard permission (or http): select the text so the keyboard copy works.
            const range = document.createRange();
            range.selectNodeContents(target);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            say("Selected: press Control+C or Command+C to copy");
            return;
          }
          button.textContent = "Copied";
          say("Copied");
          window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
        });
      });

      // A metadata file: read here and put into its textarea (the form sends the text, not the file).
      document.querySelectorAll("input[type=file][data-fill]").forEach(function (picker) {
        picker.addEventListener("change", async function () {
          const target = document.getElementById(picker.dataset.fill);
          const file = picker.files && picker.files[0];
          if (!target || !file) return;
          target.value = await file.text();
          say("Read " + file.name);
        });
      });

      // A refused form: move focus to the summary, which links to each field.
      const problem = document.getElementById("problem");
      if (problem) problem.focus();
    })();
    """#

    // swift-format-ignore
    static let stylesheet = #"""
    :root { color-scheme: light; --fg: #1b1f24; --muted: #4a525c; --bg: #ffffff; --panel: #f4f6f8; --line: #ccd3da;
      --accent: #2f4ac0; --accent-fg: #ffffff; --danger: #b3261e; --ok: #1e6b34; --warn: #8a5300; --focus: #f59f00;
      font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
    * { box-sizing: border-box; }
    body { margin: 0; background: var(--bg); color: var(--fg); line-height: 1.5; }
    a { color: var(--accent); }
    a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, [tabindex]:focus-visible {
      outline: 3px solid var(--focus); outline-offset: 2px; }
    .skip { position: absolute; left: -999px; top: 0; background: var(--bg); padding: 0.5rem 1rem; }
    .skip:focus { left: 0.5rem; z-index: 10; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    header.top { background: var(--panel); border-bottom: 1px solid var(--line); padding: 0.5rem 1rem; }
    header .bar { display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; align-items: center; }
    header .brand { font-weight: 700; text-decoration: none; color: var(--fg); font-size: 1.1rem; }
    header .tenant, header .who { color: var(--muted); }
    header form.signout { margin-left: auto; }
    header nav ul { list-style: none; margin: 0.5rem 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; }
    header nav a { display: inline-block; padding: 0.25rem 0; text-decoration: none; }
    header nav a[aria-current="page"] { font-weight: 700; border-bottom: 3px solid var(--accent); }
    main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
    main:focus { outline: none; }
    h1 { font-size: 1.6rem; margin: 0.5rem 0; }
    h2 { font-size: 1.2rem; margin: 0 0 0.5rem; }
    .crumbs ol { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: 0.5rem; color: var(--muted); }
    .crumbs li + li::before { content: "›"; margin-right: 0.5rem; }
    .intro { color: var(--muted); max-width: 48rem; }
    .block { margin: 1.25rem 0; }
    .block.secret { border: 2px solid var(--warn); background: #fff8e6; padding: 1rem; border-radius: 0.4rem; }
    .block.danger { border-top: 1px solid var(--line); padding-top: 1rem; }
    .flash { border-left: 4px solid var(--ok); background: #eaf6ee; padding: 0.75rem 1rem; margin: 1rem 0; }
    .problem { border: 2px solid var(--danger); background: #fdeeee; padding: 0.75rem 1rem; margin: 1rem 0; border-radius: 0.4rem; }
    .problem h2 { color: var(--danger); }
    dl.fields { margin: 0; display: grid; grid-template-columns: minmax(10rem, 16rem) 1fr; gap: 0.5rem 1rem; align-items: baseline; }
    dl.fields dt { font-weight: 600; }
    dl.fields dd { margin: 0; overflow-wrap: anywhere; }
    code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.95em; overflow-wrap: anywhere; }
    .hint { color: var(--muted); font-size: 0.92rem; margin: 0.1rem 0; }
    .table-wrap { overflow-x: auto; }
    table { border-collapse: collapse; width: 100%; }
    caption { text-align: left; font-weight: 700; font-size: 1.1rem; padding-bottom: 0.5rem; }
    th, td { text-align: left; padding: 0.45rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { background: var(--panel); }
    td.primary { font-weight: 600; }
    td code { overflow-wrap: normal; word-break: normal; }
    form.inline { display: flex; flex-wrap: wrap; gap: 0 1rem; align-items: flex-end; }
    form.inline .input { flex: 1 1 12rem; margin: 0.5rem 0; }
    form.inline .actions { margin: 0.5rem 0; }
    .empty { color: var(--muted); font-style: italic; }
    .badge { display: inline-block; padding: 0 0.45rem; border-radius: 0.3rem; font-size: 0.85rem; border: 1px solid currentColor; }
    .badge.ok { color: var(--ok); } .badge.bad { color: var(--danger); } .badge.info { color: var(--accent); } .badge.muted { color: var(--muted); }
    .pager { display: flex; gap: 1rem; margin-top: 0.5rem; }
    ul.links { list-style: none; padding: 0; margin: 0; display: grid; gap: 0.5rem; }
    a.button, button { display: inline-block; padding: 0.5rem 1rem; font-size: 1rem; border-radius: 0.4rem; border: 1px solid var(--accent);
      background: var(--accent); color: var(--accent-fg); cursor: pointer; text-decoration: none; font-family: inherit; }
    button.secondary { background: var(--bg); color: var(--fg); border-color: var(--muted); }
    button.copy { padding: 0.1rem 0.6rem; font-size: 0.9rem; margin-left: 0.5rem; }
    button.danger { background: var(--danger); border-color: var(--danger); color: #ffffff; }
    .buttons { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 0.75rem; }
    .buttons form { margin: 0; }
    form .input { margin: 0.9rem 0; max-width: 44rem; }
    label, legend { display: block; font-weight: 600; }
    .choice label { display: inline; font-weight: 400; margin-left: 0.35rem; }
    .choice .hint { display: block; margin-left: 1.7rem; }
    fieldset { border: 0; padding: 0; margin: 0; }
    .choice { margin: 0.3rem 0; }
    input[type="text"], input[type="url"], input[type="email"], input[type="search"], input[type="number"], select, textarea {
      width: 100%; padding: 0.5rem; font-size: 1rem; border: 1px solid var(--muted); border-radius: 0.35rem; background: var(--bg); color: var(--fg);
      font-family: inherit; }
    textarea { font-family: ui-monospace, Menlo, monospace; font-size: 0.9rem; }
    .invalid input, .invalid textarea, .invalid select { border: 2px solid var(--danger); }
    .field-error { color: var(--danger); font-weight: 600; margin: 0.1rem 0; }
    .req { color: var(--muted); font-weight: 400; }
    .actions { display: flex; gap: 1rem; align-items: center; margin-top: 1rem; }
    @media (max-width: 40rem) {
      dl.fields { grid-template-columns: 1fr; gap: 0.15rem; }
      dl.fields dd { margin-bottom: 0.5rem; }
      header form.signout { margin-left: 0; }
      main { padding: 0.75rem; }
    }
    """#
}

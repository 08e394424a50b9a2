"""Editing a model directory safely: node files as editable sheets, and one transaction for all writes.

Every editing command (`bn cpt`, `bn node`, `bn state`, `bn fmt`) works the same way:

1. `Workspace(directory)` (in `bn.edit.workspace`) takes the model's lock (one writer at a
   time: `bn.files.ModelLock`) and reads the files it may touch; a node file becomes a `Sheet`
   (header, rows, comments, the text of each row as written);
2. the command computes every new file in memory: `workspace.write(path, text)` /
   `workspace.delete(path)`, nothing on disk yet;
3. `workspace.commit()` checks the whole new model in a temporary copy (`bn.validate.check`, then
   every scenario and overlay) and refuses the edit if it adds any problem; then it writes each
   new file to a temporary file beside it, keeps a backup of each file it replaces or deletes, and
   renames, under a journal (`bn.journal`). If anything fails before the last rename, every file
   is restored from its backup and the directory is byte-identical to before; if the process is
   killed, the next command that reads the model finishes or undoes the edit. The lock is
   released when `commit` returns.

Editing an invalid model: every edit follows one rule, so that a model can be repaired step by
step. An edit may leave errors the model already had, but it must add none (`Workspace.check`
compares the errors before and after, scenarios and overlays included even while the model is
invalid: see `survey`; an error a rename moves to another file or name is the same error). After
the edit `workspace.remaining_errors` says how many errors `bn check` will report, and the CLI
warns about them. Besides, an edit must be able to read what it uses:

- an edit that carries a change into other files (node rename, remove, add-parent,
  remove-parent; state add, rename, remove) finds the children, overlays, model.toml entries and
  scenarios to update through the model's graph, `Workspace.structure()`: only numbers
  (probabilities, sums, ess) may be wrong, any other error is a `StructureError`;
- an edit that computes new rows from old ones (remove with marginalisation, remove-parent, state
  remove) needs the rows it reads to be valid (`bn.edit.graph.row_values`), and remove-parent's
  default weights, computed by inference, a valid model.

The table edits (cpt set, template, normalize, node add, fmt) write one node's file from that file
and its parents' headers, so they need only those files to be readable.

What is kept: `#` comment lines above the header stay there; a comment line between rows belongs to
the row below it (it moves with that row, and stays above the first of the rows a row becomes);
comments after the last row stay at the end. A row nobody changed is written back byte for byte
(quoting, spacing, number format). Notes and `ess` are carried by every edit. The line endings
(LF or CRLF) and a UTF-8 BOM of a file are kept. `model.toml` and `scenarios.toml` are edited
textually by `bn.edit.toml`, so their comments survive too.

The modules, lowest first: `sheet` (a node file as an editable document), `toml` (textual edits of
the TOML files), `workspace` (the transaction: reading, checking, writing), then the edits
themselves: `tables` (cpt show/template/set/normalize, node add, fmt, check --fix-sums), `graph`
(node rename/remove/add-parent/remove-parent, with `averaging` for remove-parent's weights) and
`states` (state add/rename/remove); `forms`, `compactedit` and `compactgraph` carry these edits to
compact nodes (noisy-OR, noisy-MAX, ranked).
"""

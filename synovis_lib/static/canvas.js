// The synovis drawing canvas (anywidget ES module): the studio and the scoring aid.
// The kernel owns the state (synovis_lib.studio, synovis_lib.outline); this module only
// shows the picture and the grade, and sends what the pointer does as image fractions.

const SEND_EVERY_MS = 90; // live updates while dragging, at most this often

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

function bindSelect(model, select, trait, options) {
  const fill = () => {
    select.replaceChildren(
      ...model.get(options).map((o) => el("option", { value: String(o), text: String(o) })),
    );
    select.value = String(model.get(trait));
  };
  fill();
  model.on(`change:${options}`, fill);
  model.on(`change:${trait}`, () => (select.value = String(model.get(trait))));
  select.addEventListener("change", () => {
    const old = model.get(trait);
    model.set(trait, typeof old === "number" ? Number(select.value) : select.value);
    model.save_changes();
  });
}

function render({ model, el: host }) {
  const score = model.get("mode") === "score";
  const size = model.get("display_size");
  host.classList.add("synovis-canvas");

  const tools = score
    ? [["outline", "outline synovium"]]
    : [["spot", "spot"], ["paint", "paint"], ["erase", "erase"], ["move", "move layer"]];
  const toolButtons = tools.map(([tool, label]) =>
    el("button", { class: "synovis-tool", "data-tool": tool, type: "button", text: label }),
  );
  const choice = el("select", { class: "synovis-choice" });
  bindSelect(model, choice, "choice", "choices");
  const intended = el("select", { class: "synovis-intended" });
  const layer = el("select", { class: "synovis-layer" });
  const brush = el("input", {
    class: "synovis-brush", type: "range", min: "0.005", max: "0.06", step: "0.001",
  });
  if (!score) {
    bindSelect(model, intended, "intended", "grades");
    bindSelect(model, layer, "layer", "layers");
    brush.value = model.get("brush");
    brush.addEventListener("input", () => {
      model.set("brush", Number(brush.value));
      model.save_changes();
    });
  }
  const undo = el("button", { class: "synovis-undo", type: "button", text: "undo" });
  const redo = el("button", { class: "synovis-redo", type: "button", text: "redo" });
  const clear = el("button", { class: "synovis-clear", type: "button", text: "clear outline" });
  const filename = el("input", { class: "synovis-filename", type: "text", size: "18" });
  filename.value = score ? "" : model.get("filename");
  filename.addEventListener("change", () => {
    model.set("filename", filename.value);
    model.save_changes();
  });
  const save = el("button", { class: "synovis-save", type: "button", text: "save" });
  undo.addEventListener("click", () => model.send({ event: "undo" }));
  redo.addEventListener("click", () => model.send({ event: "redo" }));
  clear.addEventListener("click", () => model.send({ event: "clear" }));
  save.addEventListener("click", () => model.send({ event: "save" }));

  const row = (...items) => el("div", { class: "synovis-row" }, ...items);
  const label = (text, control) => el("label", {}, `${text} `, control);
  const controls = score
    ? [
        row(label("image", choice)),
        row(...toolButtons, clear),
        row(save),
      ]
    : [
        row(label("scene", choice), label("intended grade", intended)),
        row(...toolButtons),
        row(label("brush", brush), label("layer", layer)),
        row(undo, redo),
        row(label("save as", filename), save),
      ];

  const canvas = el("canvas", { class: "synovis-picture", width: size, height: size });
  canvas.style.cssText = `width:${size}px;height:${size}px;touch-action:none;cursor:crosshair;`;
  const grade = el("div", { class: "synovis-grade" });
  const explanation = el("div", { class: "synovis-explanation" });
  const warning = el("div", { class: "synovis-warning" });
  const message = el("div", { class: "synovis-message" });
  const panel = el("div", { class: "synovis-panel" }, ...controls, grade, explanation, warning, message);
  host.append(el("div", { class: "synovis-layout" }, canvas, panel));

  const style = el("style", {
    text: `.synovis-layout{display:flex;flex-wrap:wrap;gap:12px;font:14px/1.4 sans-serif}
.synovis-panel{max-width:420px;min-width:260px}
.synovis-row{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin:0 0 8px}
.synovis-tool[aria-pressed=true]{background:#1f6feb;color:#fff}
.synovis-grade{font-size:20px;font-weight:bold;margin-top:6px}
.synovis-warning,.synovis-message.error{color:#b3261e}
.synovis-picture{outline:1px solid #888}`,
  });
  host.append(style);

  // ---- the picture
  const ctx = canvas.getContext("2d");
  const picture = new Image();
  let path = []; // the pointer's path of the drag in progress (image fractions)
  function draw() {
    ctx.clearRect(0, 0, size, size);
    if (picture.complete && picture.naturalWidth) ctx.drawImage(picture, 0, 0, size, size);
    const outline = score ? (path.length ? path : model.get("outline")) : [];
    if (outline.length > 1) {
      ctx.strokeStyle = "#00bfff";
      ctx.lineWidth = 2;
      ctx.beginPath();
      outline.forEach(([x, y], i) => (i ? ctx.lineTo(x * size, y * size) : ctx.moveTo(x * size, y * size)));
      if (!path.length) ctx.closePath();
      ctx.stroke();
    }
  }
  picture.onload = draw;
  const showImage = () => (picture.src = model.get("image"));
  showImage();

  // ---- the grade
  function showGrade() {
    const g = model.get("grade");
    grade.textContent = g < 0 ? "" : `grade ${g}`;
    grade.style.color = model.get("warning") ? "#b3261e" : "#1a7f37";
    explanation.textContent = model.get("explanation");
    warning.textContent = model.get("warning");
    message.textContent = model.get("message");
    message.className = `synovis-message${model.get("message_is_error") ? " error" : ""}`;
    undo.disabled = !model.get("can_undo");
    redo.disabled = !model.get("can_redo");
    const tool = model.get("tool");
    toolButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === tool)));
  }
  showGrade();
  for (const trait of ["grade", "explanation", "warning", "message", "can_undo", "can_redo", "tool"]) {
    model.on(`change:${trait}`, showGrade);
  }
  model.on("change:image", showImage);
  model.on("change:outline", draw);
  toolButtons.forEach((b) =>
    b.addEventListener("click", () => {
      model.set("tool", b.dataset.tool);
      model.save_changes();
    }),
  );

  // ---- the pointer (mouse, pen or touch)
  const at = (e) => {
    const box = canvas.getBoundingClientRect();
    const clip = (v) => Math.min(1, Math.max(0, v));
    return [clip((e.clientX - box.left) / box.width), clip((e.clientY - box.top) / box.height)];
  };
  let dragging = false;
  let lastSent = 0;
  function send(final) {
    const tool = model.get("tool");
    const [x0, y0] = path[0];
    const [x1, y1] = path[path.length - 1];
    if (tool === "spot") {
      if (final) model.send({ event: "click", x: x1, y: y1 });
    } else if (tool === "move") {
      model.send({ event: "move", dx: x1 - x0, dy: y1 - y0, final });
    } else if (tool === "outline") {
      if (final) model.send({ event: "outline", points: path });
    } else {
      model.send({ event: "stroke", tool, points: path, final });
    }
    lastSent = performance.now();
  }
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    dragging = true;
    path = [at(e)];
    draw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!dragging) return;
    path.push(at(e));
    if (score) draw();
    else if (performance.now() - lastSent > SEND_EVERY_MS) send(false);
  });
  const finish = (e) => {
    if (!dragging) return;
    dragging = false;
    path.push(at(e));
    send(true);
    path = [];
    draw();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);
  canvas.addEventListener("wheel", (e) => {
    if (score || model.get("tool") !== "move") return;
    e.preventDefault();
    model.send({ event: "wheel", steps: e.deltaY < 0 ? 1 : -1, rotate: e.shiftKey });
  });
}

export default { render };

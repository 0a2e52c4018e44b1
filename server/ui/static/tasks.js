// The live task list: polls tasks.json (active tasks and those finished since the last
// answer, so each poll costs O(active tasks)) and updates rows in place. Hand-written, no
// framework and no build step; the page's only script.
"use strict";
(function () {
  var table = document.getElementById("tasks");
  var body = table.querySelector("tbody");
  var status = document.getElementById("poll-status");
  var empty = document.getElementById("no-tasks");
  var pollUrl = table.dataset.poll;
  var highlight = table.dataset.highlight;
  var rows = new Map();
  var since = null;
  var ACTIVE = { waiting: true, running: true };
  var KEEP_FINISHED = 100;  // completed tasks kept on the page; active ones always show

  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function render(task) {
    var tr = document.createElement("tr");
    tr.dataset.taskId = task.task_id;
    tr.dataset.state = task.state;
    if (task.task_id === highlight) { tr.className = "highlight"; }
    tr.appendChild(cell(task.task_id.slice(0, 8), "id"));
    tr.lastChild.title = task.task_id;
    tr.appendChild(cell((task.task_type || "").replace(/^pulp2ng\.tasks\./, "")));
    tr.appendChild(cell(task.state, "state " + task.state));
    var prog = cell("", "progress");
    var p = task.progress;  // figured by the server from any plugin's report shape
    if (p) {
      var bar = document.createElement("progress");
      bar.max = p.total; bar.value = p.done;
      prog.appendChild(bar);
      prog.appendChild(document.createTextNode(" " + bar.value + "/" + p.total));
    } else if (ACTIVE[task.state]) {
      prog.appendChild(document.createElement("progress"));  // indeterminate
    }
    tr.appendChild(prog);
    var tags = cell("", "tags");
    (task.tags || []).forEach(function (t) {
      var span = document.createElement("span");
      span.className = "tag"; span.textContent = t.replace(/^pulp:/, "");
      tags.appendChild(span);
    });
    tr.appendChild(tags);
    tr.appendChild(cell(task.worker_name, "worker"));
    tr.appendChild(cell(task.start_time));
    var finished = cell(task.finish_time);
    if (task.error && task.error.description) {
      var err = document.createElement("div");
      err.className = "error"; err.textContent = task.error.description;
      finished.appendChild(err);
    }
    tr.appendChild(finished);
    return tr;
  }

  function order(a, b) {  // active first, then newest finish
    var aa = ACTIVE[a.state] ? 1 : 0, bb = ACTIVE[b.state] ? 1 : 0;
    if (aa !== bb) { return bb - aa; }
    return String(b.finish_time || b.start_time || "").localeCompare(
      String(a.finish_time || a.start_time || ""));
  }

  function apply(answer) {
    answer.tasks.forEach(function (task) { rows.set(task.task_id, task); });
    since = answer.now;
    var sorted = Array.from(rows.values()).sort(order);
    var finished = sorted.filter(function (t) { return !ACTIVE[t.state]; });
    finished.slice(KEEP_FINISHED).forEach(function (t) { rows.delete(t.task_id); });
    sorted = sorted.slice(0, sorted.length - Math.max(0, finished.length - KEEP_FINISHED));
    var fresh = document.createDocumentFragment();
    sorted.forEach(function (task) { fresh.appendChild(render(task)); });
    body.replaceChildren(fresh);
    empty.hidden = sorted.length > 0;
    status.textContent = "updated " + new Date().toLocaleTimeString();
  }

  function poll() {
    fetch(pollUrl + "?since=" + encodeURIComponent(since), {
      credentials: "same-origin", headers: { Accept: "application/json" }
    }).then(function (response) {
      if (response.redirected) {  // logged out: the page reloads into the login form
        window.location.reload();
        return null;
      }
      if (!response.ok) {
        status.textContent = "server answered " + response.status + ", retrying";
        return null;
      }
      return response.json();
    }).then(function (answer) {
      if (answer) { apply(answer); }
    }).catch(function () {
      status.textContent = "server unreachable, retrying";
    }).finally(function () {
      window.setTimeout(poll, 1000);
    });
  }

  apply(JSON.parse(document.getElementById("initial-tasks").textContent));
  window.setTimeout(poll, 1000);
})();

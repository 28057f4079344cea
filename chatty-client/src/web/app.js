// The Chatty web window: renders the `view` and `people` messages of its WebSocket and sends
// what the person does (see the protocol in chatty-client's README). Text is always put in the
// page as text, never as HTML.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  let person = params.get("as") || sessionStorage.getItem("chatty-as") || "";
  let view = null;
  let socket = null;
  let retry = null;
  // The own status last shown in the selector (set from the server's view, so a reload shows it).
  let shownStatus = "";
  const $ = (id) => document.getElementById(id);
  const narrow = window.matchMedia("(max-width: 640px)");

  function showSide(open) {
    document.body.classList.toggle("side-open", open);
    $("side-toggle").setAttribute("aria-expanded", String(open));
  }

  function withToken(path, query) {
    const q = new URLSearchParams(query);
    if (token) q.set("token", token);
    return path + "?" + q.toString();
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  let errorTimer = null;
  function showError(text) {
    const box = $("error");
    box.textContent = text;
    box.classList.add("shown");
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => box.classList.remove("shown"), 8000);
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
      return true;
    }
    showError("not connected");
    return false;
  }

  function connect() {
    clearTimeout(retry);
    if (socket) {
      socket.onclose = null;
      socket.close();
    }
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = {};
    if (person) query.as = person;
    socket = new WebSocket(scheme + location.host + withToken("/ws", query));
    $("connection").textContent = "connecting…";
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        showError("the server sent something that is not JSON");
        return;
      }
      if (message.type === "view") renderView(message);
      else if (message.type === "people") renderPeople(message);
      else if (message.type === "error") showError(message.message);
    };
    socket.onclose = () => {
      $("connection").textContent = "disconnected; reconnecting…";
      retry = setTimeout(connect, 2000);
    };
  }

  function renderView(v) {
    view = v;
    if (v.person) {
      person = v.person;
      sessionStorage.setItem("chatty-as", person);
    }
    document.title = "Chatty: " + (v.you || person);
    $("you").textContent = v.you || person || "connecting…";
    $("connection").textContent = v.connection;
    const status = v.status ? JSON.stringify(v.status) : "";
    if (status !== shownStatus) {
      shownStatus = status;
      if (v.status) {
        $("availability").value = v.status.availability;
        $("status-message").value = v.status.message || "";
      }
    }

    const list = $("conversations");
    list.replaceChildren();
    let current = null;
    for (const c of v.conversations) {
      const li = el("li", c.current ? "current" : "");
      li.dataset.address = c.address;
      li.appendChild(el("span", "name", (c.room ? "# " : "") + c.name));
      if (c.unread > 0) li.appendChild(el("span", "unread", String(c.unread)));
      if (c.presence) {
        let p = c.presence.availability;
        if (c.presence.message) p += " (" + c.presence.message + ")";
        li.appendChild(el("span", "presence", p));
      }
      if (c.room && c.members.length > 0) {
        const members = el("ul", "members");
        for (const m of c.members) members.appendChild(el("li", "", m));
        li.appendChild(members);
      }
      li.addEventListener("click", () => {
        send({ type: "open", conversation: c.address });
        if (narrow.matches) showSide(false);
      });
      list.appendChild(li);
      if (c.current) current = c;
    }
    $("title").textContent = current ? (current.room ? "# " : "") + current.name : "no conversation";

    const log = $("log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.replaceChildren();
    if (v.earlier > 0) log.appendChild(el("div", "entry info", "(" + v.earlier + " earlier entries not shown)"));
    for (const entry of v.entries) log.appendChild(renderEntry(entry, v.current));
    if (atBottom) log.scrollTop = log.scrollHeight;

    const typing = current ? current.typing : [];
    $("typing").textContent =
      typing.length === 0 ? "" : typing.join(", ") + (typing.length === 1 ? " is" : " are") + " typing…";
  }

  function renderEntry(entry, conversation) {
    const div = el("div", "entry " + entry.kind + (entry.mine ? " mine" : ""));
    div.appendChild(el("span", "time", entry.time));
    if (entry.kind === "message" || entry.kind === "file") {
      div.appendChild(el("span", "from", entry.from + ":"));
      if (entry.subject) div.appendChild(el("span", "subject", "[" + entry.subject + "]"));
      if (entry.kind === "message") div.appendChild(el("span", "text", entry.text));
      if (entry.kind === "message" && entry.choice) div.appendChild(renderChoice(entry.choice, entry.text));
      for (const f of entry.files || []) div.appendChild(renderFile(f, conversation));
    } else {
      div.appendChild(el("span", "text", (entry.kind === "status" ? "* " : entry.kind === "error" ? "! " : "") + entry.text));
    }
    return div;
  }

  // A question's options as buttons (labels as text, never HTML): a click answers it, once.
  function renderChoice(choice, question) {
    const group = el("div", "choice");
    group.setAttribute("role", "group");
    if (question) group.setAttribute("aria-label", question);
    const buttons = [];
    for (const option of choice.options || []) {
      const button = el("button", "option", option.label);
      button.type = "button";
      button.disabled = !choice.open;
      if (choice.answer !== null && choice.answer !== undefined && choice.answer === option.value) {
        button.classList.add("chosen");
        button.setAttribute("aria-pressed", "true");
      }
      button.addEventListener("click", () => {
        if (!choice.open) return;
        if (send({ type: "choose", question: choice.question, value: option.value })) {
          // Until the next view says it is answered, a second click sends nothing.
          for (const b of buttons) b.disabled = true;
        }
      });
      buttons.push(button);
      group.appendChild(button);
    }
    return group;
  }

  function renderFile(f, conversation) {
    const span = el("span", "file");
    span.appendChild(el("span", "", "[file " + f.number + "] "));
    const a = el("a", "download", f.name);
    a.href = withToken("/file", { as: person, conversation: conversation, n: String(f.number) });
    a.setAttribute("download", f.name);
    span.appendChild(a);
    let about = " (" + (f.media_type || "unknown type");
    if (f.size !== null && f.size !== undefined) about += ", " + f.size + " bytes";
    if (f.url) about += ", by URL";
    span.appendChild(el("span", "", about + ")"));
    return span;
  }

  function renderPeople(message) {
    const list = $("people");
    list.replaceChildren();
    for (const p of message.people) {
      if (!p.name) continue;
      const li = el("li", p.name === person ? "me" : "", p.name + (p.address ? " (" + p.address + ")" : ""));
      list.appendChild(li);
    }
    $("person-form").style.display = message.guests ? "" : "none";
  }

  $("side-toggle").addEventListener("click", () => showSide(!document.body.classList.contains("side-open")));
  $("input").addEventListener("input", () => send({ type: "input", text: $("input").value }));
  $("input-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("input").value;
    if (text.trim() === "") return;
    if (send({ type: "say", text: text })) $("input").value = "";
  });
  $("open-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const address = $("open-address").value.trim();
    if (address && send({ type: "open", conversation: address })) {
      $("open-address").value = "";
      if (narrow.matches) showSide(false);
    }
  });
  $("set-status").addEventListener("click", () => {
    const message = $("status-message").value.trim();
    send({ type: "status", availability: $("availability").value, message: message || null });
  });
  $("person-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("person-name").value.trim();
    if (!name) return;
    person = name;
    sessionStorage.setItem("chatty-as", person);
    $("person-name").value = "";
    connect();
  });
  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("file");
    if (!input.files || input.files.length === 0) {
      showError("choose a file first");
      return;
    }
    const form = new FormData();
    form.append("file", input.files[0]);
    const query = { as: person };
    if (view && view.current) query.to = view.current;
    $("upload-state").textContent = "sending " + input.files[0].name + "…";
    try {
      const response = await fetch(withToken("/upload", query), { method: "POST", body: form });
      const text = (await response.text()).trim();
      if (response.ok) {
        $("upload-state").textContent = "sent " + input.files[0].name;
        input.value = "";
      } else {
        $("upload-state").textContent = "";
        showError(text || "the upload failed");
      }
    } catch (e) {
      $("upload-state").textContent = "";
      showError("the upload failed: " + e);
    }
  });

  connect();
})();

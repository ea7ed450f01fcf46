/// The dashboard's page and style. The script is in DashboardAssets+Script.swift.
enum DashboardAssets {
    static let page = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera — GPU pool</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>Tessera <span class="sub">GPU pool</span></h1>
  <div id="live" class="live off" title="live updates">offline</div>
  <div id="who"></div>
  <button id="signout" hidden>Sign out</button>
</header>
<section id="signin">
  <form id="signin-form">
    <h2>Sign in</h2>
    <p>Paste an admin token, or a read-only <code>metrics</code> token. It stays in this browser tab only.</p>
    <input id="token" type="password" autocomplete="off" placeholder="token" required>
    <button type="submit" id="signin-button">Sign in</button>
    <p id="signin-error" class="error" role="alert"></p>
  </form>
</section>
<main id="app" hidden>
  <section id="overview" class="cards"></section>
  <div class="columns">
    <section class="panel wide">
      <h2>GPU map <span class="hint">slices drawn to scale: memory (top bar) and compute (bottom bar)</span></h2>
      <div id="map"></div>
    </section>
    <section class="panel side">
      <h2>Details</h2>
      <div id="detail"><p class="hint">Select a node, a GPU or a vGPU slice on the map.</p></div>
      <p id="action-result" role="status"></p>
    </section>
  </div>
  <div class="columns">
    <section class="panel wide">
      <h2>History <span class="hint" id="history-span"></span></h2>
      <div id="charts"></div>
    </section>
    <section class="panel side">
      <h2>Events</h2>
      <ul id="events"></ul>
    </section>
  </div>
</main>
<div id="confirm" class="modal" hidden>
  <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-text">
    <p id="confirm-text"></p>
    <div class="buttons"><button id="confirm-cancel">Cancel</button><button id="confirm-ok" class="danger">Confirm</button></div>
  </div>
</div>
</body>
</html>
"""#

    static let style = #"""
:root { --bg: #0f1419; --panel: #182028; --line: #2a3642; --text: #dce3ea; --dim: #8a99a8; --accent: #4fb3ff;
        --ok: #3fb950; --warn: #d29922; --bad: #f85149; font-family: system-ui, "DejaVu Sans", sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); font-size: 14px; }
header { display: flex; align-items: center; gap: 16px; padding: 10px 20px; border-bottom: 1px solid var(--line); }
header h1 { font-size: 18px; margin: 0; flex: 1; } .sub { color: var(--dim); font-weight: normal; }
button { background: #24303c; color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 5px 12px; cursor: pointer; }
button:hover { border-color: var(--accent); } button.danger { background: #5a1d1d; border-color: var(--bad); }
.live { padding: 2px 8px; border-radius: 10px; font-size: 12px; } .live.on { background: #1d3b25; color: var(--ok); } .live.off { background: #3b1d1d; color: var(--bad); }
#signin { display: flex; justify-content: center; padding-top: 80px; }
#signin form { background: var(--panel); padding: 24px; border-radius: 8px; width: 420px; border: 1px solid var(--line); }
#signin input { width: 100%; padding: 8px; margin: 8px 0; background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; }
.error { color: var(--bad); } .hint { color: var(--dim); font-size: 12px; font-weight: normal; }
main { padding: 16px 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin-bottom: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.card .label { color: var(--dim); font-size: 12px; } .card .value { font-size: 20px; margin-top: 4px; } .card .of { color: var(--dim); font-size: 12px; }
.columns { display: flex; gap: 14px; margin-bottom: 14px; align-items: flex-start; }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.panel h2 { font-size: 15px; margin: 4px 0 10px; } .wide { flex: 3; min-width: 0; } .side { flex: 2; min-width: 280px; }
.node { border: 1px solid var(--line); border-radius: 6px; padding: 8px; margin-bottom: 10px; }
.node.down { opacity: .55; border-style: dashed; } .node.cordoned, .gpu.cordoned { border-color: var(--warn); }
.node-title { display: flex; gap: 10px; align-items: baseline; cursor: pointer; margin-bottom: 6px; }
.node-title b:hover, .gpu-title:hover { color: var(--accent); }
.tag { font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #24303c; color: var(--dim); }
.tag.bad { background: #3b1d1d; color: var(--bad); } .tag.warn { background: #3b311d; color: var(--warn); } .tag.ok { background: #1d3b25; color: var(--ok); }
.gpus { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 8px; }
.gpu { border: 1px solid var(--line); border-radius: 4px; padding: 6px; background: #131a21; }
.gpu.selected, .node.selected { outline: 2px solid var(--accent); }
.gpu-title { font-size: 12px; cursor: pointer; display: flex; justify-content: space-between; gap: 6px; }
.bar { position: relative; height: 18px; background: #0b1015; border: 1px solid var(--line); border-radius: 3px; margin-top: 5px; display: flex; overflow: hidden; }
.bar.compute { height: 10px; }
.slice { height: 100%; border-right: 1px solid #0b1015; cursor: pointer; position: relative; min-width: 2px; }
.slice:hover, .slice.selected { filter: brightness(1.35); outline: 1px solid #fff; }
.slice .used { position: absolute; left: 0; bottom: 0; height: 4px; background: rgba(255,255,255,.75); }
.slice.reserved { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.18) 0 4px, transparent 4px 8px); }
.barlabel { font-size: 11px; color: var(--dim); display: flex; justify-content: space-between; }
table { border-collapse: collapse; width: 100%; font-size: 12px; } td, th { text-align: left; padding: 3px 6px; border-bottom: 1px solid var(--line); }
a { color: var(--accent); cursor: pointer; text-decoration: none; }
#detail .actions { display: flex; gap: 8px; margin: 10px 0; flex-wrap: wrap; }
#action-result.ok { color: var(--ok); } #action-result.bad { color: var(--bad); }
#events { list-style: none; margin: 0; padding: 0; max-height: 360px; overflow-y: auto; font-size: 12px; }
#events li { padding: 4px 0; border-bottom: 1px solid var(--line); } #events .time { color: var(--dim); margin-right: 6px; }
#events li.refused, #events li.node-down, #events li.admin-refused { color: #ffb4ae; }
#charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px; }
.chart svg { width: 100%; height: 120px; background: #0b1015; border: 1px solid var(--line); border-radius: 3px; }
.chart .legend { font-size: 11px; color: var(--dim); } .chart .legend span { margin-right: 10px; }
.modal { position: fixed; inset: 0; background: rgba(0,0,0,.6); display: flex; align-items: center; justify-content: center; }
.modal[hidden] { display: none; } .dialog { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 20px; width: 420px; }
.dialog .buttons { display: flex; justify-content: flex-end; gap: 10px; }
[hidden] { display: none !important; }
"""#
}

// Loaded on widget pages before require.js and the ipywidgets HTML manager
// (embed-amd.js); see nb_ipywidgets_js in _config.yml and CONTRIBUTING.md.
// Copied to _static/offline-assets/ by book/_ext/offline_assets.py.
(function () {
  // 1. RequireJS configuration (a global `require` object set before require.js
  //    loads is read as its config).  embed-amd.js finds its icon fonts relative
  //    to the URL of its AMD module "@jupyter-widgets/html-manager/dist/...";
  //    without this mapping that URL is resolved against the page's folder and
  //    the fonts 404.  Map it onto the local copy in _static/npm/html-manager/.
  var here = document.currentScript && document.currentScript.src;
  if (here && typeof window.require === "undefined") {
    window.require = {
      paths: {
        "@jupyter-widgets/html-manager/dist": new URL("../npm/html-manager", here).href,
      },
    };
  }

  // 2. @jupyter-widgets/base's typeset() calls the MathJax 2 API
  //    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]) whenever
  //    window.MathJax exists; MathJax 3 has no Hub, so every widget label threw
  //    a TypeError.  Map the call onto MathJax 3's typesetPromise.  (MathJax 3
  //    only knows \( \) as inline delimiters: write widget labels as "\(\alpha\)".)
  function installHub() {
    var mj = window.MathJax;
    if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") {
      return;
    }
    mj.Hub = {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (Array.isArray(job) && job[0] === "Typeset") {
            var elements = job[2] ? [job[2]] : undefined;
            mj.startup.promise
              .then(function () { return mj.typesetPromise(elements); })
              .catch(function (err) { console.warn("MathJax typeset of a widget failed", err); });
          }
        });
      },
    };
  }
  // MathJax is loaded with `defer`, so it has run by DOMContentLoaded; the
  // widget manager renders on `load`, after these listeners.
  document.addEventListener("DOMContentLoaded", installHub);
  window.addEventListener("load", installHub);
  installHub();
})();

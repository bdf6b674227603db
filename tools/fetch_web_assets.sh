#!/usr/bin/env bash
# Fetch the book's browser assets from the npm registry so pages work offline.
#
# By default Jupyter Book 1 pages load MathJax, require.js and the Jupyter
# widget manager from CDNs. This script takes pinned copies with `npm pack`
# (the npm registry is reachable where the CDNs may not be) into
# book/web_assets/offline/, which _config.yml adds to html_static_path and
# points mathjax_path and nb_ipywidgets_js at. The folder is NOT named
# `_static`: Jupyter Book 1 injects every .js under a top-level _static/
# into every page.
#
# The whole of book/web_assets/ is generated and gitignored; without it the
# book build fails (-W: "html_static_path entry ... does not exist") rather than
# publishing pages whose maths and widgets cannot load.
#
# Idempotent: does nothing when the pinned versions are already in place
# (book/web_assets/offline/VERSIONS). Run it before `jupyter-book build`.
# Usage: tools/fetch_web_assets.sh [--force]
set -euo pipefail

# ipywidgets 8.1 <-> @jupyter-widgets/html-manager 1.0.x (widget protocol 2);
# require.js 2.3.x as MyST-NB's default; MathJax 3 as Sphinx's default.
MATHJAX="mathjax@3.2.2"
HTML_MANAGER="@jupyter-widgets/html-manager@1.0.15"
REQUIREJS="requirejs@2.3.8"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/book/web_assets/offline"
stamp="$dest/VERSIONS"
wanted="$MATHJAX $HTML_MANAGER $REQUIREJS widgets-config-3"

if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    echo "web assets up to date in ${dest#"$root"/} ($wanted)"
    exit 0
fi
command -v npm >/dev/null || { echo "error: npm is needed to fetch the web assets" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$MATHJAX" "$HTML_MANAGER" "$REQUIREJS" >/dev/null)
for tarball in "$work"/*.tgz; do
    name="$(basename "$tarball" .tgz)"
    mkdir -p "$work/$name"
    tar -xzf "$tarball" -C "$work/$name"
done

new="$dest.new"
rm -rf "$new"
mkdir -p "$new/mathjax" "$new/html-manager" "$new/requirejs"
# MathJax: the whole es5 tree (tex-chtml.js loads fonts and extensions from it on demand).
cp -R "$work"/mathjax-*/package/es5/. "$new/mathjax/"
cp "$work"/mathjax-*/package/LICENSE "$new/mathjax/LICENSE"
# Widget manager: the AMD embedder (bundles @jupyter-widgets/base, controls, output)
# and the icon fonts it loads relative to itself; not the 6 MB source map.
manager="$(echo "$work"/jupyter-widgets-html-manager-*/package)"
cp "$manager/dist/embed-amd.js" "$new/html-manager/"
find "$manager/dist" -maxdepth 1 -regextype posix-extended \
    -regex '.*\.(woff2?|ttf|eot|svg)' -exec cp {} "$new/html-manager/" \;
cp "$manager/dist/embed.js.LICENSE.txt" "$new/html-manager/" 2>/dev/null || true
cp "$work"/requirejs-*/package/require.js "$new/requirejs/"
# Loaded between require.js and the manager (nb_ipywidgets_js in _config.yml): the
# manager loads its icon fonts relative to the AMD module
# "@jupyter-widgets/html-manager/dist/libembed-amd", i.e. beside each page unless that
# module is mapped to the local copy.
cat >"$new/widgets-config.js" <<'JS'
// Written by tools/fetch_web_assets.sh: the widget manager's fonts come from beside it.
(function () {
  var here = document.currentScript.src.replace(/[^/]*$/, "");
  // Each bundled module (base, controls, their v7 twins, the manager) finds its fonts
  // beside its own AMD URL; unmapped, "@jupyter-widgets/controls" resolves against the
  // page and the browser asks for notebooks/@jupyter-widgets/<hash>.woff.
  var paths = { "@jupyter-widgets/html-manager/dist": here + "html-manager" };
  ["base", "controls", "base7", "controls7", "html-manager"].forEach(function (name) {
    paths["@jupyter-widgets/" + name] = here + "html-manager/" + name;
  });
  require.config({ paths: paths });
})();
JS
echo "$wanted" >"$new/VERSIONS"

# Swap the complete folder into place (an interrupted run leaves the old one).
rm -rf "$dest.old"
[[ -d "$dest" ]] && mv "$dest" "$dest.old"
mv "$new" "$dest"
rm -rf "$dest.old"
echo "fetched $wanted into ${dest#"$root"/} ($(du -sh "$dest" | cut -f1))"
